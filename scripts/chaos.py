#!/usr/bin/env python3
"""Chaos under load: a real cluster, kills, pauses and network faults, then check nothing was lost.

    python scripts/chaos.py --duration 600 --interval 10
    python scripts/chaos.py --partitions --nodes 7 --duration 600 --seed 1   (root)

How it works. `node.tools.cluster` starts four node processes (n = 4, f = 1) in a fresh folder.
Load threads submit `cash.mint` transactions (the bank's key) with `?wait=commit` to random
live nodes; every transaction answered with a committed receipt is *acknowledged* and
remembered. `--interval` seconds after the previous recovery a fault is injected with
SIGKILL: one random node, or the current primary, or (briefly, a second) two nodes at once,
never more than f = 1 for longer than that second; then `cluster up` restarts whatever is
dead, and the time until every node answers /readyz again and has caught up is the recovery
time. At the end the load stops and the script checks, on every node:
  - every acknowledged transaction is in that node's blocks with its receipt, at the height
    and in the block its acknowledgement named (and GET /v1/tx answers for a sample);
  - all nodes reach the same height with the same last block hash and app hash (the app hash
    chains every block's writes, so equal app hashes mean equal state histories), and the
    blocks agree hash for hash at every height;
  - `stoledger node check` (after `cluster down`) replays each store and finds nothing.
It prints `N passed, M failed` and its figures (kills, view changes, transactions committed,
max recovery time), and exits 1 if anything failed. Every process it started is stopped by
pid, whatever happens.

`--partitions` (root: `cluster up --netns`, node.tools.netns) runs the faults between real
processes over real sockets instead, at n = `--nodes`: each node in its own network namespace,
every peer link through the relay (node.tools.relay). A seeded schedule (node.tools.faults)
deals one episode at a time: kill, pause (SIGSTOP), isolate (a pulled cable), split (n - f | f,
or halves), a one-way link at the relay, a one-way link at the kernel (drop), a deaf node, a
flapping split, a slow node; each is held, healed, and logged with its times. A monitor polls
every node's status; per episode it measures `noticed` (from the fault until both ends of
every cut link dropped it), and from the heal `relinked` (every link back), `resume` (the
cluster commits above the highest height at the heal) and `rejoin` (every node has); the next
episode starts a gap after the rejoin. Load goes to the nodes the faults have not made
unreachable (a node cut off at the relay still answers, and its clients wait). Besides the
checks above, after every heal all links must be back within RELINK_BOUND_S, the cluster
must commit within RESUME_BOUND_S and every node within REJOIN_BOUND_S (the recovery bounds
the README states), and the namespaces, cables and relay are removed at the end, whatever
happens.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from genesis.builder import load_keyfile
from node.admission import tx as txmod
from node.bench.measure import measure_verify_us
from node.rpc.auth import sign_request
from node.tools import cluster as clustermod
from node.tools import faults, nemesis

LOAD_THREADS = 4  # --partitions: one per node at least (a thread may wait on a cut-off node)
WAIT_MS = 15_000  # a submission's wait for its commit receipt
HTTP_TIMEOUT_S = 20.0
BOTH_DOWN_S = 1.0  # how long two nodes (more than f) may be down together
SETTLE_TIMEOUT_S = 120.0  # after the load stops, for every node to reach the same height
RECOVERY_TIMEOUT_S = 90.0
# The recovery bounds of a heal, --partitions (README, "Reliability"). Links come back within
# ~10 s (a dial attempt's 5 s timeout plus the 5 s ceiling of its backoff), a view change takes
# a few timeouts of 2 s (doubling on each failure), and a node that was cut off fetches what it
# missed; a shared machine doubles all of it. Stated generously, as the one check of speed.
RELINK_BOUND_S = 60.0  # a killed node's restart is in it (20-25 s on a busy machine)
RESUME_BOUND_S = 60.0
REJOIN_BOUND_S = 90.0
# A cut held this long must have been noticed by both ends of each cut link: the heartbeat
# does it in 7.5-8 s (README), so a cut unnoticed after 15 s was not a cut
NOTICE_BOUND_S = 15.0
POLL_S = 0.2  # the monitor's polling period per node (the resolution of recovery times)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def http(url: str, data: bytes | None = None, headers: dict[str, str] | None = None,
         timeout_s: float = 5.0) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=data, headers=headers or {},
                                     method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        try:
            return error.code, json.loads(error.read() or b"null")
        except ValueError:
            return error.code, None
    except (OSError, ValueError):
        return 0, None


class Chaos:
    def __init__(self, directory: Path, duration_s: float, interval_s: float, seed: int,
                 partitions: bool = False, n: int = 4,
                 kinds: tuple[str, ...] = faults.KINDS) -> None:
        self.dir = directory
        self.duration_s = duration_s
        self.interval_s = interval_s
        self.seed = seed
        self.partitions = partitions
        self.n = n
        self.kinds = kinds
        self.random = random.Random(seed)
        self.episodes: list[dict[str, Any]] = []
        self.p2p: dict[str, int] = {}
        self.peak_rss_mb: dict[str, int] = {}
        self.nemesis: Any = None
        self.monitor: Any = None
        self.acknowledged: dict[str, tuple[int, str]] = {}  # tx id -> (height, block hash)
        self.lock = threading.Lock()
        self.stop_load = threading.Event()
        self.submitted = 0
        self.load_errors = 0
        self.kills = 0
        self.primary_kills = 0
        self.double_kills = 0
        self.recoveries: list[float] = []
        self.passed = 0
        self.failed = 0
        self.failures: list[str] = []
        self.verify_us: float | None = None  # one Ed25519 verification here (node.bench)
        self.lost: int | None = None  # most acknowledged txs missing from one node; None: unchecked
        self.killed_now: set[str] = set()  # by the kill fault in progress (loopback mode)
        self.acknowledged_at_heal: int | None = None  # --partitions: when the last heal came

    # -- the cluster ------------------------------------------------------------------------

    def start(self) -> None:
        clustermod.up(self.dir, n=self.n, netns=self.partitions,
                      progress=lambda line: log(f"cluster: {line}"))
        self.info = clustermod.read_cluster(self.dir)
        self.chain_id = self.info["chain_id"]
        self.bank = load_keyfile(str(self.dir / "keys" / "bank.json"))
        self.regulator = load_keyfile(str(self.dir / "keys" / "fss.json"))
        self.names = [entry["name"] for entry in self.info["nodes"]]
        self.urls = {entry["name"]: entry["rpc"] for entry in self.info["nodes"]}
        if self.partitions:
            self.nemesis = nemesis.Nemesis(self.dir, log)
            self.monitor = nemesis.Monitor(self.urls, POLL_S)
            self.monitor.start()

    def pid(self, name: str) -> int | None:
        cluster = clustermod.read_cluster(self.dir)
        entry = next(e for e in cluster["nodes"] if e["name"] == name)
        pid = entry.get("pid")
        return pid if clustermod.is_alive(pid, self.dir, name) else None

    def kill(self, name: str) -> None:
        pid = self.pid(name)
        if pid is None:
            self.check(False, f"{name} was already dead when the fault came to kill it; its log "
                       f"ends: {self.log_tail(name)}")
            return
        os.kill(pid, signal.SIGKILL)
        self.killed_now.add(name)
        deadline = time.monotonic() + 10
        while clustermod.is_alive(pid, self.dir, name) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.kills += 1
        log(f"killed {name} (pid {pid})")

    def restart(self) -> float:
        """Start the dead nodes; seconds until every node is ready and caught up."""
        started = time.monotonic()
        clustermod.up(self.dir, progress=lambda line: None, timeout_s=RECOVERY_TIMEOUT_S)
        deadline = started + RECOVERY_TIMEOUT_S
        while time.monotonic() < deadline:
            heights = [self.status(name).get("height") for name in self.names]
            if None not in heights and max(heights) - min(heights) <= 2:
                break
            time.sleep(0.1)
        return time.monotonic() - started

    def status(self, name: str) -> dict[str, Any]:
        code, body = http(self.urls[name] + "/v1/status", timeout_s=2.0)
        return body if code == 200 and isinstance(body, dict) else {}

    def primary(self) -> str | None:
        for name in self.random.sample(self.names, len(self.names)):
            primary = self.status(name).get("primary")
            if primary:
                return str(primary)
        return None

    # -- load -------------------------------------------------------------------------------

    def load(self, worker: int) -> None:
        rng = random.Random(worker)
        nonce = worker << 48
        while not self.stop_load.is_set():
            nonce += 1
            tx = txmod.build(self.bank, self.chain_id, "cash", "mint",
                             {"to": self.bank.account, "amount": 1}, nonce,
                             int(time.time() * 1000) + 120_000)
            body = json.dumps({"body": tx.body_bytes.hex(), "sig": tx.sig.hex()}).encode()
            unreachable = self.nemesis.unreachable if self.nemesis is not None else set()
            url = self.urls[rng.choice([n for n in self.names if n not in unreachable]
                                       or self.names)]
            code, receipt = http(f"{url}/v1/tx?wait=commit&timeout_ms={WAIT_MS}", body,
                                 {"Content-Type": "application/json"}, HTTP_TIMEOUT_S)
            with self.lock:
                self.submitted += 1
                if code == 200 and isinstance(receipt, dict) and \
                        receipt.get("status") == "committed":
                    self.acknowledged[tx.tx_id_hex] = (receipt["height"], receipt["block_hash"])
                elif code not in (202,):
                    self.load_errors += 1
            if code == 0:
                time.sleep(0.2)  # the node is down: try another

    # -- faults -----------------------------------------------------------------------------

    def inject(self) -> None:
        choice = self.random.random()
        if choice < 0.2:
            first, second = self.random.sample(self.names, 2)
            log(f"two at once: {first} and {second} for {BOTH_DOWN_S:.0f} s")
            self.kill(first)
            self.kill(second)
            self.double_kills += 1
            time.sleep(BOTH_DOWN_S)
        elif choice < 0.5:
            victim = self.primary() or self.random.choice(self.names)
            log(f"the primary: {victim}")
            self.kill(victim)
            self.primary_kills += 1
        else:
            self.kill(self.random.choice(self.names))
        self.check_alive(self.killed_now, "before the restart")
        self.killed_now = set()
        recovery = self.restart()
        self.recoveries.append(recovery)
        log(f"recovered in {recovery:.1f} s; {len(self.acknowledged)} acknowledged so far")

    def run(self) -> None:
        threads = max(LOAD_THREADS, self.n) if self.partitions else LOAD_THREADS
        workers = [threading.Thread(target=self.load, args=(i,), daemon=True)
                   for i in range(threads)]
        for worker in workers:
            worker.start()
        end = time.monotonic() + self.duration_s
        if self.partitions:
            self.run_episodes(end)
        else:
            self.run_kills(end)
        time.sleep(max(0.0, end - time.monotonic()))
        self.stop_load.set()
        for worker in workers:
            worker.join(HTTP_TIMEOUT_S + 5)

    def run_kills(self, end: float) -> None:
        while True:
            next_fault = time.monotonic() + self.interval_s
            if next_fault > end:
                return
            time.sleep(max(0.0, next_fault - time.monotonic()))
            self.inject()

    # -- network faults (--partitions) -------------------------------------------------------

    def run_episodes(self, end: float) -> None:
        """Episodes from the seeded schedule, one at a time, until the next would not end in
        time."""
        schedule = faults.Schedule(self.seed, tuple(self.names), self.kinds, f=(self.n - 1) // 3)
        self.started = time.monotonic()
        while True:
            episode = schedule.next()
            if time.monotonic() + episode.gap_s + episode.hold_s > end:
                return
            time.sleep(episode.gap_s)
            self.run_episode(episode)

    def run_episode(self, episode: faults.Episode) -> None:
        """One fault: inject, keep, heal, then measure from the monitor's readings when the
        cut was noticed (each end of each cut link dropped it), and from the heal when every
        link was back, when the cluster committed again and when every node had."""
        began = time.monotonic()
        what, cut = self.nemesis.inject(episode, self.primary)
        log(f"fault {episode.number} at {began - self.started:.1f} s: {what}")
        self.nemesis.keep(episode)
        tip = self.monitor.tip()
        problems = self.nemesis.evidence(episode, time.monotonic() - began)
        self.check(not problems, f"fault {episode.number} ({what}) took effect: "
                   f"{'; '.join(problems) or 'seen where it lives'}")
        self.check_alive(self.nemesis.killed(), f"before the heal of fault {episode.number}")
        healed = time.monotonic()
        undone = self.nemesis.heal_all()
        log(f"healed {episode.number} at {healed - self.started:.1f} s ({'; '.join(undone)}), "
            f"tip {tip}")
        wait_s = REJOIN_BOUND_S + 30
        noticed = self.monitor.first(nemesis.links_down(cut), began, healed - began) \
            if cut else None
        relinked = self.monitor.first(nemesis.fully_linked, healed, wait_s)
        resumed = self.monitor.first(nemesis.committed_above(tip), healed, wait_s)
        rejoined = self.monitor.first(nemesis.all_above(tip), healed, wait_s)

        def since(moment: float | None, start: float) -> float | None:
            return round(moment - start, 1) if moment is not None else None

        record = {"n": episode.number, "at_s": round(began - self.started, 1), "fault": what,
                  "held_s": round(healed - began, 1), "noticed_s": since(noticed, began),
                  "relinked_s": since(relinked, healed), "resume_s": since(resumed, healed),
                  "rejoin_s": since(rejoined, healed), "outside_view": self.outside_view()}
        self.acknowledged_at_heal = len(self.acknowledged)
        self.episodes.append(record)
        if cut and record["held_s"] >= NOTICE_BOUND_S:
            self.check(record["noticed_s"] is not None,
                       f"fault {episode.number} ({what}), held {record['held_s']} s: both ends "
                       f"of every cut link dropped it (heartbeat: 7.5-8 s)")
        log(f"recovered {episode.number}: noticed {record['noticed_s']} s after the fault; "
            f"after the heal relinked {record['relinked_s']} s, resume {record['resume_s']} s, "
            f"rejoin {record['rejoin_s']} s; {len(self.acknowledged)} acknowledged so far")
        self.check(record["relinked_s"] is not None and record["relinked_s"] <= RELINK_BOUND_S,
                   f"fault {episode.number} ({what}): every link is back within "
                   f"{RELINK_BOUND_S:.0f} s of the heal (took {record['relinked_s']})")
        self.check(record["resume_s"] is not None and record["resume_s"] <= RESUME_BOUND_S,
                   f"fault {episode.number} ({what}): the cluster commits within "
                   f"{RESUME_BOUND_S:.0f} s of the heal (took {record['resume_s']})")
        self.check(record["rejoin_s"] is not None and record["rejoin_s"] <= REJOIN_BOUND_S,
                   f"fault {episode.number} ({what}): every node commits past the heal's tip "
                   f"within {REJOIN_BOUND_S:.0f} s (took {record['rejoin_s']}; heights "
                   f"{self.monitor.heights()})")

    def peak_rss(self) -> dict[str, int]:
        """Each node's peak resident memory in MB (since its last start; VmHWM)."""
        peaks = {}
        for name in self.names:
            pid = self.pid(name)
            if pid is None:
                continue
            try:
                with open(f"/proc/{pid}/status") as status:
                    line = next(line for line in status if line.startswith("VmHWM:"))
                peaks[name] = int(line.split()[1]) // 1024
            except (OSError, StopIteration):
                continue
        return peaks

    def p2p_counters(self) -> dict[str, int]:
        """The p2p counters of every node, summed (from /metrics)."""
        totals: dict[str, int] = {}
        for name in self.names:
            try:
                with urllib.request.urlopen(self.urls[name] + "/metrics", timeout=10) as answer:
                    text = answer.read().decode()
            except OSError:
                continue
            for line in text.splitlines():
                if line.startswith("stoledger_p2p_total{"):
                    stat = line.split('stat="')[1].split('"')[0]
                    totals[stat] = totals.get(stat, 0) + int(float(line.split()[-1]))
        return totals

    # -- checks -----------------------------------------------------------------------------

    def outside_view(self) -> list[str]:
        """The nodes not in the view most nodes are in. A replica that changed view alone (it
        was cut off, or paused past its timeout) follows by fetching blocks but does not vote
        until the others change view too: the cluster then runs on 2f + 1 voters. Reported,
        not failed: PBFT has no safe way back to a lower view once a VIEW-CHANGE is sent."""
        views = {name: self.status(name).get("view") for name in self.names}
        counts: dict[Any, int] = {}
        for view in views.values():
            counts[view] = counts.get(view, 0) + 1
        common = max(sorted(counts, key=str), key=lambda view: counts[view])
        return sorted(name for name, view in views.items() if view != common)

    def check_alive(self, killed: set[str], when: str) -> None:
        """Every node is running but those the harness killed itself: a node that died on its
        own (an exception escaping a task ends a node) fails the run, with its log's end,
        before a restart hides it."""
        for name in self.names:
            if name not in killed and self.pid(name) is None:
                tail = self.log_tail(name)
                self.check(False, f"{name} died without being killed ({when}); its log ends: "
                           f"{tail}")

    def log_tail(self, name: str, lines: int = 5) -> str:
        try:
            text = (self.dir / "nodes" / name / "node.log").read_text(errors="replace")
        except OSError as error:
            return f"(no log: {error})"
        return " | ".join(text.strip().splitlines()[-lines:])

    def check(self, ok: bool, what: str) -> None:
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            self.failures.append(what)
            log(f"FAILED: {what}")

    def settle(self) -> dict[str, dict[str, Any]]:
        self.check_alive(set(), "after the last fault")  # the last fault's victims are back
        self.restart()
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        statuses: dict[str, dict[str, Any]] = {}
        while time.monotonic() < deadline:
            statuses = {name: self.status(name) for name in self.names}
            tips = {(s.get("height"), s.get("app_hash")) for s in statuses.values()}
            if len(tips) == 1 and (None, None) not in tips:
                time.sleep(1.0)  # no block in flight: the same tip twice in a row
                again = {name: self.status(name) for name in self.names}
                if {(s.get("height"), s.get("app_hash")) for s in again.values()} == tips:
                    return again
            time.sleep(0.2)
        return statuses

    def signed_get(self, name: str, path: str) -> tuple[int, Any]:
        auth = sign_request(self.regulator, self.chain_id, "GET", path, int(time.time() * 1000))
        return http(self.urls[name] + path, headers={"Authorization": auth}, timeout_s=30.0)

    def verify(self) -> None:
        self.check(len(self.acknowledged) > 0, "the load committed transactions")
        if self.acknowledged_at_heal is not None:
            self.check(len(self.acknowledged) > self.acknowledged_at_heal,
                       "the load committed transactions after the last heal "
                       f"({self.acknowledged_at_heal} before it, {len(self.acknowledged)} "
                       f"in all)")
        statuses = self.settle()
        heights = {name: s.get("height") for name, s in statuses.items()}
        self.check(len(set(heights.values())) == 1, f"every node at the same height: {heights}")
        for field in ("last_block_hash", "app_hash"):
            values = {s.get(field) for s in statuses.values()}
            self.check(len(values) == 1 and None not in values,
                       f"every node has the same {field}")
        top = max(h for h in heights.values() if h is not None) if heights else 0
        hashes: dict[str, list[str]] = {}
        receipts: dict[str, dict[str, tuple[int, str]]] = {}  # by node: tx id -> where
        for name in self.names:
            chain: list[str] = []
            found: dict[str, tuple[int, str]] = {}
            for start in range(1, top + 1, 100):
                code, value = self.signed_get(name, f"/v1/blocks?from={start}&to="
                                              f"{min(top, start + 99)}")
                if code != 200:
                    break
                for block in value["blocks"]:
                    chain.append(block["block_hash"])
                    for receipt in block["receipts"]:
                        found[receipt["tx_id"]] = (receipt["height"], receipt["block_hash"])
            hashes[name], receipts[name] = chain, found
        self.check(len({tuple(chain) for chain in hashes.values()}) == 1
                   and all(len(chain) == top for chain in hashes.values()),
                   f"every node has the same {top} block hashes")
        for name in self.names:
            missing = [tx_id for tx_id, where in self.acknowledged.items()
                       if receipts[name].get(tx_id) != where]
            self.lost = max(self.lost or 0, len(missing))
            self.check(not missing, f"{name} has all {len(self.acknowledged)} acknowledged "
                       f"transactions in its blocks ({len(missing)} missing, e.g. "
                       f"{missing[:3]})")
            sample = self.random.sample(sorted(self.acknowledged),
                                        min(50, len(self.acknowledged)))
            answered = [http(f"{self.urls[name]}/v1/tx/{tx_id}", timeout_s=10.0)
                        for tx_id in sample]
            self.check(all(code == 200 and receipt.get("status") == "committed"
                           for code, receipt in answered),
                       f"{name} answers GET /v1/tx for a sample of 50 acknowledged")
        self.views = {name: s.get("view") for name, s in statuses.items()}
        self.final_outside_view = self.outside_view()
        if self.partitions:
            self.p2p = self.p2p_counters()
            self.p2p.update({f"relay_{key}": value
                             for key, value in self.nemesis.relay_stats().items()})
            self.peak_rss_mb = self.peak_rss()
        clustermod.down(self.dir, progress=lambda line: None)
        for name in self.names:
            config = clustermod.config_path(self.dir, name)
            result = subprocess.run([sys.executable, "-m", "node.cli", "node", "check",
                                     "--config", str(config)], capture_output=True, text=True,
                                    timeout=600)
            self.check(result.returncode == 0,
                       f"`node check` of {name}: {result.stdout.strip()[-300:]}")

    def report(self) -> None:
        views = [v for v in getattr(self, "views", {}).values() if isinstance(v, int)]
        figures = {
            "duration_s": self.duration_s, "interval_s": self.interval_s, "kills": self.kills,
            "primary_kills": self.primary_kills, "double_kills": self.double_kills,
            "view_changes": max(views) if views else None,
            "txs_submitted": self.submitted, "txs_committed": len(self.acknowledged),
            "txs_lost": self.lost,
            "load_errors": self.load_errors,
            "max_recovery_s": round(max(self.recoveries), 1) if self.recoveries else None,
            "verify_us": self.verify_us,
            "mean_recovery_s": round(sum(self.recoveries) / len(self.recoveries), 1)
            if self.recoveries else None,
        }
        if self.partitions:  # kills are episodes there, counted in "faults"
            for key in ("interval_s", "kills", "primary_kills", "double_kills",
                        "max_recovery_s", "mean_recovery_s"):
                del figures[key]
            figures.update(episode_figures(self.episodes), p2p=self.p2p, episodes=self.episodes,
                           nodes=self.n, seed=self.seed,
                           peak_rss_mb=self.peak_rss_mb, views=getattr(self, "views", None),
                           outside_view_at_end=getattr(self, "final_outside_view", None),
                           episodes_leaving_a_node_outside_the_view=sum(
                               1 for record in self.episodes if record["outside_view"]))
        print(json.dumps(figures))
        for failure in self.failures:
            print(f"FAILED: {failure}")
        print(f"{self.passed} passed, {self.failed} failed")


def episode_figures(episodes: list[dict[str, Any]]) -> dict[str, Any]:
    """Faults by kind and the distribution of recovery times (max, median, 90th percentile)."""
    kinds: dict[str, int] = {}
    for record in episodes:
        kind = record["fault"].split()[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    figures: dict[str, Any] = {"faults": kinds}
    for key in ("noticed_s", "relinked_s", "resume_s", "rejoin_s"):
        values = sorted(r[key] for r in episodes if r[key] is not None)
        figures[key] = {"max": values[-1], "p50": values[len(values) // 2],
                        "p90": values[min(len(values) - 1, len(values) * 9 // 10)]} \
            if values else None
    return figures


def _stop_on_signal(number: int, frame: Any) -> None:
    """SIGTERM (a CI timeout, `kill`) or SIGHUP ends the run through its `finally`: the nodes
    and the relay run in sessions of their own and would outlive the harness, faults in force."""
    raise SystemExit(f"stopped by {signal.Signals(number).name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0,
                        help="seconds of load and faults (default 60)")
    parser.add_argument("--interval", type=float, default=10.0,
                        help="seconds between faults (default 10)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the fault choices")
    parser.add_argument("--dir", type=Path, default=None,
                        help="cluster folder (default: a fresh temporary one, removed after)")
    parser.add_argument("--partitions", action="store_true",
                        help="(root) nodes in network namespaces; partitions, one-way links, "
                             "cut cables and slow links besides kills and pauses")
    parser.add_argument("--nodes", type=int, default=4, help="operators (default 4)")
    parser.add_argument("--kinds", default=",".join(faults.KINDS),
                        help="--partitions: the fault kinds to deal (default: all of "
                             "%(default)s)")
    args = parser.parse_args(argv)
    for number in (signal.SIGTERM, signal.SIGHUP):  # into the cleanup below, as Ctrl-C does
        signal.signal(number, _stop_on_signal)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    log(f"seed {seed}")
    keep = args.dir is not None
    directory = args.dir or Path(tempfile.mkdtemp(prefix="stoledger-chaos-")) / "net"
    kinds = tuple(kind for kind in args.kinds.split(",") if kind)
    chaos = Chaos(directory, args.duration, args.interval, seed, args.partitions, args.nodes,
                  kinds)
    chaos.verify_us = measure_verify_us()  # the machine's speed, beside every figure
    try:
        chaos.start()
        chaos.run()
        if chaos.nemesis is not None:
            chaos.nemesis.heal_all()
        chaos.verify()
    except (Exception, SystemExit) as error:  # a harness crash is a failure, with figures
        chaos.check(False, f"chaos run stopped: {error!r}")
    finally:
        chaos.stop_load.set()
        if chaos.monitor is not None:
            chaos.monitor.stop()
        if chaos.nemesis is not None:
            try:
                chaos.nemesis.heal_all()  # SIGCONT to a paused node, before `down` stops it
            except (Exception, SystemExit) as error:
                chaos.check(False, f"healing after the run: {error!r}")
        if (directory / "cluster.json").exists():
            clustermod.down(directory, progress=lambda line: None)
        if not keep:
            shutil.rmtree(directory.parent, ignore_errors=True)
    chaos.report()
    return 1 if chaos.failed else 0


if __name__ == "__main__":
    sys.exit(main())
