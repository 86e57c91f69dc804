"""The buffer of messages for views this replica has not entered yet.

A PRE-PREPARE, PREPARE or COMMIT of a later view (or of the current one while its view change
runs) usually means the NEW-VIEW is still in flight on another link; dropping it would leave
the pipeline to retransmissions that PBFT does not make. So the replica keeps it, per sender,
and replays it once the view starts. What one sender can make it keep is bounded twice: at
most FUTURE_VIEW_BUFFER_PER_SENDER messages, and at most a byte budget that fits a pipeline
of full blocks plus that many small messages (`buffered_bytes` is what one costs).

It returns values and emits nothing: `add` says whether the message was kept, `prune` drops
what the view has moved past, and `drain` hands everything back, senders in the order given,
each sender's messages in arrival order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from consensus import messages as msg
from consensus.constants import (
    FUTURE_VIEW_BUFFER_PER_SENDER,
    MESSAGE_OVERHEAD_BYTES,
    SMALL_MESSAGE_BYTES,
)


def buffered_bytes(message: Any) -> int:
    """What a buffered message costs: its block's bytes, or a small message's bound."""
    if isinstance(message, msg.PrePrepare):
        return len(message.block.encode()) + SMALL_MESSAGE_BYTES
    return SMALL_MESSAGE_BYTES


def budget_bytes(max_pipeline: int, max_block_bytes: int) -> int:
    """Bytes one sender may have buffered: a pipeline of full PRE-PREPAREs and the small
    messages that go with it."""
    return (max_pipeline * (max_block_bytes + MESSAGE_OVERHEAD_BYTES)
            + FUTURE_VIEW_BUFFER_PER_SENDER * SMALL_MESSAGE_BYTES)


class FutureBuffer:
    __slots__ = ("_budget_bytes", "_bytes", "_messages")

    def __init__(self, budget: int) -> None:
        self._budget_bytes = budget
        self._messages: dict[str, list[Any]] = {}
        self._bytes: dict[str, int] = {}  # bytes buffered in `_messages`, per sender

    def __repr__(self) -> str:
        return f"FutureBuffer({self._messages!r}, {self._bytes!r})"

    def __len__(self) -> int:
        return sum(len(messages) for messages in self._messages.values())

    def held(self, sender: str) -> list[Any]:
        return list(self._messages.get(sender, ()))

    def add(self, message: Any) -> bool:
        """Keep `message` (of a later view) if its sender is within its bounds."""
        buffer = self._messages.setdefault(message.sender, [])
        size = buffered_bytes(message)
        used = self._bytes.get(message.sender, 0)
        if len(buffer) >= FUTURE_VIEW_BUFFER_PER_SENDER or used + size > self._budget_bytes:
            return False
        buffer.append(message)
        self._bytes[message.sender] = used + size
        return True

    def prune(self, view: int) -> None:
        """Drop the messages of views below `view`."""
        for sender in sorted(self._messages):
            kept = [m for m in self._messages[sender] if m.view >= view]
            if kept:
                self._messages[sender] = kept
                self._bytes[sender] = sum(buffered_bytes(m) for m in kept)
            else:
                del self._messages[sender]
                self._bytes.pop(sender, None)

    def drain(self, order: Callable[[str], int]) -> list[Any]:
        """Everything buffered, senders sorted by `order`; the buffer is empty after."""
        buffered, self._messages = self._messages, {}
        self._bytes = {}
        return [message for sender in sorted(buffered, key=order)
                for message in buffered[sender]]
