"""Pure measurement helpers (unit-tested): percentiles, latency summary, the receipt check,
CPU seconds of a process, and the cost of one Ed25519 verification on this machine."""


from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

from consensus.crypto import TX_DOMAIN, Signer, verify


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values; 0.0 for none."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


def latency_summary(latencies_s: list[float]) -> dict[str, float]:
    values = sorted(latencies_s)
    return {name: round(percentile(values, p) * 1000, 1)
            for name, p in (("p50", 50), ("p95", 95), ("p99", 99))}


@dataclass
class ReceiptCheck:
    committed: int
    lost: int
    duplicated: int
    failed: int
    reordered: int
    heights: dict[bytes, int]


def check_receipts(admitted: Sequence[bytes],
                   blocks: Sequence[tuple[int, Sequence[bytes], Sequence[tuple[bytes, bool]]]],
                   ) -> ReceiptCheck:
    """Check every admitted tx against the blocks of the run.

    `blocks` holds (height, tx ids carried, receipts (tx id, ok) of that block)."""
    executed_in: dict[bytes, list[int]] = {}
    carried: dict[bytes, int] = {}
    ok_of: dict[bytes, bool] = {}
    for height, carried_ids, receipts in blocks:
        for tx_id in carried_ids:
            carried[tx_id] = carried.get(tx_id, 0) + 1
        for tx_id, ok in receipts:
            executed_in.setdefault(tx_id, []).append(height)
            ok_of[tx_id] = ok
    heights: dict[bytes, int] = {}
    lost = failed = 0
    for tx_id in admitted:
        found = executed_in.get(tx_id)
        if not found:
            lost += 1
            continue
        heights[tx_id] = found[0]
        if not ok_of[tx_id]:
            failed += 1
    duplicated = sum(1 for found in executed_in.values() if len(found) > 1)
    reordered = sum(1 for count in carried.values() if count > 1)
    return ReceiptCheck(len(heights), lost, duplicated, failed, reordered, heights)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat", "rb") as handle:
        fields = handle.read().rsplit(b") ", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def measure_verify_us(samples: int = 2_000) -> float:
    """Microseconds per Ed25519 verification of a transfer-sized message, as the node does it."""
    signer = Signer.generate()
    message = os.urandom(250)
    sig = signer.sign(TX_DOMAIN, message)
    verify(signer.public_key, TX_DOMAIN, message, sig)  # warm the key cache
    started = time.perf_counter()
    for _ in range(samples):
        verify(signer.public_key, TX_DOMAIN, message, sig)
    return round((time.perf_counter() - started) / samples * 1e6, 1)
