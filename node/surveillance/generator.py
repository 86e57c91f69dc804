"""The market generator: a seeded market of honest traders, and planted manipulations with their
ground truth, driven through the real market contract (node.surveillance.world).

Theory of operation. Time runs over KRX-like sessions (Mon-Fri 09:00-15:30 KST) from a Monday.
Everything that happens is an event on one queue, ordered by (time, sequence); the events of one
second make one block, committed at that second. An event only queues transactions; it decides
from what the chain had committed before its block (the book, the last price) and from what the
generator learnt from earlier receipts (its own order ids). All randomness comes from one
`random.Random(seed)`: a run is reproducible from its seed.

Honest traders (`honest_accounts` of them, each with one or two devices - `origin`s of its own
- a usual order medium and a broker) place `honest_orders` limit orders, spread over the
sessions: side at random, around an anchor that follows the last price and reverts towards a
slowly drifting fair value; about a third marketable, the rest resting up to 1.5% away; sizes
log-normal (median 20 units); one in ten immediate-or-cancel; many resting orders cancelled
after seconds to half an hour. They also move cash between each other (amounts log-uniform
from KRW 10,000 to 50,000,000), and the issuers publish a document now and then.

Planted manipulations (node.surveillance.plants, which also has `build` and `generate`), each
by accounts of its own: the rule it should trip and those accounts are its ground truth.
`score` matches alerts to them: an alert of the rule whose accounts are all the case's catches
the case; an alert naming any honest account is an alert on an honest account.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chaincode.fds import NO_WITHDRAWAL_DELAY
from chaincode.market import compute_band, kst_day
from consensus import codec
from node.ledger.executor import Receipt
from node.surveillance.alerts import all_alerts
from node.surveillance.world import MarketWorld

KST_OFFSET_MS = 9 * 3_600_000
DAY_MS = 86_400_000
FIRST_MONDAY_MS = 1_767_571_200_000 - KST_OFFSET_MS  # 2026-01-05 00:00 KST (a Monday)
OPEN_MS, CLOSE_MS = 9 * 3_600_000, 15 * 3_600_000 + 30 * 60_000
SESSIONS = {"weekly": [{"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00",
                        "close": "15:30"}], "holidays": []}
SYMBOLS = {"APT1": "issuer-1", "BLD2": "issuer-2"}
BROKERS = ("broker-a", "broker-b", "broker-c")
MEDIA = ("hts", "mts", "api", "branch", "phone")
MEDIA_WEIGHTS = (30, 50, 5, 10, 5)
UNIT_PRICE = 10_000
TICK = 10
UNITS_EACH = 50_000
CASH_EACH = 5_000_000_000
RULES = ("S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9", "S10")


@dataclass(frozen=True)
class GeneratorConfig:
    seed: int = 1
    days: int = 2
    honest_accounts: int = 300
    honest_orders: int = 6_000
    plant: tuple[str, ...] = RULES
    surveillance: dict[str, Any] | None = None  # params.surveillance overrides
    keep_blocks: bool = False  # keep every applied block (determinism tests replay them)


@dataclass
class Trader:
    name: str
    account: str
    broker: str
    origins: tuple[str, ...]
    media: str
    weight: float


@dataclass
class Case:
    rule: str
    symbol: str | None
    names: tuple[str, ...]
    accounts: frozenset[str]
    caught: int = 0


@dataclass
class RuleScore:
    planted: int = 0
    caught: int = 0
    missed: int = 0
    honest_alerts: int = 0
    other_alerts: int = 0


@dataclass
class Report:
    seed: int
    honest_orders: int
    orders: int
    trades: int
    alerts: int
    rules: dict[str, RuleScore]
    cases: list[Case]
    honest_examples: list[dict[str, Any]] = field(default_factory=list)
    apply_seconds: float = 0.0  # CPU applying blocks (chaincode, storage, indexers)
    surveillance_seconds: float = 0.0  # of which in surveillance


def origin_of(label: str) -> str:
    return codec.sha256(f"origin:{label}".encode()).hex()


def session_open(day: int) -> int:
    """UTC ms of the opening bell of trading day `day` (0 = the first Monday)."""
    week, weekday = divmod(day, 5)
    return FIRST_MONDAY_MS + (week * 7 + weekday) * DAY_MS + OPEN_MS


class Market:
    """The generator's run: world, event queue, honest traders; plants add their events."""

    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        params: dict[str, Any] = {"general_investor_annual_limit": 0,
                                  "market": {"sessions": SESSIONS, "tick": TICK},
                                  "fds": NO_WITHDRAWAL_DELAY}
        if config.surveillance is not None:
            params["surveillance"] = config.surveillance
        self.world = MarketWorld(params, session_open(0) - 3_600_000)
        self.world.keep_blocks = config.keep_blocks
        self.queue: list[tuple[int, int, Callable[[], None]]] = []
        self.seq = 0
        self.waiting: dict[bytes, Callable[[Receipt], None]] = {}
        self.hooks: list[Callable[[Receipt], None]] = []  # see every receipt
        self.last: dict[str, int] = dict.fromkeys(SYMBOLS, UNIT_PRICE)
        self.last_day: dict[str, int] = dict.fromkeys(SYMBOLS, -1)  # KST day of the last trade
        self.prev_close: dict[str, int] = dict.fromkeys(SYMBOLS, UNIT_PRICE)
        self.fair: dict[str, float] = dict.fromkeys(SYMBOLS, float(UNIT_PRICE))
        self.open_orders: dict[int, int] = {}  # resting order id -> remaining
        self.traders: list[Trader] = []
        self.cumulative: list[float] = []
        self.cases: list[Case] = []
        self.manipulators: set[str] = set()
        self.orders = self.honest_orders = self.trades = 0
        self.now = session_open(0)

    # ---- the event queue ---------------------------------------------------------------------

    def at(self, time: int, action: Callable[[], None]) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (time, self.seq, action))

    def on_receipt(self, tx: Any, then: Callable[[Receipt], None]) -> None:
        self.waiting[tx.tx_id] = then

    def run(self) -> Report:
        while self.queue:
            block_time = self.queue[0][0] // 1000 * 1000
            self.now = block_time
            while self.queue and self.queue[0][0] < block_time + 1000:
                heapq.heappop(self.queue)[2]()
            if self.world.pending:
                self._learn(self.world.commit(block_time))
        return score(self)

    def _learn(self, receipts: list[Receipt]) -> None:
        for receipt in receipts:
            for event in receipt.events if receipt.ok else ():
                name, data = event["name"], event["data"]
                if name == "Trade":
                    self._traded(data["symbol"], data["price"])
                    for order_id in (data["buy_order"], data["sell_order"]):
                        if order_id in self.open_orders:
                            self.open_orders[order_id] -= data["qty"]
                            if self.open_orders[order_id] <= 0:
                                del self.open_orders[order_id]
                elif name == "OrderCancelled":
                    self.open_orders.pop(data["order_id"], None)
            result = receipt.result
            if receipt.ok and isinstance(result, dict) and result.get("status") == "resting":
                self.open_orders[result["order_id"]] = result["remaining"]
            for hook in self.hooks:
                hook(receipt)
            then = self.waiting.pop(receipt.tx_id, None)
            if then is not None:
                then(receipt)

    def _traded(self, symbol: str, price: int) -> None:
        day = kst_day(self.now)
        if self.last_day[symbol] < day:
            self.prev_close[symbol] = self.last[symbol]
            self.last_day[symbol] = day
        self.last[symbol] = price
        self.trades += 1

    def reference(self, symbol: str) -> int:
        """The market contract's reference price: the last price of an earlier day."""
        if self.last_day[symbol] < kst_day(self.now):
            return self.last[symbol]
        return self.prev_close[symbol]

    # ---- prices ------------------------------------------------------------------------------

    def clip(self, symbol: str, price: float) -> int:
        """A price on the tick, inside the day's band."""
        ticks = max(1, round(price / TICK))
        band = compute_band(self.reference(symbol), 3_000)
        assert band is not None
        low, high = -(-band[0] // TICK) * TICK, band[1] // TICK * TICK
        return min(max(ticks * TICK, low), high)

    def anchor(self, symbol: str) -> float:
        return 0.9 * self.last[symbol] + 0.1 * self.fair[symbol]

    def book(self, symbol: str, depth: int = 20) -> dict[str, Any]:
        book: dict[str, Any] = self.world.query("market", "book", symbol=symbol, depth=depth)
        return book

    def inside_price(self, symbol: str) -> int | None:
        """A price strictly between the best bid and the best ask, near the last price."""
        book = self.book(symbol, 1)
        bid = book["bids"][0]["price"] if book["bids"] else 0
        ask = book["asks"][0]["price"] if book["asks"] else 1 << 60
        target = self.clip(symbol, self.last[symbol])
        price = min(max(target, bid + TICK), ask - TICK)
        return price if bid < price < ask else None

    # ---- orders ------------------------------------------------------------------------------

    def place(self, trader: Trader, symbol: str, side: str, price: int, qty: int,
              tif: str = "gtc", origin: str | None = None,
              then: Callable[[Receipt], None] | None = None) -> None:
        tx = self.world.send(trader.broker, "market", "place", symbol=symbol,
                             account=trader.account, side=side, price=price, qty=qty,
                             media=trader.media, origin=origin or trader.origins[0], tif=tif)
        self.orders += 1
        if trader.account not in self.manipulators:
            self.honest_orders += 1
        if then is not None:
            self.on_receipt(tx, then)

    def cancel(self, trader: Trader, order_id: int) -> None:
        if self.open_orders.pop(order_id, None) is not None:
            self.world.send(trader.broker, "market", "cancel", order_id=order_id)

    # ---- setting up --------------------------------------------------------------------------

    def setup(self) -> None:
        world, rng = self.world, self.rng
        time = world.genesis_time + 1000
        for symbol, issuer in SYMBOLS.items():
            world.create_token(symbol, issuer, UNIT_PRICE, 10**9, time)
        self.traders = [self.new_trader(f"honest-{i}", rng.lognormvariate(0, 0.5))
                        for i in range(self.config.honest_accounts)]
        world.check(world.commit(time))
        total = 0.0
        for trader in self.traders:
            total += trader.weight
            self.cumulative.append(total)
        self.schedule_honest()

    def new_trader(self, name: str, weight: float = 1.0, manipulator: bool = False,
                   origins: tuple[str, ...] | None = None) -> Trader:
        rng, world = self.rng, self.world
        broker = rng.choice(BROKERS)
        world.enrol(name, broker, SYMBOLS, UNITS_EACH, CASH_EACH)
        devices = origins or tuple(origin_of(f"{self.config.seed}:{name}:{device}")
                                   for device in range(rng.choice((1, 1, 2))))
        trader = Trader(name, world.account(name), broker, devices,
                        rng.choices(MEDIA, MEDIA_WEIGHTS)[0], weight)
        if manipulator:
            self.manipulators.add(trader.account)
        return trader

    def schedule_honest(self) -> None:
        config, rng = self.config, self.rng
        per_session = config.honest_orders // (config.days * len(SYMBOLS))
        for day in range(config.days):
            start = session_open(day)
            for minute in range(0, CLOSE_MS - OPEN_MS, 60_000):
                self.at(start + minute, self.drift)
            for symbol in SYMBOLS:
                for _ in range(per_session):
                    self.at(start + rng.randrange(CLOSE_MS - OPEN_MS - 1000),
                            lambda symbol=symbol: self.honest_order(symbol))  # type: ignore[misc]
                self.at(start + rng.randrange(3_600_000, CLOSE_MS - OPEN_MS - 3_600_000),
                        lambda symbol=symbol: self.disclose(symbol))  # type: ignore[misc]
            for _ in range(config.honest_accounts // 2):
                self.at(start + rng.randrange(DAY_MS - 2 * 3_600_000), self.honest_cash)

    def drift(self) -> None:
        for symbol in SYMBOLS:
            self.fair[symbol] *= math.exp(self.rng.gauss(0, 0.0007))

    def pick(self) -> Trader:
        point = self.rng.random() * self.cumulative[-1]
        low, high = 0, len(self.cumulative) - 1
        while low < high:
            middle = (low + high) // 2
            if self.cumulative[middle] < point:
                low = middle + 1
            else:
                high = middle
        return self.traders[low]

    def honest_order(self, symbol: str, trader: Trader | None = None,
                     marketable: float = 0.35) -> None:
        rng = self.rng
        trader = trader or self.pick()
        side = rng.choice(("buy", "sell"))
        sign = 1 if side == "buy" else -1
        anchor = self.anchor(symbol)
        if rng.random() < marketable:
            price = anchor * (1 + sign * rng.uniform(0, 0.006))
        else:
            price = anchor * (1 - sign * rng.uniform(0.0005, 0.015))
        qty = min(2_000, max(1, int(rng.lognormvariate(math.log(20), 1.0))))
        tif = "ioc" if rng.random() < 0.1 else "gtc"
        origin = rng.choice(trader.origins)
        self.place(trader, symbol, side, self.clip(symbol, price), qty, tif, origin,
                   then=lambda receipt: self.maybe_cancel(trader, receipt))

    def maybe_cancel(self, trader: Trader, receipt: Receipt) -> None:
        rng = self.rng
        if not receipt.ok or receipt.result["status"] != "resting" or rng.random() > 0.45:
            return
        delay = (rng.randrange(1_000, 10_000) if rng.random() < 0.1
                 else rng.randrange(20_000, 1_800_000))
        order_id = receipt.result["order_id"]
        self.at(self.now + delay, lambda: self.cancel(trader, order_id))

    def honest_cash(self) -> None:
        rng = self.rng
        sender, receiver = rng.sample(self.traders, 2)
        amount = int(math.exp(rng.uniform(math.log(10_000), math.log(50_000_000))))
        self.world.send(sender.name, "cash", "transfer", to=receiver.account, amount=amount)

    def disclose(self, symbol: str) -> None:
        digest = codec.sha256(f"{symbol}:{self.now}".encode()).hex()
        self.world.send(SYMBOLS[symbol], "token", "set_document", symbol=symbol,
                        name="report", uri=f"https://example.org/{symbol}/{self.now}",
                        sha256=digest)


def score(market: Market) -> Report:
    honest = {trader.account for trader in market.traders}
    rules = {rule: RuleScore() for rule in RULES}
    examples: list[dict[str, Any]] = []
    alerts = all_alerts(market.world.store)
    for alert in alerts:
        accounts = set(alert["accounts"])
        result = rules[alert["rule"]]
        if accounts & honest:
            result.honest_alerts += 1
            examples.append(alert)
            continue
        matched = [case for case in market.cases
                   if case.rule == alert["rule"] and accounts <= case.accounts]
        for case in matched:
            case.caught += 1
        if not matched:
            result.other_alerts += 1
    for case in market.cases:
        result = rules[case.rule]
        result.planted += 1
        result.caught += case.caught > 0
        result.missed += case.caught == 0
    return Report(market.config.seed, market.honest_orders, market.orders, market.trades,
                  len(alerts), rules, market.cases, examples, market.world.apply_seconds,
                  market.world.surveillance_seconds)
