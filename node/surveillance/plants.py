"""Planted manipulations for the market generator, one kind per rule S1-S10.

Each `plant_s*` registers accounts of its own (the case's ground truth), schedules what they do
on the generator's event queue, and records the case. The scripts act on what the chain shows
when they run (the book, the last price), as a manipulator would:

- S1 wash: two accounts on one device cross with each other inside the spread (through the
  best ask when the spread is one tick), three times.
- S2 matched: two accounts on their own devices sell and buy the same size at a price
  inside the spread in the same second (waiting up to 5 minutes for a spread of two ticks),
  back and forth five times.
- S3 spoofing: four bids of eight times the mean size a few ticks under the best bid, a sell into
  the best bid the next second, the bids cancelled two seconds later; twice.
- S4 ramping: twelve immediate-or-cancel buys 45 s apart, each taking the asks up to 0.5% over
  the last price (waiting up to 50 s for an ask above it).
- S5 marking the close: six buys in the last ten minutes taking the asks up to 1% over the last.
- S6 concentration: one account placing 1,500 ordinary orders in one token in a day, most of
  them marketable.
- S7 pump and dump: 40 buys taking the asks up to 2% over the last (a bid 1% over it when
  there is no ask above), then sells into the best bid every 30 s while it is above the price
  the run began at.
- S8 insider: twelve bids just over the last price in the three hours before the issuer
  publishes a document.
- S9 structuring: four transfers of KRW 9.5-9.99 million to other accounts within a day.
- S10 shared origin: three accounts placing ordinary orders in one token from one device.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from node.executor import Receipt
from node.surveillance.generator import (
    CLOSE_MS,
    OPEN_MS,
    SYMBOLS,
    TICK,
    Case,
    GeneratorConfig,
    Market,
    Report,
    Trader,
    origin_of,
    session_open,
)

SESSION_MS = CLOSE_MS - OPEN_MS


def build(config: GeneratorConfig) -> Market:
    """The market of `config`, set up and planted, before its first trading block."""
    market = Market(config)
    market.setup()
    for rule in config.plant:
        plant(market, rule)
    market.world.check(market.world.commit(market.world.genesis_time + 2000))
    return market


def generate(config: GeneratorConfig) -> Report:
    """Run the market of `config` and score the alerts against its ground truth."""
    return build(config).run()


def plant(market: Market, rule: str) -> None:
    PLANTS[rule](market)


def _case(market: Market, rule: str, symbol: str | None, traders: list[Trader]) -> None:
    market.cases.append(Case(rule, symbol, tuple(t.name for t in traders),
                             frozenset(t.account for t in traders)))


def _traders(market: Market, rule: str, count: int, shared_origin: bool = False
             ) -> list[Trader]:
    number = sum(1 for case in market.cases if case.rule == rule)
    origins = (origin_of(f"{market.config.seed}:{rule}:{number}"),) if shared_origin else None
    return [market.new_trader(f"{rule.lower()}-{number}-{i}", manipulator=True,
                              origins=origins) for i in range(count)]


def _start(market: Market, earliest_ms: int = 600_000, room_ms: int = 3_600_000
           ) -> tuple[int, str]:
    """A random time within a session leaving `room_ms` before the close, and a token."""
    rng = market.rng
    day = rng.randrange(market.config.days)
    return (session_open(day) + rng.randrange(earliest_ms, SESSION_MS - room_ms),
            rng.choice(sorted(SYMBOLS)))


def _retry(market: Market, action: Callable[[], bool], tries: int = 30) -> Callable[[], None]:
    """Run `action`; if it could not act (False), try again 2 s later, at most `tries` times."""
    def attempt(left: int = tries) -> None:
        if not action() and left > 1:
            market.at(market.now + 2_000, lambda: attempt(left - 1))
    return attempt


def _sweep(market: Market, trader: Trader, symbol: str, up_bps: int, min_qty: int = 1
           ) -> bool:
    """An immediate-or-cancel buy of every ask up to `up_bps` over the last price (at least the
    first ask above it)."""
    last = market.last[symbol]
    asks = market.book(symbol)["asks"]
    above = [level["price"] for level in asks if level["price"] > last]
    if not above:
        return False
    limit = max(above[0], market.clip(symbol, last * (10_000 + up_bps) / 10_000))
    qty = sum(level["qty"] for level in asks if level["price"] <= limit)
    if qty < min_qty:
        return False
    market.place(trader, symbol, "buy", limit, qty, "ioc")
    return True


# ---- the plants ------------------------------------------------------------------------------

def plant_s1(market: Market) -> None:
    first, second = traders = _traders(market, "S1", 2, shared_origin=True)
    start, symbol = _start(market)
    _case(market, "S1", symbol, traders)
    for round_ in range(3):
        seller, buyer = (first, second) if round_ % 2 == 0 else (second, first)
        qty = market.rng.randrange(50, 200)

        def cross(seller: Trader = seller, buyer: Trader = buyer, qty: int = qty) -> bool:
            price = market.inside_price(symbol)
            ahead = 0
            if price is None:  # a one-tick spread: join the best ask and buy through it
                asks = market.book(symbol, 1)["asks"]
                price, ahead = asks[0]["price"], asks[0]["qty"]
            market.place(seller, symbol, "sell", price, qty)
            market.place(buyer, symbol, "buy", price, qty + ahead)
            return True
        market.at(start + round_ * 150_000, _retry(market, cross))


def plant_s2(market: Market) -> None:
    traders = _traders(market, "S2", 2)
    start, symbol = _start(market)
    _case(market, "S2", symbol, traders)
    for leg in range(10):
        seller, buyer = traders if leg % 2 == 0 else traders[::-1]
        qty = market.rng.randrange(100, 300)

        def cross(seller: Trader = seller, buyer: Trader = buyer, qty: int = qty) -> bool:
            price = market.inside_price(symbol)
            if price is None:
                return False
            market.place(seller, symbol, "sell", price, qty)
            market.place(buyer, symbol, "buy", price, qty)
            return True
        market.at(start + leg * 60_000, _retry(market, cross, tries=150))  # up to 5 min


def plant_s3(market: Market) -> None:
    (spoofer,) = traders = _traders(market, "S3", 1)
    start, symbol = _start(market)
    _case(market, "S3", symbol, traders)

    def layer() -> bool:
        bids = market.book(symbol, 1)["bids"]
        if not bids:
            return False
        best = bids[0]["price"]
        size = 8 * max(1, market.world.surveillance.windows.mean_order_qty(symbol)) + 1
        placed: list[int] = []

        def remember(receipt: Receipt) -> None:
            if receipt.ok and receipt.result["status"] == "resting":
                placed.append(receipt.result["order_id"])
        for level in range(4):
            market.place(spoofer, symbol, "buy", best - (4 + level) * TICK, size,
                         then=remember)
        market.at(market.now + 1_000, lambda: market.place(spoofer, symbol, "sell", best,
                                                           market.rng.randrange(20, 60), "ioc"))

        def withdraw() -> None:
            for order_id in placed:
                market.cancel(spoofer, order_id)
        market.at(market.now + 3_000, withdraw)
        return True
    for cycle in range(2):
        market.at(start + cycle * 90_000, _retry(market, layer))


def plant_s4(market: Market) -> None:
    (ramper,) = traders = _traders(market, "S4", 1)
    start, symbol = _start(market)
    _case(market, "S4", symbol, traders)
    for step in range(12):  # a thin book refills slowly: each buy waits up to 50 s for an ask
        market.at(start + step * 45_000,
                  _retry(market, lambda: _sweep(market, ramper, symbol, 50), tries=25))


def plant_s5(market: Market) -> None:
    (marker,) = traders = _traders(market, "S5", 1)
    rng = market.rng
    day, symbol = rng.randrange(market.config.days), rng.choice(sorted(SYMBOLS))
    close = session_open(day) + SESSION_MS
    _case(market, "S5", symbol, traders)
    for step in range(6):
        market.at(close - 540_000 + step * 80_000,
                  _retry(market, lambda: _sweep(market, marker, symbol, 100), tries=5))


def plant_s6(market: Market) -> None:
    (heavy,) = traders = _traders(market, "S6", 1)
    rng = market.rng
    day, symbol = rng.randrange(market.config.days), rng.choice(sorted(SYMBOLS))
    _case(market, "S6", symbol, traders)
    for _ in range(1_500):
        market.at(session_open(day) + rng.randrange(SESSION_MS - 1_000),
                  lambda: market.honest_order(symbol, heavy, marketable=0.6))


def plant_s7(market: Market) -> None:
    (pumper,) = traders = _traders(market, "S7", 1)
    start, symbol = _start(market, room_ms=3 * 3_600_000 + 1_800_000)
    _case(market, "S7", symbol, traders)
    held = [0]  # units bought less units sold

    def learn(receipt: Receipt) -> None:
        for event in receipt.events if receipt.ok else ():
            data = event["data"]
            if event["name"] == "Trade" and pumper.account in (data["buyer"], data["seller"]):
                held[0] += data["qty"] if data["buyer"] == pumper.account else -data["qty"]
    market.hooks.append(learn)

    def pump() -> None:
        if not _sweep(market, pumper, symbol, 200):
            price = market.clip(symbol, market.last[symbol] * 1.01)
            market.place(pumper, symbol, "buy", price, 150)

    base: list[int] = []

    def dump() -> None:
        bids = market.book(symbol, 1)["bids"]
        if held[0] > 0 and bids and bids[0]["price"] > base[0]:
            market.place(pumper, symbol, "sell", bids[0]["price"], min(held[0], bids[0]["qty"]),
                         "ioc")
    market.at(start - 1_000, lambda: base.append(market.last[symbol]))
    for step in range(40):
        market.at(start + step * 45_000, pump)
    for step in range(360):
        market.at(start + 40 * 45_000 + 60_000 + step * 30_000, dump)


def plant_s8(market: Market) -> None:
    (insider,) = traders = _traders(market, "S8", 1)
    start, symbol = _start(market, earliest_ms=30 * 60_000, room_ms=3 * 3_600_000 + 600_000)
    _case(market, "S8", symbol, traders)
    for step in range(12):
        market.at(start + step * 15 * 60_000,
                  lambda: market.place(insider, symbol, "buy",
                                       market.clip(symbol, market.last[symbol] * 1.003), 400))
    market.at(start + 3 * 3_600_000 + 300_000, lambda: market.disclose(symbol))


def plant_s9(market: Market) -> None:
    (structurer,) = traders = _traders(market, "S9", 1)
    start, _ = _start(market)
    _case(market, "S9", None, traders)
    rng = market.rng
    for step in range(4):
        receiver = rng.choice(market.traders)
        amount = rng.randrange(9_500_000, 9_990_000)
        market.at(start + step * 5 * 3_600_000,
                  lambda receiver=receiver, amount=amount: _transfer(  # type: ignore[misc]
                      market, structurer, receiver, amount))


def _transfer(market: Market, sender: Trader, receiver: Trader, amount: int) -> None:
    market.world.send(sender.name, "cash", "transfer", to=receiver.account, amount=amount)


def plant_s10(market: Market) -> None:
    traders = _traders(market, "S10", 3, shared_origin=True)
    start, symbol = _start(market, room_ms=2 * 3_600_000)
    _case(market, "S10", symbol, traders)
    rng = market.rng
    for trader in traders:
        for _ in range(3):
            market.at(start + rng.randrange(2 * 3_600_000),
                      lambda trader=trader: market.honest_order(  # type: ignore[misc]
                          symbol, trader))


PLANTS: dict[str, Callable[[Market], Any]] = {
    "S1": plant_s1, "S2": plant_s2, "S3": plant_s3, "S4": plant_s4, "S5": plant_s5,
    "S6": plant_s6, "S7": plant_s7, "S8": plant_s8, "S9": plant_s9, "S10": plant_s10}
