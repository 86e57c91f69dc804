"""The event hub behind `GET /v1/events`: who is subscribed, and what each may see.

After each applied block the node publishes a `block` event and the block's contract events.
A subscriber sees every `block` event, and the contract events its role allows: the regulator,
the registrar and operators see all of them, anyone else only the events that name its
account. The surveillance alerts the block raised (node.surveillance) go out as `alert`
events to the regulator and the registrar only. Each subscriber has a bounded queue; one that
falls EVENT_QUEUE items behind is cut off rather than waited for (a slow reader must not hold
the node). The RPC layer streams a subscriber's queue; `None` in a queue means the stream ends.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from node.audit import accounts_named
from node.executor import AppliedBlock

MAX_EVENT_SUBSCRIBERS = 256
EVENT_QUEUE = 1_000  # per subscriber; a slow reader is cut off, not waited for
SEES_EVERYTHING = frozenset({"regulator", "registrar", "operator"})
SEES_ALERTS = frozenset({"regulator", "registrar"})


@dataclass
class Subscriber:
    account: str
    role: str | None
    queue: asyncio.Queue[dict[str, Any] | None]


class EventHub:
    def __init__(self) -> None:
        self.subscribers: list[Subscriber] = []

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
                    if may_see(sub, event):
                        items.append({"event": "contract", "data": {
                            "tx_id": receipt.tx_id.hex(), "height": receipt.height, **event}})
            if sub.role in SEES_ALERTS:
                items += [{"event": "alert", "data": alert}
                          for alert in applied.notes.get("alerts", ())]
            for item in items:
                try:
                    sub.queue.put_nowait(item)
                except asyncio.QueueFull:
                    self.subscribers.remove(sub)
                    break


def may_see(sub: Subscriber, event: dict[str, Any]) -> bool:
    """Regulator, registrar and operators see every event; others the ones naming them."""
    if sub.role in SEES_EVERYTHING:
        return True
    named: set[str] = set()
    accounts_named(event.get("data"), named)
    return sub.account in named
