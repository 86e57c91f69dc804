"""Admission control: the hard and soft bounds, the commit-rate estimate, the fair share, the
unknown-sender refusal and the record of admitted-then-expired transactions."""

import pytest

from consensus.crypto import Signer
from node.admission import tx as txmod
from node.admission.mempool import AdmissionLimits, KnownSenders, Mempool
from node.admission.tx import MAX_TX_BYTES
from node.admission.verified import VerifiedCache
from tests.node.test_executor import CHAIN, _commit, _executor, _tx

NOW = 10_000
EXPIRES = NOW + 60_000


def _pool(limits=None, known=None, entry_nodes=4, **bounds):
    executor = _executor()
    return Mempool(CHAIN, executor.registry, executor.verified, executor.is_committed,
                   entry_nodes=entry_nodes, observers=["fss"],
                   limits=limits or AdmissionLimits(backlog_ms=1_000, min_backlog_txs=32,
                                                    sender_share_divisor=8,
                                                    min_sender_share=2),
                   known_sender=known, **bounds)


def _code(pool, tx, relayed=False):
    with pytest.raises(txmod.TxError) as caught:
        pool.admit(tx, NOW, relayed=relayed)
    return caught.value


def _fill(pool, count, nonce=0, relayed=True):
    """`count` txs of as many senders, gossiped by other operators unless `relayed` is off."""
    signers = [Signer.generate() for _ in range(count)]
    for i, signer in enumerate(signers):
        pool.admit(_tx(signer, nonce=nonce + i, expires=EXPIRES), NOW, relayed=relayed)
    return signers


def test_hard_bounds_count_and_bytes():
    pool = _pool(max_txs=3)
    _fill(pool, 3)
    refused = _code(pool, _tx(Signer.generate(), expires=EXPIRES), relayed=True)
    assert (refused.code, refused.status) == ("mempool_full", 503)
    assert refused.retry_after_s is not None and refused.retry_after_s >= 1
    one = _tx(Signer.generate(), expires=EXPIRES)
    size = one.weight
    small = _pool(max_bytes=2 * size)
    small.admit(one, NOW)
    small.admit(_tx(Signer.generate(), nonce=1, expires=EXPIRES), NOW)
    assert _code(small, _tx(Signer.generate(), nonce=2, expires=EXPIRES)).code == "mempool_full"
    assert small.bytes == 2 * size and len(small) == 2


def test_soft_bound_follows_the_commit_rate():
    pool = _pool()
    assert pool.capacity() == 32  # nothing measured yet: the floor
    pool.on_tick(0)
    pool.on_commit(500)
    pool.on_tick(1_000)
    assert pool.commit_rate == 500 and pool.capacity() == 500  # 1 s of commits
    pool.on_commit(100)
    pool.on_tick(2_000)  # quiet and not busy: little sent, not a slower cluster
    assert pool.commit_rate == 500
    _fill(pool, 300)  # busy: at least half the soft bound
    pool.on_commit(100)
    pool.on_tick(3_000)
    assert pool.commit_rate == 300  # halfway to the measured 100 tx/s
    pool.on_commit(1_000)
    pool.on_tick(4_000)
    assert pool.commit_rate == 650  # a faster sample always raises it


def test_soft_bound_refuses_with_retry_after_and_relayed_txs_pass():
    pool = _pool()
    _fill(pool, 32)
    signer = Signer.generate()
    pool.admit(_tx(signer, nonce=1, expires=EXPIRES), NOW)  # the reserve: nothing pending
    refused = _code(pool, _tx(signer, nonce=2, expires=EXPIRES))
    assert refused.code == "mempool_full" and refused.status == 503 and refused.retry_after_s
    # the same tx gossiped by the operator that admitted it: only the hard bound applies
    pool.admit(_tx(signer, nonce=2, expires=EXPIRES), NOW, relayed=True)
    assert len(pool) == 34


def test_own_clients_fill_at_most_half_the_bound():
    pool = _pool()
    _fill(pool, 16, relayed=False)  # 16 senders of this node's clients: half of 32
    senders = _fill(pool, 8, nonce=100, relayed=False)  # new senders: the reserve
    assert len(pool.local) == 24 and pool.is_full()
    refused = _code(pool, _tx(senders[0], nonce=999, expires=EXPIRES))
    assert refused.code == "mempool_full"
    pool.admit(_tx(Signer.generate(), expires=EXPIRES), NOW, relayed=True)  # gossip still in
    # with ten nodes taking clients each holds 2/10 of the bound (6), plus a reserve of 3
    ten = _pool(entry_nodes=10)
    _fill(ten, 9, relayed=False)
    assert ten.is_full() and len(ten.local) == 9


def test_reserve_is_bounded():
    pool = _pool()
    _fill(pool, 32 + 7)
    assert not pool.is_full()
    _fill(pool, 1, nonce=100)  # cap + cap // 4: the reserve is used up
    assert pool.is_full() and pool.full_error().status == 503
    assert _code(pool, _tx(Signer.generate(), expires=EXPIRES)).code == "mempool_full"


def test_one_sender_cannot_fill_the_pool():
    pool = _pool()
    flooder = Signer.generate()
    admitted = refused = 0
    for nonce in range(100):
        try:
            pool.admit(_tx(flooder, nonce=nonce, expires=EXPIRES), NOW)
            admitted += 1
        except txmod.TxError as error:
            assert error.code == "mempool_full" and error.status == 503
            refused += 1
    # a quarter of the soft bound of 32 through this node, then it is past its share (4)
    assert admitted == 8 and refused == 92
    assert pool.by_sender[flooder.public_key] == 8
    # others still get in: from other operators, and here through the reserve
    others = _fill(pool, 16, nonce=1000)
    assert len(pool) == 24
    bank = Signer.generate()
    pool.admit(_tx(bank, nonce=1, expires=EXPIRES), NOW)
    assert _code(pool, _tx(flooder, nonce=999, expires=EXPIRES)).code == "mempool_full"
    assert len(others) == 16


def test_fair_share_past_half_the_soft_bound():
    pool = _pool()
    _fill(pool, 16)  # half of 32
    busy = Signer.generate()
    for nonce in range(4):  # its share: max(2, 32 // 8)
        pool.admit(_tx(busy, nonce=nonce, expires=EXPIRES), NOW)
    assert _code(pool, _tx(busy, nonce=4, expires=EXPIRES)).code == "mempool_full"


def test_unknown_or_revoked_sender_is_refused_403():
    known = Signer.generate()
    revoked = Signer.generate()
    records = {known.account: {"status": "active"}, revoked.account: {"status": "revoked"}}
    lookups = []

    def lookup(account):
        lookups.append(account)
        return records.get(account)

    senders = KnownSenders(lookup)
    pool = _pool(known=senders)
    stranger = Signer.generate()
    for signer in (stranger, revoked):
        refused = _code(pool, _tx(signer, expires=EXPIRES))
        assert (refused.code, refused.status) == ("unknown_sender", 403)
    pool.admit(_tx(known, expires=EXPIRES), NOW)
    pool.admit(_tx(known, nonce=1, expires=EXPIRES), NOW)
    assert lookups.count(known.account) == 1  # cached
    # a block registers the stranger: its cached answer is forgotten
    records[stranger.account] = {"status": "active"}
    senders.forget([f"identity/account/{stranger.account}", "token/meta/X"])
    pool.admit(_tx(stranger, nonce=2, expires=EXPIRES), NOW)
    assert len(pool) == 3


def test_unknown_sender_is_refused_before_the_signature_is_checked():
    pool = _pool(known=KnownSenders(lambda account: None))
    signer = Signer.generate()
    forged = txmod.decode_body(_tx(signer, expires=EXPIRES).body_bytes, b"\x01" * 64)
    assert _code(pool, forged).code == "unknown_sender"


def test_admitted_then_expired_is_reported_expired():
    pool = _pool()
    signer = Signer.generate()
    soon = _tx(signer, nonce=1, expires=NOW + 5)
    later = _tx(signer, nonce=2, expires=NOW + 1_000)
    dropped_in_block = _tx(signer, nonce=3, expires=NOW + 500)
    committed = _tx(signer, nonce=4, expires=NOW + 2_000)
    for tx in (soon, later, dropped_in_block, committed):
        pool.admit(tx, NOW)
    assert pool.drop_expired(NOW) == 0
    assert pool.drop_expired(NOW + 6) == 1
    assert pool.status(soon.tx_id) == "expired" and pool.status(later.tx_id) == "pending"
    # a block at time NOW+600 carried two: the executor dropped the one expired by then
    pool.remove_committed([dropped_in_block.tx_id, committed.tx_id], block_time=NOW + 600)
    assert pool.status(dropped_in_block.tx_id) == "expired"
    assert pool.status(committed.tx_id) is None
    assert pool.status(b"\x00" * 32) is None
    assert len(pool) == 1 and pool.by_sender[signer.public_key] == 1


def test_a_refused_transaction_changes_nothing():
    pool = _pool(max_txs=1)
    pool.admit(_tx(Signer.generate(), expires=EXPIRES), NOW)
    before = (dict(pool.pending), pool.bytes, dict(pool.by_sender))
    for _ in range(3):
        _code(pool, _tx(Signer.generate(), nonce=5, expires=EXPIRES))
    assert (dict(pool.pending), pool.bytes, dict(pool.by_sender)) == before


# -- the verified cache follows the pool -------------------------------------------------------
# A transaction that leaves the pool without executing must leave the signature cache too:
# kept there, a sender cycling big bodies that expire at once grew it with the pool empty.

def test_a_tx_that_expires_in_the_pool_leaves_the_verified_cache():
    pool = _pool()
    for nonce in range(10):
        pool.admit(_tx(Signer.generate(), nonce=nonce, expires=NOW), NOW)
    assert len(pool.verified) == 10
    assert pool.drop_expired(NOW + 1) == 10
    assert len(pool.verified) == 0 and pool.verified.bytes == 0


def test_a_tx_a_block_drops_as_expired_leaves_the_verified_cache():
    executor = _executor()
    pool = Mempool(CHAIN, executor.registry, executor.verified, executor.is_committed)
    signer = Signer.generate()
    txs = [_tx(signer, nonce=n, expires=1500) for n in range(5)]
    for tx in txs:
        pool.admit(tx, 1500)
    applied = _commit(executor, txs, time=2000)  # the block's time is past their expiry
    pool.remove_committed(applied.block.tx_ids(), applied.block.header.time)
    assert applied.dropped == 5 and len(pool) == 0
    assert len(executor.verified) == 0 and executor.verified.bytes == 0


def test_the_verified_cache_is_bounded_by_body_bytes():
    cache = VerifiedCache(max_bytes=4 * MAX_TX_BYTES)
    filler = "x" * (MAX_TX_BYTES - 300)
    for nonce in range(40):  # big bodies that never execute nor leave a pool
        cache.check(_tx(Signer.generate(), args={"amount": 1, "memo": filler}, nonce=nonce))
        assert cache.bytes == sum(tx.weight for tx in cache._txs.values())
        assert cache.bytes <= cache.max_bytes
    assert 0 < len(cache) <= 4


# -- the pool counts what a transaction holds in memory ----------------------------------------
# A byte of msgpack (0x90, an empty array) decodes to a 56-byte list: counted by wire bytes, a
# pool bound of 32 MiB held 2 GB of such args.

def _decoded_bytes(tx) -> int:
    """What decoding `tx` again allocates and keeps (the decoded transaction)."""
    import tracemalloc

    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    again = txmod.decode_body(tx.body_bytes, tx.sig)
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert again.weight == tx.weight
    return held


@pytest.mark.parametrize("args", [
    {"amount": 1},
    {"amount": [[] for _ in range(20_000)]},
    {"amount": [{} for _ in range(20_000)]},
    {"amount": list(range(5_000)), "to": "x" * 40},
], ids=["plain", "empty-arrays", "empty-maps", "ints"])
def test_a_transactions_weight_covers_what_it_holds_decoded(args):
    tx = _tx(Signer.generate(), args=args, expires=EXPIRES)
    assert len(tx.body_bytes) <= MAX_TX_BYTES
    assert _decoded_bytes(tx) <= tx.weight


def test_a_pool_of_empty_containers_holds_no_more_than_its_bound():
    import tracemalloc

    fat = [_tx(Signer.generate(), args={"amount": [[] for _ in range(20_000)]}, nonce=i,
               expires=EXPIRES) for i in range(16)]
    pool = _pool(max_bytes=4 * fat[0].weight)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    admitted = 0
    for tx in fat:  # as the RPC or gossip does: decode, then admit
        try:
            pool.admit(txmod.decode_body(tx.body_bytes, tx.sig), NOW, relayed=True)
            admitted += 1
        except txmod.TxError as error:
            assert error.code == "mempool_full"
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert admitted == 4 and pool.bytes <= pool.max_bytes
    assert held <= pool.max_bytes, f"{held / 2**20:.1f} MiB held for {pool.max_bytes / 2**20:.1f}"


# ---- issue 27, item 5: relays in the lane of the peer that relayed them ----------------------

def _relay(pool, peer, signer, count, nonce=0):
    """`count` txs of one sender that `peer` relays; whether each was admitted timed, or the
    code it was refused with."""
    outcomes = []
    for i in range(count):
        try:
            outcomes.append(pool.admit(_tx(signer, nonce=nonce + i, expires=EXPIRES), NOW,
                                       relayed=True, peer=peer))
        except txmod.TxError as error:
            outcomes.append(error.code)
    return outcomes


def test_a_flood_one_operator_relays_takes_no_clients_room():
    """One registered key, 400 transactions relayed by one operator (12 times the soft bound
    of 32): all are in the pool, the first local bound (16) timed, and a client sender with
    nothing pending is still admitted. Before, the flood made the pool full for everyone."""
    pool = _pool()
    outcomes = _relay(pool, "bank", Signer.generate(), 400)
    assert outcomes == [True] * 16 + [False] * 384
    assert len(pool) == 400 and pool.load() == 16 and not pool.is_full()
    pool.admit(_tx(Signer.generate(), expires=EXPIRES), NOW)  # an honest client: admitted
    assert len(pool.local) == 1


def test_an_operators_lane_holds_its_share_of_the_hard_bound():
    pool = _pool(max_txs=100)
    outcomes = _relay(pool, "bank", Signer.generate(), 30)
    assert outcomes[:25] == [True] * 16 + [False] * 9 and outcomes[25:] == ["mempool_full"] * 5
    assert _relay(pool, "ksd", Signer.generate(), 1) == [True]  # another peer's lane: room


def test_an_observer_relays_no_more_than_its_clients_fair_share():
    pool = _pool()
    outcomes = _relay(pool, "fss", Signer.generate(), 40)
    assert outcomes == [True] * 16 + [False] * 16 + ["mempool_full"] * 8  # 2 x local bound


def test_a_lane_frees_as_its_transactions_commit():
    pool = _pool()
    signer = Signer.generate()
    first = [_tx(signer, nonce=i, expires=EXPIRES) for i in range(20)]
    for tx in first:
        pool.admit(tx, NOW, relayed=True, peer="bank")
    assert pool.lanes["bank"][0] == 20
    pool.remove_committed([tx.tx_id for tx in first[:10]])
    assert pool.lanes["bank"] == (10, sum(tx.weight for tx in first[10:]))
    assert _relay(pool, "bank", signer, 1, nonce=100) == [True]  # back under its share
    pool.remove_committed([tx.tx_id for tx in first[10:]])
    assert pool.lanes == {"bank": (1, pool.bytes)} and len(pool.lane_of) == 1


def test_a_broker_holds_its_clients_share_and_an_account_its_own():
    """A broker sends every order of its clients (PROTOCOL), so past half the soft bound it
    may hold half of this node's clients' bound (local_bound 2 * 32 // 4 = 16: 8), where an
    investor holds its own share (4); past that the broker is refused too."""
    broker, investor = Signer.generate(), Signer.generate()
    records = {broker.account: {"status": "active", "role": "broker"},
               investor.account: {"status": "active", "role": "investor"}}
    senders = KnownSenders(lambda account: records.get(
        account, {"status": "active", "role": "investor"}))
    pool = _pool(known=senders)
    pool.is_broker = senders.is_broker
    _fill(pool, 16)  # half of 32
    for signer, share in ((investor, 4), (broker, 8)):
        for nonce in range(share):
            pool.admit(_tx(signer, nonce=nonce, expires=EXPIRES), NOW)
        refused = _code(pool, _tx(signer, nonce=share, expires=EXPIRES))
        assert refused.code == "mempool_full" and "share" in refused.message
    assert not senders.is_broker(investor.public_key) and senders.is_broker(broker.public_key)
