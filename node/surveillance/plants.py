"""Planted manipulations for the market generator: the simple form of each rule S1-S14.

Each `plant_s*` registers accounts of its own (the case's ground truth, node.surveillance.
planting.Kit), schedules what they do on the generator's event queue, and records the case. The
scripts act on what the chain shows when they run (the book, the last price, their receipts),
as a manipulator would:

- S1 wash: two accounts on one device cross with each other inside the spread, three times.
- S2 matched: two accounts on their own devices sell and buy the same size inside the spread
  in the same second, a minute or more apart, back and forth until six such trades went
  through whole.
- S3 spoofing: four bids of eight times the mean size 4-7 ticks under the best bid, a sell into
  the best bid the next second, the bids cancelled two seconds later; twice.
- S4 ramping: immediate-or-cancel buys at least 20 s apart, each taking the asks up to 1% over
  the last price, until six of them have lifted it 3%.
- S5 marking the close: in the last ten minutes of a session, buys at least 20 s apart taking
  the asks up to 1.5% over the last price, until the close (again the next day if the close
  did not move).
- S6 concentration: one account placing ordinary orders in one token in a day, most of them
  marketable, as many as all honest traders place in it over the run.
- S7 pump and dump: buys 45 s apart until its own lifts have the price up 6%, then sales into
  the bids above where the rise began.
- S8 insider: twelve bids just over the last price in the three hours before real news (a
  dividend that moves the token's fair value 5%).
- S9 structuring: four transfers of KRW 9.5-9.99 million to its two other accounts within a
  day.
- S10 shared origin: three accounts placing ordinary orders in one token from one device.
- S11 outlier: on the last day, a false report that the others believe (the fair value 15%
  up) and sweeps every three minutes, until the price is 12% over the previous close.
- S12 pegging: a dividend with its record date two days ahead while sellers come (the fair
  value 7% lower), and two bids of 150 at the best bid of that moment kept there, each
  replaced whenever sellers fill it, until seven fills (at most ninety minutes, and ninety
  more at the best bid of then if fewer); sellers breaking through the level in one block,
  it holds the best bid of then instead.
- S13 order involvement: 150 small bids 3-5% under the market, each cancelled after half a
  minute, over two hours.
- S14 moving the open: five sweeps up 1% each in the first half hour of a session, and up to
  five more while the price is not 3% over the previous close.

The variations that escaped the old rules are in node.surveillance.evasions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from node.ledger.executor import Receipt
from node.surveillance.generator import (
    DAY_MS,
    SESSION_MS,
    SYMBOLS,
    TICK,
    Market,
    Trader,
    session_open,
)
from node.surveillance.planting import HOUR_MS, Kit, Lifts, campaign, cross, retry, sweep

MINUTE_MS = 60_000
PEG_FILLS, PEG_SIZE = 7, 150  # bids at its level that sellers must fill (S12 asks 5 near a date)
PEG_MS = 90 * MINUTE_MS  # how long it holds a level, and once more if sellers left it
PEG_BROKEN = 9_970  # a last price 0.3% under its level: the level is lost (S12 allows 0.2%)


# ---- the plants ------------------------------------------------------------------------------

def plant_s1(market: Market) -> None:
    kit = Kit(market, "S1")
    first, second = traders = kit.traders(2, shared=True)
    start, symbol, day = kit.start()
    kit.record(symbol, traders, (day,))
    for round_ in range(3):
        seller, buyer = (first, second) if round_ % 2 == 0 else (second, first)
        qty = market.rng.randrange(50, 200)
        market.at(start + round_ * 150_000, retry(
            market, lambda s=seller, b=buyer, q=qty: cross(market, symbol, s, b, q) is not None))


MATCH_LEGS = 6  # matched trades an attempt must make, alternating (S2: 4, both ways)
MATCH_SPAN_MS = 50 * MINUTE_MS  # inside S2's hour
MATCH_ATTEMPTS = 4


def matched_legs(market: Market, kit: Kit, traders: list[Trader], sizes: list[tuple[int, int]],
                 gap_ms: int = 0, tif: str = "gtc") -> None:
    """The accounts trade in turn (each leg: traders[i] sells to traders[i+1], around the
    group) at a price inside the spread, each leg's two orders `gap_ms` apart (the buy's
    `tif`), a minute or more between legs, until every leg went through whole."""
    start, symbol, day = kit.start(room_ms=MATCH_ATTEMPTS * HOUR_MS)
    kit.record(symbol, traders, (day,))
    done: list[int] = []  # legs that traded whole
    placed = [0]
    accounts = [t.account for t in traders]

    def learn(receipt: Receipt) -> None:
        for event in receipt.events if receipt.ok else ():
            data = event["data"]
            leg = len(done)
            if leg >= len(sizes) or event["name"] != "Trade" or data["symbol"] != symbol:
                continue
            seller, buyer = accounts[leg % len(accounts)], accounts[(leg + 1) % len(accounts)]
            if (data["seller"], data["buyer"]) == (seller, buyer) and \
                    data["qty"] == min(sizes[leg]):
                done.append(leg)
    market.hooks.append(learn)

    def begin() -> None:
        done.clear()
        placed[0] = 0

    def leg() -> None:
        price = market.inside_price(symbol)
        if price is None or market.now - placed[0] < MINUTE_MS or len(done) >= len(sizes):
            return
        number = len(done)
        seller = traders[number % len(traders)]
        buyer = traders[(number + 1) % len(traders)]
        sell_qty, buy_qty = sizes[number]
        market.place(seller, symbol, "sell", price, sell_qty)
        if gap_ms:
            market.at(market.now + gap_ms, lambda: market.place(buyer, symbol, "buy", price,
                                                                buy_qty, tif))
        else:
            market.place(buyer, symbol, "buy", price, buy_qty, tif)
        placed[0] = market.now

    campaign(market, start, MATCH_SPAN_MS, MATCH_ATTEMPTS, begin, leg,
             lambda: len(done) >= len(sizes))


def plant_s2(market: Market) -> None:
    kit = Kit(market, "S2")
    sizes = [(qty, qty) for qty in (market.rng.randrange(100, 300) for _ in range(MATCH_LEGS))]
    matched_legs(market, kit, kit.traders(2), sizes)


def layer(market: Market, spoofer: Trader, symbol: str, seller: Trader | None = None
          ) -> bool:
    """Four bids of eight times the mean size 4-7 ticks under the best bid, a sale into the
    best bid (by `seller`, the spoofer itself by default) the next second, the bids cancelled
    two seconds later."""
    bids = market.book(symbol, 1)["bids"]
    if not bids:
        return False
    best = bids[0]["price"]
    size = 8 * max(1, market.world.surveillance.orders.mean_qty(symbol)) + 1
    placed: list[int] = []

    def remember(receipt: Receipt) -> None:
        if receipt.ok and receipt.result["status"] == "resting":
            placed.append(receipt.result["order_id"])
    for level in range(4):
        market.place(spoofer, symbol, "buy", best - (4 + level) * TICK, size, then=remember)
    market.at(market.now + 1_000, lambda: market.place(seller or spoofer, symbol, "sell", best,
                                                       market.rng.randrange(20, 60), "ioc"))

    def withdraw() -> None:
        for order_id in placed:
            market.cancel(spoofer, order_id)
    market.at(market.now + 3_000, withdraw)
    return True


def plant_s3(market: Market) -> None:
    kit = Kit(market, "S3")
    (spoofer,) = traders = kit.traders(1)
    start, symbol, day = kit.start()
    kit.record(symbol, traders, (day,))
    for cycle in range(2):
        market.at(start + cycle * 90_000, retry(market, lambda: layer(market, spoofer, symbol)))


RAMP_MS = 9 * MINUTE_MS
RAMP_BUYS, RAMP_RISE_BPS = 6, 300  # what an attempt must reach (S4: 5 buys, 2%)
RAMP_ATTEMPTS = 4
# What price-moving plants take of a token's time (Market.take_time), from their start: no
# other moves the token while their rule measures their move.
RAMP_MOVES = ((0, 2 * HOUR_MS),)  # its first two attempts (S4 judges an hour)
PUMP_MOVES = ((0, 2 * HOUR_MS),)  # the buys (minutes) and the sales, most of them within
# the first hour and a half of the three hours it sells (seeds 1, 3, 13)
# From the bell: S5's closing half hour, the next opening half hour (S14 measures from the
# close), and the next day's close (marked again if the price fell back); S14's opening half
# hour, the close before it (its base), and the next close and opening (it pushes again if
# the asks never let it). Seed 13: S14.sweep opened from a close S5.sweep had marked.
CLOSE = (SESSION_MS - 30 * MINUTE_MS, SESSION_MS)
CLOSE_MOVES = (CLOSE, (DAY_MS, DAY_MS + 30 * MINUTE_MS), (DAY_MS + CLOSE[0], DAY_MS + CLOSE[1]))
OPEN_MOVES = ((CLOSE[0] - DAY_MS, CLOSE[1] - DAY_MS), (0, 30 * MINUTE_MS), CLOSE,
              (DAY_MS, DAY_MS + 30 * MINUTE_MS))
NEWS_LEAD_MS = 3 * HOUR_MS + 300_000  # from the first bid to the news


def news_moves(lead_ms: int) -> tuple[tuple[int, int], ...]:
    """The news `lead_ms` after the first bid and the next hour and a half: S8 judges the
    price's move after it."""
    return ((lead_ms - 10 * MINUTE_MS, lead_ms + 90 * MINUTE_MS),)


def ramp(market: Market, kit: Kit, traders: list[Trader], every_ms: int = 20_000,
         span_ms: int = RAMP_MS, origin: str | None = None) -> None:
    """Aggressive buys at least `every_ms` apart, taking the asks up to 1% over the last price,
    by the traders in turn, until six have lifted the price 3%."""
    start, symbol, day = kit.start(room_ms=RAMP_ATTEMPTS * HOUR_MS, moves=RAMP_MOVES)
    kit.record(symbol, traders, (day,))
    lifts = Lifts(market, traders, symbol)
    bought = [0, 0]  # when the last lift was placed, and how many

    def begin() -> None:
        lifts.begin()
        bought[0] = 0

    def lift() -> None:
        trader = traders[bought[1] % len(traders)]
        if market.now - bought[0] >= every_ms and sweep(market, trader, symbol, 100,
                                                        origin=origin):
            bought[:] = [market.now, bought[1] + 1]

    campaign(market, start, span_ms, RAMP_ATTEMPTS, begin, lift,
             lambda: lifts.reached(RAMP_BUYS, RAMP_RISE_BPS))


def plant_s4(market: Market) -> None:
    kit = Kit(market, "S4")
    ramp(market, kit, kit.traders(1))


CLOSING_MS = 10 * MINUTE_MS  # the marker's last ten minutes


def mark_close(market: Market, marker: Trader, symbol: str, day: int, before_ms: int,
               every_ms: int = 20_000, up_bps: int = 150, once: bool = False,
               stop_ms: int = 1_000, reach_bps: int = 0) -> None:
    """From `before_ms` before the close of `day` until `stop_ms` before it, sweeps at least
    `every_ms` apart up to `up_bps` over the last price, each once the asks reach `reach_bps`
    over it (one sweep if `once`, carried through to its limit by as many orders as the fill
    cap asks); again the next day if the price did not rise 3% from before the first."""
    close = session_open(day) + SESSION_MS
    base: list[int] = []
    bought = [0]

    def step() -> None:
        if market.now >= close - stop_ms or (once and bought[0]):
            market.at(close, judge)
            return
        if market.now - bought[0] >= every_ms and sweep(market, marker, symbol, up_bps,
                                                        min_reach_bps=reach_bps, through=once):
            if not base:
                base.append(market.last[symbol])
            bought[0] = market.now
        market.at(market.now + 2_000, step)

    def judge() -> None:
        risen = base and market.last[symbol] * 10_000 >= base[0] * 10_300
        if not risen and day + 1 < market.config.days:
            mark_close(market, marker, symbol, day + 1, before_ms, every_ms, up_bps, once,
                       stop_ms, reach_bps)
    market.at(close - before_ms, step)


def plant_s5(market: Market) -> None:
    kit = Kit(market, "S5")
    (marker,) = traders = kit.traders(1)
    symbol, day = market.take_slot(spans=CLOSE_MOVES)
    kit.record(symbol, traders, tuple(range(day, market.config.days)))
    mark_close(market, marker, symbol, day, CLOSING_MS - 30_000)


def heavy_day(market: Market, traders: list[Trader], symbol: str, day: int) -> None:
    """As many orders in a day as all honest traders place in the token over the run, most of
    them marketable, by the traders in turn."""
    rng = market.rng
    for number in range(max(1_500, market.config.honest_orders // len(SYMBOLS))):
        trader = traders[number % len(traders)]
        market.at(session_open(day) + rng.randrange(SESSION_MS - 1_000),
                  lambda t=trader: market.honest_order(symbol, t, marketable=0.6))


def plant_s6(market: Market) -> None:
    kit = Kit(market, "S6")
    traders = kit.traders(1)
    symbol, day = market.take_slot()
    kit.record(symbol, traders, (day,))
    heavy_day(market, traders, symbol, day)


PUMP_BUYS, PUMP_PEAK_PCT = 6, 106  # then the pump stops buying (S7: up 5%)


class Pump:
    """Buys every 45 s (sweeping the asks up 2%, or a bid 1% over the last when none is above
    it) until `buys` have traded and the price is 6% up, by its own buys (S7 judges both the
    rise to the peak up to the owner's last rising buy and the steps of its own buys over the
    last price, at most the rise: honest buyers chasing a 5% pump to 6% left seed 20's
    S7.linked a pump of 4.93% of its own; honest sellers between its buys left seed 20's
    S7.decoy 6% of steps but a rise of 4.53%), then sales every 15 s into the bids within 1% of
    the best for three hours, as far down as the average sale stays above where the rise
    began, by `dumper`."""

    def __init__(self, market: Market, pumper: Trader, dumper: Trader, symbol: str,
                 buys: int = PUMP_BUYS, sweep_bps: int = 200, dump_after_ms: int = 0) -> None:
        self.market, self.pumper, self.dumper, self.symbol = market, pumper, dumper, symbol
        self.buys_needed, self.sweep_bps = buys, sweep_bps
        self.dump_after_ms = dump_after_ms  # from the last buy to the first sale
        self.held = 0
        self.last = 0
        self.base = 0
        self.buys: set[int] = set()
        self.high = 0  # the highest trade since its first buy
        self.peak = 0  # the highest up to its last rising buy (S7's span ends there)
        self.pushed = 0  # the steps of the pumper's buys over the last price
        self.sold = [0, 0]
        self.bids: list[int] = []
        market.hooks.append(self.learn)

    def learn(self, receipt: Receipt) -> None:
        owner = {self.pumper.account, self.dumper.account}
        for event in receipt.events if receipt.ok else ():
            data = event["data"]
            if event["name"] != "Trade" or data["symbol"] != self.symbol:
                continue
            step = data["price"] - (self.last or data["price"])
            if data["buyer"] == self.pumper.account:
                self.base = self.base or self.last or data["price"]
                self.buys.add(data["buy_order"])
                self.pushed += max(0, step)
            if data["buyer"] in owner:
                self.held += data["qty"]
            if data["seller"] in owner:
                self.held -= data["qty"]
                self.sold = [self.sold[0] + data["qty"],
                             self.sold[1] + data["qty"] * data["price"]]
            if self.base:
                self.high = max(self.high, data["price"])
            if data["buyer"] == self.pumper.account and step > 0:
                self.peak = self.high
            self.last = data["price"]

    def remember(self, receipt: Receipt) -> None:
        if receipt.ok and receipt.result["status"] == "resting":
            self.bids.append(receipt.result["order_id"])

    def pumped(self) -> bool:
        """Whether `buys` orders have traded and the price is 6% up, as far as their own steps
        over the last price reach (S7's pushed_bps: the smaller of the two)."""
        return (len(self.buys) >= self.buys_needed and (self.base + min(
            self.peak - self.base, self.pushed)) * 100 >= self.base * PUMP_PEAK_PCT)

    def pump(self, step: int = 0) -> None:
        market, symbol = self.market, self.symbol
        for order_id in self.bids:  # left resting they would buy from the dump's buyers
            market.cancel(self.pumper, order_id)
        self.bids.clear()
        if step == 40 or self.pumped():
            if self.dump_after_ms:
                market.at(market.now + self.dump_after_ms, lambda: self.dump(720))
            else:
                self.dump(720)
            return
        if not sweep(market, self.pumper, symbol, self.sweep_bps):
            price = market.clip(symbol, market.last[symbol] * 1.01)
            market.place(self.pumper, symbol, "buy", price, 150, then=self.remember)
        market.at(market.now + 45_000, lambda: self.pump(step + 1))

    def dump(self, left: int) -> None:
        market = self.market
        levels = market.book(self.symbol)["bids"]
        qty, value, floor = self.sold[0], self.sold[1], 0
        for level in levels if self.base and self.held > 0 else ():
            price = level["price"]
            if (price * 100 < levels[0]["price"] * 99 or qty - self.sold[0] >= self.held
                    or value + price * level["qty"] <= (self.base + TICK) * (qty + level["qty"])):
                break
            qty, value, floor = qty + level["qty"], value + price * level["qty"], price
        if floor:
            market.place(self.dumper, self.symbol, "sell", floor,
                         min(self.held, qty - self.sold[0]), "ioc")
        if left > 1:
            market.at(market.now + 15_000, lambda: self.dump(left - 1))


def plant_s7(market: Market) -> None:
    kit = Kit(market, "S7")
    (pumper,) = traders = kit.traders(1)
    start, symbol, day = kit.start(room_ms=3 * HOUR_MS + 1_800_000, moves=PUMP_MOVES)
    kit.record(symbol, traders, (day,))
    market.at(start, Pump(market, pumper, pumper, symbol).pump)


NEWS_ROOM_MS = 5 * HOUR_MS + 30 * MINUTE_MS  # three hours of buying, two for the news to move it


def good_news(market: Market, symbol: str, jump: float = 0.05) -> Any:
    """News worth `jump` over the price the token trades at: material information moves a
    price when it becomes known (PROTOCOL "Material information"). The fair value is first
    raised to the last price when it was under it: where another plant's sellers or pegging,
    or the honest market's own bad news, had left the fair value 7-14% under the price (seeds
    12, 17, 19: the news 5% over that fair value was still under the price, which fell after
    it), news worth 5% over the fair value was no good news to the market, and the plant then
    planted no insider timing at all."""
    market.fair[symbol] = max(market.fair[symbol], float(market.last[symbol]))
    return market.news(symbol, jump)


def buy_before_news(market: Market, buyer: Trader, symbol: str, start: int, lead_ms: int,
                    news: Callable[[], Any], step_ms: int = 15 * MINUTE_MS) -> None:
    """Twelve bids of 700 just over the last price from `start`, `step_ms` apart; the news
    `lead_ms` after the first."""
    for step in range(12):
        market.at(start + step * step_ms,
                  lambda: market.place(buyer, symbol, "buy",
                                       market.clip(symbol, market.last[symbol] * 1.003), 700))
    market.at(start + lead_ms, news)


def plant_s8(market: Market) -> None:
    kit = Kit(market, "S8")
    (buyer,) = traders = kit.traders(1)
    # On the first plant day, so the news has its day before the run ends (seed 8: on the
    # last day, three hours were left, and the price had moved 1%).
    start, symbol, day = kit.start(earliest_ms=30 * MINUTE_MS, room_ms=NEWS_ROOM_MS,
                                   moves=news_moves(NEWS_LEAD_MS), day=market.first_day)
    kit.record(symbol, traders, (day,))
    buy_before_news(market, buyer, symbol, start, NEWS_LEAD_MS,
                    lambda: good_news(market, symbol))


def transfer(market: Market, sender: Trader, receiver: str, amount: int) -> Any:
    return market.world.send(sender.name, "cash", "transfer", to=receiver, amount=amount)


def plant_s9(market: Market) -> None:
    kit = Kit(market, "S9")
    structurer, *nominees = traders = kit.traders(3)
    start, _, day = kit.start()
    kit.record(None, traders, (day,))
    rng = market.rng
    for step in range(4):
        receiver = rng.choice(nominees).account
        amount = rng.randrange(9_500_000, 9_990_000)
        market.at(start + step * 5 * HOUR_MS,
                  lambda r=receiver, a=amount: transfer(market, structurer, r, a))


def plant_s10(market: Market) -> None:
    kit = Kit(market, "S10")
    traders = kit.traders(3, shared=True)
    start, symbol, day = kit.start(room_ms=2 * HOUR_MS)
    kit.record(symbol, traders, (day,))
    rng = market.rng
    for trader in traders:
        for _ in range(3):
            market.at(start + rng.randrange(2 * HOUR_MS),
                      lambda t=trader: market.honest_order(symbol, t))


def plant_s11(market: Market) -> None:
    kit = Kit(market, "S11")
    (pusher,) = traders = kit.traders(1)
    symbol, day = market.take_slot(market.config.days - 1)  # the whole day
    kit.record(symbol, traders, (day,))

    def rumour() -> None:  # a false report (허위 보도자료): the others believe it
        market.fair[symbol] *= 1.15
        push()

    def push() -> None:
        if market.last[symbol] * 100 >= market.prev_close[symbol] * 112:
            return
        sweep(market, pusher, symbol, 300)
        if market.now < session_open(day) + SESSION_MS - 10 * MINUTE_MS:
            market.at(market.now + 3 * MINUTE_MS, push)
    market.at(session_open(day) + 20 * MINUTE_MS, rumour)


def plant_s12(market: Market) -> None:
    kit = Kit(market, "S12")
    (pegger,) = traders = kit.traders(1)
    start, symbol, day = kit.start(room_ms=2 * HOUR_MS, moves=((0, 2 * HOUR_MS),))
    kit.record(symbol, traders, (day,))
    fills: set[int] = set()
    resting: list[int] = []
    level: list[int] = []  # the price it holds, the best bid when it began

    def learn(receipt: Receipt) -> None:
        for event in receipt.events if receipt.ok else ():
            data = event["data"]
            if event["name"] == "Trade" and data["buy_order"] in resting:
                fills.add(data["buy_order"])
            elif event["name"] == "OrderCancelled" and data["order_id"] in resting:
                resting.remove(data["order_id"])
        if receipt.ok and isinstance(receipt.result, dict) and \
                receipt.result.get("order_id") in resting and \
                receipt.result.get("status") == "filled":
            resting.remove(receipt.result["order_id"])
    market.hooks.append(learn)

    def remember(receipt: Receipt) -> None:
        if receipt.ok and receipt.result["status"] == "resting":
            resting.append(receipt.result["order_id"])

    def hold(until: int, again: int = 1) -> None:
        resting[:] = [i for i in resting if i in market.open_orders]
        if len(fills) >= PEG_FILLS or market.now >= until:
            for order_id in resting:
                market.cancel(pegger, order_id)
            if len(fills) < PEG_FILLS and again:  # sellers left its level: it holds afresh
                level.clear()
                fills.clear()
                market.at(market.now + 2_000, lambda: hold(market.now + PEG_MS, again - 1))
            return
        if level and not resting and market.last[symbol] * 10_000 < level[0] * PEG_BROKEN:
            level.clear()  # sellers broke through its level in one block: it holds a new one
            fills.clear()
        if not level:
            bid, _ = market.best(symbol)
            if bid is not None:
                level.append(bid)
        _, ask = market.best(symbol)
        if level and len(resting) < 2 and (ask is None or ask > level[0]):  # bids, not lifts
            market.place(pegger, symbol, "buy", level[0], PEG_SIZE, then=remember)
        market.at(market.now + 2_000, lambda: hold(until, again))

    issuer = SYMBOLS[symbol]

    def declare() -> None:  # a dividend, its record date two days ahead; sellers come
        market.world.send(issuer, "dividend", "declare", symbol=symbol, total=10_000_000,
                          record_time=market.now + 2 * 86_400_000)
        market.fair[symbol] *= 0.93
    market.at(start, declare)
    market.at(start + MINUTE_MS, lambda: hold(market.now + PEG_MS))


def plant_s13(market: Market) -> None:
    kit = Kit(market, "S13")
    (chatter,) = traders = kit.traders(1)
    start, symbol, day = kit.start(room_ms=2 * HOUR_MS)
    kit.record(symbol, traders, (day,))
    rng = market.rng

    def withdraw_later(receipt: Receipt) -> None:
        if receipt.ok and receipt.result["status"] == "resting":
            order_id = receipt.result["order_id"]
            market.at(market.now + 30_000, lambda: market.cancel(chatter, order_id))

    def bid() -> None:
        price = market.clip(symbol, market.last[symbol] * (1 - rng.uniform(0.03, 0.05)))
        market.place(chatter, symbol, "buy", price, rng.randrange(1, 10), then=withdraw_later)
    for number in range(150):
        market.at(start + number * 45_000, bid)


def open_push(market: Market, opener: Trader, symbol: str, day: int, up_bps: int,
              sweeps: int, min_qty: int, reach_bps: int = 0, start_ms: int = 2 * MINUTE_MS,
              span_ms: int = 25 * MINUTE_MS, at_most: int | None = None) -> list[int]:
    """From `start_ms` into a session for `span_ms`, sweeps a minute or more apart taking the
    asks up to `up_bps` over the last price once at least `min_qty` is there reaching
    `reach_bps` over it (the book is empty at the bell), each carried through to its limit by
    as many orders as the fill cap asks, until `sweeps` have traded and the price is 3% over
    the previous close (more sweeps, up to `at_most`, while it is not: sellers may undo them).
    Returns [sweeps placed, when the last was]."""
    done = [0, 0]  # sweeps placed, when the last was
    most = sweeps if at_most is None else at_most

    def moved() -> bool:
        return market.last[symbol] * 100 >= market.prev_close[symbol] * 103

    def act() -> None:
        wanted = done[0] < sweeps or (done[0] < most and not moved())
        if wanted and market.now - done[1] >= MINUTE_MS and \
                sweep(market, opener, symbol, up_bps, min_qty, min_reach_bps=reach_bps,
                      through=True):
            done[:] = [done[0] + 1, market.now]

    campaign(market, session_open(day) + start_ms, span_ms, 1, lambda: None, act,
             lambda: done[0] >= sweeps and moved())
    return done


def plant_s14(market: Market) -> None:
    kit = Kit(market, "S14")
    (opener,) = traders = kit.traders(1)
    symbol, day = market.take_slot(spans=OPEN_MOVES)
    kit.record(symbol, traders, (day,))
    open_push(market, opener, symbol, day, 100, 5, 20, at_most=10)


PLANTS: dict[str, Callable[[Market], Any]] = {
    "S1": plant_s1, "S2": plant_s2, "S3": plant_s3, "S4": plant_s4, "S5": plant_s5,
    "S6": plant_s6, "S7": plant_s7, "S8": plant_s8, "S9": plant_s9, "S10": plant_s10,
    "S11": plant_s11, "S12": plant_s12, "S13": plant_s13, "S14": plant_s14}
