"""Faults done to a running cluster, and the statuses that show it recovering (scripts/chaos.py).

`Nemesis` carries out the episodes of node.tools.faults on the cluster in a folder: signals to
node processes by pid (kill, pause), cables and routes through node.tools.netns (isolate,
drop), held and slowed directions through the relay's control socket (split, oneway, deaf,
flap, slow). It remembers
what it did, so that `heal_all` can undo everything, whatever state a failed run left.
It tells the load which nodes it made unreachable (killed, paused, cut off), so that load goes
to the others; a node on the far side of a relay partition still answers its RPC.
What it logged is not evidence that a fault took effect: `evidence` reads each fault in force
back from where it lives (the process table, the kernel's links and routes, the relay's
counters of traffic it stopped or slowed) and names what it does not find there.

`Monitor` polls each node's /v1/status in a thread of its own (a paused node blocks only its
own poller) and keeps every change of what each answered (height, and the peers it has a
live link to), with its time; `first` returns the moment from which a condition on those
readings first held, looking back, so that a heal that takes a while (a restart waits for the
node to be ready) is still measured from its start. The conditions below say when a cut was
noticed, when the cluster commits again and when every node has rejoined. Times are accurate
to a poll period plus one status request.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.tools import cluster as clustermod
from node.tools import faults, netns, relay
from node.tools.faults import Episode

STATUS_TIMEOUT_S = 1.0
KILL_WAIT_S = 10.0  # for a SIGKILLed process to be gone
# A hold this long has stopped traffic across each cut pair in at least one direction: under
# load PBFT messages flow between every pair, and an idle link sends a heartbeat PING after 5 s
EVIDENT_HOLD_S = 6.0


@dataclass(frozen=True, slots=True)
class Reading:
    """What a node's /v1/status said: its height and the peers it has a live link to."""

    height: int
    peers: frozenset[str]


Readings = dict[str, Reading | None]  # by node; None: it did not answer its last poll
Condition = Callable[[Readings], bool]


class Monitor:
    """What each node last answered, polled every `poll_s` (see the module docstring), and
    every change with its time."""

    def __init__(self, urls: dict[str, str], poll_s: float) -> None:
        self.urls = urls
        self.poll_s = poll_s
        self._readings: Readings = dict.fromkeys(urls)
        self._changes: list[tuple[float, str, Reading | None]] = []  # (monotonic time, ...)
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._poll, args=(name,), daemon=True,
                                          name=f"monitor-{name}") for name in urls]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(STATUS_TIMEOUT_S + self.poll_s + 1)

    def heights(self) -> dict[str, int | None]:
        with self._changed:
            return {name: r.height if r else None for name, r in self._readings.items()}

    def tip(self) -> int:
        """The highest height any node has answered with (0 before any)."""
        return max((h for h in self.heights().values() if h is not None), default=0)

    def first(self, condition: Condition, since: float, timeout_s: float) -> float | None:
        """The first monotonic time from `since` on at which `condition(readings)` held (the
        readings as polled then), waiting for it until `since + timeout_s`; None if it never
        did. It looks back: a caller busy for a while after `since` still gets the moment."""
        deadline = since + timeout_s
        with self._changed:
            while True:
                found = self._first_in_history(condition, since)
                if found is not None and found <= deadline:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._changed.wait(left)

    def _first_in_history(self, condition: Condition, since: float) -> float | None:
        readings: Readings = dict.fromkeys(self.urls)
        began = since  # when the readings as they stand began to hold (not before `since`)
        for when, name, reading in self._changes:
            if when > since and condition(readings):
                return began
            readings[name] = reading
            began = max(when, since)
        return began if condition(readings) else None

    def record(self, name: str, reading: Reading | None, when: float | None = None) -> None:
        """Note what `name` answered (None for no answer) at `when`."""
        with self._changed:
            if self._readings[name] != reading:
                self._readings[name] = reading
                self._changes.append((time.monotonic() if when is None else when, name, reading))
                self._changed.notify_all()

    def _poll(self, name: str) -> None:
        url = self.urls[name] + "/v1/status"
        while not self._stop.is_set():
            reading: Reading | None = None
            try:
                with urllib.request.urlopen(url, timeout=STATUS_TIMEOUT_S) as answer:
                    status = json.load(answer)
                reading = Reading(int(status["height"]), frozenset(status["peers"]))
            except (OSError, ValueError, KeyError, TypeError):
                reading = None  # no answer, or not a status: the node is as good as absent
            self.record(name, reading)
            self._stop.wait(self.poll_s)


# ---- conditions on readings ------------------------------------------------------------------

def committed_above(tip: int) -> Condition:
    """Some node has committed past `tip`: the cluster commits again."""
    return lambda readings: any(r is not None and r.height > tip for r in readings.values())


def all_above(tip: int) -> Condition:
    """Every node answers, at a height past `tip`: all have rejoined."""
    return lambda readings: all(r is not None and r.height > tip for r in readings.values())


def links_down(pairs: list[tuple[str, str]]) -> Condition:
    """Neither end of any pair that answers lists the other as a peer: the cut is noticed."""
    def noticed(readings: Readings) -> bool:
        for a, b in pairs:
            for here, there in ((a, b), (b, a)):
                reading = readings.get(here)
                if reading is not None and there in reading.peers:
                    return False
        return True
    return noticed


def fully_linked(readings: Readings) -> bool:
    """Every node answers and has a live link to every other."""
    return all(r is not None and r.peers == frozenset(readings) - {name}
               for name, r in readings.items())


class Nemesis:
    """Does and undoes episodes on the cluster in `directory` (see the module docstring)."""

    def __init__(self, directory: Path, log: Callable[[str], None]) -> None:
        self.dir = directory
        self.log = log
        info = clustermod.read_cluster(directory)
        self.names = tuple(entry["name"] for entry in info["nodes"])
        self.topology = clustermod.topology_of(directory)
        self.control = clustermod.relay_control_path(directory)
        self.unreachable: set[str] = set()  # read by load threads: a set swap is atomic
        self._killed: set[str] = set()
        self._paused: dict[str, int] = {}  # name -> pid
        self._unplugged: set[str] = set()
        self._dropping: set[tuple[str, str]] = set()
        self._policy = False  # the relay holds or slows something
        self._held: list[list[str]] = []  # the relay's held directions, as set
        self._delayed: list[list[str | int]] = []
        self._relay_before: dict[str, Counter[tuple[str, str]]] = {}  # counters at the set
        self._problems: list[str] = []  # what a fault could not do (a victim already dead)

    def inject(self, episode: Episode, primary: Callable[[], str | None]
               ) -> tuple[str, list[tuple[str, str]]]:
        """Start the fault of `episode` (a flap: its first cut). Returns what was done, and
        the pairs of nodes whose link it cuts (none for a flap, whose cuts are too short to
        notice, or a slow node)."""
        kind = episode.kind
        if self.topology is not None:  # the relay's counters when the fault began
            self._relay_before = _relay_counters(relay.control(self.control, {"op": "show"}))
        if kind in ("kill", "pause", "isolate"):
            victim = (primary() or episode.nodes[0]) if episode.primary else episode.nodes[0]
            {"kill": self.kill, "pause": self.pause, "isolate": self.unplug}[kind](victim)
            return (f"{kind} {victim}" + (" (the primary)" if episode.primary else ""),
                    [(victim, other) for other in self.names if other != victim])
        cut: list[tuple[str, str]] = []
        if kind in ("split", "flap", "bridge"):  # a bridge node is in neither group
            self.hold(faults.split_held(episode.groups))
            cut = [(a, b) for a in episode.groups[0] for b in episode.groups[1]]
        elif kind == "oneway":
            self.hold(faults.oneway_held(*episode.nodes))
            cut = [(episode.nodes[0], episode.nodes[1])]
        elif kind == "drop":
            self.drop(*episode.nodes)
            cut = [(episode.nodes[0], episode.nodes[1])]
        elif kind == "deaf":
            self.hold(faults.deaf_held(episode.nodes[0], self.names))
            cut = [(episode.nodes[0], other) for other in self.names if other != episode.nodes[0]]
        elif kind == "slow":
            self.set_relay([], faults.slow_delays(episode.nodes[0], self.names,
                                                  episode.delay_ms))
        return episode.describe(), [] if kind == "flap" else cut

    def evidence(self, episode: Episode, held_s: float) -> list[str]:
        """What of the faults in force is not where it should be (see the module docstring),
        read before the heal; also what a fault could not do when it was injected."""
        problems, self._problems = self._problems, []
        for name in sorted(self._killed):
            if self.pid(name) is not None:
                problems.append(f"{name} was killed but is running")
        for name, pid in sorted(self._paused.items()):
            if _process_state(pid) != "T":
                problems.append(f"{name} (pid {pid}) was paused but is in state "
                                f"{_process_state(pid)!r}")
        if self.topology is not None:
            for name in sorted(self._unplugged):
                if netns.cable_connected(self.topology, name):
                    problems.append(f"{name}'s cable was pulled but its link is up")
            for source, destination in sorted(self._dropping):
                if not netns.blackholed(self.topology, source, destination):
                    problems.append(f"no blackhole route from {source} to {destination}")
        if self._held or self._delayed:
            problems += self._relay_evidence(episode, held_s)
        return problems

    def _relay_evidence(self, episode: Episode, held_s: float) -> list[str]:
        after = _relay_counters(relay.control(self.control, {"op": "show"}))
        grew = {key: after[key] - self._relay_before.get(key, Counter()) for key in after}
        problems = []
        if self._delayed and not any(grew["delayed"].values()):
            problems.append("the relay slowed no traffic of the slowed node")
        if not self._held or held_s < EVIDENT_HOLD_S:
            return problems
        if episode.kind == "flap":  # its last cut alone may be short: some traffic stopped
            if not any(grew["stopped"].values()):
                problems.append("the relay stopped no traffic across the flapping split")
            return problems
        held = {(a, b) for a, b in self._held}
        pairs = sorted({tuple(sorted(direction)) for direction in held})
        for a, b in pairs:
            if not grew["stopped"][(a, b)] and not grew["stopped"][(b, a)]:
                problems.append(f"the relay stopped no traffic between {a} and {b} in "
                                f"{held_s:.1f} s of holding it")
        return problems

    def keep(self, episode: Episode) -> None:
        """Keep the fault for its hold time; a flap heals and cuts again meanwhile, and ends
        cut."""
        if episode.kind != "flap":
            time.sleep(episode.hold_s)
            return
        held = faults.split_held(episode.groups)
        for index, phase_s in enumerate(episode.phases_s):
            self.hold(held if index % 2 == 0 else [])
            time.sleep(phase_s)

    def heal_all(self) -> list[str]:
        """Undo every fault in force: the relay passes everything, cables are in, paused
        nodes continue, killed nodes restart (`cluster up`). Returns what it undid."""
        undone = []
        if self._policy:
            self.set_relay([], [])
            undone.append("relay cleared")
        for name in sorted(self._unplugged):
            self.plug(name)
            undone.append(f"{name} plugged in")
        for source, destination in sorted(self._dropping):
            self.undrop(source, destination)
            undone.append(f"{source} -> {destination} routed")
        for name in sorted(self._paused):
            self.resume(name)
            undone.append(f"{name} continued")
        if self._killed:
            restarted = sorted(self._killed)
            clustermod.up(self.dir, progress=lambda line: None)
            self._killed.clear()
            self._reachable(*restarted)
            undone.append(f"{', '.join(restarted)} restarted")
        return undone

    # ---- processes -------------------------------------------------------------------

    def killed(self) -> set[str]:
        """The nodes this nemesis killed and has not restarted yet."""
        return set(self._killed)

    def pid(self, name: str) -> int | None:
        entry = next(e for e in clustermod.read_cluster(self.dir)["nodes"] if e["name"] == name)
        pid = entry.get("pid")
        return pid if clustermod.is_alive(pid, self.dir, name) else None

    def kill(self, name: str) -> None:
        self._unreachable(name)
        self._killed.add(name)
        pid = self.pid(name)
        if pid is None:
            self._problems.append(f"{name} was already dead when the fault came to kill it")
            return
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + KILL_WAIT_S
        while clustermod.is_alive(pid, self.dir, name) and time.monotonic() < deadline:
            time.sleep(0.02)

    def pause(self, name: str) -> None:
        pid = self.pid(name)
        if pid is None:
            self._problems.append(f"{name} was already dead when the fault came to pause it")
            return
        self._unreachable(name)
        os.kill(pid, signal.SIGSTOP)
        self._paused[name] = pid

    def resume(self, name: str) -> None:
        pid = self._paused.pop(name)
        if clustermod.is_alive(pid, self.dir, name):
            os.kill(pid, signal.SIGCONT)
        self._reachable(name)

    # ---- the network -----------------------------------------------------------------

    def unplug(self, name: str) -> None:
        assert self.topology is not None, "isolate needs a namespaced cluster"
        self._unreachable(name)
        self._unplugged.add(name)
        netns.set_cable(self.topology, name, False)

    def plug(self, name: str) -> None:
        assert self.topology is not None
        netns.set_cable(self.topology, name, True)
        self._unplugged.discard(name)
        self._reachable(name)

    def drop(self, source: str, destination: str) -> None:
        assert self.topology is not None, "drop needs a namespaced cluster"
        netns.set_blackhole(self.topology, source, destination, True)
        self._dropping.add((source, destination))

    def undrop(self, source: str, destination: str) -> None:
        assert self.topology is not None
        netns.set_blackhole(self.topology, source, destination, False)
        self._dropping.discard((source, destination))

    def hold(self, held: list[list[str]]) -> None:
        self.set_relay(held, [])

    def set_relay(self, held: list[list[str]], delay_ms: list[list[str | int]]) -> None:
        relay.control(self.control, {"op": "set", "held": held, "delay_ms": delay_ms})
        self._policy = bool(held or delay_ms)
        self._held, self._delayed = held, delay_ms

    def relay_stats(self) -> dict[str, int]:
        if self.topology is None:
            return {}
        return dict(relay.control(self.control, {"op": "show"})["stats"])

    def _unreachable(self, name: str) -> None:
        self.unreachable = self.unreachable | {name}

    def _reachable(self, *names: str) -> None:
        self.unreachable = self.unreachable - set(names)


def _relay_counters(shown: dict[str, Any]) -> dict[str, Counter[tuple[str, str]]]:
    """The relay's `stopped` and `delayed` counters by direction, from its `show` answer."""
    return {key: Counter({(a, b): count for a, b, count in shown.get(key, [])})
            for key in ("stopped", "delayed")}


def _process_state(pid: int) -> str:
    """The state letter of /proc/PID/stat (T: stopped by a signal), or "" if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""
