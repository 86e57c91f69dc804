"""`params.surveillance`: how surveillance links accounts into owners, and the thresholds of the
rules S1-S14, with defaults and where each default comes from.

The rules themselves are in node/surveillance/rules/ (PROTOCOL.md, "Surveillance"). Their
thresholds live in genesis so every node derives the same alerts from the same chain; they are
not consensus state (nothing on chain reads them), so a network can retune them with a new
genesis for its observers without touching the ledger. Sources, cited next to each default:
[KRX] KRX / K-OTC disclosure and warning criteria, [CTR] the currency transaction report
threshold, [FSS] the FSS's description of its process (both in
../shared/background/surveillance-notes.md and the Korean source documents), [OSS] open-source
surveillance practice (same notes), [PROTOCOL] PROTOCOL.md itself; a default with none of
these is [GEN]: chosen with the market generator (`stoledger market-sim`), which shows what it
catches and what it raises on honest traders and their look-alikes (README, "Market
surveillance"), and the comment says why.

`params.surveillance` is optional and may be partial: `{"S4": {"min_upticks": 6}}` changes one
number; every other keeps its default. Unknown sections or fields are refused, as everywhere in
genesis. All values are integers (ms, basis points, counts, KRW, days).
"""

from __future__ import annotations

import copy
from typing import Any

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
MAX_WINDOW_MS = 92 * DAY_MS  # a quarter: the longest any rule may look back

SURVEILLANCE_DEFAULTS: dict[str, dict[str, int]] = {
    # Owners (PROTOCOL "Owners, not only accounts"): accounts are one owner when they placed
    # orders from a common `origin` (media hts, mts or api: a client's own device; a branch
    # terminal or a phone desk is the broker's staff and links nobody) within `link_window_ms`
    # [PROTOCOL: 30 days], when cash or units moved between them outside the market within
    # `transfer_window_ms` [GEN: the same month], or when one's key was recovered to the
    # other's (for good). An account paid one way by more than `max_transfer_partners`
    # others in that window is a payee hub (a shop, a landlord), and one that paid more than
    # that many one way, payee hubs aside, is a payer hub (an employer); a payment to a payee
    # hub or from a payer hub links nobody, and a payment returned (a two-way link) counts
    # for neither [GEN: a nominee ring of up to 8 stays linked; the generator's honest
    # payees, paid by dozens, and its payroll look-alike do not make one owner of their
    # payers or staff]. A transfer
    # links only when worth at least `min_link_krw` (units at the token's last price, a token
    # never traded at its issue price) [GEN:
    # KRW 500,000: a nominee's transfers move millions; framing a stranger as one's own
    # account then costs half a million won a victim, not one won (issue 30)].
    "owners": {"link_window_ms": 30 * DAY_MS, "transfer_window_ms": 30 * DAY_MS,
               "max_transfer_partners": 8, "min_link_krw": 500_000},
    # S1 wash trade (가장매매): a trade whose two sides are one owner. `window_ms` is how far
    # back one alert gathers the owner's trades with itself [FSS: a day is the unit of review].
    "S1": {"window_ms": DAY_MS, "enabled": 1},
    # S2 matched orders (통정매매): trades between accounts whose two orders were placed within
    # `match_ms` of each other [FSS: "within seconds"; GEN: 30 s takes the 6 s evasion with
    # room, and no honest pair of the generator repeats within it] with sizes within
    # `size_tolerance_bps` of each other [GEN: 5%; 201 against 200 is 0.5%], filling at least
    # that share of both; at least `min_matched` such trades in `window_ms` among a group of
    # accounts (a pair, or a ring) in which every account both bought and sold. A resting
    # order that was one side of its account's two-sided quote at the touch (the other side
    # placed within `match_ms` of it) and taken by a later order is no match [GEN: rt38 F6].
    "S2": {"window_ms": HOUR_MS, "match_ms": 30_000, "size_tolerance_bps": 500,
           "min_matched": 4, "enabled": 1},
    # S3 spoofing / layering (허수성 주문): at least `min_orders` orders of one owner on one side
    # within `window_ms` [KRX: the expected price swung within 5 minutes; GEN: 10 minutes takes
    # one order every 35 s], together at least `layer_multiple` times the mean size of the
    # other accounts' orders [OSS: large orders; GEN: 15, three orders of five times the mean,
    # the smallest layer the rule caught order by order, which twelve orders of 4.5x escaped],
    # each at least `size_multiple` times it [GEN: an order under the mean size is no large
    # order], behind the best price of its side when placed (or the last price when that
    # side was empty) by at least `min_away_bps` [GEN: 0.2%; a market maker's quote races
    # the book by a tick], removed by any means (cancel, expiry, a
    # self-trade) within `cancel_ms` of being placed with at most `max_fill_bps` of it filled,
    # while the owner traded the other side between the first order and `after_ms` after the
    # last removal [PROTOCOL: "during or shortly after"; GEN: a minute].
    "S3": {"window_ms": 10 * MINUTE_MS, "cancel_ms": MINUTE_MS, "after_ms": MINUTE_MS,
           "min_orders": 3, "size_multiple": 1, "layer_multiple": 15, "max_fill_bps": 1_000,
           "min_away_bps": 20, "enabled": 1},
    # S4 repeated high bids (고가매수 반복): within `window_ms`, at least `min_upticks` of one
    # owner's aggressive buy orders each trading above the last price [FSS: "반복적인 고가
    # 매수주문"], lifting it at least `min_rise_bps` [KRX: 2% is a tenth of the 20% moves
    # KRX watches], the owner's own lifts making at least `min_push_bps` of that rise.
    # [GEN: an hour takes the slow ramp of one lift every 3 minutes.]
    "S4": {"window_ms": HOUR_MS, "min_upticks": 5, "min_rise_bps": 200, "min_push_bps": 5_000,
           "enabled": 1},
    # S5 closing-price involvement (종가 관여): judged once the close is known (the first block
    # after the session's close): in the last `closing_ms` of the session [KRX: the closing
    # call is 10 minutes; GEN: 30 takes a close set 12 minutes early], one owner that bought
    # (sold) at least `min_share_bps` of the window's volume [KRX: 20%] with at least
    # `min_orders` aggressive orders whose lifts made at least `min_push_bps` of the move from
    # the price before its first push to the close, the move at least `min_move_bps`. An owner
    # whose own pushes alone came to `mover_push_bps`, the close left `min_move_bps` their way,
    # needs only `mover_share_bps` [GEN: 5%; one sweep of 150 units moves a close or an open
    # worth 1,500 units; GEN: 2.5%, the plants that moved an open by themselves pushed 3.2-4.9%,
    # honest accounts' own pushes in an opening or closing half hour at most 1.65% over eight
    # runs of seeds 2-18].
    "S5": {"closing_ms": 30 * MINUTE_MS, "min_share_bps": 2_000, "min_move_bps": 200,
           "min_orders": 1, "min_push_bps": 5_000, "mover_share_bps": 500,
           "mover_push_bps": 250, "enabled": 1},
    # S6 participation concentration (매매 관여율): over `window_ms` [KRX: 3 days], one owner's
    # share of the volume (buys plus sells over twice the volume) at least
    # `account_share_bps`, or the top `top_accounts` [KRX: 10] owners below it, each with at
    # least `member_share_bps`, together at least `top_share_bps` [KRX: 40%]; either share
    # must also be `fair_multiple` times what as many equal traders would hold (a token with
    # 20 equal traders gives each 5%, its top 10 half) [GEN], once the window holds
    # `min_trades` trades [GEN: a thin STO token trades tens of times in 3 days], and the owner
    # took part with at least `min_orders` of its orders (one large resting order that many
    # small ones fill is not participation built up) [GEN]; the group once it holds
    # `group_min_trades` [GEN: in fewer, ten ordinary traders reach 3% each by chance]. The
    # group's alert names the token, as KRX designates a token for its top accounts (소수계좌
    # 거래집중), with each owner's accounts and share in `top_owners`: being among the largest
    # (a market maker, an institution) is no accusation.
    "S6": {"window_ms": 3 * DAY_MS, "account_share_bps": 2_000, "top_accounts": 10,
           "top_share_bps": 4_000, "member_share_bps": 300, "fair_multiple": 3,
           "min_trades": 30, "min_orders": 5, "group_min_trades": 300, "enabled": 1},
    # S7 pump and dump: within `window_ms`, an owner's buys (at least `min_buys` orders
    # [GEN: 2; the effect, not the count, makes a pump]) were at least `min_buy_share_bps` of
    # all buying while they lasted, the price rose at least `min_rise_bps` from before its
    # first buy to the highest trade while it bought [K-OTC warns at +110% over 3 days; within
    # a day's ±30% band, 5%], and the owner then sold at least `min_dump_bps` of what it
    # bought at an average above where the rise began, within `dump_ms` of its last rising
    # buy [K-OTC: a surge is judged over 3 days; a thin token's price holds overnight, and a
    # dump a day later is the same dump]. The owner's own rising buys must move the price
    # `min_rise_bps` themselves (others' lifts are not its pump).
    "S7": {"window_ms": DAY_MS, "min_buys": 2, "min_buy_share_bps": 3_000,
           "min_rise_bps": 500, "min_dump_bps": 3_000, "dump_ms": 3 * DAY_MS, "enabled": 1},
    # S8 insider timing (미공개정보 이용): at each material event (PROTOCOL "Material
    # information"), every owner with an insider of the issuer (identity `insider_of`) that
    # traded the token in the `lookback_ms` before it [FSS cases span weeks; GEN: 30 days];
    # and, once the price has moved `min_effect_bps` from its last price before the event
    # within `effect_ms` [GEN: 3% in a day], or, that window over without it, from its price
    # `run_up_ms` before the event to the last (a leak: the buying before the news moves the
    # price first, and the news then moves it little) [GEN: a day; the generator's insider
    # buys for three hours, lifting the price 3-4% before news worth 5%; judged only once the
    # news had its day, so that a drift before good news is not taken for its effect], every
    # owner whose net position built in the
    # lookback is at least `min_share_bps` of its volume [GEN: 10%; an institution's block
    # orders reach 5-9% of a thin token's volume] and `min_value` KRW [GEN: three times the
    # CTR threshold; one block order of an institution stays under it]. An insider's trades
    # (its own, or of an account sharing its device or key: not of accounts it only paid or
    # was paid with) are high when worth `insider_min_value` KRW in all, else medium (shown,
    # not held) [GEN: KRW 10M, after 자본시장법 시행령 art. 200: an officer's change of under
    # 1,000 units and KRW 10M needs no ownership report]. An account the insiders paid, within
    # the lookback, at least `funded_share_bps` of what it traded in the token (when that
    # reached `insider_min_value`) trades as their nominee: medium at most [GEN: half; a
    # nominee trades the insider's money (rt38 F4), a salary is a small part of what an
    # employee invests].
    "S8": {"lookback_ms": 30 * DAY_MS, "min_share_bps": 1_000, "min_value": 30_000_000,
           "effect_ms": DAY_MS, "min_effect_bps": 300, "run_up_ms": DAY_MS,
           "insider_min_value": 10_000_000, "funded_share_bps": 5_000, "enabled": 1},
    # S9 cash structuring (분할 거래): within `window_ms`, at least `min_count` units of one
    # owner each just under the `threshold` [CTR: KRW 10,000,000 a day], within `near_bps`
    # below it, together above it. A unit is a day's total of the owner's outflows
    # (transfers and withdrawals) or deposits when that total is near the threshold, else,
    # of a day whose total (transfers received included) passed it, each counterparty's day
    # total or single amount near it. Owners are judged twice: linked by origins and
    # recoveries (their transfers to anyone else count: a transfer is what S9 judges), and
    # linked by transfers too (the movements leaving the owner count). Receipts count at most
    # one unit of each sender (a sender's repeats are its own act). Else, within
    # `slow_window_ms`, `slow_min_count` units [GEN: a month, five: 9.5M every 4 days is seven
    # or eight; an honest payer of three or four near-threshold bills a month stays under].
    "S9": {"threshold": 10_000_000, "near_bps": 1_000, "min_count": 3,
           "window_ms": 7 * DAY_MS, "slow_window_ms": 30 * DAY_MS, "slow_min_count": 5,
           "enabled": 1},
    # S10 shared origin (차명 의심): at least `min_accounts` accounts placing orders in one
    # token from one client origin within `window_ms` [FSS: order IP and media link accounts].
    "S10": {"window_ms": DAY_MS, "min_accounts": 3, "enabled": 1},
    # S11 price or volume outlier (이상 급등락·거래량 급증), the first extraction stage [FSS]:
    # a token whose last price is `price_bps` away from the mean close of its previous
    # `history_days` trading days [KRX overheating: 130% of a 40-day mean; GEN: 10% over 20
    # days], or whose day volume is `volume_multiple` times their mean [GEN] with at least
    # `min_trades` trades today, or `few_trades_multiple` times it in fewer [GEN: 20x; the
    # count keeps one large trade of a thin token quiet, and it let 19 trades of 1,900x
    # through], once `min_history_days` days are known.
    "S11": {"history_days": 20, "min_history_days": 1, "price_bps": 1_000,
            "volume_multiple": 5, "min_trades": 20, "few_trades_multiple": 20, "enabled": 1},
    # S12 price pegging (시세 고정) [FSS: "시세를 ... 고정시키는 행위"]: within `window_ms`, one
    # owner's bids that sellers hit at its level (the lowest price they filled at), the price
    # never more than `level_bps` under that level [GEN: two ticks], the owner buying at least
    # `min_share_bps` of what traded at or under it, with at least `min_orders` bids
    # (`min_orders_event` in the `event_ms` before a record date, the end of an offering's
    # subscription or a redemption's record date), selling, or offering in sell orders placed
    # in the window at most `quote_bps` above its level, at most `max_sold_bps` of what it
    # bought [GEN]: a market maker's offers a few ticks over its bids cap the price it bids
    # at (no peg), while an offer far above the level caps nothing and does not count
    # [GEN: 100 bps, ten ticks of a 10,000 won token; the generator's market makers quote
    # at the touch].
    "S12": {"window_ms": HOUR_MS, "level_bps": 20, "min_share_bps": 4_000, "min_orders": 8,
            "min_orders_event": 5, "event_ms": 3 * DAY_MS, "max_sold_bps": 2_000,
            "quote_bps": 100, "enabled": 1},
    # S13 order involvement (주문 관여율) [FSS: order and trade participation]: within
    # `window_ms` [KRX: a day], one owner's one-sided share of the quantity ordered in a token
    # (what it ordered to buy less what it ordered to sell, or the reverse, over all quantity
    # ordered: a market maker quoting both sides shows no demand) at least
    # `order_share_bps` [K-OTC: 40% of a day's buys] and `fair_multiple` times an equal
    # share, with at least `min_orders` orders; or its orders over those that traded at least
    # `max_otr` [OSS: ~15] with at least `otr_min_orders` orders, `otr_side_bps` of their
    # quantity no two-sided quote (all it ordered less twice the smaller side of what it
    # ordered within `near_bps` of the last price, over all it ordered) [GEN: 80%; a market
    # maker quoting both sides for forty minutes places a hundred orders with a few fills, its
    # skewed quotes at most 50% one side; an order flood shows one side, or sits far from
    # the market on both; GEN: 2%, the generator's market makers quote at the touch, and a
    # flood 10% off on both sides is no quote].
    "S13": {"window_ms": DAY_MS, "order_share_bps": 4_000, "fair_multiple": 3,
            "min_orders": 50, "max_otr": 15, "otr_min_orders": 100, "otr_side_bps": 8_000,
            "near_bps": 200, "enabled": 1},
    # S14 opening involvement (시가 관여): judged once the first `opening_ms` of a session are
    # over [KRX: participation in the opening minutes; GEN: 30 minutes, as for S5], as S5
    # from the previous close to the price of the owner's last push (the sole mover: to the
    # last price of the window).
    "S14": {"opening_ms": 30 * MINUTE_MS, "min_share_bps": 2_000, "min_move_bps": 200,
            "min_orders": 1, "min_push_bps": 5_000, "mover_share_bps": 500,
            "mover_push_bps": 250, "enabled": 1},
}

# (lowest, highest) of each kind of field, by its name's ending.
FIELD_LIMITS: dict[str, tuple[int, int]] = {
    "_ms": (1, MAX_WINDOW_MS),
    "_bps": (1, 10_000),
    "enabled": (0, 1),
    "_days": (1, 366),
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
    if name in ("threshold", "min_value", "min_link_krw", "insider_min_value"):
        return (1, 2**62)
    return COUNT_LIMITS


def check_surveillance_params(value: Any) -> dict[str, dict[str, int]]:
    """The defaults overridden by `value` (None = all defaults), validated."""
    merged = copy.deepcopy(SURVEILLANCE_DEFAULTS)
    if value is None:
        return merged
    if not isinstance(value, dict):
        raise SurveillanceParamsError("", "must be an object")
    for section, fields in value.items():
        if section not in SURVEILLANCE_DEFAULTS:
            raise SurveillanceParamsError(str(section), "unknown section (owners, S1..S14)")
        if not isinstance(fields, dict):
            raise SurveillanceParamsError(section, "must be an object")
        for name, number in fields.items():
            if name not in SURVEILLANCE_DEFAULTS[section]:
                raise SurveillanceParamsError(f"{section}.{name}", "unknown field")
            if isinstance(number, bool) or not isinstance(number, int):
                raise SurveillanceParamsError(f"{section}.{name}", "must be an integer")
            lowest, highest = limits_of(name)
            if not lowest <= number <= highest:
                raise SurveillanceParamsError(f"{section}.{name}", f"{number} is out of "
                                              f"range [{lowest}, {highest}]")
            merged[section][name] = number
    return merged


__all__ = ["SURVEILLANCE_DEFAULTS", "SurveillanceParamsError", "check_surveillance_params"]
