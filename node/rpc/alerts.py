"""`GET /v1/audit/alerts`: the surveillance alerts (node.surveillance) for the regulator and the
registrar (PROTOCOL.md, "Audit" and "Surveillance").

Parameters: `rule` (S1..S14), `symbol`, `account`, `from` and `to` (heights of the blocks that
raised the alerts; `to` defaults to the latest and is the `as_of` height), `limit`, `cursor`,
`format=csv`. Like every audit route it checks the signed request (401), the role (403 for
anyone but the regulator and the registrar), then the parameters (400), and a cursor pins the
height of its first page. Alerts are the node's own derivation from the chain, identical on
every node at the same height. Each alert version is a row; its `evidence` lists the
transactions no earlier version of the alert listed (at most 64: a burst is several versions of
one block, `part` [i, n]), so an alert's versions together list every transaction judged. The
CSV has one row per version with `accounts`, `heights`, `metrics`, `evidence` and `part` as JSON
cells.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from node.rpc.audit import (
    ISSUANCE_READERS,
    _account,
    _as_of,
    _auditor,
    _cursor,
    _format,
    _limit,
    _position,
    _range,
    _reply,
    _symbol_text,
    encode_cursor,
)
from node.rpc.common import NODE_KEY, fail
from node.surveillance.alerts import COLUMNS, csv_row, list_alerts
from node.surveillance.rules import NAMES

ROUTE = "alerts"


async def get_alerts(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    await _auditor(request, ISSUANCE_READERS)
    fmt = _format(request)
    rule = request.query.get("rule") or None
    if rule is not None and rule not in NAMES:
        raise fail(400, "bad_request", f"rule is one of {', '.join(NAMES)}")
    symbol = _symbol_text(request, required=False)
    account = _account(request, required=False)
    limit = _limit(request)
    cursor = _cursor(node, request, ROUTE)
    start, to = _range(node, request, cursor)
    subject = f"{rule or ''}:{symbol or ''}:{account or ''}"
    position = _position(cursor, start, subject)
    alerts, following = list_alerts(node.executor.store, rule=rule, symbol=symbol,
                                    account=account, start=position, to=to, limit=limit)
    value: dict[str, Any] = {
        "as_of": _as_of(node, to), "rule": rule, "symbol": symbol, "account": account,
        "from": start, "to": to, "alerts": alerts,
        "next_cursor": None if following is None else
        encode_cursor(ROUTE, to, [subject, *following])}
    if fmt == "csv":
        value = dict(value, alerts=[csv_row(alert) for alert in alerts])
    return _reply(request, fmt, value, "alerts", COLUMNS)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/audit/alerts", get_alerts)
