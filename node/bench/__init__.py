"""`stoledger bench` (`scripts/bench.py`): throughput and commit latency of a real cluster.

How one point of a run works
----------------------------
1. A real N-node cluster on loopback (`node.tools.cluster.up` in a temporary folder), or the running
   cluster of `--dir`.
2. Setup, not timed: broker-a and broker-b register `--accounts` professional investors in
   turn (no investment limit), issuer-1 creates a token with no restriction that a transfer
   could hit, ksd approves its cap, and issuer-1 issues units to every investor.
3. Every transfer of the point is built and SIGNED BEFORE timing (in a process pool): investor
   i sends 1 unit to investor i+1. The envelopes are cut into msgpack batches for `POST /v1/txs`.
4. A SEPARATE load process (multiprocessing, spawn) sends the batches round-robin over the nodes:
   at `--rate` tx/s on a fixed schedule (one batch every `--interval-ms`), or with `--rate 0` as
   fast as the cluster takes them, keeping at most `--window` admitted-but-uncommitted txs in
   flight and offering each refused tx again (a queue served before fresh ones), so the point
   never runs out of pre-signed txs. It records each batch's send time (CLOCK_MONOTONIC,
   shared by all processes) and the per-item answer (admitted, or the error code).
5. Commit times: a thread of this process follows the SSE stream `GET /v1/events` of the first
   node with an unregistered key, so it receives only `block` events (height, tx count), about
   20 a second: cheap for the node, and the arrival time is the commit time at that node (it is
   published right after the block's synced write). After the point, the blocks of the run are
   read back (`GET /v1/blocks`, msgpack, signed by the regulator) to learn each tx's height and
   receipt. latency(tx) = arrival of its block's event - send time of its batch.
6. Every admitted tx is checked: `lost` = admitted but no receipt after the drain period,
   `duplicated` = a tx id executed (receipt-bearing) in more than one block, `failed` = committed
   with ok=false (a transfer here should never be refused), `reordered` = a tx id carried by
   more than one block (the executor then drops the repeat; harmless, counted for information).
7. CPU: utime+stime from /proc/<pid>/stat of every node over the timed window; with the market
   workload, each node's `/metrics` too, at both ends of the window, for the surveillance
   figures (node/bench/market.py: `surveillance_cpu_us_per_order`, `surveillance_share`).

`committed_tps` counts transactions in blocks whose event arrived inside the timed window.
`refused` counts the refusals for lack of room (`mempool_full`, or a whole 503), retries
included: the excess a saturated cluster turns away. `cpu_us_per_tx_node` is the nodes' mean CPU per
committed tx and `cpu_verify_ratio` that over `verify_us` (one Ed25519 verification measured
right after the point, the lower of two samples): the ratio holds across machines at
saturation. Below it a node's CPU per tx is mostly a fixed cost per second (blocks, frames,
ticks: docs/performance.md, "a cost model"), which follows `wake_us`, the CPU one wake-up of
an idle asyncio loop costs on the machine, measured right after the point too.

`--rate 2x` (any "Nx") first finds the knee, then runs at N times it. The knee search: a
`--rate 0` probe gives the saturated rate S; fixed-rate probes then start at 0.8 S and go up
by 10 % while a probe keeps up (commits >= 95 % of what it offered, p99 < 2 s, nothing lost);
the knee is the committed rate of the last probe that kept up. Probes are points too (JSON
`"probe": true`), each of `--knee-duration` seconds.

The parts: config.py (options, a point, constants), measure.py (pure helpers), load.py (signing
and the load process), setup.py (the cluster under test and its block events); this module runs
the points. `--workload market` (market.py) runs the same points with crossing orders;
`--workload offering` (offering.py) is a run of its own: N subscribers subscribing through two
brokers, then the offering's allocation, and with `--in-process` the allocation of a large
offering on the chaincode alone (offering_scale.py).
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack

from node.bench.config import (
    ADMITTED,
    KNEE_KEEPS_UP,
    KNEE_MAX_PROBES,
    KNEE_P99_MS,
    KNEE_STEP,
    MAX_BATCH_TXS,
    REFUSED_CODES,
    Options,
    Point,
)
from node.bench.load import cut_batches, load_main, presign
from node.bench.measure import (
    check_receipts,
    cpu_seconds,
    latency_summary,
    machine_busy,
    measure_verify_us,
    measure_wake_us,
    surveillance_cost,
)
from node.bench.setup import Bench, BlockWatcher, cluster_for

VIEW_CHANGES = "stoledger_view_changes_total"
RELAYS_REFUSED = 'stoledger_txs_relay_refused_total{code="mempool_full"}'


def _grown(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]],
           sample: str) -> dict[str, float]:
    """How much `sample` grew on each node between two readings of every node's metrics."""
    return {name: after[name].get(sample, 0.0) - before.get(name, {}).get(sample, 0.0)
            for name in after}


def run_point(bench: Bench, rate: int, options: Options, verify_us: float,
              nonce_base: int, progress: Callable[[str], None],
              duration_s: float | None = None, workload: Any = None) -> Point:
    duration = duration_s or options.duration_s
    if rate > 0:
        count = math.ceil(rate * duration)
        batch = max(1, min(MAX_BATCH_TXS, round(rate * options.interval_ms / 1000)))
    else:
        count = math.ceil(options.max_rate * duration) + options.window
        batch = 500
    progress(f"pre-signing {count} {workload.name if workload else 'transfers'}")
    if workload is not None:  # --workload market: node/bench/market.py
        signed = workload.presign(bench, count, nonce_base)
        workload.before(bench)
    else:
        signed = presign(bench.chain_id, bench.seeds, count, nonce_base)
    batches = cut_batches(signed, batch)
    work = Path(tempfile.mkdtemp(prefix="stoledger-bench-"))
    context = multiprocessing.get_context("spawn")
    committed = context.Value("q", 0)
    ready, go = context.Event(), context.Event()
    watcher = BlockWatcher(bench.urls[0], bench.chain_id, committed, bench.keys["broker-a"])
    loader = None
    try:
        (work / "batches").write_bytes(msgpack.packb(batches, use_bin_type=True))
        del batches
        watcher.start()
        watcher.connected.wait(10)
        if watcher.error is not None:
            raise RuntimeError(f"event stream: {watcher.error}")
        start_height = bench.status()["height"]
        loader = context.Process(target=load_main, name="bench-load", args=(
            bench.urls, str(work / "batches"), str(work / "result"), rate, options.interval_ms,
            duration, options.window, committed, ready, go))
        loader.start()
        if not ready.wait(60):
            raise RuntimeError("the load process did not start")
        metrics_before = bench.metrics()
        cpu_before = bench.cpu()
        load_before = cpu_seconds(loader.pid)
        busy_before = machine_busy()
        started = time.monotonic()
        go.set()
        _show_progress(bench, watcher, committed, started, duration, rate, progress)
        cpu_after = bench.cpu()
        metrics_after = bench.metrics()
        load_after = cpu_seconds(loader.pid)
        busy_after = machine_busy()
        ended = time.monotonic()
        loader.join(timeout=180)
        if loader.exitcode != 0:
            raise RuntimeError(f"the load process failed (exit {loader.exitcode})")
        result = msgpack.unpackb((work / "result").read_bytes(), raw=False)
        admitted, sent_at, rejected, submitted = _admissions(result["records"], signed)
        _drain(watcher, committed, len(admitted), options.drain_s, progress)
        stop_height = bench.status()["height"]
        metrics_drained = bench.metrics()
    finally:
        watcher.stop()
        if loader is not None and loader.is_alive():
            loader.terminate()
            loader.join(5)
            if loader.is_alive():
                loader.kill()
                loader.join()
        shutil.rmtree(work, ignore_errors=True)
    progress(f"checking receipts in blocks {start_height + 1}..{stop_height}")
    blocks = bench.fetch_blocks(start_height + 1, stop_height)
    check = check_receipts(list(admitted), blocks)
    latencies = []
    for tx_id, height in check.heights.items():
        arrival = watcher.arrivals.get(height)
        if arrival is not None:
            latencies.append(arrival[0] - sent_at[tx_id])
    window_end = started + duration
    in_window = [(height, txs) for height, (when, txs) in watcher.arrivals.items()
                 if started <= when <= window_end and height > start_height]
    committed_in_window = sum(txs for _, txs in in_window)
    nonempty = [txs for _, txs in in_window if txs]
    cpu = {name: cpu_after[name] - cpu_before[name] for name in cpu_before}
    span = ended - started
    per_tx = {name: round(value / max(committed_in_window, 1), 6) for name, value in cpu.items()}
    verify_us = min(verify_us, measure_verify_us())
    cpu_us = sum(cpu.values()) / len(cpu) / max(committed_in_window, 1) * 1e6
    point = Point(
        nodes=len(bench.urls), offered_tps=round(submitted / duration, 1),
        committed_tps=round(committed_in_window / duration, 1),
        latency_ms=latency_summary(latencies),
        cpu_s_per_tx=round(sum(cpu.values()) / len(cpu) / max(committed_in_window, 1), 6),
        verify_us=verify_us, lost=check.lost, duplicated=check.duplicated,
        block_txs_avg=round(sum(nonempty) / len(nonempty), 1) if nonempty else 0.0,
        duration_s=duration, target_rate=rate, submitted=submitted, admitted=len(admitted),
        committed=check.committed, failed=check.failed, reordered=check.reordered,
        rejected=rejected, blocks=len(in_window), cpu_s_per_tx_node=per_tx,
        cpu_util_node={name: round(value / span, 2) for name, value in cpu.items()},
        cpu_util_load=round((load_after - load_before) / span, 2),
        machine_util=round((busy_after[0] - busy_before[0])
                           / max(busy_after[1] - busy_before[1], 1), 2),
        refused=sum(rejected.get(code, 0) for code in REFUSED_CODES),
        cpu_us_per_tx_node=round(cpu_us, 1),
        cpu_verify_ratio=round(cpu_us / verify_us, 2) if committed_in_window else 0.0,
        wake_us=measure_wake_us(),
        view_changes=int(max(_grown(metrics_before, metrics_drained, VIEW_CHANGES).values(),
                             default=0)),
        relays_refused=int(sum(_grown(metrics_before, metrics_drained,
                                      RELAYS_REFUSED).values())))
    if workload is not None:
        return workload.finish(bench, point, start_height + 1, stop_height,
                               {height for height, _ in in_window},
                               surveillance_cost(cpu, metrics_before, metrics_after))
    return point


def _admissions(records: list[list[Any]], signed: list[tuple[bytes, bytes]]
                ) -> tuple[dict[bytes, None], dict[bytes, float], dict[str, int], int]:
    admitted: dict[bytes, None] = {}
    sent_at: dict[bytes, float] = {}
    rejected: dict[str, int] = {}
    submitted = 0
    for sent, indices, codes in records:
        submitted += len(indices)
        if isinstance(codes, str):
            rejected[codes] = rejected.get(codes, 0) + len(indices)
            continue
        for index, code in zip(indices, codes, strict=True):
            tx_id = signed[index][0]
            if code == ADMITTED:
                admitted[tx_id] = None
                sent_at[tx_id] = sent
            else:
                rejected[code] = rejected.get(code, 0) + 1
    return admitted, sent_at, rejected, submitted


def _show_progress(bench: Bench, watcher: BlockWatcher, committed: Any, started: float,
                   duration: float, rate: int, progress: Callable[[str], None]) -> None:
    last = 0.0
    base = committed.value
    previous = (started, base)
    while (now := time.monotonic()) < started + duration:
        if watcher.error is not None:
            raise RuntimeError(f"event stream: {watcher.error}")
        if now - last >= 1.0:
            done = committed.value
            rate_now = (done - previous[1]) / max(now - previous[0], 1e-9)
            previous = (now, done)
            height = max(watcher.arrivals, default=0)
            _status_line(f"  {now - started:5.1f}/{duration:.0f} s  target "
                         f"{rate or 'max'} tx/s  committed {done - base}  ({rate_now:,.0f} tx/s)"
                         f"  height {height}")
            last = now
        time.sleep(0.1)
    _status_line(None)


def _status_line(text: str | None) -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\r\x1b[K" + (text or ""))
        if text is None:
            sys.stderr.write("\r")
    elif text is not None and int(time.monotonic()) % 5 == 0:
        sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _drain(watcher: BlockWatcher, committed: Any, admitted: int, drain_s: float,
           progress: Callable[[str], None]) -> None:
    """Wait until as many txs committed as were admitted, or the drain period ends."""
    deadline = time.monotonic() + drain_s
    if committed.value < admitted:
        progress(f"draining: {admitted - committed.value} admitted txs not committed yet")
    while committed.value < admitted and time.monotonic() < deadline:
        if watcher.error is not None:
            return
        time.sleep(0.05)


# -- a run ----------------------------------------------------------------------------------------

def run(options: Options, emit: Callable[[Point], None],
        progress: Callable[[str], None]) -> list[Point]:
    """Every (nodes, rate) point of `options`; each point is passed to `emit` when done."""
    if options.workload == "offering" and options.in_process:  # node/bench/offering_scale.py
        from node.bench.offering_scale import run_scale

        point = run_scale(options.accounts, progress)
        emit(point)
        return [point]
    if options.workload == "offering":  # node/bench/offering.py: subscriptions, allocation
        from node.bench.offering import run_offering

        return run_offering(options, emit, progress)
    points = []
    verify_us = measure_verify_us()
    nonce_base = int.from_bytes(os.urandom(4), "big") << 24
    node_counts = [None] if options.directory else list(options.nodes)
    for nodes in node_counts:
        with cluster_for(options, nodes, progress) as bench:
            workload = None
            if options.workload in ("market", "both"):
                from node.bench.market import MarketWorkload

                workload = MarketWorkload()
                workload.prepare(bench, options.accounts)  # the transfer setup, and cash
            else:
                bench.prepare(options.accounts)
            knee: float | None = None

            def measure(rate: int, duration_s: float | None = None, bench: Bench = bench,
                        workload: Any = workload) -> Point:
                nonlocal nonce_base
                progress(f"point: {len(bench.urls)} nodes, rate {rate or 'max'}, "
                         f"{duration_s or options.duration_s:g} s")
                point = run_point(bench, rate, options, verify_us, nonce_base, progress,
                                  duration_s, workload)
                nonce_base += 10**7
                return point

            for rate in options.rates:
                if options.workload == "both":  # a transfer point, then the market's
                    assert isinstance(rate, int), "--workload both takes fixed rates"
                    points.extend(measure_both(measure, rate, emit))
                    continue
                if isinstance(rate, str):  # "Nx": N times the knee, found first
                    if knee is None:
                        knee = find_knee(measure, options.knee_duration_s, emit, progress)
                    point = measure(round(multiple(rate) * knee))
                    point.knee_tps = knee
                else:
                    point = measure(rate)
                    point.knee_tps = knee
                points.append(point)
                emit(point)
    return points


def measure_both(measure: Callable[..., Point], rate: int, emit: Callable[[Point], None]
                 ) -> list[Point]:
    """At one rate, transfers then orders on the same cluster; the market point compared with
    the transfer point (node/bench/market.py, `compare_to_transfers`)."""
    from node.bench.market import MarketPoint, compare_to_transfers

    transfers = measure(rate, None, workload=None)
    emit(transfers)
    orders = measure(rate, None)
    assert isinstance(orders, MarketPoint)
    emit(compare_to_transfers(orders, transfers))
    return [transfers, orders]


def keeps_up(point: Point) -> bool:
    return (point.committed_tps >= KNEE_KEEPS_UP * point.offered_tps and point.lost == 0
            and point.latency_ms["p99"] < KNEE_P99_MS)


def find_knee(measure: Callable[[int, float | None], Point], duration_s: float | None,
              emit: Callable[[Point], None], progress: Callable[[str], None]) -> float:
    """The committed rate of the highest fixed-rate probe that keeps up (see the docstring)."""
    saturated = measure(0, duration_s)
    saturated.probe = True
    emit(saturated)
    progress(f"knee search: saturated at {saturated.committed_tps:,.0f} tx/s")
    knee = 0.0
    rate = max(1, round(0.8 * saturated.committed_tps))
    for _ in range(KNEE_MAX_PROBES):
        point = measure(rate, duration_s)
        point.probe = True
        emit(point)
        if not keeps_up(point):
            break
        knee = point.committed_tps
        rate = round(rate * (1 + KNEE_STEP))
    if knee == 0.0:  # not even 0.8 S kept up: the saturated rate is all there is
        knee = saturated.committed_tps
    progress(f"knee: {knee:,.0f} tx/s")
    return knee


def multiple(rate: str) -> float:
    return float(rate.rstrip("x"))


def format_point(point: Point) -> str:
    if hasattr(point, "format"):  # a workload's own point (node/bench/offering.py)
        return str(point.format())
    lat = point.latency_ms
    return (f"{point.nodes} nodes  offered {point.offered_tps:,.0f} tx/s  committed "
            f"{point.committed_tps:,.0f} tx/s  latency p50 {lat['p50']:.0f} ms  p95 "
            f"{lat['p95']:.0f} ms  p99 {lat['p99']:.0f} ms  cpu/tx/node "
            f"{point.cpu_s_per_tx * 1e6:,.0f} us  block {point.block_txs_avg:.0f} txs  "
            f"verify {point.verify_us} us  ratio {point.cpu_verify_ratio}  "
            f"wake {point.wake_us} us  lost {point.lost}  duplicated {point.duplicated}  "
            f"failed {point.failed}  refused {point.refused}  "
            f"rejected {sum(point.rejected.values())}  view changes {point.view_changes}  "
            f"relays refused {point.relays_refused}"
            + (f"  knee {point.knee_tps:,.0f} tx/s" if point.knee_tps else "")
            + ("  (knee probe)" if point.probe else "")
            + (f"  trades {point.trades_tps:,.0f}/s ({point.trades} in all)"  # market workload
               if hasattr(point, "trades_tps") else "")
            + (f"  orders/transfers {point.orders_per_transfer}  cost in transfers "
               f"{point.order_cost_in_transfers}"
               if getattr(point, "orders_per_transfer", None) is not None else "")
            + "".join(f"\n  PROBLEM: {problem}" for problem in getattr(point, "problems", [])))


def parse_ints(text: str) -> list[int]:
    values = [int(item) for item in text.split(",") if item.strip()]
    if not values or any(value < 0 for value in values):
        raise ValueError(f"{text!r} is not a list of non-negative integers")
    return values


def parse_rates(text: str) -> list[int | str]:
    """Offered rates: integers (0 = as fast as taken) or "Nx" (N times the knee)."""
    rates: list[int | str] = []
    for item in (item.strip() for item in text.split(",")):
        if not item:
            continue
        if item.endswith("x"):
            if multiple(item) <= 0:
                raise ValueError(f"{item!r}: a multiple of the knee is positive")
            rates.append(item)
        else:
            rates.extend(parse_ints(item))
    if not rates:
        raise ValueError(f"{text!r} names no rate")
    return rates


def main(args: Any) -> int:
    """Run from parsed arguments (see node/cli/bench.py); 1 if a transaction was lost or doubled."""
    rates = parse_rates(args.rate)
    if getattr(args, "workload", "transfer") == "both" and any(isinstance(r, str) for r in rates):
        print("--workload both takes fixed rates (0 = as fast as taken), not a knee multiple",
              file=sys.stderr)
        return 2
    options = Options(nodes=parse_ints(args.nodes), rates=rates,
                      duration_s=args.duration, accounts=args.accounts,
                      interval_ms=args.interval_ms, window=args.window, max_rate=args.max_rate,
                      drain_s=args.drain, directory=args.dir, keep=args.keep,
                      knee_duration_s=args.knee_duration,
                      workload=getattr(args, "workload", "transfer"),
                      in_process=getattr(args, "in_process", False))

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    def emit(point: Point) -> None:
        if args.json:
            print(json.dumps(point.to_json(), sort_keys=True), flush=True)
        else:
            print(format_point(point), flush=True)

    def terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        points = run(options, emit, progress)
    except KeyboardInterrupt:
        progress("interrupted; every process the bench started is stopped")
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 1 if any(p.lost or p.duplicated for p in points) else 0
