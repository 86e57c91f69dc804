"""The HTTP API (PROTOCOL.md, "HTTP API (v1)") on aiohttp.

JSON for people and scripts, msgpack for speed: a request body is read as msgpack when its
Content-Type is application/msgpack, an answer is msgpack when the client sends
`Accept: application/msgpack` (the same structure as the JSON answer). Every error is
`{"error": {"code", "message"}}` with a fitting status, produced in one place (`fail`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgpack
from aiohttp import web

from chaincode.runtime import ChaincodeError
from node.executor import Receipt
from node.rpc.auth import AuthError, verify_request
from node.tx import Transaction, TxError, decode_envelope, decode_envelope_map, to_json

log = logging.getLogger("stoledger.rpc")

MAX_BODY_BYTES = 1024 * 1024  # PROTOCOL.md: 1 MiB per request ...
MAX_BATCH_BODY_BYTES = 8 * 1024 * 1024  # ... and 8 MiB for /v1/txs
MAX_BATCH_TXS = 10_000
MAX_WAIT_MS = 60_000
MAX_BLOCK_RANGE = 100
MSGPACK = "application/msgpack"

NODE_KEY = web.AppKey("node", object)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def fail(status: int, code: str, message: str) -> ApiError:
    return ApiError(status, code, message)


def answer(request: web.Request, value: Any, status: int = 200) -> web.Response:
    if MSGPACK in request.headers.get("Accept", ""):
        return web.Response(body=msgpack.packb(value, use_bin_type=True), status=status,
                            content_type=MSGPACK)
    return web.json_response(value, status=status, dumps=_dumps)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    node = request.app[NODE_KEY]
    route = request.match_info.route.resource.canonical if request.match_info.route.resource \
        else "unmatched"
    node.metrics.http_requests[route] = node.metrics.http_requests.get(route, 0) + 1
    try:
        return await handler(request)
    except ApiError as error:
        return _error(request, error.status, error.code, error.message)
    except TxError as error:
        node.metrics.reject(error.code)
        return _error(request, error.status, error.code, error.message)
    except web.HTTPRequestEntityTooLarge as error:
        return _error(request, 413, "too_large", error.text or "request body too large")
    except web.HTTPException as error:
        if error.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status, "bad_request")
        return _error(request, error.status, code, error.reason)


def _error(request: web.Request, status: int, code: str, message: str) -> web.Response:
    return answer(request, {"error": {"code": code, "message": message}}, status)


async def _read_body(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise fail(413, "too_large", f"body of {request.content_length} bytes is over the "
                   f"limit of {limit}")
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > limit:
            raise fail(413, "too_large", f"body is over the limit of {limit} bytes")
    return bytes(body)


def _is_msgpack(request: web.Request) -> bool:
    return request.content_type == MSGPACK


def _envelopes(request: web.Request, body: bytes, many: bool) -> Any:
    if _is_msgpack(request):
        if not many:
            return body
        try:
            items = msgpack.unpackb(body, raw=False, strict_map_key=True)
        except Exception:
            raise fail(400, "bad_encoding", "body is not msgpack") from None
        if not isinstance(items, list):
            raise fail(400, "bad_encoding", "body is an array of envelopes")
        return items  # a map item is an envelope already decoded: _decode takes it as is
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise fail(400, "bad_encoding", "body is not JSON (or send Content-Type: "
                   "application/msgpack)") from None
    if many and not isinstance(value, list):
        raise fail(400, "bad_encoding", "body is a JSON list of envelopes")
    return value


def _decode(item: Any) -> Transaction:
    return decode_envelope(item) if isinstance(item, bytes) else decode_envelope_map(item)


def receipt_json(receipt: Receipt) -> dict[str, Any]:
    return {"tx_id": receipt.tx_id.hex(), "status": "committed", "height": receipt.height,
            "index": receipt.index, "ok": receipt.ok, "result": to_json(receipt.result),
            "error": receipt.error, "events": to_json(receipt.events),
            "block_hash": receipt.block_hash.hex()}


def _status_only(tx_id: bytes, status: str) -> dict[str, Any]:
    return {"tx_id": tx_id.hex(), "status": status, "height": None, "index": None, "ok": None,
            "result": None, "error": None, "events": [], "block_hash": None}


async def post_tx(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    body = await _read_body(request, MAX_BODY_BYTES)
    tx = _decode(_envelopes(request, body, many=False))
    waiting = request.query.get("wait") == "commit"
    future = node.wait_for(tx.tx_id) if waiting else None
    try:
        node.submit(tx)
    except TxError:
        if future is not None:
            future.cancel()
        raise
    if future is not None:
        timeout_ms = _int_param(request, "timeout_ms", 10_000, 0, MAX_WAIT_MS)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(future), timeout_ms / 1000)
        receipt = node.executor.receipt(tx.tx_id)
        if receipt is not None:
            return answer(request, receipt_json(receipt), 200)
    return answer(request, {"tx_id": tx.tx_id_hex, "status": "pending"}, 202)


async def post_txs(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    body = await _read_body(request, MAX_BATCH_BODY_BYTES)
    items = _envelopes(request, body, many=True)
    if len(items) > MAX_BATCH_TXS:
        raise fail(413, "too_large", f"{len(items)} envelopes; at most {MAX_BATCH_TXS}")
    results: list[dict[str, Any] | None] = []
    decoded: list[Transaction] = []
    positions: list[int] = []
    for item in items:
        try:
            tx = _decode(item)
        except TxError as error:
            node.metrics.reject(error.code)
            results.append({"error": {"code": error.code, "message": error.message}})
            continue
        positions.append(len(results))
        results.append(None)
        decoded.append(tx)
    # One replica event for the whole request (Node.submit_many), not one per transaction.
    for position, tx, refused in zip(positions, decoded, node.submit_many(decoded),
                                     strict=True):
        if refused is None:
            results[position] = {"tx_id": tx.tx_id_hex, "status": "pending"}
        else:
            node.metrics.reject(refused.code)
            results[position] = {"error": {"code": refused.code, "message": refused.message}}
    return answer(request, results)


async def get_tx(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    try:
        tx_id = bytes.fromhex(request.match_info["tx_id"])
        assert len(tx_id) == 32
    except (ValueError, AssertionError):
        raise fail(400, "bad_request", "tx_id is 64 hex characters") from None
    receipt = node.executor.receipt(tx_id)
    if receipt is not None:
        return answer(request, receipt_json(receipt))
    if tx_id in node.mempool:
        return answer(request, _status_only(tx_id, "pending"))
    return answer(request, _status_only(tx_id, "unknown"), 404)


def _int_param(request: web.Request, name: str, default: int | None, low: int = 0,
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


async def signed_caller(request: web.Request, body: bytes = b"") -> tuple[str, str | None]:
    """(account, role) of a signed request; 401 if the signature does not hold."""
    from node.app import now_ms

    node = request.app[NODE_KEY]
    try:
        account = verify_request(request.headers.get("Authorization"), node.genesis.chain_id,
                                 request.method, request.raw_path, body, now_ms())
    except AuthError as error:
        raise fail(401, "unauthorized", str(error)) from None
    role = role_of(node, account)
    node.record_access(account, role, request.method, request.raw_path)
    return account, role


def role_of(node: Any, account: str) -> str | None:
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


async def post_query(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    body = await _read_body(request, MAX_BODY_BYTES)
    caller, _ = await signed_caller(request, body)
    if _is_msgpack(request):
        try:
            value = msgpack.unpackb(body, raw=False, strict_map_key=True)
        except Exception:
            raise fail(400, "bad_encoding", "body is not msgpack") from None
    else:
        try:
            value = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise fail(400, "bad_encoding", "body is not JSON") from None
    if not isinstance(value, dict) or not {"contract", "method"} <= set(value):
        raise fail(400, "bad_request", "body is {\"contract\", \"method\", \"args\"}")
    contract, method, args = value["contract"], value["method"], value.get("args", {})
    if not isinstance(contract, str) or not node.registry.has_contract(contract):
        raise fail(400, "unknown_contract", f"no contract named {contract!r}")
    if not isinstance(method, str) or node.registry.method_kind(contract, method) != "query":
        raise fail(400, "unknown_method", f"{contract} has no query {method!r}")
    height = node.executor.height
    try:
        result = node.executor.query(caller, contract, method, args)
    except ChaincodeError as error:
        if error.code == "FORBIDDEN":
            raise fail(403, "forbidden", error.message) from None
        raise fail(400, error.code.lower(), error.message) from None
    return answer(request, {"height": height, "result": to_json(result)})


BLOCK_READERS = frozenset({"operator", "observer", "registrar", "regulator"})


def block_json(node: Any, height: int) -> dict[str, Any]:
    block = node.executor.block(height)
    cert = node.executor.certificate(height)
    if block is None or cert is None:
        raise fail(404, "not_found", f"no block at height {height}")
    transactions = []
    receipts = []
    for body, sig in block.txs:
        entry: dict[str, Any] = {"body": body.hex(), "sig": sig.hex()}
        try:
            from node.tx import decode_body

            tx = decode_body(body, sig)
            entry["tx_id"] = tx.tx_id_hex
            entry["decoded"] = tx.body_json()
            receipt = node.executor.receipt(tx.tx_id)
            if receipt is not None and receipt.height == height:
                receipts.append(receipt_json(receipt))
        except TxError as error:
            entry["error"] = error.code
        transactions.append(entry)
    header = block.header.to_map()
    return {"header": to_json(header), "header_bytes": block.header.encode().hex(),
            "block_hash": block.hash.hex(), "certificate": cert.to_json(),
            "transactions": transactions, "receipts": receipts}


async def _block_reader(request: web.Request) -> None:
    _, role = await signed_caller(request)
    if role not in BLOCK_READERS:
        raise fail(403, "forbidden", "blocks are for operators, observers, the registrar and "
                   "the regulator")


async def get_block(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    await _block_reader(request)
    text = request.match_info["height"]
    if text == "latest":
        height = node.executor.height
    else:
        try:
            height = int(text)
        except ValueError:
            raise fail(400, "bad_request", "height is an integer or 'latest'") from None
    return answer(request, block_json(node, height))


async def get_blocks(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    await _block_reader(request)
    start = _int_param(request, "from", 1, 1)
    stop = _int_param(request, "to", min(node.executor.height, start + MAX_BLOCK_RANGE - 1), 1)
    if stop < start or stop - start >= MAX_BLOCK_RANGE:
        raise fail(400, "bad_request", f"from..to spans 1..{MAX_BLOCK_RANGE} blocks")
    stop = min(stop, node.executor.height)
    return answer(request, {"blocks": [block_json(node, h) for h in range(start, stop + 1)]})


async def get_status(request: web.Request) -> web.Response:
    return answer(request, request.app[NODE_KEY].status())


async def get_events(request: web.Request) -> web.StreamResponse:
    from node.app import EVENT_QUEUE, MAX_EVENT_SUBSCRIBERS, Subscriber

    node = request.app[NODE_KEY]
    account, role = await signed_caller(request)
    if len(node.subscribers) >= MAX_EVENT_SUBSCRIBERS:
        raise fail(503, "busy", "too many event subscribers")
    sub = Subscriber(account, role, asyncio.Queue(EVENT_QUEUE))
    node.subscribers.append(sub)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-cache"})
    await response.prepare(request)
    try:
        await response.write(b": connected\n\n")
        while True:
            item = await sub.queue.get()
            if item is None:
                break
            data = _dumps(item["data"])
            await response.write(f"event: {item['event']}\ndata: {data}\n\n".encode())
    finally:
        if sub in node.subscribers:
            node.subscribers.remove(sub)
    return response


async def get_metrics(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    return web.Response(text=node.metrics.render(node), content_type="text/plain",
                        charset="utf-8")


async def get_healthz(request: web.Request) -> web.Response:
    return answer(request, {"ok": True})


async def get_readyz(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    ready = node.is_ready()
    return answer(request, {"ready": ready, "height": node.executor.height},
                  200 if ready else 503)


async def get_openapi(request: web.Request) -> web.Response:
    from node.rpc.openapi import document

    return web.json_response(document(request.app))


def make_app(node: Any) -> web.Application:
    app = web.Application(middlewares=[errors], client_max_size=MAX_BATCH_BODY_BYTES)
    app[NODE_KEY] = node
    app.router.add_post("/v1/tx", post_tx)
    app.router.add_post("/v1/txs", post_txs)
    app.router.add_get("/v1/tx/{tx_id}", get_tx)
    app.router.add_post("/v1/query", post_query)
    app.router.add_get("/v1/blocks", get_blocks)
    app.router.add_get("/v1/blocks/{height}", get_block)
    app.router.add_get("/v1/status", get_status)
    app.router.add_get("/v1/events", get_events)
    app.router.add_get("/metrics", get_metrics)
    app.router.add_get("/healthz", get_healthz)
    app.router.add_get("/readyz", get_readyz)
    app.router.add_get("/v1/openapi.json", get_openapi)
    from node.rpc import audit

    audit.add_routes(app)
    return app


async def start_rpc(node: Any, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(make_app(node), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    return runner
