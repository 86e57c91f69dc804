"""The OpenAPI 3 description of the node's HTTP API, built from one table of routes.

A route registered on the app but missing here is a bug: tests compare the two, and a
schemathesis run (tests/node/test_schemathesis.py) fuzzes every route, signed, against this
document. So it is exact: every parameter has the type and range the handler accepts, every
status a route can answer is listed with its content type, and request bodies never admit
null. What a schema cannot say (a signature that verifies, a symbol that exists, "exactly one
of account or symbol") is refused with 400 and the error body below.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from node.rpc.common import Handler, fail
from node.surveillance.rules import NAMES

RULES = list(NAMES)  # S1, S2, ...: the rules alerts name

ERROR = {"$ref": "#/components/schemas/Error"}
SIGNED = [{"stoledger": []}]
HEX_64 = "^[0-9a-f]{64}$"

# Query parameters by name: their schemas, as the handlers parse them.
PARAMS: dict[str, dict[str, Any]] = {
    "wait": {"type": "string", "enum": ["commit"], "description": "commit"},
    "timeout_ms": {"type": "integer", "minimum": 0, "maximum": 60_000,
                   "description": "an integer of milliseconds, 0..60000"},
    "from": {"type": "integer", "minimum": 1, "maximum": 10**18,
             "description": "a block height (an integer 1..10^18)"},
    "to": {"type": "integer", "minimum": 1, "maximum": 10**18,
           "description": "a block height (an integer 1..10^18)"},
    "at": {"type": "integer", "minimum": 0, "maximum": 10**18,
           "description": "a block height (a non-negative integer up to 10^18)"},
    "height": {"type": "integer", "minimum": 0, "maximum": 10**18,
               "description": "a block height (a non-negative integer up to 10^18)"},
    "account": {"type": "string", "pattern": HEX_64,
                "description": "an account id (64 lowercase hex)"},
    "symbol": {"type": "string", "pattern": "^[A-Z0-9][A-Z0-9._-]{0,15}$",
               "description": "a token symbol (A-Z, 0-9, '.', '_', '-'; 1 to 16)"},
    "format": {"type": "string", "enum": ["json", "csv"], "description": "json or csv"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 1000,
              "description": "an integer 1..1000"},
    "cursor": {"type": "string", "maxLength": 512, "pattern": "^[A-Za-z0-9_-]*$",
               "description": "a cursor (as next_cursor gave it)"},
    "code": {"type": "string", "maxLength": 64, "pattern": "^[A-Za-z0-9_*]*$",
             "description": "an error code (letters, digits, _ and *)"},
    "only": {"type": "string", "enum": ["block"], "description": "block"},
    "rule": {"type": "string", "enum": RULES, "description": "a rule name (S1, S2, ...)"},
    "alert": {"type": "string", "pattern": HEX_64,
              "description": "an alert id (64 lowercase hex)"},
    "offering_id": {"type": "integer", "minimum": 0, "maximum": 10**18,
                    "description": "an offering id (a non-negative integer)"},
    "name": {"type": "string", "maxLength": 64, "pattern": "^[^\\x00-\\x1f\\x7f]+$",
             "description": "a name (1 to 64 characters, no control characters)"},
}
# A parameter that means something else on one route: the access log's `from` is an entry's
# sequence number, not a block height.
ROUTE_PARAMS: dict[tuple[str, str], dict[str, Any]] = {
    ("/v1/audit/access-log", "from"): {
        "type": "integer", "minimum": 1, "maximum": 10**18,
        "description": "an access-log sequence number (an integer 1..10^18)"},
}


def param_schema(path: str, name: str) -> dict[str, Any]:
    return ROUTE_PARAMS.get((path, name), PARAMS[name])


# Query parameters a route cannot do without.
REQUIRED = {("/v1/audit/holdings", "account"), ("/v1/audit/captable", "symbol"),
            ("/v1/audit/supply", "symbol"), ("/v1/audit/dividends", "symbol"),
            ("/v1/audit/offerings", "symbol"), ("/v1/audit/accounts", "name")}
PATH_PARAMS: dict[str, dict[str, Any]] = {
    "tx_id": {"type": "string", "pattern": HEX_64},
    "height": {"type": "string", "pattern": "^(latest|[0-9]{1,18})$"},
}

# Sizes are not shapes: a body over its byte limit, a transaction body over MAX_TX_BYTES or a
# batch of more than 10,000 envelopes is answered 413 `too_large` (documented on each route),
# so the schemas carry no maxLength or maxItems for them, which would make those requests
# invalid data that a checker expects answered 400. What breaks a schema is a 400.
ENVELOPE = {"type": "object", "required": ["body", "sig"], "additionalProperties": False,
            "properties": {"body": {"type": "string", "pattern": "^([0-9a-f]{2})+$"},
                           "sig": {"type": "string", "pattern": "^[0-9a-f]{128}$"}}}
# A batch item is an object: one that is not is 400 for the whole batch; an object whose
# fields are not an envelope's gets its own error in the 200 answer (PROTOCOL, Batches).
BATCH_ITEM = {"type": "object", "description": "an envelope {\"body\": hex, \"sig\": hex}"}
BINARY = {"type": "string", "format": "binary"}
BODIES: dict[str, dict[str, Any]] = {
    "/v1/tx": {"required": True, "content": {"application/json": {"schema": ENVELOPE},
                                             "application/msgpack": {"schema": BINARY}}},
    "/v1/txs": {"required": True, "content": {
        "application/json": {"schema": {"type": "array", "items": BATCH_ITEM}},
        "application/msgpack": {"schema": BINARY}}},
    "/v1/query": {"required": True, "content": {
        "application/json": {"schema": {
            "type": "object", "required": ["contract", "method"],
            "properties": {"contract": {"type": "string"}, "method": {"type": "string"},
                           "args": {"type": "object"}}}},
        "application/msgpack": {"schema": BINARY}}},
}

# (method, path, summary, signed, query parameters, statuses besides 200)
ROUTES: list[tuple[str, str, str, bool, list[str], list[int]]] = [
    ("post", "/v1/tx", "Admit one signed transaction envelope (JSON hex or msgpack); "
     "?wait=commit&timeout_ms=N waits for the receipt, shown as the caller of an optional "
     "signed-request header may see it (without one: status, place and outcome only).", False,
     ["wait", "timeout_ms"], [202, 400, 401, 403, 408, 409, 413, 503]),
    ("post", "/v1/txs", "Admit a list of at most 10,000 envelopes (413 past it); one result "
     "per item, in order (Retry-After when some were refused mempool_full; 503 for the whole "
     "request when none could be admitted; 503 busy when too many request bodies are being "
     "read). An item that is not an envelope object makes the whole request 400.", False, [],
     [400, 408, 413, 503]),
    ("get", "/v1/tx/{tx_id}", "The receipt of a transaction; status pending, expired (admitted, "
     "never committed), or 404 with status unknown if never seen. Signed (optional), the events, "
     "result and error message the caller may see; unsigned, status, place and outcome only.",
     False, [], [400, 401, 404]),
    ("post", "/v1/query", "Run a chaincode query as the signing account.", True, [],
     [400, 408, 413, 503]),
    ("get", "/v1/blocks", "Blocks from..to with certificates and receipts.", True,
     ["from", "to"], [400]),
    ("get", "/v1/blocks/{height}", "One block (or 'latest') with its commit certificate.", True,
     [], [400, 404]),
    ("get", "/v1/status", "Chain, height, hashes, view, primary, checkpoint, mempool, peers.",
     False, [], []),
    ("get", "/v1/events", "Server-Sent Events for registered callers: blocks and the contract "
     "events the caller may see; ?only=block gives block events alone; ids H.i, Last-Event-ID "
     "resumes, a final 'closed' event says why a stream ends; 503 busy past the stream caps.",
     True, ["only"], [400, 503]),
    ("get", "/metrics", "Prometheus text metrics.", False, [], []),
    ("get", "/healthz", "Liveness.", False, [], []),
    ("get", "/readyz", "Readiness: caught up and connected to a quorum.", False, [], [503]),
    ("get", "/v1/openapi.json", "This document.", False, [], []),
    ("get", "/console/genesis.json", "The public part of genesis the web console (/console/) "
     "uses: chain id, n, f, quorum, operators' and observers' keys and RPC URLs, orgs.", False,
     [], []),
    ("get", "/console/symbols.json", "The token symbols on the chain, with names and issuers "
     "(any registered account).", True, [], []),
    ("get", "/v1/audit/holdings", "Every token and cash balance of an account as of a height.",
     True, ["account", "at", "format"], [400]),
    ("get", "/v1/audit/captable", "Holders, balances, holder count and outstanding of a token "
     "as of a height.", True, ["symbol", "at", "format", "limit", "cursor"], [400]),
    ("get", "/v1/audit/history", "Every transaction touching an account or a token (give "
     "exactly one).", True, ["account", "symbol", "from", "to", "format", "limit", "cursor"],
     [400]),
    ("get", "/v1/audit/rejected", "Committed transactions chaincode refused, by code.", True,
     ["from", "to", "code", "format", "limit", "cursor"], [400]),
    ("get", "/v1/audit/supply", "Cap, issued, redeemed, outstanding, sum of balances and "
     "whether they reconcile.", True, ["symbol", "at"], [400]),
    ("get", "/v1/audit/dividends", "Declarations, payments and withholding totals of a token.",
     True, ["symbol", "format"], [400]),
    ("get", "/v1/audit/proof", "Header and commit certificate of a block, to check offline.",
     True, ["height"], [400]),
    ("get", "/v1/audit/access-log", "Who read what, when.", True,
     ["from", "format", "limit", "cursor"], [400]),
    ("get", "/v1/audit/orders", "Every order (media, origin, broker, status, cancel code) "
     "placed in blocks from..to, by token and/or account.", True,
     ["symbol", "account", "from", "to", "format", "limit", "cursor"], [400]),
    ("get", "/v1/audit/trades", "Every trade made in blocks from..to, with both accounts and "
     "each side's broker, media and origin.", True,
     ["symbol", "account", "from", "to", "format", "limit", "cursor"], [400]),
    ("get", "/v1/audit/offerings", "Every public offering of a token with each subscription, "
     "its equal and pro-rata shares, allocation, refund and drop code (regulator and "
     "registrar).", True, ["symbol", "offering_id", "at", "format", "limit", "cursor"], [400]),
    ("get", "/v1/audit/alerts", f"Surveillance alerts (rules {RULES[0]}-{RULES[-1]}) with their "
     "evidence.", True,
     ["rule", "symbol", "account", "from", "to", "format", "limit", "cursor"], [400]),
    ("get", "/v1/audit/holds", "Every fds hold (of an account, or placed on an alert's "
     "evidence) with who placed and released it, when, why and on which alert.", True,
     ["account", "alert", "at", "format", "limit", "cursor"], [400]),
    ("get", "/v1/audit/accounts", "The accounts whose identity record gives a name (an "
     "organisation's, or the name its broker registered), all of them when several share it "
     "(regulator and registrar).", True, ["name", "at"], [400]),
]

TEXT_ROUTES = {"/metrics": "text/plain"}
STREAM_ROUTES = {"/v1/events": "text/event-stream"}
DESCRIPTIONS = {200: "OK", 202: "Admitted, not yet committed", 400: "Bad input",
                401: "Missing or bad signature", 403: "Refused", 404: "Not found",
                405: "Method not allowed (the Allow header lists the methods)",
                408: "The request body did not arrive in time", 409: "Duplicate",
                413: "Body too large", 503: "Busy or not ready"}


def _content(path: str, params: list[str], status: int) -> dict[str, Any]:
    if status == 200 and path in TEXT_ROUTES:
        return {TEXT_ROUTES[path]: {"schema": {"type": "string"}}}
    if status == 200 and path in STREAM_ROUTES:
        event = {"type": "object", "required": ["event", "data"],
                 "properties": {"id": {"type": "string"}, "event": {"type": "string"},
                                "data": {"type": "string"}}}
        return {STREAM_ROUTES[path]: {"schema": event}}
    if status == 404 and path == "/v1/tx/{tx_id}":
        schema: dict[str, Any] = {"type": "object", "required": ["tx_id", "status"]}
    elif status >= 400:
        schema = ERROR
    elif path == "/v1/txs":
        schema = {"type": "array", "items": {"type": "object"}}
    else:
        schema = {"type": "object"}
    content: dict[str, Any] = {"application/json": {"schema": schema},
                               "application/msgpack": {"schema": BINARY}}
    if status == 200 and "format" in params:
        content["text/csv"] = {"schema": {"type": "string"}}
    return content


def _operation(method: str, path: str, summary: str, signed: bool, params: list[str],
               statuses: list[int]) -> dict[str, Any]:
    codes = sorted({200, 405, *statuses, *((401, 403) if signed else ())})
    responses: dict[str, Any] = {}
    for status in codes:
        response: dict[str, Any] = {"description": DESCRIPTIONS[status],
                                    "content": _content(path, params, status)}
        if status == 405:
            response["headers"] = {"Allow": {"required": True, "schema": {"type": "string"}}}
        responses[str(status)] = response
    operation: dict[str, Any] = {"summary": summary, "responses": responses}
    parameters = [{"name": name, "in": "query", "required": (path, name) in REQUIRED,
                   "schema": param_schema(path, name)} for name in params]
    for name, schema in PATH_PARAMS.items():
        if "{" + name + "}" in path:
            parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    if path == "/v1/events":
        parameters.append({"name": "Last-Event-ID", "in": "header", "required": False,
                           "schema": {"type": "string", "pattern": "^[0-9]{1,19}\\.[0-9]{1,9}$"}})
    if parameters:
        operation["parameters"] = parameters
    if signed:
        operation["security"] = SIGNED
    if method == "post":
        operation["requestBody"] = BODIES[path]
    return operation


def document(app: web.Application | None = None) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for method, path, summary, signed, params, statuses in ROUTES:
        paths.setdefault(path, {})[method] = _operation(method, path, summary, signed, params,
                                                        statuses)
    return {
        "openapi": "3.0.3",
        "info": {"title": "stoledger node API", "version": "1",
                 "description": "See docs/reference.md for encoding, signing and error codes."},
        "paths": paths,
        "components": {
            "securitySchemes": {"stoledger": {
                "type": "apiKey", "in": "header", "name": "Authorization",
                "description": "Stoledger <account>:<ts_ms>:<sig_hex>; sig is Ed25519 over "
                               "b'stoledger:http:v1\\x00' + chain + '\\n' + METHOD + '\\n' + "
                               "path_and_query + '\\n' + ts_ms + '\\n' + hex(sha256(body))"}},
            "schemas": {"Error": {
                "type": "object", "required": ["error"], "additionalProperties": False,
                "properties": {"error": {
                    "type": "object", "required": ["code", "message"],
                    "properties": {"code": {"type": "string"},
                                   "message": {"type": "string"}}}}}},
        },
    }


# ---- the document as a check: query parameters ------------------------------------------------

QUERY = {(method.upper(), path): params for method, path, _, _, params, _ in ROUTES}


@web.middleware
async def conforming_query(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every query parameter a route documents is checked against its schema in PARAMS before
    the handler runs: one given twice, or out of its schema (an empty `from=`, a `symbol` off
    its pattern, an `only` that is not `block`), is 400 `bad_request`. Handlers read the
    first value and took an empty one for none, so the document and the answers disagreed."""
    resource = request.match_info.route.resource
    names = QUERY.get((request.method, resource.canonical)) if resource is not None else None
    for name in names or ():
        values = request.query.getall(name, [])
        if len(values) > 1:
            raise fail(400, "bad_request", f"parameter {name} is given more than once")
        schema = param_schema(resource.canonical, name) if resource is not None else PARAMS[name]
        if values and violation(values[0], schema):
            raise fail(400, "bad_request", f"parameter {name} is not {schema['description']}")
    return await handler(request)


def violation(text: str, schema: dict[str, Any]) -> bool:
    """Whether a query parameter's text breaks its schema (the kinds PARAMS uses)."""
    if schema["type"] == "integer":
        return (re.fullmatch(r"-?[0-9]{1,19}", text) is None
                or not schema["minimum"] <= int(text) <= schema["maximum"])
    if "enum" in schema:
        return text not in schema["enum"]
    pattern = schema["pattern"].removesuffix("$") + r"\Z"
    return len(text) > schema.get("maxLength", len(text)) or re.search(pattern, text) is None
