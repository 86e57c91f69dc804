"""The cyclic garbage collector in a node process: fewer collections, and their cost shown.

A node allocates a few dozen tracked objects per transaction (the decoded body and its
arguments, the state values a contract reads) and keeps hundreds of thousands of them alive
(the verified cache, the mempool, the replica's log). With CPython's thresholds (700, 10, 10),
a backup in a saturated 4-node cluster collected the young generation ~1,000 times and the
whole heap 9 times in a one-minute bench run, each full pass 35 ms (55 ms on the primary)
in which the node read no frame and answered no request. With THRESHOLDS it collected the
young generation 12-35 times and never the whole heap (docs/performance.md, "the garbage
collector"). Refcounting frees almost everything a node makes; the collector is there for
cycles (an exception and its traceback, a future and its callbacks), which are few.

`tune` also freezes what start-up built (modules, the genesis, the contracts): a full
collection no longer walks it. The pause meter counts the time the collector runs, for
/metrics, from that first full collection on; it is per process, as the collector is."""

from __future__ import annotations

import gc
import time
from typing import Any

THRESHOLDS = (20_000, 20, 20)  # young collections every 20,000 net allocations of tracked objects


class PauseMeter:
    """Seconds spent collecting, by generation (a gc callback)."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds[info["generation"]] += time.perf_counter() - self._started


METER = PauseMeter()


def tune() -> None:
    """For a node process once it has started: meter the pauses from here on (this first full
    collection included), collect, freeze what is left, and raise the thresholds."""
    if METER not in gc.callbacks:
        gc.callbacks.append(METER)
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)


def collections() -> list[int]:
    """Collections so far, by generation."""
    return [generation["collections"] for generation in gc.get_stats()]
