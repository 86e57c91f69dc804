"""`GET /v1/audit/accounts?name=NAME&at=`: the accounts whose identity record gives NAME (the
organisation of a genesis admin, or the `name` attribute its broker registered), so that a
name the CLI prints (`audit captable` shows `kim`) can be typed back (`--account kim`).

How it works. The route reads every identity record (chaincode/identity.py, `account/<id>`) in
the state as of the end of block `at` (default the latest; that is `as_of`), in account order,
and lists those whose name is NAME exactly. A name is free text a broker chose: several
accounts may share it, and the answer lists them all (up to MAX_MATCHES), for the caller to
tell apart; it never picks one.

Access: the regulator and the registrar (who may read every identity record through
identity.get); 403 for everyone else.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from node.rpc.audit import ISSUANCE_READERS, _auditor, _decoded, _height, _reply, _state
from node.rpc.audit import _as_of as as_of
from node.rpc.common import NODE_KEY, fail

RECORDS = "identity/account/"
MAX_MATCHES = 50  # accounts one answer lists: more sharing one name is a question for the
# registrar, not a look-up (and `complete` says the list was cut)
MAX_SCANNED = 50_000  # identity records one request reads: ~50 ms on loopback; a registry
# larger than that answers `complete: false` rather than hold the node's loop for seconds
MAX_NAME = 64  # characters of NAME (PARAMS["name"] in node.rpc.openapi)


def record_name(record: Any) -> str | None:
    """The name an identity record gives its account (node.cli.show.identity_name's rule)."""
    if not isinstance(record, dict):
        return None
    attrs = record.get("attrs") or {}
    name = record.get("org") or (attrs.get("name") if isinstance(attrs, dict) else None)
    return name if isinstance(name, str) and name else None


async def get_accounts(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    await _auditor(request, ISSUANCE_READERS)
    name = request.query.get("name", "")
    if not name or len(name) > MAX_NAME:
        raise fail(400, "bad_request", f"name is required: 1 to {MAX_NAME} characters")
    at = _height(node, request, "at")
    found: list[dict[str, Any]] = []
    complete = True
    for scanned, (_, raw) in enumerate(_state(node, at).range(RECORDS)):
        if scanned == MAX_SCANNED or len(found) == MAX_MATCHES:
            complete = False
            break
        record = _decoded(raw)
        if record_name(record) == name:
            found.append({key: record.get(key) for key in ("account", "role", "org", "broker",
                                                          "status")})
    return _reply(request, "json", {"as_of": as_of(node, at), "name": name, "accounts": found,
                                    "complete": complete})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/audit/accounts", get_accounts)


__all__ = ["MAX_MATCHES", "add_routes", "record_name"]
