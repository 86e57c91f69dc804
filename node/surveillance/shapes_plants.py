"""Evasive plants of the shapes the red team found (issue 30, F3-F5, F11-F13): the same
effect in another shape of orders, which per-order or per-fill thresholds, or rules counting
only aggressive orders, let through. evasions.EVASIONS lists them at its end.

- `S2.ioc`: each buy an ioc for twice the offer it takes.
- `S3.split`: twelve layer bids of 4.5x the mean size, none of 5x.
- `S14.passive`: the open moved by bids an honest seller hits, in the thin token (S5 shares
  its rule; the same bids before a close missed on seed 8, the thin token's asks near the
  last).
- `S11.few`: 40x the thin token's day volume in 19 trades.
- `S13.far`: 200 orders 9-10% off the market, on both sides.
- `S7.decoy` (`s7_25h` with `DecoyPump`): the dump 25 hours after the pump, two
  one-unit lifts of the lowest ask a minute apart just before it (rt38 F5).

Each draws from a generator of its own at build time (`own_draws`) and from none while the
market runs, so adding them changes no seed's honest market.
"""

from __future__ import annotations

from typing import Any

from node.surveillance.generator import THIN, TICK, Market, Trader, session_open
from node.surveillance.planting import HOUR_MS, Kit, cross, retry
from node.surveillance.plants import MINUTE_MS, Pump, matched_legs

HALT_TRIES = 900  # S3.split tries every 2 s for half an hour: a halt lasts 10 minutes


def s2_ioc(market: Market) -> None:
    kit = Kit(market, "S2", "ioc")  # each buy an ioc for twice the offer it takes
    sizes = [(qty, 2 * qty) for qty in (market.rng.randrange(100, 300) for _ in range(6))]
    matched_legs(market, kit, kit.traders(2), sizes, tif="ioc")


def s3_split(market: Market) -> None:
    kit = Kit(market, "S3", "split")  # twelve bids of 4.5x the mean, none of 5x
    (spoofer,) = traders = kit.traders(1)
    start, symbol, day = kit.start()
    kit.record(symbol, traders, (day,))

    def show() -> bool:  # not while the token is halted (S8.insider's halt refused it all)
        bid, _ = market.best(symbol)
        if bid is None or market.book(symbol, 1)["halted"]:
            return False
        size = 9 * max(1, market.world.surveillance.orders.mean_qty(symbol)) // 2
        placed: list[int] = []

        def remember(receipt: Any) -> None:
            if receipt.ok and receipt.result["status"] == "resting":
                placed.append(receipt.result["order_id"])
        for level in range(12):
            market.place(spoofer, symbol, "buy", bid - (4 + level) * TICK, size, then=remember)
        market.at(market.now + 1_000, lambda: market.place(spoofer, symbol, "sell", bid, 30,
                                                           "ioc"))
        market.at(market.now + 3_000, lambda: [market.cancel(spoofer, i) for i in placed])
        return True
    market.at(start, retry(market, show, tries=HALT_TRIES))


def passive_push(market: Market, marker: Trader, symbol: str, begin: int, end: int) -> None:
    """From `begin` to `end`, a bid 4% over the last price at `begin` (a tick under the best
    ask when one is under that: it never lifts an offer) that honest sellers hit, placed
    again every 20 s once the last is filled; what rests at `end` is withdrawn."""
    top: list[int] = []
    resting: list[int] = []

    def bid() -> None:
        resting[:] = [i for i in resting if i in market.open_orders]
        if market.now >= end:
            for order_id in resting:
                market.cancel(marker, order_id)
            return
        _, ask = market.best(symbol)
        top[:] = top or [market.last[symbol] * 104 // 100 // TICK * TICK]
        price = top[0] if ask is None else min(top[0], ask - TICK)
        if not resting and price > market.last[symbol]:
            market.place(marker, symbol, "buy", price, 50,
                         then=remember)
        market.at(market.now + 20_000, bid)

    def remember(receipt: Any) -> None:
        if receipt.ok and receipt.result["status"] == "resting":
            resting.append(receipt.result["order_id"])
    market.at(begin, bid)


def s14_passive(market: Market) -> None:
    kit = Kit(market, "S14", "passive")  # in the thin token, whose book is thin at the bell
    (opener,) = traders = kit.traders(1)
    days = tuple(range(market.first_day, market.config.days))
    kit.record(THIN[0], traders, days)
    for day in days:  # each day: on some the asks at the bell sit a tick over the last
        passive_push(market, opener, THIN[0], session_open(day),
                     session_open(day) + 28 * MINUTE_MS)


def s11_few(market: Market) -> None:
    kit = Kit(market, "S11", "few")  # the thin token's volume, 40x its day, in 19 trades
    seller, buyer = traders = kit.traders(2)
    symbol, day = THIN[0], market.config.days - 1
    kit.record(symbol, traders, (day,))
    start = session_open(day) + 30 * MINUTE_MS
    for number in range(19):
        market.at(start + number * 5 * MINUTE_MS, retry(market, lambda: cross(
            market, symbol, seller, buyer, 2_000) is not None))


def s13_far(market: Market) -> None:
    kit = Kit(market, "S13", "far")  # 200 orders 9-10% off the market, on both sides
    (chatter,) = traders = kit.traders(1)
    start, symbol, day = kit.start(room_ms=2 * HOUR_MS)
    kit.record(symbol, traders, (day,))

    def place(number: int) -> None:
        side, off = ("buy", -1) if number % 2 else ("sell", 1)
        price = market.clip(symbol, market.last[symbol] * (1 + off * (0.09 + number % 10 / 1000)))
        market.place(chatter, symbol, side, price, 1 + number % 9)
    for number in range(200):
        market.at(start + number * 20_000, lambda n=number: place(n))


DECOY_LIFTS = 2  # rt38 F5: two one-unit lifts made S7's "last pump" of a few won


class DecoyPump(Pump):
    """A pump whose dump begins after `DECOY_LIFTS` one-unit lifts of the lowest ask above the
    last price, a minute apart: a cheap act just before the judged one (rt38 F5)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.decoys = DECOY_LIFTS

    def dump(self, left: int) -> None:
        if not self.decoys:
            super().dump(left)
            return
        self.decoys -= 1
        market, symbol = self.market, self.symbol
        asks = market.book(symbol, 1)["asks"]
        if asks and asks[0]["price"] > market.last[symbol]:
            market.place(self.pumper, symbol, "buy", asks[0]["price"], 1, "ioc")
        market.at(market.now + MINUTE_MS, lambda: self.dump(left))


SHAPES: dict[str, Any] = {"S2.ioc": s2_ioc, "S3.split": s3_split, "S14.passive": s14_passive,
                          "S11.few": s11_few, "S13.far": s13_far}


DUMP_SPAN_MS = 29 * HOUR_MS  # from the pump's start to its dump's end: at most 40 buys 45 s
# apart, the dump 25 hours after the last, three hours of sales


def falls(market: Market, symbol: str, start: int, end: int) -> bool:
    """Whether the token's real news (Market.real_news) cuts its value between `start` and
    `end`."""
    time, jump = market.real_news.get(symbol, (0, 0.0))
    return jump < 0 and start <= time <= end


def s7_25h(market: Market, variant: str = "25h", pump: type[Pump] = Pump) -> None:
    """The pump on the first plant day and the dump 25 hours after its last buy, in the next
    day's session (rt37 F6: past S7's old one-day window); `S7.decoy` the same by a
    `DecoyPump` (above)."""
    kit = Kit(market, "S7", variant)
    (pumper,) = traders = kit.traders(1)
    # apart from other movers (Market.take_time: seed 11's S7.25h and S7.decoy sharing one
    # token both went unsold), then where the token's real news does not cut its value between
    # the pump and the dump (bad news takes the pumped price away, and with no bid left above
    # where the rise began there is no dump: seed 2's S7.25h never sold)
    start, symbol, day = kit.start(
        room_ms=4 * HOUR_MS + 1_800_000, day=market.first_day,
        moves=((0, HOUR_MS), (25 * HOUR_MS, 27 * HOUR_MS)),  # the pump may take 30 min (seed 3)
        worse=lambda token, at: falls(market, token, at, at + DUMP_SPAN_MS))
    kit.record(symbol, traders, (day, day + 1))
    market.at(start, pump(market, pumper, pumper, symbol, dump_after_ms=25 * HOUR_MS).pump)
