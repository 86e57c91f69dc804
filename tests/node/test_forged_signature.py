"""Finding 1 of issue 13: execution depends only on the block's bytes.

A malicious primary puts a valid body with a forged signature in a block. A node that admitted
the genuine transaction earlier (its verified cache is warm) and a node that never saw it (an
observer, a restarted node) must both drop it, and end with the same app hash."""

from chaincode.runtime import Registry
from consensus import codec
from consensus.block import CommitCertificate, make_block
from consensus.crypto import Signer
from node.admission import tx as txmod
from node.admission.mempool import Mempool
from node.admission.verified import VerifiedCache
from node.ledger.executor import Executor
from node.storage import MemoryKV
from tests.node.test_executor import CHAIN, Counter, _tx


def _executor() -> Executor:
    executor = Executor(MemoryKV(), Registry([Counter()]), CHAIN, VerifiedCache())
    executor.init_genesis(b"g" * 32, 1000, {"counter/total": codec.pack(0)})
    return executor


def test_a_forged_signature_on_a_known_body_is_dropped_by_warm_and_cold_nodes_alike():
    signer = Signer.generate()
    genuine = _tx(signer, nonce=1, expires=100_000)
    forged = txmod.decode_body(genuine.body_bytes, b"\x07" * 64)
    warm, cold = _executor(), _executor()
    pool = Mempool(CHAIN, warm.registry, warm.verified, warm.is_committed)
    pool.admit(genuine, 1500)  # the warm node saw the genuine transaction at admission
    block = make_block(CHAIN, 1, warm.last_block_hash, 2000, 0, "ksd",
                       [(forged.body_bytes, forged.sig)])
    cert = CommitCertificate(0, 1, block.hash, ())
    applied = [executor.apply(block, cert) for executor in (warm, cold)]
    assert [a.dropped for a in applied] == [1, 1]
    assert warm.app_hash == cold.app_hash
    assert not warm.is_committed(genuine.tx_id)
    assert warm.query("x", "counter", "total", {}) == 0


def test_the_cache_answers_only_for_the_signature_it_checked():
    signer = Signer.generate()
    genuine = _tx(signer, nonce=2)
    forged = txmod.decode_body(genuine.body_bytes, b"\x09" * 64)
    cache = VerifiedCache()
    cache.remember(genuine)
    assert cache.check(genuine) and not cache.check(forged)
    assert cache.decoded(genuine.body_bytes, genuine.sig) is genuine
    assert cache.decoded(forged.body_bytes, forged.sig) is None


def test_the_cache_answers_only_for_the_body_a_signature_was_checked_with():
    """The cache is keyed by signature: a genuine signature copied onto another body (a
    primary replaying it, a client guessing) is no hit, and does not evict the genuine one."""
    signer = Signer.generate()
    genuine = _tx(signer, nonce=3)
    other = _tx(signer, nonce=4)
    borrowed = txmod.decode_body(other.body_bytes, genuine.sig)
    cache = VerifiedCache()
    cache.remember(genuine)
    assert not cache.check(borrowed)
    assert cache.decoded(borrowed.body_bytes, borrowed.sig) is None
    cache.discard(borrowed)
    assert cache.decoded(genuine.body_bytes, genuine.sig) is genuine


def test_the_replica_admission_check_refuses_forged_expired_and_foreign_transactions():
    signer = Signer.generate()
    executor = _executor()
    genuine = _tx(signer, nonce=3, expires=5000)
    forged = txmod.decode_body(genuine.body_bytes, b"\x05" * 64)
    foreign = _tx(signer, nonce=4, expires=5000, chain="other")
    check = executor.admits_block_tx
    assert check(genuine.body_bytes, genuine.sig, 4000)
    assert not check(forged.body_bytes, forged.sig, 4000)
    assert not check(genuine.body_bytes, genuine.sig, 5001)  # expired at the block's time
    assert not check(foreign.body_bytes, foreign.sig, 4000)
    assert not check(b"\x90", genuine.sig, 4000)  # does not decode


def test_a_block_transaction_is_verified_once_from_pre_prepare_to_execution(monkeypatch):
    """A tx first seen in a proposed block (its gossip not arrived yet) is verified by the
    PRE-PREPARE check; execution and the late gossip then take it from the cache."""
    signer = Signer.generate()
    executor = _executor()
    tx = _tx(signer, nonce=5, expires=100_000)
    verifies = []
    real = txmod.Transaction.is_signed
    monkeypatch.setattr(txmod.Transaction, "is_signed",
                        lambda self: verifies.append(self.tx_id) or real(self))
    assert executor.admits_block_tx(tx.body_bytes, tx.sig, 2000)
    pool = Mempool(CHAIN, executor.registry, executor.verified, executor.is_committed)
    late = txmod.decode_body(tx.body_bytes, tx.sig)
    pool.admit(late, 1500)  # its gossip arrives after the proposal
    block = make_block(CHAIN, 1, executor.last_block_hash, 2000, 0, "ksd",
                       [(tx.body_bytes, tx.sig)])
    applied = executor.apply(block, CommitCertificate(0, 1, block.hash, ()))
    assert applied.dropped == 0 and executor.is_committed(tx.tx_id)
    assert verifies == [tx.tx_id]


def test_admission_and_execution_share_one_cache_so_an_admitted_tx_is_never_verified_again(
        monkeypatch):
    """The node builds one VerifiedCache for its mempool and executor. An empty cache is
    falsy (it has a length): the executor once took it for "none given" and made its own, so
    every admitted transaction was verified again when its block executed."""
    signer = Signer.generate()
    verified = VerifiedCache()
    executor = Executor(MemoryKV(), Registry([Counter()]), CHAIN, verified)
    executor.init_genesis(b"g" * 32, 1000, {"counter/total": codec.pack(0)})
    pool = Mempool(CHAIN, executor.registry, verified, executor.is_committed)
    verifies = []
    real = txmod.Transaction.is_signed
    monkeypatch.setattr(txmod.Transaction, "is_signed",
                        lambda self: verifies.append(self.tx_id) or real(self))
    tx = _tx(signer, nonce=6, expires=100_000)
    pool.admit(tx, 1500)
    block = make_block(CHAIN, 1, executor.last_block_hash, 2000, 0, "ksd",
                       [(tx.body_bytes, tx.sig)])
    assert executor.admits_block_tx(tx.body_bytes, tx.sig, 2000)
    executor.apply(block, CommitCertificate(0, 1, block.hash, ()))
    assert executor.is_committed(tx.tx_id) and verifies == [tx.tx_id]
    assert len(verified) == 0  # executed: forgotten
