"""Session bounds for the rules that judge a session's close (S5) and opening minutes (S14).

The market contract's calendar decides (chaincode.market `session_bounds`); this only gives a
session of `always`, which never closes, the bounds S5 and S14 judge it by: its trading day
(chaincode.market.kst_day), from KST midnight to the next.
"""

from __future__ import annotations

from typing import Any

from chaincode.market import KST_OFFSET_MS, Schedule, compile_sessions, kst_day, session_bounds

DAY_MS = 86_400_000


def compute_session_bounds(schedule: Schedule, time: int) -> tuple[int, int] | None:
    """(open, close) in UTC ms of the session open at `time`, or None when closed."""
    session = session_bounds(schedule, time)
    if session is None:
        return None
    if session.close_ms is None:  # `always`: its trading day
        midnight = kst_day(time) * DAY_MS - KST_OFFSET_MS
        return midnight, midnight + DAY_MS
    return session.open_ms, session.close_ms


def compute_session_close(sessions: Any, time: int) -> int | None:
    """The UTC ms at which the session open at `time` closes (KST midnight for `always`)."""
    bounds = compute_session_bounds(compile_sessions(sessions), time)
    return None if bounds is None else bounds[1]
