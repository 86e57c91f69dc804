"""View change as pure functions: check VIEW-CHANGEs, compute and check a NEW-VIEW.

The new primary and every replica run the same `compute_new_view` over the VIEW-CHANGE set
carried in the NEW-VIEW, so a replica accepts a NEW-VIEW only if it re-derives exactly the
re-proposals the primary sent (Castro & Liskov, TOCS 2002, section 4.4, with signatures).

The computation (`h` = the highest stable checkpoint with a valid proof in the set):
for each seq `h+1, h+2, ...` take the prepared certificate of the highest view in the set and
re-propose its block, original bytes, in the new view; stop at the first seq that has no
certificate, or whose block's `prev_hash` is not the previous re-proposed block.

Why no null blocks are needed: a replica sends PREPARE for seq s+1 only once it has prepared
s in the same view with s+1's prev_hash equal to s's block hash (DESIGN.md). So a prepared
certificate for s+1 (a quorum of PREPAREs) means at least f+1 honest replicas hold a prepared
certificate for s, and at least one of them is in any quorum of VIEW-CHANGEs. Hence, in a set
of valid VIEW-CHANGEs, certificates are contiguous from h+1 and, by the PBFT argument applied
to each height, hash-linked: gaps (where PBFT would put a null request) do not occur. Blocks
above a gap or a broken link cannot have been committed, so cutting there is safe. The new
primary then proposes fresh blocks after the last re-proposed one.

Blocks by hash (#11 item 3): certificates and re-proposals carry PRE-PREPAREs whose block is
its header only (`messages.PrePrepare.by_hash`). Everything computed here needs only
headers (seq, hash, prev_hash, proposer), so a plan's blocks are headers too; the replica
fills in the bodies from its log or with BLOCK-REQUEST before it delivers a commit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from consensus.block import Block, BlockHeader
from consensus.messages import (
    CheckpointProof,
    NewView,
    PreparedCertificate,
    PrePrepare,
    ViewChange,
    is_signed_by_sender,
)
from consensus.quorum import Committee


@dataclass(frozen=True, slots=True)
class NewViewPlan:
    """What a NEW-VIEW for `view` must contain: the checkpoint it starts from and the blocks
    re-proposed for seqs `checkpoint.seq + 1 ...`, in order."""

    view: int
    checkpoint: CheckpointProof
    blocks: tuple[Block, ...]  # by hash: headers only (see the module docstring)

    @property
    def top_seq(self) -> int:
        return self.checkpoint.seq + len(self.blocks)


def check_quorum_of_votes(votes: Sequence[Any], matches: Callable[[Any], bool],
                          committee: Committee, kind: str, subject: str, signature: str,
                          what: str) -> str | None:
    """None if `votes` are a quorum of distinct, validly signed votes that all `match`;
    otherwise the first reason they are not (`kind`, `subject`, ... name things in it)."""
    senders: set[str] = set()
    for vote in votes:
        if not matches(vote):
            return f"a {kind} does not match {subject}"
        if vote.sender in senders:
            return f"two {kind}s from {vote.sender!r}"
        if not is_signed_by_sender(vote, committee):
            return f"bad {signature} signature from {vote.sender!r}"
        senders.add(vote.sender)
    if len(senders) < committee.quorum:
        return f"{len(senders)} {kind}s; {what} needs {committee.quorum}"
    return None


def check_checkpoint_proof(proof: CheckpointProof, committee: Committee) -> str | None:
    if proof.seq == 0:
        return None if not proof.checkpoints else "the genesis checkpoint carries no votes"
    return check_quorum_of_votes(
        proof.checkpoints, lambda vote: (vote.seq, vote.app_hash) == (proof.seq, proof.app_hash),
        committee, "checkpoint vote", "the proof", "checkpoint", "a stable checkpoint")


def check_block_origin(block: Block, seq: int, view: int, committee: Committee) -> str | None:
    """The checks on a block that need no chain context: it is the block of `seq` proposed
    by the primary of the view in its header, no later than `view`, and its transactions
    are the ones the header commits to."""
    reason = check_header_origin(block.header, seq, view, committee)
    if reason is not None:
        return reason
    if not block.is_consistent():
        return "block tx_root does not match its transactions"
    return None


def check_header_origin(header: BlockHeader, seq: int, view: int,
                        committee: Committee) -> str | None:
    """`check_block_origin` without the transactions (a block by hash)."""
    if header.chain != committee.chain:
        return "block is for another chain"
    if header.height != seq:
        return "block height is not the seq"
    if header.view > view:
        return "block is from a later view"
    if header.proposer != committee.primary(header.view):
        return "block proposer is not the primary of its view"
    return None


def check_prepared_certificate(cert: PreparedCertificate,
                               committee: Committee) -> str | None:
    pre_prepare = cert.pre_prepare
    if pre_prepare.sender != committee.primary(pre_prepare.view):
        return "pre-prepare not from the primary of its view"
    if not is_signed_by_sender(pre_prepare, committee):
        return "bad pre-prepare signature"
    reason = check_header_origin(pre_prepare.block.header, pre_prepare.seq, pre_prepare.view,
                                 committee)
    if reason is not None:
        return reason
    digest = pre_prepare.digest
    expected = (pre_prepare.view, pre_prepare.seq, digest)
    return check_quorum_of_votes(
        cert.prepares, lambda vote: (vote.view, vote.seq, vote.block_hash) == expected,
        committee, "prepare", "the pre-prepare", "prepare", "a prepared certificate")


def check_view_change(vc: ViewChange, committee: Committee, window: int) -> str | None:
    """None if `vc` is well-formed and every proof in it checks; otherwise why not."""
    if not is_signed_by_sender(vc, committee):
        return "bad view-change signature"
    reason = check_checkpoint_proof(vc.checkpoint, committee)
    if reason is not None:
        return reason
    low = vc.checkpoint.seq
    previous = low
    for cert in vc.prepared:
        if not low < cert.seq <= low + window:
            return "prepared certificate outside the sender's watermarks"
        if cert.seq <= previous:
            return "prepared certificates are not in increasing seq order"
        if cert.view >= vc.view:
            return "prepared certificate not from an earlier view"
        reason = check_prepared_certificate(cert, committee)
        if reason is not None:
            return f"seq {cert.seq}: {reason}"
        previous = cert.seq
    return None


def compute_new_view(view: int, view_changes: tuple[ViewChange, ...],
                     window: int) -> NewViewPlan:
    """The NEW-VIEW content for checked VIEW-CHANGEs (see the module docstring)."""
    assert view_changes, "a NEW-VIEW is computed from a quorum of VIEW-CHANGEs"
    checkpoint = max((vc.checkpoint for vc in view_changes),
                     key=lambda proof: (proof.seq, proof.app_hash))
    best: dict[int, PreparedCertificate] = {}
    for vc in view_changes:
        for cert in vc.prepared:
            known = best.get(cert.seq)
            if known is None or (cert.view, cert.block.hash) > (known.view, known.block.hash):
                best[cert.seq] = cert
    blocks: list[Block] = []
    for seq in range(checkpoint.seq + 1, checkpoint.seq + window + 1):
        chosen = best.get(seq)
        if chosen is None:
            break
        if blocks and chosen.block.header.prev_hash != blocks[-1].hash:
            break
        blocks.append(chosen.pre_prepare.by_hash().block)
    return NewViewPlan(view, checkpoint, tuple(blocks))


def select_view_changes(view_changes: list[ViewChange], committee: Committee) -> tuple[
        ViewChange, ...]:
    """The VIEW-CHANGEs a new primary puts in its NEW-VIEW: a quorum, in genesis order."""
    ordered = sorted(view_changes, key=lambda vc: committee.order(vc.sender))
    return tuple(ordered[:committee.quorum])


def re_proposals(plan: NewViewPlan, primary: str) -> tuple[PrePrepare, ...]:
    """The unsigned PRE-PREPAREs of the new view, one per re-proposed block."""
    return tuple(PrePrepare(plan.view, block.height, block, primary) for block in plan.blocks)


def check_new_view(nv: NewView, committee: Committee, window: int) -> tuple[
        str | None, NewViewPlan | None]:
    """(None, plan) if `nv` is the NEW-VIEW its VIEW-CHANGE set determines; else (why, None)."""
    if nv.sender != committee.primary(nv.view):
        return "new-view not from the primary of its view", None
    if not is_signed_by_sender(nv, committee):
        return "bad new-view signature", None
    senders: set[str] = set()
    for vc in nv.view_changes:
        if vc.view != nv.view:
            return "a view-change is for another view", None
        if vc.sender in senders:
            return f"two view-changes from {vc.sender!r}", None
        reason = check_view_change(vc, committee, window)
        if reason is not None:
            return f"view-change from {vc.sender!r}: {reason}", None
        senders.add(vc.sender)
    if len(senders) < committee.quorum:
        return f"{len(senders)} view-changes; a new-view needs {committee.quorum}", None
    plan = compute_new_view(nv.view, nv.view_changes, window)
    if len(nv.pre_prepares) != len(plan.blocks):
        return "re-proposals differ from those the view-changes determine", None
    for pre_prepare, block in zip(nv.pre_prepares, plan.blocks, strict=True):
        if (pre_prepare.view != nv.view or pre_prepare.seq != block.height
                or pre_prepare.sender != nv.sender or pre_prepare.block != block):
            return f"re-proposal for seq {block.height} is not the prepared block", None
        if not is_signed_by_sender(pre_prepare, committee):
            return "bad re-proposal signature", None
    return None, plan
