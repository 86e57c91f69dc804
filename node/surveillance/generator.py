"""The market generator: a seeded market of honest traders and honest look-alikes of
manipulation, and planted manipulations with their ground truth, driven through the real market
contract (node.surveillance.world).

Theory of operation. Time runs over KRX-like sessions (Mon-Fri 09:00-15:30 KST) from a Monday.
Everything that happens is an event on one queue, ordered by (time, sequence); the events of one
second make one block, committed at that second. An event only queues transactions; it decides
from what the chain had committed before its block (the book, the last price) and from what the
generator learnt from earlier receipts (its own order ids). All randomness comes from one
`random.Random(seed)`: a run is reproducible from its seed.

Honest traders (`honest_accounts` of them, each with one or two devices - `origin`s of its own
- a usual order medium and a broker) place `honest_orders` limit orders in the three liquid
tokens, spread over the sessions: side at random, around an anchor that follows the last price
and reverts towards a slowly drifting fair value; about a third marketable, the rest resting up
to 1.5% away (three in ten up to 5%); sizes log-normal (median 20 units); one in ten
immediate-or-cancel; many resting orders cancelled after seconds to half an hour. The issuers
publish routine documents, and once a run each liquid token has real news (a dividend) that
moves its fair value 3-6% either way.
The honest look-alikes of manipulation (node.surveillance.lookalikes) trade among them.

Planted manipulations (node.surveillance.plants: the simple form of each rule S1-S14;
node.surveillance.evasions: the variations of issue 30 that escaped the old rules), each by
accounts of its own: the rule it should trip, its variant and those accounts are its ground
truth. `score` matches alerts to them: a case is caught by an alert of its rule that names only
the case's accounts (S11, which names a token and a day, by an alert on that token and day; a
decoy case only by a version whose evidence holds the transactions after the decoy); an alert
naming an honest account (look-alikes included), or an S11 alert on a token and day no case
touched, is a false alert.
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
from node.surveillance.records import Limits
from node.surveillance.world import MarketWorld

KST_OFFSET_MS = 9 * 3_600_000
DAY_MS = 86_400_000
FIRST_MONDAY_MS = 1_767_571_200_000 - KST_OFFSET_MS  # 2026-01-05 00:00 KST (a Monday)
OPEN_MS, CLOSE_MS = 9 * 3_600_000, 15 * 3_600_000 + 30 * 60_000
SESSION_MS = CLOSE_MS - OPEN_MS
SESSIONS = {"weekly": [{"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00",
                        "close": "15:30"}], "holidays": []}
SYMBOLS = {"APT1": "issuer-1", "BLD2": "issuer-2", "OFC3": "issuer-1"}  # the liquid tokens
THIN = ("THN4", "issuer-2")  # a thin token a handful of honest traders trade
BROKERS = ("broker-a", "broker-b", "broker-c")
MEDIA = ("hts", "mts", "api")  # clients' own devices; staff media: lookalikes.branch
MEDIA_WEIGHTS = (35, 58, 7)
UNIT_PRICE = 10_000
TICK = 10
UNITS_EACH = 50_000
CASH_EACH = 5_000_000_000
ISSUER_CASH = 10**12  # for dividends
MINUTE_MS = 60_000
Span = tuple[int, int]  # [from, to) in ms
RULES = ("S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9", "S10", "S11", "S12", "S13",
         "S14")


@dataclass(frozen=True)
class GeneratorConfig:
    seed: int = 1
    days: int = 3  # trading days, the first `warmup_days` without plants
    warmup_days: int = 1  # a history for the rules that look back (S6, S11, S13)
    honest_accounts: int = 300
    honest_orders: int = 9_000  # in the liquid tokens, over all the days
    plant: tuple[str, ...] = RULES  # plant names (plants.PLANTS, evasions.EVASIONS)
    lookalikes: bool = True  # honest look-alikes of manipulation (node.surveillance.lookalikes)
    surveillance: dict[str, Any] | None = None  # params.surveillance overrides
    limits: Limits | None = None  # surveillance's bounds (tests lower them)
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
    variant: str  # "simple", or the evasion (node.surveillance.evasions)
    symbol: str | None
    names: tuple[str, ...]
    accounts: frozenset[str]
    days: tuple[int, ...] = ()  # trading days it acts on (S11 is caught on the first)
    key_txs: set[str] = field(default_factory=set)  # caught only with one of these
    caught: int = 0

    @property
    def evasive(self) -> bool:
        return self.variant != "simple"


@dataclass
class RuleScore:
    planted: int = 0
    caught: int = 0
    evasive_planted: int = 0
    evasive_caught: int = 0
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
        self.world = MarketWorld(params, session_open(0) - 3_600_000, limits=config.limits)
        self.world.keep_blocks = config.keep_blocks
        self.queue: list[tuple[int, int, Callable[[], None]]] = []
        self.seq = 0
        self.waiting: dict[bytes, Callable[[Receipt], None]] = {}
        self.hooks: list[Callable[[Receipt], None]] = []  # see every receipt
        tokens = [*SYMBOLS, THIN[0]]
        self.last: dict[str, int] = dict.fromkeys(tokens, UNIT_PRICE)
        self.last_day: dict[str, int] = dict.fromkeys(tokens, -1)  # KST day of the last trade
        self.prev_close: dict[str, int] = dict.fromkeys(tokens, UNIT_PRICE)
        self.fair: dict[str, float] = dict.fromkeys(tokens, float(UNIT_PRICE))
        self.open_orders: dict[int, int] = {}  # resting order id -> remaining
        self.traders: list[Trader] = []
        self.honest: set[str] = set()  # honest traders and look-alikes
        self.cumulative: list[float] = []
        self.cases: list[Case] = []
        self.manipulators: set[str] = set()
        self.moving: dict[str, list[Span]] = {symbol: [] for symbol in SYMBOLS}  # when
        # price-moving plants act on each liquid token (UTC ms, `take_time`)
        self.real_news: dict[str, tuple[int, float]] = {}  # token -> (time, jump) of its news
        self.orders = self.honest_orders = self.trades = 0
        self.now = session_open(0)

    # ---- the event queue ---------------------------------------------------------------------

    @property
    def first_day(self) -> int:
        """The first trading day plants act on (the ones before it are the history)."""
        return min(self.config.warmup_days, self.config.days - 1)

    def plant_day(self) -> int:
        return self.rng.randrange(self.first_day, self.config.days)

    def take_slot(self, day: int | None = None, spans: tuple[Span, ...] = ((0, SESSION_MS),)
                  ) -> tuple[str, int]:
        """A token and a day for a plant that moves the price over `spans` of the session
        (from its opening bell), among those other such plants overlap the least
        (`take_time`)."""
        _, symbol, day = self.take_time(spans, day, 0, SESSION_MS - 1)
        return symbol, day

    def take_time(self, spans: tuple[Span, ...], day: int | None = None, earliest_ms: int = 0,
                  room_ms: int = 0, worse: Callable[[str, int], bool] | None = None
                  ) -> tuple[int, str, int]:
        """A start (from `earliest_ms` into a session to `room_ms` before its close), a liquid
        token and a trading day for a plant that moves the price over `spans` (from its
        start; a span may reach into the next day), among those whose spans overlap the ones
        other such plants took the least, ties at random: a pump while another plant pumps or
        dumps the token would measure the other's move (seed 1: S4.slow's ramp took S7.decoy's
        pump for its own rise), and counting plants per token and day let three share one.
        Among those, a start and token `worse` says the plant cannot act on are taken last."""
        days = range(self.first_day, self.config.days) if day is None else (day,)
        second = self.rng.randrange(min(MINUTE_MS, SESSION_MS - room_ms - earliest_ms))
        options = [(session_open(d) + minute, symbol, d) for d in days
                   for symbol in sorted(SYMBOLS)
                   for minute in range(earliest_ms + second, SESSION_MS - room_ms, MINUTE_MS)]
        overlaps = [self.overlap(symbol, start, spans) for start, symbol, _ in options]
        fewest = min(overlaps)
        apart = [option for option, overlap in zip(options, overlaps, strict=True)
                 if overlap == fewest]
        if worse is not None:
            apart = [option for option in apart if not worse(option[1], option[0])] or apart
        start, symbol, day = self.rng.choice(apart)
        self.moving[symbol] += [(start + begin, start + end) for begin, end in spans]
        return start, symbol, day

    def overlap(self, symbol: str, start: int, spans: tuple[Span, ...]) -> int:
        """How long `spans` from `start` overlap what other price-moving plants took."""
        return sum(max(0, min(start + end, taken_end) - max(start + begin, taken_begin))
                   for begin, end in spans for taken_begin, taken_end in self.moving[symbol])

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
        # one block after the last session's close: its close and opening are judged
        self.world.commit(session_open(self.config.days - 1) + SESSION_MS + 60_000)
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

    def best(self, symbol: str) -> tuple[int | None, int | None]:
        """(best bid, best ask) on the book now."""
        book = self.book(symbol, 1)
        return (book["bids"][0]["price"] if book["bids"] else None,
                book["asks"][0]["price"] if book["asks"] else None)

    def inside_price(self, symbol: str) -> int | None:
        """A price strictly between the best bid and the best ask, near the last price."""
        bid, ask = self.best(symbol)
        bid, ask = bid or 0, ask or 1 << 60
        target = self.clip(symbol, self.last[symbol])
        price = min(max(target, bid + TICK), ask - TICK)
        return price if bid < price < ask else None

    # ---- orders ------------------------------------------------------------------------------

    def place(self, trader: Trader, symbol: str, side: str, price: int, qty: int,
              tif: str = "gtc", origin: str | None = None,
              then: Callable[[Receipt], None] | None = None) -> Any:
        tx = self.world.send(trader.broker, "market", "place", symbol=symbol,
                             account=trader.account, side=side, price=price, qty=qty,
                             media=trader.media, origin=origin or trader.origins[0], tif=tif)
        self.orders += 1
        if trader.account not in self.manipulators:
            self.honest_orders += 1
        if then is not None:
            self.on_receipt(tx, then)
        return tx

    def cancel(self, trader: Trader, order_id: int) -> None:
        if self.open_orders.pop(order_id, None) is not None:
            self.world.send(trader.broker, "market", "cancel", order_id=order_id)

    # ---- setting up --------------------------------------------------------------------------

    def setup(self) -> None:
        world, rng = self.world, self.rng
        time = world.genesis_time + 1000
        for symbol, issuer in [*SYMBOLS.items(), THIN]:
            world.create_token(symbol, issuer, UNIT_PRICE, 10**9, time)
        for issuer in sorted(set(SYMBOLS.values())):
            world.send("bank", "cash", "mint", to=world.account(issuer), amount=ISSUER_CASH)
        self.traders = [self.new_trader(f"honest-{i}", rng.lognormvariate(0, 0.5))
                        for i in range(self.config.honest_accounts)]
        world.check(world.commit(time))
        total = 0.0
        for trader in self.traders:
            total += trader.weight
            self.cumulative.append(total)
        self.schedule_honest()

    def new_trader(self, name: str, weight: float = 1.0, manipulator: bool = False,
                   origins: tuple[str, ...] | None = None, media: str | None = None,
                   broker: str | None = None) -> Trader:
        rng, world = self.rng, self.world
        broker = broker or rng.choice(BROKERS)
        world.enrol(name, broker, {**SYMBOLS, THIN[0]: THIN[1]}, UNITS_EACH, CASH_EACH)
        devices = origins or tuple(origin_of(f"{self.config.seed}:{name}:{device}")
                                   for device in range(rng.choice((1, 1, 2))))
        trader = Trader(name, world.account(name), broker, devices,
                        media or rng.choices(MEDIA, MEDIA_WEIGHTS)[0], weight)
        if manipulator:
            self.manipulators.add(trader.account)
        else:
            self.honest.add(trader.account)
        return trader

    def schedule_honest(self) -> None:
        config, rng = self.config, self.rng
        per_session = config.honest_orders // (config.days * len(SYMBOLS))
        for day in range(config.days):
            start = session_open(day)
            for minute in range(0, SESSION_MS, 60_000):
                self.at(start + minute, self.drift)
            for symbol in SYMBOLS:
                for _ in range(per_session):
                    self.at(start + rng.randrange(SESSION_MS - 1000),
                            lambda symbol=symbol: self.honest_order(symbol))  # type: ignore[misc]
                self.at(start + rng.randrange(3_600_000, SESSION_MS - 3_600_000),
                        lambda symbol=symbol: self.disclose(symbol))  # type: ignore[misc]
        for symbol in SYMBOLS:  # real news once a run
            day = rng.randrange(config.days)
            jump = rng.choice((-1, 1)) * rng.uniform(0.03, 0.06)
            time = session_open(day) + rng.randrange(3_600_000, SESSION_MS - 3_600_000)
            self.real_news[symbol] = (time, jump)
            self.at(time, lambda symbol=symbol, jump=jump: self.news(symbol, jump))  # type: ignore[misc]

    def drift(self) -> None:
        for symbol in self.fair:
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
        else:  # resting: most near the price, some deep in the book
            price = anchor * (1 - sign * rng.uniform(0.0005, 0.015 if rng.random() < 0.7
                                                     else 0.05))
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

    def disclose(self, symbol: str, name: str = "report") -> Any:
        digest = codec.sha256(f"{symbol}:{name}:{self.now}".encode()).hex()
        issuer = SYMBOLS.get(symbol, THIN[1])
        return self.world.send(issuer, "token", "set_document", symbol=symbol, name=name,
                               uri=f"https://example.org/{symbol}/{self.now}", sha256=digest)

    def news(self, symbol: str, jump: float) -> Any:
        """Real news: a dividend declared, and the token's fair value moves by `jump`."""
        self.fair[symbol] *= 1 + jump
        return self.world.send(SYMBOLS.get(symbol, THIN[1]), "dividend", "declare",
                               symbol=symbol, total=10_000_000)


def score(market: Market) -> Report:
    honest = market.honest
    rules = {rule: RuleScore() for rule in RULES}
    examples: list[dict[str, Any]] = []
    alerts = all_alerts(market.world.store)
    touched = {(case.symbol, day) for case in market.cases for day in case.days}
    latest: dict[str, dict[str, Any]] = {}
    for alert in alerts:
        matched = [case for case in market.cases if is_caught(case, alert)]
        for case in matched:
            case.caught += 1
        latest[alert["alert_id"]] = dict(alert, matched=bool(matched))
    for alert in latest.values():
        result = rules[alert["rule"]]
        accounts = set(alert["accounts"])
        if accounts & honest or (alert["rule"] == "S11" and (
                alert["symbol"], s11_day(alert)) not in touched) or (
                alert["rule"] == "S6" and not accounts and not touched & {
                    (alert["symbol"], day) for day in trading_days(alert["window"])}):
            result.honest_alerts += 1
            examples.append(alert)
        elif not alert["matched"]:
            result.other_alerts += 1
    for case in market.cases:
        result = rules[case.rule]
        if case.evasive:
            result.evasive_planted += 1
            result.evasive_caught += case.caught > 0
        else:
            result.planted += 1
            result.caught += case.caught > 0
    return Report(market.config.seed, market.honest_orders, market.orders, market.trades,
                  len(latest), rules, market.cases, examples, market.world.apply_seconds,
                  market.world.surveillance_seconds)


def s11_day(alert: dict[str, Any]) -> int:
    """The trading day (0 = the first Monday) of an S11 alert."""
    return trading_day(alert["metrics"]["day"])


def trading_day(kst_day_number: int) -> int:
    """The trading day (0 = the first Monday) of a KST calendar day."""
    days = (kst_day_number * DAY_MS - (FIRST_MONDAY_MS + KST_OFFSET_MS)) // DAY_MS
    week, weekday = divmod(days, 7)
    return int(week * 5 + weekday)


def trading_days(window: dict[str, int]) -> set[int]:
    """The trading days a token-level alert's window covers (an S6 group: the token's top
    owners, a flag of the token like S11's): it is true when a plant acted on the token
    then, false on a token only honest accounts traded."""
    first, last = (kst_day(window[end]) for end in ("from_time", "to_time"))
    return {trading_day(day) for day in range(first, last + 1)}


def is_caught(case: Case, alert: dict[str, Any]) -> bool:
    if alert["rule"] != case.rule:
        return False
    if case.rule == "S11":
        return alert["symbol"] == case.symbol and s11_day(alert) in case.days
    if not set(alert["accounts"]) or not set(alert["accounts"]) <= case.accounts:
        return False
    return not case.key_txs or bool(case.key_txs & set(alert["evidence"]))
