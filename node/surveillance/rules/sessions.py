"""Session bounds for the rules that judge a session's close (S5) and opening minutes (S14).

This repeats the market contract's calendar arithmetic (chaincode.market.compute_session) with
the close added: the market engineer is adding `session_bounds()` to chaincode/market.py, and
this module goes once it lands (STYLE.md, "Calendar math twice"). A session of `always` is a
KST calendar day: its trading day (chaincode.market.kst_day) opens at midnight and closes at the
next.
"""

from __future__ import annotations

from typing import Any

from chaincode.market import DAY_MS, KST_OFFSET_MS, Schedule, compile_sessions

WEEKDAY_OF_DAY_ZERO = 3  # 1970-01-01 was a Thursday: weekday index (day + 3) % 7, Monday 0


def compute_session_bounds(schedule: Schedule, time: int) -> tuple[int, int] | None:
    """(open, close) in UTC ms of the session open at `time`, or None when closed."""
    day, ms_of_day = divmod(time + KST_OFFSET_MS, DAY_MS)
    if schedule is None:
        midnight = day * DAY_MS - KST_OFFSET_MS
        return midnight, midnight + DAY_MS
    windows, holidays = schedule
    if day in holidays:
        return None
    for open_ms, close_ms in windows[(day + WEEKDAY_OF_DAY_ZERO) % 7]:
        if open_ms <= ms_of_day < close_ms:
            base = day * DAY_MS - KST_OFFSET_MS
            return base + open_ms, base + close_ms
    return None


def compute_close(schedule: Schedule, time: int) -> int | None:
    bounds = compute_session_bounds(schedule, time)
    return None if bounds is None else bounds[1]


def compute_session_close(sessions: Any, time: int) -> int | None:
    """The UTC ms at which the session open at `time` closes (KST midnight for `always`)."""
    return compute_close(compile_sessions(sessions), time)
