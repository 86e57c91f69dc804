"""What S2 and S12 keep across blocks so that a block costs what it brought, not its windows.

Memory only and derived: each tally is what a rule would read afresh from the trade and order
windows (node.surveillance.trades, orders), extended by the trades after the last one it read
and cut at the front of its window as blocks go. A tally begun before a trade or an order was
dropped at its limit (`Trades.evicted`, `Orders.evicted`) is begun again, since the records it
holds may be gone from the windows; a restarted node begins every tally afresh. So what a rule
reads through a tally is exactly what it would read afresh, on every node alike.

- `QuickTally` (S2): one account's quick trades in the window (their two orders placed within
  `match_ms`), by (seller, buyer), with each pair's matched trades kept while no trade of the
  pair came or left: a block re-judges only the pairs it changed (a busy account trades with
  hundreds of others in the hour; S2 re-judged every pair of every account it met, every block).
- `OwnerTally` (S12): an owner's trades with other owners in the window: the bids of it that
  sellers hit, and what it bought and sold (S12 read the token's whole window once per buying
  owner, every block).
- `TradedOrders` (S6): the orders an owner traded with in a token in the window;
- `LastPush` (S7): when an owner last bought a token at a rising price;
- `CashTally` (S9): an owner's cash movements of one direction in one window, by KST day, with
  each day's sums (S9 read the owner's whole month of movements on every block it moved cash;
  a tally begun before a movement was dropped at its limit, `CashFlows.evicted`, is begun
  again).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from node.surveillance.records import Flow, Order, Trade
from node.surveillance.timeline import Timeline

# Tallies kept of each kind: at the limit every tally of the kind is forgotten (they are begun
# again from the windows when next read). Accounts judged by S2, and owners buying, within the
# hour; a market of 300 honest accounts keeps a few hundred.
TALLIES = 4_096

Quick = tuple[Trade, Order, Order]  # a trade, its buy order and its sell order
Stamp = tuple[int, int]  # (Trades.evicted, Orders.evicted) when a tally was begun


@dataclass(slots=True)
class QuickTally:
    """One account's quick trades in S2's window, grouped by (seller, buyer)."""

    account: str
    stamp: Stamp
    last: int = -1  # the last trade id read
    read_to: int = 0  # that trade's time
    buying: int = 0  # of its quick trades, those it bought
    quick: Timeline[Quick] = field(default_factory=Timeline)  # in trade id order
    pairs: dict[tuple[str, str], list[Quick]] = field(default_factory=dict)
    judged: dict[tuple[str, str], list[Trade]] = field(default_factory=dict)  # while unchanged
    found: list[Trade] | None = None  # every pair's judged trades in id order, while unchanged

    def read(self, trades: Iterable[Trade], quick: Callable[[Trade], Quick | None]) -> None:
        """Add the trades after the last one read (`trades`: the account's, in id order)."""
        for trade in trades:
            if trade.trade_id <= self.last:
                continue
            self.last, self.read_to = trade.trade_id, trade.time
            one = quick(trade)
            if one is not None:
                key = (trade.seller, trade.buyer)
                self.quick.append(trade.time, one)
                self.pairs.setdefault(key, []).append(one)
                self.buying += trade.buyer == self.account
                self._changed(key)

    def cut(self, since: int) -> None:
        """Forget the quick trades before `since` (each is the first of its pair)."""
        while self.quick and self.quick.first_time() < since:
            trade = self.quick.pop_first()[0]
            self.buying -= trade.buyer == self.account
            key = (trade.seller, trade.buyer)
            pair = self.pairs[key]
            del pair[0]
            if not pair:
                del self.pairs[key]
            self._changed(key)

    def _changed(self, key: tuple[str, str]) -> None:
        self.judged.pop(key, None)
        self.found = None

    def matched(self, judge: Callable[[list[Quick]], list[Trade]]) -> list[Trade]:
        """The matched trades of every pair, in id order: `judge` (S2's matched_in) asked
        again only of the pairs changed since it was last asked."""
        if self.found is None:
            for key in sorted(self.pairs):
                if key not in self.judged:
                    self.judged[key] = judge(self.pairs[key])
            self.found = sorted((t for trades in self.judged.values() for t in trades),
                                key=lambda t: t.trade_id)
        return self.found


@dataclass(slots=True)
class OwnerTally:
    """An owner's trades of a token with other owners in S12's window: the bids of it that
    sellers hit (`passive`, in id order) and the quantities it bought and sold."""

    stamp: Stamp
    last: int = -1
    read_to: int = 0
    outside: Timeline[Trade] = field(default_factory=Timeline)  # bought or sold, id order
    passive: Timeline[Trade] = field(default_factory=Timeline)
    bought: int = 0
    sold: int = 0

    def read(self, trades: Iterable[Trade], accounts: set[str]) -> None:
        for trade in trades:
            if trade.trade_id <= self.last:
                continue
            self.last, self.read_to = trade.trade_id, trade.time
            buying, selling = trade.buyer in accounts, trade.seller in accounts
            if buying == selling:
                continue  # among its own accounts: neither bought nor sold
            self.outside.append(trade.time, trade)
            if buying:
                self.bought += trade.qty
                if trade.aggressor == "sell":
                    self.passive.append(trade.time, trade)
            else:
                self.sold += trade.qty

    def cut(self, since: int, members: set[str]) -> None:
        while self.outside and self.outside.first_time() < since:
            trade = self.outside.pop_first()
            if trade.buyer in members:
                self.bought -= trade.qty
            else:
                self.sold -= trade.qty
        while self.passive and self.passive.first_time() < since:
            self.passive.pop_first()


@dataclass(slots=True)
class Tallies:
    """Every rule's tallies (memory only), kept by the indexer across blocks."""

    quick: dict[tuple[str, str], QuickTally] = field(default_factory=dict)  # (token, account)
    owners: dict[tuple[str, tuple[str, ...]], OwnerTally] = field(default_factory=dict)
    cash: dict[tuple[str, tuple[str, ...], int], CashTally] = field(default_factory=dict)
    traded: dict[tuple[str, tuple[str, ...]], TradedOrders] = field(default_factory=dict)
    pushes: dict[tuple[str, tuple[str, ...]], LastPush] = field(default_factory=dict)

    def quick_of(self, symbol: str, account: str, stamp: Stamp) -> QuickTally:
        key = (symbol, account)
        tally = self.quick.get(key)
        if tally is None or tally.stamp != stamp:
            if len(self.quick) >= TALLIES and key not in self.quick:
                self.quick.clear()
            tally = self.quick[key] = QuickTally(account, stamp)
        return tally

    def owner_of(self, symbol: str, accounts: tuple[str, ...], stamp: Stamp) -> OwnerTally:
        key = (symbol, accounts)
        tally = self.owners.get(key)
        if tally is None or tally.stamp != stamp:
            if len(self.owners) >= TALLIES and key not in self.owners:
                self.owners.clear()
            tally = self.owners[key] = OwnerTally(stamp)
        return tally

    def traded_of(self, symbol: str, accounts: tuple[str, ...], stamp: Stamp) -> TradedOrders:
        key = (symbol, accounts)
        tally = self.traded.get(key)
        if tally is None or tally.stamp != stamp:
            if len(self.traded) >= TALLIES and key not in self.traded:
                self.traded.clear()
            tally = self.traded[key] = TradedOrders(stamp)
        return tally

    def push_of(self, symbol: str, accounts: tuple[str, ...]) -> LastPush:
        key = (symbol, accounts)
        tally = self.pushes.get(key)
        if tally is None:
            if len(self.pushes) >= TALLIES:
                self.pushes.clear()
            tally = self.pushes[key] = LastPush()
        return tally

    def cash_of(self, key: tuple[str, tuple[str, ...], int], stamp: int,
                begin: Callable[[], CashTally]) -> CashTally:
        """The S9 tally of (direction, owner's accounts, window), begun by `begin` when there
        is none or a movement was dropped at the limit since it was begun."""
        tally = self.cash.get(key)
        if tally is None or tally.stamp != stamp:
            if len(self.cash) >= TALLIES and key not in self.cash:
                self.cash.clear()
            tally = self.cash[key] = begin()
        return tally


@dataclass(slots=True)
class TradedOrders:
    """S6: the orders of an owner's side of its trades in a token within the window, each
    with how many of those trades it made (S6 read the owner's three days of trades on every
    block it traded: a market maker's whole window, rt38 F9)."""

    stamp: Stamp
    last: int = -1
    read_to: int = 0
    trades: deque[tuple[int, int]] = field(default_factory=deque)  # (time, order), id order
    orders: dict[int, int] = field(default_factory=dict)  # order id -> its trades

    def read(self, trades: Iterable[Trade], members: tuple[str, ...]) -> None:
        for trade in trades:
            if trade.trade_id <= self.last:
                continue
            self.last, self.read_to = trade.trade_id, trade.time
            order = trade.buy_order if trade.buyer in members else trade.sell_order
            self.trades.append((trade.time, order))
            self.orders[order] = self.orders.get(order, 0) + 1

    def cut(self, since: int) -> None:
        while self.trades and self.trades[0][0] < since:
            order = self.trades.popleft()[1]
            self.orders[order] -= 1
            if not self.orders[order]:
                del self.orders[order]


@dataclass(slots=True)
class LastPush:
    """S7: the time of an owner's last rising buy from another owner in a token, or None: an
    owner with none in S7's window has no pump to judge (S7 read every seller's four days of
    trades on every block it sold, rt38 F9). Only ever later than the true last one (a trade
    dropped at a limit may have been it), so it never skips an owner S7 would judge."""

    last: int = -1
    read_to: int = 0
    time: int | None = None

    def read(self, trades: Iterable[Trade], members: tuple[str, ...],
             rises: Callable[[Trade], bool]) -> None:
        for trade in trades:
            if trade.trade_id <= self.last:
                continue
            self.last, self.read_to = trade.trade_id, trade.time
            if trade.buyer in members and trade.seller not in members and rises(trade):
                self.time = trade.time


# ---- S9 ------------------------------------------------------------------------------------

@dataclass(slots=True)
class Party:
    """One counterparty's movements with the owner in one day (withdrawals or deposits: "")."""

    flows: deque[Flow] = field(default_factory=deque)
    total: int = 0
    near: deque[Flow] = field(default_factory=deque)  # its single amounts near the threshold


@dataclass(slots=True)
class CashDay:
    """The owner's movements of one direction in one KST day, with the sums S9's units are
    made of (rules.share.day_units): the day's total, each counterparty's, and the total of
    the movements not smaller than the `near_bps` band (`kept`). `units` is the day's units
    while no movement came or left."""

    flows: deque[Flow] = field(default_factory=deque)
    total: int = 0
    senders: int = 0  # movements with a sender (a receipt that was no deposit)
    parties: dict[str, Party] = field(default_factory=dict)
    kept: deque[Flow] = field(default_factory=deque)
    kept_total: int = 0
    units: list[tuple[int, list[Flow]]] | None = None


@dataclass(slots=True)
class CashTally:
    """An owner's movements of one direction in one S9 window, by KST day: the movements
    after the last one read are added and the front is cut at the window's start, so a block
    costs its own movements and the days it changed, not the month (rt38 F9: S9 re-read a
    payer's whole 30-day window on every block it paid). Movements among the owner's own
    accounts are left out, as S9 leaves them out."""

    direction: str
    members: frozenset[str]
    near: Callable[[int], bool]  # a single amount near the threshold
    keeps: Callable[[int], bool]  # an amount not under the `near_bps` band
    stamp: int  # CashFlows.evicted when it was begun
    last: int = -1  # the last movement read (its seq)
    read_to: int = 0  # that movement's time
    flows: deque[Flow] = field(default_factory=deque)  # in chain order
    days: dict[int, CashDay] = field(default_factory=dict)

    def read(self, flows: Iterable[Flow], day_of: Callable[[int], int]) -> None:
        """Add the movements after the last one read (`flows`: in chain order)."""
        for flow in flows:
            if flow.seq <= self.last:
                continue
            self.last, self.read_to = flow.seq, flow.time
            if flow.sender in self.members and flow.recipient in self.members:
                continue
            self.flows.append(flow)
            day = self.days.setdefault(day_of(flow.time), CashDay())
            day.flows.append(flow)
            day.total += flow.amount
            day.senders += bool(flow.sender)
            party = day.parties.setdefault(self.other(flow), Party())
            party.flows.append(flow)
            party.total += flow.amount
            if self.near(flow.amount):
                party.near.append(flow)
            if self.keeps(flow.amount):
                day.kept.append(flow)
                day.kept_total += flow.amount
            day.units = None

    def cut(self, since: int, day_of: Callable[[int], int]) -> None:
        """Forget the movements before `since` (each is the first of its day and party)."""
        while self.flows and self.flows[0].time < since:
            flow = self.flows.popleft()
            key = day_of(flow.time)
            day = self.days[key]
            day.flows.popleft()
            day.total -= flow.amount
            day.senders -= bool(flow.sender)
            other = self.other(flow)
            party = day.parties[other]
            party.flows.popleft()
            party.total -= flow.amount
            if party.near and party.near[0] is flow:
                party.near.popleft()
            if not party.flows:
                del day.parties[other]
            if day.kept and day.kept[0] is flow:
                day.kept.popleft()
                day.kept_total -= flow.amount
            day.units = None
            if not day.flows:
                del self.days[key]

    def other(self, flow: Flow) -> str:
        return (flow.recipient if self.direction == "out" else flow.sender) or ""
