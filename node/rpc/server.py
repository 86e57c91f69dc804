"""The HTTP API (PROTOCOL.md, "HTTP API (v1)") on aiohttp.

JSON for people and scripts, msgpack for speed: a request body is read as msgpack when its
Content-Type is application/msgpack, an answer is msgpack when the client sends
`Accept: application/msgpack` (the same structure as the JSON answer). Every error is
`{"error": {"code", "message"}}` with a fitting status, produced in one place (`fail`).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import msgpack
from aiohttp import web

from chaincode.runtime import ChaincodeError
from node.admission.mempool import Mempool
from node.admission.tx import (
    Transaction,
    TxError,
    decode_body,
    decode_envelope,
    decode_envelope_map,
    peek_sender,
    read_envelope_list,
    to_json,
)
from node.ledger.audit import accounts_named
from node.ledger.executor import Receipt
from node.rpc.api import NodeApi
from node.rpc.common import (
    MAX_BATCH_BODY_BYTES,
    MAX_BATCH_TXS,
    MAX_BLOCK_RANGE,
    MAX_BODY_BYTES,
    MAX_WAIT_MS,
    MSGPACK,
    NODE_KEY,
    READING_KEY,
    ReadingBudget,
    answer,
    choice_param,
    dumps,
    errors,
    fail,
    int_param,
    parse_json,
    read_body,
    signed_caller,
)
from node.rpc.connections import (
    HEADER_TIMEOUT_S,
    MAX_HTTP_CONNECTIONS_PER_ADDRESS,
    SSE_KEEPALIVE_S,
    SSE_WRITE_TIMEOUT_S,
    ConnectionLimiter,
    LimitedSite,
    descriptor_budget,
)
from node.rpc.events import (
    MAX_REPLAY_BLOCKS,
    SEES_EVERYTHING,
    Viewer,
    parse_event_id,
    registering_broker,
    replay,
)
from node.rpc.openapi import conforming_query, document
from node.rpc.receipts import receipt_json, shown_receipt, transaction_of


def _is_msgpack(request: web.Request) -> bool:
    return request.content_type == MSGPACK


def _envelopes(request: web.Request, body: bytes, many: bool) -> Any:
    if _is_msgpack(request):
        if not many:
            return body
        # a map item is an envelope already decoded: _decode takes it as is
        return read_envelope_list(body, MAX_BATCH_TXS)
    _check_flat_json(body, MAX_BATCH_TXS if many else 1, many)
    value = parse_json(body)
    if many and not (isinstance(value, list) and all(isinstance(item, dict) for item in value)):
        raise fail(400, "bad_encoding", "body is a JSON list of envelopes {\"body\", \"sig\"}")
    return value


def _check_flat_json(body: bytes, items: int, many: bool) -> None:
    """A JSON envelope (list) is flat: at most `items` objects of two hex strings, so it has
    one `[` at most, a `{` per envelope and two commas per envelope at most (no hex string
    holds one). Counted at C speed before json.loads, this bounds what parsing builds: 8 MiB
    of `[],` built millions of lists for seconds before the count was checked. More `{` than
    allowed is 413 for a list (more envelopes than a batch takes), 400 for one envelope (an
    object inside it)."""
    if body.count(b"{") > items:
        if not many:  # an envelope holds no object: this is a shape, not a size
            raise fail(400, "bad_encoding", "an envelope is {\"body\": hex, \"sig\": hex}")
        raise fail(413, "too_large", f"more than {items} envelopes")
    if body.count(b"[") > int(many) or body.count(b",") > 2 * items:
        raise fail(400, "bad_encoding", "an envelope is {\"body\": hex, \"sig\": hex}"
                   + (", in one JSON list" if many else ""))


def _decode(item: Any) -> Transaction:
    return decode_envelope(item) if isinstance(item, bytes) else decode_envelope_map(item)


def _sender_and_size(item: Any) -> tuple[bytes, int] | None:
    """A msgpack batch item's sender and size, read from the end of its body without
    decoding it; None when the body does not end as a canonical one does (JSON items,
    malformed ones: their decode then says what is wrong). Only the room pre-pass uses it:
    a body that ends so but is not canonical is refused by its decode, after the pass."""
    if not isinstance(item, dict):
        return None
    body, sig = item.get("body"), item.get("sig")
    if not isinstance(body, bytes) or not isinstance(sig, bytes):
        return None
    sender = peek_sender(body)
    return None if sender is None else (sender, len(body) + len(sig))


def _room_refusals(mempool: Mempool, items: list[Any]) -> list[TxError | None]:
    """mempool_full for each batch item whose sender has no room in the pool; None to go on.
    Nothing is admitted during the pass, so each kind of refusal is built once."""
    errors: dict[str, TxError] = {}
    refusals: list[TxError | None] = []
    for item in items:
        found = _sender_and_size(item)
        refusal = None if found is None else mempool.room_refusal(*found)
        if refusal is not None and refusal not in errors:
            errors[refusal] = mempool.room_error(refusal)
        refusals.append(None if refusal is None else errors[refusal])
    return refusals


def _status_only(tx_id: bytes, status: str) -> dict[str, Any]:
    return {"tx_id": tx_id.hex(), "status": status, "height": None, "index": None, "ok": None,
            "result": None, "error": None, "events": [], "block_hash": None}


async def _viewer(request: web.Request, body: bytes = b"") -> Viewer | None:
    """Who reads a receipt: the signed caller, or None for a request with no Authorization
    header (node.rpc.receipts says what each sees); a header that does not verify is 401."""
    if "Authorization" not in request.headers:
        return None
    account, role = await signed_caller(request, body)
    return Viewer(account, role)


def _receipt_for(node: NodeApi, receipt: Receipt, viewer: Viewer | None,
                 tx: Any = None) -> dict[str, Any]:
    if tx is None and viewer is not None and viewer.role not in SEES_EVERYTHING:
        tx = transaction_of(node.executor, receipt)
    return shown_receipt(receipt, viewer, tx.sender_hex if tx is not None else None,
                         registering_broker(node.executor), tx.args if tx is not None else None)


async def post_tx(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    body = await read_body(request, MAX_BODY_BYTES)
    tx = _decode(_envelopes(request, body, many=False))
    waiting = choice_param(request, "wait", ("commit",)) is not None
    timeout_ms = int_param(request, "timeout_ms", 10_000, 0, MAX_WAIT_MS) if waiting else 0
    viewer = await _viewer(request, body) if waiting else None  # before admitting anything
    # Registered before submitting: on a single node the block can commit inside submit().
    future = node.wait_for(tx.tx_id) if waiting else None
    try:
        node.submit(tx)
        if future is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(future), timeout_ms / 1000)
    finally:
        if future is not None:
            node.stop_waiting(tx.tx_id, future)  # refused, timed out or gone: never kept
    if waiting:
        receipt = node.executor.receipt(tx.tx_id)
        if receipt is not None:
            return answer(request, _receipt_for(node, receipt, viewer, tx))
    return answer(request, {"tx_id": tx.tx_id_hex, "status": "pending"}, 202)


async def post_txs(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    body = await read_body(request, MAX_BATCH_BODY_BYTES)
    if node.mempool.is_full():  # every item would be refused: say so without decoding them
        raise node.mempool.full_error()
    items = _envelopes(request, body, many=True)
    if len(items) > MAX_BATCH_TXS:
        raise fail(413, "too_large", f"{len(items)} envelopes; at most {MAX_BATCH_TXS}")
    results: list[dict[str, Any] | None] = []
    decoded: list[Transaction] = []
    positions: list[int] = []
    retry_after_s: int | None = None
    # Room first, from each item's sender alone: on a busy node most items of a flood are
    # refused here, before the canonical decode and every other check; when none has room,
    # the request is refused whole, with no per-item answer to build and send.
    if node.mempool.refuses_none(len(items), len(body)):
        refusals: list[TxError | None] = [None] * len(items)
    else:
        refusals = _room_refusals(node.mempool, items)
    if items and all(refused is not None for refused in refusals):
        raise node.mempool.full_error()
    for item, refused in zip(items, refusals, strict=True):
        if refused is not None:
            node.metrics.reject(refused.code)
            results.append({"error": {"code": refused.code, "message": refused.message}})
            retry_after_s = max(retry_after_s or 0, refused.retry_after_s or 1)
            continue
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
            if refused.retry_after_s is not None:
                retry_after_s = max(retry_after_s or 0, refused.retry_after_s)
    response = answer(request, results)
    if retry_after_s is not None:  # some items were refused mempool_full
        response.headers["Retry-After"] = str(retry_after_s)
    return response


async def get_tx(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    text = request.match_info["tx_id"]
    if len(text) != 64 or not all(c in "0123456789abcdefABCDEF" for c in text):
        raise fail(400, "bad_request", "tx_id is 64 hex characters")
    tx_id = bytes.fromhex(text)
    viewer = await _viewer(request)
    receipt = node.executor.receipt(tx_id)
    if receipt is not None:
        return answer(request, _receipt_for(node, receipt, viewer))
    status = node.mempool.status(tx_id)  # "pending", "expired" (admitted, never committed)
    if status is not None:
        return answer(request, _status_only(tx_id, status))
    return answer(request, _status_only(tx_id, "unknown"), 404)


async def post_query(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    body = await read_body(request, MAX_BODY_BYTES)
    caller, role = await signed_caller(request, body, record=False)
    value: Any = None
    try:
        if _is_msgpack(request):
            try:
                value = msgpack.unpackb(body, raw=False, strict_map_key=True)
            except Exception:
                raise fail(400, "bad_encoding", "body is not msgpack") from None
        else:
            value = parse_json(body)
    finally:  # every signed request is in the access log, saying what it read when it can
        node.access.record(caller, role, request.method, request.raw_path, *what_read(value))
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


MAX_READ_TEXT = 96  # characters of `contract.method` an access-log entry keeps (both are
# checked after it is written: a hostile body must not grow the log's entries)


def what_read(value: Any) -> tuple[str | None, str | None]:
    """(`contract.method`, subject account) of a query's body, for its access-log entry; the
    subject is the `account` argument, else the first account the arguments name."""
    if not isinstance(value, dict):
        return None, None
    contract, method, args = value.get("contract"), value.get("method"), value.get("args")
    read = (f"{contract}.{method}"[:MAX_READ_TEXT]
            if isinstance(contract, str) and isinstance(method, str) else None)
    named: set[str] = set()
    accounts_named(args, named)
    subject = args.get("account") if isinstance(args, dict) else None
    return read, subject if subject in named else min(named, default=None)


BLOCK_READERS = frozenset({"operator", "observer", "registrar", "regulator"})


def block_json(node: NodeApi, height: int) -> dict[str, Any]:
    block = node.executor.block(height)
    cert = node.executor.certificate(height)
    if block is None or cert is None:
        raise fail(404, "not_found", f"no block at height {height}")
    transactions = []
    receipts = []
    for body, sig in block.txs:
        entry: dict[str, Any] = {"body": body.hex(), "sig": sig.hex()}
        try:
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
    elif text.isascii() and text.isdigit() and len(text) <= 18:
        height = int(text)
    else:
        raise fail(400, "bad_request", "height is an integer (at most 18 digits) or 'latest'")
    return answer(request, block_json(node, height))


async def get_blocks(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    await _block_reader(request)
    start = int_param(request, "from", 1, 1)
    stop = int_param(request, "to", min(node.executor.height, start + MAX_BLOCK_RANGE - 1), 1)
    if stop < start or stop - start >= MAX_BLOCK_RANGE:
        raise fail(400, "bad_request", f"from..to spans 1..{MAX_BLOCK_RANGE} blocks")
    stop = min(stop, node.executor.height)
    return answer(request, {"blocks": [block_json(node, h) for h in range(start, stop + 1)]})


async def get_status(request: web.Request) -> web.Response:
    return answer(request, request.app[NODE_KEY].status())


async def get_events(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events (node.rpc.events): `id: H.i` on every event; `Last-Event-ID` resumes
    after that event without a gap; a final `closed` event says why a stream ends."""
    node = request.app[NODE_KEY]
    account, role = await signed_caller(request)
    if role is None:
        raise fail(403, "forbidden", "event streams are for registered accounts")
    blocks_only = choice_param(request, "only", ("block",)) is not None
    after = None
    last_event_id = request.headers.get("Last-Event-ID")
    if last_event_id is not None:
        after = parse_event_id(last_event_id)
        if after is None:
            raise fail(400, "bad_request", "Last-Event-ID is an event id H.i of this stream")
    address = request.remote or ""
    refused = node.events.refusal(account, role, address)
    if refused is not None:
        raise fail(503, "busy", refused)
    # Subscribing and reading the height with no await between: the queue holds exactly the
    # blocks after `top`, the replay the ones up to it.
    sub = node.events.subscribe(account, role, blocks_only, address)
    top = node.executor.height
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-cache"})
    sent: str | None = last_event_id

    async def write(item: dict[str, Any]) -> None:
        nonlocal sent
        lines = f"event: {item['event']}\ndata: {dumps(item['data'])}\n\n"
        if item.get("id") is not None:
            lines = f"id: {item['id']}\n" + lines
        await asyncio.wait_for(response.write(lines.encode()), SSE_WRITE_TIMEOUT_S)
        if item.get("id") is not None:
            sent = item["id"]

    try:
        await response.prepare(request)
        await response.write(b": connected\n\n")
        if after is not None:
            if after[0] > top:
                await write(_closed("unknown_id", f"event {last_event_id} is above this "
                                    f"node's height {top}", sent))
                return response
            if top - after[0] > MAX_REPLAY_BLOCKS:
                await write(_closed("too_far_behind", f"more than {MAX_REPLAY_BLOCKS} blocks "
                                    "to replay; read them from the audit routes", sent))
                return response
            for item in replay(node.executor, sub, after, top, node.events.broker_of):
                await write(item)  # if live events overflow meanwhile, the closed event
                # that follows names the last replayed id, and a resume goes on from there
        while True:
            try:
                item = await asyncio.wait_for(sub.queue.get(), SSE_KEEPALIVE_S)
            except TimeoutError:
                await asyncio.wait_for(response.write(b": keep-alive\n\n"),
                                       SSE_WRITE_TIMEOUT_S)
                continue
            if item is None:
                break
            if item["event"] == "closed":
                item = _closed(item["data"]["reason"], item["data"]["message"], sent)
            await write(item)
    except (TimeoutError, ConnectionError):
        pass  # a reader that stopped reading, or went away
    finally:
        node.events.unsubscribe(sub)
    return response


def _closed(reason: str, message: str, last_event_id: str | None) -> dict[str, Any]:
    return {"id": None, "event": "closed",
            "data": {"reason": reason, "message": message, "last_event_id": last_event_id}}


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
    return web.json_response(document(request.app))


def make_app(node: NodeApi) -> web.Application:
    app = web.Application(middlewares=[errors, conforming_query],
                          client_max_size=MAX_BATCH_BODY_BYTES)
    app[NODE_KEY] = node
    app[READING_KEY] = ReadingBudget()
    app.router.add_post("/v1/tx", post_tx)
    app.router.add_post("/v1/txs", post_txs)
    app.router.add_get("/v1/tx/{tx_id}", get_tx)
    app.router.add_post("/v1/query", post_query)
    app.router.add_get("/v1/blocks", get_blocks)
    app.router.add_get("/v1/blocks/{height}", get_block)
    app.router.add_get("/v1/status", get_status)
    app.router.add_get("/v1/events", get_events, allow_head=False)  # a stream: no HEAD
    app.router.add_get("/metrics", get_metrics)
    app.router.add_get("/healthz", get_healthz)
    app.router.add_get("/readyz", get_readyz)
    app.router.add_get("/v1/openapi.json", get_openapi)
    from node import console
    from node.rpc import alerts, audit, audit_holds, audit_market, audit_names, audit_offering

    audit.add_routes(app)
    audit_market.add_routes(app)
    audit_offering.add_routes(app)
    alerts.add_routes(app)
    audit_holds.add_routes(app)
    audit_names.add_routes(app)
    console.add_routes(app)  # /console/: the regulator's console, static files
    return app


async def start_rpc(node: NodeApi, host: str, port: int,
                    limiter: ConnectionLimiter | None = None) -> web.AppRunner:
    """Serve the API on host:port behind the connection caps and time limits of
    `node.rpc.connections` (by default sized to this process's descriptor limit)."""
    runner = web.AppRunner(make_app(node), access_log=None,
                           keepalive_timeout=HEADER_TIMEOUT_S)
    await runner.setup()
    if limiter is None:
        total = descriptor_budget()
        limiter = ConnectionLimiter(total, min(total, MAX_HTTP_CONNECTIONS_PER_ADDRESS))
    site = LimitedSite(runner, host, port, limiter)
    await site.start()
    return runner
