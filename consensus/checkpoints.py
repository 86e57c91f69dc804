"""The CHECKPOINTs a replica signed, and when it repeats them.

A CHECKPOINT goes out once, when its block executes. If the copies are lost (a link reset,
message loss) a replica may never see a quorum for a seq, and its low watermark stays put.
Once every replica's window is full that is for good: no primary may propose past h + L, so
no block executes and no new CHECKPOINT is ever signed, and each VIEW-CHANGE carries the same
old stable checkpoint (red team R1, docs/redteam-consensus.md). Castro and Liskov retransmit;
so does this replica: while its latest CHECKPOINT is above its stable checkpoint, it
broadcasts it again every half timeout (`due`), one small message per interval. (A replica
whose stable checkpoint is behind its peers' needs no answer: the NEW-VIEW of the view
change its stalled requests start carries the highest stable checkpoint of its quorum.)

Holds signed messages only (no signing here) and returns what to send; the replica sends it.
"""

from __future__ import annotations

from consensus.messages import Checkpoint


class OwnCheckpoints:
    __slots__ = ("_resend_at", "_signed")

    def __init__(self) -> None:
        self._signed: dict[int, Checkpoint] = {}  # seq -> the CHECKPOINT this replica signed
        self._resend_at = 0

    def __repr__(self) -> str:
        return f"OwnCheckpoints({self._signed!r}, {self._resend_at!r})"

    def add(self, checkpoint: Checkpoint, resend_at: int) -> None:
        """A CHECKPOINT this replica just signed and sent; repeat it from `resend_at`."""
        self._signed[checkpoint.seq] = checkpoint
        self._resend_at = resend_at

    def app_hash(self, seq: int) -> bytes | None:
        signed = self._signed.get(seq)
        return None if signed is None else signed.app_hash

    def prune(self, stable_seq: int) -> None:
        """Forget the CHECKPOINTs below a new stable checkpoint."""
        for seq in sorted(self._signed):
            if seq < stable_seq:
                del self._signed[seq]

    def due(self, stable_seq: int, now_ms: int, interval_ms: int) -> Checkpoint | None:
        """The latest CHECKPOINT, if it is above the stable checkpoint and due again."""
        top = max(self._signed, default=0)
        if top <= stable_seq or now_ms < self._resend_at:
            return None
        self._resend_at = now_ms + interval_ms
        return self._signed[top]
