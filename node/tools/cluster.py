"""A local cluster: real node processes on loopback, driven by DIR/cluster.json.

`up` builds DIR with `genesis init` when it is empty, starts every node that is not running
(each in its own session, log in DIR/nodes/<name>/node.log, pid recorded in cluster.json) and
returns once all of them answer /readyz. Run again after a node died, it starts only that node.
`down` stops them by pid (SIGTERM, then SIGKILL after a grace period). Both hold DIR's lock
while they work (`exclusive`): a second `up` or `down` on the same folder is refused, never run
beside the first. `replace` makes room for a new network (the demo's), deleting only a network
the tools made.

With `netns=True` (`cluster up --netns`, root only) each node runs in its own network namespace
on its own address, and every peer link passes through a relay process that can hold or slow
it (node.tools.netns has the layout, node.tools.relay the faults). cluster.json then records
the topology under "netns" and the relay's pid under "relay_pid"; `up` makes whatever of the
namespaces and relay is missing, and `down` stops the relay and removes every namespace and
link it made, after the nodes.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from node.tools import netns, relay

READY_TIMEOUT_S = 60.0
STOP_GRACE_S = 10.0
RELAY_READY_TIMEOUT_S = 20.0


def read_cluster(directory: str | Path) -> dict[str, Any]:
    try:
        with open(Path(directory) / "cluster.json") as handle:
            return json.load(handle)  # type: ignore[no-any-return]
    except FileNotFoundError:
        raise SystemExit(f"{directory} is not a cluster folder (it has no cluster.json); "
                         f"`stoledger cluster up --dir {directory}` makes one") from None


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
        try:  # another program on the port answers, in its own words
            return error.code, json.loads(error.read() or b"null")
        except (OSError, ValueError):
            return error.code, None
    except (OSError, ValueError):
        return 0, None


@contextmanager
def exclusive(directory: Path) -> Iterator[None]:
    """Hold DIR's lock, or refuse: two `cluster up` at once (a double click in a script, `up`
    run again while the first still waits for readiness) would each start every node, the
    second set dying on the first's store locks while its pids overwrite cluster.json, and
    `down` could then stop neither set. The lock is flock(2) on the folder itself: no file to
    leave behind, and the kernel releases it when the process ends, however it ends. Not
    re-entrant: take it once per command, at `up`, `down` and `replace`."""
    handle = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)  # not inherited by the nodes
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SystemExit(f"another stoledger command (cluster up, cluster down or demo) is "
                             f"working on {directory}; let it finish, then run this again"
                             ) from None
        yield
    finally:
        os.close(handle)


def up(directory: str | Path, n: int = 4, observer: bool = False,
       progress: Callable[[str], None] = print, base_port: int = 0,
       timeout_s: float = READY_TIMEOUT_S, netns: bool = False) -> dict[str, Any]:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with exclusive(directory):
        return _up(directory, n, observer, progress, base_port, timeout_s, netns)


def _up(directory: Path, n: int, observer: bool, progress: Callable[[str], None],
        base_port: int, timeout_s: float, netns: bool) -> dict[str, Any]:
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
                    raise SystemExit(died_at_start(directory, entry["name"]))
        line = f"ready {len(cluster['nodes']) - len(waiting)}/{len(cluster['nodes'])}"
        if line != shown:
            progress(line)
            shown = line
        if waiting and time.monotonic() > deadline:
            raise SystemExit(f"not ready after {timeout_s:.0f} s: {', '.join(waiting)} "
                             f"(see DIR/nodes/<name>/node.log)")
        if waiting:
            time.sleep(0.1)


ERROR_LINE = re.compile(r"^(stoledger\b|[A-Za-z_][\w.]*(Error|Exception|Exit)\b)")


def died_at_start(directory: Path, name: str) -> str:
    """What `up` says of a node that exited before it was ready: its log's last line (the
    error that ended it: a store locked by another process, a port taken) and where the rest
    is. Nodes that did start keep running."""
    log = directory / "nodes" / name / "node.log"
    lines = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
    errors = [line for line in lines if ERROR_LINE.match(line)]  # not shutdown's noise after it
    last = (errors or lines or ["(its log is empty)"])[-1]
    return (f"node {name} exited at start-up: {last}\n"
            f"(its log: {log}; the nodes that started are still running, `stoledger cluster "
            f"down --dir {directory}` stops them)")


def down(directory: str | Path, progress: Callable[[str], None] = print) -> None:
    directory = Path(directory)
    read_cluster(directory)  # no cluster.json: say so before taking a lock
    with exclusive(directory):
        _down(directory, progress)


def _down(directory: Path, progress: Callable[[str], None]) -> None:
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


# What the tools write into a network folder: genesis init, the nodes, `fds run`, the relay.
MADE_HERE = frozenset({"genesis.json", "cluster.json", "cluster.json.tmp", "ca.crt", "ca.key",
                       "nodes", "keys", "fds", "fds.log", "relay.json", "relay.sock",
                       "relay.log"})


def replace(directory: str | Path, progress: Callable[[str], None] = print) -> None:
    """Make room for a new network in `directory` (the demo's), deleting only what the tools
    made. Absent or empty: nothing to do. A network (genesis.json or cluster.json): its running
    nodes are stopped and the folder removed, and `progress` says so. Refused: a folder that is
    not a network, and a network that holds files the tools did not write (a key the user made
    in keys/, a proof saved there): the user moves them first."""
    directory = Path(directory)
    if not directory.exists():
        return
    if not directory.is_dir():
        raise SystemExit(f"{directory} exists and is not a folder; choose another --dir")
    if not any(directory.iterdir()):
        return
    if not ((directory / "genesis.json").exists() or (directory / "cluster.json").exists()):
        raise SystemExit(f"{directory} is not a stoledger network (no genesis.json or "
                         f"cluster.json) and is not empty: refusing to replace it; choose a new "
                         f"folder with --dir")
    foreign = _not_made_here(directory)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5
                                          else "")
        raise SystemExit(f"{directory} is a stoledger network that also holds files the tools "
                         f"did not write ({shown}): move them out, or choose another --dir; "
                         f"the demo replaces the whole folder")
    with exclusive(directory):
        running = []
        if (directory / "cluster.json").exists():
            running = [entry["name"] for entry in read_cluster(directory)["nodes"]
                       if is_running(entry.get("pid"), directory, entry["name"])]
            _down(directory, lambda line: None)
        shutil.rmtree(directory)
    progress(f"replacing the network in {directory}/ (its chain, keys and logs are deleted"
             + (f"; its running cluster was stopped: {', '.join(running)})" if running
                else ")"))


def _not_made_here(directory: Path) -> list[str]:
    """The entries of a network folder that no tool of ours writes, as paths inside it."""
    foreign = [entry.name for entry in directory.iterdir() if entry.name not in MADE_HERE]
    try:
        orgs = {org["name"] for org in json.loads(
            (directory / "genesis.json").read_text())["orgs"]}
    except (OSError, ValueError, KeyError, TypeError):
        orgs = set()
    keys = directory / "keys"
    if keys.is_dir():
        foreign += [f"keys/{entry.name}" for entry in keys.iterdir()
                    if entry.name not in {f"{org}.json" for org in orgs}]
    return sorted(foreign)


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
