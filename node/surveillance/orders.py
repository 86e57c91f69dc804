"""The orders surveillance keeps: every open order, closed ones for the order rules' horizon, the
book they make, and the indexes the rules read.

Orders are built from committed receipts (node.surveillance.reader): `place` when an order is
accepted (with the best price of its side at that moment, from the book kept here, and the
token's last price), then `fill` and `cancel` as its Trade and OrderCancelled events come, and
`rest` once its transaction is over and it is still open. Every change is mirrored under
`v/o/<order_id>` (staged once per block), and `load` rebuilds all of the rest from those
records, so everything below is derived from the orders retained and nothing else:
- the book: per (token, session, side) the open quantity at each price, for `best`;
- per account, per (token, client origin) (S10) and per (token, account) of orders removed
  before they filled (S3), the order ids;
- the mean order size per token and per (token, account) (S3);
- the activity window (S13): per token, the orders placed within `activity_ms` and each
  account's orders, quantity and orders that traded among them.
Closed orders go after `horizon_ms` in the block that went past it; every index forgets them in
the same step. Beyond Limits.closed_orders (all accounts' together) the account holding the
most closed orders gives its oldest (node.surveillance.caps), so one account's flood of unfilled
orders never drops another's (issue 30, F15b). Reads never write.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import Any

from node.storage import KV
from node.storage import schema as s
from node.surveillance.caps import STALE_SLACK, Holdings
from node.surveillance.records import Limits, Order, pack, unpack
from node.surveillance.staged import Staged
from node.surveillance.timeline import Timeline

NO_PRICE = 0


def side_key(side: str, price: int) -> int:
    """Heap order of a side's prices: the best first (highest bid, lowest ask)."""
    return -price if side == "buy" else price


class Orders:
    def __init__(self, horizon_ms: int, activity_ms: int, limits: Limits, staged: Staged
                 ) -> None:
        self.horizon_ms = horizon_ms
        self.activity_ms = activity_ms
        self.limits = limits
        self.staged = staged
        self.orders: dict[int, Order] = {}
        # heaps of (closed_time, order_id): of all closed orders and of each account's; an
        # entry whose order is gone is skipped, and a heap mostly of such is rebuilt
        self.closed: list[tuple[int, int]] = []
        self.closed_of: dict[str, list[tuple[int, int]]] = {}
        self.holdings = Holdings()  # closed orders kept per account
        self.by_account: dict[str, dict[int, None]] = {}  # ordered sets: ids in id order
        self.by_origin: dict[tuple[str, str], dict[int, None]] = {}  # client media only
        # (token, origin) -> account -> [its orders kept, the latest one's time at most]: S10
        # counts an origin's accounts here instead of reading every order of it each block
        self.origin_accounts: dict[tuple[str, str], dict[str, list[int]]] = {}
        self.removed: dict[tuple[str, str], dict[int, None]] = {}  # cancelled gtc orders
        self.sizes: dict[str, list[int]] = {}  # symbol -> [sum of qty, orders]
        self.own_sizes: dict[tuple[str, str], list[int]] = {}
        self.levels: dict[tuple[str, int, str], dict[int, int]] = {}  # -> price -> open qty
        self.heaps: dict[tuple[str, int, str], list[int]] = {}  # side_key of each level
        self.incoming: set[int] = set()  # placed in the transaction being read, not resting
        self.activity: dict[str, Timeline[int]] = {}
        self.active: set[int] = set()  # counted in `counts`
        # symbol -> account -> [orders, qty, orders that traded, qty bought less qty sold]
        self.counts: dict[str, dict[str, list[int]]] = {}
        self.changed: set[int] = set()
        self.touched: set[tuple[str, int, str]] = set()  # book sides changed since the prune
        self.evicted = 0  # orders dropped at the limit (a window's): stales the rules' tallies

    # ---- evidence in -------------------------------------------------------------------------

    def place(self, order: Order) -> None:
        assert order.order_id not in self.orders, order.order_id
        self._index(order)
        self.incoming.add(order.order_id)
        self._count(order)
        self.changed.add(order.order_id)

    def rest(self) -> None:
        """The transaction is over: its orders still open rest on the book."""
        for order_id in sorted(self.incoming):
            order = self.orders[order_id]
            if order.is_open:
                self._add_to_level(order, order.remaining)
        self.incoming.clear()

    def fill(self, order_id: int, qty: int, time: int) -> None:
        order = self.orders.get(order_id)
        if order is None:  # dropped, or placed before this node kept windows
            return
        if order_id not in self.incoming:
            self._add_to_level(order, -qty)
        if order.filled == 0 and order_id in self.active:
            self.counts[order.symbol][order.account][2] += 1
        order.filled += qty
        if order.filled >= order.qty:
            self._close(order, time, None)
        self.changed.add(order_id)

    def cancel(self, order_id: int, time: int, code: str) -> None:
        order = self.orders.get(order_id)
        if order is None or not order.is_open:
            return
        if order_id not in self.incoming:
            self._add_to_level(order, -order.remaining)
        self._close(order, time, code)
        self.changed.add(order_id)

    def _close(self, order: Order, time: int, code: str | None) -> None:
        order.closed_time = time
        order.code = code
        self._keep_closed(order)

    def _keep_closed(self, order: Order) -> None:
        entry = (order.closed_time, order.order_id)
        heapq.heappush(self.closed, entry)
        heapq.heappush(self.closed_of.setdefault(order.account, []), entry)
        self.holdings.add(order.account)
        if order.code is not None and order.tif == "gtc":
            self.removed.setdefault((order.symbol, order.account), {})[order.order_id] = None

    # ---- derived indexes ---------------------------------------------------------------------

    def _index(self, order: Order) -> None:
        self.orders[order.order_id] = order
        self.by_account.setdefault(order.account, {})[order.order_id] = None
        if not order.is_staff:
            self.by_origin.setdefault((order.symbol, order.origin), {})[order.order_id] = None
            row = self.origin_accounts.setdefault((order.symbol, order.origin), {}).setdefault(
                order.account, [0, 0])
            row[0] += 1
            row[1] = max(row[1], order.time)
        for totals in (self.sizes.setdefault(order.symbol, [0, 0]),
                       self.own_sizes.setdefault((order.symbol, order.account), [0, 0])):
            totals[0] += order.qty
            totals[1] += 1

    def _count(self, order: Order) -> None:
        """Into the activity window (S13)."""
        self.activity.setdefault(order.symbol, Timeline()).append(order.time, order.order_id)
        self.active.add(order.order_id)
        row = self.counts.setdefault(order.symbol, {}).setdefault(order.account, [0, 0, 0, 0])
        row[0] += 1
        row[1] += order.qty
        row[2] += order.filled > 0
        row[3] += order.qty if order.side == "buy" else -order.qty

    def _uncount(self, order: Order) -> None:
        self.active.discard(order.order_id)
        accounts = self.counts[order.symbol]
        row = accounts[order.account]
        row[0] -= 1
        row[1] -= order.qty
        row[2] -= order.filled > 0
        row[3] -= order.qty if order.side == "buy" else -order.qty
        if row[0] == 0:
            del accounts[order.account]
            if not accounts:
                del self.counts[order.symbol]

    def _add_to_level(self, order: Order, qty: int) -> None:
        key = (order.symbol, order.session, order.side)
        self.touched.add(key)
        level = self.levels.setdefault(key, {})
        before = level.get(order.price, 0)
        after = before + qty
        assert after >= 0, ("book out of step", order.order_id)
        if after:
            level[order.price] = after
            if not before:
                heapq.heappush(self.heaps.setdefault(key, []), side_key(order.side, order.price))
        else:
            del level[order.price]
            if not level:
                del self.levels[key]

    def _drop(self, order_id: int) -> None:
        order = self.orders.pop(order_id)
        if not order.is_open:
            self.holdings.remove(order.account)
            if order.account not in self.holdings.counts:
                del self.closed_of[order.account]
        account_ids = self.by_account[order.account]
        del account_ids[order_id]
        if not account_ids:
            del self.by_account[order.account]
        for index, key in ((self.by_origin, (order.symbol, order.origin)),
                           (self.removed, (order.symbol, order.account))):
            ids = index.get(key)
            if ids is not None and order_id in ids:
                del ids[order_id]
                if not ids:
                    del index[key]
        if not order.is_staff:
            self._unorigin(order)
        self._unsize(self.sizes, order.symbol, order.qty)
        self._unsize(self.own_sizes, (order.symbol, order.account), order.qty)
        if order_id in self.active:
            self._uncount(order)
        self.changed.discard(order_id)
        self.staged.delete(s.surv_order_key(order_id))

    def _unorigin(self, order: Order) -> None:
        key = (order.symbol, order.origin)
        accounts = self.origin_accounts[key]
        row = accounts[order.account]
        row[0] -= 1
        if not row[0]:
            del accounts[order.account]
            if not accounts:
                del self.origin_accounts[key]

    @staticmethod
    def _unsize(totals: dict[Any, list[int]], key: Any, qty: int) -> None:
        row = totals[key]
        row[0] -= qty
        row[1] -= 1
        if not row[1]:
            del totals[key]

    # ---- reads -------------------------------------------------------------------------------

    def get(self, order_id: int) -> Order | None:
        return self.orders.get(order_id)

    def best(self, symbol: str, session: int, side: str) -> int:
        """The best open price of one side of the token's book in `session` (0: none)."""
        key = (symbol, session, side)
        level, heap = self.levels.get(key), self.heaps.get(key)
        if not level or not heap:
            return NO_PRICE
        top = -heap[0] if side == "buy" else heap[0]
        if top in level:
            return top
        # the top level emptied in this block (prune tidies the heap): reads never write
        return max(level) if side == "buy" else min(level)

    def of_account(self, account: str) -> list[Order]:
        return [self.orders[i] for i in self.by_account.get(account, {})]

    def newest_of(self, account: str) -> Iterator[Order]:
        """The account's orders kept, the last placed first."""
        for order_id in reversed(self.by_account.get(account, {})):
            yield self.orders[order_id]

    def from_origin(self, symbol: str, origin: str, since: int) -> list[Order]:
        """The token's client orders from `origin` placed at or after `since`, in id order."""
        return [order for order in (self.orders[i] for i in self.by_origin.get((symbol, origin),
                                                                                {}))
                if order.time >= since]

    def origin_reach(self, symbol: str, origin: str, since: int) -> int:
        """At least as many accounts as placed the token's orders from `origin` at or after
        `since` (an account whose latest order went first may be counted): a cheap bound
        before `from_origin` reads the orders, per account of the origin, not per order."""
        accounts = self.origin_accounts.get((symbol, origin), {})
        return sum(1 for _, latest in accounts.values() if latest >= since)

    def removed_since(self, symbol: str, account: str, since: int) -> list[Order]:
        """The account's gtc orders of the token cancelled (by any code) at or after
        `since`, in id order."""
        return [order for order in (self.orders[i] for i in self.removed.get((symbol, account),
                                                                              {}))
                if order.closed_time >= since]

    def mean_qty(self, symbol: str, excluding: tuple[str, ...] = ()) -> int:
        """The mean size of the token's orders kept, without those of `excluding`."""
        total, count = self.sizes.get(symbol, (0, 0))
        for account in excluding:
            own_total, own_count = self.own_sizes.get((symbol, account), (0, 0))
            total, count = total - own_total, count - own_count
        return total // count if count > 0 else 0

    def activity_of(self, symbol: str) -> dict[str, list[int]]:
        """account -> [orders, qty, orders that traded] placed in the token within
        `activity_ms` (as of the last prune)."""
        return self.counts.get(symbol, {})

    # ---- bounds ------------------------------------------------------------------------------

    def prune(self, now: int) -> None:
        while self.closed and self.closed[0][0] < now - self.horizon_ms:
            order_id = heapq.heappop(self.closed)[1]
            if order_id in self.orders:
                self._drop(order_id)
        while self.holdings.total > self.limits.closed_orders:
            heap = self.closed_of[self.holdings.largest()]
            while heap[0][1] not in self.orders:
                heapq.heappop(heap)
            self._drop(heapq.heappop(heap)[1])
            self.evicted += 1
        self._tidy_closed()
        since = now - self.activity_ms
        for symbol in sorted(self.activity):
            window = self.activity[symbol]
            while window and window.first_time() < since:
                order_id = window.pop_first()
                order = self.orders.get(order_id)
                if order is not None and order_id in self.active:
                    self._uncount(order)
            if not window:
                del self.activity[symbol]
        for key in sorted(self.touched):
            if key in self.heaps:
                self._tidy_heap(key)
        self.touched.clear()

    def _tidy_closed(self) -> None:
        """Rebuild the heaps of closed orders that hold mostly orders gone (memory only: every
        choice is made on the orders kept)."""
        if len(self.closed) > 2 * self.holdings.total + STALE_SLACK:
            self.closed = [(o.closed_time, o.order_id) for o in self.orders.values()
                           if not o.is_open]
            heapq.heapify(self.closed)
            for account, heap in self.closed_of.items():
                if len(heap) > 2 * self.holdings.counts[account] + STALE_SLACK:
                    heap[:] = [entry for entry in heap if entry[1] in self.orders]
                    heapq.heapify(heap)

    def _tidy_heap(self, key: tuple[str, int, str]) -> None:
        """Drop heap entries of emptied levels (prune only: reads never write)."""
        heap, level = self.heaps[key], self.levels.get(key, {})
        side = key[2]
        if len(heap) > 2 * len(level) + 16:  # stale entries below the top: start afresh
            heap[:] = [side_key(side, price) for price in level]
            heapq.heapify(heap)
        while heap and (-heap[0] if side == "buy" else heap[0]) not in level:
            heapq.heappop(heap)
        if not heap:
            del self.heaps[key]

    def stage(self) -> None:
        for order_id in sorted(self.changed):
            self.staged.put(s.surv_order_key(order_id), pack(self.orders[order_id]))
        self.changed.clear()

    def load(self, store: KV, now: int) -> None:
        since = now - self.activity_ms
        for _, value in store.iterate(s.SURV_ORDER):
            order = Order(*unpack(value))
            self._index(order)
            if order.is_open:
                self._add_to_level(order, order.remaining)
            else:
                self._keep_closed(order)
            if order.time >= since:
                self._count(order)


def describe(order: Order) -> dict[str, Any]:
    return {"order_id": order.order_id, "account": order.account, "side": order.side,
            "price": order.price, "qty": order.qty, "filled": order.filled,
            "code": order.code}
