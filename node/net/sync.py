"""Height sync: how a node learns it has fallen behind, and how far to fetch. Pure: the
caller passes the time in, so the real node (node.app) and the simulator (node.sim) run the
same rule.

Every operator tells its peers its executed height every SYNC_INTERVAL_MS. A node that stays
below the highest height a peer reports for SYNC_BEHIND_MS (longer than a commit in flight
takes) fetches blocks up to it, asking the peers that report the most first. One peer's word
is enough to try, because a fetched block is applied only if its commit certificate carries
2f+1 valid votes of genesis operators and it extends the chain: a lying peer can cost a
fetch, never a wrong block. A claim that a fetch could not make good is forgotten until it is
made again. This is what lets a node catch up when it restarted behind, or when the only
honest node to commit some height is a single peer (seen in the simulator: a Byzantine voter
plus lost messages). Readiness uses the stricter witnessed height, which f+1 peers report, so
a liar cannot make honest nodes look unready.
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

    def peers_by_height(self) -> list[str]:
        """Peers to fetch from, the ones reporting the most first (ties by name)."""
        return sorted(self.reported, key=lambda peer: (-self.reported[peer], peer))

    def forget_above(self, height: int) -> None:
        """A fetch stopped at `height`: drop the claims it could not make good."""
        for peer in sorted(self.reported):
            if self.reported[peer] > height:
                del self.reported[peer]

    def fetch_target(self, now_ms: int, height: int, fetching: bool) -> int | None:
        """The height to fetch up to, once this node has been behind for SYNC_BEHIND_MS."""
        target = max(self.reported.values(), default=0)
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
