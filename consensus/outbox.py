"""What one `Replica.handle` call produces: its actions, in order, and the replica's counters.

Every message a replica emits passes through here, signed with its operator key (domain and
chain id inside, `messages.sign`) and encoded once; one larger than the replica's message
bound is a broken invariant (the configuration check proved every honest message fits). A
`Broadcast` goes out only where there is someone to hear it (n > 1). The counters are the
replica's `stats`: `out_<TYPE>` per message, `dropped_<reason>` per refused input, and the
named events the handlers count.
"""

from __future__ import annotations

from typing import Any

from consensus import messages as msg
from consensus.crypto import Signer
from consensus.events import Action, Broadcast, Persist, Send


class Outbox:
    __slots__ = ("_actions", "_chain", "_max_message_bytes", "_n", "_signer", "stats")

    def __init__(self, signer: Signer, chain: str, n: int, max_message_bytes: int) -> None:
        self._signer = signer
        self._chain = chain
        self._n = n
        self._max_message_bytes = max_message_bytes
        self._actions: list[Action] = []
        self.stats: dict[str, int] = {}

    def count(self, name: str, amount: int = 1) -> None:
        self.stats[name] = self.stats.get(name, 0) + amount

    def drop(self, reason: str) -> None:
        self.count(f"dropped_{reason}")

    def sign(self, message: Any) -> Any:
        return msg.sign(message, self._signer, self._chain)

    def persist(self, key: str, value: bytes) -> None:
        self._actions.append(Persist(key, value))

    def broadcast(self, message: Any) -> None:
        self.count(f"out_{message.TYPE}")
        if self._n > 1:
            self._actions.append(Broadcast(self._encode(message)))

    def send(self, to: str, message: Any) -> None:
        self.count(f"out_{message.TYPE}")
        self._actions.append(Send(to, self._encode(message)))

    def emit(self, action: Action) -> None:
        """An action that is not a message: Commit, FetchBlocks, ViewChanged."""
        self._actions.append(action)

    def is_empty(self) -> bool:
        return not self._actions

    def take(self) -> list[Action]:
        actions, self._actions = self._actions, []
        return actions

    def _encode(self, message: Any) -> bytes:
        data: bytes = message.encode()
        assert len(data) <= self._max_message_bytes, \
            f"a {message.TYPE} of {len(data)} bytes is over the message bound"
        return data
