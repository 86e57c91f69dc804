"""node.tools.relay on loopback (no root: 127.0.0.0/8 is all ours): what it forwards, what a
held or slowed direction does, who it refuses, its control socket; and real p2p links through
it, whose heartbeats must notice a held link and relink after the heal."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from consensus.crypto import Signer
from genesis.certs import cert_pem, key_pem, make_ca, make_node_cert
from node.net.p2p import Peer, PeerNetwork
from node.tools.relay import Relay, RelayError, Route, control

# Node i dials from its own address and is dialed at its relay address (node.tools.netns's
# layout, on loopback).
OWN = {"a": "127.0.0.11", "b": "127.0.0.12", "c": "127.0.0.13"}
RELAYED = {"a": "127.0.0.101", "b": "127.0.0.102", "c": "127.0.0.103"}


async def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.01)


def free_port() -> int:
    """A port free on every address we use (bound on all of them at once, then released)."""
    with socket.socket() as probe:
        probe.bind(("0.0.0.0", 0))
        return int(probe.getsockname()[1])


class Sink:
    """A node's listening side for the raw tests: keeps each connection's streams."""

    def __init__(self) -> None:
        self.accepted: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> None:
        self.server = await asyncio.start_server(
            lambda r, w: self.accepted.append((r, w)), host, port)

    def close(self) -> None:
        assert self.server is not None
        self.server.close()
        for _, writer in self.accepted:
            writer.close()


@pytest.fixture
async def relayed():
    """A relay for nodes a, b, c at one port, and a sink at a's own address."""
    port = free_port()
    routes = [Route(name, (RELAYED[name], port), (OWN[name], port)) for name in OWN]
    relay = Relay(routes)
    await relay.start()
    sink = Sink()
    await sink.start(OWN["a"], port)
    yield relay, sink, port
    sink.close()
    await relay.stop()


async def dial(source: str, port: int, to: str = "a"
               ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to `to`'s relay address from node `source`'s own address."""
    return await asyncio.open_connection(RELAYED[to], port, local_addr=(OWN[source], 0))


async def read_exactly(reader: asyncio.StreamReader, count: int) -> bytes:
    return await asyncio.wait_for(reader.readexactly(count), 10)


async def test_forwards_both_ways_and_the_acceptor_sees_the_dialers_relay_address(relayed):
    relay, sink, port = relayed
    reader, writer = await dial("b", port)
    await wait_for(lambda: len(sink.accepted) == 1)
    far_reader, far_writer = sink.accepted[0]
    assert far_writer.get_extra_info("peername")[0] == RELAYED["b"]
    writer.write(b"ping")
    assert await read_exactly(far_reader, 4) == b"ping"
    far_writer.write(b"pong")
    assert await read_exactly(reader, 4) == b"pong"
    assert relay.bytes[("b", "a")] == 4 and relay.bytes[("a", "b")] == 4
    far_writer.close()  # a close on one side closes the other
    assert await asyncio.wait_for(reader.read(), 10) == b""
    writer.close()


async def test_a_held_direction_stops_until_the_heal_then_delivers_everything_in_order(relayed):
    relay, sink, port = relayed
    reader, writer = await dial("b", port)
    await wait_for(lambda: len(sink.accepted) == 1)
    far_reader, far_writer = sink.accepted[0]
    relay.set_policy({"held": [["b", "a"]]})  # one way: b's bytes stop, a's still flow
    writer.write(b"held-1")
    # The relay has read b's bytes and stopped, both halves of its pump: nothing was written.
    await wait_for(lambda: relay.parked[("b", "a")] == 2)
    far_writer.write(b"open")
    assert await read_exactly(reader, 4) == b"open"
    writer.write(b"held-2")
    await writer.drain()
    assert relay.bytes[("b", "a")] == 0 and relay.parked[("b", "a")] == 2
    # what a controller reads back to know the hold took effect (node.tools.nemesis)
    assert relay.show()["stopped"] == [["b", "a", 2]]
    relay.set_policy({"held": []})
    assert await read_exactly(far_reader, 12) == b"held-1held-2"
    writer.close()


async def test_a_new_connection_across_a_partition_waits_unconnected_until_the_heal(relayed):
    relay, sink, port = relayed
    relay.set_policy({"held": [["a", "c"], ["c", "a"]]})
    _, writer = await dial("c", port)
    writer.write(b"hello")
    await wait_for(lambda: relay.waiting_for_heal == 1)
    assert sink.accepted == []  # not even a connection reached a
    assert relay.show()["stopped"] == [["a", "c", 1], ["c", "a", 1]]
    relay.set_policy({"held": []})
    await wait_for(lambda: len(sink.accepted) == 1)
    assert await read_exactly(sink.accepted[0][0], 5) == b"hello"
    writer.close()


async def test_a_dialer_that_gives_up_across_a_partition_never_reaches_the_node(relayed):
    """As an unanswered SYN is forgotten: on heal, only connections still wanted go through
    (else a node is hit by every redial its peer made during the partition at once)."""
    relay, sink, port = relayed
    relay.set_policy({"held": [["c", "a"], ["a", "c"]]})
    for _ in range(3):
        _, writer = await dial("c", port)
        writer.write(b"client hello")
        await wait_for(lambda: relay.waiting_for_heal == 1)
        writer.close()  # the dialer's timeout gave up
        await wait_for(lambda: relay.waiting_for_heal == 0)
    _, wanted = await dial("c", port)
    await wait_for(lambda: relay.waiting_for_heal == 1)
    relay.set_policy({"held": []})
    await wait_for(lambda: len(sink.accepted) == 1)
    assert relay.stats["abandoned_while_held"] == 3 and relay.stats["connections"] == 1
    wanted.close()


async def test_a_slowed_direction_delays_each_chunk_in_order(relayed):
    relay, sink, port = relayed
    relay.set_policy({"delay_ms": [["b", "a", 300]]})
    reader, writer = await dial("b", port)
    await wait_for(lambda: len(sink.accepted) == 1)
    far_reader, far_writer = sink.accepted[0]
    loop = asyncio.get_running_loop()
    sent = loop.time()
    writer.write(b"first")
    await writer.drain()
    writer.write(b"second")
    assert await read_exactly(far_reader, 11) == b"firstsecond"
    assert loop.time() - sent >= 0.3  # never earlier than the delay (a lower bound only)
    far_writer.write(b"back")  # the other direction is not slowed: it simply arrives
    assert await read_exactly(reader, 4) == b"back"
    assert relay.delayed[("b", "a")] >= 1 and relay.show()["delayed"] == [
        ["b", "a", relay.delayed[("b", "a")]]]
    writer.close()


async def test_connections_from_strangers_and_loops_are_refused(relayed):
    relay, sink, port = relayed
    for source in ("127.0.0.99", OWN["a"]):  # not a node; a itself dialing a
        reader, writer = await asyncio.open_connection(RELAYED["a"], port,
                                                       local_addr=(source, 0))
        assert await asyncio.wait_for(reader.read(), 10) == b""
        writer.close()
    assert relay.stats["refused_stranger"] == 2
    assert sink.accepted == []


@pytest.mark.parametrize(("request_", "error"), [
    ({"held": [["a", "nobody"]]}, "'nobody' is not a node"),
    ({"held": [["a", "a"]]}, "itself is not a link"),
    ({"held": [["a"]]}, "a direction is [from, to]"),
    ({"held": "a,b"}, "held must be a list"),
    ({"delay_ms": [["a", "b", -1]]}, "not an integer in [0, 10000]"),
    ({"delay_ms": [["a", "b", 1.5]]}, "not an integer"),
    ({"delay_ms": [["a", "b"]]}, "[from, to, ms]"),
])
async def test_a_bad_policy_is_refused_and_changes_nothing(relayed, request_, error):
    relay, _, _ = relayed
    relay.set_policy({"held": [["b", "c"]], "delay_ms": [["c", "b", 5]]})
    with pytest.raises(RelayError) as raised:
        relay.set_policy(request_)
    assert error in str(raised.value)
    assert relay.policy.to_json() == {"held": [["b", "c"]], "delay_ms": [["c", "b", 5]]}


async def test_the_control_socket_sets_and_shows_the_policy(relayed, tmp_path: Path):
    relay, _, _ = relayed
    path = tmp_path / "relay.sock"
    server = await relay.serve_control(path)
    try:
        loop = asyncio.get_running_loop()
        answer = await loop.run_in_executor(None, control, path,
                                            {"op": "set", "held": [["a", "b"]]})
        assert answer["held"] == [["a", "b"]]
        shown = await loop.run_in_executor(None, control, path, {"op": "show"})
        assert shown["held"] == [["a", "b"]] and "stats" in shown
        with pytest.raises(RelayError, match="unknown op 'drop'"):
            await loop.run_in_executor(None, control, path, {"op": "drop"})
        with pytest.raises(RelayError, match="'x' is not a node"):
            await loop.run_in_executor(None, control, path, {"op": "set", "held": [["x", "a"]]})
        assert relay.policy.to_json()["held"] == [["a", "b"]]
    finally:
        server.close()


# ---- p2p links through the relay ---------------------------------------------------------

# Two nodes: a dials b (the node listed first dials). A PeerNetwork dials from the kernel's
# choice of source address, 127.0.0.1 on loopback, so a's own address is 127.0.0.1 here; in a
# namespace a node's only address is its own.
LINK_OWN = {"a": "127.0.0.1", "b": "127.0.0.12"}


class Link:
    """Two PeerNetworks whose genesis lists each at its relay address while each listens on
    its own; heartbeats are short so that the tests notice held links quickly."""

    HEARTBEAT_MS = 300

    def __init__(self, tmp_path: Path, port: int) -> None:
        ca_key, ca_cert = make_ca("relay-test")
        (tmp_path / "ca.pem").write_bytes(cert_pem(ca_cert))
        self.ca = str(tmp_path / "ca.pem")
        self.port = port
        self.signers = {name: Signer.generate() for name in LINK_OWN}
        self.files: dict[str, tuple[str, str, str]] = {}
        for name in LINK_OWN:
            key, cert = make_node_cert(ca_key, ca_cert, name, (RELAYED[name],))
            (tmp_path / f"{name}.crt").write_bytes(cert_pem(cert))
            (tmp_path / f"{name}.key").write_bytes(key_pem(key))
            self.files[name] = (cert_pem(cert).decode(), str(tmp_path / f"{name}.crt"),
                                str(tmp_path / f"{name}.key"))
        self.peers = [Peer(name, self.signers[name].public_key, self.files[name][0],
                           RELAYED[name], port, True) for name in LINK_OWN]
        self.networks: dict[str, PeerNetwork] = {}

    async def start(self) -> None:
        for name in LINK_OWN:
            _, cert_path, key_path = self.files[name]
            network = PeerNetwork(
                chain_id="relay-test", me=name, signer=self.signers[name], peers=self.peers,
                ca_cert_path=self.ca, tls_cert_path=cert_path, tls_key_path=key_path,
                on_frame=lambda peer, frame: None, reconnect_initial_ms=20,
                reconnect_max_ms=200, heartbeat_ms=self.HEARTBEAT_MS,
                handshake_timeout_ms=2_000, listen=(LINK_OWN[name], self.port))
            await network.start()
            self.networks[name] = network

    def linked(self) -> bool:
        return self.networks["a"].connected() == ["b"] and self.networks["b"].connected() == ["a"]

    def unlinked(self) -> bool:
        return self.networks["a"].connected() == [] and self.networks["b"].connected() == []

    async def stop(self) -> None:
        for network in self.networks.values():
            await network.stop()


@pytest.fixture
async def link(tmp_path: Path):
    port = free_port()
    relay = Relay([Route(name, (RELAYED[name], port), (LINK_OWN[name], port))
                   for name in LINK_OWN])
    await relay.start()
    link = Link(tmp_path, port)
    await link.start()
    yield relay, link
    await link.stop()
    await relay.stop()


async def test_nodes_link_through_the_relay_at_the_addresses_genesis_lists(link):
    relay, link = link
    await wait_for(link.linked)
    assert relay.open[("a", "b")] == 1  # the one connection went through the relay
    for network in link.networks.values():
        assert network.stats["refused_tls"] == network.stats["refused_busy"] == 0


@pytest.mark.parametrize("held", [
    [["a", "b"], ["b", "a"]],  # cut both ways
    [["a", "b"]],  # one way: the dialer's frames and pongs never reach the acceptor
    [["b", "a"]],  # the other way round
])
async def test_heartbeats_notice_a_held_link_and_it_relinks_after_the_heal(link, held):
    """TCP stays healthy on both legs of a held link: only the websocket heartbeat can tell.
    The side that hears nothing stops trusting the link, closes it, and the close reaches the
    other side; after the heal the dialer's next attempt gets through."""
    relay, link = link
    await wait_for(link.linked)
    relay.set_policy({"held": held})
    await wait_for(link.unlinked)
    relay.set_policy({"held": []})
    await wait_for(link.linked)
    assert link.networks["a"].stats["reconnects"] == 1
