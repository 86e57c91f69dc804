"""What surveillance costs grows with what a block holds, not faster.

The owner graph's walks within a block: the same owners as walking afresh, at a cost bounded
by the accounts touched, not by walks times the walk's length.

A hostile investor (or an ordinary payment chain) can link thousands of accounts with tiny
transfers. Each owner is then cut at `owner_accounts` and is never shared between accounts, so
every order walks `owner_accounts` accounts; computing each account's edges afresh on every walk
made an order cost 4 ms of surveillance (scripts/market_cost.py, whose transfer ring links every
investor). The block's cache computes each account's edges once."""

from __future__ import annotations

import sys

import pytest

from node.surveillance.owners import TRANSFER, OwnerCache, OwnerGraph, OwnerParams
from node.surveillance.records import Limits, Order, Trade
from node.surveillance.rules import RULES
from node.surveillance.staged import Staged
from tests.node.surveillance_desk import SYMBOL, Desk
from tests.node.test_surveillance import pegging

DAY_MS = 86_400_000
NOW = 1_767_225_600_000


def chain(length: int) -> tuple[OwnerGraph, list[str]]:
    graph = OwnerGraph(OwnerParams(link_window_ms=DAY_MS, transfer_window_ms=30 * DAY_MS,
                                   max_transfer_partners=8), Limits(), Staged())
    accounts = [f"{index:064x}" for index in range(length)]
    for index in range(length - 1):  # a ring of one-unit transfers, as the bench makes
        graph.link(TRANSFER, accounts[index], accounts[index + 1], NOW - 1_000, f"tx{index}")
    return graph, accounts


def test_a_blocks_walks_compute_each_accounts_edges_once_and_find_the_same_owners() -> None:
    graph, accounts = chain(300)
    computed: list[str] = []
    plain = graph.neighbours

    def counting(account, now, kinds, is_hub=None):
        computed.append(account)
        return plain(account, now, kinds, is_hub)

    graph.neighbours = counting  # type: ignore[method-assign]
    cache = OwnerCache(graph, NOW)
    owners = {account: cache(account) for account in accounts}
    # Each account's edges once: 300, where walking afresh computes about 64 per walk.
    assert sorted(computed) == sorted(accounts)
    graph.neighbours = plain  # type: ignore[method-assign]
    for account in accounts:
        afresh = graph.owner(account, NOW)
        assert owners[account].accounts == afresh.accounts
        assert owners[account].partial == afresh.partial
        assert owners[account].parent == afresh.parent
    assert owners[accounts[150]].partial  # the walk was cut: no owner is shared
    assert len(owners[accounts[150]].accounts) == Limits().owner_accounts


def test_the_rules_never_compare_records_by_value(monkeypatch) -> None:
    """A rule that asks `trade in some_list` compares every trade field by field: quadratic in
    the window's trades (S12's held trades did, 15 % of surveillance in the market bench).
    Records are found by identity or by key; comparing two by value fails here."""

    def refuse(self, other):
        raise AssertionError(f"{type(self).__name__} compared by value")

    for record in (Trade, Order):
        monkeypatch.setattr(record, "__eq__", refuse)
    desk = Desk()
    desk.background()
    desk.record_date_ahead()
    pegging(desk)
    assert [a["rule"] for a in desk.alerts("S12")]  # the rule ran to its end and raised


def test_owners_remembered_across_blocks_are_what_a_walk_now_gives() -> None:
    """The property behind `lasting_owner`: through random uses, transfers, recoveries, drops
    at the limits and lapses at the windows, with time moving on, every remembered owner has
    the accounts and the cut (`partial`) a fresh walk finds. Small limits and windows make
    every path happen."""
    import random

    from node.surveillance.owners import ALL_KINDS, CASH_KINDS, RECOVER

    for seed in range(30):
        rng = random.Random(seed)
        graph = OwnerGraph(OwnerParams(link_window_ms=5_000, transfer_window_ms=8_000,
                                       max_transfer_partners=3),
                           Limits(per_origin=4, per_account=3, owner_accounts=5, links=30,
                                  origin_uses=40), Staged())
        accounts = [f"{index:02d}" for index in range(14)]
        now = 1_000_000
        hits = 0
        for _ in range(300):
            now += rng.choice((0, 0, 100, 700, 3_000))
            action = rng.random()
            if action < 0.35:
                origin = f"o{rng.randrange(6)}" if rng.random() < 0.5 else f"s{rng.randrange(60)}"
                graph.use(rng.choice(accounts), origin, now)  # shared devices and lone ones
            elif action < 0.6:
                graph.link(TRANSFER, rng.choice(accounts), rng.choice(accounts), now, "tx")
            elif action < 0.63:
                graph.link(RECOVER, rng.choice(accounts), rng.choice(accounts), now, "tx")
            elif action < 0.75:
                graph.prune(now)
            for account in accounts:
                kinds = rng.choice((ALL_KINDS, CASH_KINDS))
                walked: list[str] = []

                def walk(account=account, kinds=kinds, graph=graph, now=now, walked=walked):
                    walked.append(account)
                    return graph.owner(account, now, kinds)

                kept = graph.lasting_owner(account, now, kinds, walk)
                afresh = graph.owner(account, now, kinds)
                assert (kept.accounts, kept.partial) == (afresh.accounts, afresh.partial), seed
                hits += not walked
        assert hits > 0  # the cache was used, not only filled


def test_an_origin_forgotten_at_the_limit_unlinks_remembered_owners() -> None:
    """Lone origins link nobody and leave remembered owners alone; but the limit of origins per
    account, once every origin links it to someone no other origin does, forgets the oldest,
    and the link it made must go with it."""
    from node.surveillance.owners import ALL_KINDS

    graph = OwnerGraph(OwnerParams(link_window_ms=DAY_MS, transfer_window_ms=DAY_MS,
                                   max_transfer_partners=8), Limits(per_account=2), Staged())
    graph.use("a", "laptop", NOW)
    graph.use("b", "laptop", NOW)
    walk = lambda: graph.owner("a", NOW + 10, ALL_KINDS)  # noqa: E731
    assert graph.lasting_owner("a", NOW + 10, ALL_KINDS, walk).accounts == ("a", "b")
    graph.use("a", "vpn-1", NOW + 1)
    graph.use("a", "vpn-2", NOW + 2)  # a third origin: the lone vpn-1 goes, not the laptop
    assert graph.owner("a", NOW + 10).accounts == ("a", "b")
    graph.use("c", "vpn-2", NOW + 3)
    graph.use("d", "desk", NOW + 4)
    graph.use("a", "desk", NOW + 5)  # every origin needed: the laptop, the oldest, goes
    assert graph.owner("a", NOW + 10).accounts == ("a", "c", "d")
    assert graph.lasting_owner("a", NOW + 10, ALL_KINDS, walk).accounts == ("a", "c", "d")


def test_s10_does_not_read_every_kept_order_of_an_origin_on_each_block():
    """An account's unfilled IOC orders from its own device cost it nothing; S10 read every
    kept order of the (token, origin) on each block with one more from it: quadratic over a
    day (red team F14: 14 ms a block at 80,000 orders). It now counts the origin's accounts
    first, and reads orders only when enough accounts used it."""
    desk = Desk()
    orders = desk.world.surveillance.orders
    read: list[int] = []
    plain = orders.from_origin

    def counting(symbol, origin, since):
        found = plain(symbol, origin, since)
        read.append(len(found))
        return found

    orders.from_origin = counting  # type: ignore[method-assign]
    for _ in range(4):
        for _ in range(100):
            desk.place("a", "buy", 9_000, 1, tif="ioc")
        desk.step()
    read.clear()
    for _ in range(5):  # five blocks with one order each from the same device
        desk.place("a", "buy", 9_000, 1, tif="ioc")
        desk.step()
    assert sum(read) <= 5, read  # not 400 orders a block
    for name in "bc":  # two more accounts on a's device: S10 reads its orders then
        desk.place(name, "buy", 9_000, 1, where="a", tif="ioc")
    desk.step()
    assert desk.alerts("S10") and sum(read) > 400


def test_s1_reads_a_washing_owners_new_trades_not_its_whole_window():
    """A pair washing one trade a block: S1 read all of the owner's trades in its day window
    on every block (red team F14: 0.84 -> 2.35 ms a block from 400 to 1,600 window trades).
    It now extends the owner's tally by the trades after the last one it read."""
    desk = Desk()
    desk.background()
    desk.pay("a", "b", 1_000_000)
    desk.step()
    trades = desk.world.surveillance.trades
    read: list[int] = []
    plain = trades.of_accounts

    def counting(symbol, accounts, since):
        found = plain(symbol, accounts, since)
        if sys._getframe(1).f_code.co_name in ("s1_finding", "_among"):  # S1's reads only
            read.append(len(found))
        return found

    trades.of_accounts = counting  # type: ignore[method-assign]
    for number in range(120):
        seller, buyer = ("a", "b") if number % 2 else ("b", "a")
        desk.place(seller, "sell", 10_000, 1)
        desk.place(buyer, "buy", 10_000, 1)
        desk.step(20_000)
        if number == 99:
            read.clear()
    assert 0 < sum(read) <= 20 * 4, read  # a few new trades a block, not 100 and more
    assert desk.alerts("S1")
    pair, since = tuple(desk.accounts("a", "b")), desk.time - DAY_MS  # S1's window: a day
    whole = [t for t in plain(SYMBOL, pair, since) if {t.buyer, t.seller} == set(pair)]
    tally = trades.among(SYMBOL, pair, since)
    assert len(whole) == 120 and tally.trades == whole
    assert tally.qty == sum(t.qty for t in whole) and tuple(sorted(tally.accounts)) == pair


def test_s2_reads_of_order_times_grow_with_the_window_not_with_its_square(monkeypatch) -> None:
    """A pair washing one unit a block: S2 judged each of the pair's quick trades against
    every other trade of the pair in the window, reading two order times for each (red team
    F8: 21 -> 176 ms a block from 400 to 1,600 trades in the hour). It now sums them in one
    sweep over their first order times (matched_in). Counted here: the order times S2 reads in a
    block, at 80 and at 160 trades in the window (quadratic: four times as many)."""
    reading = [False]
    read = [0]
    slot = Order.__dict__["time"]

    def get(order: Order) -> int:
        read[0] += reading[0]
        return slot.__get__(order, Order)  # type: ignore[no-any-return]

    monkeypatch.setattr(Order, "time", property(get, slot.__set__))
    plain = RULES["S2"]

    def counting(p, j):
        reading[0] = True
        try:
            return plain(p, j)
        finally:
            reading[0] = False

    monkeypatch.setitem(RULES, "S2", counting)
    desk = Desk()
    desk.background()
    per_block: list[int] = []
    for number in range(160):
        seller, buyer = ("a", "b") if number % 2 else ("b", "a")
        desk.place(seller, "sell", 10_000, 1)
        desk.place(buyer, "buy", 10_000, 1)
        read[0] = 0
        desk.step(20_000)
        per_block.append(read[0])
    early, late = sum(per_block[70:80]), sum(per_block[150:160])
    assert 0 < late <= 2 * early + 1_000 and late <= 10 * 40 * 160, (early, late)
    found = desk.alerts("S2")
    assert found and found[-1]["metrics"]["matched_trades"] == 160, found[-1]


def test_s2_and_s12_read_what_a_block_brought_not_their_windows(monkeypatch) -> None:
    """A pair washing one unit a block and an investor whose bids are hit a block at a time,
    for 150 blocks of an hour's windows: S2 read every quick trade of each account it met in
    its window on every block (quick(): two order look-ups a trade), and S12 read the token's
    whole window for each buying owner (41% and 40% of surveillance in the market bench). Both
    now keep tallies across blocks (node.surveillance.tallies): counted here, the trades S2
    asks `quick` of and the trades S12 is handed by the trade windows, per block."""
    import node.surveillance.rules.trading as trading

    quick_reads = [0]
    plain_quick = trading.quick

    def counting_quick(p, j, trade):
        quick_reads[0] += 1
        return plain_quick(p, j, trade)

    monkeypatch.setattr(trading, "quick", counting_quick)
    desk = Desk()
    desk.background()
    trades = desk.world.surveillance.trades
    s12_reads = [0]

    def counted(read):
        def counting(*args):
            found = read(*args)
            if sys._getframe(1).f_code.co_name in ("s12_finding", "window_of", "compute_s12"):
                s12_reads[0] += len(found)
            return found
        return counting

    monkeypatch.setattr(trades, "since", counted(trades.since))
    monkeypatch.setattr(trades, "of_accounts", counted(trades.of_accounts))
    per_block: list[tuple[int, int]] = []
    for number in range(150):
        seller, buyer = ("a", "b") if number % 2 else ("b", "a")
        desk.place(seller, "sell", 10_000, 1)
        desk.place(buyer, "buy", 10_000, 1)
        desk.place("c", "buy", 9_000 + 5 * number, 2)  # a rising bid: no level held
        desk.place("d", "sell", 9_000 + 5 * number, 2)
        quick_reads[0] = s12_reads[0] = 0
        desk.step(20_000)
        per_block.append((quick_reads[0], s12_reads[0]))
    late = per_block[-20:]
    # Two trades a block: a few reads each, where the windows hold 150 and 300 of them.
    assert max(q for q, _ in late) <= 8 and max(r for _, r in late) <= 8, late
    found = desk.alerts("S2")
    assert found and found[-1]["metrics"]["matched_trades"] == 150, found[-1]
    assert not desk.alerts("S12")


@pytest.mark.parametrize("limits", [Limits(trades=40), Limits(closed_orders=40)],
                         ids=["trades", "orders"])
def test_tallies_hold_what_the_windows_hold_after_records_are_dropped_at_a_limit(limits):
    """S2's and S12's tallies (node.surveillance.tallies) are read afresh from the windows
    once a trade or an order was dropped at its limit: one kept on would still hold a trade
    whose orders or whose record are gone (and a restarted node, which begins its tallies
    afresh, would then judge otherwise). Checked after every block against the windows."""
    desk = Desk(limits=limits)
    desk.background()
    surveillance = desk.world.surveillance
    window = surveillance.params["S2"]["window_ms"]
    assert window == surveillance.params["S12"]["window_ms"]
    a, c = desk["a"], desk["c"]
    checked = 0
    for number in range(60):
        seller, buyer = ("a", "b") if number % 2 else ("b", "a")
        desk.place(seller, "sell", 10_000, 1)
        desk.place(buyer, "buy", 10_000, 1)
        desk.place("c", "buy", 9_000 + 5 * number, 2)
        desk.place("d", "sell", 9_000 + 5 * number, 2)
        desk.step(20_000)
        since = desk.time - window
        kept = surveillance.tallies.quick.get((SYMBOL, a))
        owner = surveillance.tallies.owners.get((SYMBOL, (c,)))
        if kept is None or owner is None:
            continue  # not read in this block (S2 met a only when b sold)
        checked += 1
        orders = surveillance.orders
        afresh = [t.trade_id for t in surveillance.trades.of_account(SYMBOL, a, since)
                  if orders.get(t.buy_order) is not None and orders.get(t.sell_order)]
        assert [q[0].trade_id for q in kept.quick] == afresh, number
        hit = [t.trade_id for t in surveillance.trades.of_account(SYMBOL, c, since)
               if t.buyer == c and t.aggressor == "sell"]
        assert [t.trade_id for t in owner.passive] == hit, number
    assert checked >= 30 and (surveillance.trades.evicted or surveillance.orders.evicted)


def judged_one_by_one(p, pair):
    """S2's definition read literally: each quick trade with the pair's trades whose two
    orders were both placed within `match_ms` of its first order (what matched_in computes in
    one sweep)."""
    from node.surveillance.rules.trading import is_balanced, shown

    found = []
    for trade, buy, sell in pair:
        first = min(buy.time, sell.time)
        near = [q for q in pair if abs(q[1].time - first) <= p["match_ms"]
                and abs(q[2].time - first) <= p["match_ms"]]
        bought = sum(shown(o) for o in {q[1].order_id: q[1] for q in near}.values())
        sold = sum(shown(o) for o in {q[2].order_id: q[2] for q in near}.values())
        if is_balanced(p, bought, sold, sum(q[0].qty for q in near)):
            found.append(trade)
    return found


def test_s2_sweep_matches_what_judging_each_trade_with_its_near_trades_gives() -> None:
    """matched_in's sweep over first order times against the definition, on random pairs:
    orders reused by several trades (partial fills), ioc orders, times clustered within and
    around `match_ms`, sizes close to and far from each other."""
    import random

    from node.surveillance.rules.trading import matched_in

    p = {"match_ms": 30_000, "size_tolerance_bps": 500}

    def order(order_id, side, time, qty, tif, filled):
        return Order(order_id, SYMBOL, side, "broker", side, 10_000, qty, tif, "hts", "o", 0,
                     0, 0, time, 1, 0, "tx", filled)

    agreed = 0
    for seed in range(300):
        rng = random.Random(seed)
        buys, sells, pair = [], [], []
        for trade_id in range(rng.randrange(1, 30)):
            if not buys or rng.random() < 0.6:
                buys.append(order(2 * trade_id, "buy", rng.randrange(0, 120_000, 5_000),
                                  rng.choice([1, 10, 19, 20, 21, 40]), rng.choice(["gtc", "ioc"]),
                                  rng.choice([1, 10, 20])))
            if not sells or rng.random() < 0.6:
                sells.append(order(2 * trade_id + 1, "sell", rng.randrange(0, 120_000, 5_000),
                                   rng.choice([1, 10, 20, 21, 40]), "gtc", 0))
            buy, sell = rng.choice(buys), rng.choice(sells)
            if abs(buy.time - sell.time) > p["match_ms"]:
                continue  # not quick: never in a pair
            pair.append((Trade(trade_id, SYMBOL, 10_000, rng.choice([1, 10, 20]), "b", "s",
                               buy.order_id, sell.order_id, "buy", 10_000, 0, 1, 0, "tx"),
                         buy, sell))
        swept = sorted(t.trade_id for t in matched_in(p, pair))
        literal = sorted(t.trade_id for t in judged_one_by_one(p, pair))
        assert swept == literal, seed
        agreed += bool(literal) and len(literal) < len(pair)
    assert agreed > 20  # pairs with some trades matched and some not were met


def reads_per_rule(monkeypatch) -> dict[str, int]:
    """Records each rule reads from the windows (every `Timeline` bisection's result, by
    record), counted by the rule that asked: a counter, not a clock."""
    from node.surveillance import rules as rules_module
    from node.surveillance.timeline import Timeline

    counts: dict[str, int] = {}
    running: list[str] = []
    for name, compute in list(RULES.items()):
        def counted(p, j, compute=compute, name=name):
            running.append(name)
            try:
                return compute(p, j)
            finally:
                running.pop()
        monkeypatch.setitem(rules_module.RULES, name, counted)
    for method in ("since", "between"):
        plain = getattr(Timeline, method)

        def counting(self, *args, plain=plain):
            found = plain(self, *args)
            if running:
                counts[running[-1]] = counts.get(running[-1], 0) + len(found)
            return found
        monkeypatch.setattr(Timeline, method, counting)
    return counts


def test_a_steady_streams_reads_per_block_stay_flat_as_history_grows(monkeypatch) -> None:
    """Red team rt38 F9: a market maker's one trade and a payer's one 30,000-won payment a
    block, every two hours for S9's month. S9 re-read the payer's whole month on every block,
    S6 and S7 the market maker's three and four days of trades: the work of a block grew with
    history. Each block brings the same records, so each rule must read a few of them a block
    on the month's last blocks, not its windows (before: S6 read 37 a block, S9 hundreds)."""
    counts = reads_per_rule(monkeypatch)
    desk = Desk(names=tuple("abcdefghijklm"))
    step_ms = 2 * 3_600_000
    blocks = desk.world.surveillance.params["S9"]["slow_window_ms"] // step_ms + 20
    marks = []
    for block in range(blocks):
        buyer = "abcdefghij"[block % 10]
        desk.place("k", "sell", 10_000, 1)
        desk.place(buyer, "buy", 10_000, 1)
        desk.pay("m", buyer, 30_000)
        desk.step(step_ms)
        if block in (blocks - 21, blocks - 1):
            marks.append(dict(counts))
    for rule in ("S6", "S7", "S9"):
        late = marks[1].get(rule, 0) - marks[0].get(rule, 0)
        # Three records a block, read by a few tallies (each tally bisects from its last
        # record's time, so it reads that again), where the windows hold 36 to 360.
        assert 0 < late <= 12 * 20, (rule, late)


@pytest.mark.parametrize("limits", [Limits(), Limits(flows=12)], ids=["kept", "dropped"])
def test_s9_tallies_hold_what_the_cash_window_holds(limits) -> None:
    """S9's tallies (node.surveillance.tallies.CashTally) are cut at the window's start as
    days go, and read afresh once a movement was dropped at the flows limit: after every
    block, the payer's tally holds exactly its outflows in the window, and each day's sums
    are those of the day's movements (a restarted node begins its tallies afresh)."""
    from chaincode.market import kst_day

    desk = Desk(limits=limits)
    surveillance = desk.world.surveillance
    window = surveillance.params["S9"]["window_ms"]
    m = desk["l"]
    checked = 0
    for number in range(60):
        desk.pay("l", "abcdefghij"[number % 10], 9_500_000 + 1_000 * number)
        desk.pay("a", "l", 30_000)  # an inflow: left out of the outflows
        if number % 7 == 0:
            desk.withdraw("l", 9_600_000)
        desk.step(6 * 3_600_000)
        tally = surveillance.tallies.cash.get(("out", (m,), window))
        if tally is None:
            continue
        checked += 1
        afresh = surveillance.flows.outflows(m, desk.time - window)
        assert [f.seq for f in tally.flows] == [f.seq for f in afresh], number
        days: dict[int, list] = {}
        for flow in afresh:
            days.setdefault(kst_day(flow.time), []).append(flow)
        assert sorted(tally.days) == sorted(days), number
        for key, day in tally.days.items():
            assert list(day.flows) == days[key]
            assert day.total == sum(f.amount for f in days[key])
            assert {o: p.total for o, p in day.parties.items()} == {
                o: sum(f.amount for f in days[key] if (f.recipient or "") == o)
                for o in {f.recipient or "" for f in days[key]}}
    assert checked >= 50
    assert (surveillance.flows.evicted > 0) == (limits.flows == 12)


@pytest.mark.parametrize("limits", [Limits(), Limits(trades=40)], ids=["kept", "dropped"])
def test_s6_order_tallies_hold_what_the_trade_window_holds(limits) -> None:
    """S6's count of the orders an owner traded with in its window (node.surveillance.
    tallies.TradedOrders) is cut at the window's start and begun again after a trade was
    dropped at the limit: after every block S6 counted it, it is the count the window gives."""
    desk = Desk(limits=limits)
    surveillance = desk.world.surveillance
    window = surveillance.params["S6"]["window_ms"]
    k = desk["k"]
    checked = 0
    for number in range(60):
        for order in range(1 + number % 3):  # one to three orders a block
            desk.place("k", "sell", 10_000, 1)
            desk.place("abcdefghij"[(number + order) % 10], "buy", 10_000, 1)
        desk.step(2 * 3_600_000)
        tally = surveillance.tallies.traded.get((SYMBOL, (k,)))
        if tally is None or tally.last != surveillance.trades.of_account(
                SYMBOL, k, 0)[-1].trade_id:
            continue  # not counted in this block
        checked += 1
        afresh = {t.sell_order for t in surveillance.trades.of_account(
            SYMBOL, k, desk.time - window)}
        assert sorted(tally.orders) == sorted(afresh), number
    assert checked >= 40
    assert (surveillance.trades.evicted > 0) == (limits.trades == 40)
