"""Pure measurement helpers (unit-tested): percentiles, latency summary, the receipt check,
CPU seconds of a process, the cost of one Ed25519 verification on this machine, and the
surveillance figures of a point from the nodes' `/metrics` counters, and the cost of waking an
idle event loop."""


from __future__ import annotations

import asyncio
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


SURVEILLANCE_CPU = "stoledger_surveillance_cpu_seconds_total"
SURVEILLANCE_ORDERS = "stoledger_surveillance_orders_total"


def parse_metrics(text: str) -> dict[str, float]:
    """Samples of a Prometheus text exposition, keyed by name with its labels as written."""
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


@dataclass
class SurveillanceCost:
    cpu_us_per_order: float | None  # mean over the nodes of surveillance CPU / orders it read
    share: float | None  # mean over the nodes of surveillance CPU / the node's whole CPU


def surveillance_cost(node_cpu_s: dict[str, float], before: dict[str, dict[str, float]],
                      after: dict[str, dict[str, float]]) -> SurveillanceCost:
    """From each node's CPU seconds over the timed window and its metrics read at both ends
    of it; None where no node exposes the surveillance counters (an older node)."""
    per_order, shares = [], []
    for name, cpu_s in node_cpu_s.items():
        start, end = before.get(name, {}), after.get(name, {})
        if SURVEILLANCE_CPU not in start or SURVEILLANCE_CPU not in end:
            continue
        spent_s = end[SURVEILLANCE_CPU] - start[SURVEILLANCE_CPU]
        orders = end[SURVEILLANCE_ORDERS] - start[SURVEILLANCE_ORDERS]
        if orders > 0:
            per_order.append(spent_s / orders * 1e6)
        if cpu_s > 0:
            shares.append(spent_s / cpu_s)
    return SurveillanceCost(
        round(sum(per_order) / len(per_order), 1) if per_order else None,
        round(sum(shares) / len(shares), 4) if shares else None)


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
    """CPU microseconds per Ed25519 verification of a transfer-sized message, as the node does
    it. CPU time of this thread, not wall time: on a machine shared with other work the wall
    time of the loop grows with the contention while the nodes' CPU per tx (utime+stime)
    hardly does, and the ratio of the two is what must hold across machines."""
    signer = Signer.generate()
    message = os.urandom(250)
    sig = signer.sign(TX_DOMAIN, message)
    verify(signer.public_key, TX_DOMAIN, message, sig)  # warm the key cache
    started = time.thread_time()
    for _ in range(samples):
        verify(signer.public_key, TX_DOMAIN, message, sig)
    return round((time.thread_time() - started) / samples * 1e6, 1)


def measure_wake_us(samples: int = 200, gap_s: float = 0.002) -> float:
    """CPU microseconds an idle asyncio event loop spends to wake from a timer and go back to
    sleep (one `asyncio.sleep(gap_s)`). A node below capacity wakes for every frame, request,
    tick and fsync, several hundred times a second, so what a wake-up costs on this machine
    (the kernel's switch, a VM's timer, caches gone cold) is most of a node's fixed cost
    there, as `verify_us` is of its cost at saturation: ~60 µs on the README's 2-core VMs.
    CPU time of this thread, like `measure_verify_us`."""
    async def sleep_loop() -> float:
        await asyncio.sleep(gap_s)
        started = time.thread_time()
        for _ in range(samples):
            await asyncio.sleep(gap_s)
        return (time.thread_time() - started) / samples * 1e6

    return round(asyncio.run(sleep_loop()), 1)
