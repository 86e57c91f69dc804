"""Normal case: pre-prepare, prepare, commit; batching; pipelining; block time rules."""

from __future__ import annotations

import pytest

from consensus import messages as msg
from consensus.block import check_certificate, make_block
from consensus.events import MessageReceived
from tests.consensus.harness import (
    CHAIN,
    GENESIS_TIME,
    Cluster,
    message_type,
    signer_of,
    txs,
)


@pytest.mark.parametrize("n", [1, 4, 7])
def test_all_replicas_commit_the_same_blocks_with_valid_certificates(n: int) -> None:
    cluster = Cluster(n)
    for round_ in range(3):
        cluster.submit(txs(round_ * 10, 10))
        cluster.tick(50)  # the batch delay passes: the primary cuts a block
    assert cluster.heights() == {name: 3 for name in cluster.names}
    assert cluster.assert_same_chain() == 3
    for node in cluster.nodes.values():
        for height, (block, cert) in node.blocks.items():
            assert check_certificate(cert, CHAIN, cluster.operator_keys, block.hash,
                                     height) is None
            assert len(cert.votes) >= cluster["op0"].committee.quorum
        assert node.replica.pending_count == 0
    assert cluster.committed_tx_count("op0") == 30


def test_transcript_of_one_block_on_four_replicas() -> None:
    cluster = Cluster(4)
    cluster.record = True
    cluster.submit(txs(0, 1))
    cluster.tick(50)
    lines = cluster.transcript
    # the primary proposes, every replica (primary included) prepares, then commits
    assert [line for line in lines if line.startswith("op0 -> op1")] == [
        "op0 -> op1 PRE-PREPARE", "op0 -> op1 PREPARE", "op0 -> op1 COMMIT"]
    assert sum("commits 1" in line for line in lines) == 4
    # 3 PRE-PREPAREs, then 4 x 3 PREPAREs and 4 x 3 COMMITs: n^2 per phase
    assert sum(line.endswith(" PRE-PREPARE") for line in lines) == 3
    assert sum(line.endswith(" PREPARE") for line in lines) == 12
    assert sum(line.endswith(" COMMIT") for line in lines) == 12


def test_batch_is_cut_when_full_and_otherwise_after_the_delay() -> None:
    cluster = Cluster(4, max_block_txs=10, max_block_delay_ms=50)
    cluster.submit(txs(0, 25))
    # two full blocks go at once; the 5 left wait for the delay
    assert cluster.heights()["op1"] == 2
    assert [len(b.txs) for b, _ in cluster.nodes["op1"].blocks.values()] == [10, 10]
    cluster.tick(30)
    assert cluster.heights()["op1"] == 2
    cluster.tick(20)
    assert cluster.heights()["op1"] == 3
    assert len(cluster.nodes["op1"].blocks[3][0].txs) == 5


def test_a_partial_block_waits_longer_while_blocks_are_in_flight() -> None:
    """The delay of a block that is not full grows by max_block_delay_ms for each block
    proposed and not yet committed, so a busy primary cuts fewer, bigger blocks."""
    cluster = Cluster(4, max_block_txs=10, max_block_delay_ms=50)
    cluster.deliver_if = lambda s, t, data: message_type(data) != "COMMIT"
    cluster.submit(txs(0, 13))  # one full block goes at once and stays in flight
    primary = cluster["op0"]
    assert primary.stats["proposed_blocks"] == 1
    cluster.tick(50)  # nothing in flight would have gone now; one block in flight: 100 ms
    assert primary.stats["proposed_blocks"] == 1
    cluster.tick(50)
    assert primary.stats["proposed_blocks"] == 2
    cluster.deliver_if = None


def test_batch_respects_max_block_bytes() -> None:
    cluster = Cluster(4, max_block_bytes=10_000, max_block_delay_ms=0)
    cluster.submit(txs(0, 6, size=3000))
    sizes = [len(b.txs) for b, _ in cluster.nodes["op2"].blocks.values()]
    assert sum(sizes) == 6 and max(sizes) <= 3
    for block, _ in cluster.nodes["op2"].blocks.values():
        assert len(block.encode()) <= 10_000


def test_no_empty_blocks_and_no_expired_txs() -> None:
    cluster = Cluster(4)
    cluster.advance(1000)
    assert cluster.heights()["op0"] == 0
    assert cluster["op0"].stats.get("proposed_blocks", 0) == 0
    cluster.submit(txs(0, 2, expires=GENESIS_TIME + 20) + txs(2, 2))
    cluster.tick(50)  # block time is now + 50 > the first two txs' expiry
    block = cluster.nodes["op0"].blocks[1][0]
    assert len(block.txs) == 2 and all(b"\x02" in body or b"\x03" in body
                                       for body, _ in block.txs)


def test_pipelining_keeps_several_blocks_in_flight_up_to_max_pipeline() -> None:
    cluster = Cluster(4, max_block_txs=1, max_pipeline=3)
    cluster.deliver_if = lambda s, t, data: message_type(data) != "COMMIT"
    cluster.submit(txs(0, 5))
    primary = cluster["op0"]
    assert primary.stats["proposed_blocks"] == 3  # pipeline full: 3 beyond last committed
    assert primary.last_committed == 0
    assert all(cluster[name].stats.get("out_PREPARE") == 3 for name in cluster.names)
    cluster.deliver_if = None
    # COMMITs were lost; the primary re-proposes nothing, but replicas time out and the
    # view change carries the three prepared blocks into view 1 with their bytes.
    cluster.advance(3000)
    assert cluster.assert_same_chain() == 5
    assert [b.header.view for b, _ in cluster.nodes["op3"].blocks.values()][:3] == [0, 0, 0]


def test_prepare_for_h_plus_1_waits_until_h_is_prepared() -> None:
    cluster = Cluster(4, max_block_txs=1)
    # op3 gets no PREPARE for seq 1, so it never prepares 1
    cluster.deliver_if = lambda s, t, data: not (
        t == "op3" and message_type(data) == "PREPARE" and
        msg.decode(data, cluster["op3"]._limits).seq == 1)
    cluster.submit(txs(0, 2))
    op3 = cluster["op3"]
    assert op3.stats["in_PRE-PREPARE"] == 2
    # it sent its own PREPARE for 1 (it has the pre-prepare), not for 2
    assert op3.stats["out_PREPARE"] == 1
    # the other three committed both without it: f = 1 may lag
    assert cluster.heights() == {"op0": 2, "op1": 2, "op2": 2, "op3": 0}


def test_pre_prepare_after_prepares_and_commits_still_commits() -> None:
    cluster = Cluster(4)
    late: list[bytes] = []

    def deliver(sender: str, to: str, data: bytes) -> bool:
        if to == "op1" and message_type(data) == "PRE-PREPARE":
            late.append(data)
            return False
        return True

    cluster.deliver_if = deliver
    cluster.submit(txs(0, 3), to=["op0"])
    cluster.tick(50)
    assert cluster.heights() == {"op0": 1, "op1": 0, "op2": 1, "op3": 1}
    assert cluster["op1"].stats["in_COMMIT"] == 3  # votes kept while the proposal is late
    cluster.feed("op1", MessageReceived("op0", late[0]))
    cluster.run()
    assert cluster.heights()["op1"] == 1


def forged_pre_prepare(cluster: Cluster, seq: int, prev: bytes, time: int):
    block = make_block(CHAIN, seq, prev, time, 0, "op0", [(b"tx", bytes(64))])
    return msg.sign(msg.PrePrepare(0, seq, block, "op0"), signer_of("op0"), CHAIN)


def test_block_time_must_not_run_ahead_of_the_replica_clock() -> None:
    cluster = Cluster(4, max_clock_skew_ms=5000)
    cluster.tick(1000)
    ahead = forged_pre_prepare(cluster, 1, bytes(32), cluster.now + 5001)
    cluster.feed("op1", MessageReceived("op0", ahead.encode()))
    assert cluster["op1"].stats["dropped_block_time_in_future"] == 1
    within = forged_pre_prepare(cluster, 1, bytes(32), cluster.now + 5000)
    cluster.feed("op1", MessageReceived("op0", within.encode()))
    assert cluster["op1"].stats["out_PREPARE"] == 1


def test_block_time_must_not_go_back() -> None:
    cluster = Cluster(4)
    cluster.submit(txs(0, 1))
    cluster.tick(50)
    first = cluster.nodes["op1"].blocks[1][0]
    earlier = forged_pre_prepare(cluster, 2, first.hash, first.header.time - 1)
    cluster.feed("op1", MessageReceived("op0", earlier.encode()))
    assert cluster["op1"].stats["dropped_bad_chain"] == 1
    wrong_parent = forged_pre_prepare(cluster, 2, b"\x07" * 32, first.header.time)
    cluster.feed("op2", MessageReceived("op0", wrong_parent.encode()))
    assert cluster["op2"].stats["dropped_bad_chain"] == 1
    assert cluster["op1"].stats.get("out_PREPARE") == 1


def test_primary_block_time_is_max_of_now_and_previous_time() -> None:
    cluster = Cluster(1, max_block_delay_ms=0)
    cluster.submit(txs(0, 1))
    assert cluster.nodes["op0"].blocks[1][0].header.time == GENESIS_TIME
    cluster.tick(7)
    cluster.submit(txs(1, 1))
    assert cluster.nodes["op0"].blocks[2][0].header.time == GENESIS_TIME + 7


def test_txs_already_committed_or_pending_are_ignored() -> None:
    cluster = Cluster(1, max_block_delay_ms=0)
    cluster.submit(txs(0, 3))
    cluster.submit(txs(0, 3))
    assert cluster.heights()["op0"] == 1
    assert cluster["op0"].stats["txs_ignored_known"] == 3


def test_pending_is_bounded() -> None:
    cluster = Cluster(4, max_pending=5)
    cluster.submit(txs(0, 8), to=["op1"])
    assert cluster["op1"].pending_count == 5
    assert cluster["op1"].stats["txs_dropped_pending_full"] == 3
