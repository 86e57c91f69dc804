"""Red-team findings against the consensus core (docs/redteam-consensus.md): each test is
one attack that worked before its fix."""

from __future__ import annotations

from consensus import codec
from consensus.events import MessageReceived
from tests.consensus.harness import Cluster, drop_types, txs


def test_lost_checkpoints_do_not_stall_the_chain_for_good() -> None:
    """R1. CHECKPOINTs were sent once. Lose every one of them for a while (message loss,
    a link reset) and every replica's window fills: the primary may not propose past
    h + L, no block executes, so no CHECKPOINT is ever signed again, and view changes
    carry the same old stable checkpoint round after round. After the loss ends the chain
    must move on."""
    cluster = Cluster(4, checkpoint_interval=4, watermark_window=8, max_block_txs=1,
                      max_pipeline=4)
    cluster.deliver_if = drop_types("CHECKPOINT")
    for i in range(12):
        cluster.submit(txs(i, 1))
        cluster.tick(50)
    assert set(cluster.heights().values()) == {8}, "the window is full: the chain waits"
    cluster.deliver_if = None  # the loss ends
    cluster.submit(txs(100, 4))
    cluster.advance(20_000)
    assert min(cluster.heights().values()) >= 12
    cluster.assert_same_chain()


def test_a_replica_past_a_checkpoint_helps_the_ones_still_waiting_for_it() -> None:
    """R1, split: op0 and op1 saw a quorum of CHECKPOINTs, op2 and op3 lost theirs, so
    op0's window moved on and op2's and op3's did not. The chain must still move on once the
    loss ends. (This case held before the fix too: it is kept beside the two that did not,
    so a fix for them that broke it would show.)"""
    cluster = Cluster(4, checkpoint_interval=4, watermark_window=8, max_block_txs=1,
                      max_pipeline=4)
    lose = drop_types("CHECKPOINT")
    cluster.deliver_if = lambda s, t, data: t in ("op0", "op1") or lose(s, t, data)
    for i in range(12):
        cluster.submit(txs(i, 1))
        cluster.tick(50)
    assert [cluster[name].stable_checkpoint for name in cluster.names] == [8, 8, 0, 0]
    cluster.deliver_if = None
    cluster.advance(10_000)
    assert min(cluster.heights().values()) >= 12
    cluster.assert_same_chain()


def test_a_cluster_stalled_by_lost_checkpoints_recovers_after_every_replica_restarts() -> None:
    """R1 after a restart: the CHECKPOINTs a replica signed are not on its disk. Restarted,
    it signs the one of its executed height again, so a cluster whose replicas all
    restarted with full windows still moves on."""
    cluster = Cluster(4, checkpoint_interval=4, watermark_window=8, max_block_txs=1,
                      max_pipeline=4)
    cluster.deliver_if = drop_types("CHECKPOINT")
    for i in range(12):
        cluster.submit(txs(i, 1))
        cluster.tick(50)
    assert set(cluster.heights().values()) == {8}
    for name in cluster.names:
        cluster.crash(name)
    cluster.deliver_if = None
    for name in cluster.names:
        cluster.restart(name)
    cluster.submit(txs(100, 4))
    cluster.advance(20_000)
    assert min(cluster.heights().values()) >= 12
    cluster.assert_same_chain()


def test_a_block_request_with_unhashable_hashes_is_dropped_not_raised() -> None:
    """R2. BLOCK-REQUEST's decoder checked that its hashes are distinct with set() before
    it checked they are bytes: a list among them raised TypeError out of `Replica.handle`,
    which a real node takes for its own bug and stops on (node.app `_fail`). One frame from
    any operator stopped any honest node."""
    cluster = Cluster(4)
    replica = cluster["op0"]
    for hashes in ([[1], [2]], [{"a": 1}], [bytes(32), [1]]):
        data = codec.pack({"type": "BLOCK-REQUEST", "view": 0, "hashes": hashes,
                           "sender": "op1", "sig": bytes(64)})
        assert replica.handle(MessageReceived("op1", data)) == []
    assert replica.stats["dropped_undecodable"] == 3
