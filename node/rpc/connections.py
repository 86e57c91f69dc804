"""Bounds on the RPC's connections, so that HTTP clients can never use up the node's file
descriptors (issue 13, finding 2: 400 slow-header connections held 20,000 fds, /healthz stopped
answering and LevelDB writes failed with "Too many open files" inside p2p handling).

How it works. The RPC listens through `LimitedSite`, whose protocol factory puts a `_Gate` in
front of each of aiohttp's request handlers. On accept the gate counts the connection against
two caps, one per node and one per client address; a connection over either cap gets a short
503 and is closed at once, before aiohttp sees it, so the descriptors held by RPC connections
never exceed the node cap (plus the one being refused). The rest of the descriptor budget is
kept for the store and the p2p links (`descriptor_budget`).

Time limits, so a held connection costs its holder as much as it costs the node:
- aiohttp's keep-alive timer runs from the moment a connection is accepted and again after
  each answer, and closes a connection that has not delivered a complete request head by then
  (`HEADER_TIMEOUT_S`): it is the header-read timeout and the idle keep-alive timeout at once,
  however slowly the bytes trickle in.
- a request body must arrive within `BODY_TIMEOUT_S` (`node.rpc.common.read_body`).
- an event stream write that cannot drain within `SSE_WRITE_TIMEOUT_S` ends the stream.

Each cause of refusal is logged at most once per `LOG_INTERVAL_S`, with how many happened
since (`ThrottledLog`): a flood must not turn into a flood of log lines.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import time
from typing import Any

from aiohttp import web

log = logging.getLogger("stoledger.rpc")

HEADER_TIMEOUT_S = 10.0  # a complete request head within this of accept or of the last answer
BODY_TIMEOUT_S = 30.0  # an 8 MiB batch takes well under a second on a LAN
SSE_WRITE_TIMEOUT_S = 10.0  # a subscriber that reads nothing for this long is dropped
SSE_KEEPALIVE_S = 15.0  # a comment line on a quiet stream, so a vanished reader is noticed
MAX_HTTP_CONNECTIONS = 1024  # per node: clients, SSE subscribers (256 at most) and waiters
MAX_HTTP_CONNECTIONS_PER_ADDRESS = 256  # one client (a bench, a broker's gateway) on one address
# Past the node cap, an address holding fewer than LIGHT_CLIENT connections still gets one of
# LIGHT_CLIENT_RESERVE more slots: a few heavy addresses cannot lock out a monitor's /healthz
# or an operator's status call. The RPC then holds at most cap + reserve connections.
LIGHT_CLIENT = 4
LIGHT_CLIENT_RESERVE = 64
# Descriptors kept out of the RPC's reach: the store (LevelDB opens at most
# node.storage.kv.LEVELDB_MAX_OPEN_FILES tables, plus its logs and lock), the p2p links (a
# listener, one link and a few handshakes per peer), log files and headroom.
RESERVED_DESCRIPTORS = 1024
MIN_HTTP_CONNECTIONS = 16
LOG_INTERVAL_S = 10.0

REFUSED = b"".join([
    b"HTTP/1.1 503 Service Unavailable\r\n",
    b"Content-Type: application/json\r\nConnection: close\r\nRetry-After: 1\r\n",
    b"Content-Length: %d\r\n\r\n",
])


def raise_descriptor_limit() -> int:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit; the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def descriptor_budget(soft_limit: int | None = None) -> int:
    """The node cap: how many RPC connections this process can hold (with the light-client
    reserve on top) and still leave RESERVED_DESCRIPTORS."""
    if soft_limit is None:
        soft_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft_limit == resource.RLIM_INFINITY:
        return MAX_HTTP_CONNECTIONS
    return max(MIN_HTTP_CONNECTIONS, min(MAX_HTTP_CONNECTIONS, soft_limit
                                         - RESERVED_DESCRIPTORS - LIGHT_CLIENT_RESERVE))


class ThrottledLog:
    """Logs each cause at most once per interval, with the count since its last line."""

    def __init__(self, interval_s: float = LOG_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self.counts: dict[str, int] = {}  # since the last line, by cause
        self.totals: dict[str, int] = {}
        self._last: dict[str, float] = {}

    def note(self, cause: str, message: str) -> None:
        self.counts[cause] = self.counts.get(cause, 0) + 1
        self.totals[cause] = self.totals.get(cause, 0) + 1
        now = time.monotonic()
        if now - self._last.get(cause, -self.interval_s) >= self.interval_s:
            log.warning("%s (%d since the last report)", message, self.counts[cause])
            self._last[cause] = now
            self.counts[cause] = 0


class ConnectionLimiter:
    """Open RPC connections, in total and by client address."""

    def __init__(self, max_total: int, max_per_address: int) -> None:
        assert max_total >= 1 and max_per_address >= 1
        self.max_total = max_total
        self.max_per_address = max_per_address
        self.total = 0
        self.by_address: dict[str, int] = {}
        self.log = ThrottledLog()

    def admit(self, address: str) -> bool:
        held = self.by_address.get(address, 0)
        cap = self.max_total + (LIGHT_CLIENT_RESERVE if held < LIGHT_CLIENT else 0)
        if self.total >= cap:
            self.log.note("node_cap", f"RPC: refusing connections, {self.total} open (the node's "
                          f"cap is {self.max_total}, {LIGHT_CLIENT_RESERVE} more for light "
                          "clients)")
            return False
        if held >= self.max_per_address:
            self.log.note("address_cap", f"RPC: refusing connections from {address}, which "
                          f"holds {held} (the cap per address is {self.max_per_address})")
            return False
        self.total += 1
        self.by_address[address] = held + 1
        return True

    def release(self, address: str) -> None:
        self.total -= 1
        held = self.by_address[address] - 1
        if held:
            self.by_address[address] = held
        else:
            del self.by_address[address]
        assert self.total >= 0


class _Gate(asyncio.Protocol):
    """Counts one accepted connection and hands every event on to aiohttp's handler; refuses
    the connection instead when a cap is reached."""

    def __init__(self, limiter: ConnectionLimiter, http: web.Server) -> None:
        self._limiter = limiter
        self._http = http
        self._inner: asyncio.Protocol | None = None
        self._address: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
        if not self._limiter.admit(address):
            body = json.dumps({"error": {"code": "busy", "message": "too many connections; "
                                         "retry later"}}).encode()
            transport.write(REFUSED % len(body) + body)
            transport.close()
            return
        self._address = address
        self._inner = self._http()
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._address is not None:
            self._limiter.release(self._address)
            self._address = None
        if self._inner is not None:
            self._inner.connection_lost(exc)


class LimitedSite(web.BaseSite):
    """A TCP site whose connections go through a `ConnectionLimiter`."""

    __slots__ = ("_host", "_limiter", "_port")

    def __init__(self, runner: web.BaseRunner, host: str, port: int,
                 limiter: ConnectionLimiter, **kwargs: Any) -> None:
        super().__init__(runner, **kwargs)
        self._host = host
        self._port = port
        self._limiter = limiter

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        http = self._runner.server
        assert http is not None
        limiter = self._limiter
        self._server = await asyncio.get_running_loop().create_server(
            lambda: _Gate(limiter, http), self._host, self._port, backlog=self._backlog,
            reuse_address=True)
        if self._port == 0 and self._server.sockets:
            self._port = self._server.sockets[0].getsockname()[1]
