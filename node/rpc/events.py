"""The event hub behind `GET /v1/events`: who is subscribed, what each may see, and how a
client resumes without a gap.

After each applied block the node publishes a `block` event and the block's contract events.
A subscriber sees every `block` event, and the contract events its role allows (`visible`):
- the regulator, the registrar and operators see all of them, as they are;
- every registered account sees the market-wide events (`Trade`, `MarketHalted`,
  `MarketResumed`), a `Trade` without `buyer` and `seller` (PROTOCOL "market": everyone
  registered sees trades without accounts; a party knows its fills by its order ids);
- an investor sees the events that name its account (`OrderPlaced`, `OrderCancelled` of its
  own orders, ...); the settlement legs of a trade (the token `Transfer` with a `trade_id`,
  the `CashTransfer` with a "trade N" memo) show it its own side only, the counterparty as
  null, so a trade stays anonymous;
- a broker sees, besides the events that name it, `OrderPlaced` and `OrderCancelled` of its
  clients' orders (the broker that registered the account, `broker_of`);
- an unregistered key sees the events that name it, nothing market-wide.
The 64-hex `origin` of an order is never read as an account (node.ledger.audit.NOT_ACCOUNTS). A
subscriber that asked for `?only=block` (the console) gets block events alone, so it costs
nothing per transaction. The surveillance alerts the block raised (node.surveillance)
go out as `alert` events, after its contract events, to the regulator and the registrar only
(a console asking for block events gets them too); a resume does not replay them: the client
reads `/v1/audit/alerts` instead.

Event ids. The events of block H are numbered H.0 (the `block` event), H.1, H.2, ... (the
events of its begin-block hooks first, with `tx_id` null: orders expired at a session's close,
a dividend's record date fixed; then its contract events in receipt order; all numbered
whether or not this subscriber may see them), so an id names the same event on every node and
for every subscriber. A client that reconnects with
`Last-Event-ID: H.i` is sent, from the store, the events of block H after i and of every block
after H up to the height at which it subscribed, then the live ones: nothing is missed and
nothing repeats (`replay`). A resume point more than MAX_REPLAY_BLOCKS behind, or above the
node's height, ends the stream with a `closed` event (`too_far_behind`, `unknown_id`): the
client reads what it missed from the audit routes instead.

Who may subscribe (issue 27, item 3: 255 streams from throw-away keys refused the regulator's
console stream). Only registered callers (an operator or observer key of genesis, or an account
with an active identity record) subscribe; any other key is refused 403 like any other read.
Streams are capped per account (MAX_STREAMS_PER_ACCOUNT) and, for everyone but the
supervisors, per client address (MAX_STREAMS_PER_ADDRESS); the last SUPERVISOR_STREAMS of the
MAX_EVENT_SUBSCRIBERS slots are kept for the supervisors (the regulator, the registrar, which
runs the FDS responder on the alert stream, operators and observers), so no number of
investors' or brokers' streams can refuse the regulator's. `refusal` says which cap a new
stream would break; past any of them it is 503 `busy`.

Each subscriber has a bounded queue; one that falls EVENT_QUEUE items behind is cut off rather
than waited for (a slow reader must not hold the node): its queue is emptied and replaced by a
final `closed` event with reason `overflow` and the id to resume from, then the end of the
stream (`None`). It keeps its place in the subscriber limit until its stream has closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from node.ledger.audit import accounts_named
from node.ledger.executor import AppliedBlock, Executor, Receipt

MAX_EVENT_SUBSCRIBERS = 256  # streams per node (each holds a connection and a queue)
SUPERVISOR_STREAMS = 32  # of those, kept for SUPERVISORS: a console or FDS responder each ...
MAX_STREAMS_PER_ACCOUNT = 8  # ... (a console tab, an fds run, a reconnect racing the old one)
MAX_STREAMS_PER_ADDRESS = 32  # one gateway or office; supervisors are bounded per account only
EVENT_QUEUE = 1_000  # per subscriber; a slow reader is cut off, not waited for
MAX_REPLAY_BLOCKS = 10_000  # how far back Last-Event-ID may resume (about 10 minutes of blocks)
SEES_EVERYTHING = frozenset({"regulator", "registrar", "operator"})
MARKET_WIDE = frozenset({"Trade", "MarketHalted", "MarketResumed"})  # of contract `market`
TRADE_ACCOUNTS = ("buyer", "seller")
ORDER_EVENTS = frozenset({"OrderPlaced", "OrderCancelled"})
SEES_ALERTS = frozenset({"regulator", "registrar"})
SUPERVISORS = SEES_EVERYTHING | SEES_ALERTS | {"observer"}
BrokerOf = Callable[[str], str | None]

Item = dict[str, Any]  # {"id": "H.i", "event": name, "data": {...}}


@dataclass
class Viewer:
    """Who is looking: a signed caller's account and its role (None: a key with no role)."""

    account: str
    role: str | None


@dataclass
class Subscriber(Viewer):
    queue: asyncio.Queue[Item | None]
    cut: str | None = None  # why the hub stopped publishing to it
    blocks_only: bool = False  # `?only=block` (the console): no contract events at all
    address: str = ""  # the client's address, for MAX_STREAMS_PER_ADDRESS


def event_id(height: int, index: int) -> str:
    return f"{height}.{index}"


def parse_event_id(text: str) -> tuple[int, int] | None:
    height, dot, index = text.partition(".")
    if not dot or not height.isascii() or not index.isascii():
        return None
    if not (height.isdigit() and index.isdigit()) or len(height) > 19 or len(index) > 9:
        return None
    return int(height), int(index)


def block_items(height: int, block_hash: bytes, receipts: list[Receipt],
                alerts: Iterable[dict[str, Any]] = (),
                hook_events: Iterable[dict[str, Any]] = ()) -> list[Item]:
    """Every event of one block, numbered, before any filtering by subscriber: the block, the
    events of its begin-block hooks (no transaction: `tx_id` null), each receipt's events,
    the alerts."""
    items: list[Item] = [{"id": event_id(height, 0), "event": "block", "data": {
        "height": height, "hash": block_hash.hex(), "txs": len(receipts)}}]
    for event in hook_events:
        items.append({"id": event_id(height, len(items)), "event": "contract", "data": {
            "tx_id": None, "height": height, **event}})
    for receipt in receipts:
        for event in receipt.events:
            items.append({"id": event_id(height, len(items)), "event": "contract", "data": {
                "tx_id": receipt.tx_id.hex(), "height": receipt.height, **event}})
    for alert in alerts:
        items.append({"id": event_id(height, len(items)), "event": "alert", "data": alert})
    return items


def shown(sub: Subscriber, item: Item, broker_of: BrokerOf | None = None) -> Item | None:
    """`item` as `sub` may see it (the rules of the module docstring), or None."""
    if item["event"] == "alert":
        return item if sub.role in SEES_ALERTS else None
    if item["event"] != "contract":
        return item
    if sub.blocks_only:
        return None
    data = item["data"]
    event = {"contract": data.get("contract"), "name": data.get("name"),
             "data": data.get("data")}
    seen = visible(sub, event, broker_of)
    if seen is None:
        return None
    return item if seen is event else dict(item, data=dict(data, **seen))


class EventHub:
    def __init__(self, broker_of: BrokerOf | None = None) -> None:
        self.subscribers: list[Subscriber] = []
        self.overflows = 0
        self.broker_of = broker_of  # account -> the broker that registered it

    def refusal(self, account: str, role: str | None, address: str) -> str | None:
        """Which cap (module docstring) a new stream of `account` from `address` would
        break, as a message for 503 `busy`; None if it fits. A stream cut but not yet closed
        still counts."""
        supervisor = role in SUPERVISORS
        slots = MAX_EVENT_SUBSCRIBERS - (0 if supervisor else SUPERVISOR_STREAMS)
        if len(self.subscribers) >= slots:
            kept = "" if supervisor else f", the last {SUPERVISOR_STREAMS} for the supervisors"
            return f"at most {MAX_EVENT_SUBSCRIBERS} event streams{kept}"
        if sum(sub.account == account for sub in self.subscribers) >= MAX_STREAMS_PER_ACCOUNT:
            return f"this account has {MAX_STREAMS_PER_ACCOUNT} event streams open"
        if not supervisor and sum(sub.address == address for sub in self.subscribers
                                  ) >= MAX_STREAMS_PER_ADDRESS:
            return f"this address has {MAX_STREAMS_PER_ADDRESS} event streams open"
        return None

    def subscribe(self, account: str, role: str | None, blocks_only: bool = False,
                  address: str = "") -> Subscriber:
        sub = Subscriber(account, role, asyncio.Queue(EVENT_QUEUE), blocks_only=blocks_only,
                         address=address)
        self.subscribers.append(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        if sub in self.subscribers:
            self.subscribers.remove(sub)

    def close(self) -> None:
        for sub in self.subscribers:
            self._cut(sub, "shutdown", "the node is stopping")

    def publish(self, applied: AppliedBlock) -> None:
        if not self.subscribers:
            return
        items = block_items(applied.block.height, applied.block.hash, applied.receipts,
                            applied.notes.get("alerts", ()), applied.hook_events)
        for sub in self.subscribers:
            if sub.cut is not None:
                continue
            for item in items:
                seen = shown(sub, item, self.broker_of)
                if seen is None:
                    continue
                try:
                    sub.queue.put_nowait(seen)
                except asyncio.QueueFull:
                    self.overflows += 1
                    self._cut(sub, "overflow", f"more than {EVENT_QUEUE} events behind; "
                              "reconnect with Last-Event-ID to resume")
                    break

    def _cut(self, sub: Subscriber, reason: str, message: str) -> None:
        """End `sub`'s stream with a final `closed` event; what was queued but not sent is
        dropped (a resume sends it again from the store)."""
        if sub.cut is not None:
            return
        sub.cut = reason
        while not sub.queue.empty():
            sub.queue.get_nowait()
        data = {"reason": reason, "message": message}
        sub.queue.put_nowait({"id": None, "event": "closed", "data": data})
        sub.queue.put_nowait(None)


def replay(executor: Executor, sub: Subscriber, after: tuple[int, int], top: int,
           broker_of: BrokerOf | None = None) -> Iterator[Item]:
    """The events `sub` may see after event id `after`, through block `top`, from the store."""
    height, index = after
    for h in range(height, top + 1):
        if h == 0:
            continue
        block = executor.block(h)
        assert block is not None, h
        items = block_items(h, block.hash, executor.receipts_at(h),
                            hook_events=executor.hook_events_at(h))
        for number, item in enumerate(items):
            if h == height and number <= index:
                continue
            seen = shown(sub, item, broker_of)
            if seen is not None:
                yield seen


def visible(sub: Viewer, event: dict[str, Any],
            broker_of: BrokerOf | None = None) -> dict[str, Any] | None:
    """The event as `sub` may see it (the rules of the module docstring), or None."""
    if sub.role in SEES_EVERYTHING:
        return event
    data = event.get("data")
    if not isinstance(data, dict):
        return None
    contract, name = event.get("contract"), event.get("name")
    if contract == "market" and name in MARKET_WIDE:
        if sub.role is None:
            return None
        if name == "Trade":
            return dict(event, data={k: v for k, v in data.items() if k not in TRADE_ACCOUNTS})
        return event
    named: set[str] = set()
    accounts_named(data, named)
    if sub.account in named:
        if is_settlement_leg(event):
            return dict(event, data={k: (v if k not in ("from", "to") or v == sub.account
                                         else None) for k, v in data.items()})
        return event
    if (contract == "market" and name in ORDER_EVENTS and sub.role == "broker"
            and broker_of is not None and isinstance(data.get("account"), str)
            and broker_of(data["account"]) == sub.account):
        return event
    return None


def registering_broker(executor: Executor) -> BrokerOf:
    """account -> the broker that registered it, from its committed identity record."""

    def broker_of(account: str) -> str | None:
        record = executor.identity(account)
        return None if record is None else record.get("broker")

    return broker_of


def is_settlement_leg(event: dict[str, Any]) -> bool:
    """A trade's delivery (token `Transfer` with a `trade_id`) or payment (`CashTransfer`
    whose memo is "trade N...")."""
    data = event["data"]
    if event.get("contract") == "token" and event.get("name") == "Transfer":
        return data.get("trade_id") is not None
    if event.get("contract") == "cash" and event.get("name") == "CashTransfer":
        memo = data.get("memo")
        return isinstance(memo, str) and memo.startswith("trade ")
    return False
