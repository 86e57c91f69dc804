"""Evasive plants against the owner graph found by the red team rt37 (issue 30), kept apart
from node.surveillance.evasions (at its line cap); node.surveillance.runs lists them after
`EVASIONS`, so the seeded markets of the plants before them do not change.

- S1.round_trip (F4): the pair linked by a payment, then nine accounts of the ring each pay
  the payee KRW 500,000 and are paid back: no money lost, and the payee a "hub" if round
  trips counted.
- S1.helper_exits (F3): the pair shares a laptop; a helper that never trades places 64
  unfilled bids from a VPN's exits, then the first does from the same exits, so that every
  origin of the first is shared and the laptop, its oldest, would be forgotten if shared
  origins were all alike.
- S1.payer_hub (rt38 F1): the first funds the second, then pays nine accounts of its own
  KRW 500,000 one way, one more than makes it a payer hub: the hub status the attacker
  declares must not cut the link its nominee then washes on.
- S8.funded (rt38 F4): S8.nominee with the insider's money instead of its device: the insider
  pays the nominee what its twelve bids cost, a tenth more (in two days' parts, each within
  the daily outflow limit: `fund`), and the nominee buys before the news.
Their washes move the price, so each takes a token and time apart from the plants that move
it (`moves`, Market.take_time): a wash on any token changed the close seed 8's S5.sweep marks
(it was missed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from node.surveillance.evasions import make_insider, own_draws, share_device, washes
from node.surveillance.generator import DAY_MS, Market, Trader
from node.surveillance.planting import Kit
from node.surveillance.plants import (
    MINUTE_MS,
    NEWS_LEAD_MS,
    NEWS_ROOM_MS,
    buy_before_news,
    good_news,
    news_moves,
    transfer,
)

RING = 9  # accounts that pay the payee and are paid back: more than max_transfer_partners
WASH_MOVES = ((0, 20 * MINUTE_MS),)  # the washes, from ten minutes in (`washes`)
EXITS = 64  # a VPN's exits: as many origins as an account keeps (Limits.per_account)


def s1_round_trip(market: Market) -> None:
    with own_draws(market, "S1.round_trip"):
        kit = Kit(market, "S1", "round_trip")
        first, second = traders = kit.traders(2)
        start, symbol, day = kit.start(moves=WASH_MOVES)  # see above
        kit.record(symbol, traders, (day,))
        others = kit.traders(RING)  # accounts of the ring that never trade
        market.at(start, lambda: transfer(market, first, second.account, 1_000_000))
        for number, other in enumerate(others):
            market.at(start + MINUTE_MS + number, lambda o=other: transfer(
                market, o, second.account, 500_000))
            market.at(start + 2 * MINUTE_MS + number, lambda o=other: transfer(
                market, second, o.account, 500_000))
        washes(market, first, second, symbol, start + 10 * MINUTE_MS)


def s1_helper_exits(market: Market) -> None:
    with own_draws(market, "S1.helper_exits"):
        kit = Kit(market, "S1", "helper_exits")
        first, second = traders = kit.traders(2)
        start, symbol, day = kit.start(moves=WASH_MOVES)  # see above
        kit.record(symbol, traders, (day,))
        (helper,) = kit.traders(1)
        share_device(market, traders, kit.device("laptop"), start)
        for offset, trader in ((MINUTE_MS, helper), (2 * MINUTE_MS, first)):
            for exit_ in range(EXITS):
                market.at(start + offset + exit_, lambda t=trader, n=exit_: market.place(
                    t, symbol, "buy", market.clip(symbol, market.last[symbol] * 0.95), 1,
                    "ioc", origin=kit.device(f"vpn-{n}")))
        washes(market, first, second, symbol, start + 10 * MINUTE_MS)


def s1_payer_hub(market: Market) -> None:
    with own_draws(market, "S1.payer_hub"):
        kit = Kit(market, "S1", "payer_hub")
        first, second = traders = kit.traders(2)
        start, symbol, day = kit.start(moves=WASH_MOVES)  # see above
        kit.record(symbol, traders, (day,))
        own = kit.traders(RING)  # the payer's own accounts, paid one way, never trading
        market.at(start, lambda: transfer(market, first, second.account, 5_000_000))
        for number, other in enumerate(own):
            market.at(start + MINUTE_MS + number, lambda o=other: transfer(
                market, first, o.account, 500_000))
        washes(market, first, second, symbol, start + 10 * MINUTE_MS)


def s8_funded(market: Market) -> None:
    with own_draws(market, "S8.funded"):
        kit = Kit(market, "S8", "funded")
        insider, nominee = kit.traders(2)
        start, symbol, day = kit.start(earliest_ms=40 * MINUTE_MS, room_ms=NEWS_ROOM_MS - 10 *
                                       MINUTE_MS, moves=news_moves(NEWS_LEAD_MS))
        kit.record(symbol, [nominee], (day,))
        kit.add([insider])
        market.at(start - 30 * MINUTE_MS, lambda: make_insider(market, insider, symbol))
        fund(market, insider, nominee, symbol, start)
        buy_before_news(market, nominee, symbol, start, NEWS_LEAD_MS,
                        lambda: good_news(market, symbol))


def fund(market: Market, insider: Trader, nominee: Trader, symbol: str, start: int) -> None:
    """The insider pays the nominee what its twelve bids cost at the last price, a tenth more,
    in two parts on two KST days (the day before, and 20 minutes before the first bid), each
    within an individual's daily outflow limit (chaincode.fds, KRW 100M a KST day): at 11,870
    won the whole, KRW 109.7M, was refused as one transfer (DAILY_LIMIT_EXCEEDED, seed 5), and
    the nominee then bought with its own money: no nominee at all."""
    def cost() -> int:
        return int(market.last[symbol] * 12 * 700 * 1.1)
    paid: list[int] = []

    def first() -> None:
        paid.append(cost() // 2)
        transfer(market, insider, nominee.account, paid[0])
    market.at(start - 20 * MINUTE_MS - DAY_MS, first)
    market.at(start - 20 * MINUTE_MS, lambda: transfer(
        market, insider, nominee.account, cost() - paid[0]))


OWNER_EVASIONS: dict[str, Callable[[Market], Any]] = {
    "S1.round_trip": s1_round_trip, "S1.helper_exits": s1_helper_exits,
    "S1.payer_hub": s1_payer_hub,
    "S8.funded": s8_funded}
