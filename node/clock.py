"""The node's wall clock, in Unix milliseconds: the one place a real node reads the time. The
replica hears it only as `Tick`; the simulator uses its virtual clock instead."""

from __future__ import annotations

import time


def now_ms() -> int:
    return int(time.time() * 1000)
