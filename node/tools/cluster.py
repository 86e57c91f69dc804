"""A local cluster: real node processes on loopback, driven by DIR/cluster.json.

`up` builds DIR with `genesis init` when it is empty, starts every node that is not running
(each in its own session, log in DIR/nodes/<name>/node.log, pid recorded in cluster.json) and
returns once all of them answer /readyz. Run again after a node died, it starts only that node.
`down` stops them by pid (SIGTERM, then SIGKILL after a grace period).

With `netns=True` (`cluster up --netns`, root only) each node runs in its own network namespace
on its own address, and every peer link passes through a relay process that can hold or slow
it (node.tools.netns has the layout, node.tools.relay the faults). cluster.json then records
the topology under "netns" and the relay's pid under "relay_pid"; `up` makes whatever of the
namespaces and relay is missing, and `down` stops the relay and removes every namespace and
link it made, after the nodes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from node.tools import netns, relay

READY_TIMEOUT_S = 60.0
STOP_GRACE_S = 10.0
RELAY_READY_TIMEOUT_S = 20.0


def read_cluster(directory: str | Path) -> dict[str, Any]:
    with open(Path(directory) / "cluster.json") as handle:
        return json.load(handle)  # type: ignore[no-any-return]


def write_cluster(directory: str | Path, cluster: dict[str, Any]) -> None:
    path = Path(directory) / "cluster.json"
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(cluster, indent=2) + "\n")
    os.replace(temporary, path)


def config_path(directory: str | Path, name: str) -> Path:
    return Path(directory) / "nodes" / name / "config.toml"


def is_running(pid: int | None, directory: str | Path, name: str) -> bool:
    """True if `pid` is alive and is this node's process (not a recycled pid)."""
    return runs_with(pid, config_path(directory, name))


def runs_with(pid: int | None, marker: Path) -> bool:
    """True if `pid` is alive, not a zombie, and has `marker` (a path) on its command line."""
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            cmdline = handle.read().split(b"\0")
        with open(f"/proc/{pid}/stat", "rb") as handle:
            if handle.read().split(b") ")[-1][:1] == b"Z":
                return False
    except OSError:
        return False
    return str(marker.resolve()).encode() in cmdline


_children: dict[int, subprocess.Popen[bytes]] = {}  # nodes this process started, by pid


def is_alive(pid: int | None, directory: str | Path, name: str) -> bool:
    """Like is_running, but exact for a child we just started: between fork and exec its
    /proc cmdline is still ours, so ask the Popen handle instead."""
    return _alive(pid, config_path(directory, name))


def _alive(pid: int | None, marker: Path) -> bool:
    child = _children.get(pid or 0)
    if child is not None:
        return child.poll() is None
    return runs_with(pid, marker)


def start_node(directory: str | Path, name: str, prefix: list[str] | None = None) -> int:
    """Start node `name` in the background; `prefix` runs it inside a namespace (`ip netns
    exec` replaces itself with the node, so the pid is the node's)."""
    node_dir = Path(directory) / "nodes" / name
    command = [sys.executable, "-m", "node.cli", "node", "run", "--config",
               str(config_path(directory, name).resolve())]
    return _spawn([*(prefix or []), *command], node_dir / "node.log", node_dir)


def _spawn(command: list[str], log_path: Path, cwd: Path) -> int:
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True, cwd=str(cwd))
    log.close()
    _children[process.pid] = process
    return process.pid


def http_json(url: str, timeout_s: float = 2.0) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")
    except (OSError, ValueError):
        return 0, None


def up(directory: str | Path, n: int = 4, observer: bool = False,
       progress: Callable[[str], None] = print, base_port: int = 0,
       timeout_s: float = READY_TIMEOUT_S, netns: bool = False) -> dict[str, Any]:
    directory = Path(directory)
    if not (directory / "cluster.json").exists():
        from genesis.builder import init_network

        if directory.exists() and any(directory.iterdir()):
            raise SystemExit(f"{directory} is not empty and has no cluster.json")
        progress(f"initialising a {n}-operator network in {directory}"
                 f"{', each node in its own network namespace' if netns else ''}")
        if netns:
            _init_namespaced(directory, n, observer, base_port)
        else:
            init_network(str(directory), n=n, observer=observer, base_port=base_port)
    cluster = read_cluster(directory)
    topology = _topology(cluster)
    if topology is not None:
        _ensure_network(directory, cluster, topology, progress)
    started = []
    for entry in cluster["nodes"]:
        if not is_running(entry.get("pid"), directory, entry["name"]):
            prefix = topology.exec_prefix(entry["name"]) if topology is not None else None
            entry["pid"] = start_node(directory, entry["name"], prefix)
            started.append(entry["name"])
    write_cluster(directory, cluster)
    progress(f"started {', '.join(started)}" if started else "all nodes already running")
    wait_ready(directory, cluster, progress, timeout_s)
    return cluster


def wait_ready(directory: Path, cluster: dict[str, Any], progress: Callable[[str], None],
               timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    waiting = [entry["name"] for entry in cluster["nodes"]]
    shown = ""
    while waiting:
        for entry in cluster["nodes"]:
            if entry["name"] in waiting:
                status, _ = http_json(entry["rpc"] + "/readyz", 1.0)
                if status == 200:
                    waiting.remove(entry["name"])
                elif not is_alive(entry["pid"], directory, entry["name"]):
                    log = directory / "nodes" / entry["name"] / "node.log"
                    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                    raise SystemExit(f"node {entry['name']} exited; its log ends:\n{tail}")
        line = f"ready {len(cluster['nodes']) - len(waiting)}/{len(cluster['nodes'])}"
        if line != shown:
            progress(line)
            shown = line
        if waiting and time.monotonic() > deadline:
            raise SystemExit(f"not ready after {timeout_s:.0f} s: {', '.join(waiting)} "
                             f"(see DIR/nodes/<name>/node.log)")
        if waiting:
            time.sleep(0.1)


def down(directory: str | Path, progress: Callable[[str], None] = print) -> None:
    directory = Path(directory)
    cluster = read_cluster(directory)
    running = [(e, e["pid"]) for e in cluster["nodes"]
               if is_running(e.get("pid"), directory, e["name"])]
    for _, pid in running:
        os.kill(pid, signal.SIGTERM)
        os.kill(pid, signal.SIGCONT)  # a node paused with SIGSTOP acts on SIGTERM only then
    deadline = time.monotonic() + STOP_GRACE_S
    for entry, pid in running:
        while is_alive(pid, directory, entry["name"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        if is_alive(pid, directory, entry["name"]):
            os.kill(pid, signal.SIGKILL)
        child = _children.pop(pid, None)
        if child is not None:
            child.wait()
        entry["pid"] = None
        progress(f"stopped {entry['name']} (pid {pid})")
    for entry in cluster["nodes"]:
        entry["pid"] = None
    topology = _topology(cluster)
    if topology is not None:
        _stop(cluster.get("relay_pid"), lambda pid: _alive(pid, relay_config_path(directory)))
        cluster["relay_pid"] = None
        left = netns.destroy(topology)
        progress(f"removed namespaces, cables and bridge {topology.bridge}"
                 if not left else f"could not remove: {', '.join(left)}")
    write_cluster(directory, cluster)


def status(directory: str | Path) -> list[dict[str, Any]]:
    directory = Path(directory)
    cluster = read_cluster(directory)
    rows = []
    for entry in cluster["nodes"]:
        alive = is_running(entry.get("pid"), directory, entry["name"])
        code, body = http_json(entry["rpc"] + "/v1/status") if alive else (0, None)
        ready, _ = http_json(entry["rpc"] + "/readyz") if alive else (0, None)
        rows.append({"name": entry["name"], "role": entry["role"], "pid": entry.get("pid"),
                     "alive": alive, "ready": ready == 200,
                     "height": body.get("height") if code == 200 else None,
                     "view": body.get("view") if code == 200 else None,
                     "primary": body.get("primary") if code == 200 else None,
                     "peers": len(body.get("peers", [])) if code == 200 else None,
                     "rpc": entry["rpc"]})
    return rows


# ---- a namespaced cluster (node.tools.netns, node.tools.relay) -------------------------------

def relay_config_path(directory: str | Path) -> Path:
    return Path(directory) / "relay.json"


def relay_control_path(directory: str | Path) -> Path:
    return Path(directory) / "relay.sock"


def topology_of(directory: str | Path) -> netns.Topology | None:
    """The namespaces of the cluster in `directory`, or None if it runs on loopback."""
    return _topology(read_cluster(directory))


def _topology(cluster: dict[str, Any]) -> netns.Topology | None:
    value = cluster.get("netns")
    return netns.Topology.from_json(value) if value else None


def _init_namespaced(directory: Path, n: int, observer: bool, base_port: int) -> None:
    """Genesis lists each node at its relay address; its config makes it listen on its own
    address in its namespace. Every node uses the same two ports (each has its own address)."""
    from genesis.builder import (
        OBSERVER_NAME,
        Placement,
        init_network,
        operator_names,
        pick_free_ports,
    )

    netns.require_netns()
    relay.check_control_path(relay_control_path(directory))
    names = operator_names(n) + ((OBSERVER_NAME,) if observer else ())
    topology = netns.plan(names)
    rpc_port, p2p_port = ((base_port, base_port + 1) if base_port
                          else pick_free_ports(2, "0.0.0.0"))
    placements = [Placement(topology.relay_address(name), topology.address(name), rpc_port,
                            p2p_port) for name in names]
    init_network(str(directory), n=n, observer=observer, placements=placements)
    relay.write_config(relay_config_path(directory), [
        relay.Route(name, (topology.relay_address(name), p2p_port),
                    (topology.address(name), p2p_port)) for name in names])
    cluster = read_cluster(directory)
    cluster["netns"] = topology.to_json()
    cluster["relay_pid"] = None
    write_cluster(directory, cluster)


def _ensure_network(directory: Path, cluster: dict[str, Any], topology: netns.Topology,
                    progress: Callable[[str], None]) -> None:
    """Make the namespaces and start the relay, whichever is missing."""
    if not netns.exists(topology):
        netns.destroy(topology)  # a part left over from a run that died half-way
        netns.create(topology)
        progress(f"made bridge {topology.bridge} ({topology.prefix}.0/24) and "
                 f"{len(topology.nodes)} namespaces stl-{topology.tag}-*")
    config = relay_config_path(directory)
    if runs_with(cluster.get("relay_pid"), config):
        return
    control = relay_control_path(directory)
    cluster["relay_pid"] = _spawn([sys.executable, "-m", "node.tools.relay", "--config",
                                   str(config.resolve()), "--control", str(control.resolve())],
                                  directory / "relay.log", directory)
    write_cluster(directory, cluster)
    deadline = time.monotonic() + RELAY_READY_TIMEOUT_S
    while True:
        try:
            relay.control(control, {"op": "show"}, timeout_s=1.0)
            return
        except relay.RelayError:
            if time.monotonic() > deadline or not _alive(cluster["relay_pid"], config):
                tail = (directory / "relay.log").read_text(errors="replace")[-2000:]
                raise SystemExit(f"the relay did not start; relay.log ends:\n{tail}") from None
            time.sleep(0.05)


def _stop(pid: int | None, running: Callable[[int], bool]) -> None:
    """SIGTERM `pid` if it is still the process we mean, SIGKILL after the grace period."""
    if not pid or not running(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if running(pid):
        os.kill(pid, signal.SIGKILL)
    child = _children.pop(pid, None)
    if child is not None:
        child.wait()
