"""Evasive plants: each variation of issue 30 that escaped the old rules, as a manipulator
would try it first (the case's variant names it; `EVASIONS` maps "S1.25h" and the like to
its plant).

- S1: a device shared 25 hours before the wash (`25h`), linked only through a third account
  (`transitive`), by a cash transfer (`transfer`), by a recovered key (`recover`); a 1-unit
  decoy wash before a 3,000-unit one (`decoy`: caught only by an alert showing the big one);
  the pair linked by a payment, then the payee paying nine others to make itself a "hub"
  (`hub`), or by a shared device, then 64 orders from fresh origins to push the device out
  of what the graph keeps (`flush`): the owner graph driven by counts the attacker controls.
- S2: sizes off by one (`off_by_one`), a ring of three (`ring`), orders 6 s apart (`6s`).
- S3: the layer in one account and the sale in a linked one (`linked`), the sale one block
  after the layer is gone (`after`), the layer removed by a self-trade (`self_trade`), one
  spoof order every 35 s (`slow`).
- S4: the ramp split across two accounts on one device (`split`), one lift every 3 minutes
  (`slow`).
- S5: one order sweeping the asks 2 minutes before the close (`sweep`), the close set 12
  minutes before the end (`early`).
- S6: the concentration split across two accounts on one device (`linked`).
- S7: the pump in one account and the dump in a linked one (`linked`), the pump in four
  sweeping orders (`four_sweeps`), the dump 25 hours after the pump (`25h`, at the end).
- S8: buying 25 hours before the news (`25h`), an insider trading before a cap approval, a
  halt, a forced transfer or a freeze of itself (`insider`), an insider's nominee account
  (`nominee`).
- S9: each day's total split in two (`split`), the collector of a fan-in (`fan_in`),
  withdrawals (`withdrawals`), more structuring after an alert (`decoy`), halves to two
  nominees passed over the threshold by a small transfer (`padded`, at the end).
- S14: the open moved by one sweeping order (`sweep`).
- S1 again: a 1-unit decoy, then a wash every half hour over days (`afresh`: an episode
  that never goes quiet must still show the last wash).
- Shapes (node.surveillance.shapes_plants, at the end): `S2.ioc`, `S3.split`, `S14.passive`,
  `S11.few`, `S13.far`; then `S7.decoy`: `25h` with two one-unit lifts just before the dump.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from node.surveillance.generator import (
    DAY_MS,
    SESSION_MS,
    SYMBOLS,
    TICK,
    Market,
    Trader,
    session_open,
)
from node.surveillance.planting import HOUR_MS, Kit, cross, retry
from node.surveillance.plants import (
    CLOSE_MOVES,
    MINUTE_MS,
    NEWS_LEAD_MS,
    NEWS_ROOM_MS,
    OPEN_MOVES,
    PUMP_MOVES,
    Pump,
    buy_before_news,
    good_news,
    heavy_day,
    layer,
    mark_close,
    matched_legs,
    news_moves,
    open_push,
    ramp,
    transfer,
)
from node.surveillance.shapes_plants import SHAPES, DecoyPump, s7_25h


def share_device(market: Market, traders: list[Trader], device: str, start: int,
                 gap_ms: int = 0) -> None:
    """Each trader places a small bid 3% under the market from `device`, `gap_ms` apart."""
    symbol = sorted(SYMBOLS)[0]
    for number, trader in enumerate(traders):
        market.at(start + number * gap_ms, lambda t=trader: market.place(
            t, symbol, "buy", market.clip(symbol, market.last[symbol] * 0.97), 1,
            origin=device))


def washes(market: Market, first: Trader, second: Trader, symbol: str, start: int,
           rounds: int = 3) -> None:
    """`first` and `second` trade with each other, each from its own device."""
    for round_ in range(rounds):
        seller, buyer = (first, second) if round_ % 2 == 0 else (second, first)
        qty = market.rng.randrange(50, 200)
        market.at(start + round_ * 150_000, retry(
            market, lambda s=seller, b=buyer, q=qty: cross(market, symbol, s, b, q) is not None))


# ---- S1 --------------------------------------------------------------------------------------

def s1_25h(market: Market) -> None:
    kit = Kit(market, "S1", "25h")
    first, second = traders = kit.traders(2)
    start, symbol, _ = kit.start(day=market.first_day, room_ms=5 * HOUR_MS)
    kit.record(symbol, traders, (market.first_day, market.first_day + 1))
    share_device(market, traders, kit.device("laptop"), start, gap_ms=25 * HOUR_MS)
    washes(market, first, second, symbol, start + 25 * HOUR_MS + 10 * MINUTE_MS)


def s1_transitive(market: Market) -> None:
    kit = Kit(market, "S1", "transitive")
    first, middle, second = traders = kit.traders(3)
    start, symbol, day = kit.start()
    kit.record(symbol, traders, (day,))
    share_device(market, [first, middle], kit.device("laptop"), start)
    share_device(market, [middle, second], kit.device("phone"), start + MINUTE_MS)
    washes(market, first, second, symbol, start + 10 * MINUTE_MS)


def s1_transfer(market: Market) -> None:
    kit = Kit(market, "S1", "transfer")
    first, second = traders = kit.traders(2)
    start, symbol, day = kit.start()
    kit.record(symbol, traders, (day,))
    market.at(start, lambda: transfer(market, first, second.account, 3_000_000))
    washes(market, first, second, symbol, start + 10 * MINUTE_MS)


def s1_recover(market: Market) -> None:
    kit = Kit(market, "S1", "recover")
    first, second = traders = kit.traders(2)
    start, symbol, day = kit.start()
    kit.record(symbol, traders, (day,))
    share_device(market, traders, kit.device("laptop"), start)
    name = f"{first.name}-recovered"
    account = market.world.add_investor(name)
    renewed = Trader(name, account, first.broker, (kit.device("new-phone"),), first.media, 1.0)
    market.manipulators.add(account)
    kit.add([renewed])
    market.at(start + 5 * MINUTE_MS, lambda: market.world.send(
        "ksd", "token", "recover", old=first.account, new=account, reason="lost phone"))
    washes(market, renewed, second, symbol, start + 10 * MINUTE_MS)


def s1_decoy(market: Market) -> None:
    kit = Kit(market, "S1", "decoy")
    first, second = traders = kit.traders(2, shared=True)
    start, symbol, day = kit.start()
    case = kit.record(symbol, traders, (day,))
    market.at(start, retry(market, lambda: cross(market, symbol, first, second, 1) is not None))

    def big() -> bool:
        placed = cross(market, symbol, second, first, 3_000)
        if placed is None:
            return False
        case.key_txs |= {tx.tx_id.hex() for tx in placed}  # type: ignore[attr-defined]
        return True
    market.at(start + 10 * MINUTE_MS, retry(market, big))


# ---- S2 --------------------------------------------------------------------------------------

def s2_off_by_one(market: Market) -> None:
    kit = Kit(market, "S2", "off_by_one")
    sizes = [(qty, qty + 1) for qty in (market.rng.randrange(100, 300) for _ in range(6))]
    matched_legs(market, kit, kit.traders(2), sizes)


def s2_ring(market: Market) -> None:
    kit = Kit(market, "S2", "ring")
    qty = market.rng.randrange(100, 300)
    matched_legs(market, kit, kit.traders(3), [(qty, qty)] * 6)


def s2_6s(market: Market) -> None:
    kit = Kit(market, "S2", "6s")
    sizes = [(qty, qty) for qty in (market.rng.randrange(100, 300) for _ in range(6))]
    matched_legs(market, kit, kit.traders(2), sizes, gap_ms=6_000)


# ---- S3 --------------------------------------------------------------------------------------

def s3_linked(market: Market) -> None:
    kit = Kit(market, "S3", "linked")
    spoofer, seller = traders = kit.traders(2)
    start, symbol, day = kit.start()
    kit.record(symbol, traders, (day,))
    share_device(market, traders, kit.device("tablet"), start - 5 * MINUTE_MS)
    for cycle in range(2):
        market.at(start + cycle * 90_000,
                  retry(market, lambda: layer(market, spoofer, symbol, seller)))


def bids_then(market: Market, spoofer: Trader, symbol: str,
              then: Callable[[int, list[int]], None]) -> bool:
    """Three bids of eight times the mean size 4-6 ticks under the best bid; `then(best,
    order ids)` once they rest."""
    bids = market.book(symbol, 1)["bids"]
    if not bids:
        return False
    best = bids[0]["price"]
    size = 8 * max(1, market.world.surveillance.orders.mean_qty(symbol)) + 1
    placed: list[int] = []

    def remember(receipt: Any) -> None:
        if receipt.ok and receipt.result["status"] == "resting":
            placed.append(receipt.result["order_id"])
        if len(placed) == 3:
            then(best, placed)
    for level in range(3):
        market.place(spoofer, symbol, "buy", best - (4 + level) * TICK, size, then=remember)
    return True


def s3_after(market: Market) -> None:
    kit = Kit(market, "S3", "after")
    (spoofer,) = traders = kit.traders(1)
    start, symbol, day = kit.start()
    kit.record(symbol, traders, (day,))

    def sell() -> bool:  # into the best bid of that moment
        bid, _ = market.best(symbol)
        if bid is None:
            return False
        market.place(spoofer, symbol, "sell", bid, 30, "ioc")
        return True

    def then(best: int, placed: list[int]) -> None:
        del best
        market.at(market.now + 2_000, lambda: [market.cancel(spoofer, i) for i in placed])
        market.at(market.now + 3_000, retry(market, sell, tries=10))
    market.at(start, retry(market, lambda: bids_then(market, spoofer, symbol, then)))


def s3_self_trade(market: Market) -> None:
    kit = Kit(market, "S3", "self_trade")
    (spoofer,) = traders = kit.traders(1)
    start, symbol, day = kit.start()
    kit.record(symbol, traders, (day,))

    def then(best: int, placed: list[int]) -> None:
        def sweep_own() -> None:  # sells into the best bids, then through its own layer
            bids = market.book(symbol, 10)["bids"]
            ahead = sum(level["qty"] for level in bids if level["price"] > best - 4 * TICK)
            market.place(spoofer, symbol, "sell", best - 6 * TICK,
                         ahead + 3 * (8 * max(1, market.world.surveillance.orders.mean_qty(
                             symbol)) + 1), "ioc")
        market.at(market.now + 2_000, sweep_own)
    market.at(start, retry(market, lambda: bids_then(market, spoofer, symbol, then)))


def s3_slow(market: Market) -> None:
    kit = Kit(market, "S3", "slow")
    (spoofer,) = traders = kit.traders(1)
    start, symbol, day = kit.start()
    kit.record(symbol, traders, (day,))

    def one(number: int) -> bool:
        bids = market.book(symbol, 1)["bids"]
        if not bids:
            return False
        best = bids[0]["price"]
        size = 8 * max(1, market.world.surveillance.orders.mean_qty(symbol)) + 1

        def withdraw(receipt: Any) -> None:
            if receipt.ok and receipt.result["status"] == "resting":
                order_id = receipt.result["order_id"]
                market.at(market.now + 3_000, lambda: market.cancel(spoofer, order_id))
        market.place(spoofer, symbol, "buy", best - (4 + number) * TICK, size, then=withdraw)
        if number == 1:
            market.at(market.now + 1_000, lambda: market.place(spoofer, symbol, "sell", best,
                                                               30, "ioc"))
        return True
    for number in range(4):
        market.at(start + number * 35_000, retry(market, lambda n=number: one(n)))


# ---- S4, S5, S6, S7 --------------------------------------------------------------------------

def s4_split(market: Market) -> None:
    kit = Kit(market, "S4", "split")
    traders = kit.traders(2)
    ramp(market, kit, traders, origin=kit.device("desk"))


def s4_slow(market: Market) -> None:
    kit = Kit(market, "S4", "slow")
    ramp(market, kit, kit.traders(1), every_ms=3 * MINUTE_MS, span_ms=50 * MINUTE_MS)


def s5_sweep(market: Market) -> None:
    kit = Kit(market, "S5", "sweep")
    (marker,) = traders = kit.traders(1)
    symbol, day = market.take_slot(market.first_day, CLOSE_MOVES)
    kit.record(symbol, traders, tuple(range(day, market.config.days)))
    # Two minutes before the close: a sweep 28 minutes (seed 3) or even 5 minutes (seed 8)
    # early was undone by honest sellers before the close, so it did not mark the close. On
    # the first plant day, so that a day whose asks never reached 2.2% over the last in those
    # two minutes (seed 1: no sweep at all on the last day) leaves it the next.
    mark_close(market, marker, symbol, day, 2 * MINUTE_MS, up_bps=400, once=True,
               reach_bps=220)


def s5_early(market: Market) -> None:
    kit = Kit(market, "S5", "early")
    (marker,) = traders = kit.traders(1)
    # On the first plant day, as S5.sweep: honest sellers undid the close of the last day,
    # with no day left to mark again (seed 8: up 1.8% at the close, 4.5% before it)
    symbol, day = market.take_slot(market.first_day, CLOSE_MOVES)
    kit.record(symbol, traders, tuple(range(day, market.config.days)))
    mark_close(market, marker, symbol, day, 20 * MINUTE_MS, stop_ms=12 * MINUTE_MS)


def s6_linked(market: Market) -> None:
    kit = Kit(market, "S6", "linked")
    traders = kit.traders(2, shared=True)
    symbol, day = market.take_slot()
    kit.record(symbol, traders, (day,))
    heavy_day(market, traders, symbol, day)


def s7_linked(market: Market) -> None:
    kit = Kit(market, "S7", "linked")
    pumper, dumper = traders = kit.traders(2)
    start, symbol, day = kit.start(room_ms=3 * HOUR_MS + 1_800_000, moves=PUMP_MOVES)
    kit.record(symbol, traders, (day,))
    share_device(market, traders, kit.device("tablet"), start - 5 * MINUTE_MS)
    market.at(start, Pump(market, pumper, dumper, symbol).pump)


def s7_four_sweeps(market: Market) -> None:
    kit = Kit(market, "S7", "four_sweeps")
    (pumper,) = traders = kit.traders(1)
    start, symbol, day = kit.start(room_ms=3 * HOUR_MS + 1_800_000, moves=PUMP_MOVES)
    kit.record(symbol, traders, (day,))
    market.at(start, Pump(market, pumper, pumper, symbol, buys=4, sweep_bps=250).pump)


# ---- S8 --------------------------------------------------------------------------------------

def make_insider(market: Market, trader: Trader, symbol: str) -> Any:
    issuer = market.world.account(SYMBOLS[symbol])
    return market.world.send(trader.broker, "identity", "update", account=trader.account,
                             attrs={"insider_of": [issuer]})


def s8_25h(market: Market) -> None:
    kit = Kit(market, "S8", "25h")
    (buyer,) = traders = kit.traders(1)
    start, symbol, _ = kit.start(day=market.first_day, earliest_ms=30 * MINUTE_MS,
                                 room_ms=NEWS_ROOM_MS, moves=news_moves(25 * HOUR_MS))
    kit.record(symbol, traders, (market.first_day, market.first_day + 1))
    buy_before_news(market, buyer, symbol, start, 25 * HOUR_MS,
                    lambda: good_news(market, symbol), step_ms=10 * MINUTE_MS)


INSIDER_EVENTS = ("cap_approval", "halt", "forced_transfer", "freeze")


def s8_insider(market: Market) -> None:
    kit = Kit(market, "S8", "insider")
    insider, other = traders = kit.traders(2)
    start, symbol, day = kit.start(room_ms=2 * HOUR_MS, moves=(  # its event, a halt's ten
        (HOUR_MS, HOUR_MS + 10 * MINUTE_MS),))  # minutes (seed 8: S1.helper_exits' washes)
    kit.record(symbol, traders, (day,))
    event = market.rng.choice(INSIDER_EVENTS)
    kit.case.variant = f"insider_{event}"  # type: ignore[union-attr]
    market.at(start, lambda: make_insider(market, insider, symbol))
    for step in range(3):
        market.at(start + (step + 1) * 5 * MINUTE_MS, lambda: market.place(
            insider, symbol, "buy", market.clip(symbol, market.last[symbol] * 1.003), 20))
    world = market.world

    def material() -> None:
        if event == "cap_approval":
            world.send("ksd", "token", "approve", symbol=symbol, cap=10**9 - 1)
        elif event == "halt":
            world.send("ksd", "market", "halt", symbol=symbol, reason="pending news")
            market.at(market.now + 10 * MINUTE_MS, lambda: world.send(
                "ksd", "market", "resume", symbol=symbol))
        elif event == "forced_transfer":
            world.send("ksd", "token", "force_transfer", symbol=symbol, from_=other.account,
                       to=insider.account, amount=10, reason="court order")
        else:
            world.send(SYMBOLS[symbol], "token", "freeze", symbol=symbol,
                       account=insider.account, amount=1)
    market.at(start + HOUR_MS, material)


def s8_nominee(market: Market) -> None:
    kit = Kit(market, "S8", "nominee")
    insider, nominee = traders = kit.traders(2)
    start, symbol, day = kit.start(earliest_ms=40 * MINUTE_MS, room_ms=NEWS_ROOM_MS - 10 *
                                   MINUTE_MS, moves=news_moves(NEWS_LEAD_MS))
    kit.record(symbol, [nominee], (day,))
    kit.add([insider])
    market.at(start - 30 * MINUTE_MS, lambda: make_insider(market, insider, symbol))
    share_device(market, traders, kit.device("home-pc"), start - 20 * MINUTE_MS)
    buy_before_news(market, nominee, symbol, start, NEWS_LEAD_MS,
                    lambda: good_news(market, symbol))


# ---- S9 --------------------------------------------------------------------------------------

def at_days(start: int, days: int, offsets_ms: tuple[int, ...]) -> list[int]:
    """Times on `days` consecutive KST days from `start`, at each offset within the day."""
    return [start + day * DAY_MS + offset for day in range(days) for offset in offsets_ms]


def s9_split(market: Market) -> None:
    kit = Kit(market, "S9", "split")
    structurer, *nominees = traders = kit.traders(3)
    kit.record(None, traders, (market.first_day, market.first_day + 1))
    rng = market.rng
    for time in at_days(session_open(market.first_day) + HOUR_MS, 3, (0, 30 * MINUTE_MS)):
        receiver = rng.choice(nominees).account
        amount = rng.randrange(4_600_000, 4_990_000)
        market.at(time, lambda r=receiver, a=amount: transfer(market, structurer, r, a))


def s9_fan_in(market: Market) -> None:
    kit = Kit(market, "S9", "fan_in")
    collector, *smurfs = traders = kit.traders(5)
    start, _, day = kit.start()
    kit.record(None, traders, (day,))
    for number, smurf in enumerate(smurfs):
        amount = market.rng.randrange(9_500_000, 9_990_000)
        market.at(start + number * HOUR_MS,
                  lambda s=smurf, a=amount: transfer(market, s, collector.account, a))


def s9_withdrawals(market: Market) -> None:
    kit = Kit(market, "S9", "withdrawals")
    (withdrawer,) = traders = kit.traders(1)
    kit.record(None, traders, (market.first_day, market.first_day + 1))
    for time in at_days(session_open(market.first_day) + 2 * HOUR_MS, 3, (0,)):
        amount = market.rng.randrange(9_500_000, 9_990_000)
        market.at(time, lambda a=amount: market.world.send(
            "bank", "cash", "burn", from_=withdrawer.account, amount=a))


def s9_decoy(market: Market) -> None:
    kit = Kit(market, "S9", "decoy")
    structurer, *nominees = traders = kit.traders(4)
    case = kit.record(None, traders, (market.first_day, market.first_day + 1))
    rng = market.rng
    for day in (market.first_day, market.first_day + 1):
        for number in range(3):
            receiver = nominees[number].account
            amount = rng.randrange(9_500_000, 9_990_000)

            def send(r: str = receiver, a: int = amount,
                     later: bool = day > market.first_day) -> None:
                tx = transfer(market, structurer, r, a)
                if later:
                    case.key_txs.add(tx.tx_id.hex())
            market.at(session_open(day) + (number + 1) * HOUR_MS, send)


def s14_sweep(market: Market) -> None:
    kit = Kit(market, "S14", "sweep")
    (opener,) = traders = kit.traders(1)
    symbol, day = market.take_slot(market.first_day, OPEN_MOVES)
    kit.record(symbol, traders, tuple(range(day, market.config.days)))
    # Late in the opening window, at least 150 units, up to 7% over the last: a 102-unit
    # sweep at minute 4 was undone by minute 30, and one at minute 20 from an open under the
    # previous close left the price under 2% over it (seed 3). On the first plant day, and
    # again the next if the asks never allowed it (seed 12: no sweep at all).
    def push(on: int) -> list[int]:
        return open_push(market, opener, symbol, on, 700, 1, 150, reach_bps=250,
                         start_ms=20 * MINUTE_MS, span_ms=8 * MINUTE_MS)
    done = push(day)

    def again() -> None:
        if not done[0] and day + 1 < market.config.days:
            push(day + 1)
    market.at(session_open(day) + SESSION_MS, again)


@contextmanager
def own_draws(market: Market, label: str) -> Iterator[None]:
    """The plant draws from a generator of its own: the honest market after it keeps the
    draws it had before the plant was added (plants added later change no seed's market)."""
    shared = market.rng
    market.rng = random.Random(f"{market.config.seed}:{label}")
    try:
        yield
    finally:
        market.rng = shared


def s1_hub(market: Market) -> None:
    with own_draws(market, "S1.hub"):
        _s1_hub(market)


def s1_flush(market: Market) -> None:
    with own_draws(market, "S1.flush"):
        _s1_flush(market)


def _s1_hub(market: Market) -> None:
    kit = Kit(market, "S1", "hub")
    first, second = traders = kit.traders(2)
    start, symbol, day = kit.start()
    kit.record(symbol, traders, (day,))
    others = kit.traders(9)  # accounts of the ring that never trade
    market.at(start, lambda: transfer(market, second, first.account, 3_000_000))
    for number, other in enumerate(others):
        market.at(start + MINUTE_MS + number, lambda o=other: transfer(
            market, first, o.account, 600_000))
    washes(market, first, second, symbol, start + 10 * MINUTE_MS)


def _s1_flush(market: Market) -> None:
    kit = Kit(market, "S1", "flush")
    first, second = traders = kit.traders(2)
    start, symbol, day = kit.start()
    kit.record(symbol, traders, (day,))
    share_device(market, traders, kit.device("laptop"), start)
    for exit_ in range(64):  # unfilled IOC bids from a VPN's exits
        market.at(start + MINUTE_MS + exit_, lambda n=exit_: market.place(
            first, symbol, "buy", market.clip(symbol, market.last[symbol] * 0.95), 1, "ioc",
            origin=kit.device(f"vpn-{n}")))
    washes(market, first, second, symbol, start + 10 * MINUTE_MS)


def s1_afresh(market: Market) -> None:
    """A 1-unit decoy wash, then a wash every half hour over every plant day: the measure over
    S1's sliding day never doubles after the first day, and the episode never goes quiet
    (caught only by an alert showing the last wash)."""
    kit = Kit(market, "S1", "afresh")
    first, second = traders = kit.traders(2, shared=True)
    days = tuple(range(market.first_day, market.config.days))
    symbol = market.rng.choice(sorted(SYMBOLS))
    case = kit.record(symbol, traders, days)
    market.at(session_open(days[0]) + 10 * MINUTE_MS,
              retry(market, lambda: cross(market, symbol, first, second, 1) is not None))
    times = [session_open(day) + (n + 1) * HOUR_MS // 2 for day in days for n in range(12)]
    for number, time in enumerate(times):
        seller, buyer = (first, second) if number % 2 == 0 else (second, first)
        qty = market.rng.randrange(50, 200)

        def wash(s: Trader = seller, b: Trader = buyer, q: int = qty,
                 last: bool = number == len(times) - 1) -> bool:
            placed = cross(market, symbol, s, b, q)
            if placed is not None and last:
                case.key_txs |= {tx.tx_id.hex() for tx in placed}  # type: ignore[attr-defined]
            return placed is not None
        market.at(time, retry(market, wash))


def s9_padded(market: Market) -> None:
    """Each day's structured total in halves to two nominees, and a 600,000 transfer to a
    friend that passes the day over the threshold (rt37 F14)."""
    kit = Kit(market, "S9", "padded")
    structurer, first, second, friend = traders = kit.traders(4)
    kit.record(None, traders, (market.first_day, market.first_day + 1))
    rng = market.rng
    for time in at_days(session_open(market.first_day) + HOUR_MS, 3, (0,)):
        for offset, (receiver, amount) in enumerate(
                ((first, rng.randrange(4_600_000, 4_990_000)),
                 (second, rng.randrange(4_600_000, 4_990_000)), (friend, 600_000))):
            market.at(time + offset * MINUTE_MS, lambda r=receiver.account, a=amount: transfer(
                market, structurer, r, a))  # type: ignore[misc]


EVASIONS: dict[str, Callable[[Market], Any]] = {
    "S1.25h": s1_25h, "S1.transitive": s1_transitive, "S1.transfer": s1_transfer,
    "S1.recover": s1_recover, "S1.decoy": s1_decoy, "S2.off_by_one": s2_off_by_one,
    "S2.ring": s2_ring, "S2.6s": s2_6s, "S3.linked": s3_linked, "S3.after": s3_after,
    "S3.self_trade": s3_self_trade, "S3.slow": s3_slow, "S4.split": s4_split,
    "S4.slow": s4_slow, "S5.sweep": s5_sweep, "S5.early": s5_early, "S6.linked": s6_linked,
    "S7.linked": s7_linked, "S7.four_sweeps": s7_four_sweeps, "S8.25h": s8_25h,
    "S8.insider": s8_insider, "S8.nominee": s8_nominee, "S9.split": s9_split,
    "S9.fan_in": s9_fan_in, "S9.withdrawals": s9_withdrawals, "S9.decoy": s9_decoy,
    "S14.sweep": s14_sweep, "S1.hub": s1_hub, "S1.flush": s1_flush, "S1.afresh": s1_afresh}


def drawn_apart(name: str, plant: Callable[[Market], Any]) -> Callable[[Market], Any]:
    def run(market: Market) -> None:
        with own_draws(market, name):
            plant(market)
    return run


EVASIONS.update({name: drawn_apart(name, plant) for name, plant in SHAPES.items()})
EVASIONS["S7.25h"] = drawn_apart("S7.25h", s7_25h)  # rt37's, after the shapes
EVASIONS["S9.padded"] = drawn_apart("S9.padded", s9_padded)
EVASIONS["S7.decoy"] = drawn_apart("S7.decoy", lambda market: s7_25h(market, "decoy", DecoyPump))
