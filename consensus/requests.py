"""The pool of pending requests: client transactions admitted and not yet committed.

Every replica keeps one, the primary to cut blocks from it, every replica to time the oldest
request (the request timer that suspects a primary). It holds at most `max_pending`
transactions, each with the time it was admitted, and remembers the ids of the last
COMMITTED_TX_MEMORY committed ones so that a late `TxsAdmitted` does not bring one back.

Lanes. A transaction joins the lane of the node it came through (`TxsAdmitted.relayer`: ""
for this node's own clients, else the peer that relayed it), and the lane of every other
peer that relays it while it is pending; each lane keeps the order its transactions joined
it. `select_batch` takes one transaction from each lane in turn, the first lane turning with
the block's height, until the block is full: a node that relays a flood fills what the others
leave and no more, and every other node's transactions go out in their lane's next turn (the
primary proposes fairly across the nodes that relayed). With one lane (the simulator, a
single node) this is admission order.

Timed and untimed. A request the host admitted `timed=False` (what a peer relayed past its
fair share; node.admission.mempool) is proposed in its lane's turn, but the request timer
does not wait for it: a flood's tail is slow by design, and a relay that some replica
refused, so that the primary may never have had it, is never read as censorship. A
transaction a replica admitted timed stays timed if another lane brings it again.

- `admit` takes transactions in; `remove_committed` and `expire` take them out.
- `select_batch` picks a primary's next block: pending transactions not already in flight and
  not expired at the block's time, round-robin across lanes, up to the block limits.
- The request deadline (`arm_timer`) times the oldest timed request from the latest of its
  admission, the start of the view, and the last commit of a full block (`note_busy`), never
  more than REQUEST_PATIENCE_TIMEOUTS timeouts after the first two (PBFT, BFT-SMaRt: a
  primary that commits others' requests but leaves one out is suspected after one timeout,
  and an honest but saturated primary is not).

It returns values and emits nothing: the replica counts what it reports and acts on the
deadline. Iteration is in admission order and sorted lane order, the same on every replica
fed the same events.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
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


# A pending request: (the transaction, when it was admitted, the lanes it is in in joining
# order). A plain tuple: one is built per admitted transaction, on every replica.
_Request = tuple[PendingTx, int, list[str]]


class RequestPool:
    __slots__ = ("_busy_since_ms", "_earliest_expiry", "_lanes", "_max_pending", "_pending",
                 "_recent_committed", "_timed", "deadline")

    def __init__(self, max_pending: int) -> None:
        self._max_pending = max_pending
        self._pending: dict[bytes, _Request] = {}  # tx id -> request, in admission order
        self._timed: dict[bytes, None] = {}  # the timed ones, in admission order
        self._lanes: dict[str, dict[bytes, None]] = {}  # lane -> tx ids in joining order
        # A lower bound of the earliest `expires` in `_pending` (None: empty), so a tick scans
        # the pool for expired transactions only when one may have expired.
        self._earliest_expiry: int | None = None
        self._recent_committed: dict[bytes, None] = {}
        self._busy_since_ms = 0  # a full block committed then: the primary is saturated
        self.deadline: int | None = None  # when the request timer fires

    def __repr__(self) -> str:
        pending = {tx_id: (*request, tx_id in self._timed)
                   for tx_id, request in self._pending.items()}
        return (f"RequestPool({pending!r}, {self._earliest_expiry!r}, "
                f"{self._recent_committed!r}, {self._busy_since_ms!r}, {self.deadline!r})")

    def __len__(self) -> int:
        return len(self._pending)

    def admitted_ms(self, tx_id: bytes) -> int:
        return self._pending[tx_id][1]

    def admit(self, txs: Iterable[PendingTx], now_ms: int, lane: str = "",
              timed: bool = True) -> Admission:
        added = known = expired = full = 0
        pending, members = self._pending, self._lanes.setdefault(lane, {})
        for tx in txs:
            assert isinstance(tx.tx_id, bytes) and isinstance(tx.expires, int)
            request = pending.get(tx.tx_id)
            if request is not None or tx.tx_id in self._recent_committed:
                if request is not None and lane not in request[2]:
                    request[2].append(lane)
                    members[tx.tx_id] = None
                known += 1
                continue
            if tx.expires < now_ms:
                expired += 1
                continue
            if len(pending) >= self._max_pending:
                full += 1
                continue
            pending[tx.tx_id] = (tx, now_ms, [lane])
            members[tx.tx_id] = None
            if timed:
                self._timed[tx.tx_id] = None
            if self._earliest_expiry is None or tx.expires < self._earliest_expiry:
                self._earliest_expiry = tx.expires
            added += 1
        if not members:
            del self._lanes[lane]
        return Admission(added, known, expired, full)

    def _remove(self, tx_id: bytes) -> None:
        request = self._pending.pop(tx_id, None)
        if request is None:
            return
        self._timed.pop(tx_id, None)
        for lane in request[2]:
            members = self._lanes[lane]
            del members[tx_id]
            if not members:
                del self._lanes[lane]

    def remove_committed(self, tx_ids: Iterable[bytes]) -> None:
        for tx_id in tx_ids:
            self._remove(tx_id)
            self._recent_committed[tx_id] = None
        while len(self._recent_committed) > COMMITTED_TX_MEMORY:
            del self._recent_committed[next(iter(self._recent_committed))]

    def expire(self, now_ms: int) -> int:
        """Drop what expired before `now_ms`; how many."""
        if self._earliest_expiry is None or self._earliest_expiry >= now_ms:
            return 0
        expired = [tx_id for tx_id, (tx, _, _) in self._pending.items() if tx.expires < now_ms]
        for tx_id in expired:
            self._remove(tx_id)
        self._earliest_expiry = min((tx.expires for tx, _, _ in self._pending.values()),
                                    default=None)
        return len(expired)

    def select_batch(self, time: int, in_flight: set[bytes], max_txs: int, max_bytes: int,
                     turn: int = 0) -> tuple[list[PendingTx], bool]:
        """Pending txs not in flight and not expired at `time`, one per lane in turn (lanes
        in sorted order from the `turn`-th, `turn` being the block's height), up to the block
        limits; and whether a limit was reached (the batch is full)."""
        chosen: list[PendingTx] = []
        taken: set[bytes] = set()  # a transaction may be in several lanes
        size = BLOCK_OVERHEAD_BYTES
        names = sorted(self._lanes)
        first = turn % len(names) if names else 0
        lanes = [iter(self._lanes[name]) for name in names[first:] + names[:first]]
        while lanes:
            still: list[Iterator[bytes]] = []
            for lane in lanes:
                for tx_id in lane:  # on to this lane's next transaction a block may carry
                    tx = self._pending[tx_id][0]
                    if tx_id in in_flight or tx_id in taken or tx.expires < time:
                        continue
                    tx_size = len(tx.body) + len(tx.sig) + TX_OVERHEAD_BYTES
                    if size + tx_size > max_bytes:
                        return chosen, True
                    chosen.append(tx)
                    taken.add(tx_id)
                    size += tx_size
                    if len(chosen) >= max_txs:
                        return chosen, True
                    still.append(lane)
                    break
            lanes = still
        return chosen, False

    # -- the request timer ---------------------------------------------------------------------

    def note_busy(self, now_ms: int) -> None:
        """A full block committed: the primary had more pending than one block."""
        self._busy_since_ms = now_ms

    def arm_timer(self, view_active: bool, view_started_ms: int, timeout_ms: int) -> None:
        """Time the oldest timed request (see the module docstring); no deadline while none
        is pending or no view is active."""
        if not self._timed or not view_active:
            self.deadline = None
            return
        oldest_ms = self._pending[next(iter(self._timed))][1]
        start = max(oldest_ms, view_started_ms)
        deadline = max(start, self._busy_since_ms) + timeout_ms
        self.deadline = min(deadline, start + timeout_ms * REQUEST_PATIENCE_TIMEOUTS)
