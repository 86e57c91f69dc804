"""Namespaced clusters (root): the topology is made and removed whole, a leftover of a crashed
run does not stop the next one, and a real cluster split 3-1 at its relay commits on the
majority side only, then rejoins, all through the CLI a developer would use.

These need root and iproute2, as CI has; without them they fail and say so (they are the only
tests of real network faults, so a silent skip would hide that nothing was tested)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from node.tools import cluster as clustermod
from node.tools import netns
from tests.e2e.conftest import Cluster, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def needs_root() -> None:
    try:
        netns.require_netns()
    except netns.NetnsError as error:
        pytest.fail(f"these tests make network namespaces: {error}")


@pytest.fixture
def topologies():
    """Topologies a test makes; every one is destroyed afterwards, whatever happened."""
    made: list[netns.Topology] = []
    yield made
    for topology in made:
        netns.destroy(topology)


def test_a_topology_is_made_whole_and_removed_whole(topologies) -> None:
    topology = netns.plan(["a", "b", "c"])
    topologies.append(topology)
    netns.create(topology)
    assert netns.exists(topology)
    assert len(netns.leftovers(topology)) == 3 + 3 + 1  # namespaces, cables, the bridge
    reply = subprocess.run([*topology.exec_prefix("b"), "ip", "-4", "-o", "addr", "show", "eth0"],
                           capture_output=True, text=True, check=True).stdout
    assert f"{topology.address('b')}/24" in reply
    netns.set_cable(topology, "b", False)
    assert not netns.cable_connected(topology, "b")
    netns.set_cable(topology, "b", True)
    assert netns.cable_connected(topology, "b")
    assert netns.destroy(topology) == []
    assert not netns.exists(topology)


def test_a_leftover_of_a_crashed_run_does_not_stop_the_next(topologies) -> None:
    crashed = netns.plan(["a", "b"])
    topologies.append(crashed)
    netns.create(crashed)  # and never destroyed by its run
    with pytest.raises(netns.NetnsError, match="already used"):
        netns.create(netns.Topology("0000aa", crashed.prefix, ("x",)))
    assert netns.leftovers(netns.Topology("0000aa", crashed.prefix, ("x",))) == []
    fresh = netns.plan(["a", "b"])
    topologies.append(fresh)
    assert fresh.tag != crashed.tag and fresh.prefix != crashed.prefix
    netns.create(fresh)
    assert netns.exists(fresh) and netns.exists(crashed)


def stoledger(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "node.cli", *args], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_a_split_cluster_commits_on_the_majority_side_only_then_rejoins(tmp_path: Path) -> None:
    directory = tmp_path / "net"
    try:
        stoledger("cluster", "up", "--netns", "--dir", str(directory))
        net = Cluster(directory)
        topology = clustermod.topology_of(directory)
        assert topology is not None
        assert net.url("bank").startswith(f"http://{topology.address('bank')}:")
        bank = net.client("bank")
        first = bank.submit("cash", "mint", {"to": net.keys["bank"].account, "amount": 1})
        assert first["status"] == "committed"

        shown = json.loads(stoledger("cluster", "net", "--dir", str(directory), "split",
                                     "ksd,broker-a,broker-b", "bank"))
        assert len(shown["held"]) == 6
        # The primary's side has a quorum: a transaction submitted there commits...
        second = net.client("bank", node="broker-a").submit(
            "cash", "mint", {"to": net.keys["bank"].account, "amount": 2})
        assert second["status"] == "committed"
        # ...while bank, cut off at the relay yet answering its RPC, cannot follow.
        assert net.client(node="bank").status()["height"] < second["height"]

        stoledger("cluster", "net", "--dir", str(directory), "heal")
        wait_until(lambda: net.client(node="bank").status()["height"] >= second["height"], 60,
                   "bank to catch up after the heal")
        assert net.client(node="bank").receipt(second["tx_id"])["status"] == "committed"
    finally:
        if (directory / "cluster.json").exists():
            info = clustermod.read_cluster(directory)
            nodes = [(entry["pid"], entry["name"]) for entry in info["nodes"]]
            relay_pid = info.get("relay_pid")
            stoledger("cluster", "down", "--dir", str(directory))
            topology = clustermod.topology_of(directory)
            assert topology is not None and netns.leftovers(topology) == []
            assert not any(clustermod.is_running(pid, directory, name) for pid, name in nodes)
            assert not clustermod.runs_with(relay_pid, clustermod.relay_config_path(directory))
