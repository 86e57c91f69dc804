"""The pool of pending requests: client transactions admitted and not yet committed.

Every replica keeps one, the primary to cut blocks from it, every replica to time the oldest
request (the request timer that suspects a primary). It holds at most `max_pending`
transactions in admission order, each with the time it was admitted, and remembers the ids of
the last COMMITTED_TX_MEMORY committed ones so that a late `TxsAdmitted` does not bring one
back.

- `admit` takes transactions in; `remove_committed` and `expire` take them out.
- `select_batch` picks a primary's next block: pending transactions not already in flight and
  not expired at the block's time, in admission order, up to the block limits.
- The request deadline (`arm_timer`) times the oldest pending request from the latest of its
  admission, the start of the view, and the last commit of a full block (`note_busy`), never
  more than REQUEST_PATIENCE_TIMEOUTS timeouts after the first two (PBFT, BFT-SMaRt: a
  primary that commits others' requests but leaves one out is suspected after one timeout,
  and an honest but saturated primary, which takes requests in admission order, is not).

It returns values and emits nothing: the replica counts what it reports and acts on the
deadline. Iteration is in admission order, the same on every replica fed the same events.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from consensus.constants import (
    BLOCK_OVERHEAD_BYTES,
    COMMITTED_TX_MEMORY,
    REQUEST_PATIENCE_TIMEOUTS,
    TX_OVERHEAD_BYTES,
)
from consensus.events import PendingTx


@dataclass(frozen=True, slots=True)
class Admission:
    """What `RequestPool.admit` did with a batch of transactions."""

    added: int = 0
    known: int = 0  # pending already, or committed recently
    expired: int = 0
    full: int = 0  # refused: the pool held max_pending


class RequestPool:
    __slots__ = ("_busy_since_ms", "_earliest_expiry", "_max_pending", "_pending",
                 "_recent_committed", "deadline")

    def __init__(self, max_pending: int) -> None:
        self._max_pending = max_pending
        self._pending: dict[bytes, tuple[PendingTx, int]] = {}  # tx id -> (tx, admitted ms)
        # A lower bound of the earliest `expires` in `_pending` (None: empty), so a tick scans
        # the pool for expired transactions only when one may have expired.
        self._earliest_expiry: int | None = None
        self._recent_committed: dict[bytes, None] = {}
        self._busy_since_ms = 0  # a full block committed then: the primary is saturated
        self.deadline: int | None = None  # when the request timer fires

    def __repr__(self) -> str:
        return (f"RequestPool({self._pending!r}, {self._earliest_expiry!r}, "
                f"{self._recent_committed!r}, {self._busy_since_ms!r}, {self.deadline!r})")

    def __len__(self) -> int:
        return len(self._pending)

    def admitted_ms(self, tx_id: bytes) -> int:
        return self._pending[tx_id][1]

    def admit(self, txs: Iterable[PendingTx], now_ms: int) -> Admission:
        added = known = expired = full = 0
        for tx in txs:
            assert isinstance(tx.tx_id, bytes) and isinstance(tx.expires, int)
            if tx.tx_id in self._pending or tx.tx_id in self._recent_committed:
                known += 1
                continue
            if tx.expires < now_ms:
                expired += 1
                continue
            if len(self._pending) >= self._max_pending:
                full += 1
                continue
            self._pending[tx.tx_id] = (tx, now_ms)
            if self._earliest_expiry is None or tx.expires < self._earliest_expiry:
                self._earliest_expiry = tx.expires
            added += 1
        return Admission(added, known, expired, full)

    def remove_committed(self, tx_ids: Iterable[bytes]) -> None:
        for tx_id in tx_ids:
            self._pending.pop(tx_id, None)
            self._recent_committed[tx_id] = None
        while len(self._recent_committed) > COMMITTED_TX_MEMORY:
            del self._recent_committed[next(iter(self._recent_committed))]

    def expire(self, now_ms: int) -> int:
        """Drop what expired before `now_ms`; how many."""
        if self._earliest_expiry is None or self._earliest_expiry >= now_ms:
            return 0
        expired = [tx_id for tx_id, (tx, _) in self._pending.items() if tx.expires < now_ms]
        for tx_id in expired:
            del self._pending[tx_id]
        self._earliest_expiry = min((tx.expires for tx, _ in self._pending.values()),
                                    default=None)
        return len(expired)

    def select_batch(self, time: int, in_flight: set[bytes], max_txs: int,
                     max_bytes: int) -> tuple[list[PendingTx], bool]:
        """Pending txs not in flight and not expired at `time`, up to the block limits; and
        whether a limit was reached (the batch is full)."""
        chosen: list[PendingTx] = []
        size = BLOCK_OVERHEAD_BYTES
        for tx, _ in self._pending.values():
            if tx.tx_id in in_flight or tx.expires < time:
                continue
            tx_size = len(tx.body) + len(tx.sig) + TX_OVERHEAD_BYTES
            if size + tx_size > max_bytes:
                return chosen, True
            chosen.append(tx)
            size += tx_size
            if len(chosen) >= max_txs:
                return chosen, True
        return chosen, False

    # -- the request timer ---------------------------------------------------------------------

    def note_busy(self, now_ms: int) -> None:
        """A full block committed: the primary had more pending than one block."""
        self._busy_since_ms = now_ms

    def arm_timer(self, view_active: bool, view_started_ms: int, timeout_ms: int) -> None:
        """Time the oldest pending request (see the module docstring); no deadline while the
        pool is empty or no view is active."""
        if not self._pending or not view_active:
            self.deadline = None
            return
        oldest_ms = next(iter(self._pending.values()))[1]
        start = max(oldest_ms, view_started_ms)
        deadline = max(start, self._busy_since_ms) + timeout_ms
        self.deadline = min(deadline, start + timeout_ms * REQUEST_PATIENCE_TIMEOUTS)
