"""The executor: applies committed blocks to state, in height order, one atomic batch each.

First the chaincode's begin-block hooks run (work due at a block boundary: a dividend's record
height, the expiry of orders of a closed market session); what they emit is the block's
`hook_events`, stored apart from the receipts (they belong to no transaction) and streamed
before them. Then for each transaction of a block, in order: one that does not decode, is
for another chain, is not validly signed, expired before the block's time, or was already
committed is dropped (kept in the block, never executed, no receipt: PROTOCOL.md, "A
transaction id is committed at most once, ever"). Every other transaction runs through the
chaincode registry; its receipt records success with the result and events, or the
chaincode's error code, and a refused transaction's writes are discarded.

Everything a block changes goes to the store in ONE synced WriteBatch: the block, its commit
certificate, state writes, state history, tx index, receipts, hook events, extra index entries
(audit), the app hash and the last-applied height. A crash leaves the whole block applied or
none of it.

    app_hash(h) = sha256(app_hash(h-1) || canonical(sorted [key, value|nil] writes of block h))

A block's writes are its net writes (`net_writes`): a key the block created and deleted again
(absent before the block and after it: a resting sell filled by a later order of the same
block writes and deletes its book key, open-order entry and count) leaves nothing, neither a
state write, nor a history entry, nor a pair in the app hash, exactly as if it was never
written. Every other written key is kept, its last value or nil, even one that ends the block
holding the value it had before it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgpack

from chaincode.runtime import Context, Overlay, Registry
from consensus import codec
from consensus.block import Block, CommitCertificate
from node.admission.tx import Transaction, TxError, decode_body
from node.admission.verified import VerifiedCache
from node.ledger.committed import SMALL_BLOOM_BITS, RecentCommits
from node.storage import KV, Batch
from node.storage import schema as s

STATE_CACHE_ENTRIES = 100_000  # state values kept in memory (~30 MB of holdings and records)


class StoreState:
    """The committed state in the store, as a chaincode StateReader, with the values read or
    written recently kept in memory (`cache`): a transfer reads the same token, identity and
    holding keys as the blocks before it. Only the executor writes state, and it tells the
    cache (`written`) in the same step as it writes the store, so the cache is never stale.
    Bounded: cleared wholesale when full (a miss only costs a store read)."""

    def __init__(self, store: KV) -> None:
        self.store = store
        self.cache: dict[str, bytes | None] = {}

    def get(self, key: str) -> bytes | None:
        cache = self.cache
        if key in cache:
            return cache[key]
        value = self.store.get(s.state_key(key))
        if len(cache) >= STATE_CACHE_ENTRIES:
            cache.clear()
        cache[key] = value
        return value

    def existed(self, key: str) -> bool:
        """Whether `key` holds a value in the committed state, read past the cache when it
        is not there (not kept: a key created and deleted within a block is rarely read
        again, and would crowd out what is)."""
        cache = self.cache
        if key in cache:
            return cache[key] is not None
        return self.store.get(s.state_key(key)) is not None

    def written(self, writes: dict[str, bytes | None]) -> None:
        if len(self.cache) + len(writes) >= STATE_CACHE_ENTRIES:
            self.cache.clear()
        self.cache.update(writes)

    def range(self, prefix: str, start: str = "") -> Iterator[tuple[str, bytes]]:
        first = s.state_key(start) if start else None
        for raw, value in self.store.iterate(s.state_key(prefix), start=first):
            yield s.state_name(raw), value


class HistoricalState:
    """The state as of the end of block `height`, read from the history index."""

    def __init__(self, store: KV, height: int) -> None:
        self.store = store
        self.height = height

    def get(self, key: str) -> bytes | None:
        prefix = s.history_prefix(key)
        for _, value in self.store.iterate(prefix, stop=prefix + s.u64(self.height + 1),
                                           reverse=True):
            return value or None
        return None

    def range(self, prefix: str, start: str = "") -> Iterator[tuple[str, bytes]]:
        """Keys in order, each read with one seek to its newest version at or below
        `height` and one to the next key, so a page costs what its keys cost, however long
        their histories are (a dividend register reads the cap table at a past height)."""
        stored_prefix = s.HISTORY + prefix.encode()
        cursor = s.HISTORY + start.encode() if start else stored_prefix
        while True:
            found = next(self.store.iterate(stored_prefix, start=cursor), None)
            if found is None:
                return
            name = found[0][len(s.HISTORY):-9].decode()
            value = self.get(name)
            if value:
                yield name, value
            cursor = s.HISTORY + name.encode() + b"\x01"  # past every version of `name`


class StoreHistory:
    """The committed past for chaincode (chaincode.runtime.ChainHistory): state as of a
    height from the history index, and block times from the stored blocks."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    def state_at(self, height: int) -> HistoricalState:
        assert 0 <= height <= self.executor.height, height
        return HistoricalState(self.executor.store, height)

    def time_at(self, height: int) -> int:
        return self.executor.block_time_at(height)

    def last_height_before(self, time: int) -> int:
        """Binary search: block times never go backwards."""
        low, high = 0, self.executor.height  # answer in [low, high]
        if self.time_at(0) >= time:
            return 0
        while low < high:
            middle = (low + high + 1) // 2
            if self.time_at(middle) < time:
                low = middle
            else:
                high = middle - 1
        return low


@dataclass(slots=True)
class Receipt:
    tx_id: bytes
    height: int
    index: int
    ok: bool
    result: Any
    error: dict[str, str] | None
    events: list[dict[str, Any]]
    block_hash: bytes

    def to_map(self) -> dict[str, Any]:
        return {"tx_id": self.tx_id, "height": self.height, "index": self.index, "ok": self.ok,
                "result": self.result, "error": self.error, "events": self.events,
                "block_hash": self.block_hash}

    @classmethod
    def from_map(cls, value: dict[str, Any]) -> Receipt:
        return cls(**value)

    def encode(self) -> bytes:
        """The stored form: a plain msgpack array (node-local, never hashed or signed, so no
        canonical normalisation; result and events were checked encodable by the runtime)."""
        return msgpack.packb([self.tx_id, self.height, self.index, self.ok, self.result,
                              self.error, self.events, self.block_hash], use_bin_type=True)

    @classmethod
    def decode(cls, raw: bytes) -> Receipt:
        value = codec.unpack_trusted(raw)  # this node wrote it
        if isinstance(value, dict):  # stores written before the array form
            return cls.from_map(value)
        return cls(*value)


@dataclass(slots=True)
class AppliedBlock:
    """What applying one block produced, for indexers, waiters and event streams."""

    block: Block
    certificate: CommitCertificate
    txs: list[Transaction]  # the executed transactions, in block order
    receipts: list[Receipt]
    app_hash: bytes
    dropped: int = 0
    writes: dict[str, bytes | None] = field(default_factory=dict)
    # what indexers derived from the block for the event stream (node.surveillance: "alerts")
    notes: dict[str, Any] = field(default_factory=dict)
    # events of the begin-block hooks, {"contract", "name", "data"}, before any transaction's
    hook_events: list[dict[str, Any]] = field(default_factory=list)
    # the state as of the end of this block (its writes over the state before it), for
    # indexers that name a record's owner (node.ledger.audit: an offering id's token)
    read: Callable[[str], bytes | None] | None = None


Indexer = Callable[[AppliedBlock, Batch], None]


UNKNOWN_EXPIRES = 2**64 - 1  # a store that does not say its highest `expires`: ask it every time


class Executor:
    def __init__(self, store: KV, registry: Registry, chain_id: str,
                 verified: VerifiedCache | None = None,
                 indexers: list[Indexer] | None = None,
                 bloom_bits: int = SMALL_BLOOM_BITS) -> None:
        self.store = store
        self.registry = registry
        self.chain_id = chain_id
        # not `verified or ...`: an empty cache is falsy (it has a length)
        self.verified = verified if verified is not None else VerifiedCache()
        self.indexers = list(indexers or [])
        self.state = StoreState(store)
        self.height = 0
        self.app_hash = b""
        self.last_block_hash = b"\x00" * 32
        self.last_block_time = 0
        self.history = StoreHistory(self)
        self.bloom_bits = bloom_bits
        self._load_meta()

    def _load_meta(self) -> None:
        raw = self.store.get(s.META_MAX_EXPIRES)
        self.max_expires = UNKNOWN_EXPIRES if raw is None else s.read_u64(raw)
        self.recent = RecentCommits(self.max_expires, self.bloom_bits)
        raw = self.store.get(s.META_HEIGHT)
        if raw is None:
            return
        self.height = s.read_u64(raw)
        self.app_hash = self.store.get(s.META_APP_HASH) or b""
        self.last_block_hash = self.store.get(s.META_BLOCK_HASH) or b"\x00" * 32
        self.last_block_time = s.read_u64(self.store.get(s.META_BLOCK_TIME) or s.u64(0))

    @property
    def initialised(self) -> bool:
        return self.store.get(s.META_HEIGHT) is not None

    def init_genesis(self, genesis_hash: bytes, genesis_time: int,
                     state: dict[str, bytes]) -> None:
        """Write the initial state at height 0, once. A store made for another genesis is an
        operator error and refuses to open."""
        existing = self.store.get(s.META_GENESIS)
        if existing is not None:
            if existing != genesis_hash:
                raise RuntimeError("this data directory belongs to another genesis; refusing "
                                   "to start (point data_dir elsewhere or remove it)")
            return
        batch = Batch()
        writes: dict[str, bytes | None] = dict(sorted(state.items()))
        for key, value in writes.items():
            assert value is not None
            batch.put(s.state_key(key), value)
            batch.put(s.history_key(key, 0), value)
        app_hash = compute_app_hash(genesis_hash, writes)
        batch.put(s.META_GENESIS, genesis_hash)
        batch.put(s.META_GENESIS_TIME, s.u64(genesis_time))
        batch.put(s.META_LAYOUT, s.u64(s.LAYOUT))
        batch.put(s.META_MAX_EXPIRES, s.u64(0))
        batch.put(s.META_HEIGHT, s.u64(0))
        batch.put(s.META_APP_HASH, app_hash)
        batch.put(s.app_hash_key(0), app_hash)
        batch.put(s.META_BLOCK_HASH, b"\x00" * 32)
        batch.put(s.META_BLOCK_TIME, s.u64(genesis_time))
        self.store.write(batch, sync=True)
        self.state.cache.clear()
        self._load_meta()

    def is_committed(self, tx_id: bytes, expires: int | None = None) -> bool:
        """Whether a transaction with this id was committed; with its `expires`, memory
        answers "no" where it can (node.ledger.committed)."""
        if expires is not None and self.recent.surely_not(tx_id, expires):
            return False
        return self.store.get(s.tx_key(tx_id)) is not None

    def _decoded(self, body: bytes, sig: bytes) -> Transaction | None:
        """The transaction, from the verified cache when admission saw it; None if it does
        not decode."""
        tx = self.verified.decoded(body, sig)
        if tx is not None:
            return tx
        try:
            return decode_body(body, sig)
        except TxError:
            return None

    def _admissible(self, body: bytes, sig: bytes, time: int,
                    seen: set[bytes]) -> Transaction | None:
        tx = self._decoded(body, sig)
        if tx is None:
            return None
        if (tx.chain != self.chain_id or tx.expires < time or tx.tx_id in seen
                or self.is_committed(tx.tx_id, tx.expires)
                or not self.verified.check(tx)):
            return None
        return tx

    def admits_block_tx(self, body: bytes, sig: bytes, time: int) -> bool:
        """Whether a transaction of a proposed block (at block time `time`) passes admission:
        it decodes, is for this chain, has not expired and is validly signed. The replica's
        PRE-PREPARE check (`ReplicaConfig.admit_tx`). It depends on its arguments only (the
        cache saves work, never changes the answer); "already committed" is left to execution,
        since the replica proposes ahead of what this node has executed."""
        tx = self._decoded(body, sig)
        if tx is None:
            return False
        return tx.chain == self.chain_id and tx.expires >= time and self.verified.check(tx)

    def apply(self, block: Block, certificate: CommitCertificate) -> AppliedBlock:
        """Execute `block` (the next height) and persist everything it changes atomically."""
        header = block.header
        assert header.height == self.height + 1, (header.height, self.height)
        assert header.prev_hash == self.last_block_hash, "block does not extend the chain"
        assert certificate.block_hash == block.hash and certificate.height == header.height
        block_hash = block.hash
        overlay = Overlay(self.state)
        seen: set[bytes] = set()
        txs: list[Transaction] = []
        receipts: list[Receipt] = []
        dropped = 0
        hook_events = [event.to_map() for outcome in self.registry.begin_block(
            overlay, header.height, header.time, self.chain_id, self.history)
            for event in outcome.events]
        for body, sig in block.txs:
            tx = self._admissible(body, sig, header.time, seen)
            if tx is None:
                dropped += 1
                continue
            seen.add(tx.tx_id)
            outcome = self.registry.execute(overlay, tx.sender_hex, tx.tx_id_hex, header.height,
                                            header.time, tx.contract, tx.method, tx.args,
                                            self.chain_id, self.history)
            receipts.append(Receipt(tx.tx_id, header.height, len(receipts), outcome.ok,
                                    outcome.result, outcome.error,
                                    [event.to_map() for event in outcome.events], block_hash))
            txs.append(tx)
        writes = net_writes(overlay, self.state)
        app_hash = compute_app_hash(self.app_hash, writes)
        before = self.state

        def read(key: str) -> bytes | None:
            return writes[key] if key in writes else before.get(key)

        applied = AppliedBlock(block, certificate, txs, receipts, app_hash, dropped, writes,
                               hook_events=hook_events, read=read)
        batch = Batch()
        batch.put(s.block_key(header.height), block.encode())
        batch.put(s.cert_key(header.height), certificate.encode())
        for key, value in writes.items():
            if value is None:
                batch.delete(s.state_key(key))
            else:
                batch.put(s.state_key(key), value)
            batch.put(s.history_key(key, header.height), value or b"")
        if hook_events:
            batch.put(s.hook_events_key(header.height),
                      msgpack.packb(hook_events, use_bin_type=True))
        for receipt in receipts:
            batch.put(s.tx_key(receipt.tx_id), msgpack.packb([receipt.height, receipt.index]))
            batch.put(s.receipt_key(receipt.height, receipt.index), receipt.encode())
        for indexer in self.indexers:
            indexer(applied, batch)
        batch.put(s.META_HEIGHT, s.u64(header.height))
        batch.put(s.META_APP_HASH, app_hash)
        batch.put(s.app_hash_key(header.height), app_hash)
        batch.put(s.META_BLOCK_HASH, block_hash)
        batch.put(s.META_BLOCK_TIME, s.u64(header.time))
        max_expires = max([self.max_expires, *(tx.expires for tx in txs)])
        batch.put(s.META_MAX_EXPIRES, s.u64(max_expires))
        self.store.write(batch, sync=True)
        self.max_expires = max_expires
        self.recent.prune(header.time)
        for tx in txs:
            self.recent.add(tx.tx_id, tx.expires)
        self.state.written(writes)
        self.height = header.height
        self.app_hash = app_hash
        self.last_block_hash = block_hash
        self.last_block_time = header.time
        for tx in txs:
            self.verified.discard(tx)
        return applied

    # Reads

    def receipt(self, tx_id: bytes) -> Receipt | None:
        position = self.store.get(s.tx_key(tx_id))
        if position is None:
            return None
        height, index = codec.unpack_trusted(position)
        return self.receipt_at(height, index)

    def receipt_at(self, height: int, index: int) -> Receipt | None:
        raw = self.store.get(s.receipt_key(height, index))
        return None if raw is None else Receipt.decode(raw)

    def receipts_at(self, height: int) -> list[Receipt]:
        """The receipts of block `height`, in order."""
        return [Receipt.decode(raw) for _, raw in self.store.iterate(s.receipt_prefix(height))]

    def hook_events_at(self, height: int) -> list[dict[str, Any]]:
        """The events of block `height`'s begin-block hooks, in order (node-local, written
        by this node: checked encodable by the runtime)."""
        raw = self.store.get(s.hook_events_key(height))
        return [] if raw is None else list(codec.unpack_trusted(raw))

    def block(self, height: int) -> Block | None:
        raw = self.store.get(s.block_key(height))
        return None if raw is None else Block.decode(raw)

    def certificate(self, height: int) -> CommitCertificate | None:
        raw = self.store.get(s.cert_key(height))
        return None if raw is None else CommitCertificate.decode(raw)

    def block_hash_at(self, height: int) -> bytes:
        if height == 0:
            return b"\x00" * 32
        block = self.block(height)
        assert block is not None, height
        return block.hash

    def app_hash_at(self, height: int) -> bytes:
        raw = self.store.get(s.app_hash_key(height))
        assert raw is not None, f"no app hash recorded for height {height}"
        return raw

    def query(self, caller: str, contract: str, method: str, args: Any,
              at_height: int | None = None) -> Any:
        if at_height is None:
            return self.registry.query(self.state, caller, self.height, self.last_block_time,
                                       contract, method, args, self.history)
        return self.registry.query(HistoricalState(self.store, at_height), caller, at_height,
                                   self.block_time_at(at_height), contract, method, args,
                                   self.history)

    def block_time_at(self, height: int) -> int:
        """The time of block `height` (the genesis time for 0)."""
        if height == 0:
            return s.read_u64(self.store.get(s.META_GENESIS_TIME) or s.u64(0))
        block = self.block(height)
        assert block is not None, height
        return block.header.time

    def stored_identity(self, account: str) -> dict[str, Any] | None:
        """An account's identity record as committed, `broker` not resolved, read past the
        state cache: admission asks it of any key a stranger sends, and a flood of fresh keys
        would otherwise fill the cache with their absence and evict what blocks read."""
        raw = self.store.get(s.state_key(s.identity_record(account)))
        return None if raw is None else codec.unpack_trusted(raw)  # type: ignore[no-any-return]

    def identity(self, account: str) -> dict[str, Any] | None:
        """The identity record of an account, read without access checks (node-internal)."""
        ctx = Context(self.registry, Overlay(self.state), "identity", "", "", self.height,
                      self.last_block_time, writable=False)
        return ctx.identity(account)


def net_writes(overlay: Overlay, before: StoreState) -> dict[str, bytes | None]:
    """A block's writes (`overlay`'s) in key order, less the keys it created and deleted
    again: a deleted key that did not exist before the block (`before`, the committed state)
    changed nothing. Only deletions are looked up: one the chaincode read from the store
    before deleting it is in the cache; one it created in the block costs a store read (a
    miss)."""
    writes = overlay.writes
    deleted = [key for key, value in writes.items() if value is None and before.existed(key)]
    return {key: writes[key] for key in overlay.sorted_keys(deleted)}


def compute_app_hash(previous: bytes, writes: dict[str, bytes | None]) -> bytes:
    """`writes` must already be in key order. The canonical encoding of [[key, value|nil]...]
    is msgpack's own: a list of pairs of a `str` and `bytes` or None holds no map to sort and
    no integer, so `codec.pack`'s walk, which rebuilt the block's thousands of pairs to find
    nothing to change, is skipped (tests/node/test_executor.py compares the two)."""
    pairs = list(writes.items())  # msgpack writes a tuple as the array a list is
    return codec.sha256(previous + msgpack.packb(pairs, use_bin_type=True))
