"""The executor: receipts for good and refused transactions, dropped ones, one atomic batch
per block, state history, and reopening a store."""

import pytest

from chaincode.runtime import (
    ChaincodeError,
    Contract,
    Registry,
    begin_block,
    internal,
    query,
    transaction,
)
from consensus import codec
from consensus.block import ZERO_HASH, CommitCertificate, make_block
from consensus.crypto import Signer
from node.admission import tx as txmod
from node.admission.mempool import Mempool
from node.ledger.executor import Executor, HistoricalState, compute_app_hash
from node.storage import LevelDB, MemoryKV
from node.storage import schema as s

CHAIN = "test-chain"


class Counter(Contract):
    name = "counter"

    @transaction
    def add(self, ctx, amount):
        if amount < 0:
            raise ChaincodeError("NEGATIVE", "amount must not be negative")
        total = ctx.state.get("total", 0) + amount
        ctx.state.put("total", total)
        ctx.emit("Added", {"amount": amount, "total": total})
        return total

    @transaction
    def crash(self, ctx):
        ctx.state.put("total", -1)
        raise KeyError("a bug in the contract")

    @query
    def total(self, ctx):
        return ctx.state.get("total", 0)


def _executor(store=None):
    executor = Executor(store or MemoryKV(), Registry([Counter()]), CHAIN)
    executor.init_genesis(b"g" * 32, 1000, {"counter/total": codec.pack(0)})
    return executor


def _tx(signer, method="add", args=None, nonce=0, expires=10**13, chain=CHAIN):
    return txmod.build(signer, chain, "counter", method,
                       {"amount": 1} if args is None else args, nonce, expires)


def _commit(executor, txs, time=2000):
    block = make_block(CHAIN, executor.height + 1, executor.last_block_hash, time, 0, "ksd",
                       [(t.body_bytes, t.sig) for t in txs])
    cert = CommitCertificate(0, block.height, block.hash, ())
    return executor.apply(block, cert)


def test_receipts_for_success_refusal_and_contract_bug():
    executor = _executor()
    signer = Signer.generate()
    good = _tx(signer, args={"amount": 5}, nonce=1)
    refused = _tx(signer, args={"amount": -1}, nonce=2)
    buggy = _tx(signer, method="crash", args={}, nonce=3)
    applied = _commit(executor, [good, refused, buggy])
    ok, no, bug = (executor.receipt(t.tx_id) for t in (good, refused, buggy))
    assert ok.ok and ok.result == 5 and ok.events[0]["name"] == "Added"
    assert not no.ok and no.error["code"] == "NEGATIVE" and no.index == 1
    assert not bug.ok and bug.error["code"] == "INTERNAL" and "KeyError" in bug.error["message"]
    assert executor.query("x", "counter", "total", {}) == 5  # refused writes discarded
    assert len(applied.receipts) == 3 and executor.height == 1


def test_dropped_transactions_are_never_executed():
    executor = _executor()
    signer = Signer.generate()
    first = _tx(signer, nonce=1)
    _commit(executor, [first])
    forged = txmod.decode_body(_tx(signer, nonce=2).body_bytes, b"\x01" * 64)
    expired = _tx(signer, nonce=3, expires=1999)
    foreign = _tx(signer, nonce=4, chain="other")
    applied = _commit(executor, [first, forged, expired, foreign, _tx(signer, nonce=5),
                                 _tx(signer, nonce=5)])
    assert applied.dropped == 5 and len(applied.receipts) == 1
    assert executor.query("x", "counter", "total", {}) == 2
    assert executor.receipt(first.tx_id).height == 1  # the first commit stands


def test_app_hash_chains_and_is_deterministic():
    signer = Signer.generate()
    txs = [_tx(signer, nonce=i) for i in range(3)]
    one, two = _executor(), _executor()
    hashes = []
    for executor in (one, two):
        _commit(executor, txs[:2])
        _commit(executor, txs[2:])
        hashes.append(executor.app_hash)
    assert hashes[0] == hashes[1]
    third = _executor()
    _commit(third, txs[:1])
    assert third.app_hash != one.app_hash


def test_the_app_hash_is_of_the_canonical_encoding_of_the_writes():
    """compute_app_hash packs the writes with msgpack directly: the bytes must be codec.pack's
    (PROTOCOL.md's app hash), whatever the keys and values (non-ASCII, empty, deleted, long)."""
    writes = {"a": b"", "market/order/000000000001": b"\x81\xa1a\x01", "z\u00e9/\u4e00": None,
              "token/bal/X/" + "f" * 64: bytes(range(256)) * 300, "\u00ff" * 40: b"x" * 70_000}
    ordered = dict(sorted(writes.items()))
    canonical = codec.pack([[key, value] for key, value in ordered.items()])
    assert compute_app_hash(b"p" * 32, ordered) == codec.sha256(b"p" * 32 + canonical)


def test_history_reads_state_as_of_any_height():
    executor = _executor()
    signer = Signer.generate()
    for amount, nonce in ((3, 1), (4, 2), (10, 3)):
        _commit(executor, [_tx(signer, args={"amount": amount}, nonce=nonce)])
    totals = [codec.unpack(HistoricalState(executor.store, h).get("counter/total"))
              for h in range(4)]
    assert totals == [0, 3, 7, 17]
    assert [k for k, _ in HistoricalState(executor.store, 1).range("counter/")] == \
        ["counter/total"]
    assert executor.query("x", "counter", "total", {}, at_height=2) == 7


def test_block_must_extend_the_chain():
    executor = _executor()
    block = make_block(CHAIN, 2, ZERO_HASH, 5, 0, "ksd", [])
    with pytest.raises(AssertionError):
        executor.apply(block, CommitCertificate(0, 2, block.hash, ()))


def test_reopened_store_resumes_where_it_stopped(tmp_path):
    path = str(tmp_path / "db")
    executor = _executor(LevelDB(path))
    signer = Signer.generate()
    tx = _tx(signer, nonce=9)
    _commit(executor, [tx])
    height, app_hash = executor.height, executor.app_hash
    executor.store.close()
    again = Executor(LevelDB(path), Registry([Counter()]), CHAIN)
    again.init_genesis(b"g" * 32, 1000, {"counter/total": codec.pack(0)})
    assert (again.height, again.app_hash) == (height, app_hash)
    assert again.is_committed(tx.tx_id) and again.block(1) is not None
    with pytest.raises(RuntimeError, match="another genesis"):
        again.init_genesis(b"x" * 32, 1000, {})
    again.store.close()


def test_mempool_admission_codes_in_order():
    executor = _executor()
    registry = executor.registry
    pool = Mempool(CHAIN, registry, executor.verified, executor.is_committed, max_txs=2)
    signer = Signer.generate()
    now = 10_000

    def code(tx):
        with pytest.raises(txmod.TxError) as caught:
            pool.admit(tx, now)
        return caught.value.code

    assert code(_tx(signer, chain="other", expires=now + 1)) == "wrong_chain"
    forged = txmod.decode_body(_tx(signer, nonce=7, expires=now + 1).body_bytes, b"\x02" * 64)
    assert code(forged) == "bad_signature"
    assert code(_tx(signer, expires=now - 1)) == "expired"
    assert code(_tx(signer, expires=now + 3_600_001)) == "expired"
    unknown = txmod.build(signer, CHAIN, "nope", "add", {}, 1, now + 1)
    assert code(unknown) == "unknown_contract"
    assert code(_tx(signer, method="total", args={}, expires=now + 1)) == "unknown_method"
    first = _tx(signer, nonce=1, expires=now + 1)
    pool.admit(first, now)
    assert code(first) == "duplicate"
    pool.admit(_tx(signer, nonce=2, expires=now + 1), now)
    assert code(_tx(signer, nonce=3, expires=now + 1)) == "mempool_full"
    pool.remove_committed([first.tx_id])
    assert len(pool) == 1
    assert s.read_u64(executor.store.get(s.META_HEIGHT)) == 0


class Book(Contract):
    """Reads the past through the executor's chain history; counts blocks in a hook."""

    name = "book"

    @transaction
    def put(self, ctx, key, value):
        ctx.state.put(f"k/{key}", value)

    @internal
    def keys(self, ctx, after):
        return [[key, value] for key, value in ctx.state.range("k/", f"k/{after}\x01"
                                                                if after else "")]

    @transaction
    def past(self, ctx, height, after):
        return {"keys": ctx.call_at(height, "book", "keys", after=after),
                "before": ctx.last_height_before(ctx.time)}

    @begin_block
    def tick(self, ctx):
        ctx.state.put("blocks", ctx.state.get("blocks", 0) + 1)


@pytest.mark.parametrize("leveldb", [False, True])
def test_contracts_read_the_committed_past_and_hooks_run_per_block(leveldb, tmp_path):
    store = LevelDB(str(tmp_path / "db")) if leveldb else MemoryKV()
    executor = Executor(store, Registry([Book()]), CHAIN)
    executor.init_genesis(b"g" * 32, 1000, {})
    signer = Signer.generate()

    def book(method, nonce, **args):
        return txmod.build(signer, CHAIN, "book", method, args, nonce, 10**13)

    _commit(executor, [book("put", 1, key="b", value=1), book("put", 2, key="a", value=1)],
            time=2000)
    _commit(executor, [book("put", 3, key="c", value=2), book("put", 4, key="a", value=2)],
            time=2000)  # the same time as the block before
    _commit(executor, [book("put", 5, key="d", value=3)], time=3000)
    first = book("past", 6, height=1, after="")
    paged = book("past", 7, height=2, after="a")
    _commit(executor, [first, paged], time=3000)
    assert executor.receipt(first.tx_id).result == {
        "keys": [["k/a", 1], ["k/b", 1]], "before": 2}  # block 3 (3000) is not before 3000
    assert executor.receipt(paged.tx_id).result["keys"] == [["k/b", 1], ["k/c", 2]]
    assert executor.history.last_height_before(2000) == 0
    assert executor.history.last_height_before(2001) == 2
    assert executor.history.last_height_before(10**9) == 4
    assert codec.unpack(executor.state.get("book/blocks")) == 4  # the hook ran in each block
    store.close()


class TxIndexReads(MemoryKV):
    """A store that lists the tx ids whose index entry was read."""

    def __init__(self):
        super().__init__()
        self.tx_reads = []

    def get(self, key):
        if key.startswith(s.TX):
            self.tx_reads.append(key[len(s.TX):])
        return super().get(key)


def test_whether_committed_is_answered_from_memory_where_it_surely_is_not(tmp_path):
    """node.ledger.committed: the ids committed since the start, by window of `expires`, and the
    highest `expires` committed before it; the store answers every "maybe"."""
    store = TxIndexReads()
    executor = _executor(store)
    pool = Mempool(CHAIN, executor.registry, executor.verified, executor.is_committed)
    signer = Signer.generate()
    now = 10_000
    held, stranger = _tx(signer, nonce=1, expires=now + 1), _tx(signer, nonce=2, expires=now + 1)
    pool.admit(held, now)
    applied = _commit(executor, [held, stranger])
    assert [r.ok for r in applied.receipts] == [True, True]
    assert store.tx_reads == []  # admission and execution: nothing committed could match
    pool.remove_committed(applied.block.tx_ids())
    again = _commit(executor, [held, stranger])  # a primary proposing them again
    assert again.dropped == 2 and not again.receipts
    assert store.tx_reads == [held.tx_id, stranger.tx_id]  # memory said maybe; the store, yes
    with pytest.raises(txmod.TxError, match="already submitted"):
        pool.admit(held, now)

    store.tx_reads.clear()  # a restart: what was committed before it is the store's to say
    restarted = Executor(store, executor.registry, CHAIN)
    assert restarted.is_committed(held.tx_id, held.expires)
    fresh = _tx(signer, nonce=3, expires=now + 1)
    assert not restarted.is_committed(fresh.tx_id, fresh.expires)
    assert store.tx_reads == [held.tx_id, fresh.tx_id]
    later = _tx(signer, nonce=4, expires=now + 2)  # expires after all that was committed
    assert not restarted.is_committed(later.tx_id, later.expires)
    assert store.tx_reads == [held.tx_id, fresh.tx_id]


class Scratch(Contract):
    """Writes and deletes keys on demand."""

    name = "scratch"

    @transaction
    def put(self, ctx, key):
        ctx.state.put(key, 1)

    @transaction
    def delete(self, ctx, key):
        ctx.state.delete(key)


def _scratch_executor():
    executor = Executor(MemoryKV(), Registry([Scratch()]), CHAIN)
    executor.init_genesis(b"g" * 32, 1000, {"scratch/old": codec.pack(1)})
    return executor


def _scratch(signer, method, key, nonce):
    return txmod.build(signer, CHAIN, "scratch", method, {"key": key}, nonce, 10**13)


def _history(executor, key):
    return [value for _, value in executor.store.iterate(s.history_prefix(key))]


def test_a_key_created_and_deleted_within_a_block_leaves_nothing():
    """Net writes: a key absent before the block and after it has no state, no history entry
    and no pair in the app hash (the same hash as a block that never wrote it); a key that
    existed before is still recorded when deleted, and one created in an earlier block too."""
    signer = Signer.generate()
    churned = _scratch_executor()
    applied = _commit(churned, [_scratch(signer, "put", "gone", 1),
                                _scratch(signer, "put", "kept", 2),
                                _scratch(signer, "delete", "gone", 3),
                                _scratch(signer, "delete", "never", 4)])
    quiet = _scratch_executor()
    _commit(quiet, [_scratch(signer, "put", "kept", 2)])
    assert churned.app_hash == quiet.app_hash
    assert applied.writes == {"scratch/kept": codec.pack(1)}
    assert _history(churned, "scratch/gone") == [] and _history(churned, "scratch/never") == []
    assert churned.store.get(s.state_key("scratch/gone")) is None
    _commit(churned, [_scratch(signer, "delete", "old", 5), _scratch(signer, "delete", "kept", 6),
                      _scratch(signer, "put", "again", 7), _scratch(signer, "delete", "again", 8)])
    _commit(quiet, [_scratch(signer, "delete", "old", 5), _scratch(signer, "delete", "kept", 6)])
    assert churned.app_hash == quiet.app_hash
    assert _history(churned, "scratch/old") == [codec.pack(1), b""]
    assert _history(churned, "scratch/kept") == [codec.pack(1), b""]
    assert _history(churned, "scratch/again") == []
    assert churned.app_hash == compute_app_hash(
        churned.app_hash_at(1), {"scratch/kept": None, "scratch/old": None})


def test_the_net_writes_are_in_key_order():
    signer = Signer.generate()
    executor = _scratch_executor()
    names = ["m", "z", "a", "old", "b/x", "b", "y"]
    applied = _commit(executor, [_scratch(signer, "delete" if name in ("old", "b") else "put",
                                          name, nonce) for nonce, name in enumerate(names)])
    assert list(applied.writes) == ["scratch/a", "scratch/b/x", "scratch/m", "scratch/old",
                                    "scratch/y", "scratch/z"]
    assert applied.writes["scratch/old"] is None
