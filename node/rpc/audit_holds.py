"""`GET /v1/audit/holds?account=&alert=&at=`: every fds hold (PROTOCOL.md, "fds" and "Audit"),
with who placed and released it, when, why and on which alert.

How it works. The route reads the fds contract's own records (chaincode/fds.py: `hold/<id>`,
and the `acct/<account>/` and `alert/<alert_id>/` indexes) in the state as of the end of block
`at` (default the latest; that is `as_of`), so a hold shows the status it had then. Without a
filter every hold is listed, oldest first; `account` lists the holds placed on the account
(a recovered key's active holds moved to the new key, released ones stay with the old), and
`alert` the holds placed on an alert's evidence (what the console shows beside the alert).
Both together: the account's holds on that alert.

Access: the regulator and the registrar; 403 for everyone else. Paging, CSV and cursors as in
node.rpc.audit: a cursor pins the height of its first page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from consensus import codec
from node.admission.tx import to_json
from node.rpc.audit import (
    ISSUANCE_READERS,
    _account,
    _auditor,
    _format,
    _limit,
    _pinned_height,
    _reply,
    _state,
    encode_cursor,
)
from node.rpc.audit import _as_of as as_of
from node.rpc.audit import _cursor as read_cursor
from node.rpc.common import NODE_KEY, fail

ROUTE = "holds"
ALERT_ID = re.compile("[0-9a-f]{64}")
HOLD_COLUMNS = ["hold_id", "account", "scope", "reason", "alert_id", "by", "placed_as", "height",
                "time",
                "tx_id", "orders_cancelled", "status", "released_by", "released_reason",
                "released_height", "released_time", "released_tx"]


def _alert(request: web.Request) -> str | None:
    value = request.query.get("alert") or None
    if value is not None and not ALERT_ID.fullmatch(value):
        raise fail(400, "bad_request", "alert must be an alert id (64 lowercase hex)")
    return value


def _hold_ids(state: Any, account: str | None, alert: str | None, start: int
              ) -> Iterator[int]:
    """Hold ids from `start` on, of the alert (else the account, else all), in id order."""
    if alert is not None:
        prefix = f"fds/alert/{alert}/"
    elif account is not None:
        prefix = f"fds/acct/{account}/"
    else:
        prefix = "fds/hold/"
    for key, _ in state.range(prefix, f"{prefix}{start:012d}"):
        yield int(key.rsplit("/", 1)[1])


def _hold(state: Any, hold_id: int) -> dict[str, Any]:
    raw = state.get(f"fds/hold/{hold_id:012d}")
    assert raw is not None, hold_id  # every index entry names a hold record
    hold: dict[str, Any] = codec.unpack(raw)
    return hold


async def get_holds(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    await _auditor(request, ISSUANCE_READERS)
    fmt = _format(request)
    account = _account(request, required=False)
    alert = _alert(request)
    limit = _limit(request)
    cursor = read_cursor(node, request, ROUTE)
    at = _pinned_height(node, request, "at", cursor)
    subject = f"{account or ''}|{alert or ''}"
    start = 1
    if cursor is not None:
        position = cursor[1]
        if len(position) != 2 or position[0] != subject or not isinstance(position[1], int):
            raise fail(400, "bad_request", "bad cursor: it was made for other parameters")
        start = position[1]
    state = _state(node, at)
    rows: list[dict[str, Any]] = []
    following = None
    for hold_id in _hold_ids(state, account, alert, start):
        if len(rows) == limit:
            following = encode_cursor(ROUTE, at, [subject, hold_id])
            break
        hold = _hold(state, hold_id)
        if alert is not None and hold["alert_id"] != alert:
            continue  # never listed under an alert it was not placed on (chaincode.fds keeps
            # "/" out of alert ids; this guards the listing all the same)
        if alert is not None and account is not None and hold["account"] != account:
            continue  # the alert's holds on other accounts (at most one per account, scope)
        rows.append(hold)
    return _reply(request, fmt, {"as_of": as_of(node, at), "account": account, "alert": alert,
                                 "holds": to_json(rows), "next_cursor": following},
                  "holds", HOLD_COLUMNS)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/audit/holds", get_holds)


__all__ = ["HOLD_COLUMNS", "add_routes"]
