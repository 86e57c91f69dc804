"""Height sync: how a node learns it has fallen behind, and how far to fetch. Pure: the
caller passes the time in, so the real node (node.app) and the simulator (node.sim) run the
same rule.

Every operator tells its peers its executed height every SYNC_INTERVAL_MS. A node whose
height stays below the (f+1)-th highest height its operator peers report, for SYNC_BEHIND_MS
(longer than a commit in flight takes), fetches blocks up to that height. At least one honest
operator reported it, so the blocks exist, and each fetched block is checked against its
2f+1 commit certificate before it is applied, so a lying peer can delay a node but not
mislead it. This is what lets a node that restarted behind, or that was left one block behind
across a view change, catch up before any stable checkpoint would show it the way.
"""

from __future__ import annotations

SYNC_INTERVAL_MS = 500
SYNC_BEHIND_MS = 1_000


class HeightSync:
    def __init__(self, witnesses: int) -> None:
        assert witnesses >= 1
        self.witnesses = witnesses  # f + 1
        self.reported: dict[str, int] = {}
        self._behind_since: int | None = None
        self._last_announced: int | None = None

    def report(self, peer: str, height: int) -> None:
        self.reported[peer] = height

    def announce_due(self, now_ms: int) -> bool:
        """True when it is time to tell the peers this node's height (then it is noted)."""
        if self._last_announced is not None and now_ms - self._last_announced < SYNC_INTERVAL_MS:
            return False
        self._last_announced = now_ms
        return True

    def witnessed_height(self) -> int:
        """The height at least f+1 operator peers say they have executed."""
        heights = sorted(self.reported.values(), reverse=True)
        return heights[self.witnesses - 1] if len(heights) >= self.witnesses else 0

    def fetch_target(self, now_ms: int, height: int, fetching: bool) -> int | None:
        """The height to fetch up to, once this node has been behind for SYNC_BEHIND_MS."""
        target = self.witnessed_height()
        if target <= height:
            self._behind_since = None
            return None
        if self._behind_since is None:
            self._behind_since = now_ms
            return None
        if fetching or now_ms - self._behind_since < SYNC_BEHIND_MS:
            return None
        self._behind_since = None
        return target
