"""The verified cache: transactions whose signature this node already checked, shared by the
mempool (which fills it at admission) and the executor (which reads it at execution)."""

from __future__ import annotations

from node.admission.tx import Transaction


class VerifiedCache:
    """Transactions whose signature this node already checked (at admission), so the executor
    does not verify again, kept decoded so it does not decode again either.

    Keyed by signature, and a hit only when the body is the same bytes too: a body that was
    admitted with its genuine signature says nothing about the same body carrying another
    signature. Were the key the body alone, a primary could put a valid body with a forged
    signature in a block, and nodes that had admitted the body would execute it while nodes
    with a cold cache (observers, restarted nodes) drop it: execution must depend on the
    block's bytes only. The signature, not the tx id, is the key so that a lookup from a
    block's (body, sig) costs no hash of the body. Bounded by entries and by bytes (weights):
    cleared wholesale when full (a miss only costs a re-check). Transactions leave it when
    they execute (Executor.apply) or leave the pool without executing (Mempool._remove)."""

    def __init__(self, limit: int = 200_000, max_bytes: int = 128 * 1024 * 1024) -> None:
        self.limit = limit
        self.max_bytes = max_bytes  # weights (admission.tx): the count alone let 13 GB in
        self.bytes = 0
        self._txs: dict[bytes, Transaction] = {}  # by signature
        self.verifications = 0  # signatures actually checked (the misses), for /metrics

    def __len__(self) -> int:
        return len(self._txs)

    def remember(self, tx: Transaction) -> None:
        """Record a transaction whose signature was checked, keeping it decoded."""
        known = self._txs.get(tx.sig)
        if known is not None:
            self.bytes -= known.weight
        elif len(self._txs) >= self.limit or self.bytes + tx.weight > self.max_bytes:
            self._txs.clear()
            self.bytes = 0
        self._txs[tx.sig] = tx
        self.bytes += tx.weight

    def discard(self, tx: Transaction) -> None:
        known = self._txs.get(tx.sig)
        if known is not None and known.body_bytes == tx.body_bytes:
            del self._txs[tx.sig]
            self.bytes -= known.weight

    def check(self, tx: Transaction) -> bool:
        """True if `tx`'s signature verifies (from the cache when this exact pair was seen)."""
        known = self._txs.get(tx.sig)
        if known is not None and known.body_bytes == tx.body_bytes:
            return True
        self.verifications += 1
        if not tx.is_signed():
            return False
        self.remember(tx)  # the PRE-PREPARE check, execution and gossip then verify no more
        return True

    def decoded(self, body: bytes, sig: bytes) -> Transaction | None:
        """The remembered transaction with exactly this body and signature, if any."""
        tx = self._txs.get(sig)
        if tx is None or tx.body_bytes != body:
            return None
        return tx
