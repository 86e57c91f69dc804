"""The offerings' audit route (PROTOCOL.md, "offering" and "Audit"): every public offering of a
token, with each subscription, its allocation and its refund.

    GET /v1/audit/offerings?symbol=S[&offering_id=N][&at=H][&limit=][&cursor=][&format=csv]

How it works. It runs the offering contract's own queries (`offerings`, `subscriptions`:
chaincode/offering.py) against the state as of the end of block `at` (default the latest; that
is `as_of`), with the rights of the genesis regulator, so an offering shows the status,
allocation and refunds it had then. The answer has two parts: `offerings`, every offering of
the token (or the one asked for) with its terms, status and totals, at most MAX_OFFERINGS; and
`subscriptions`, the book of subscriptions, offering by offering and account by account, one
page of at most `limit` rows: `offering_id`, `account`, `broker`, `qty` asked, `escrowed`
(still held), `equal` and `pro_rata` shares (null unless the offering was oversubscribed and
allocated), `allocated`, `refunded`, `code` (why it was dropped: a check's code at allocation,
or CANCELLED), `status` (live | withdrawn | allocated | dropped), `draw` (its place in the
draw order), `subscribed_height`, `settled_height` and `withdrawn_before` (won returned by
the account's earlier, withdrawn subscriptions to the offering). An offering's `withdrawn` is
the won returned by all its withdrawals, so every won escrowed under it is `allocated_qty x
price + refunded + withdrawn +` the rows' `escrowed`. CSV gives the subscriptions table.

Access: the regulator and the registrar; 403 for everyone else. Paging and cursors as in
node.rpc.audit: a cursor pins the height of its first page and names the offering and the last
account it returned.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from node.admission.tx import to_json
from node.rpc.audit import _as_of as as_of
from node.rpc.audit import (
    _auditor,
    _format,
    _int,
    _known_symbol,
    _limit,
    _pinned_height,
    _query,
    _reply,
    _symbol_text,
    encode_cursor,
)
from node.rpc.audit import _cursor as read_cursor
from node.rpc.common import NODE_KEY, fail

OFFERING_READERS = frozenset({"regulator", "registrar"})
MAX_OFFERINGS = 1_000  # offerings of one token in one answer (one at a time may be open)
ROUTE = "offerings"

SUBSCRIPTION_COLUMNS = ["offering_id", "account", "broker", "qty", "escrowed", "equal",
                        "pro_rata", "allocated", "refunded", "code", "status", "draw",
                        "subscribed_height", "settled_height", "withdrawn_before"]


async def get_offerings(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    caller = await _auditor(request, OFFERING_READERS)
    fmt = _format(request)
    symbol = _symbol_text(request)
    assert symbol is not None
    only = _int(request, "offering_id", 0)
    limit = _limit(request)
    cursor = read_cursor(node, request, ROUTE)
    height = _pinned_height(node, request, "at", cursor)
    _known_symbol(node, symbol, height)
    offerings = _query(node, caller, height, "offering", "offerings",
                       {"symbol": symbol, "limit": MAX_OFFERINGS})["offerings"]
    if only:
        offerings = [row for row in offerings if row["offering_id"] == only]
        if not offerings:
            raise fail(400, "bad_request", f"{symbol} has no offering {only} at height "
                       f"{height}")
    position = _position(cursor, symbol, only)
    rows, following = _subscriptions(node, caller, height, offerings, position, limit)
    next_cursor = None if following is None else encode_cursor(
        ROUTE, height, [symbol, only, *following])
    return _reply(request, fmt, {
        "as_of": as_of(node, height), "symbol": symbol, "offerings": to_json(offerings),
        "subscriptions": to_json(rows), "next_cursor": next_cursor},
        "subscriptions", SUBSCRIPTION_COLUMNS)


def _position(cursor: tuple[int, list[Any]] | None, symbol: str, only: int
              ) -> tuple[int, str]:
    """(offering id, last account) to resume after; (0, "") on a first page."""
    if cursor is None:
        return 0, ""
    position = cursor[1]
    if (len(position) != 4 or position[0] != symbol or position[1] != only
            or not isinstance(position[2], int) or not isinstance(position[3], str)):
        raise fail(400, "bad_request", "bad cursor: it was made for other parameters")
    return position[2], position[3]


def _subscriptions(node: Any, caller: str, height: int, offerings: list[dict[str, Any]],
                   position: tuple[int, str], limit: int
                   ) -> tuple[list[dict[str, Any]], tuple[int, str] | None]:
    """One page of subscriptions from `position` on, and where the next page starts."""
    resume_id, after = position
    rows: list[dict[str, Any]] = []
    for offering in offerings:
        offering_id = offering["offering_id"]
        if offering_id < resume_id:
            continue
        page_after = after if offering_id == resume_id else ""
        while True:
            page = _query(node, caller, height, "offering", "subscriptions",
                          {"offering_id": offering_id, "after": page_after,
                           "limit": limit - len(rows)})
            rows += [dict(row, offering_id=offering_id) for row in page["subscriptions"]]
            if page["next"] is None:
                break
            if len(rows) == limit:
                return rows, (offering_id, page["next"])
            page_after = page["next"]
        if len(rows) == limit:
            later = [o["offering_id"] for o in offerings if o["offering_id"] > offering_id]
            return rows, ((later[0], "") if later else None)
    return rows, None


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/audit/offerings", get_offerings)


__all__ = ["SUBSCRIPTION_COLUMNS", "add_routes"]
