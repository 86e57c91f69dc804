"""View synchronisation: what a replica knows of the views its peers are in.

Three things, each bounded by one entry per operator:

- the latest VIEW-CHANGE of each sender (for a view not behind this replica, at most
  VIEWS_AHEAD_KEPT_PER_OPERATOR x n views ahead), kept unchecked until a NEW-VIEW needs it
  and then checked once (`checked`): a peer cannot make this replica verify a stream of
  certificates it will never use;
- the latest view each peer signed any message for, when later than this replica's: a
  signed announcement that the peer left every view below it. When f+1 peers are past this
  replica's view, at least one honest one is, and `join_target` names the view to join (the
  (f+1)-th highest: this replica restarted, missed a view change, or was cut off);
- when each peer behind was last answered (`may_answer`), so that a stream of stale
  VIEW-CHANGEs costs at most one answer per interval per peer.

It returns values and emits nothing; the replica decides what to send and when to move.
"""

from __future__ import annotations

from collections.abc import Callable

from consensus import messages as msg


class ViewSync:
    __slots__ = ("_answered_ms", "_checked", "_peer_views", "_view_changes")

    def __init__(self) -> None:
        self._view_changes: dict[str, msg.ViewChange] = {}  # latest per sender
        self._checked: set[str] = set()  # senders whose stored VIEW-CHANGE verified
        self._peer_views: dict[str, int] = {}  # sender -> latest view it signed, if ahead
        self._answered_ms: dict[str, int] = {}  # peer behind -> when it was last answered

    def __repr__(self) -> str:
        return (f"ViewSync({self._view_changes!r}, {sorted(self._checked)!r}, "
                f"{self._peer_views!r}, {self._answered_ms!r})")

    # -- peers' views --------------------------------------------------------------------------

    def note_view(self, sender: str, view: int, my_view: int) -> bool:
        """`sender` signed a message of `view`; True if that is news of a later view."""
        if view <= my_view or view <= self._peer_views.get(sender, -1):
            return False
        self._peer_views[sender] = view
        return True

    def join_target(self, my_view: int, weak_quorum: int) -> int | None:
        """The view f+1 peers have all reached beyond `my_view`, if they have."""
        views = sorted((view for view in self._peer_views.values() if view > my_view),
                       reverse=True)
        if len(views) < weak_quorum:
            return None
        target = views[weak_quorum - 1]
        return target if target > my_view else None

    # -- stored VIEW-CHANGEs -------------------------------------------------------------------

    def stored(self, sender: str) -> msg.ViewChange | None:
        return self._view_changes.get(sender)

    def senders(self) -> list[str]:
        return sorted(self._view_changes)

    def store(self, view_change: msg.ViewChange) -> None:
        """Keep `view_change` as its sender's latest, unchecked."""
        self._view_changes[view_change.sender] = view_change
        self._checked.discard(view_change.sender)

    def store_own(self, view_change: msg.ViewChange) -> None:
        """This replica's own VIEW-CHANGE (it signed it: a check it passed before stands)."""
        self._view_changes[view_change.sender] = view_change

    def views_above(self, view: int) -> list[int]:
        """The views of stored VIEW-CHANGEs later than `view`, highest first."""
        return sorted((vc.view for vc in self._view_changes.values() if vc.view > view),
                      reverse=True)

    def for_view(self, view: int) -> list[msg.ViewChange]:
        """The stored VIEW-CHANGEs for `view`, in the order they were stored."""
        return [vc for vc in self._view_changes.values() if vc.view == view]

    def count_at_or_above(self, view: int) -> int:
        return sum(1 for vc in self._view_changes.values() if vc.view >= view)

    def checked(self, ready: list[msg.ViewChange],
                is_valid: Callable[[msg.ViewChange], bool]) -> tuple[list[msg.ViewChange], int]:
        """Of `ready`, those whose proofs check (`is_valid` runs once per stored message);
        the others are forgotten. Returns the valid ones and how many were dropped."""
        valid = []
        dropped = 0
        for view_change in ready:
            sender = view_change.sender
            if sender not in self._checked:
                if not is_valid(view_change):
                    dropped += 1
                    del self._view_changes[sender]
                    continue
                self._checked.add(sender)
            valid.append(view_change)
        return valid, dropped

    def forget_below(self, view: int) -> None:
        """Forget what concerns views below `view` (this replica moved past them)."""
        for sender in sorted(self._view_changes):
            if self._view_changes[sender].view < view:
                del self._view_changes[sender]
                self._checked.discard(sender)
        for sender in sorted(self._peer_views):
            if self._peer_views[sender] < view:
                del self._peer_views[sender]

    # -- answering peers behind ----------------------------------------------------------------

    def may_answer(self, peer: str, now_ms: int, interval_ms: int) -> bool:
        last = self._answered_ms.get(peer)
        return last is None or now_ms - last >= interval_ms

    def answered(self, peer: str, now_ms: int) -> None:
        self._answered_ms[peer] = now_ms
