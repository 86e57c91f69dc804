"""What every planted manipulation uses: its accounts and ground truth (`Kit`), and the ways
a manipulator acts on what the chain shows (the book, the last price, its own receipts).

`Kit(market, rule, variant)` registers the case's own accounts (each with devices of its own,
or one shared device) and records the case: the rule it should trip, its variant ("simple" or
an evasion), the token, the accounts, the trading days it acts on, and for a decoy the
transactions an alert must show to catch it. `campaign` repeats an attempt until the receipts
show the manipulation is what its rule defines (a thin book can leave nothing to trade against
for minutes), so a case is a manipulation, not a try at one.
"""

from __future__ import annotations

from collections.abc import Callable

from chaincode.market import MAX_DEPTH
from node.ledger.executor import Receipt
from node.surveillance.generator import (
    SESSION_MS,
    SYMBOLS,
    TICK,
    Case,
    Market,
    Span,
    Trader,
    origin_of,
    session_open,
)

HOUR_MS = 3_600_000


class Kit:
    def __init__(self, market: Market, rule: str, variant: str = "simple") -> None:
        self.market, self.rule, self.variant = market, rule, variant
        self.number = len(market.cases)
        self.case: Case | None = None

    def traders(self, count: int, shared: bool = False, media: str | None = None
                ) -> list[Trader]:
        """`count` new accounts of the case: on devices of their own, or one `shared`."""
        label = f"{self.market.config.seed}:{self.rule}:{self.variant}:{self.number}"
        origins = (origin_of(label),) if shared else None
        name = f"{self.rule.lower()}-{self.variant}-{self.number}"
        made = len(self.case.names) if self.case else 0
        return [self.market.new_trader(f"{name}-{made + i}", manipulator=True, origins=origins,
                                       media=media) for i in range(count)]

    def device(self, label: str) -> str:
        return origin_of(f"{self.market.config.seed}:{self.rule}:{self.variant}:{self.number}:"
                         f"{label}")

    def start(self, earliest_ms: int = 600_000, room_ms: int = HOUR_MS, day: int | None = None,
              moves: tuple[Span, ...] = (), worse: Callable[[str, int], bool] | None = None
              ) -> tuple[int, str, int]:
        """A random time within a session leaving `room_ms` before the close, a liquid token,
        and the trading day; a plant that moves the price over `moves` (from its start) takes
        a token and time apart from the others' (Market.take_time)."""
        if moves:
            return self.market.take_time(moves, day, earliest_ms, room_ms, worse)
        rng = self.market.rng
        day = self.market.plant_day() if day is None else day
        symbol = rng.choice(sorted(SYMBOLS))
        return session_open(day) + rng.randrange(earliest_ms, SESSION_MS - room_ms), symbol, day

    def record(self, symbol: str | None, traders: list[Trader], days: tuple[int, ...]) -> Case:
        self.case = Case(self.rule, self.variant, symbol, tuple(t.name for t in traders),
                         frozenset(t.account for t in traders), days)
        self.market.cases.append(self.case)
        return self.case

    def add(self, traders: list[Trader]) -> None:
        """More accounts of the same case (an account made later, a recovered key)."""
        assert self.case is not None
        self.case.names += tuple(t.name for t in traders)
        self.case.accounts = self.case.accounts | {t.account for t in traders}


def retry(market: Market, action: Callable[[], bool], tries: int = 30) -> Callable[[], None]:
    """Run `action`; if it could not act (False), try again 2 s later, at most `tries` times."""
    def attempt(left: int = tries) -> None:
        if not action() and left > 1:
            market.at(market.now + 2_000, lambda: attempt(left - 1))
    return attempt


def campaign(market: Market, start: int, span_ms: int, attempts: int,
             begin: Callable[[], None], act: Callable[[], None],
             reached: Callable[[], bool], every_ms: int = 2_000) -> None:
    """From `start`, `begin` an attempt and `act` every `every_ms` until `reached()` (what the
    receipts showed); an attempt that has not got there within `span_ms` is dropped and begun
    again an hour after it began, at most `attempts` times."""
    def attempt(left: int) -> None:
        begin()
        began = market.now

        def step() -> None:
            if reached():
                return
            if market.now >= began + span_ms:
                if left > 1:
                    market.at(began + HOUR_MS, lambda: attempt(left - 1))
                return
            act()
            market.at(market.now + every_ms, step)
        step()
    market.at(start, lambda: attempt(attempts))


def sweep(market: Market, trader: Trader, symbol: str, up_bps: int, min_qty: int = 1,
          origin: str | None = None, min_reach_bps: int = 0, limit: int | None = None,
          through: bool = False) -> int:
    """An immediate-or-cancel buy of every ask up to `up_bps` over the last price (at least the
    first ask above it), or up to `limit`, if there are `min_qty` of them reaching
    `min_reach_bps` over it. Returns its limit (0: no sweep). The market fills at most 64
    resting orders per order (MAX_FILLS), so one order may stop short of its limit: `through`
    sweeps again to it each second while the price is under it (`sweep_through`). A sweep
    that must reach `min_reach_bps` reads the book to MAX_DEPTH levels: a dense book's first 20
    levels may span less than the reach (seed 17: S5.sweep never saw its asks)."""
    last = market.last[symbol]
    asks = market.book(symbol, MAX_DEPTH if min_reach_bps else 20)["asks"]
    above = [level["price"] for level in asks if level["price"] > last]
    if not above or (limit is not None and above[0] > limit):
        return 0
    if limit is None:
        limit = max(above[0], market.clip(symbol, last * (10_000 + up_bps) / 10_000))
    qty = sum(level["qty"] for level in asks if level["price"] <= limit)
    reach = max(level["price"] for level in asks if level["price"] <= limit)
    if qty < min_qty or (reach - last) * 10_000 < min_reach_bps * last:
        return 0
    market.place(trader, symbol, "buy", limit, qty, "ioc", origin=origin)
    if through:
        sweep_through(market, trader, symbol, reach, origin)
    return limit


def sweep_through(market: Market, trader: Trader, symbol: str, reach: int,
                  origin: str | None = None, tries: int = 10) -> None:
    """From the next second, sweep to `reach` again while the last price is under it and asks
    remain at or under it, at most `tries` times: what one order the fill cap stopped short
    did not do."""
    def again(left: int) -> None:
        if market.last[symbol] < reach and sweep(market, trader, symbol, 0, origin=origin,
                                                 limit=reach) and left > 1:
            market.at(market.now + 1_000, lambda: again(left - 1))
    market.at(market.now + 1_000, lambda: again(tries))


def cross(market: Market, symbol: str, seller: Trader, buyer: Trader, qty: int,
          origin: str | None = None, extra: int = 0) -> tuple[object, object] | None:
    """`seller` and `buyer` trade `qty` with each other inside the spread (through the best ask
    when the spread is one tick): the buyer's order is `qty` + `extra`."""
    price = market.inside_price(symbol)
    ahead = 0
    if price is None:
        asks = market.book(symbol, 1)["asks"]
        if not asks:
            return None
        price, ahead = asks[0]["price"], asks[0]["qty"]
    sell = market.place(seller, symbol, "sell", price, qty, origin=origin)
    buy = market.place(buyer, symbol, "buy", price, qty + ahead + extra, origin=origin)
    return sell, buy


class Lifts:
    """What an owner's aggressive buys of one token did, learnt from the receipts: the orders
    that traded above the token's last price, the price before the first of them and the
    highest they reached (counted as from `begin`)."""

    def __init__(self, market: Market, traders: list[Trader], symbol: str) -> None:
        self.accounts, self.symbol = {t.account for t in traders}, symbol
        self.last: int | None = None
        self.orders: set[int] = set()
        self.base = self.top = 0
        market.hooks.append(self.learn)

    def begin(self) -> None:
        self.orders.clear()
        self.base = self.top = 0

    def learn(self, receipt: Receipt) -> None:
        for event in receipt.events if receipt.ok else ():
            data = event["data"]
            if event["name"] != "Trade" or data["symbol"] != self.symbol:
                continue
            price = data["price"]
            previous = price if self.last is None else self.last
            if (data["buyer"] in self.accounts and data["aggressor"] == "buy"
                    and price > previous):
                if not self.orders:
                    self.base = previous
                self.orders.add(data["buy_order"])
                self.top = max(self.top, price)
            self.last = price

    def reached(self, buys: int, rise_bps: int) -> bool:
        return (len(self.orders) >= buys
                and (self.top - self.base) * 10_000 >= rise_bps * self.base > 0)


def below_best_bid(market: Market, symbol: str, ticks: int) -> int | None:
    bid, _ = market.best(symbol)
    return None if bid is None else bid - ticks * TICK
