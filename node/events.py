"""The event hub behind `GET /v1/events`: who is subscribed, and what each may see.

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
The 64-hex `origin` of an order is never read as an account (node.audit.NOT_ACCOUNTS).

Each subscriber has a bounded queue; one that falls EVENT_QUEUE items behind is cut
off rather than waited for (a slow reader must not hold the node). The RPC layer streams a
subscriber's queue; `None` in a queue means the stream ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from node.audit import accounts_named
from node.executor import AppliedBlock

MAX_EVENT_SUBSCRIBERS = 256
EVENT_QUEUE = 1_000  # per subscriber; a slow reader is cut off, not waited for
SEES_EVERYTHING = frozenset({"regulator", "registrar", "operator"})
MARKET_WIDE = frozenset({"Trade", "MarketHalted", "MarketResumed"})  # of contract `market`
TRADE_ACCOUNTS = ("buyer", "seller")
ORDER_EVENTS = frozenset({"OrderPlaced", "OrderCancelled"})


@dataclass
class Subscriber:
    account: str
    role: str | None
    queue: asyncio.Queue[dict[str, Any] | None]


class EventHub:
    def __init__(self, broker_of: Callable[[str], str | None] | None = None) -> None:
        self.subscribers: list[Subscriber] = []
        self.broker_of = broker_of  # account -> the broker that registered it

    def full(self) -> bool:
        return len(self.subscribers) >= MAX_EVENT_SUBSCRIBERS

    def subscribe(self, account: str, role: str | None) -> Subscriber:
        sub = Subscriber(account, role, asyncio.Queue(EVENT_QUEUE))
        self.subscribers.append(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        if sub in self.subscribers:
            self.subscribers.remove(sub)

    def close(self) -> None:
        for sub in self.subscribers:
            sub.queue.put_nowait(None)

    def publish(self, applied: AppliedBlock) -> None:
        if not self.subscribers:
            return
        block_event = {"event": "block", "data": {
            "height": applied.block.height, "hash": applied.block.hash.hex(),
            "txs": len(applied.receipts)}}
        for sub in list(self.subscribers):
            items = [block_event]
            for receipt in applied.receipts:
                for event in receipt.events:
                    shown = visible(sub, event, self.broker_of)
                    if shown is not None:
                        items.append({"event": "contract", "data": {
                            "tx_id": receipt.tx_id.hex(), "height": receipt.height, **shown}})
            for item in items:
                try:
                    sub.queue.put_nowait(item)
                except asyncio.QueueFull:
                    self.subscribers.remove(sub)
                    break


def visible(sub: Subscriber, event: dict[str, Any],
            broker_of: Callable[[str], str | None] | None = None) -> dict[str, Any] | None:
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
