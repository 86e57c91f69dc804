"""What every route shares: the node key, the one place errors are produced (`fail`, the
`errors` middleware), answering in JSON or msgpack, reading a bounded body, integer parameters,
and the signed caller with its role (which also writes the access log)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgpack
from aiohttp import web

from node.admission.tx import (
    TxError,
)
from node.clock import now_ms
from node.rpc.api import NodeApi
from node.rpc.auth import AuthError, verify_request
from node.rpc.connections import BODY_TIMEOUT_S

MAX_BODY_BYTES = 1024 * 1024  # PROTOCOL.md: 1 MiB per request ...
MAX_BATCH_BODY_BYTES = 8 * 1024 * 1024  # ... and 8 MiB for /v1/txs
MAX_BATCH_TXS = 10_000
# Request bodies being read at once, over the node and per client address, counted as their
# bytes arrive: a slow body holds what it has sent so far, and 1,024 connections each sending
# 8 MiB slowly held 8 GiB. Per address, two batch bodies (PROTOCOL.md: 16 MiB; a client
# sending one while the next is read), so holding the node's budget takes 4 addresses each
# sending 16 MiB, at MIN_BODY_RATE at least.
MAX_READING_BYTES = 64 * 1024 * 1024
MAX_READING_BYTES_PER_ADDRESS = 2 * MAX_BATCH_BODY_BYTES
# A body must keep arriving at this average rate once BODY_RATE_GRACE_S have passed (408
# otherwise), so a body is held only as long as it takes to send: 256 KiB/s (2 Mbit/s) sends
# the largest batch in 34 s, and a transaction of a few KB (a phone on a slow link) arrives
# within the grace. Before, a declared 8 MiB held its share of the budget for 30 s unsent.
MIN_BODY_RATE_BYTES_PER_S = 256 * 1024
BODY_RATE_GRACE_S = 2.0
BODY_CHUNK_BYTES = 64 * 1024
MAX_WAIT_MS = 60_000
MAX_BLOCK_RANGE = 100
MSGPACK = "application/msgpack"

log = logging.getLogger("stoledger.rpc")

# What a halted node (node.ledger.recover) still answers: nothing that reads its state.
SERVED_WHEN_HALTED = ("/healthz", "/readyz", "/v1/status", "/metrics", "/v1/blocks",
                      "/v1/openapi.json", "/console")
NODE_KEY = web.AppKey("node", NodeApi)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str,
                 retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after_s = retry_after_s


def fail(status: int, code: str, message: str, retry_after_s: int | None = None) -> ApiError:
    return ApiError(status, code, message, retry_after_s)


def answer(request: web.Request, value: Any, status: int = 200) -> web.Response:
    if MSGPACK in request.headers.get("Accept", ""):
        return web.Response(body=msgpack.packb(value, use_bin_type=True), status=status,
                            content_type=MSGPACK)
    return web.json_response(value, status=status, dumps=dumps)


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    node = request.app[NODE_KEY]
    route = request.match_info.route.resource.canonical if request.match_info.route.resource \
        else "unmatched"
    node.metrics.http_requests[route] = node.metrics.http_requests.get(route, 0) + 1
    if node.halted is not None and not request.path.startswith(SERVED_WHEN_HALTED):
        return _error(request, 503, "not_ready", f"this node halted: {node.halted}")
    try:
        return await handler(request)
    except (ApiError, TxError) as error:
        if isinstance(error, TxError):
            node.metrics.reject(error.code)
        response = _error(request, error.status, error.code, error.message)
        if error.retry_after_s is not None:
            response.headers["Retry-After"] = str(error.retry_after_s)
        return response
    except web.HTTPRequestEntityTooLarge as error:
        return _error(request, 413, "too_large", error.text or "request body too large")
    except web.HTTPException as error:
        if error.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status, "bad_request")
        response = _error(request, error.status, code, error.reason)
        if isinstance(error, web.HTTPMethodNotAllowed):
            response.headers["Allow"] = ",".join(sorted(error.allowed_methods))
        return response
    except RecursionError:  # a body nested deeper than anything the API takes
        return _error(request, 400, "bad_encoding", "the body is nested too deeply")
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return _error(request, 500, "internal", "the node failed to answer; see its log")


def _error(request: web.Request, status: int, code: str, message: str) -> web.Response:
    return answer(request, {"error": {"code": code, "message": message}}, status)


def parse_json(body: bytes) -> Any:
    """JSON from a request body; 400 `bad_encoding` when it is not JSON or is nested deeper than
    Python's recursion allows (`[` x 1000 raised RecursionError: a bare 500 before)."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise fail(400, "bad_encoding", "body is not JSON (or send Content-Type: "
                   "application/msgpack)") from None


class ReadingBudget:
    """The bytes of request bodies being read, by client address: `take` says whether `size`
    more fit under both caps, and counts them if so; `give_back` returns them."""

    def __init__(self, total: int = MAX_READING_BYTES,
                 per_address: int = MAX_READING_BYTES_PER_ADDRESS) -> None:
        self.total = total
        self.per_address = per_address
        self.used = 0
        self.by_address: dict[str, int] = {}

    def take(self, address: str, size: int) -> bool:
        held = self.by_address.get(address, 0)
        if self.used + size > self.total or held + size > self.per_address:
            return False
        self.used += size
        self.by_address[address] = held + size
        return True

    def give_back(self, address: str, size: int) -> None:
        self.used -= size
        held = self.by_address[address] - size
        if held:
            self.by_address[address] = held
        else:
            del self.by_address[address]


READING_KEY = web.AppKey("reading", ReadingBudget)


async def read_body(request: web.Request, limit: int) -> bytes:
    """The body, at most `limit` bytes (413 as soon as the declared length or the bytes read
    pass it). Each chunk is counted against the node's ReadingBudget as it arrives (503
    `busy` past it) and given back when the body is read; the body must arrive within
    BODY_TIMEOUT_S and, past BODY_RATE_GRACE_S, at MIN_BODY_RATE_BYTES_PER_S on average
    (408 `request_timeout` otherwise)."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise fail(413, "too_large", f"body of {declared} bytes is over the limit of {limit}")
    budget = request.app[READING_KEY]
    address = request.remote or ""
    loop = asyncio.get_running_loop()
    started = loop.time()
    body = bytearray()
    try:
        while True:
            deadline = min(started + BODY_TIMEOUT_S, started + BODY_RATE_GRACE_S
                           + len(body) / MIN_BODY_RATE_BYTES_PER_S)
            try:
                async with asyncio.timeout_at(deadline):
                    chunk = await request.content.read(BODY_CHUNK_BYTES)
            except TimeoutError:
                if request.content.total_bytes > len(body):  # it came: this loop was late
                    continue
                raise fail(408, "request_timeout", _too_slow(len(body), loop.time() - started)
                           ) from None
            if not chunk:
                return bytes(body)
            if len(body) + len(chunk) > limit:
                raise fail(413, "too_large", f"body is over the limit of {limit} bytes")
            if not budget.take(address, len(chunk)):
                raise fail(503, "busy", "too many request bodies are being read; retry "
                           "shortly", retry_after_s=1)
            body += chunk
    finally:
        if body:
            budget.give_back(address, len(body))


def _too_slow(received: int, elapsed_s: float) -> str:
    if elapsed_s >= BODY_TIMEOUT_S:
        return f"the body did not arrive within {BODY_TIMEOUT_S:.0f} s"
    return (f"the body arrived slower than {MIN_BODY_RATE_BYTES_PER_S // 1024} KiB/s "
            f"({received} bytes in {elapsed_s:.1f} s)")


def int_param(request: web.Request, name: str, default: int | None, low: int = 0,
               high: int = 2**63 - 1) -> int:
    text = request.query.get(name)
    if text is None:
        if default is None:
            raise fail(400, "bad_request", f"parameter {name} is required")
        return default
    try:
        value = int(text)
    except ValueError:
        raise fail(400, "bad_request", f"parameter {name} is an integer") from None
    if not low <= value <= high:
        raise fail(400, "bad_request", f"parameter {name} must be in {low}..{high}")
    return value


def choice_param(request: web.Request, name: str, allowed: tuple[str, ...]) -> str | None:
    """A query parameter that is absent (None) or one of `allowed`; 400 otherwise."""
    text = request.query.get(name)
    if text is not None and text not in allowed:
        raise fail(400, "bad_request", f"parameter {name} is one of {', '.join(allowed)}")
    return text


async def signed_caller(request: web.Request, body: bytes = b"", record: bool = True
                        ) -> tuple[str, str | None]:
    """(account, role) of a signed request; 401 if the signature does not hold. Written to
    the access log unless `record` is False (the caller writes it, saying what was read)."""
    node = request.app[NODE_KEY]
    try:
        account = verify_request(request.headers.get("Authorization"), node.genesis.chain_id,
                                 request.method, request.raw_path, body, now_ms())
    except AuthError as error:
        raise fail(401, "unauthorized", str(error)) from None
    role = role_of(node, account)
    if record:
        node.access.record(account, role, request.method, request.raw_path)
    return account, role


def role_of(node: NodeApi, account: str) -> str | None:
    key = bytes.fromhex(account)
    for info in node.genesis.operators:
        if info.public_key == key:
            return "operator"
    for info in node.genesis.observers:
        if info.public_key == key:
            return "observer"
    record = node.executor.identity(account)
    if record is None or record.get("status", "active") != "active":
        return None
    role = record.get("role")
    return role if isinstance(role, str) else None


