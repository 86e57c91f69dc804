"""Admission of client transactions and the pool of admitted, not yet committed ones.

`admit` runs PROTOCOL.md's checks in order — form (bad_encoding, not_canonical, too_large),
chain id, signature, expiry, known contract and method, duplicate (pool or committed), room in
the pool — and either raises `TxError` with the stable code or adds the transaction. A rejected
transaction changes nothing. The pool is bounded; committed transactions leave it through
`remove_committed`, expired ones through `drop_expired`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from chaincode.runtime import TRANSACTION, Registry
from node.executor import VerifiedCache
from node.tx import MAX_EXPIRY_MS, Transaction, TxError

DEFAULT_MAX_TXS = 50_000  # about 15 MB of transfers; a full pool answers 503 mempool_full


class Mempool:
    def __init__(self, chain_id: str, registry: Registry, verified: VerifiedCache,
                 is_committed: Callable[[bytes], bool], max_txs: int = DEFAULT_MAX_TXS) -> None:
        self.chain_id = chain_id
        self.registry = registry
        self.verified = verified
        self.is_committed = is_committed
        self.max_txs = max_txs
        self.pending: dict[bytes, Transaction] = {}

    def __len__(self) -> int:
        return len(self.pending)

    def __contains__(self, tx_id: bytes) -> bool:
        return tx_id in self.pending

    def check(self, tx: Transaction, now_ms: int) -> None:
        """Every admission check but the pool's room; raises TxError."""
        if tx.chain != self.chain_id:
            raise TxError("wrong_chain", f"transaction is for chain {tx.chain!r}; this node "
                          f"runs {self.chain_id!r}")
        if tx.tx_id in self.pending or self.is_committed(tx.tx_id):
            raise TxError("duplicate", f"transaction {tx.tx_id_hex} was already submitted", 409)
        if not self.verified.check(tx):
            raise TxError("bad_signature", "the signature does not verify against the sender "
                          "key over b'stoledger:tx:v1\\x00' + body")
        if tx.expires < now_ms:
            raise TxError("expired", f"transaction expired at {tx.expires}; now is {now_ms}")
        if tx.expires > now_ms + MAX_EXPIRY_MS:
            raise TxError("expired", f"expires is more than {MAX_EXPIRY_MS} ms ahead of now")
        if not self.registry.has_contract(tx.contract):
            raise TxError("unknown_contract", f"no contract named {tx.contract!r}")
        if self.registry.method_kind(tx.contract, tx.method) != TRANSACTION:
            raise TxError("unknown_method",
                          f"{tx.contract} has no transaction method {tx.method!r}")

    def admit(self, tx: Transaction, now_ms: int) -> None:
        self.check(tx, now_ms)
        if len(self.pending) >= self.max_txs:
            raise TxError("mempool_full", f"the pool holds {self.max_txs} transactions; retry "
                          "later", 503)
        self.verified.remember(tx)
        self.pending[tx.tx_id] = tx

    def remove_committed(self, tx_ids: Iterable[bytes]) -> None:
        for tx_id in tx_ids:
            self.pending.pop(tx_id, None)

    def drop_expired(self, now_ms: int) -> int:
        expired = [tx_id for tx_id, tx in self.pending.items() if tx.expires < now_ms]
        for tx_id in expired:
            del self.pending[tx_id]
        return len(expired)
