"""`stoledger bench` (`scripts/bench.py`): throughput and commit latency of a real cluster.

How one point of a run works
----------------------------
1. A real N-node cluster on loopback (`node.cluster.up` in a temporary folder), or the running
   cluster of `--dir`.
2. Setup, not timed: broker-a registers `--accounts` professional investors (no investment
   limit), issuer-1 creates a token with no restriction that a transfer could hit, ksd approves
   its cap, and issuer-1 issues units to every investor.
3. Every transfer of the point is built and SIGNED BEFORE timing (in a process pool): investor
   i sends 1 unit to investor i+1. The envelopes are cut into msgpack batches for `POST /v1/txs`.
4. A SEPARATE load process (multiprocessing, spawn) sends the batches round-robin over the nodes:
   at `--rate` tx/s on a fixed schedule (one batch every `--interval-ms`), or with `--rate 0` as
   fast as the cluster takes them, keeping at most `--window` admitted-but-uncommitted txs in
   flight. It records each batch's send time (CLOCK_MONOTONIC, shared by all processes) and the
   per-item answer (admitted, or the error code).
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
7. CPU: utime+stime from /proc/<pid>/stat of every node over the timed window.

`committed_tps` counts transactions in blocks whose event arrived inside the timed window.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import math
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack

from chaincode.identity import sign_consent
from consensus import codec
from consensus.crypto import TX_DOMAIN, Signer, verify
from node.rpc.auth import sign_request

SYMBOL = "BENCH1"
UNITS_PER_ACCOUNT = 10**9
SETUP_BATCH = 200  # setup transactions per POST
PRESIGN_CHUNK = 2_000  # transfers per pool task
MAX_BATCH_TXS = 2_000  # envelopes per POST /v1/txs in the load
MAX_INFLIGHT_PER_NODE = 4  # concurrent POSTs per node from the load process
EXPIRY_MS = 50 * 60 * 1000  # under the node's 1 hour limit, well over any run
BLOCK_PAGE = 100  # PROTOCOL.md: at most 100 blocks per GET /v1/blocks
MSGPACK = "application/msgpack"
ADMITTED = 0  # item status in the load's results; an error code string otherwise


@dataclass
class Options:
    nodes: Sequence[int] = (4,)
    rates: Sequence[int] = (0,)
    duration_s: float = 60.0
    accounts: int = 200
    interval_ms: int = 20
    window: int = 8_000
    max_rate: int = 2_500  # pre-signed transfers per second of a --rate 0 point
    drain_s: float = 30.0
    directory: str | None = None  # a running cluster; else a temporary one per node count
    keep: bool = False


@dataclass
class Point:
    nodes: int
    offered_tps: float
    committed_tps: float
    latency_ms: dict[str, float]
    cpu_s_per_tx: float
    verify_us: float
    lost: int
    duplicated: int
    block_txs_avg: float
    duration_s: float
    target_rate: int = 0
    submitted: int = 0
    admitted: int = 0
    committed: int = 0
    failed: int = 0
    reordered: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    blocks: int = 0
    cpu_s_per_tx_node: dict[str, float] = field(default_factory=dict)
    cpu_util_node: dict[str, float] = field(default_factory=dict)
    cpu_util_load: float = 0.0  # the load process, in cores
    machine_util: float = 0.0  # every core of the machine busy = 1.0

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


# -- pure helpers (unit-tested) -----------------------------------------------------------------

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


# -- HTTP ---------------------------------------------------------------------------------------

class Http:
    """One keep-alive connection to one node, msgpack both ways."""

    def __init__(self, url: str, chain_id: str, timeout_s: float = 60.0) -> None:
        parsed = urllib.parse.urlsplit(url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.chain_id = chain_id
        self.timeout_s = timeout_s
        self._conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None,
                signer: Signer | None = None) -> tuple[int, Any]:
        headers = {"Accept": MSGPACK}
        if body is not None:
            headers["Content-Type"] = MSGPACK
        if signer is not None:
            headers["Authorization"] = sign_request(signer, self.chain_id, method, path,
                                                    int(time.time() * 1000), body or b"")
        for attempt in range(2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port,
                                                        timeout=self.timeout_s)
            try:
                self._conn.request(method, path, body=body, headers=headers)
                response = self._conn.getresponse()
                raw = response.read()
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt:
                    raise
                continue
            value = msgpack.unpackb(raw, raw=False) if raw else None
            return response.status, value
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def envelope(body_bytes: bytes, sig: bytes) -> bytes:
    return msgpack.packb({"body": body_bytes, "sig": sig}, use_bin_type=True)


def pack_batch(envelopes: Sequence[bytes]) -> bytes:
    """A msgpack array of already encoded envelopes, without decoding them again."""
    count = len(envelopes)
    if count < 16:
        head = bytes([0x90 | count])
    elif count < 2**16:
        head = b"\xdc" + count.to_bytes(2, "big")
    else:
        head = b"\xdd" + count.to_bytes(4, "big")
    return head + b"".join(envelopes)


def build_transfer(seed: bytes, chain: str, to: str, nonce: int, expires: int
                   ) -> tuple[bytes, bytes]:
    signer = Signer(seed)
    body = codec.pack({"v": 1, "chain": chain, "sender": signer.public_key, "nonce": nonce,
                       "expires": expires, "contract": "token", "method": "transfer",
                       "args": {"symbol": SYMBOL, "to": to, "amount": 1}})
    return codec.sha256(body), envelope(body, signer.sign(TX_DOMAIN, body))


def _sign_chunk(job: tuple[str, list[bytes], list[str], int, int, int]
                ) -> list[tuple[bytes, bytes]]:
    chain, seeds, accounts, start, count, expires = job
    signers = [Signer(seed) for seed in seeds]
    out = []
    for index in range(start, start + count):
        i = index % len(signers)
        signer = signers[i]
        body = codec.pack({"v": 1, "chain": chain, "sender": signer.public_key,
                           "nonce": index, "expires": expires, "contract": "token",
                           "method": "transfer",
                           "args": {"symbol": SYMBOL, "to": accounts[(i + 1) % len(accounts)],
                                    "amount": 1}})
        out.append((codec.sha256(body), envelope(body, signer.sign(TX_DOMAIN, body))))
    return out


def presign(chain: str, seeds: list[bytes], count: int, nonce_base: int
            ) -> list[tuple[bytes, bytes]]:
    """`count` transfers, signed in a process pool: investor i pays 1 unit to investor i+1.
    Nonces are `nonce_base + index`, so every point of a run gets fresh tx ids."""
    accounts = [Signer(seed).account for seed in seeds]
    expires = int(time.time() * 1000) + EXPIRY_MS
    jobs = [(chain, seeds, accounts, nonce_base + start, min(PRESIGN_CHUNK, count - start),
             expires) for start in range(0, count, PRESIGN_CHUNK)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(max(1, os.cpu_count() or 1)) as pool:
        chunks = pool.map(_sign_chunk, jobs)
    return [item for chunk in chunks for item in chunk]


# -- setup ---------------------------------------------------------------------------------------

class Bench:
    """A cluster ready for load: keys, connections and the investor accounts."""

    def __init__(self, directory: Path, progress: Callable[[str], None]) -> None:
        from genesis.builder import load_keyfile
        from node import cluster as clustermod

        self.dir = directory
        self.progress = progress
        info = clustermod.read_cluster(directory)
        self.chain_id: str = info["chain_id"]
        self.nodes = [entry for entry in info["nodes"] if entry["role"] == "operator"]
        self.urls = [entry["rpc"] for entry in self.nodes]
        self.pids = {entry["name"]: int(entry["pid"]) for entry in self.nodes if entry["pid"]}
        self.keys = {org: load_keyfile(str(directory / "keys" / f"{org}.json"))
                     for org in ("ksd", "fss", "broker-a", "issuer-1")}
        self.http = Http(self.urls[0], self.chain_id)
        self.seeds: list[bytes] = []

    def status(self) -> dict[str, Any]:
        return self.http.request("GET", "/v1/status")[1]

    def submit_and_wait(self, signer: Signer, calls: list[tuple[str, str, dict[str, Any]]],
                        timeout_s: float = 120.0) -> None:
        """Submit signed calls in batches and wait until each has an ok receipt."""
        expires = int(time.time() * 1000) + EXPIRY_MS
        ids = []
        for start in range(0, len(calls), SETUP_BATCH):
            chunk = calls[start:start + SETUP_BATCH]
            envelopes = []
            for contract, method, args in chunk:
                body = codec.pack({"v": 1, "chain": self.chain_id, "sender": signer.public_key,
                                   "nonce": int.from_bytes(os.urandom(8), "big"),
                                   "expires": expires, "contract": contract, "method": method,
                                   "args": args})
                envelopes.append(envelope(body, signer.sign(TX_DOMAIN, body)))
                ids.append(codec.sha256(body).hex())
            status, answer = self.http.request("POST", "/v1/txs", pack_batch(envelopes))
            if status != 200:
                raise RuntimeError(f"setup batch refused: {status} {answer}")
            for item in answer:
                if "error" in item:
                    raise RuntimeError(f"setup transaction refused: {item['error']}")
        deadline = time.monotonic() + timeout_s
        for tx_id in ids:
            while True:
                status, receipt = self.http.request("GET", f"/v1/tx/{tx_id}")
                if status == 200 and receipt.get("status") == "committed":
                    if not receipt.get("ok"):
                        raise RuntimeError(f"setup transaction failed: {receipt.get('error')}")
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"setup transaction {tx_id} not committed in time")
                time.sleep(0.05)

    def prepare(self, accounts: int) -> None:
        """Register investors, create, approve and issue the token (once per cluster)."""
        self.progress(f"setup: registering {accounts} investors, creating {SYMBOL}")
        signers = [Signer.generate() for _ in range(accounts)]
        self.seeds = [signer.seed for signer in signers]
        kyc_expires = int(time.time() * 1000) + 365 * 86_400_000
        attrs = {"investor_type": "professional", "legal_form": "individual", "country": "KR",
                 "resident": True, "kyc_expires": kyc_expires, "aml_risk": "low"}
        broker = self.keys["broker-a"]
        self.submit_and_wait(broker, [
            ("identity", "register", {
                "account": s.account, "role": "investor", "attrs": attrs,
                "consent": sign_consent(s, self.chain_id, broker.account, "investor")})
            for s in signers])
        status, _ = self.http.request("POST", "/v1/query", codec.pack(
            {"contract": "token", "method": "info", "args": {"symbol": SYMBOL}}),
            self.keys["fss"])
        if status != 200:  # a fresh cluster: create and approve the token
            supply = accounts * UNITS_PER_ACCOUNT * 16
            self.submit_and_wait(self.keys["issuer-1"], [("token", "create", {
                "symbol": SYMBOL, "name": "benchmark units", "asset_type": "other",
                "unit_price": 1, "max_supply": supply,
                "rules": {"lockup_ms": 0, "max_holders": 0,
                          "allowed_investor_types": ["general", "qualified", "professional",
                                                     "corporate"],
                          "allowed_countries": [], "max_holding_bps": 0,
                          "issuer_annual_limit": 0}})])
            self.submit_and_wait(self.keys["ksd"], [
                ("token", "approve", {"symbol": SYMBOL, "cap": supply})])
        self.submit_and_wait(self.keys["issuer-1"], [
            ("token", "issue", {"symbol": SYMBOL, "to": s.account, "amount": UNITS_PER_ACCOUNT})
            for s in signers])

    def fetch_blocks(self, start: int, stop: int
                     ) -> list[tuple[int, list[bytes], list[tuple[bytes, bool]]]]:
        blocks = []
        for first in range(start, stop + 1, BLOCK_PAGE):
            last = min(stop, first + BLOCK_PAGE - 1)
            status, answer = self.http.request("GET", f"/v1/blocks?from={first}&to={last}",
                                               signer=self.keys["fss"])
            if status != 200:
                raise RuntimeError(f"reading blocks {first}..{last}: {status} {answer}")
            for block in answer["blocks"]:
                carried = [bytes.fromhex(tx["tx_id"]) for tx in block["transactions"]
                           if "tx_id" in tx]
                receipts = [(bytes.fromhex(r["tx_id"]), bool(r["ok"]))
                            for r in block["receipts"]]
                blocks.append((block["header"]["height"], carried, receipts))
        return blocks

    def cpu(self) -> dict[str, float]:
        return {name: cpu_seconds(pid) for name, pid in self.pids.items()}


# -- block events ---------------------------------------------------------------------------------

class BlockWatcher(threading.Thread):
    """Follows `GET /v1/events` of one node; records (arrival, txs) per block height and keeps
    the count of committed txs in a shared counter for the load process's window."""

    def __init__(self, url: str, chain_id: str, counter: Any) -> None:
        super().__init__(name="bench-blocks", daemon=True)
        self.url = url
        self.chain_id = chain_id
        self.counter = counter
        self.signer = Signer.generate()  # unregistered: sees block events only
        self.arrivals: dict[int, tuple[float, int]] = {}
        self.connected = threading.Event()
        self.error: BaseException | None = None
        self._conn: http.client.HTTPConnection | None = None
        self._stop = False

    def run(self) -> None:
        try:
            self._follow()
        except BaseException as error:  # reported by the caller
            if not self._stop:
                self.error = error
        finally:
            self.connected.set()

    def _follow(self) -> None:
        parsed = urllib.parse.urlsplit(self.url)
        self._conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=3600)
        auth = sign_request(self.signer, self.chain_id, "GET", "/v1/events",
                            int(time.time() * 1000))
        self._conn.request("GET", "/v1/events", headers={"Authorization": auth})
        response = self._conn.getresponse()
        if response.status != 200:
            raise RuntimeError(f"/v1/events answered {response.status}")
        event = ""
        while not self._stop:
            line = response.readline()
            if not line:
                return
            if line.startswith(b": connected"):
                self.connected.set()
            elif line.startswith(b"event: "):
                event = line[7:].strip().decode()
            elif line.startswith(b"data: ") and event == "block":
                now = time.monotonic()
                data = json.loads(line[6:])
                self.arrivals[int(data["height"])] = (now, int(data["txs"]))
                with self.counter.get_lock():
                    self.counter.value += int(data["txs"])

    def stop(self) -> None:
        self._stop = True
        if self._conn is not None:
            with contextlib.suppress(OSError):
                if self._conn.sock is not None:
                    self._conn.sock.shutdown(2)
            self._conn.close()


# -- the load process -------------------------------------------------------------------------

def load_main(urls: list[str], batches_path: str, result_path: str, rate: int,
              interval_ms: int, duration_s: float, window: int, committed: Any,
              ready: Any, go: Any) -> None:
    """Entry of the load process: send the pre-built batches, write what happened."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us
    with open(batches_path, "rb") as handle:
        batches: list[list[Any]] = msgpack.unpackb(handle.read(), raw=False)
    results = asyncio.run(_drive(urls, batches, rate, interval_ms, duration_s, window,
                                 committed, ready, go))
    with open(result_path + ".tmp", "wb") as handle:
        handle.write(msgpack.packb(results, use_bin_type=True))
    os.replace(result_path + ".tmp", result_path)


async def _drive(urls: list[str], batches: list[list[Any]], rate: int, interval_ms: int,
                 duration_s: float, window: int, committed: Any, ready: Any, go: Any
                 ) -> dict[str, Any]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=0, limit_per_host=MAX_INFLIGHT_PER_NODE)
    timeout = aiohttp.ClientTimeout(total=120)
    records: list[list[Any]] = []
    base = committed.value
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        slots = [asyncio.Semaphore(MAX_INFLIGHT_PER_NODE) for _ in urls]
        headers = {"Content-Type": MSGPACK, "Accept": MSGPACK}

        async def send(index: int, first: int, count: int, body: bytes) -> None:
            node = index % len(urls)
            async with slots[node]:
                sent = time.monotonic()
                try:
                    async with session.post(urls[node] + "/v1/txs", data=body,
                                            headers=headers) as response:
                        raw = await response.read()
                        status = response.status
                except (aiohttp.ClientError, OSError, TimeoutError) as error:
                    records.append([sent, first, count, f"http:{type(error).__name__}"])
                    return
            if status != 200:
                records.append([sent, first, count, f"http:{status}"])
                return
            items = msgpack.unpackb(raw, raw=False)
            codes = [item["error"]["code"] if "error" in item else ADMITTED for item in items]
            records.append([sent, first, count, codes])

        ready.set()
        go.wait()
        started = time.monotonic()
        deadline = started + duration_s
        tasks: set[asyncio.Task[None]] = set()
        sent_total = 0
        for index, (first, count, body) in enumerate(batches):
            if rate > 0:
                due = started + first / rate
                if due >= deadline:
                    break
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            else:  # as fast as the cluster takes them, at most `window` uncommitted
                while (sent_total - (committed.value - base) > window
                       or len(tasks) >= 2 * len(urls)) and time.monotonic() < deadline:
                    await asyncio.sleep(0.002)
                if time.monotonic() >= deadline:
                    break
            sent_total += count
            task = asyncio.create_task(send(index, first, count, body))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        sending_ended = time.monotonic()
        if tasks:
            await asyncio.gather(*tasks)
    return {"started": started, "sending_ended": sending_ended, "records": records}


# -- one point ----------------------------------------------------------------------------------

def cut_batches(signed: list[tuple[bytes, bytes]], size: int) -> list[list[Any]]:
    return [[start, len(signed[start:start + size]),
             pack_batch([env for _, env in signed[start:start + size]])]
            for start in range(0, len(signed), size)]


def run_point(bench: Bench, rate: int, options: Options, verify_us: float,
              nonce_base: int, progress: Callable[[str], None]) -> Point:
    duration = options.duration_s
    if rate > 0:
        count = math.ceil(rate * duration)
        batch = max(1, min(MAX_BATCH_TXS, round(rate * options.interval_ms / 1000)))
    else:
        count = math.ceil(options.max_rate * duration) + options.window
        batch = 500
    progress(f"pre-signing {count} transfers")
    signed = presign(bench.chain_id, bench.seeds, count, nonce_base)
    batches = cut_batches(signed, batch)
    work = Path(tempfile.mkdtemp(prefix="stoledger-bench-"))
    context = multiprocessing.get_context("spawn")
    committed = context.Value("q", 0)
    ready, go = context.Event(), context.Event()
    watcher = BlockWatcher(bench.urls[0], bench.chain_id, committed)
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
        cpu_before = bench.cpu()
        load_before = cpu_seconds(loader.pid)
        busy_before = machine_busy()
        started = time.monotonic()
        go.set()
        _show_progress(bench, watcher, committed, started, duration, rate, progress)
        cpu_after = bench.cpu()
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
    return Point(
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
                           / max(busy_after[1] - busy_before[1], 1), 2))


def _admissions(records: list[list[Any]], signed: list[tuple[bytes, bytes]]
                ) -> tuple[dict[bytes, None], dict[bytes, float], dict[str, int], int]:
    admitted: dict[bytes, None] = {}
    sent_at: dict[bytes, float] = {}
    rejected: dict[str, int] = {}
    submitted = 0
    for sent, first, count, codes in records:
        submitted += count
        if isinstance(codes, str):
            rejected[codes] = rejected.get(codes, 0) + count
            continue
        for offset, code in enumerate(codes):
            tx_id = signed[first + offset][0]
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
    from node import cluster as clustermod

    points = []
    verify_us = measure_verify_us()
    nonce_base = int.from_bytes(os.urandom(4), "big") << 24
    node_counts = [None] if options.directory else list(options.nodes)
    for nodes in node_counts:
        temporary = None
        if options.directory:
            directory = Path(options.directory)
        else:
            temporary = Path(tempfile.mkdtemp(prefix=f"stoledger-bench-{nodes}n-"))
            directory = temporary / "net"
        try:
            if temporary is not None:
                progress(f"starting a {nodes}-node cluster in {directory}")
                clustermod.up(directory, n=nodes, progress=lambda line: None)
            bench = Bench(directory, progress)
            bench.prepare(options.accounts)
            for rate in options.rates:
                progress(f"point: {len(bench.urls)} nodes, rate "
                         f"{rate or 'max'}, {options.duration_s:g} s")
                point = run_point(bench, rate, options, verify_us, nonce_base, progress)
                nonce_base += 10**7
                points.append(point)
                emit(point)
            bench.http.close()
        finally:
            if temporary is not None and (directory / "cluster.json").exists():
                clustermod.down(directory, progress=lambda line: None)  # by pid, even when
                # `up` failed half-way: it records each pid as it starts the node
                if options.keep:
                    progress(f"kept {directory}")
                else:
                    shutil.rmtree(temporary, ignore_errors=True)
    return points


def format_point(point: Point) -> str:
    lat = point.latency_ms
    return (f"{point.nodes} nodes  offered {point.offered_tps:,.0f} tx/s  committed "
            f"{point.committed_tps:,.0f} tx/s  latency p50 {lat['p50']:.0f} ms  p95 "
            f"{lat['p95']:.0f} ms  p99 {lat['p99']:.0f} ms  cpu/tx/node "
            f"{point.cpu_s_per_tx * 1e6:,.0f} us  block {point.block_txs_avg:.0f} txs  "
            f"verify {point.verify_us} us  lost {point.lost}  duplicated {point.duplicated}  "
            f"failed {point.failed}  rejected {sum(point.rejected.values())}")


def parse_ints(text: str) -> list[int]:
    values = [int(item) for item in text.split(",") if item.strip()]
    if not values or any(value < 0 for value in values):
        raise ValueError(f"{text!r} is not a list of non-negative integers")
    return values


def main(args: Any) -> int:
    """Run from parsed arguments (see cli_bench); 1 if a transaction was lost or doubled."""
    options = Options(nodes=parse_ints(args.nodes), rates=parse_ints(args.rate),
                      duration_s=args.duration, accounts=args.accounts,
                      interval_ms=args.interval_ms, window=args.window, max_rate=args.max_rate,
                      drain_s=args.drain, directory=args.dir, keep=args.keep)

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
