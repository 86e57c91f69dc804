"""Checkpoints, garbage collection and state transfer."""

from __future__ import annotations

from tests.consensus.harness import Cluster, message_type, txs


def test_stable_checkpoints_move_the_low_watermark_and_bound_the_log() -> None:
    cluster = Cluster(4, checkpoint_interval=4, watermark_window=8, max_block_txs=1,
                      max_pipeline=4)
    largest_log = 0
    for i in range(40):
        cluster.submit(txs(i, 1))
        cluster.tick(50)
        largest_log = max(largest_log, *(cluster[n].log_size for n in cluster.names))
    assert cluster.assert_same_chain() == 40
    for name in cluster.names:
        replica = cluster[name]
        assert replica.stable_checkpoint == 40 and replica.low_watermark == 40
        # nothing above the stable checkpoint is left but the latest checkpoint votes
        assert replica.log_size <= 4 * 4
        # what was persisted below the stable checkpoint was deleted
        assert sorted(cluster.nodes[name].disk) == ["checkpoint"]
    assert largest_log <= 8 * 4 * 3 + 4 * 4  # L slots x n votes x kinds + checkpoint votes


def test_lagging_replica_fetches_up_to_a_stable_checkpoint_and_rejoins() -> None:
    cluster = Cluster(4, checkpoint_interval=4, watermark_window=8, max_block_txs=1)
    cluster.deliver_if = lambda s, t, data: t != "op3"  # op3 is cut off
    for i in range(10):
        cluster.submit(txs(i, 1), to=["op0", "op1", "op2"])
        cluster.tick(50)
    assert cluster.heights() == {"op0": 10, "op1": 10, "op2": 10, "op3": 0}
    cluster.deliver_if = None
    for i in range(10, 16):
        cluster.submit(txs(i, 1), to=["op0", "op1", "op2"])
        cluster.tick(50)
    op3 = cluster["op3"]
    assert op3.stats["dropped_outside_watermarks"] > 0  # it saw it was far behind
    assert cluster.nodes["op3"].fetches[0].from_height == 1
    assert op3.stats["state_transfers"] >= 1
    assert op3.stable_checkpoint == 16 and op3.last_executed == 16
    cluster.assert_same_chain()
    # and it votes again: with op0 down, op3 is needed for a quorum
    cluster.crash("op0")
    cluster.submit(txs(100, 1), to=["op1", "op2", "op3"])
    cluster.advance(2500)
    assert cluster.heights()["op3"] == 17


def test_replica_that_missed_a_pre_prepare_fetches_after_a_grace_period() -> None:
    cluster = Cluster(4, max_block_txs=1)
    cluster.deliver_if = lambda s, t, data: not (t == "op3" and
                                                 message_type(data) == "PRE-PREPARE")
    cluster.submit(txs(0, 1), to=["op0", "op1", "op2"])
    cluster.tick(50)
    assert cluster.heights()["op3"] == 0
    cluster.advance(1000)
    assert cluster["op3"].stats["lag_detected"] == 1
    assert cluster.heights()["op3"] == 1
    cluster.assert_same_chain()


def test_own_checkpoint_is_signed_after_execution() -> None:
    cluster = Cluster(1, checkpoint_interval=2, watermark_window=4, max_block_txs=1, max_pipeline=2)
    cluster.submit(txs(0, 5))
    cluster.tick(50)
    replica = cluster["op0"]
    assert replica.last_executed == 5 and replica.stable_checkpoint == 4
    assert replica.stats["out_CHECKPOINT"] == 2
