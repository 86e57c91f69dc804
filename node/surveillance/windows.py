"""The surveillance windows: recent orders, trades and near-threshold cash flows, in memory,
bounded, and mirrored into the store so a restarted node holds exactly what it held before.

Records are small slotted dataclasses built from committed receipts (node.surveillance.indexer).
Every change is also staged as a put or delete of its `v/` key (node.storage.schema) into the
block's batch, so the store and the memory agree block for block; `Windows.load` rebuilds the
memory from those keys. Derived structures (per-account lists, origin maps, the S6 counters,
the mean order size) are rebuilt from the records, and every read of them filters by time, so
what a rule sees does not depend on when pruning last ran or on a restart in between.

Bounds (each is also a time horizon, the longest window a rule of genesis asks for):
- orders: every open order, and closed ones for `order_horizon_ms`, at most MAX_CLOSED_ORDERS;
- trades: per token for `trade_horizon_ms`, at most MAX_TRADES_PER_SYMBOL;
- cash flows near the reporting threshold: per account for `cash_horizon_ms`, at most
  MAX_CASH_PER_ACCOUNT.
Iteration never depends on dict or set order: lists are in id or time order, and rules sort.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import msgpack

from consensus import codec
from node.storage import KV, Batch
from node.storage import schema as s

MAX_CLOSED_ORDERS = 500_000  # a busy day of closed orders; the oldest go first beyond it
MAX_TRADES_PER_SYMBOL = 200_000
MAX_CASH_PER_ACCOUNT = 1_000
SWEEP_EVERY_BLOCKS = 1_000  # origin maps and alert markers are swept of stale entries


@dataclass(slots=True)
class Order:
    order_id: int
    symbol: str
    account: str
    broker: str
    side: str
    price: int
    qty: int
    media: str
    origin: str
    time: int
    height: int
    tx_id: str
    filled: int = 0
    closed_time: int = -1  # -1 while open
    code: str | None = None  # why it was cancelled

    @property
    def is_open(self) -> bool:
        return self.closed_time < 0


@dataclass(frozen=True, slots=True)
class Trade:
    trade_id: int
    symbol: str
    price: int
    qty: int
    buyer: str
    seller: str
    buy_order: int
    sell_order: int
    aggressor: str  # "buy" | "sell"
    prev_price: int  # the token's last price before this trade
    time: int
    height: int
    index: int  # of its transaction in the block
    tx_id: str

    @property
    def aggressor_account(self) -> str:
        return self.buyer if self.aggressor == "buy" else self.seller


@dataclass(frozen=True, slots=True)
class CashFlow:
    account: str  # who moved it: the sender of a transfer, the recipient of a deposit
    counterparty: str | None
    amount: int
    kind: str  # "transfer" | "deposit"
    time: int
    height: int
    index: int
    seq: int  # of the event in its transaction
    tx_id: str


FIELDS = {kind: attrgetter(*kind.__slots__) for kind in (Order, Trade, CashFlow)}


def pack(record: Order | Trade | CashFlow) -> bytes:
    """A record as a msgpack array of its fields (integers, strings and nil only, so this is
    also the canonical encoding)."""
    packed: bytes = msgpack.packb(FIELDS[type(record)](record), use_bin_type=True)
    return packed


def unpack(value: bytes) -> list[Any]:
    fields: list[Any] = msgpack.unpackb(value, raw=False)
    return fields


class Windows:
    """The records the rules read, and the staged writes that mirror them in the store."""

    def __init__(self, order_horizon_ms: int, trade_horizon_ms: int, cash_horizon_ms: int,
                 participation_ms: int) -> None:
        self.order_horizon_ms = order_horizon_ms
        self.trade_horizon_ms = trade_horizon_ms
        self.cash_horizon_ms = cash_horizon_ms
        self.participation_ms = participation_ms
        self.orders: dict[int, Order] = {}
        self.closed: list[tuple[int, int]] = []  # heap of (closed_time, order_id)
        self.account_orders: dict[str, list[int]] = {}  # in id order; may hold pruned ids
        self.origin_orders: dict[tuple[str, str], list[int]] = {}  # (symbol, origin) -> ids
        # (symbol, origin) -> account -> time of its latest order from there
        self.origin_accounts: dict[tuple[str, str], dict[str, int]] = {}
        self.account_origins: dict[str, dict[str, int]] = {}  # account -> origin -> last time
        self.size_totals: dict[str, list[int]] = {}  # symbol -> [sum of qty, orders]
        self.own_sizes: dict[tuple[str, str], list[int]] = {}  # (symbol, account) -> same
        self.cancels: dict[tuple[str, str], list[Order]] = {}  # (symbol, account) -> CANCELLED
        # per symbol, (time, price) with prices falling / rising: the window's max and min
        self.highs: dict[str, deque[tuple[int, int]]] = {}
        self.lows: dict[str, deque[tuple[int, int]]] = {}
        self.trades: dict[str, deque[Trade]] = {}
        self.account_trades: dict[tuple[str, str], deque[Trade]] = {}  # (symbol, account)
        self.participation: dict[str, deque[Trade]] = {}  # S6 window per symbol ...
        self.participation_qty: dict[str, dict[str, int]] = {}  # ... and its counters
        self.last_price: dict[str, int] = {}
        self.cash: dict[str, deque[CashFlow]] = {}
        self.fired: dict[str, int] = {}  # "<rule>/<subject>" -> time of the last alert
        self._puts: dict[bytes, bytes] = {}
        self._deletes: set[bytes] = set()
        self._changed_orders: set[int] = set()  # packed once, when the block is staged

    # ---- staging -----------------------------------------------------------------------------

    def _put(self, key: bytes, value: bytes) -> None:
        self._deletes.discard(key)
        self._puts[key] = value

    def _delete(self, key: bytes) -> None:
        self._puts.pop(key, None)
        self._deletes.add(key)

    def stage(self, batch: Batch) -> None:
        """Move the changes since the last call into the block's batch."""
        for order_id in sorted(self._changed_orders):
            order = self.orders.get(order_id)
            if order is not None:
                self._put(s.surv_order_key(order_id), pack(order))
        self._changed_orders.clear()
        for key in sorted(self._deletes):
            batch.delete(key)
        for key in sorted(self._puts):
            batch.put(key, self._puts[key])
        self._puts.clear()
        self._deletes.clear()

    # ---- orders ------------------------------------------------------------------------------

    def add_order(self, order: Order) -> None:
        assert order.order_id not in self.orders, order.order_id
        self._index_order(order)
        self._changed_orders.add(order.order_id)

    def _index_order(self, order: Order) -> None:
        self.orders[order.order_id] = order
        if not order.is_open:
            heapq.heappush(self.closed, (order.closed_time, order.order_id))
        self.account_orders.setdefault(order.account, []).append(order.order_id)
        self.origin_orders.setdefault((order.symbol, order.origin), []).append(order.order_id)
        origins = self.account_origins.setdefault(order.account, {})
        origins[order.origin] = max(origins.get(order.origin, 0), order.time)
        accounts = self.origin_accounts.setdefault((order.symbol, order.origin), {})
        accounts[order.account] = max(accounts.get(order.account, 0), order.time)
        for totals in (self.size_totals.setdefault(order.symbol, [0, 0]),
                       self.own_sizes.setdefault((order.symbol, order.account), [0, 0])):
            totals[0] += order.qty
            totals[1] += 1
        if order.code == "CANCELLED":
            self.cancels.setdefault((order.symbol, order.account), []).append(order)

    def fill_order(self, order_id: int, qty: int, time: int) -> None:
        order = self.orders.get(order_id)
        if order is None:  # placed before this node kept windows
            return
        order.filled += qty
        if order.filled >= order.qty:
            self._close(order, time, None)
        self._changed_orders.add(order_id)

    def cancel_order(self, order_id: int, time: int, code: str) -> None:
        order = self.orders.get(order_id)
        if order is None or not order.is_open:
            return
        self._close(order, time, code)
        self._changed_orders.add(order_id)

    def _close(self, order: Order, time: int, code: str | None) -> None:
        order.closed_time = time
        order.code = code
        heapq.heappush(self.closed, (time, order.order_id))
        if code == "CANCELLED":
            self.cancels.setdefault((order.symbol, order.account), []).append(order)

    def _drop_order(self, order_id: int) -> None:
        order = self.orders.pop(order_id)
        for totals in (self.size_totals[order.symbol],
                       self.own_sizes[(order.symbol, order.account)]):
            totals[0] -= order.qty
            totals[1] -= 1
        if order.code == "CANCELLED":
            key = (order.symbol, order.account)
            self.cancels[key] = [o for o in self.cancels[key] if o.order_id != order_id]
            if not self.cancels[key]:
                del self.cancels[key]
        self._delete(s.surv_order_key(order_id))

    def cancelled_since(self, symbol: str, account: str, since: int) -> list[Order]:
        """The account's orders of the token cancelled by its broker at or after `since`, in
        order id order."""
        return sorted((o for o in self.cancels.get((symbol, account), ())
                       if o.closed_time >= since), key=lambda o: o.order_id)

    def orders_of(self, account: str) -> list[Order]:
        """The account's orders in the window, oldest first."""
        ids = self.account_orders.get(account, [])
        live = [self.orders[i] for i in ids if i in self.orders]
        if len(ids) > 2 * len(live) + 16:
            self.account_orders[account] = [order.order_id for order in live]
        return live

    def orders_from(self, symbol: str, origin: str) -> list[Order]:
        ids = self.origin_orders.get((symbol, origin), [])
        live = [self.orders[i] for i in ids if i in self.orders]
        if len(ids) > 2 * len(live) + 16:
            self.origin_orders[(symbol, origin)] = [order.order_id for order in live]
        return live

    def accounts_from(self, symbol: str, origin: str, since: int) -> list[str]:
        """The accounts that placed orders in the token from `origin` at or after `since`."""
        return sorted(account for account, last
                      in self.origin_accounts.get((symbol, origin), {}).items() if last >= since)

    def mean_order_qty(self, symbol: str, excluding: str | None = None) -> int:
        """The mean size of the token's orders in the window, without the account
        `excluding`'s."""
        total, count = self.size_totals.get(symbol, [0, 0])
        if excluding is not None:
            own_total, own_count = self.own_sizes.get((symbol, excluding), [0, 0])
            total, count = total - own_total, count - own_count
        return total // count if count > 0 else 0

    def origins_of(self, account: str, since: int) -> list[str]:
        """The origins the account placed orders from at or after `since`, sorted."""
        return sorted(origin for origin, last in self.account_origins.get(account, {}).items()
                      if last >= since)

    # ---- trades ------------------------------------------------------------------------------

    def add_trade(self, trade: Trade) -> None:
        self._index_trade(trade)
        self.last_price[trade.symbol] = trade.price
        self._put(s.surv_trade_key(trade.symbol, trade.trade_id), pack(trade))
        self._put(s.surv_price_key(trade.symbol), codec.pack(trade.price))

    def _index_trade(self, trade: Trade) -> None:
        self.trades.setdefault(trade.symbol, deque()).append(trade)
        highs = self.highs.setdefault(trade.symbol, deque())
        while highs and highs[-1][1] <= trade.price:
            highs.pop()
        highs.append((trade.time, trade.price))
        lows = self.lows.setdefault(trade.symbol, deque())
        low = min(trade.price, trade.prev_price)
        while lows and lows[-1][1] >= low:
            lows.pop()
        lows.append((trade.time, low))
        for account in (trade.buyer, trade.seller):
            self.account_trades.setdefault((trade.symbol, account), deque()).append(trade)
        self.participation.setdefault(trade.symbol, deque()).append(trade)
        counts = self.participation_qty.setdefault(trade.symbol, {})
        for account in (trade.buyer, trade.seller):
            counts[account] = counts.get(account, 0) + trade.qty

    def first_trade_id(self, symbol: str) -> int:
        trades = self.trades.get(symbol)
        return trades[0].trade_id if trades else 1 << 62

    def trades_since(self, symbol: str, since: int) -> list[Trade]:
        """The token's trades at or after time `since`, oldest first."""
        trades = self.trades.get(symbol, deque())
        found: list[Trade] = []
        for trade in reversed(trades):
            if trade.time < since:
                break
            found.append(trade)
        found.reverse()
        return found

    def price_range(self, symbol: str, since: int) -> tuple[int, int] | None:
        """(lowest, highest) price of the token's trades at or after `since` (the lowest also
        counts the price before each of them), or None without trades."""
        highs, lows = self.highs.get(symbol), self.lows.get(symbol)
        for extremes in (highs, lows):
            while extremes and extremes[0][0] < since:
                extremes.popleft()
        if not highs or not lows:
            return None
        return lows[0][1], highs[0][1]

    def account_trades_since(self, symbol: str, account: str, since: int) -> list[Trade]:
        first = self.first_trade_id(symbol)
        return [trade for trade in self.account_trades.get((symbol, account), ())
                if trade.time >= since and trade.trade_id >= first]

    def participation_window(self, symbol: str, now: int) -> tuple[deque[Trade],
                                                                    dict[str, int]]:
        """The S6 window of the token (trades within `participation_ms` of `now`, and still in
        the trade window) and each account's traded qty in it."""
        window = self.participation.setdefault(symbol, deque())
        counts = self.participation_qty.setdefault(symbol, {})
        first = self.first_trade_id(symbol)
        since = now - self.participation_ms
        while window and (window[0].time < since or window[0].trade_id < first):
            trade = window.popleft()
            for account in (trade.buyer, trade.seller):
                left = counts[account] - trade.qty
                if left:
                    counts[account] = left
                else:
                    del counts[account]
        return window, counts

    # ---- cash --------------------------------------------------------------------------------

    def add_cash(self, flow: CashFlow) -> None:
        flows = self.cash.setdefault(flow.account, deque())
        flows.append(flow)
        self._put(s.surv_cash_key(flow.account, flow.height, flow.index, flow.seq), pack(flow))
        while len(flows) > MAX_CASH_PER_ACCOUNT:
            self._drop_cash(flows.popleft())

    def _drop_cash(self, flow: CashFlow) -> None:
        self._delete(s.surv_cash_key(flow.account, flow.height, flow.index, flow.seq))

    def cash_since(self, account: str, since: int) -> list[CashFlow]:
        return [flow for flow in self.cash.get(account, ()) if flow.time >= since]

    # ---- alert markers -----------------------------------------------------------------------

    def last_fired(self, rule: str, subject: str) -> int | None:
        return self.fired.get(f"{rule}/{subject}")

    def mark_fired(self, rule: str, subject: str, time: int) -> None:
        self.fired[f"{rule}/{subject}"] = time
        self._put(s.surv_fired_key(rule, subject), s.u64(time))

    # ---- pruning -----------------------------------------------------------------------------

    def prune(self, now: int, height: int) -> None:
        """Drop what is older than every window (called with each block's time)."""
        while self.closed and (self.closed[0][0] < now - self.order_horizon_ms
                               or len(self.closed) > MAX_CLOSED_ORDERS):
            _, order_id = heapq.heappop(self.closed)
            if order_id in self.orders:
                self._drop_order(order_id)
        for symbol in sorted(self.trades):
            trades = self.trades[symbol]
            while trades and (trades[0].time < now - self.trade_horizon_ms
                              or len(trades) > MAX_TRADES_PER_SYMBOL):
                trade = trades.popleft()
                self._delete(s.surv_trade_key(symbol, trade.trade_id))
                for account in (trade.buyer, trade.seller):
                    mine = self.account_trades[(symbol, account)]
                    while mine and mine[0].trade_id <= trade.trade_id:
                        mine.popleft()
                    if not mine:
                        del self.account_trades[(symbol, account)]
        for account in sorted(self.cash):
            flows = self.cash[account]
            while flows and flows[0].time < now - self.cash_horizon_ms:
                self._drop_cash(flows.popleft())
            if not flows:
                del self.cash[account]
        if height % SWEEP_EVERY_BLOCKS == 0:
            self._sweep(now)

    def _sweep(self, now: int) -> None:
        """Forget origins and alert markers older than any window (reads filter by time, so
        when this runs changes nothing a rule sees)."""
        since = now - self.order_horizon_ms
        for account in sorted(self.account_origins):
            origins = self.account_origins[account]
            for origin in sorted(origins):
                if origins[origin] < since:
                    del origins[origin]
            if not origins:
                del self.account_origins[account]
        for key in sorted(self.origin_accounts):
            accounts = self.origin_accounts[key]
            for account in sorted(accounts):
                if accounts[account] < since:
                    del accounts[account]
            if not accounts:
                del self.origin_accounts[key]
        horizon = now - max(self.order_horizon_ms, self.trade_horizon_ms, self.cash_horizon_ms)
        for marker in sorted(self.fired):
            if self.fired[marker] < horizon:
                del self.fired[marker]
                rule, subject = marker.split("/", 1)
                self._delete(s.surv_fired_key(rule, subject))

    # ---- loading -----------------------------------------------------------------------------

    def load(self, store: KV) -> None:
        """Rebuild the memory from the `v/` keys of the store (after a restart)."""
        for _, value in store.iterate(s.SURV_ORDER):
            self._index_order(Order(*unpack(value)))
        for _, value in store.iterate(s.SURV_TRADE):
            self._index_trade(Trade(*unpack(value)))
        for raw, value in store.iterate(s.SURV_PRICE):
            self.last_price[raw[len(s.SURV_PRICE):].decode()] = int(codec.unpack(value))
        for _, value in store.iterate(s.SURV_CASH):
            flow = CashFlow(*unpack(value))
            self.cash.setdefault(flow.account, deque()).append(flow)
        for raw, value in store.iterate(s.SURV_FIRED):
            self.fired[raw[len(s.SURV_FIRED):].decode()] = s.read_u64(value)


def unpack_alert(value: bytes) -> dict[str, Any]:
    alert: dict[str, Any] = codec.unpack(value)
    return alert
