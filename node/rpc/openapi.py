"""The OpenAPI 3 description of the node's HTTP API, built from one table of routes.

A route registered on the app but missing here is a bug: tests compare the two."""

from __future__ import annotations

from typing import Any

from aiohttp import web

ERROR = {"$ref": "#/components/schemas/Error"}
SIGNED = [{"stoledger": []}]

# (method, path, summary, signed, extra parameters)
ROUTES: list[tuple[str, str, str, bool, list[str]]] = [
    ("post", "/v1/tx", "Admit one signed transaction envelope (JSON hex or msgpack); "
     "?wait=commit&timeout_ms=N waits for the receipt.", False, ["wait", "timeout_ms"]),
    ("post", "/v1/txs", "Admit a list of envelopes; one result per item, in order.", False, []),
    ("get", "/v1/tx/{tx_id}", "The receipt of a transaction; 404 with status unknown if never "
     "seen.", False, []),
    ("post", "/v1/query", "Run a chaincode query as the signing account.", True, []),
    ("get", "/v1/blocks", "Blocks from..to with certificates and receipts.", True,
     ["from", "to"]),
    ("get", "/v1/blocks/{height}", "One block (or 'latest') with its commit certificate.", True,
     []),
    ("get", "/v1/status", "Chain, height, hashes, view, primary, checkpoint, mempool, peers.",
     False, []),
    ("get", "/v1/events", "Server-Sent Events: blocks and the contract events the caller may "
     "see.", True, []),
    ("get", "/metrics", "Prometheus text metrics.", False, []),
    ("get", "/healthz", "Liveness.", False, []),
    ("get", "/readyz", "Readiness: caught up and connected to a quorum.", False, []),
    ("get", "/v1/openapi.json", "This document.", False, []),
    ("get", "/v1/audit/holdings", "Every token and cash balance of an account as of a height.",
     True, ["account", "at", "format"]),
    ("get", "/v1/audit/captable", "Holders, balances, holder count and outstanding of a token "
     "as of a height.", True, ["symbol", "at", "format", "limit", "cursor"]),
    ("get", "/v1/audit/history", "Every transaction touching an account or a token.", True,
     ["account", "symbol", "from", "to", "format", "limit", "cursor"]),
    ("get", "/v1/audit/rejected", "Committed transactions chaincode refused, by code.", True,
     ["from", "to", "code", "format", "limit", "cursor"]),
    ("get", "/v1/audit/supply", "Cap, issued, redeemed, outstanding, sum of balances and "
     "whether they reconcile.", True, ["symbol", "at"]),
    ("get", "/v1/audit/dividends", "Declarations, payments and withholding totals of a token.",
     True, ["symbol", "format"]),
    ("get", "/v1/audit/proof", "Header and commit certificate of a block, to check offline.",
     True, ["height"]),
    ("get", "/v1/audit/access-log", "Who read what, when.", True,
     ["from", "format", "limit", "cursor"]),
    ("get", "/v1/audit/alerts", "Surveillance alerts (rules S1-S10) with their evidence.", True,
     ["rule", "symbol", "account", "from", "to", "format", "limit", "cursor"]),
]


def document(app: web.Application | None = None) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for method, path, summary, signed, params in ROUTES:
        operation: dict[str, Any] = {
            "summary": summary,
            "responses": {"200": {"description": "OK"},
                          "400": {"description": "Bad input",
                                  "content": {"application/json": {"schema": ERROR}}}},
        }
        parameters = [{"name": name, "in": "query", "required": False,
                       "schema": {"type": "string"}} for name in params]
        for name in ("tx_id", "height"):
            if "{" + name + "}" in path:
                parameters.append({"name": name, "in": "path", "required": True,
                                   "schema": {"type": "string"}})
        if parameters:
            operation["parameters"] = parameters
        if signed:
            operation["security"] = SIGNED
            operation["responses"]["401"] = {"description": "Missing or bad signature"}
            operation["responses"]["403"] = {"description": "The caller's role may not read "
                                                            "this"}
        if method == "post":
            operation["requestBody"] = {"content": {"application/json": {},
                                                    "application/msgpack": {}}}
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.0.3",
        "info": {"title": "stoledger node API", "version": "1",
                 "description": "See PROTOCOL.md for encoding, signing and error codes."},
        "paths": paths,
        "components": {
            "securitySchemes": {"stoledger": {
                "type": "apiKey", "in": "header", "name": "Authorization",
                "description": "Stoledger <account>:<ts_ms>:<sig_hex>; sig is Ed25519 over "
                               "b'stoledger:http:v1\\x00' + chain + '\\n' + METHOD + '\\n' + "
                               "path_and_query + '\\n' + ts_ms + '\\n' + hex(sha256(body))"}},
            "schemas": {"Error": {"type": "object", "properties": {"error": {
                "type": "object", "properties": {"code": {"type": "string"},
                                                 "message": {"type": "string"}}}}}},
        },
    }
