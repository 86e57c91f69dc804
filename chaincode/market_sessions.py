"""The market's calendar and prices, as pure functions: genesis `params.market`, the weekly KST
sessions, the trading day, the reference price, the daily band and the transaction tax.

Sessions. `params.market.sessions` is `"always"` (one endless session, id 0, that never closes)
or a weekly KST schedule with holidays (check_market_params). A session's id is the UTC ms of
its opening bell; it closes at the end of its window. `session_bounds(schedule, t)` is the one
place that does the calendar arithmetic: which session is open at block time `t`, when it
opened and when it closes. The market's contract, its close-of-session hook and surveillance's
closing-price rule all ask it.

Prices. The trading day is the KST calendar day of block time. The reference price of a day is
the last trade price of the previous day that had a trade (`unit_price` before any trade); the
band is +-`price_band_bps` of it (0 = no band), the lower edge rounded up, the upper down, so a
price inside it is inside the percentage on both sides. The tax is `value * bps / 10,000`
rounded down to the won (the seller never pays a fraction of a won more than the rate).

Integers only; no clock (time is an argument); a schedule is compiled once, by whoever holds
the parameters (the market contract at construction, surveillance at start), never cached here.
"""

from __future__ import annotations

import datetime
import itertools
import re
from dataclasses import dataclass
from typing import Any

from chaincode.compliance import DAY_MS

BASIS_POINTS = 10_000  # 100 %, in basis points
MAX_AMOUNT = 2**62  # as chaincode.token: every price, quantity and sum stays encodable
KST_OFFSET_MS = 9 * 3_600_000  # Korea Standard Time, UTC+9, no daylight saving
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (index 3 of WEEKDAYS)
MAX_WINDOWS = 64  # weekly windows: a few a day is what any exchange has
MAX_HOLIDAYS = 10_000  # a few decades of holidays
HHMM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])|24:00")
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

MARKET_DEFAULTS: dict[str, Any] = {
    "sessions": "always",  # or {"weekly": [...], "holidays": [...]} in KST
    "price_band_bps": 3_000,  # Korea's daily price limit, +-30%; 0 = no band
    "tick": 1,  # won
    "trade_tax_bps": 0,  # securities transaction tax, paid out of the seller's proceeds
}

# (windows of each weekday as (open_ms, close_ms) of the KST day, holiday day numbers);
# None: always open
Schedule = tuple[tuple[tuple[tuple[int, int], ...], ...], frozenset[int]] | None


@dataclass(frozen=True, slots=True)
class Session:
    """One session: its id (the UTC ms of its opening bell; 0 for `always`), when it opened
    and when it closes (UTC ms; None for `always`, which never closes)."""

    session_id: int
    open_ms: int
    close_ms: int | None


ALWAYS = Session(0, 0, None)


# ---- genesis parameters ----------------------------------------------------------------------

class MarketParamsError(ValueError):
    """A bad `params.market`; `field` is the path below it (`sessions.weekly[0].open`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"market.{field}: {message}" if field else f"market: {message}")
        self.field = field
        self.message = message


def check_market_params(value: Any) -> dict[str, Any]:
    """`params.market` with defaults for missing fields, validated (MarketParamsError).

    sessions: `"always"`, or `{"weekly": [{"days": ["mon", ...], "open": "09:00",
    "close": "15:30"}, ...], "holidays": ["2026-01-01", ...]}` with times and dates in KST;
    a window is open from `open` (inclusive) to `close` (exclusive) on each of its days,
    windows of one day may not overlap, and nothing is open on a holiday."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise MarketParamsError("", "must be an object")
    for name in value:
        if name not in MARKET_DEFAULTS:
            raise MarketParamsError(str(name), "unknown field")
    merged = dict(MARKET_DEFAULTS)
    merged.update(value)
    _param_int("price_band_bps", merged["price_band_bps"], 0, 1_000_000)
    _param_int("tick", merged["tick"], 1, MAX_AMOUNT)
    _param_int("trade_tax_bps", merged["trade_tax_bps"], 0, BASIS_POINTS)
    compile_sessions(merged["sessions"])
    return merged


def _param_int(field: str, value: Any, lowest: int, highest: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MarketParamsError(field, "must be an integer")
    if not lowest <= value <= highest:
        raise MarketParamsError(field, f"{value} is out of range [{lowest}, {highest}]")
    return value


def compile_sessions(sessions: Any) -> Schedule:
    """(windows per weekday as (open_ms, close_ms) of the KST day, holiday day numbers), or
    None for `always`. Raises MarketParamsError for a bad schedule."""
    if sessions == "always":
        return None
    if not isinstance(sessions, dict):
        raise MarketParamsError("sessions", 'must be "always" or {"weekly", "holidays"}')
    for name in sessions:
        if name not in ("weekly", "holidays"):
            raise MarketParamsError(f"sessions.{name}", "unknown field")
    weekly = sessions.get("weekly")
    if not isinstance(weekly, list) or not 1 <= len(weekly) <= MAX_WINDOWS:
        raise MarketParamsError("sessions.weekly", f"must be a list of 1..{MAX_WINDOWS} "
                                "windows")
    days: list[list[tuple[int, int]]] = [[] for _ in WEEKDAYS]
    for index, window in enumerate(weekly):
        for weekday, open_close in _window(f"sessions.weekly[{index}]", window):
            days[weekday].append(open_close)
    for weekday, windows in enumerate(days):
        windows.sort()
        for (_, first_close), (second_open, _) in itertools.pairwise(windows):
            if second_open < first_close:
                raise MarketParamsError("sessions.weekly", f"windows overlap on "
                                        f"{WEEKDAYS[weekday]}")
    holidays = sessions.get("holidays", [])
    if not isinstance(holidays, list) or len(holidays) > MAX_HOLIDAYS:
        raise MarketParamsError("sessions.holidays", f"must be a list of at most "
                                f"{MAX_HOLIDAYS} dates")
    holiday_days = frozenset(_day_number(f"sessions.holidays[{index}]", text)
                             for index, text in enumerate(holidays))
    if len(holiday_days) != len(holidays):
        raise MarketParamsError("sessions.holidays", "a date appears twice")
    return tuple(tuple(windows) for windows in days), holiday_days


def _window(where: str, window: Any) -> list[tuple[int, tuple[int, int]]]:
    """(weekday index, (open_ms, close_ms)) for each day of one weekly window."""
    if not isinstance(window, dict) or set(window) != {"days", "open", "close"}:
        raise MarketParamsError(where, 'must be {"days", "open", "close"}')
    open_ms, close_ms = (_hhmm(f"{where}.{name}", window[name]) for name in ("open", "close"))
    if open_ms >= close_ms:
        raise MarketParamsError(f"{where}.close", "must be after open (same KST day)")
    names = window["days"]
    if (not isinstance(names, list) or not names or len(set(names)) != len(names)
            or any(name not in WEEKDAYS for name in names)):
        raise MarketParamsError(f"{where}.days", f"must be distinct days of {WEEKDAYS}")
    return [(WEEKDAYS.index(name), (open_ms, close_ms)) for name in names]


def _hhmm(field: str, value: Any) -> int:
    if not isinstance(value, str) or not HHMM.fullmatch(value):
        raise MarketParamsError(field, 'must be a KST time "HH:MM" (00:00..24:00)')
    hours, minutes = value.split(":")
    return (int(hours) * 60 + int(minutes)) * 60_000


def _day_number(field: str, value: Any) -> int:
    """Days since 1970-01-01 of a "YYYY-MM-DD" date (pure calendar arithmetic, no clock)."""
    if not isinstance(value, str) or not DATE.fullmatch(value):
        raise MarketParamsError(field, 'must be a date "YYYY-MM-DD"')
    try:
        date = datetime.date.fromisoformat(value)
    except ValueError:
        raise MarketParamsError(field, f"{value} is not a calendar date") from None
    return date.toordinal() - datetime.date(1970, 1, 1).toordinal()


# ---- the calendar ----------------------------------------------------------------------------

def kst_day(time_ms: int) -> int:
    """The KST calendar day (days since 1970-01-01) of a block time: the trading day."""
    return (time_ms + KST_OFFSET_MS) // DAY_MS


def session_bounds(schedule: Schedule, time_ms: int) -> Session | None:
    """The session open at block time `time_ms` (opened at or before it, closing after it), or
    None when the market is closed then. `always`: ALWAYS, which never closes."""
    if schedule is None:
        return ALWAYS
    windows, holidays = schedule
    day, ms_of_day = divmod(time_ms + KST_OFFSET_MS, DAY_MS)
    if day in holidays:
        return None
    for open_ms, close_ms in windows[(day + EPOCH_WEEKDAY) % len(WEEKDAYS)]:
        if open_ms <= ms_of_day < close_ms:
            start = day * DAY_MS - KST_OFFSET_MS
            return Session(start + open_ms, start + open_ms, start + close_ms)
    return None


def compute_session_close(schedule: Schedule, session_id: int) -> int | None:
    """When the session that opened at `session_id` closes (None: it never does)."""
    session = session_bounds(schedule, session_id)
    assert session is not None and session.session_id == session_id, "not a session id"
    return session.close_ms


def compute_session(sessions: Any, time_ms: int) -> int | None:
    """The id of the session open at `time_ms` under `params.market.sessions` (compiled here:
    for tests and tools; the contract keeps its schedule compiled), or None when closed."""
    session = session_bounds(compile_sessions(sessions), time_ms)
    return None if session is None else session.session_id


# ---- prices ----------------------------------------------------------------------------------

def compute_reference_price(stats: dict[str, Any] | None, unit_price: int, day: int) -> int:
    """The last trade price of the latest earlier day with a trade; unit_price before any."""
    if stats is None:
        return unit_price
    return int(stats["last_price"] if stats["day"] < day else stats["prev_close"])


def compute_band(reference: int, bps: int) -> tuple[int, int] | None:
    """(lowest, highest) price allowed around `reference` (None: no band)."""
    if bps == 0:
        return None
    lowest = max(1, -(-reference * (BASIS_POINTS - bps) // BASIS_POINTS))  # ceiling
    return lowest, reference * (BASIS_POINTS + bps) // BASIS_POINTS


def is_in_band(band: tuple[int, int] | None, price: int) -> bool:
    return band is None or band[0] <= price <= band[1]


def compute_tax(value: int, bps: int) -> int:
    """The securities transaction tax of a trade of `value` won, rounded down to the won."""
    return value * bps // BASIS_POINTS
