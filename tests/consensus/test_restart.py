"""Crash safety: persist before send, resume from `restored`, never sign a conflicting vote."""

from __future__ import annotations

import pytest

from consensus import messages as msg
from consensus.block import make_block
from consensus.events import Broadcast, MessageReceived, Tick
from tests.consensus.harness import CHAIN, GENESIS_TIME, Cluster, message_type, signer_of, txs


def votes_in(actions, type_tag: str) -> list:
    return [msg.decode(a.data, msg.DecodeLimits(1 << 30, 100, 100)) for a in actions
            if isinstance(a, Broadcast) and message_type(a.data) == type_tag]


def test_restarted_backup_never_prepares_a_conflicting_block() -> None:
    cluster = Cluster(4)
    cluster.deliver_if = lambda s, t, data: message_type(data) != "COMMIT"
    cluster.submit(txs(0, 1))
    cluster.tick(50)
    signed_hash = cluster["op1"]._log.prepared_certificates[1].block.hash
    assert "prepare/00000000000000000001" in cluster.nodes["op1"].disk
    cluster.crash("op1")
    op1 = cluster.restart("op1")
    # an equivocating primary offers the restarted replica another block for (view 0, seq 1)
    other = make_block(CHAIN, 1, bytes(32), GENESIS_TIME, 0, "op0", [(b"other", bytes(64))])
    equivocation = msg.sign(msg.PrePrepare(0, 1, other, "op0"), signer_of("op0"), CHAIN)
    actions = op1.handle(MessageReceived("op0", equivocation.encode()))
    assert votes_in(actions, "PREPARE") == []
    assert all(v.block_hash == signed_hash for v in votes_in(actions, "COMMIT"))
    assert not op1._may_sign("prepare", 0, 1, other.hash)
    assert op1._may_sign("prepare", 0, 1, signed_hash)
    assert op1._may_sign("prepare", 1, 1, other.hash)  # a later view is another vote


def test_restarted_primary_re_sends_its_pre_prepare_instead_of_a_new_one() -> None:
    cluster = Cluster(4)
    cluster.deliver_if = lambda s, t, data: s != "op0"  # op0's messages are all lost
    cluster.submit(txs(0, 2))
    cluster.tick(50)
    proposed = msg.decode(cluster.nodes["op0"].disk["pre_prepare/00000000000000000001"],
                          msg.DecodeLimits(1 << 30, 100, 100))
    cluster.crash("op0")
    cluster.deliver_if = None
    op0 = cluster.restart("op0")
    actions = op0.handle(Tick(cluster.now + 50))
    resent = votes_in(actions, "PRE-PREPARE")
    assert [p.block.hash for p in resent] == [proposed.block.hash]
    cluster._apply(cluster.nodes["op0"], actions)
    cluster.run()
    assert cluster.heights() == {name: 1 for name in cluster.names}


def test_restart_resumes_the_persisted_view() -> None:
    cluster = Cluster(4)
    cluster.crash("op0")
    cluster.submit(txs(0, 1))
    cluster.advance(2100)
    assert cluster.heights()["op2"] == 1
    cluster.crash("op2")
    op2 = cluster.restart("op2")
    assert (op2.view, op2.in_view_change, op2.last_committed) == (1, False, 1)
    cluster.submit(txs(1, 1), to=["op1", "op2", "op3"])
    cluster.tick(50)
    assert cluster.heights()["op2"] == 2
    cluster.assert_same_chain()


def test_restart_in_a_view_change_repeats_the_view_change() -> None:
    cluster = Cluster(4)
    cluster.submit(txs(0, 1), to=["op3"])
    cluster.advance(2050)
    assert cluster["op3"].in_view_change
    cluster.crash("op3")
    op3 = cluster.restart("op3")
    assert (op3.view, op3.in_view_change) == (1, True)
    actions = op3.handle(Tick(cluster.now))
    assert [message_type(a.data) for a in actions if isinstance(a, Broadcast)] == [
        "VIEW-CHANGE"]
    assert op3.stats["restarts"] == 1


def test_what_is_persisted_stays_bounded() -> None:
    cluster = Cluster(4, checkpoint_interval=4, watermark_window=8, max_block_txs=1)
    sizes = []
    for i in range(30):
        cluster.submit(txs(i, 1))
        cluster.tick(50)
        sizes.append(max(len(node.disk) for node in cluster.nodes.values()))
    assert max(sizes) <= 3 * 8 + 3  # votes within one window, plus view/checkpoint keys
    cluster.crash("op1")
    op1 = cluster.restart("op1")
    assert op1.stable_checkpoint == 28 and op1.low_watermark == 28


def test_restarted_old_primary_joins_the_later_view_and_catches_up() -> None:
    """The primary crashes, the others move to view 1 and commit; the old primary restarts in
    view 0. Signed view-1 messages from f+1 operators make it ask to join view 1; the new
    primary re-sends its NEW-VIEW, and the old primary commits with the others again."""
    cluster = Cluster(4)
    cluster.submit(txs(0, 1))
    cluster.tick(50)
    assert cluster.heights()["op0"] == 1
    cluster.crash("op0")
    cluster.submit(txs(1, 1), to=["op1", "op2", "op3"])
    cluster.advance(2100)
    assert cluster["op1"].view == 1 and cluster.heights()["op1"] == 2
    op0 = cluster.restart("op0")
    assert op0.view == 0
    cluster.submit(txs(2, 1), to=["op1", "op2", "op3"])
    cluster.advance(3000)
    assert op0.view == 1 and not op0.in_view_change
    assert op0.stats["joined_later_view"] == 1
    assert cluster.heights() == {name: 3 for name in cluster.names}
    cluster.assert_same_chain()


def test_restarted_replica_offered_a_conflicting_block_refuses_every_vote_for_it() -> None:
    """op1 prepares and COMMITs block A at (view 0, seq 1), then restarts before anything
    commits (every COMMIT is lost). An equivocating primary offers it block B for the same
    slot, and a quorum of PREPAREs for B follows (more than f operators would have to lie,
    but op1's own promise must not depend on that): op1 signs nothing for B. The refusal
    comes from its persisted votes, not from state it happened to keep."""
    cluster = Cluster(4)
    cluster.deliver_if = lambda s, t, data: message_type(data) != "COMMIT"
    cluster.submit(txs(0, 1))
    cluster.tick(50)
    signed_hash = cluster["op1"]._log.prepared_certificates[1].block.hash
    disk = cluster.nodes["op1"].disk
    assert "prepare/00000000000000000001" in disk and "commit/00000000000000000001" in disk
    assert cluster.heights()["op1"] == 0
    cluster.crash("op1")
    op1 = cluster.restart("op1")
    other = make_block(CHAIN, 1, bytes(32), GENESIS_TIME, 0, "op0", [(b"other", bytes(64))])
    assert other.hash != signed_hash
    offered = [msg.sign(msg.PrePrepare(0, 1, other, "op0"), signer_of("op0"), CHAIN)]
    offered += [msg.sign(msg.Prepare(0, 1, other.hash, name), signer_of(name), CHAIN)
                for name in ("op0", "op2", "op3")]
    actions = []
    for message in offered:
        actions += op1.handle(MessageReceived(message.sender, message.encode()))
    votes = votes_in(actions, "PREPARE") + votes_in(actions, "COMMIT")
    assert [vote for vote in votes if vote.block_hash == other.hash] == []
    assert op1.stats["refused_conflicting_vote"] >= 1
    assert op1.last_committed == 0


def test_the_harness_checks_the_persisted_bytes_not_only_the_key() -> None:
    """The host-side rule every other test here leans on: what is sent is what was persisted.
    A PREPARE for another block under the persisted key must trip it."""
    cluster = Cluster(4)
    cluster.submit(txs(0, 1))
    cluster.tick(50)
    node = cluster.nodes["op1"]
    persisted = node.disk["prepare/00000000000000000001"]
    cluster._check_persisted_before_send(node, persisted, set())  # the same bytes: fine
    vote = msg.decode(persisted, msg.DecodeLimits(1 << 30, 100, 100))
    other = msg.sign(msg.Prepare(0, 1, b"\x07" * 32, "op1"), signer_of("op1"), CHAIN)
    assert other.seq == vote.seq and other.encode() != persisted
    with pytest.raises(AssertionError, match="other than the one it persisted"):
        cluster._check_persisted_before_send(node, other.encode(), set())
