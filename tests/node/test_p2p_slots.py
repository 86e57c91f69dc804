"""Issue 13, finding 3: strangers cannot take the p2p handshake slots from peers.

An attacker on another address (127.0.0.2) keeps 100 idle TCP connections open to every node's
p2p port, reopening each one the moment it is closed. A restarted peer must still rejoin: the
addresses of genesis nodes have handshake slots of their own, a stranger gets a few per address,
and an unfinished TLS handshake is closed after TLS_HANDSHAKE_TIMEOUT_S."""

from __future__ import annotations

import asyncio
import contextlib
import ssl

import aiohttp

from node.net.p2p import P2P_PATH
from node.net.slots import (
    MAX_STRANGER_TLS_HANDSHAKES,
    PEER_TLS_HANDSHAKES_PER_PEER,
    PENDING_HANDSHAKES_PER_PEER,
    STRANGER_TLS_HANDSHAKES_PER_ADDRESS,
    HandshakeSlots,
    PeerHandshakes,
)
from tests.node.test_p2p import NAMES, fully_linked, wait_for
from tests.node.test_p2p import cluster as cluster  # the fixture

IDLE_PER_NODE = 100
ATTACKER = "127.0.0.2"


async def hold_idle_connections(ports: list[int], stop: asyncio.Event,
                                filled: asyncio.Event) -> None:
    held: dict[int, list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]] = {
        port: [] for port in ports}
    try:
        while not stop.is_set():
            for port, conns in held.items():
                for reader, writer in [c for c in conns if c[0].at_eof() or c[1].is_closing()]:
                    conns.remove((reader, writer))
                    writer.close()
                while len(conns) < IDLE_PER_NODE:
                    try:
                        conns.append(await asyncio.open_connection(
                            "127.0.0.1", port, local_addr=(ATTACKER, 0)))
                    except OSError:
                        break
            filled.set()  # one whole round: every port has had its connections
            await asyncio.sleep(0.01)
    finally:
        for conns in held.values():
            for _, writer in conns:
                writer.close()


async def test_idle_strangers_do_not_keep_a_restarted_peer_out(cluster) -> None:
    started = {name: await cluster.start(name) for name in NAMES}
    networks = {name: network for name, (network, _) in started.items()}
    await wait_for(lambda: fully_linked(networks))
    stop, filled = asyncio.Event(), asyncio.Event()
    attacker = asyncio.create_task(hold_idle_connections(
        [peer.port for peer in cluster.peers], stop, filled))
    try:
        await asyncio.wait_for(filled.wait(), 30)
        await asyncio.sleep(0.5)
        await cluster.stop(networks["n1"])
        await wait_for(lambda: all("n1" not in networks[name].connected()
                                   for name in ("n0", "n2", "n3")))
        # with a node's own reconnect back-off (100 ms doubling to 5 s), not the fast test one
        networks["n1"], _ = await cluster.start("n1", reconnect_initial_ms=100,
                                                reconnect_max_ms=5_000)
        await wait_for(lambda: fully_linked(networks), timeout=15.0)
        assert networks["n0"].stats["refused_busy"] > 0  # the attacker was there, and refused
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await attacker


def test_slots_per_pool_and_per_address() -> None:
    slots = HandshakeSlots({"10.0.0.1": 1, "10.0.0.2": 2})
    assert all(slots.acquire("10.0.0.2") for _ in range(2 * PEER_TLS_HANDSHAKES_PER_PEER))
    assert not slots.acquire("10.0.0.2")
    assert all(slots.acquire("6.6.6.6") for _ in range(STRANGER_TLS_HANDSHAKES_PER_ADDRESS))
    assert not slots.acquire("6.6.6.6")
    for i in range(MAX_STRANGER_TLS_HANDSHAKES):
        slots.acquire(f"7.7.{i // 256}.{i % 256}")
    assert slots.strangers == MAX_STRANGER_TLS_HANDSHAKES
    assert not slots.acquire("8.8.8.8")
    assert slots.acquire("10.0.0.1")  # a peer's slots are its own
    slots.release("6.6.6.6")
    assert slots.acquire("8.8.8.8")


# ---- issue 27, item 4: handshake slots per claimed peer ---------------------------------------

async def test_one_peers_certificate_cannot_take_anothers_handshake_slots(cluster) -> None:
    """Someone holding n1's certificate and TLS key (not its operator key: it never says
    hello) opens more handshakes at n3 than there are peers' slots and holds them. n0's
    genuine handshake still gets in; before, the cap was 2 x peers over all of them, and n0
    was refused until the holder's handshakes timed out."""
    victim, _ = await cluster.start("n3", handshake_timeout_ms=60_000)
    stolen = cluster.identities["n1"]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=cluster.ca_path)
    context.load_cert_chain(stolen.cert_path, stolen.key_path)
    url = f"https://127.0.0.1:{cluster.peers[3].port}{P2P_PATH}"
    async with aiohttp.ClientSession() as session:
        held = []
        for _ in range(2 * len(NAMES) + 2):
            with contextlib.suppress(aiohttp.WSServerHandshakeError):
                held.append(await session.ws_connect(url, ssl=context))
        # read what comes (the victim's hello), answering its heartbeat pings meanwhile
        readers = [asyncio.create_task(_read_all(ws)) for ws in held]
        assert len(held) == PENDING_HANDSHAKES_PER_PEER  # the rest refused 503
        assert victim.stats["refused_busy"] == 2 * len(NAMES) + 2 - len(held)
        await cluster.start("n0")
        await wait_for(lambda: victim.connected() == ["n0"], timeout=10.0)
        for ws in held:
            await ws.close()
        await asyncio.gather(*readers)


async def _read_all(ws: aiohttp.ClientWebSocketResponse) -> None:
    async for _ in ws:
        pass


def test_peer_handshakes_are_counted_per_claimed_peer() -> None:
    slots = PeerHandshakes()
    assert all(slots.acquire("bank") for _ in range(PENDING_HANDSHAKES_PER_PEER))
    assert not slots.acquire("bank")
    assert slots.acquire("ksd")
    slots.release("bank")
    assert slots.acquire("bank") and not slots.acquire("bank")
