"""The message log: what a replica knows about the sequence numbers in its window.

Everything kept here has a seq in the window `low_watermark < seq <= low_watermark + L`, so
the log's size is bounded by L times n votes of each kind, whatever peers send:

- `slots[seq]`: the PRE-PREPARE accepted for seq in the current view and the progress of
  this replica on it (prepare sent, prepared, commit sent, committed_local);
- `prepares`, `commits`: at most one vote per operator per (view, seq), current view only;
- `prepared_certificates[seq]`: the prepared certificate of the highest view this replica
  holds for seq. It survives view changes: VIEW-CHANGE messages carry it;
- `checkpoints`: the latest few CHECKPOINT votes of each operator (bounded per sender, since
  a lagging replica must see checkpoints far above its window to know it lags).

`collect_garbage(h)` drops everything at or below a new stable checkpoint h.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus.block import Block
from consensus.constants import CHECKPOINTS_KEPT_PER_SENDER
from consensus.messages import Checkpoint, Commit, Prepare, PreparedCertificate, PrePrepare
from consensus.quorum import VoteBook


@dataclass(slots=True)
class Slot:
    """One seq in the current view."""

    seq: int
    pre_prepare: PrePrepare | None = None
    prepare_sent: bool = False
    prepared: bool = False
    commit_sent: bool = False
    committed_local: bool = False
    _tx_ids: tuple[bytes, ...] | None = None

    @property
    def block(self) -> Block:
        assert self.pre_prepare is not None
        return self.pre_prepare.block

    @property
    def block_by_hash(self) -> bool:
        """The slot holds its block by hash (a re-proposal whose body is still wanted)."""
        return self.pre_prepare is not None and self.pre_prepare.is_by_hash

    def reset_tx_ids(self) -> None:
        self._tx_ids = None

    def tx_ids(self) -> tuple[bytes, ...]:
        if self._tx_ids is None:
            self._tx_ids = tuple(self.block.tx_ids()) if self.pre_prepare else ()
        return self._tx_ids


class MessageLog:
    __slots__ = ("checkpoints", "commits", "low_watermark", "prepared_certificates",
                 "prepares", "slots", "view", "window")

    def __init__(self, window: int, low_watermark: int, view: int) -> None:
        self.window = window
        self.low_watermark = low_watermark
        self.view = view
        self.slots: dict[int, Slot] = {}
        self.prepares: VoteBook[Prepare] = VoteBook()
        self.commits: VoteBook[Commit] = VoteBook()
        self.prepared_certificates: dict[int, PreparedCertificate] = {}
        self.checkpoints: dict[str, dict[int, Checkpoint]] = {}

    @property
    def high_watermark(self) -> int:
        return self.low_watermark + self.window

    def in_window(self, seq: int) -> bool:
        return self.low_watermark < seq <= self.high_watermark

    def slot(self, seq: int) -> Slot:
        assert self.in_window(seq), f"seq {seq} outside the window"
        slot = self.slots.get(seq)
        if slot is None:
            slot = self.slots[seq] = Slot(seq)
        return slot

    def start_view(self, view: int) -> None:
        """Forget the slots and votes of other views; keep prepared certificates."""
        assert view >= self.view
        self.view = view
        self.slots.clear()
        self.prepares.discard(lambda key: key[0] == view)
        self.commits.discard(lambda key: key[0] == view)

    def record_prepared(self, certificate: PreparedCertificate) -> None:
        known = self.prepared_certificates.get(certificate.seq)
        if known is None or known.view < certificate.view:
            self.prepared_certificates[certificate.seq] = certificate

    def add_checkpoint(self, vote: Checkpoint) -> str:
        """"added", "duplicate", "conflict" or "stale" (lower than every vote kept)."""
        votes = self.checkpoints.setdefault(vote.sender, {})
        known = votes.get(vote.seq)
        if known is not None:
            return "duplicate" if known.app_hash == vote.app_hash else "conflict"
        if len(votes) >= CHECKPOINTS_KEPT_PER_SENDER:
            lowest = min(votes)
            if vote.seq < lowest:
                return "stale"
            del votes[lowest]
        votes[vote.seq] = vote
        return "added"

    def matching_checkpoints(self, seq: int, app_hash: bytes,
                             order: list[str]) -> list[Checkpoint]:
        found = []
        for sender in order:
            vote = self.checkpoints.get(sender, {}).get(seq)
            if vote is not None and vote.app_hash == app_hash:
                found.append(vote)
        return found

    def collect_garbage(self, stable_seq: int) -> None:
        assert stable_seq >= self.low_watermark
        self.low_watermark = stable_seq
        for seq in sorted(self.slots):
            if seq <= stable_seq:
                del self.slots[seq]
        self.prepares.discard(lambda key: key[1] > stable_seq)
        self.commits.discard(lambda key: key[1] > stable_seq)
        for seq in sorted(self.prepared_certificates):
            if seq <= stable_seq:
                del self.prepared_certificates[seq]
        for sender in sorted(self.checkpoints):
            votes = self.checkpoints[sender]
            for seq in sorted(votes):
                if seq <= stable_seq:
                    del votes[seq]

    def forget_through(self, seq: int) -> None:
        """Drop slots and votes at or below `seq` (committed elsewhere, e.g. state transfer)."""
        for key in sorted(self.slots):
            if key <= seq:
                del self.slots[key]
        self.prepares.discard(lambda key: key[1] > seq)
        self.commits.discard(lambda key: key[1] > seq)

    def size(self) -> int:
        """Entries held: slots, votes, certificates and checkpoint votes."""
        return (len(self.slots) + self.prepares.size() + self.commits.size()
                + len(self.prepared_certificates)
                + sum(len(votes) for votes in self.checkpoints.values()))
