"""Peer links over real TLS on 127.0.0.1: mesh, order, reconnects and every kind of refusal."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import aiohttp
import pytest

from consensus.codec import pack, sha256
from consensus.crypto import HANDSHAKE_DOMAIN, Signer, verify
from genesis.certs import cert_pem, key_pem, make_ca, make_node_cert
from node.net.p2p import (
    HandshakeError,
    Hello,
    HelloProof,
    Peer,
    PeerNetwork,
    compute_handshake_bytes,
)
from node.net.queue import MAX_QUEUE_BYTES as QUEUE_BYTES_DEFAULT

CHAIN = "stoledger-test"
NAMES = ("n0", "n1", "n2", "n3")


async def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until `condition()` holds; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.01)


def reserve_port() -> socket.socket:
    """A socket bound to a free loopback port, held for as long as the test needs the port.

    Binding, closing and binding again races with anything else on the machine that binds
    port 0 in between. Instead the reservation stays bound (SO_REUSEADDR, never listening):
    no other socket can bind the port, while the node's server, which binds with
    SO_REUSEADDR too (asyncio's default), can listen on it, and again after a restart."""
    reservation = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    reservation.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    reservation.bind(("127.0.0.1", 0))
    return reservation


@dataclass
class Identity:
    """What one node holds: its operator key and its TLS certificate and key on disk."""

    signer: Signer
    cert_pem: str
    cert_path: str
    key_path: str


@dataclass
class Inbox:
    frames: list[tuple[str, bytes]] = field(default_factory=list)

    def __call__(self, peer: str, frame: bytes) -> None:
        if frame == b"boom":
            raise RuntimeError("a bug in the host")
        self.frames.append((peer, frame))

    def from_peer(self, peer: str) -> list[bytes]:
        return [frame for sender, frame in self.frames if sender == peer]


class Cluster:
    """A CA, four genesis identities, and the networks a test starts (stopped at teardown)."""

    def __init__(self, tmp_path: Path, voting: tuple[bool, ...] = (True,) * 4) -> None:
        self.tmp_path = tmp_path
        self.ca_key, self.ca_cert = make_ca(CHAIN)
        self.ca_path = self._write("ca.pem", cert_pem(self.ca_cert))
        self.identities = {name: self.make_identity(name) for name in NAMES}
        self.reservations = [reserve_port() for _ in NAMES]  # closed by `close`
        self.peers = [
            Peer(name=name, public_key=self.identities[name].signer.public_key,
                 tls_cert_pem=self.identities[name].cert_pem, host="127.0.0.1",
                 port=reservation.getsockname()[1], voting=is_voting)
            for name, is_voting, reservation in zip(NAMES, voting, self.reservations,
                                                    strict=True)
        ]
        self.networks: list[PeerNetwork] = []

    def _write(self, file_name: str, data: bytes) -> str:
        path = self.tmp_path / file_name
        path.write_bytes(data)
        return str(path)

    def make_identity(self, name: str, ca: tuple | None = None, tag: str = "") -> Identity:
        ca_key, ca_cert = ca or (self.ca_key, self.ca_cert)
        key, cert = make_node_cert(ca_key, ca_cert, name)
        return Identity(Signer.generate(), cert_pem(cert).decode(),
                        self._write(f"{name}{tag}.crt", cert_pem(cert)),
                        self._write(f"{name}{tag}.key", key_pem(key)))

    async def start(self, name: str, *, identity: Identity | None = None, chain: str = CHAIN,
                    **limits: int) -> tuple[PeerNetwork, Inbox]:
        """Start `name`; a substitute `identity` also goes into that node's own peer list,
        as an impostor's doctored genesis would."""
        identity = identity or self.identities[name]
        peers = [replace(peer, public_key=identity.signer.public_key,
                         tls_cert_pem=identity.cert_pem) if peer.name == name else peer
                 for peer in self.peers]
        inbox = Inbox()
        limits = {"reconnect_initial_ms": 20, "reconnect_max_ms": 200, **limits}
        network = PeerNetwork(chain_id=chain, me=name, signer=identity.signer, peers=peers,
                              ca_cert_path=self.ca_path, tls_cert_path=identity.cert_path,
                              tls_key_path=identity.key_path, on_frame=inbox, **limits)
        await network.start()
        self.networks.append(network)
        return network, inbox

    async def stop(self, network: PeerNetwork) -> None:
        self.networks.remove(network)
        await network.stop()

    async def close(self) -> None:
        for network in list(self.networks):
            await self.stop(network)
        for reservation in self.reservations:
            reservation.close()


@pytest.fixture
async def cluster(tmp_path: Path):
    cluster = Cluster(tmp_path)
    yield cluster
    await cluster.close()


def fully_linked(networks: dict[str, PeerNetwork]) -> bool:
    return all(network.connected() == sorted(set(networks) - {name})
               for name, network in networks.items())


# ---- the handshake messages (no network) -------------------------------------------------

def test_hello_round_trip_and_rejects_malformed_frames() -> None:
    hello = Hello(CHAIN, "n0", bytes(32))
    assert Hello.decode(hello.encode()) == hello
    bad_frames = [
        b"\xc1",                                                    # not msgpack
        pack({"type": "hello", "chain": CHAIN, "name": "n0", "nonce": bytes(31)}),
        pack({"type": "hello", "chain": CHAIN, "name": "n0"}),
        pack({"type": "hello_proof", "signature": bytes(64)}),
        pack({"type": "hello", "chain": CHAIN, "name": "n0", "nonce": bytes(32), "x": 1}),
        pack({"type": "hello", "chain": "c" * 2000, "name": "n0", "nonce": bytes(32)}),
    ]
    for frame in bad_frames:
        with pytest.raises(HandshakeError) as raised:
            Hello.decode(frame)
        assert raised.value.code == "bad_message"
    with pytest.raises(HandshakeError):
        HelloProof.decode(pack({"type": "hello_proof", "signature": bytes(63)}))


def test_handshake_signature_is_bound_to_link_nonces_and_certificate() -> None:
    signer = Signer.generate()
    cert_hash = sha256(b"cert")
    nonces = (b"a" * 32, b"b" * 32)
    signed = compute_handshake_bytes(CHAIN, "n0", "n1", *nonces, cert_hash)
    signature = signer.sign(HANDSHAKE_DOMAIN, signed)
    assert verify(signer.public_key, HANDSHAKE_DOMAIN, signed, signature)
    replays = [
        compute_handshake_bytes("other-chain", "n0", "n1", *nonces, cert_hash),
        compute_handshake_bytes(CHAIN, "n0", "n2", *nonces, cert_hash),
        compute_handshake_bytes(CHAIN, "n1", "n0", *nonces, cert_hash),
        compute_handshake_bytes(CHAIN, "n0", "n1", b"a" * 32, b"c" * 32, cert_hash),
        compute_handshake_bytes(CHAIN, "n0", "n1", *nonces, sha256(b"other cert")),
    ]
    for other in replays:
        assert not verify(signer.public_key, HANDSHAKE_DOMAIN, other, signature)


# ---- links over TLS ----------------------------------------------------------------------

async def test_full_mesh_exchanges_frames_both_ways_in_order(cluster: Cluster) -> None:
    started = {name: await cluster.start(name) for name in NAMES}
    networks = {name: network for name, (network, _) in started.items()}
    await wait_for(lambda: fully_linked(networks))

    count = 200
    for sender, network in networks.items():
        for receiver in NAMES:
            if receiver != sender:
                for index in range(count):
                    assert network.send(receiver, f"{sender}>{receiver}:{index}".encode())

    def all_delivered() -> bool:
        return all(len(inbox.frames) == count * 3 for _, inbox in started.values())

    await wait_for(all_delivered)
    for receiver, (network, inbox) in started.items():
        for sender in NAMES:
            if sender != receiver:
                expected = [f"{sender}>{receiver}:{index}".encode() for index in range(count)]
                assert inbox.from_peer(sender) == expected
        assert network.stats["frames_in"] == count * 3
        assert network.stats["frames_out"] == count * 3
        assert network.stats["refused_tls"] == network.stats["refused_handshake"] == 0
    # One link per pair: six pairs, each link opened once at each end.
    assert sum(network.stats["links_opened"] for network in networks.values()) == 12


async def test_broadcast_reaches_voting_peers_and_observers_on_request(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, voting=(True, True, True, False))  # n3 is an observer
    try:
        started = {name: await cluster.start(name) for name in NAMES}
        networks = {name: network for name, (network, _) in started.items()}
        await wait_for(lambda: fully_linked(networks))

        networks["n1"].broadcast(b"votes")
        networks["n1"].broadcast(b"block", voting_only=False)
        await wait_for(lambda: started["n3"][1].frames == [("n1", b"block")])
        for name in ("n0", "n2"):
            await wait_for(lambda name=name: len(started[name][1].frames) == 2)
            assert started[name][1].from_peer("n1") == [b"votes", b"block"]
        assert started["n1"][1].frames == []
    finally:
        await cluster.close()


async def test_restarted_peer_is_reconnected_and_frames_flow_again(cluster: Cluster) -> None:
    started = {name: await cluster.start(name) for name in NAMES}
    networks = {name: network for name, (network, _) in started.items()}
    await wait_for(lambda: fully_linked(networks))

    # n1 is dialed by n0 and dials n2 and n3, so its restart exercises both roles.
    await cluster.stop(networks["n1"])
    await wait_for(lambda: all("n1" not in networks[name].connected()
                               for name in ("n0", "n2", "n3")))
    networks["n1"], inbox = await cluster.start("n1")
    await wait_for(lambda: fully_linked(networks))

    for name in ("n0", "n2", "n3"):
        assert networks[name].send("n1", f"hello from {name}".encode())
        assert networks["n1"].send(name, b"back again")
    await wait_for(lambda: len(inbox.frames) == 3)
    assert sorted(inbox.frames) == [(name, f"hello from {name}".encode())
                                    for name in ("n0", "n2", "n3")]
    for name in ("n0", "n2", "n3"):
        await wait_for(lambda name=name: started[name][1].from_peer("n1") == [b"back again"])
        assert networks[name].stats["reconnects"] == 1


async def test_certificate_from_another_ca_is_refused_by_tls(cluster: Cluster) -> None:
    impostor = cluster.make_identity("n1", ca=make_ca("other-chain"), tag="-other-ca")
    impostor.signer = cluster.identities["n1"].signer  # even with the real operator key
    n0, inbox0 = await cluster.start("n0")
    n1, _ = await cluster.start("n1", identity=impostor)
    n2, inbox2 = await cluster.start("n2")

    # n0 dials n1 and refuses its server certificate; n1 dials n2, whose TLS refuses n1's
    # client certificate.
    await wait_for(lambda: n0.stats["refused_tls"] >= 2 and n2.stats["refused_tls"] >= 2)
    await wait_for(lambda: n0.connected() == ["n2"] and n2.connected() == ["n0"])
    assert n1.connected() == []
    refused = (n0.stats["refused_tls"], n2.stats["refused_tls"])
    for peer in ("n0", "n2"):
        n1.send(peer, b"from the impostor")
    # n1 keeps dialling with whatever it queued: wait until both peers refused it twice more,
    # so the frames had every chance to arrive, then check that none did
    await wait_for(lambda: n0.stats["refused_tls"] >= refused[0] + 2
                   and n2.stats["refused_tls"] >= refused[1] + 2)
    assert inbox0.from_peer("n1") == inbox2.from_peer("n1") == []
    assert n0.stats["frames_in"] == n2.stats["frames_in"] == 0


async def test_ca_signed_certificate_not_in_genesis_is_refused(cluster: Cluster) -> None:
    impostor = cluster.make_identity("n1", tag="-not-in-genesis")  # same CA, same name
    impostor.signer = cluster.identities["n1"].signer
    n0, inbox0 = await cluster.start("n0")
    n1, _ = await cluster.start("n1", identity=impostor)
    n2, inbox2 = await cluster.start("n2")

    # n0 pins n1's server certificate; n2 pins n1's client certificate.
    await wait_for(lambda: n0.stats["refused_tls"] >= 2 and n2.stats["refused_tls"] >= 2)
    await wait_for(lambda: n0.connected() == ["n2"] and n2.connected() == ["n0"])
    assert n1.connected() == []
    assert n0.stats["refused_handshake"] == n2.stats["refused_handshake"] == 0
    assert inbox0.from_peer("n1") == inbox2.from_peer("n1") == []


async def test_operator_key_not_in_genesis_is_refused_at_handshake(cluster: Cluster) -> None:
    genuine = cluster.identities["n1"]
    impostor = Identity(Signer.generate(), genuine.cert_pem, genuine.cert_path, genuine.key_path)
    n0, inbox0 = await cluster.start("n0")
    n1, _ = await cluster.start("n1", identity=impostor)
    n2, inbox2 = await cluster.start("n2")

    async def keep_sending() -> None:
        while True:
            n1.broadcast(b"from the impostor")
            await asyncio.sleep(0.005)

    sender = asyncio.create_task(keep_sending())
    try:
        await wait_for(lambda: n0.stats["refused_handshake"] >= 3
                       and n2.stats["refused_handshake"] >= 3)
    finally:
        sender.cancel()
    await wait_for(lambda: n0.connected() == ["n2"] and n2.connected() == ["n0"])
    assert "n1" not in n0.connected() + n2.connected()
    assert n0.stats["refused_tls"] == n2.stats["refused_tls"] == 0
    assert inbox0.from_peer("n1") == inbox2.from_peer("n1") == []
    assert n0.stats["frames_in"] == n2.stats["frames_in"] == 0


async def test_wrong_chain_is_refused(cluster: Cluster) -> None:
    n0, inbox0 = await cluster.start("n0")
    n1, inbox1 = await cluster.start("n1", chain="another-chain")
    await wait_for(lambda: n0.stats["refused_handshake"] >= 2
                   and n1.stats["refused_handshake"] >= 2)
    assert n0.connected() == n1.connected() == []
    assert inbox0.frames == inbox1.frames == []


async def test_oversize_frames_are_dropped_and_counted(cluster: Cluster) -> None:
    small, small_inbox = await cluster.start("n0", max_frame_bytes=1000)
    large, large_inbox = await cluster.start("n1", max_frame_bytes=100_000)
    await wait_for(lambda: small.connected() == ["n1"] and large.connected() == ["n0"])

    assert small.send("n1", bytes(1000))
    assert not small.send("n1", bytes(1001))
    assert small.stats["dropped_too_big"] == 1
    await wait_for(lambda: large_inbox.frames == [("n0", bytes(1000))])

    # A peer that sends more than our limit gets its frame dropped and its link closed.
    assert large.send("n0", bytes(5000))
    await wait_for(lambda: small.stats["dropped_oversize_in"] == 1)
    await wait_for(lambda: small.stats["reconnects"] == 1 and large.stats["reconnects"] == 1
                   and small.connected() == ["n1"] and large.connected() == ["n0"])
    assert large.send("n0", b"small enough")
    await wait_for(lambda: small_inbox.frames == [("n1", b"small enough")])


async def test_queue_bound_is_respected_and_queued_frames_delivered_on_connect(
        cluster: Cluster) -> None:
    n0, _ = await cluster.start("n0", max_queue_frames=5)
    results = [n0.send("n1", f"{index}".encode()) for index in range(8)]
    assert results == [True] * 5 + [False] * 3
    assert n0.stats["dropped_queue_full"] == 3
    assert not n0.send("nobody", b"x")
    assert not n0.send("n0", b"to myself")
    assert n0.stats["dropped_unknown_peer"] == 2

    _, inbox1 = await cluster.start("n1")
    await wait_for(lambda: len(inbox1.frames) == 5)
    assert inbox1.from_peer("n0") == [f"{index}".encode() for index in range(5)]
    assert n0.send("n1", b"room again")
    await wait_for(lambda: len(inbox1.frames) == 6)


async def test_a_queue_is_bounded_in_bytes_as_well_as_frames(cluster: Cluster) -> None:
    """A peer that does not read holds at most max_queue_bytes of this node's memory, however
    few frames that is (before, only the count was bounded: 10,000 frames of 16 MiB)."""
    megabyte = b"x" * (1024 * 1024)
    n0, _ = await cluster.start("n0", max_queue_bytes=8 * len(megabyte),
                                max_frame_bytes=2 * len(megabyte))
    results = [n0.send("n1", megabyte) for _ in range(12)]
    assert results == [True] * 8 + [False] * 4
    assert n0.stats["dropped_queue_full"] == 4
    assert not n0.send("n1", b"x")  # full to the byte
    _, inbox1 = await cluster.start("n1")
    await wait_for(lambda: len(inbox1.frames) == 8, timeout=30)
    assert n0.send("n1", megabyte)  # drained: room again
    assert QUEUE_BYTES_DEFAULT < 10_000 * 16 * 1024 * 1024


async def test_on_frame_error_is_counted_and_the_link_carries_on(cluster: Cluster) -> None:
    n0, _ = await cluster.start("n0")
    n1, inbox1 = await cluster.start("n1")
    await wait_for(lambda: n0.connected() == ["n1"])
    for frame in (b"before", b"boom", b"after"):
        assert n0.send("n1", frame)
    await wait_for(lambda: inbox1.from_peer("n0") == [b"before", b"after"])
    assert n1.stats["on_frame_errors"] == 1
    assert n0.stats["links_opened"] == n1.stats["links_opened"] == 1


async def test_peer_dialing_against_the_rule_is_refused(cluster: Cluster) -> None:
    # n1 with a doctored peer order thinks it comes first, so it dials n0, and n0 refuses.
    # (n0 also dials n1, which refuses it in turn.) No link either way, both counted.
    order = [cluster.peers[1], cluster.peers[0], *cluster.peers[2:]]
    n0, _ = await cluster.start("n0")
    cluster.peers = order
    n1, _ = await cluster.start("n1")
    await wait_for(lambda: n0.stats["refused_handshake"] >= 2
                   and n1.stats["refused_handshake"] >= 2)
    assert n0.connected() == n1.connected() == []


@pytest.mark.parametrize("side", ["dialer", "acceptor"])
async def test_a_link_that_breaks_in_its_reader_is_redialed(cluster: Cluster, side: str,
                                                            caplog: pytest.LogCaptureFixture
                                                            ) -> None:
    """A websocket's reader can fail with a connection error, not only end: its automatic
    pong written into a transport that is already closing (seen in the chaos soak when a
    node came back from SIGSTOP to links its peers had closed). That is the link ending: the
    dialer must dial again. It used to escape and end the dialer's task silently, so that
    pair never linked again; on the accepting side aiohttp logged it as a server error."""
    started = {name: await cluster.start(name) for name in ("n0", "n1")}
    n0, n1 = started["n0"][0], started["n1"][0]
    await wait_for(lambda: n0.connected() == ["n1"] and n1.connected() == ["n0"])
    breaking, other = (n0, n1) if side == "dialer" else (n1, n0)  # n0 dials n1
    ws = breaking._links[other._me].ws

    async def pong_into_a_closing_transport() -> None:
        raise aiohttp.ClientConnectionResetError("Cannot write to closing transport")

    ws.receive = pong_into_a_closing_transport  # type: ignore[method-assign]
    assert other.send(breaking._me, b"wake the reader")  # its next receive() breaks
    await wait_for(lambda: n0.stats["links_opened"] == 2 and n1.stats["links_opened"] == 2)
    await wait_for(lambda: n0.connected() == ["n1"] and n1.connected() == ["n0"])
    assert n0.send("n1", b"again")
    await wait_for(lambda: started["n1"][1].from_peer("n0")[-1:] == [b"again"])
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
