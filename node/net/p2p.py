"""Authenticated links between the nodes listed in genesis: mutual TLS plus a signed handshake.

Theory of operation
-------------------
Every pair of nodes in genesis shares exactly one long-lived websocket. The dial rule: of the
two, the node that comes first in the genesis `peers` list dials, the other accepts. Genesis
lists operators before observers, so operators dial observers. An accepting node refuses a
connection from a peer it should have dialed itself, so a pair never holds two live links.

A link becomes usable in three steps; any failure closes it and is counted:

1. TLS 1.3 with client certificates, both sides verifying against the consortium CA (the
   dialer also checks the host name). The side whose verification fails counts `refused_tls`;
   the accepting side runs the server handshake itself (`_TlsGate`) so that it can count a
   client certificate it refused. The other side only sees the connection drop.
2. Pinning: the peer's certificate (DER) must be exactly the one genesis lists for its name and
   its common name must be that name; a certificate the CA signed for anyone else is refused
   (`refused_tls`).
3. The handshake, two binary frames each way within `handshake_timeout_ms`:
   `Hello{chain, name, nonce}` then `HelloProof{signature}`, the signature being the operator
   key's over `compute_handshake_bytes(...)`: chain, sender, receiver, both fresh nonces and the
   sha256 of the sender's own TLS certificate. It binds the link to the TLS certificate and to
   the genesis operator key and cannot be replayed on another link. A wrong chain, a name that
   does not match the certificate, or a bad signature is `refused_handshake`.

After that only binary frames travel, each handed to `on_frame(peer_name, frame)` in order.
`on_frame` is called synchronously on the event loop from the link's reader task, so it must
not block; it should queue the frame for the host's own processing. If it raises, the error is
logged with its traceback and counted in `on_frame_errors`, and the link carries on.
`send` refuses a frame over `max_frame_bytes` (`dropped_too_big`); a peer that sends one
anyway has it dropped by the websocket reader (`dropped_oversize_in`) and its link closed.
Each peer has one outbound queue, bounded in frames and bytes (node.net.queue), outliving its
links: frames sent before a link is up go once it is. Delivery is at most once: a frame
being written when a link drops is lost (consensus retransmits what matters).
Dialers retry with exponential backoff, whether a link ended or broke (a connection error in
its reader, such as an automatic pong into a closing transport, ends it like a close); when a
peer reconnects while its old link still looks alive, the newest authenticated link replaces
the old one.

This module does I/O and uses `os.urandom` for nonces; it holds no protocol rules beyond the
link itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from consensus.codec import EncodingError, pack, sha256, unpack
from consensus.crypto import HANDSHAKE_DOMAIN, SIGNATURE_BYTES, Signer, verify
from genesis.certs import common_name, load_cert
from node.net.queue import MAX_QUEUE_BYTES, MAX_QUEUE_FRAMES, FrameQueue
from node.net.slots import TLS_HANDSHAKE_TIMEOUT_S, HandshakeSlots, PeerHandshakes, addresses_of

log = logging.getLogger(__name__)
WebSocket = web.WebSocketResponse | aiohttp.ClientWebSocketResponse  # accepted | dialed

P2P_PATH = "/p2p"
NONCE_BYTES = 32
# A hello is a type tag, a chain id, a node name and a nonce; a proof is a type tag and a
# signature. Neither comes near this, and a peer cannot make us decode more before it has
# proved who it is.
HANDSHAKE_FRAME_MAX_BYTES = 1024
# How long stop() waits for aiohttp to finish open handlers after the links are closed, and how
# long closing a websocket waits for the peer's close frame; a peer is on a LAN or nearby.
SHUTDOWN_TIMEOUT_S = 1.0
CLOSE_TIMEOUT_S = 1.0

STAT_NAMES = (
    "frames_in", "frames_out", "bytes_in", "bytes_out",
    "dropped_queue_full", "dropped_too_big", "dropped_unknown_peer", "dropped_oversize_in",
    "refused_tls", "refused_handshake", "refused_protocol", "handshake_aborted", "dial_failures",
    "refused_busy", "links_opened", "links_replaced", "reconnects", "on_frame_errors",
)


@dataclass(frozen=True)
class Peer:
    """One node listed in genesis."""

    name: str
    public_key: bytes  # the operator's Ed25519 key, which signs the handshake
    tls_cert_pem: str
    host: str
    port: int
    voting: bool  # False for observers


class HandshakeError(Exception):
    """A peer broke the link protocol; the link is closed and nothing else changes."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code  # bad_message, wrong_chain, name_mismatch, bad_signature, closed, ...
        self.message = message


@dataclass(frozen=True, slots=True)
class Hello:
    chain: str
    name: str
    nonce: bytes

    def encode(self) -> bytes:
        return pack({"type": "hello", "chain": self.chain, "name": self.name,
                     "nonce": self.nonce})

    @classmethod
    def decode(cls, data: bytes) -> Hello:
        value = _decode_handshake_frame(data, "hello", {"type", "chain", "name", "nonce"})
        chain, name, nonce = value["chain"], value["name"], value["nonce"]
        if not isinstance(chain, str) or not isinstance(name, str):
            raise HandshakeError("bad_message", "chain and name must be strings")
        if not isinstance(nonce, bytes) or len(nonce) != NONCE_BYTES:
            raise HandshakeError("bad_message", f"nonce must be {NONCE_BYTES} bytes")
        return cls(chain, name, nonce)


@dataclass(frozen=True, slots=True)
class HelloProof:
    signature: bytes

    def encode(self) -> bytes:
        return pack({"type": "hello_proof", "signature": self.signature})

    @classmethod
    def decode(cls, data: bytes) -> HelloProof:
        value = _decode_handshake_frame(data, "hello_proof", {"type", "signature"})
        signature = value["signature"]
        if not isinstance(signature, bytes) or len(signature) != SIGNATURE_BYTES:
            raise HandshakeError("bad_message", f"signature must be {SIGNATURE_BYTES} bytes")
        return cls(signature)


def _decode_handshake_frame(data: bytes, type_tag: str, keys: set[str]) -> dict[str, Any]:
    try:
        value = unpack(data, max_bytes=HANDSHAKE_FRAME_MAX_BYTES)
    except EncodingError as error:
        raise HandshakeError("bad_message", error.message) from None
    if not isinstance(value, dict) or set(value) != keys or value["type"] != type_tag:
        raise HandshakeError("bad_message", f"expected a {type_tag} frame")
    return value


def compute_handshake_bytes(chain: str, sender: str, receiver: str, sender_nonce: bytes,
                            receiver_nonce: bytes, sender_cert_sha256: bytes) -> bytes:
    """The bytes `sender` signs (under HANDSHAKE_DOMAIN) to prove the link to `receiver`."""
    return pack({"chain": chain, "from": sender, "to": receiver, "my_nonce": sender_nonce,
                 "their_nonce": receiver_nonce, "cert_sha256": sender_cert_sha256})


def cert_der(pem: str | bytes) -> bytes:
    return load_cert(pem).public_bytes(serialization.Encoding.DER)


def _is_tls_failure(error: BaseException) -> bool:
    seen: BaseException | None = error
    for _ in range(8):  # bounded walk down the cause chain
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLError | ssl.CertificateError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class _TlsGate(asyncio.Protocol):
    """Runs the server side of TLS itself, so that a refused client certificate is counted,
    then hands the connection to aiohttp's request handler.

    (aiohttp's own TLS listener lets the ssl module drop such connections without a trace.)
    Application bytes that arrive between the end of the handshake and the hand-over are kept
    and replayed to the handler.
    """

    def __init__(self, network: PeerNetwork, http: web.Server) -> None:
        self._network = network
        self._http = http
        self._early: list[bytes] = []
        self._eof = False
        self._lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        network = self._network
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
        if not network._slots.acquire(address):
            network.stats["refused_busy"] += 1
            transport.abort()
            return
        transport.pause_reading()  # the ClientHello is for the TLS layer, not for this gate
        task = asyncio.create_task(self._upgrade(transport), name="p2p-tls-accept")
        network._tls_upgrades.add(task)
        task.add_done_callback(network._tls_upgrades.discard)
        task.add_done_callback(lambda _: network._slots.release(address))

    async def _upgrade(self, transport: asyncio.Transport) -> None:
        network = self._network
        try:
            tls = await asyncio.get_running_loop().start_tls(
                transport, self, network._server_ssl, server_side=True,
                ssl_handshake_timeout=min(network._handshake_timeout_s,
                                          TLS_HANDSHAKE_TIMEOUT_S))
        except (ssl.SSLError, ssl.CertificateError) as error:
            network.stats["refused_tls"] += 1
            log.warning("p2p: refused a TLS client: %s", error)
            transport.close()
            return
        except (OSError, TimeoutError, ConnectionError):
            transport.close()
            return
        if tls is None or self._lost:
            return
        handler = self._http()
        tls.set_protocol(handler)
        handler.connection_made(tls)
        for data in self._early:
            handler.data_received(data)
        if self._eof:
            handler.eof_received()

    def data_received(self, data: bytes) -> None:
        self._early.append(data)

    def eof_received(self) -> bool:
        self._eof = True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True


class _Link:
    """One authenticated websocket to one peer, with its writer task."""

    __slots__ = ("peer", "writer", "ws")

    def __init__(self, peer: str, ws: WebSocket) -> None:
        self.peer = peer
        self.ws = ws
        self.writer: asyncio.Task[None] | None = None


class PeerNetwork:
    """The links from this node to every other node in genesis. See the module docstring."""

    def __init__(self, *, chain_id: str, me: str, signer: Signer, peers: list[Peer],
                 ca_cert_path: str, tls_cert_path: str, tls_key_path: str,
                 on_frame: Callable[[str, bytes], None],
                 max_queue_frames: int = MAX_QUEUE_FRAMES, max_queue_bytes: int = MAX_QUEUE_BYTES,
                 max_frame_bytes: int = 16 * 1024 * 1024,
                 reconnect_initial_ms: int = 100, reconnect_max_ms: int = 5_000,
                 heartbeat_ms: int = 5_000, handshake_timeout_ms: int = 5_000,
                 listen: tuple[str, int] | None = None) -> None:
        names = [peer.name for peer in peers]
        if len(set(names)) != len(names):
            raise ValueError("peer names must be unique")
        if me not in names:
            raise ValueError(f"{me!r} is not in the peer list")
        if not 0 < reconnect_initial_ms <= reconnect_max_ms:
            raise ValueError("need 0 < reconnect_initial_ms <= reconnect_max_ms")
        if max_queue_frames < 1 or not 1 <= max_frame_bytes <= max_queue_bytes:
            raise ValueError("limits are positive and a queue holds at least one frame")
        self._chain_id = chain_id
        self._me = me
        self._signer = signer
        self._peers = {peer.name: peer for peer in peers}
        self._index = {name: index for index, name in enumerate(names)}
        self._cert_der = {peer.name: cert_der(peer.tls_cert_pem) for peer in peers}
        self._name_by_cert_der = {der: name for name, der in self._cert_der.items()}
        self._on_frame = on_frame
        self._listen = listen or (self._peers[me].host, self._peers[me].port)
        self._max_frame_bytes = max_frame_bytes
        self._reconnect_initial_s = reconnect_initial_ms / 1000
        self._reconnect_max_s = reconnect_max_ms / 1000
        self._heartbeat_s = heartbeat_ms / 1000
        self._handshake_timeout_s = handshake_timeout_ms / 1000

        with open(tls_cert_path, "rb") as file:
            my_cert_der = cert_der(file.read())
        if my_cert_der != self._cert_der[me]:
            raise ValueError(f"{tls_cert_path} is not the certificate genesis lists for {me}")
        if signer.public_key != self._peers[me].public_key:
            raise ValueError(f"the signer's key is not the key genesis lists for {me}")
        self._my_cert_sha256 = sha256(my_cert_der)
        self._server_ssl = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._client_ssl = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # checks host names
        for context in (self._server_ssl, self._client_ssl):
            context.minimum_version = ssl.TLSVersion.TLSv1_3
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cafile=ca_cert_path)
            context.load_cert_chain(tls_cert_path, tls_key_path)

        self._queues: dict[str, FrameQueue] = {
            name: FrameQueue(max_queue_frames, max_queue_bytes) for name in names if name != me}
        self._links: dict[str, _Link] = {}
        self._ever_linked: set[str] = set()
        self._sockets: set[WebSocket] = set()
        self._handshakes = PeerHandshakes()  # accepted links past TLS, by claimed peer
        self._dialers: list[asyncio.Task[None]] = []
        self._runner: web.AppRunner | None = None
        self._server: asyncio.Server | None = None
        self._tls_upgrades: set[asyncio.Task[None]] = set()
        peer_addresses: dict[str, int] = {}
        for peer in peers:
            if peer.name != me:
                for address in addresses_of(peer.host):
                    peer_addresses[address] = peer_addresses.get(address, 0) + 1
        self._slots = HandshakeSlots(peer_addresses)
        self._session: aiohttp.ClientSession | None = None
        self._stopping = False
        self.stats: dict[str, int] = dict.fromkeys(STAT_NAMES, 0)

    # ---- public API ---------------------------------------------------------------------

    async def start(self) -> None:
        """Serve `GET /p2p` on the listen address and start dialing the peers after me."""
        assert self._runner is None, "start() called twice"
        app = web.Application(client_max_size=HANDSHAKE_FRAME_MAX_BYTES)
        app.router.add_get(P2P_PATH, self._accept)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None,
                                     shutdown_timeout=SHUTDOWN_TIMEOUT_S)
        await self._runner.setup()
        http = self._runner.server
        assert http is not None
        self._server = await asyncio.get_running_loop().create_server(
            lambda: _TlsGate(self, http), *self._listen, reuse_address=True)
        self._session = aiohttp.ClientSession()
        my_index = self._index[self._me]
        self._dialers = [asyncio.create_task(self._dial_forever(peer), name=f"p2p-dial-{name}")
                         for name, peer in self._peers.items() if self._index[name] > my_index]

    async def stop(self) -> None:
        """Close every link, cancel every task, close the server and the client session."""
        self._stopping = True
        if self._server is not None:
            self._server.close()
        await asyncio.gather(*(_close_quietly(ws, aiohttp.WSCloseCode.GOING_AWAY, b"stopping")
                               for ws in list(self._sockets)))
        tasks = [*self._dialers, *self._tls_upgrades]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._dialers = []
        if self._runner is not None:
            await self._runner.cleanup()
        if self._server is not None:
            await self._server.wait_closed()
        if self._session is not None:
            await self._session.close()
        for link in list(self._links.values()):
            if link.writer is not None:
                link.writer.cancel()
        self._links.clear()

    def send(self, peer: str, frame: bytes) -> bool:
        """Queue `frame` for `peer` without blocking; False (and counted) if it was dropped."""
        queue = self._queues.get(peer)
        if queue is None:
            self.stats["dropped_unknown_peer"] += 1
            return False
        if len(frame) > self._max_frame_bytes:
            self.stats["dropped_too_big"] += 1
            return False
        if not queue.put(frame):
            self.stats["dropped_queue_full"] += 1  # over the queue's frames or bytes
            return False
        return True

    def broadcast(self, frame: bytes, voting_only: bool = True) -> None:
        """Send to every other peer; only to voting ones unless `voting_only` is False."""
        for name, peer in self._peers.items():
            if name != self._me and (peer.voting or not voting_only):
                self.send(name, frame)

    def connected(self) -> list[str]:
        """The peers with a live authenticated link, sorted by name."""
        return sorted(self._links)

    # ---- accepting ----------------------------------------------------------------------

    async def _accept(self, request: web.Request) -> web.StreamResponse:
        transport = request.transport
        ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        name = self._pinned_name(der)
        if name is None:
            self.stats["refused_tls"] += 1
            raise web.HTTPForbidden(text="certificate not in genesis")
        if self._index[name] >= self._index[self._me]:
            self.stats["refused_handshake"] += 1
            log.warning("p2p: %s dialed %s but the dial rule says the other way", name, self._me)
            raise web.HTTPForbidden(text="the node listed first dials")
        if self._stopping or not self._handshakes.acquire(name):
            self.stats["refused_busy"] += 1
            raise web.HTTPServiceUnavailable()
        ws = web.WebSocketResponse(heartbeat=self._heartbeat_s, compress=False,
                                   timeout=CLOSE_TIMEOUT_S,
                                   max_msg_size=self._max_frame_bytes + 1)
        try:
            await ws.prepare(request)
        except BaseException:
            self._handshakes.release(name)
            raise
        await self._run_connection(name, der, ws, accepted=True)
        return ws

    def _pinned_name(self, der: bytes | None) -> str | None:
        """The genesis name whose certificate is exactly `der`, if its common name agrees."""
        if der is None:
            return None
        name = self._name_by_cert_der.get(der)
        if name is None or name == self._me:
            return None
        if common_name(x509.load_der_x509_certificate(der)) != name:
            return None
        return name

    # ---- dialing ------------------------------------------------------------------------

    async def _dial_forever(self, peer: Peer) -> None:
        delay_s = self._reconnect_initial_s
        while not self._stopping:
            if await self._dial_once(peer):
                delay_s = self._reconnect_initial_s
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, self._reconnect_max_s)

    async def _dial_once(self, peer: Peer) -> bool:
        """Connect, authenticate and run one link to `peer`; True if it got authenticated."""
        assert self._session is not None
        url = f"https://{peer.host}:{peer.port}{P2P_PATH}"
        try:
            async with asyncio.timeout(self._handshake_timeout_s):
                ws = await self._session.ws_connect(
                    url, ssl=self._client_ssl, heartbeat=self._heartbeat_s, compress=0,
                    timeout=aiohttp.ClientWSTimeout(ws_close=CLOSE_TIMEOUT_S),
                    max_msg_size=self._max_frame_bytes + 1, autoping=True)
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            if _is_tls_failure(error):
                self.stats["refused_tls"] += 1
                log.warning("p2p: TLS with %s failed: %s", peer.name, error)
            else:
                self.stats["dial_failures"] += 1
            return False
        ssl_object = ws.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if der is None or self._pinned_name(der) != peer.name:
            self.stats["refused_tls"] += 1
            log.warning("p2p: %s presented a certificate genesis does not list", peer.name)
            await _close_quietly(ws, aiohttp.WSCloseCode.POLICY_VIOLATION, b"not pinned")
            return False
        return await self._run_connection(peer.name, der, ws)

    # ---- one connection, either side ----------------------------------------------------

    async def _run_connection(self, name: str, der: bytes, ws: WebSocket,
                              accepted: bool = False) -> bool:
        """Handshake, then read frames until the link ends. True if it got authenticated.

        The websocket is closed on every way out, cancellation included; an `accepted` one
        gives its PeerHandshakes slot back once the handshake is over."""
        self._sockets.add(ws)
        try:
            try:
                await self._handshake(name, der, ws)
            except HandshakeError as error:
                if error.code in ("closed", "timeout"):
                    self.stats["handshake_aborted"] += 1
                else:
                    self.stats["refused_handshake"] += 1
                    log.warning("p2p: refused %s: %s", name, error)
                await _close_quietly(ws, aiohttp.WSCloseCode.POLICY_VIOLATION,
                                     error.code.encode())
                return False
            finally:
                if accepted:
                    self._handshakes.release(name)
            link = self._open_link(name, ws)
            try:
                await self._read_frames(link)
            except (aiohttp.ClientError, ConnectionError) as error:  # e.g. a pong into a dying link
                log.info("p2p: the link from %s to %s broke: %s", self._me, name, error)
            finally:
                self._close_link(link)
            return True
        finally:
            self._sockets.discard(ws)
            await _close_quietly(ws)

    async def _handshake(self, name: str, der: bytes, ws: WebSocket) -> None:
        my_nonce = os.urandom(NONCE_BYTES)
        try:
            async with asyncio.timeout(self._handshake_timeout_s):
                await ws.send_bytes(Hello(self._chain_id, self._me, my_nonce).encode())
                hello = Hello.decode(await _receive_binary(ws))
                if hello.chain != self._chain_id:
                    raise HandshakeError("wrong_chain", f"peer is on chain {hello.chain!r}")
                if hello.name != name:
                    raise HandshakeError("name_mismatch",
                                         f"hello says {hello.name!r}, certificate says {name!r}")
                signed = compute_handshake_bytes(self._chain_id, self._me, name, my_nonce,
                                                 hello.nonce, self._my_cert_sha256)
                proof_out = HelloProof(self._signer.sign(HANDSHAKE_DOMAIN, signed))
                await ws.send_bytes(proof_out.encode())
                proof = HelloProof.decode(await _receive_binary(ws))
        except TimeoutError:
            raise HandshakeError("timeout", "handshake took too long") from None
        except (aiohttp.ClientError, ConnectionError) as error:
            raise HandshakeError("closed", str(error)) from None
        expected = compute_handshake_bytes(self._chain_id, name, self._me, hello.nonce, my_nonce,
                                           sha256(der))
        if not verify(self._peers[name].public_key, HANDSHAKE_DOMAIN, expected, proof.signature):
            raise HandshakeError("bad_signature", "not signed by the genesis operator key")

    def _open_link(self, name: str, ws: WebSocket) -> _Link:
        link = _Link(name, ws)
        old = self._links.get(name)
        self._links[name] = link
        if old is not None:
            self.stats["links_replaced"] += 1
            self._close_link(old)
            # Its reader task ends when the close completes and closes it for good.
            asyncio.create_task(_close_quietly(old.ws), name=f"p2p-close-old-{name}")  # noqa: RUF006
        self.stats["links_opened"] += 1
        if name in self._ever_linked:
            self.stats["reconnects"] += 1
        self._ever_linked.add(name)
        link.writer = asyncio.create_task(self._write_frames(link), name=f"p2p-write-{name}")
        log.info("p2p: %s linked to %s", self._me, name)
        return link

    def _close_link(self, link: _Link) -> None:
        if self._links.get(link.peer) is link:
            del self._links[link.peer]
        if link.writer is not None:
            link.writer.cancel()

    async def _read_frames(self, link: _Link) -> None:
        async for message in link.ws:
            if message.type == aiohttp.WSMsgType.BINARY:
                self.stats["frames_in"] += 1
                self.stats["bytes_in"] += len(message.data)
                try:
                    self._on_frame(link.peer, message.data)
                except Exception:  # the host's bug; keep the link, make it loud
                    self.stats["on_frame_errors"] += 1
                    log.exception("p2p: on_frame failed on a frame from %s", link.peer)
            elif message.type == aiohttp.WSMsgType.ERROR:
                error = message.data
                if (isinstance(error, aiohttp.WebSocketError)
                        and error.code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG):
                    self.stats["dropped_oversize_in"] += 1
                    log.warning("p2p: %s sent a frame over %d bytes", link.peer,
                                self._max_frame_bytes)
                return
            else:  # text frames are not part of the protocol
                self.stats["refused_protocol"] += 1
                return

    async def _write_frames(self, link: _Link) -> None:
        queue = self._queues[link.peer]
        try:
            while True:
                frame = await queue.get()
                await link.ws.send_bytes(frame)
                self.stats["frames_out"] += 1
                self.stats["bytes_out"] += len(frame)
        except (aiohttp.ClientError, ConnectionError) as error:
            log.info("p2p: writing to %s failed: %s", link.peer, error)
            await _close_quietly(link.ws)


async def _receive_binary(ws: WebSocket) -> bytes:
    message = await ws.receive()
    if message.type == aiohttp.WSMsgType.BINARY:
        return message.data
    if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING,
                        aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
        raise HandshakeError("closed", f"link closed during the handshake ({message.type.name})")
    raise HandshakeError("bad_message", f"expected a binary frame, got {message.type.name}")


async def _close_quietly(ws: WebSocket, code: int = aiohttp.WSCloseCode.OK,
                         message: bytes = b"") -> None:
    """Close `ws`; a link that is already broken has nothing left to report."""
    with contextlib.suppress(aiohttp.ClientError, ConnectionError, RuntimeError):
        await ws.close(code=code, message=message)
