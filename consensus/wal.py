"""What a replica persists, the votes it signed, and reading both back after a restart.

The key schema (the one place it is written down; the replica writes these keys, `restore`
reads them, and the simulator's checker reads the votes through `sent_bytes_of`):

    view               {"view", "active"}: the view and whether it has started
    view_change        this replica's latest VIEW-CHANGE, as sent
    new_view           the NEW-VIEW of the view it is in (every replica keeps it: it fixes
                       which seqs take only their re-proposal), as received or sent
    checkpoint         the stable checkpoint proof
    pre_prepare/<seq>  a fresh PRE-PREPARE this primary signed, as sent
    prepare/<seq>      a PREPARE, as sent
    commit/<seq>       {"commit": the COMMIT as sent, "prepared": its prepared certificate,
                       the block by hash (an older version kept the body here)}
    body/<seq>/<hash>  {"view", "block"}: the body of a block this replica PREPAREd (in
                       that view, or later), kept until a stable checkpoint passes it
                       (consensus.bodies)

`<seq>` is 20 decimal digits, so the keys of one kind sort by seq. A vote key is deleted
(`Persist(key, b"")`) once a stable checkpoint passes its seq.

`SignedVotes` is the memory behind persist-before-send: for each (kind, seq) the view and
digest this replica signed last, so that it never signs another digest for the same (kind,
view, seq), nor a vote for an older view, before a restart or after it (CometBFT's last-signed
state). It returns answers and keys; the replica turns them into `Persist` actions.

`restore` is pure: the persisted keys in, the state they describe out (`Restored`), decoded
and checked for shape; the replica applies it. Bytes on this replica's own disk were checked
when they were taken, so a key that does not decode is a broken invariant (AssertionError or
`MessageError`), not a peer's fault.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from consensus import codec
from consensus import messages as msg
from consensus.block import Block
from consensus.view_change import compute_new_view

KEY_VIEW = "view"
KEY_VIEW_CHANGE = "view_change"
KEY_NEW_VIEW = "new_view"
KEY_CHECKPOINT = "checkpoint"
VOTE_KINDS = ("pre_prepare", "prepare", "commit")
BODY = "body"


def vote_key(kind: str, seq: int) -> str:
    return f"{kind}/{seq:020d}"


def view_record(view: int, active: bool) -> bytes:
    """The value of `view`."""
    return codec.pack({"view": view, "active": active})


def commit_record(commit: bytes, certificate: msg.PreparedCertificate) -> bytes:
    """The value of `commit/<seq>`: the COMMIT as sent and its prepared certificate, by hash
    (the body is under `body_key`, written when the PREPARE was)."""
    return codec.pack({"commit": commit, "prepared": certificate.to_map()})


def body_key(seq: int, block_hash: bytes) -> str:
    return f"{BODY}/{seq:020d}/{block_hash.hex()}"


def body_record(view: int, block: Block) -> bytes:
    """The value of `body_key`: a body this replica PREPAREd, and in which view."""
    return codec.pack({"view": view, "block": block.encode()})


def sent_bytes_of(kind: str, value: bytes) -> bytes:
    """The vote as it was sent, from the value stored under `vote_key(kind, seq)`."""
    if kind == "commit":
        sent: bytes = codec.unpack(value)["commit"]
        return sent
    return value


def re_proposals_in(new_view: bytes) -> list[bytes]:
    """The re-proposals (PRE-PREPAREs, as sent) inside a stored NEW-VIEW."""
    pre_prepares: list[bytes] = codec.unpack(new_view)["pre_prepares"]
    return pre_prepares


class SignedVotes:
    """What this replica signed: (kind, seq) -> (view, digest), and the vote keys on disk."""

    __slots__ = ("_keys", "_signed")

    def __init__(self) -> None:
        self._signed: dict[tuple[str, int], tuple[int, bytes]] = {}
        self._keys: dict[str, int] = {}  # persisted vote key -> its seq, for pruning

    def __repr__(self) -> str:
        return f"SignedVotes({self._signed!r}, {self._keys!r})"

    def may_sign(self, kind: str, view: int, seq: int, digest: bytes) -> bool:
        """False if signing would contradict a vote signed before (even before a restart):
        the same (kind, seq) in the same view for another digest, or an older view."""
        known = self._signed.get((kind, seq))
        return known is None or known[0] < view or known == (view, digest)

    def record(self, kind: str, view: int, seq: int, digest: bytes) -> str:
        """Remember a vote about to be persisted and sent; the key to persist it under."""
        self._signed[(kind, seq)] = (view, digest)
        key = vote_key(kind, seq)
        self._keys[key] = seq
        return key

    def note(self, kind: str, view: int, seq: int, digest: bytes) -> None:
        """Remember a vote persisted inside another record (a NEW-VIEW's re-proposals)."""
        self._signed[(kind, seq)] = (view, digest)

    def restore(self, kind: str, view: int, seq: int, digest: bytes) -> None:
        """A vote read back from disk: keep the latest (view, digest) per (kind, seq)."""
        self._signed[(kind, seq)] = max(self._signed.get((kind, seq), (-1, b"")),
                                        (view, digest))

    def restore_key(self, key: str, seq: int) -> None:
        self._keys[key] = seq

    def prune(self, stable_seq: int) -> list[str]:
        """Forget the votes at or below a new stable checkpoint; the keys to delete."""
        for signed in sorted(self._signed):
            if signed[1] <= stable_seq:
                del self._signed[signed]
        dropped = []
        for key, seq in sorted(self._keys.items()):
            if seq <= stable_seq:
                del self._keys[key]
                dropped.append(key)
        return dropped


@dataclass
class Restored:
    """What a replica's disk says, decoded. `votes` are (kind, message) in the order they
    are applied: the re-proposals of this replica's own NEW-VIEW, then every vote key in key
    order; `certificates` are the prepared certificates (bodies inside) above `stable`."""

    stable: msg.CheckpointProof | None = None
    view: int = 0
    active: bool = True
    view_change: msg.ViewChange | None = None
    new_view: msg.NewView | None = None
    new_view_top: int = 0
    votes: list[tuple[str, Any]] = field(default_factory=list)
    vote_keys: dict[str, int] = field(default_factory=dict)
    certificates: list[msg.PreparedCertificate] = field(default_factory=list)
    bodies: list[tuple[int, Block]] = field(default_factory=list)  # (view PREPAREd, body)


def restore(restored: Mapping[str, bytes], me: str, limits: msg.DecodeLimits,
            window: int) -> Restored:
    """The state the persisted keys describe (see the module docstring); pure."""
    live = {key: value for key, value in restored.items() if value}
    state = Restored()
    if KEY_CHECKPOINT in live:
        state.stable = msg.CheckpointProof.decode(live[KEY_CHECKPOINT], limits.max_votes)
    if KEY_VIEW in live:
        view = codec.unpack(live[KEY_VIEW])
        state.view, state.active = int(view["view"]), bool(view["active"])
    if KEY_VIEW_CHANGE in live:
        view_change = msg.decode_stored(live[KEY_VIEW_CHANGE], limits)
        assert isinstance(view_change, msg.ViewChange)
        state.view_change = view_change
    if KEY_NEW_VIEW in live:
        _restore_new_view(state, live[KEY_NEW_VIEW], me, limits, window)
    stable_seq = 0 if state.stable is None else state.stable.seq
    for key in sorted(live):
        kind, _, seq_text = key.partition("/")
        if kind == BODY:
            record = codec.unpack(live[key])
            state.bodies.append((int(record["view"]), Block.decode(record["block"])))
            continue
        if kind not in VOTE_KINDS:
            continue
        state.vote_keys[key] = int(seq_text)
        if kind == "commit":
            record = codec.unpack(live[key])
            certificate = msg.PreparedCertificate.from_map(record["prepared"],
                                                           limits.max_votes, with_body=True)
            if certificate.seq > stable_seq:
                state.certificates.append(certificate)
            state.votes.append((kind, msg.decode(record["commit"], limits)))
        else:
            state.votes.append((kind, msg.decode(live[key], limits)))
    return state


def _restore_new_view(state: Restored, data: bytes, me: str, limits: msg.DecodeLimits,
                      window: int) -> None:
    """The NEW-VIEW of the last view entered: its primary's re-proposals are votes it
    signed; on every replica it fixes seqs up to its top and, if the view it starts is
    later than the one on disk, the host crashed between persisting the NEW-VIEW and the
    view: it is that view, started."""
    new_view = msg.decode_stored(data, limits)
    assert isinstance(new_view, msg.NewView)
    if new_view.sender == me:
        state.votes.extend(("pre_prepare", pre_prepare) for pre_prepare in new_view.pre_prepares)
    if new_view.view < state.view:
        return  # a later view change started after it
    # This replica's own disk: the NEW-VIEW was checked when it was taken. (One written by an
    # older version, with blocks inside, no longer carries valid signatures once cut to
    # blocks by hash; it still says which seqs are fixed, and with what.)
    plan = compute_new_view(new_view.view, new_view.view_changes, window)
    if new_view.view > state.view or not state.active:
        state.view, state.active = new_view.view, True
    state.new_view = new_view
    state.new_view_top = plan.top_seq
