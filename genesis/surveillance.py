"""`params.surveillance`: the thresholds of the market-surveillance rules S1-S10, with defaults.

The rules themselves are in node/surveillance/rules.py (PROTOCOL.md, "Surveillance"). Their
thresholds live in genesis so every node derives the same alerts from the same chain; they are
not consensus state (nothing on chain reads them), so a network can retune them with a new
genesis for its observers without touching the ledger. Each default comes from public Korean
market-surveillance figures where there is one (KRX / K-OTC disclosure criteria, the currency
transaction report threshold; ../shared/background/surveillance-notes.md), else from the
market generator (`stoledger market-sim`), which shows what each value catches and what it
raises on honest traders.

`params.surveillance` is optional and may be partial: `{"S4": {"min_upticks": 6}}` changes one
number; every other keeps its default. Unknown rules or fields are refused, as everywhere in
genesis. All values are integers (ms, basis points, counts, KRW).
"""

from __future__ import annotations

import copy
from typing import Any

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000

SURVEILLANCE_DEFAULTS: dict[str, dict[str, int]] = {
    # S1 wash trade (가장매매): a trade whose buy and sell orders came from one `origin` (one
    # client IP and device), or whose two accounts are linked as one owner because both placed
    # orders from one origin within `link_window_ms` (a day: KRX links accounts by order IP).
    "S1": {"link_window_ms": DAY_MS, "enabled": 1},
    # S2 matched orders (통정매매): two accounts trading back and forth, each trade two orders
    # of the same size placed within `match_ms` of each other (seconds, "just now by phone"),
    # at least `min_matched` such trades in `window_ms`, at least one in each direction.
    "S2": {"window_ms": HOUR_MS, "match_ms": 5_000, "min_matched": 4, "enabled": 1},
    # S3 spoofing / layering (허수성 주문): at least `min_orders` orders of one account on one
    # side, each at least `size_multiple` times the mean size of the other accounts' orders
    # of the token, none filled and each cancelled within `cancel_ms` of being placed, while
    # the same account trades on the other side, all within `window_ms` (KRX: the expected
    # price swung within minutes by orders later cancelled).
    "S3": {"window_ms": MINUTE_MS, "cancel_ms": 10_000, "min_orders": 3, "size_multiple": 5,
           "enabled": 1},
    # S4 repeated high bids (고가매수 반복): an account's aggressive buys that each trade above
    # the last price, at least `min_upticks` of them within `window_ms`, lifting the price by
    # at least `min_rise_bps` (FSS: "반복적인 고가 매수주문으로 시세를 인위적으로 상승").
    "S4": {"window_ms": 10 * MINUTE_MS, "min_upticks": 5, "min_rise_bps": 200, "enabled": 1},
    # S5 closing-price involvement (종가 관여): in the last `closing_ms` of a session (KRX's
    # closing call is the last 10 minutes), one account with at least `min_share_bps` of the
    # volume (KRX: 20%) and `min_trades` aggressive trades, its aggressive trades moving the
    # price by at least `min_move_bps` from the last price before the closing window.
    "S5": {"closing_ms": 10 * MINUTE_MS, "min_share_bps": 2_000, "min_move_bps": 200,
           "min_trades": 3, "enabled": 1},
    # S6 participation concentration (매매 관여율): over `window_ms` (KRX: 3 days), one
    # account's share of the volume (both sides counted) at least `account_share_bps`, or the
    # top `top_accounts` (KRX: 10) of those below it, each with at least `member_share_bps`
    # (3%: no honest account of the generator's 300 reaches it), together at least
    # `top_share_bps` (KRX: 40%), once the window holds at least `min_trades` trades (a thin
    # window says nothing).
    "S6": {"window_ms": 3 * DAY_MS, "account_share_bps": 2_000, "top_accounts": 10,
           "top_share_bps": 4_000, "member_share_bps": 300, "min_trades": 1_000, "enabled": 1},
    # S7 pump and dump: within `window_ms`, an account makes at least `min_buys` buys that are
    # at least `min_buy_share_bps` of all buying while they last, the price rises at least
    # `min_rise_bps` from before its first buy (K-OTC warns at +110% over 3 days; within a
    # ±30% daily band and a day's window, 5% is what the generator's pumps reach), and it then
    # sells at least `min_dump_bps` (30%: a thin book absorbs little) of what it bought at an
    # average price above where the rise began.
    "S7": {"window_ms": DAY_MS, "min_buys": 5, "min_buy_share_bps": 3_000,
           "min_rise_bps": 500, "min_dump_bps": 3_000, "enabled": 1},
    # S8 insider timing (미공개정보 이용): when an issuer discloses (a document set on the
    # token, a dividend declared), every insider of that issuer (identity attr `insider_of`)
    # that traded the token in the `lookback_ms` (a day) before it, and every account whose
    # net position built in that time is at least `min_share_bps` (5%) of the volume and
    # `min_value` KRW (the reporting threshold); an honest account's net day is well under 1%.
    "S8": {"lookback_ms": DAY_MS, "min_share_bps": 500, "min_value": 10_000_000,
           "enabled": 1},
    # S9 cash structuring (분할 거래): at least `min_count` cash transfers (or deposits) by one
    # account within `window_ms`, each within `near_bps` below the currency transaction report
    # threshold `threshold` (KRW 10,000,000 a day) and together above it.
    "S9": {"threshold": 10_000_000, "near_bps": 1_000, "min_count": 3,
           "window_ms": 7 * DAY_MS, "enabled": 1},
    # S10 shared origin (차명 의심): at least `min_accounts` accounts placing orders in one
    # token from one `origin` within `window_ms` (FSS: order IP and media link accounts).
    "S10": {"window_ms": DAY_MS, "min_accounts": 3, "enabled": 1},
}

# (lowest, highest) of each kind of field, by its name's ending.
FIELD_LIMITS: dict[str, tuple[int, int]] = {
    "_ms": (1, 30 * DAY_MS),  # windows are kept in memory: a month at most
    "_bps": (1, 10_000),
    "enabled": (0, 1),
}
COUNT_LIMITS = (1, 1_000_000)  # counts, multiples, KRW


class SurveillanceParamsError(ValueError):
    """A bad `params.surveillance`; `field` is the path below it (`S4.min_upticks`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"surveillance.{field}: {message}" if field else
                         f"surveillance: {message}")
        self.field = field
        self.message = message


def limits_of(name: str) -> tuple[int, int]:
    for ending, limits in FIELD_LIMITS.items():
        if name.endswith(ending):
            return limits
    if name in ("threshold", "min_value"):
        return (1, 2**62)
    return COUNT_LIMITS


def check_surveillance_params(value: Any) -> dict[str, dict[str, int]]:
    """The defaults overridden by `value` (None = all defaults), validated."""
    merged = copy.deepcopy(SURVEILLANCE_DEFAULTS)
    if value is None:
        return merged
    if not isinstance(value, dict):
        raise SurveillanceParamsError("", "must be an object")
    for rule, fields in value.items():
        if rule not in SURVEILLANCE_DEFAULTS:
            raise SurveillanceParamsError(str(rule), "unknown rule (S1..S10)")
        if not isinstance(fields, dict):
            raise SurveillanceParamsError(rule, "must be an object")
        for name, number in fields.items():
            if name not in SURVEILLANCE_DEFAULTS[rule]:
                raise SurveillanceParamsError(f"{rule}.{name}", "unknown field")
            if isinstance(number, bool) or not isinstance(number, int):
                raise SurveillanceParamsError(f"{rule}.{name}", "must be an integer")
            lowest, highest = limits_of(name)
            if not lowest <= number <= highest:
                raise SurveillanceParamsError(f"{rule}.{name}", f"{number} is out of range "
                                              f"[{lowest}, {highest}]")
            merged[rule][name] = number
    return merged


__all__ = ["SURVEILLANCE_DEFAULTS", "SurveillanceParamsError", "check_surveillance_params"]
