"""Block bodies across view changes: the ones a replica keeps, the ones it still needs, and how
often it asks and answers for them.

Castro and Liskov's rule (TOCS 2002, 4.4): a replica keeps the body of every block it
PREPAREd until a stable checkpoint passes it, persisted, and votes for a re-proposal only
once it holds the body. A prepared certificate for a block is 2f+1 PREPAREs, so at least
f+1 honest replicas PREPAREd it and keep its body; whatever NEW-VIEW re-proposes it, some
honest replica can send the body, and no block commits without one. (Before, a replica that
PREPAREd a block but never completed a certificate lost the body with its slots at the next
view change and voted for the re-proposal by hash: with one crash, a block could commit with
its body nowhere, and every later view re-proposed it for ever.)

`KeptBodies` is that memory: per seq the bodies this replica PREPAREd (at most
KEPT_BODIES_PER_SEQ, the latest views'), each persisted under `wal.body_key` when first kept
and deleted when a stable checkpoint passes it.

A NEW-VIEW re-proposes blocks by hash (`messages.PrePrepare.by_hash`). A replica that holds a
re-proposal without its body (it never saw the original PRE-PREPARE, or lost it with the view
change) must get the body before it executes the block: it asks every peer with BLOCK-REQUEST
(view, hashes) and takes a BLOCK whose body matches the hash it wanted.

`BodyFetch` keeps the wanted hashes (each with its seq, so the request lists them in seq
order and forgets the ones committed meanwhile), when to repeat the request, and when each
peer was last answered (a request is small, the answer is not). It returns values and emits
nothing: the replica signs and sends the requests and the bodies.
"""

from __future__ import annotations

from consensus import wal
from consensus.block import Block
from consensus.constants import KEPT_BODIES_PER_SEQ


class KeptBodies:
    __slots__ = ("_by_seq", "_seq_of")

    def __init__(self) -> None:
        self._by_seq: dict[int, dict[bytes, tuple[int, Block]]] = {}  # seq -> hash -> (view, body)
        self._seq_of: dict[bytes, int] = {}

    def __repr__(self) -> str:
        return f"KeptBodies({self._by_seq!r})"

    def get(self, block_hash: bytes) -> Block | None:
        seq = self._seq_of.get(block_hash)
        return None if seq is None else self._by_seq[seq][block_hash][1]

    def keep(self, view: int, block: Block) -> tuple[bool, list[str]]:
        """Keep the body of `block`, PREPAREd in `view`. Returns whether it is new (then the
        replica persists it) and the keys of the bodies it evicts (the oldest views' beyond
        KEPT_BODIES_PER_SEQ at this seq)."""
        seq = block.height
        bodies = self._by_seq.setdefault(seq, {})
        known = bodies.get(block.hash)
        bodies[block.hash] = (max(view, known[0]) if known else view, block)
        self._seq_of[block.hash] = seq
        evicted = []
        while len(bodies) > KEPT_BODIES_PER_SEQ:
            oldest = min(bodies, key=lambda digest: (bodies[digest][0], digest))
            del bodies[oldest]
            del self._seq_of[oldest]
            evicted.append(wal.body_key(seq, oldest))
        return known is None, evicted

    def prune(self, stable_seq: int) -> list[str]:
        """Forget the bodies at or below a new stable checkpoint; the keys to delete."""
        dropped = []
        for seq in sorted(self._by_seq):
            if seq <= stable_seq:
                for block_hash in sorted(self._by_seq.pop(seq)):
                    del self._seq_of[block_hash]
                    dropped.append(wal.body_key(seq, block_hash))
        return dropped


class BodyFetch:
    __slots__ = ("_answered_ms", "_request_at", "_wanted")

    def __init__(self) -> None:
        self._wanted: dict[bytes, int] = {}  # block hash -> seq
        self._request_at = 0  # when to repeat the BLOCK-REQUEST
        self._answered_ms: dict[str, int] = {}  # peer -> when its last request was answered

    def __repr__(self) -> str:
        return f"BodyFetch({self._wanted!r}, {self._request_at!r}, {self._answered_ms!r})"

    def __bool__(self) -> bool:
        return bool(self._wanted)

    def __contains__(self, block_hash: bytes) -> bool:
        return block_hash in self._wanted

    def seq_of(self, block_hash: bytes) -> int | None:
        """The seq whose body this is, if it is wanted."""
        return self._wanted.get(block_hash)

    def want(self, block_hash: bytes, seq: int) -> bool:
        """Want the body of `block_hash` (the block of `seq`); False if already wanted."""
        if block_hash in self._wanted:
            return False
        self._wanted[block_hash] = seq
        return True

    def got(self, block_hash: bytes) -> None:
        self._wanted.pop(block_hash, None)

    def clear(self) -> None:
        """A new view: what it re-proposes is wanted afresh."""
        self._wanted = {}

    def forget_through(self, seq: int) -> None:
        """Forget the bodies of blocks at or below `seq` (committed: executed or fetched)."""
        for block_hash, wanted_seq in sorted(self._wanted.items()):
            if wanted_seq <= seq:
                del self._wanted[block_hash]

    def hashes(self, limit: int) -> tuple[bytes, ...]:
        """The wanted hashes in seq order, at most `limit` (one request's worth)."""
        return tuple(sorted(self._wanted, key=self._wanted.__getitem__))[:limit]

    def is_due(self, now_ms: int) -> bool:
        return bool(self._wanted) and now_ms >= self._request_at

    def requested(self, now_ms: int, interval_ms: int) -> None:
        """A request went out: repeat it after `interval_ms` unless the bodies arrive."""
        self._request_at = now_ms + interval_ms

    def may_answer(self, peer: str, now_ms: int, interval_ms: int) -> bool:
        """Whether `peer`'s request may be answered: at most once per `interval_ms`."""
        last = self._answered_ms.get(peer)
        return last is None or now_ms - last >= interval_ms

    def answered(self, peer: str, now_ms: int) -> None:
        self._answered_ms[peer] = now_ms
