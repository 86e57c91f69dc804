"""Forged signatures on every kind of message that moves a replica without a block: CHECKPOINT,
VIEW-CHANGE, NEW-VIEW, and the votes and proposals carried inside the last two.

Each case pairs a forgery with its genuine twin: the genuine message moves the replica (a
stable checkpoint, joining a view change, entering the new view), the forged one, differing
only in who signed one part of it, is dropped, counted, and leaves the replica unchanged. A
forgery is a real Ed25519 signature by the wrong operator's key, so only the check of the
signer can catch it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from consensus import messages as msg
from consensus.block import ZERO_HASH, Block, make_block
from consensus.events import MessageReceived
from tests.consensus.harness import CHAIN, GENESIS_TIME, Cluster, signer_of
from tests.consensus.test_bad_input import state_of

GENESIS_PROOF = msg.CheckpointProof(0, ZERO_HASH, ())
APP_HASH = b"\x05" * 32


def signed(message: Any, by: str | None = None) -> Any:
    """`message` signed by its sender, or (a forgery) by operator `by`."""
    return msg.sign(message, signer_of(by or message.sender), CHAIN)


def forger_of(sender: str) -> str:
    return "op3" if sender != "op3" else "op2"


def checkpoint_proof(seq: int, forged: str | None = None) -> msg.CheckpointProof:
    votes = tuple(signed(msg.Checkpoint(seq, APP_HASH, name),
                         forger_of(name) if name == forged else None)
                  for name in ("op0", "op1", "op2"))
    return msg.CheckpointProof(seq, APP_HASH, votes)


def block_one() -> Block:
    return make_block(CHAIN, 1, ZERO_HASH, GENESIS_TIME, 0, "op0", [(b"tx", bytes(64))])


def prepared_certificate(forged: str | None = None) -> msg.PreparedCertificate:
    """Block 1 prepared in view 0; `forged`: "op0" forges the pre-prepare, another name
    that operator's prepare."""
    block = block_one()
    pre_prepare = signed(msg.PrePrepare(0, 1, block, "op0"),
                         forger_of("op0") if forged == "op0" else None)
    prepares = tuple(signed(msg.Prepare(0, 1, block.hash, name),
                            forger_of(name) if name == forged else None)
                     for name in ("op1", "op2", "op3"))
    return msg.PreparedCertificate(pre_prepare, prepares)


def view_change(sender: str, *, forged: bool = False, proof: msg.CheckpointProof = GENESIS_PROOF,
                prepared: tuple[msg.PreparedCertificate, ...] = ()) -> msg.ViewChange:
    return signed(msg.ViewChange(1, proof, prepared, sender),
                  forger_of(sender) if forged else None)


def new_view(view_changes: tuple[msg.ViewChange, ...], *, forged: bool = False,
             forged_re_proposal: bool = False) -> msg.NewView:
    """The NEW-VIEW of view 1 (primary op1) for these VIEW-CHANGEs, with its re-proposals."""
    blocks = [cert.block for vc in view_changes[:1] for cert in vc.prepared]
    pre_prepares = tuple(signed(msg.PrePrepare(1, block.height, block, "op1"),
                                "op2" if forged_re_proposal else None) for block in blocks)
    return signed(msg.NewView(1, view_changes, pre_prepares, "op1"),
                  "op2" if forged else None)


def deliver(replica: Any, sender: str, message: Any) -> None:
    replica.handle(MessageReceived(sender, message.encode()))


def assert_dropped(replica: Any, sender: str, messages: list[Any], counter: str) -> None:
    """Every message is dropped with `counter` and the replica is as it was (but for the
    view a validly signed message shows its sender in, which the f+1 join rule counts)."""
    before = state_of(replica)
    count = replica.stats.get(counter, 0)
    peer_views = dict(replica._view_sync._peer_views)
    for message in messages:
        deliver(replica, sender, message)
    assert replica.stats.get(counter, 0) == count + len(messages), replica.stats
    if counter != "dropped_bad_signature":
        replica._view_sync._peer_views = peer_views
    assert state_of(replica) == before


# ---- CHECKPOINT ------------------------------------------------------------------------------

def test_forged_checkpoint_votes_do_not_make_a_checkpoint_stable() -> None:
    cluster = Cluster(4, checkpoint_interval=4, watermark_window=8)
    op0 = cluster["op0"]
    forged = [signed(msg.Checkpoint(4, APP_HASH, name), forger_of(name))
              for name in ("op1", "op2", "op3")]
    for vote in forged:
        before = state_of(op0)
        op0.handle(MessageReceived(vote.sender, vote.encode()))
        assert state_of(op0) == before
    assert op0.stats["dropped_bad_signature"] == 3
    assert op0.stable_checkpoint == 0
    for name in ("op1", "op2", "op3"):  # the genuine votes do
        deliver(op0, name, signed(msg.Checkpoint(4, APP_HASH, name)))
    assert op0.stable_checkpoint == 4


# ---- VIEW-CHANGE -----------------------------------------------------------------------------

def test_forged_view_changes_do_not_pull_a_replica_into_a_view_change() -> None:
    """f+1 VIEW-CHANGEs for a later view make a replica join it; forged ones must not."""
    op0 = Cluster(4)["op0"]
    assert_dropped(op0, "op1", [view_change("op1", forged=True)], "dropped_bad_signature")
    assert_dropped(op0, "op2", [view_change("op2", forged=True)], "dropped_bad_signature")
    assert (op0.view, op0.in_view_change) == (0, False)
    deliver(op0, "op1", view_change("op1"))
    deliver(op0, "op2", view_change("op2"))
    assert (op0.view, op0.in_view_change) == (1, True)


def test_a_new_view_whose_view_change_carries_a_forged_checkpoint_vote_is_dropped() -> None:
    """VIEW-CHANGEs are checked when a NEW-VIEW needs them: one whose stable-checkpoint proof
    holds a forged vote spoils the NEW-VIEW that carries it."""
    op3 = Cluster(4)["op3"]
    proofs = (checkpoint_proof(16), checkpoint_proof(16, forged="op1"), checkpoint_proof(16))
    bad = tuple(view_change(name, proof=proof)
                for name, proof in zip(("op0", "op1", "op2"), proofs, strict=True))
    assert_dropped(op3, "op1", [new_view(bad)], "dropped_bad_new_view")
    assert op3.view == 0
    deliver(op3, "op1", new_view(quorum_of_view_changes(proof=checkpoint_proof(16))))
    assert (op3.view, op3.stable_checkpoint) == (1, 16)


def test_a_new_view_whose_view_change_carries_a_forged_prepared_certificate_is_dropped(
        ) -> None:
    for forged in ("op0", "op2"):  # the pre-prepare, then one prepare
        op3 = Cluster(4)["op3"]
        certs = (prepared_certificate(), prepared_certificate(forged), prepared_certificate())
        bad = tuple(view_change(name, prepared=(cert,))
                    for name, cert in zip(("op0", "op1", "op2"), certs, strict=True))
        assert_dropped(op3, "op1", [new_view(bad)], "dropped_bad_new_view")
        assert op3.view == 0
        deliver(op3, "op1", new_view(quorum_of_view_changes(prepared=(prepared_certificate(),))))
        assert (op3.view, op3.in_view_change) == (1, False)


# ---- NEW-VIEW --------------------------------------------------------------------------------

def quorum_of_view_changes(**kwargs: Any) -> tuple[msg.ViewChange, ...]:
    return tuple(view_change(name, **kwargs) for name in ("op0", "op1", "op2"))


def test_a_forged_new_view_is_dropped() -> None:
    op3 = Cluster(4)["op3"]
    assert_dropped(op3, "op1", [new_view(quorum_of_view_changes(), forged=True)],
                   "dropped_bad_signature")
    assert (op3.view, op3.in_view_change) == (0, False)
    deliver(op3, "op1", new_view(quorum_of_view_changes()))
    assert (op3.view, op3.in_view_change) == (1, False)


def test_a_new_view_carrying_a_forged_view_change_is_dropped() -> None:
    op3 = Cluster(4)["op3"]
    genuine = quorum_of_view_changes()
    tampered = (genuine[0], view_change("op1", forged=True), genuine[2])
    assert_dropped(op3, "op1", [new_view(tampered)], "dropped_bad_new_view")
    assert op3.view == 0
    deliver(op3, "op1", new_view(genuine))
    assert (op3.view, op3.in_view_change) == (1, False)


def test_a_new_view_with_a_forged_re_proposal_is_dropped() -> None:
    op3 = Cluster(4)["op3"]
    changes = quorum_of_view_changes(prepared=(prepared_certificate(),))
    bad = new_view(changes, forged_re_proposal=True)
    assert len(bad.pre_prepares) == 1
    assert_dropped(op3, "op1", [bad], "dropped_bad_new_view")
    assert op3.view == 0
    deliver(op3, "op1", new_view(changes))
    assert (op3.view, op3.in_view_change) == (1, False)
    assert op3._log.slots[1].pre_prepare.digest == block_one().hash


def test_a_forgery_is_a_real_signature_by_another_key() -> None:
    genuine = signed(msg.Checkpoint(4, APP_HASH, "op1"))
    forged = signed(msg.Checkpoint(4, APP_HASH, "op1"), "op3")
    assert forged.sig != genuine.sig and len(forged.sig) == len(genuine.sig)
    assert dataclasses.replace(forged, sig=genuine.sig) == genuine
