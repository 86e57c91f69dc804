"""The relay between the nodes of a namespaced cluster (node.tools.netns): where link faults live.

    python -m node.tools.relay --config DIR/relay.json --control DIR/relay.sock

How it works. The relay listens on every node's relay address at its p2p port (genesis lists
that address, so peers dial it) and forwards each connection to the node's own address. It
knows the dialer by the connection's source address and connects onward from the dialer's
relay address, so the accepting node sees the address genesis lists for the dialer. Bytes are
pumped both ways in chunks; each direction `a -> b` between two named nodes is in one of three
states that the controller sets at any time:

  open      bytes flow as they come;
  slowed    each chunk is delivered `delay_ms` after it was read (in order, pipelined: latency,
            not a bandwidth cap);
  held      the relay stops reading from a and writes nothing to b. a's writes back up into the
            kernel's buffers as on a cut cable, nothing arrives at b, and TCP on both legs stays
            healthy: only the nodes' own heartbeats can tell (a half-open link). On heal, what
            was held flows on, as TCP would retransmit it, unless a node closed the link first.

A partition holds both directions between its groups; a one-way link holds one direction. A
new connection across a held direction waits unconnected until both directions are open
(a SYN that goes unanswered): if the dialer gives up on it first (closes), it is dropped and
never reaches the node; otherwise it goes through on heal, with what the dialer sent while it
waited. A connection ends, both legs closed, when either side closes or fails.

Control, on a Unix socket, one JSON object per line each way:

  {"op": "set", "held": [[a, b], ...], "delay_ms": [[a, b, ms], ...]}  replace the policy
  {"op": "show"}   the policy, connections open and bytes forwarded per direction, and what
                   the policy did: per direction, how often a hold stopped traffic
                   (`stopped`: a pump half or a new connection waited) and how many chunks a
                   delay slowed (`delayed`), counted since the relay started, so that a
                   controller can check that a fault it set took effect

`control()` is the client. The relay checks names against its config and limits everything it
holds (see the constants); it never reads what it forwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("relay")

CHUNK_BYTES = 64 * 1024  # one read from a leg
QUEUE_CHUNKS = 16  # chunks read but not yet delivered, per direction: 1 MiB; then backpressure
MAX_CONNECTIONS = 2_048  # n = 7 holds 21 links; the rest is room for redials racing faults
CONNECT_TIMEOUT_S = 5.0  # connecting onward to a node (one behind a pulled cable never answers)
HELD_CONNECT_WAIT_S = 120.0  # a new connection waiting for a held pair; dialers give up sooner
MAX_EARLY_BYTES = 64 * 1024  # sent by a dialer before its connection went through: a ClientHello
MAX_DELAY_MS = 10_000
CONTROL_LINE_BYTES = 64 * 1024
CONTROL_TIMEOUT_S = 10.0
MAX_UNIX_PATH_BYTES = 100  # sun_path is 108 bytes with its terminator; stay clear of it

Direction = tuple[str, str]


class _Abandoned(Exception):
    """A new connection waiting across a held pair that its dialer gave up."""


class RelayError(ValueError):
    """A control request the relay refused, or a relay that did not answer."""


@dataclass(frozen=True, slots=True)
class Route:
    """Connections to `listen` are node `node`'s: forwarded to `target`."""

    node: str
    listen: tuple[str, int]
    target: tuple[str, int]

    def to_json(self) -> dict[str, Any]:
        return {"node": self.node, "listen": list(self.listen), "target": list(self.target)}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Route:
        listen, target = value["listen"], value["target"]
        return cls(str(value["node"]), (str(listen[0]), int(listen[1])),
                   (str(target[0]), int(target[1])))


def write_config(path: Path, routes: list[Route]) -> None:
    path.write_text(json.dumps({"routes": [route.to_json() for route in routes]}, indent=2))


def read_config(path: Path) -> list[Route]:
    return [Route.from_json(value) for value in json.loads(path.read_text())["routes"]]


class Policy:
    """Which directions are held and which are slowed; replaced whole by each `set`."""

    def __init__(self, names: set[str]) -> None:
        self.names = names
        self.held: frozenset[Direction] = frozenset()
        self.delay_ms: dict[Direction, int] = {}

    def parse(self, request: dict[str, Any]) -> tuple[frozenset[Direction], dict[Direction, int]]:
        """The policy a `set` request asks for; RelayError (and nothing changes) if bad."""
        held = set()
        for pair in _list(request.get("held", []), "held"):
            held.add(self._direction(pair))
        delays = {}
        for entry in _list(request.get("delay_ms", []), "delay_ms"):
            if not isinstance(entry, list) or len(entry) != 3:
                raise RelayError("delay_ms entries are [from, to, ms]")
            ms = entry[2]
            if isinstance(ms, bool) or not isinstance(ms, int) or not 0 <= ms <= MAX_DELAY_MS:
                raise RelayError(f"delay {ms!r} is not an integer in [0, {MAX_DELAY_MS}] ms")
            delays[self._direction(entry[:2])] = ms
        return frozenset(held), delays

    def _direction(self, pair: Any) -> Direction:
        if not isinstance(pair, list) or len(pair) != 2:
            raise RelayError("a direction is [from, to]")
        source, destination = pair
        for name in pair:
            if name not in self.names:
                raise RelayError(f"{name!r} is not a node of this relay")
        if source == destination:
            raise RelayError(f"{source!r} -> itself is not a link")
        return (source, destination)

    def to_json(self) -> dict[str, Any]:
        return {"held": sorted(list(pair) for pair in self.held),
                "delay_ms": sorted([*pair, ms] for pair, ms in self.delay_ms.items())}


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise RelayError(f"{what} must be a list")
    return value


class Relay:
    """The relay's state: routes, the policy, the connections it carries. See the module
    docstring."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes
        self.by_source = {route.target[0]: route.node for route in routes}  # who dials
        self.bind = {route.node: route.listen[0] for route in routes}  # dial from here
        self.policy = Policy({route.node for route in routes})
        self._changed = asyncio.Event()
        self._servers: list[asyncio.Server] = []
        self._connections: set[asyncio.Task[None]] = set()
        self.bytes: Counter[Direction] = Counter()
        self.open: Counter[Direction] = Counter()  # connections open, by dialer -> acceptor
        self.parked: Counter[Direction] = Counter()  # pump halves stopped by a hold, now
        self.waiting_for_heal = 0  # new connections not yet connected onward, now
        self.stopped: Counter[Direction] = Counter()  # holds that stopped traffic, ever
        self.delayed: Counter[Direction] = Counter()  # chunks a delay slowed, ever
        self.stats: Counter[str] = Counter()

    async def start(self) -> None:
        for route in self.routes:
            self._servers.append(await asyncio.start_server(
                lambda reader, writer, route=route: self._accept(route, reader, writer),
                *route.listen, reuse_address=True, limit=CHUNK_BYTES))

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    def set_policy(self, request: dict[str, Any]) -> None:
        held, delays = self.policy.parse(request)
        self.policy.held, self.policy.delay_ms = held, delays
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()  # every direction waiting on the old policy looks again
        log.info("policy: %s", json.dumps(self.policy.to_json()))

    def show(self) -> dict[str, Any]:
        return {**self.policy.to_json(), "stats": dict(self.stats),
                "waiting_for_heal": self.waiting_for_heal,
                "open": sorted([*pair, count] for pair, count in self.open.items() if count),
                "bytes": sorted([*pair, count] for pair, count in self.bytes.items()),
                "stopped": sorted([*pair, count] for pair, count in self.stopped.items()),
                "delayed": sorted([*pair, count] for pair, count in self.delayed.items())}

    # ---- one connection ---------------------------------------------------------------

    def _accept(self, route: Route, reader: asyncio.StreamReader,
                writer: asyncio.StreamWriter) -> None:
        if len(self._connections) >= MAX_CONNECTIONS:
            self.stats["refused_full"] += 1
            writer.transport.abort()
            return
        task = asyncio.create_task(self._carry(route, reader, writer))
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)

    async def _carry(self, route: Route, down_reader: asyncio.StreamReader,
                     down_writer: asyncio.StreamWriter) -> None:
        peer = down_writer.get_extra_info("peername")
        source = self.by_source.get(peer[0]) if isinstance(peer, tuple) else None
        if source is None or source == route.node:
            self.stats["refused_stranger"] += 1  # only the nodes themselves dial through here
            down_writer.transport.abort()
            return
        forward, backward = (source, route.node), (route.node, source)
        early = b""
        try:
            if self._is_held(forward, backward):
                early = await self._wait_unconnected(down_reader, forward, backward)
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                up_reader, up_writer = await asyncio.open_connection(
                    *route.target, local_addr=(self.bind[source], 0), limit=CHUNK_BYTES)
        except _Abandoned:
            self.stats["abandoned_while_held"] += 1
            down_writer.transport.abort()
            return
        except (OSError, TimeoutError):
            self.stats["connect_failures"] += 1
            down_writer.transport.abort()
            return
        up_writer.write(early)
        self.stats["connections"] += 1
        self.open[forward] += 1
        pumps = [asyncio.create_task(self._pump(forward, down_reader, up_writer)),
                 asyncio.create_task(self._pump(backward, up_reader, down_writer))]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.open[forward] -= 1
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            for writer in (down_writer, up_writer):
                writer.close()

    async def _wait_unconnected(self, reader: asyncio.StreamReader,
                                *directions: Direction) -> bytes:
        """Keep a new connection unconnected while a direction of its pair is held; returns
        what the dialer sent meanwhile (its first handshake bytes), to pass on first. A dialer
        that gives up (closes) abandons it (`_Abandoned`), as an unanswered SYN is forgotten:
        only connections still wanted reach the node on heal."""
        kept = b""
        reading = asyncio.ensure_future(reader.read(CHUNK_BYTES))
        self.waiting_for_heal += 1
        for direction in directions:
            if self._is_held(direction):
                self.stopped[direction] += 1
        try:
            async with asyncio.timeout(HELD_CONNECT_WAIT_S):
                while self._is_held(*directions):
                    changed = asyncio.ensure_future(self._changed.wait())
                    await asyncio.wait((reading, changed), return_when=asyncio.FIRST_COMPLETED)
                    changed.cancel()
                    if not reading.done():
                        continue
                    data = reading.result() if reading.exception() is None else b""
                    if not data or len(kept) + len(data) > MAX_EARLY_BYTES:
                        raise _Abandoned
                    kept += data
                    reading = asyncio.ensure_future(reader.read(CHUNK_BYTES))
        except TimeoutError:
            raise _Abandoned from None
        finally:
            self.waiting_for_heal -= 1
            reading.cancel()  # a read still waiting has taken nothing from the stream
        return kept

    def _is_held(self, *directions: Direction) -> bool:
        return any(direction in self.policy.held for direction in directions)

    async def _wait_open(self, *directions: Direction) -> None:
        while self._is_held(*directions):
            await self._changed.wait()

    async def _gate(self, direction: Direction) -> None:
        """Pass when `direction` is not held; counted in `parked` while it waits."""
        if not self._is_held(direction):
            return
        self.parked[direction] += 1
        self.stopped[direction] += 1
        try:
            await self._wait_open(direction)
        finally:
            self.parked[direction] -= 1

    async def _pump(self, direction: Direction, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter) -> None:
        """Carry one direction until its reader ends or either leg fails. Reading and writing
        are two tasks joined by a bounded queue, so that a slowed direction keeps reading
        (latency, not a bandwidth cap) and a held one stops on both sides."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(QUEUE_CHUNKS)

        async def read() -> None:
            data = b"x"
            while data:
                await self._gate(direction)
                try:
                    data = await reader.read(CHUNK_BYTES)
                except (OSError, ConnectionError):
                    data = b""
                delay_ms = self.policy.delay_ms.get(direction, 0)
                if delay_ms and data:
                    self.delayed[direction] += 1
                await queue.put((loop.time() + delay_ms / 1000, data))

        reading = asyncio.create_task(read())
        try:
            while True:
                due, data = await queue.get()
                wait_s = due - loop.time()
                if wait_s > 0:
                    await asyncio.sleep(wait_s)
                await self._gate(direction)
                if not data:
                    return
                writer.write(data)
                await writer.drain()
                self.bytes[direction] += len(data)
        except (OSError, ConnectionError):
            return
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading

    # ---- control ----------------------------------------------------------------------

    async def serve_control(self, path: Path) -> asyncio.Server:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return await asyncio.start_unix_server(self._control, str(path),
                                               limit=CONTROL_LINE_BYTES)

    async def _control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                       ) -> None:
        try:
            while line := await reader.readline():
                writer.write(json.dumps(self._answer(line)).encode() + b"\n")
                await writer.drain()
        except (OSError, ValueError, ConnectionError):  # a line over the limit, a gone client
            pass
        finally:
            writer.close()

    def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
        except ValueError:
            return {"ok": False, "error": "not a JSON line"}
        if not isinstance(request, dict):
            return {"ok": False, "error": "a request is a JSON object"}
        try:
            if request.get("op") == "set":
                self.set_policy(request)
                return {"ok": True, **self.policy.to_json()}
            if request.get("op") == "show":
                return {"ok": True, **self.show()}
            return {"ok": False, "error": f"unknown op {request.get('op')!r} (set, show)"}
        except RelayError as error:
            return {"ok": False, "error": str(error)}


def control(path: str | Path, request: dict[str, Any],
            timeout_s: float = CONTROL_TIMEOUT_S) -> dict[str, Any]:
    """Send one request to the relay at `path` and return its answer; RelayError if it
    refuses or does not answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(timeout_s)
        try:
            connection.connect(str(path))
            connection.sendall(json.dumps(request).encode() + b"\n")
            answer = b""
            while not answer.endswith(b"\n") and len(answer) <= CONTROL_LINE_BYTES:
                chunk = connection.recv(CONTROL_LINE_BYTES)
                if not chunk:
                    break
                answer += chunk
        except OSError as error:
            raise RelayError(f"relay at {path} does not answer: {error}") from None
    try:
        value = json.loads(answer)
    except ValueError:
        raise RelayError(f"relay at {path} answered {answer[:200]!r}") from None
    if not isinstance(value, dict) or not value.get("ok"):
        raise RelayError(f"relay refused {request.get('op')!r}: "
                         f"{value.get('error') if isinstance(value, dict) else value!r}")
    return value


def check_control_path(path: Path) -> None:
    if len(os.fsencode(path.resolve())) > MAX_UNIX_PATH_BYTES:
        raise RelayError(f"{path} is too long for a Unix socket (at most {MAX_UNIX_PATH_BYTES} "
                         "bytes): use a shorter cluster folder")


async def serve(config: Path, control_path: Path) -> None:
    relay = Relay(read_config(config))
    await relay.start()
    server = await relay.serve_control(control_path)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("relaying %d routes; control on %s", len(relay.routes), control_path)
    await stop.wait()
    server.close()
    await relay.stop()
    with contextlib.suppress(FileNotFoundError):
        control_path.unlink()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True, help="DIR/relay.json")
    parser.add_argument("--control", type=Path, required=True, help="DIR/relay.sock")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s relay: %(message)s")
    check_control_path(args.control)
    asyncio.run(serve(args.config, args.control))


if __name__ == "__main__":
    main()
