"""#11 item 9: what a peer can make a replica keep for later views is checked and bounded."""

from __future__ import annotations

import pytest

from consensus import messages as msg
from consensus import replica as replica_module
from consensus.block import make_block
from consensus.events import MessageReceived
from tests.consensus.harness import CHAIN, GENESIS_TIME, Cluster, signer_of


def pre_prepare(view: int, seq: int, sender: str, pad: int = 0, proposer: str | None = None,
                prev: bytes = bytes(32)) -> msg.PrePrepare:
    block = make_block(CHAIN, seq, prev, GENESIS_TIME, view, proposer or sender,
                       [(b"x" * pad or b"tx", bytes(64))])
    return msg.sign(msg.PrePrepare(view, seq, block, sender), signer_of(sender), CHAIN)


def test_later_view_pre_prepare_from_a_non_primary_is_not_buffered() -> None:
    cluster = Cluster(4)
    op0 = cluster["op0"]
    # op2 is not the primary of view 5 (op1 is)
    cluster.feed("op0", MessageReceived("op2", pre_prepare(5, 1, "op2").encode()))
    assert op0.stats["dropped_not_primary"] == 1
    assert len(op0._future) == 0


def test_later_view_pre_prepare_with_an_oversized_block_is_not_buffered() -> None:
    cluster = Cluster(4, max_block_bytes=64 * 1024)
    op0 = cluster["op0"]
    big = pre_prepare(2, 1, "op2", pad=100 * 1024)
    cluster.feed("op0", MessageReceived("op2", big.encode()))
    assert op0.stats["dropped_block_too_large"] == 1
    assert len(op0._future) == 0


def test_later_view_buffer_is_bounded_in_bytes() -> None:
    cluster = Cluster(4, max_block_bytes=128 * 1024, max_pipeline=2)
    op0 = cluster["op0"]
    for seq in range(1, 101):  # 100 blocks of ~60 KB for view 2, whose primary is op2
        cluster.feed("op0", MessageReceived("op2", pre_prepare(2, seq, "op2",
                                                               pad=60 * 1024).encode()))
    buffered = sum(len(m.block.encode()) for m in op0._future.held("op2"))
    assert buffered <= 2 * (128 + 64) * 1024 + 256 * 4096  # the pipeline, and small ones
    assert op0.stats["dropped_future_buffer_full"] >= 1


def test_view_changes_far_ahead_are_not_kept_and_kept_ones_are_checked_lazily(
        monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = Cluster(4)
    op0 = cluster["op0"]
    checks: list[int] = []
    real_check = replica_module.check_view_change

    def counting_check(view_change, committee, window):  # type: ignore[no-untyped-def]
        checks.append(view_change.view)
        return real_check(view_change, committee, window)

    monkeypatch.setattr(replica_module, "check_view_change", counting_check)
    proof = msg.CheckpointProof(0, bytes(32), ())
    for view in (1, 2, 3, 5, 9, 17, 1000, 2**40):  # a stream of ever-higher views from op2
        vc = msg.sign(msg.ViewChange(view, proof, (), "op2"), signer_of("op2"), CHAIN)
        cluster.feed("op0", MessageReceived("op2", vc.encode()))
    assert checks == []  # nothing is checked before a NEW-VIEW needs it
    stored = op0._view_sync.stored("op2")
    assert op0._view_sync.senders() == ["op2"] and stored is not None and stored.view == 9
    assert op0.stats["dropped_view_too_far_ahead"] == 3  # beyond view + 4n
    assert op0.view == 0  # one sender is not f+1


def test_stored_view_changes_are_cleared_when_the_view_moves_past_them() -> None:
    cluster = Cluster(4)
    proof = msg.CheckpointProof(0, bytes(32), ())

    def view_change(view: int, sender: str) -> bytes:
        return msg.sign(msg.ViewChange(view, proof, (), sender), signer_of(sender),
                        CHAIN).encode()

    op1 = cluster["op1"]
    cluster.feed("op1", MessageReceived("op2", view_change(3, "op2")))
    assert op1._view_sync.stored("op2") is not None
    cluster.feed("op1", MessageReceived("op3", view_change(6, "op3")))
    cluster.feed("op1", MessageReceived("op0", view_change(6, "op0")))
    assert op1.view == 6 and op1.in_view_change  # f+1 want view 6: op1 joins them
    assert op1._view_sync.senders() == ["op0", "op1", "op3"]  # op2's view 3 is gone


def test_a_kept_view_change_with_a_bad_proof_is_dropped_when_a_new_view_needs_it() -> None:
    cluster = Cluster(4)
    op1 = cluster["op1"]  # the primary of view 1
    bad_proof = msg.CheckpointProof(16, bytes(32), ())  # a stable checkpoint without votes
    good_proof = msg.CheckpointProof(0, bytes(32), ())
    bad = msg.sign(msg.ViewChange(1, bad_proof, (), "op2"), signer_of("op2"), CHAIN)
    cluster.feed("op1", MessageReceived("op2", bad.encode()))
    assert op1._view_sync.stored("op2") is not None  # kept unchecked
    vc = msg.sign(msg.ViewChange(1, good_proof, (), "op0"), signer_of("op0"), CHAIN)
    cluster.feed("op1", MessageReceived("op0", vc.encode()))
    # op1 joined view 1 (f+1) and holds three for it with its own, but op2's does not
    # check: no NEW-VIEW yet
    assert op1.view == 1 and op1.in_view_change
    assert op1.stats["dropped_bad_view_change"] == 1 and op1._view_sync.stored("op2") is None
    good = msg.sign(msg.ViewChange(1, good_proof, (), "op2"), signer_of("op2"), CHAIN)
    cluster.feed("op1", MessageReceived("op2", good.encode()))
    assert op1.view == 1 and not op1.in_view_change
