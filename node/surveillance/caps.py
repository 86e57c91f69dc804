"""`Holdings`: how many records each subject holds in a capped collection, and which subject
holds the most: the one that gives its oldest record when the collection is past its limit.

Why. A collection capped as a whole and emptied oldest first lets one subject's flood push out
every other subject's evidence (issue 30, F15b: one account's unfilled orders, or one sender's
one-won transfers, evicted another's S3, S10 or S9 records). Taking from the largest holder
keeps the same bound on memory, and a subject loses records only to its own flood, or when
every subject holds as many as it.

How. A max-heap of (-count, subject) entries, one pushed at every change; an entry whose count
is no longer its subject's is dropped when it reaches the top, and the heap is rebuilt when
stale entries outnumber the live ones. The largest is decided by the counts alone (of two alike,
the first by name), so a node that restarted (its heap rebuilt) chooses as a live one does.
"""

from __future__ import annotations

import heapq

STALE_SLACK = 64  # stale heap entries tolerated beyond twice the subjects before a rebuild


class Holdings:
    __slots__ = ("counts", "heap", "total")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.heap: list[tuple[int, str]] = []
        self.total = 0

    def add(self, subject: str) -> None:
        count = self.counts[subject] = self.counts.get(subject, 0) + 1
        self.total += 1
        self._push(count, subject)

    def remove(self, subject: str) -> None:
        count = self.counts[subject] - 1
        self.total -= 1
        if count:
            self.counts[subject] = count
            self._push(count, subject)
        else:
            del self.counts[subject]

    def largest(self) -> str:
        """The subject holding the most (of two alike, the first by name)."""
        heap = self.heap
        while heap and self.counts.get(heap[0][1]) != -heap[0][0]:
            heapq.heappop(heap)
        assert heap, "no subject holds anything"
        return heap[0][1]

    def _push(self, count: int, subject: str) -> None:
        heapq.heappush(self.heap, (-count, subject))
        if len(self.heap) > 2 * len(self.counts) + STALE_SLACK:
            self.heap = [(-held, name) for name, held in self.counts.items()]
            heapq.heapify(self.heap)
