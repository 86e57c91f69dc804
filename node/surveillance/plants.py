"""Planted manipulations for the market generator, one kind per rule S1-S10.

Each `plant_s*` registers accounts of its own (the case's ground truth), schedules what they do
on the generator's event queue, and records the case. The scripts act on what the chain shows
when they run (the book, the last price), as a manipulator would:

- S1 wash: two accounts on one device cross with each other inside the spread (through the
  best ask when the spread is one tick), three times.
- S2 matched: two accounts on their own devices sell and buy the same size at a price
  inside the spread in the same second, a minute or more apart whenever the spread is two ticks
  or wider, back and forth until six such trades went through whole (a one-tick spread can last
  a quarter of an hour in a thin book; an attempt gets 50 minutes, inside S2's hour).
- S3 spoofing: four bids of eight times the mean size a few ticks under the best bid, a sell into
  the best bid the next second, the bids cancelled two seconds later; twice.
- S4 ramping: immediate-or-cancel buys at least 20 s apart, each taking the asks up to 1% over
  the last price whenever there is an ask above it, until six of them have traded above the last
  price and lifted it 3% (a thin book may have no ask above the last for minutes; an attempt
  gets nine minutes, inside S4's ten).
- S5 marking the close: in the last ten minutes of a session, buys at least 20 s apart taking the
  asks up to 1.5% over the last price whenever there is one above it, until the close. A close
  that did not end 3% up with the marker in 30% of the volume is marked again the next day.
- S6 concentration: one account placing ordinary orders in one token in a day, most of them
  marketable, as many as all honest traders place in it over the run (at least 1,500).
- S7 pump and dump: steps 45 s apart, each buying the asks up to 2% over the last (a bid 1% over
  it when there is no ask above, cancelled at the next step), until 6 buys have traded and the
  price has been up 6% (at most 40 steps); then every 15 s for three hours it sells into the
  bids within 1% of the best, as far down as its average sale stays above the price before its
  first buy, while it holds any.
- S8 insider: twelve bids just over the last price in the three hours before the issuer
  publishes a document.
- S9 structuring: four transfers of KRW 9.5-9.99 million to other accounts within a day.
- S10 shared origin: three accounts placing ordinary orders in one token from one device.

S2 and S4 act on what the receipts showed (`_campaign`): an attempt that has not got there in
its time is dropped and made again an hour later, at most four times, so a case is what its
rule defines, not a try at it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from node.ledger.executor import Receipt
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


def _campaign(market: Market, start: int, span_ms: int, attempts: int,
              begin: Callable[[], None], act: Callable[[], None],
              reached: Callable[[], bool]) -> None:
    """From `start`, `begin` an attempt and `act` every 2 s until `reached()` (what the receipts
    showed); an attempt that has not got there within `span_ms` is dropped and begun again an
    hour after it began, at most `attempts` times. A thin book can leave a manipulator nothing
    to trade against for minutes: this way the case is what its rule defines, not a try at it."""
    def attempt(left: int) -> None:
        begin()
        began = market.now

        def step() -> None:
            if reached():
                return
            if market.now >= began + span_ms:
                if left > 1:
                    market.at(began + 3_600_000, lambda: attempt(left - 1))
                return
            act()
            market.at(market.now + 2_000, step)
        step()
    market.at(start, lambda: attempt(attempts))


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


MATCH_LEGS = 6  # matched trades an attempt must make, alternating (S2: 4, both ways)
MATCH_SPAN_MS = 50 * 60_000  # inside S2's hour
MATCH_ATTEMPTS = 4


def plant_s2(market: Market) -> None:
    traders = _traders(market, "S2", 2)
    start, symbol = _start(market, room_ms=MATCH_ATTEMPTS * 3_600_000)
    _case(market, "S2", symbol, traders)
    sizes = [market.rng.randrange(100, 300) for _ in range(MATCH_LEGS)]
    matched: list[str] = []  # the seller of each leg that traded whole against the other
    placed = [0]  # when the last leg was placed (a leg someone else's order got into is
    # placed again a minute later)

    def learn(receipt: Receipt) -> None:
        for event in receipt.events if receipt.ok else ():
            data = event["data"]
            if (event["name"] == "Trade" and data["symbol"] == symbol
                    and {data["buyer"], data["seller"]} == {t.account for t in traders}
                    and data["qty"] == sizes[len(matched) % MATCH_LEGS]):
                matched.append(data["seller"])
    market.hooks.append(learn)

    def begin() -> None:
        matched.clear()
        placed[0] = 0

    def cross() -> None:  # a price strictly inside the spread: nobody else's order is there
        price = market.inside_price(symbol)
        if price is None or market.now - placed[0] < 60_000:
            return
        seller, buyer = traders if len(matched) % 2 == 0 else traders[::-1]
        qty = sizes[len(matched) % MATCH_LEGS]
        market.place(seller, symbol, "sell", price, qty)
        market.place(buyer, symbol, "buy", price, qty)
        placed[0] = market.now

    _campaign(market, start, MATCH_SPAN_MS, MATCH_ATTEMPTS, begin, cross,
              lambda: len(matched) >= MATCH_LEGS)


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


RAMP_MS = 9 * 60_000  # one attempt at a ramp: inside S4's ten minutes
RAMP_BUYS, RAMP_RISE_BPS = 6, 300  # what an attempt must reach (S4: 5 buys, 2%)
RAMP_ATTEMPTS = 4  # an hour apart


class _Lifts:
    """What one account's aggressive buys of one token did, learnt from the receipts: the
    orders that traded above the token's last price, the price before the first of them and
    the highest they reached (counted as from `begin`)."""

    def __init__(self, market: Market, trader: Trader, symbol: str) -> None:
        self.account, self.symbol = trader.account, symbol
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
            if (data["buyer"] == self.account and data["aggressor"] == "buy"
                    and price > previous):
                if not self.orders:
                    self.base = previous
                self.orders.add(data["buy_order"])
                self.top = max(self.top, price)
            self.last = price

    def reached(self, buys: int, rise_bps: int) -> bool:
        return (len(self.orders) >= buys
                and (self.top - self.base) * 10_000 >= rise_bps * self.base > 0)


def plant_s4(market: Market) -> None:
    (ramper,) = traders = _traders(market, "S4", 1)
    start, symbol = _start(market, room_ms=RAMP_ATTEMPTS * 3_600_000)
    _case(market, "S4", symbol, traders)
    lifts = _Lifts(market, ramper, symbol)
    bought = [0]

    def begin() -> None:
        lifts.begin()
        bought[0] = 0

    def lift() -> None:
        if market.now - bought[0] >= 20_000 and _sweep(market, ramper, symbol, 100):
            bought[0] = market.now

    _campaign(market, start, RAMP_MS, RAMP_ATTEMPTS, begin, lift,
              lambda: lifts.reached(RAMP_BUYS, RAMP_RISE_BPS))


CLOSING_MS = 10 * 60_000  # KRX's closing call: the marker's last ten minutes
MARK_RISE_BPS, MARK_SHARE_BPS, MARK_BUYS = 300, 3_000, 3  # what a marked close must show


class _Closing:
    """One token's trades in the last CLOSING_MS of a session, learnt from the receipts: the
    price before the first, the last price, the volume, and one account's part of it."""

    def __init__(self, market: Market, trader: Trader, symbol: str) -> None:
        self.market, self.account, self.symbol = market, trader.account, symbol
        self.close = 0
        self.last: int | None = None
        self.base = self.volume = self.mine = 0
        self.pushes: set[int] = set()
        market.hooks.append(self.learn)

    def begin(self, close: int) -> None:
        self.close, self.base, self.volume, self.mine = close, 0, 0, 0
        self.pushes.clear()

    def learn(self, receipt: Receipt) -> None:
        inside = self.close - CLOSING_MS <= self.market.now < self.close
        for event in receipt.events if receipt.ok else ():
            data = event["data"]
            if event["name"] != "Trade" or data["symbol"] != self.symbol:
                continue
            price, qty = data["price"], data["qty"]
            if inside:
                if not self.volume:
                    self.base = price if self.last is None else self.last
                self.volume += qty
                if self.account in (data["buyer"], data["seller"]):
                    self.mine += qty
                if data["buyer"] == self.account and data["aggressor"] == "buy":
                    self.pushes.add(data["buy_order"])
            self.last = price

    def marked(self) -> bool:
        """Up MARK_RISE_BPS over the window, MARK_SHARE_BPS of its volume (both sides)."""
        return (len(self.pushes) >= MARK_BUYS and self.last is not None
                and (self.last - self.base) * 10_000 >= MARK_RISE_BPS * self.base > 0
                and self.mine * 10_000 >= MARK_SHARE_BPS * 2 * self.volume)


def plant_s5(market: Market) -> None:
    (marker,) = traders = _traders(market, "S5", 1)
    rng = market.rng
    day, symbol = rng.randrange(market.config.days), rng.choice(sorted(SYMBOLS))
    _case(market, "S5", symbol, traders)
    closing = _Closing(market, marker, symbol)

    def mark(day: int) -> None:
        close = session_open(day) + SESSION_MS
        closing.begin(close)
        bought = [0]

        def step() -> None:
            if market.now >= close - 1_000:
                market.at(close, judge)
                return
            if market.now - bought[0] >= 20_000 and _sweep(market, marker, symbol, 150):
                bought[0] = market.now
            market.at(market.now + 2_000, step)

        def judge() -> None:  # a close that did not move: mark the next day's too
            if not closing.marked() and day + 1 < market.config.days:
                market.at(session_open(day + 1) + SESSION_MS - CLOSING_MS + 30_000,
                          lambda: mark(day + 1))
        step()
    market.at(session_open(day) + SESSION_MS - CLOSING_MS + 30_000, lambda: mark(day))


def plant_s6(market: Market) -> None:
    (heavy,) = traders = _traders(market, "S6", 1)
    rng = market.rng
    day, symbol = rng.randrange(market.config.days), rng.choice(sorted(SYMBOLS))
    _case(market, "S6", symbol, traders)
    # as many orders in its day as all honest traders place in the token over the run: with
    # fewer, in a busier market, its share falls under S6's 20%
    for _ in range(max(1_500, market.config.honest_orders // len(SYMBOLS))):
        market.at(session_open(day) + rng.randrange(SESSION_MS - 1_000),
                  lambda: market.honest_order(symbol, heavy, marketable=0.6))


PUMP_BUYS, PUMP_PEAK_PCT = 6, 106  # then the pump stops buying (S7: 5 buys, up 5%)


def plant_s7(market: Market) -> None:
    (pumper,) = traders = _traders(market, "S7", 1)
    start, symbol = _start(market, room_ms=3 * 3_600_000 + 1_800_000)
    _case(market, "S7", symbol, traders)
    held = [0]  # units bought less units sold
    last: list[int] = []  # the token's last price, as the trades come
    base: list[int] = []  # the price before the pumper's first buy: where the rise began
    buys: set[int] = set()  # its buy orders that traded
    peak = [0]  # the highest price since its first buy
    sold = [0, 0]  # units sold and what they brought

    def learn(receipt: Receipt) -> None:
        for event in receipt.events if receipt.ok else ():
            data = event["data"]
            if event["name"] != "Trade" or data["symbol"] != symbol:
                continue
            if data["buyer"] == pumper.account and not base:
                base.append(last[-1] if last else data["price"])
            if data["buyer"] == pumper.account:
                buys.add(data["buy_order"])
            if pumper.account in (data["buyer"], data["seller"]):
                held[0] += data["qty"] if data["buyer"] == pumper.account else -data["qty"]
            if data["seller"] == pumper.account:
                sold[0] += data["qty"]
                sold[1] += data["qty"] * data["price"]
            if base:
                peak[0] = max(peak[0], data["price"])
            last[:] = [data["price"]]
    market.hooks.append(learn)

    bids: list[int] = []  # its bids left resting when there was no ask to lift

    def remember(receipt: Receipt) -> None:
        if receipt.ok and receipt.result["status"] == "resting":
            bids.append(receipt.result["order_id"])

    def withdraw() -> None:  # left resting they would buy from the sellers of the dump
        for order_id in bids:
            market.cancel(pumper, order_id)
        bids.clear()

    def pump(step: int) -> None:
        withdraw()  # the last step's bid, if nobody sold into it
        if step == 40 or (len(buys) >= PUMP_BUYS and peak[0] * 100 >= base[0] * PUMP_PEAK_PCT):
            dump(720)  # high enough: what it buys beyond, a thin book cannot take back
            return
        if not _sweep(market, pumper, symbol, 200):
            price = market.clip(symbol, market.last[symbol] * 1.01)
            market.place(pumper, symbol, "buy", price, 150, then=remember)
        market.at(market.now + 45_000, lambda: pump(step + 1))

    def dump(left: int) -> None:
        # the bids within 1% of the best, as far down as its average sale stays above the
        # price where the rise began
        levels = market.book(symbol)["bids"]
        qty, value, floor = sold[0], sold[1], 0
        for level in levels if base and held[0] > 0 else ():
            price = level["price"]
            if (price * 100 < levels[0]["price"] * 99 or qty - sold[0] >= held[0]
                    or value + price * level["qty"] <= (base[0] + TICK) * (qty + level["qty"])):
                break
            qty, value, floor = qty + level["qty"], value + price * level["qty"], price
        if floor:
            market.place(pumper, symbol, "sell", floor, min(held[0], qty - sold[0]), "ioc")
        if left > 1:
            market.at(market.now + 15_000, lambda: dump(left - 1))
    market.at(start, lambda: pump(0))


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
