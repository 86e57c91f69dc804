"""The nemesis checks that each fault it logged took effect, where the fault lives (the process
table, the relay's counters), and names what it does not find: a chaos run whose fault
injector did nothing must fail, not pass with no fault applied.

One module's logic with its neighbours replaced: the relay's control socket answers from a
dictionary, the cluster's pids come from the test. Real processes stand in for a paused node."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from node.tools import nemesis as nemesismod
from node.tools.faults import Episode

NAMES = ("ksd", "broker-a", "broker-b", "bank")


class FakeRelay:
    def __init__(self) -> None:
        self.stopped: dict[tuple[str, str], int] = {}
        self.delayed: dict[tuple[str, str], int] = {}
        self.policy: dict = {}

    def control(self, path, request):
        if request["op"] == "set":
            self.policy = request
            return {"ok": True}
        return {"ok": True, **{key: [[a, b, n] for (a, b), n in sorted(counts.items())]
                               for key, counts in (("stopped", self.stopped),
                                                   ("delayed", self.delayed))}}


@pytest.fixture
def nemesis(monkeypatch):
    relay = FakeRelay()
    monkeypatch.setattr(nemesismod.relay, "control", relay.control)
    pids: dict[str, int | None] = dict.fromkeys(NAMES, 1)
    made = object.__new__(nemesismod.Nemesis)
    made.__dict__.update(dir=Path("."), log=lambda line: None, names=NAMES,
                         topology=object(), control=Path("relay.sock"), unreachable=set(),
                         _killed=set(), _paused={}, _unplugged=set(), _dropping=set(),
                         _policy=False, _held=[], _delayed=[], _relay_before={}, _problems=[])
    monkeypatch.setattr(nemesismod.Nemesis, "pid", lambda self, name: pids[name])
    return made, relay, pids


def split(hold_s: float) -> Episode:
    return Episode(1, "split", 0.0, hold_s, groups=(("ksd", "broker-a"), ("broker-b", "bank")))


def test_a_split_the_relay_never_held_is_named(nemesis) -> None:
    made, relay, _ = nemesis
    episode = split(8.0)
    made.inject(episode, lambda: None)
    relay.stopped[("ksd", "bank")] = 3  # one pair's traffic stopped; three pairs' never did
    problems = made.evidence(episode, 8.0)
    assert len(problems) == 3 and all("stopped no traffic" in p for p in problems)
    assert [p.split(" between ")[1].split(" in ")[0] for p in problems] == [
        "bank and broker-a", "broker-a and broker-b", "broker-b and ksd"]


def test_a_split_that_stopped_traffic_across_every_pair_took_effect(nemesis) -> None:
    made, relay, _ = nemesis
    episode = split(8.0)
    made.inject(episode, lambda: None)
    for a in ("ksd", "broker-a"):
        for b in ("broker-b", "bank"):
            relay.stopped[(b, a)] = 1  # one direction of each pair is enough
    assert made.evidence(episode, 8.0) == []


def test_counters_from_before_the_fault_are_not_evidence(nemesis) -> None:
    made, relay, _ = nemesis
    for a in ("ksd", "broker-a"):
        for b in ("broker-b", "bank"):
            relay.stopped[(a, b)] = 5  # an earlier fault's
    episode = split(8.0)
    made.inject(episode, lambda: None)
    assert len(made.evidence(episode, 8.0)) == 4


def test_a_hold_too_short_for_a_heartbeat_is_not_judged(nemesis) -> None:
    made, _, _ = nemesis
    episode = split(2.0)
    made.inject(episode, lambda: None)
    assert made.evidence(episode, 2.0) == []


def test_a_slow_node_the_relay_never_slowed_is_named(nemesis) -> None:
    made, relay, _ = nemesis
    episode = Episode(1, "slow", 0.0, 3.0, nodes=("bank",), delay_ms=200)
    made.inject(episode, lambda: None)
    assert made.evidence(episode, 3.0) == ["the relay slowed no traffic of the slowed node"]
    relay.delayed[("bank", "ksd")] = 1
    assert made.evidence(episode, 3.0) == []


def test_a_kill_of_a_dead_node_and_a_killed_node_running_are_named(nemesis, monkeypatch) -> None:
    made, _, pids = nemesis
    pids["bank"] = None  # died before the fault came
    made.kill("bank")
    assert made.evidence(Episode(1, "kill", 0.0, 5.0, nodes=("bank",)), 5.0) == [
        "bank was already dead when the fault came to kill it"]
    pids["ksd"] = 4_000_000  # the signal did not end it
    monkeypatch.setattr(nemesismod.os, "kill", lambda pid, number: None)
    monkeypatch.setattr(nemesismod, "KILL_WAIT_S", 0.0)
    made.kill("ksd")
    assert "ksd was killed but is running" in made.evidence(
        Episode(2, "kill", 0.0, 5.0, nodes=("ksd",)), 5.0)


def test_a_pause_is_read_back_from_the_process_state(nemesis) -> None:
    made, _, pids = nemesis
    process = subprocess.Popen(["sleep", "60"])
    try:
        pids["bank"] = process.pid
        made.pause("bank")
        episode = Episode(1, "pause", 0.0, 5.0, nodes=("bank",))
        assert wait_for_state(process.pid, "T")
        assert made.evidence(episode, 5.0) == []
        process.send_signal(signal.SIGCONT)  # something let it go on behind the nemesis
        assert wait_for_state(process.pid, "S")
        assert made.evidence(episode, 5.0) == [
            f"bank (pid {process.pid}) was paused but is in state 'S'"]
    finally:
        process.kill()
        process.wait()


def wait_for_state(pid: int, state: str) -> bool:
    """Until the process is in `state` (a signal is delivered asynchronously), up to 10 s."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if nemesismod._process_state(pid) == state:
            return True
        time.sleep(0.01)
    return False
