"""Network namespaces for a local cluster: each node on its own address behind its own cable,
its peer links through a relay that can hold or slow them (node.tools.relay).

Layout of one cluster (tag T, six hex digits; subnet 10.A.B.0/24, picked free on this host):

    host (root namespace)
      bridge stlb-T          10.A.B.1/24, the gateway, and 10.A.B.(100+i): node i's relay address
      relay process          on 10.A.B.(100+i) at node i's p2p port, forwarding to node i
    namespace stl-T-i        eth0 10.A.B.(10+i)/24, lo, default route via 10.A.B.1
      node i                 listens on 10.A.B.(10+i) (its config's rpc_host and p2p_host)
    veth stlv-T-i            node i's cable: one end on the bridge, the other its eth0

Genesis lists node i at its relay address, so every p2p link runs node -> relay -> node and
its faults are the relay's. The relay connects out from the dialer's own relay address, so the
accepting node sees the address genesis lists for the dialer. A client on the host reaches
node i's RPC directly at 10.A.B.(10+i) over the bridge (cluster.json's `rpc`), so load goes on
during a partition. Pulling node i's cable (`set_cable`, the veth's host end down) cuts it off
at the kernel instead: its RPC, and TCP retransmitting into nothing, with exponential backoff.
A blackhole route in node i's namespace (`set_blackhole`) drops only what i sends to one peer:
a one-way link at the kernel, where TCP itself breaks (data one way, no acks the other).

Every name carries the tag and the subnet is checked against the host's addresses and routes,
so a leftover of a crashed run never collides with a new cluster; `destroy` removes what one
topology made and `leftovers` says what is still there. Needs root (CAP_NET_ADMIN) and `ip`
(iproute2); nothing else (no iptables, no netem: delay comes from the relay).
"""

from __future__ import annotations

import ipaddress
import os
import random
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Host numbers inside the /24: the gateway, then node i's own address and its relay address.
GATEWAY_HOST = 1
NODE_HOST_BASE = 10
RELAY_HOST_BASE = 100
MAX_NODES = RELAY_HOST_BASE - NODE_HOST_BASE  # node addresses stay below the relay addresses
SUBNET_SECOND_OCTETS = range(200, 250)  # 10.200.0.0 - 10.249.255.0: far from usual LAN ranges
SUBNET_ATTEMPTS = 64  # random /24s tried before giving up (each is checked against the host)
CAP_NET_ADMIN = 12  # its bit in the capability sets (linux/capability.h)
IP_TIMEOUT_S = 30.0  # one `ip` command; they take milliseconds


class NetnsError(RuntimeError):
    """The namespaces cannot be made here (not root, no `ip`) or an `ip` command failed."""


@dataclass(frozen=True, slots=True)
class Topology:
    """The names and addresses of one namespaced cluster (see the module docstring)."""

    tag: str  # six hex digits, in every name
    prefix: str  # "10.A.B": the /24 without its last octet
    nodes: tuple[str, ...]  # node names, in genesis order (node i is nodes[i])

    @property
    def bridge(self) -> str:
        return f"stlb-{self.tag}"

    @property
    def gateway(self) -> str:
        return f"{self.prefix}.{GATEWAY_HOST}"

    def namespace(self, name: str) -> str:
        return f"stl-{self.tag}-{self.nodes.index(name)}"

    def veth(self, name: str) -> str:
        return f"stlv-{self.tag}-{self.nodes.index(name)}"

    def address(self, name: str) -> str:
        """Where node `name` listens, inside its namespace."""
        return f"{self.prefix}.{NODE_HOST_BASE + self.nodes.index(name)}"

    def relay_address(self, name: str) -> str:
        """Where peers dial node `name` (genesis): the relay, on the host's bridge."""
        return f"{self.prefix}.{RELAY_HOST_BASE + self.nodes.index(name)}"

    def exec_prefix(self, name: str) -> list[str]:
        """The command prefix that runs a program inside node `name`'s namespace."""
        return ["ip", "netns", "exec", self.namespace(name)]

    def to_json(self) -> dict[str, Any]:
        return {"tag": self.tag, "prefix": self.prefix, "nodes": list(self.nodes)}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Topology:
        return cls(str(value["tag"]), str(value["prefix"]), tuple(value["nodes"]))


def require_netns() -> None:
    """Fail with the reason if this process cannot make namespaces: no `ip`, not root, or root
    without CAP_NET_ADMIN (a container started without it, where `ip` would only answer
    "Operation not permitted" halfway through)."""
    if shutil.which("ip") is None:
        raise NetnsError("`ip` (iproute2) is not installed; network namespaces need it")
    if os.geteuid() != 0:
        raise NetnsError("network namespaces need root (CAP_NET_ADMIN); run as root, as CI does")
    if not has_net_admin(Path("/proc/self/status").read_text()):
        raise NetnsError("network namespaces need CAP_NET_ADMIN, which this root process lacks "
                         "(a container without --cap-add NET_ADMIN, or --privileged)")


def has_net_admin(proc_status: str) -> bool:
    """Whether the effective capabilities in a /proc/PID/status text include CAP_NET_ADMIN."""
    for line in proc_status.splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> CAP_NET_ADMIN & 1)
    raise NetnsError("no CapEff line in /proc/self/status: cannot tell the capabilities")


def plan(nodes: list[str] | tuple[str, ...], rng: random.Random | None = None) -> Topology:
    """A fresh tag and a /24 that no address or route of this host uses yet."""
    if not 0 < len(nodes) <= MAX_NODES:
        raise NetnsError(f"{len(nodes)} nodes; a namespaced cluster holds 1 to {MAX_NODES}")
    rng = rng or random.SystemRandom()
    for _ in range(SUBNET_ATTEMPTS):
        prefix = f"10.{rng.choice(SUBNET_SECOND_OCTETS)}.{rng.randrange(256)}"
        if _is_free(prefix):
            return Topology(f"{rng.randrange(1 << 24):06x}", prefix, tuple(nodes))
    raise NetnsError(f"no free 10.x.y.0/24 found in {SUBNET_ATTEMPTS} tries")


def create(topology: Topology) -> None:
    """Make the bridge, the relay addresses, and each node's namespace and cable. On failure,
    remove whatever was made and raise."""
    require_netns()
    if not _is_free(topology.prefix):
        raise NetnsError(f"{topology.prefix}.0/24 is already used on this host (another "
                         "cluster, or a leftover: `ip -4 addr`)")
    try:
        bridge = topology.bridge
        _ip("link", "add", bridge, "type", "bridge")
        _ip("addr", "add", f"{topology.gateway}/24", "dev", bridge)
        for name in topology.nodes:
            _ip("addr", "add", f"{topology.relay_address(name)}/24", "dev", bridge)
        _ip("link", "set", bridge, "up")
        for name in topology.nodes:
            _create_node(topology, name)
    except NetnsError:
        destroy(topology)
        raise


def _create_node(topology: Topology, name: str) -> None:
    namespace, veth = topology.namespace(name), topology.veth(name)
    _ip("netns", "add", namespace)
    _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", namespace)
    _ip("link", "set", veth, "master", topology.bridge, "up")
    _ip("-n", namespace, "link", "set", "lo", "up")
    _ip("-n", namespace, "addr", "add", f"{topology.address(name)}/24", "dev", "eth0")
    _ip("-n", namespace, "link", "set", "eth0", "up")
    _ip("-n", namespace, "route", "add", "default", "via", topology.gateway)


def destroy(topology: Topology) -> list[str]:
    """Remove every cable, namespace and the bridge of `topology` (those still there); returns
    what could not be removed (empty when all is gone). Run it after the processes inside the
    namespaces are stopped: a namespace lives on while a process holds it."""
    for name in topology.nodes:
        _ip_quietly("link", "del", topology.veth(name))
        _ip_quietly("netns", "del", topology.namespace(name))
    _ip_quietly("link", "del", topology.bridge)
    return leftovers(topology)


def leftovers(topology: Topology) -> list[str]:
    """The namespaces and links of `topology` that exist on this host now."""
    namespaces = set(_lines("netns", "list", first_word=True))
    links = set(_links())
    found = [topology.namespace(name) for name in topology.nodes
             if topology.namespace(name) in namespaces]
    wanted_links = [topology.bridge] + [topology.veth(name) for name in topology.nodes]
    return found + [link for link in wanted_links if link in links]


def exists(topology: Topology) -> bool:
    """True when every part of `topology` is there (a cluster can start its nodes in it)."""
    return len(leftovers(topology)) == 2 * len(topology.nodes) + 1


def set_cable(topology: Topology, name: str, connected: bool) -> None:
    """Plug node `name`'s cable in or pull it out (its veth's host end up or down). Its
    addresses and routes stay; packets to and from it are lost until it is plugged back."""
    _ip("link", "set", topology.veth(name), "up" if connected else "down")


def set_blackhole(topology: Topology, source: str, destination: str, dropping: bool) -> None:
    """Make the kernel in `source`'s namespace drop every packet it sends to `destination`
    (a blackhole route to its relay address, which every packet of that pair's one link goes
    to), or stop doing so. `destination`'s packets still arrive; TCP's acks for them do not."""
    route = ["route", "add" if dropping else "del", "blackhole",
             f"{topology.relay_address(destination)}/32"]
    _ip("-n", topology.namespace(source), *route)


def clear_blackholes(topology: Topology) -> None:
    """Remove every blackhole route of every node's namespace."""
    for name in topology.nodes:
        _ip("-n", topology.namespace(name), "route", "flush", "type", "blackhole")


def blackholed(topology: Topology, source: str, destination: str) -> bool:
    """Whether the kernel in `source`'s namespace has the blackhole route `set_blackhole` adds
    (read back from the kernel: what the harness logged is not evidence)."""
    out = _run(["ip", "-n", topology.namespace(source), "route", "show", "type", "blackhole"])
    return any(line.split()[1:2] == [topology.relay_address(destination)]
               for line in out.splitlines())


def cable_connected(topology: Topology, name: str) -> bool:
    out = _run(["ip", "-o", "link", "show", topology.veth(name)])
    return ",UP" in out or "<UP" in out


# ---- ip ---------------------------------------------------------------------------------

def _run(command: list[str]) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=IP_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise NetnsError(f"{' '.join(command)}: {error}") from None
    if result.returncode != 0:
        raise NetnsError(f"{' '.join(command)}: {result.stderr.strip() or result.returncode}")
    return result.stdout


def _ip(*args: str) -> None:
    _run(["ip", *args])


def _ip_quietly(*args: str) -> None:
    """An `ip` command whose failure means there was nothing to remove."""
    subprocess.run(["ip", *args], capture_output=True, timeout=IP_TIMEOUT_S, check=False)


def _lines(*args: str, first_word: bool = False) -> list[str]:
    lines = [line for line in _run(["ip", *args]).splitlines() if line.strip()]
    return [line.split()[0] for line in lines] if first_word else lines


def _links() -> list[str]:
    """The names of the host's links (`ip -o link` prints "3: name@peer: <...>")."""
    return [line.split(":")[1].strip().split("@")[0] for line in _lines("-o", "link", "show")]


def _used_networks() -> list[ipaddress.IPv4Network]:
    """Every IPv4 network of an address or a route on this host (a /24 must overlap none)."""
    used = []
    for line in _lines("-4", "-o", "addr", "show") + _lines("-4", "route", "show"):
        for word in line.split():
            if "." not in word:
                continue
            try:
                used.append(ipaddress.IPv4Network(word, strict=False))
            except ValueError:
                continue
    return used


def _is_free(prefix: str) -> bool:
    subnet = ipaddress.IPv4Network(f"{prefix}.0/24")
    return not any(subnet.overlaps(network) for network in _used_networks())
