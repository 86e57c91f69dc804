"""The market's audit routes (PROTOCOL.md, "Audit"): every order and every trade, with accounts.

    GET /v1/audit/orders?symbol=&account=&from=&to=   orders placed in blocks from..to
    GET /v1/audit/trades?symbol=&account=&from=&to=   trades made in blocks from..to

How it works. Both read the market contract's own records (chaincode/market.py: `order/`,
`trade/` and the `sym/`, `acct/`, `tsym/`, `tacct/` indexes) in the state as of the end of
block `to` (default the latest; that is `as_of`), so an order shows the status, fills and cancel
code it had then. Order and trade ids are issued in block order, so the first id placed at or
after `from` is found by a binary search over the ids (a few reads), and a page then costs the
rows it returns. `symbol` and `account` may be combined; `account` matches the account the
order is for (a trade: its buyer or its seller), as the contract indexes it (a recovered key's
open orders moved to the new key, closed ones stay with the old).

An order row is the contract's order (`media`, `origin`, `broker`, `status`, `code` = why it
was cancelled, ...). A trade row is the contract's trade with, for each side, the order's
`broker`, `media` and `origin` (`buy_media`, `sell_origin`, ...): what surveillance reads.

Access: the regulator and the registrar (the market operator); 403 for everyone else. Paging,
CSV and cursors as in node.rpc.audit: a cursor pins the height of its first page. A page reads
at most MAX_SCANNED records: with both `symbol` and `account`, the account's records of other
tokens are read and skipped, and a page may then come back short with a `next_cursor`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from consensus import codec
from node.admission.tx import to_json
from node.rpc.audit import (
    _account,
    _auditor,
    _format,
    _int,
    _known_symbol,
    _limit,
    _pinned_height,
    _reply,
    _state,
    _symbol_text,
    encode_cursor,
)
from node.rpc.audit import _as_of as as_of
from node.rpc.audit import _cursor as read_cursor
from node.rpc.common import NODE_KEY, fail

MARKET_READERS = frozenset({"regulator", "registrar"})
MAX_SCANNED = 10_000  # records read for one page when `symbol` and `account` are combined

ORDER_COLUMNS = ["order_id", "symbol", "account", "broker", "side", "price", "qty", "filled",
                 "remaining", "value", "fills", "tif", "media", "origin", "status", "code",
                 "session", "placed_height", "placed_time", "placed_tx", "closed_height",
                 "closed_time"]
TRADE_COLUMNS = ["trade_id", "symbol", "price", "qty", "value", "tax", "aggressor", "height",
                 "time", "tx_id", "buy_order", "buyer", "buy_broker", "buy_media", "buy_origin",
                 "sell_order", "seller", "sell_broker", "sell_media", "sell_origin"]


class _Kind:
    """Where one route's records live in the market contract's state."""

    def __init__(self, route: str, record: str, by_symbol: str, by_account: str,
                 last_id: str, height_field: str, rows_key: str) -> None:
        self.route = route
        self.record = record  # market/<record>/<id> is the record
        self.by_symbol = by_symbol
        self.by_account = by_account
        self.last_id = last_id  # market/<last_id>: the last id issued
        self.height_field = height_field
        self.rows_key = rows_key


ORDERS = _Kind("orders", "order", "sym", "acct", "next_order", "placed_height", "orders")
TRADES = _Kind("trades", "trade", "tsym", "tacct", "next_trade", "height", "trades")


def _get(state: Any, key: str) -> Any:
    raw = state.get(key)
    return None if raw is None else codec.unpack(raw)


def _record(state: Any, kind: _Kind, record_id: int) -> dict[str, Any]:
    value = _get(state, f"market/{kind.record}/{record_id:012d}")
    assert isinstance(value, dict), (kind.record, record_id)
    return value


def first_id_from(state: Any, kind: _Kind, height: int) -> int:
    """The smallest id whose record was made at `height` or later (last id + 1 if none):
    ids are issued in block order, so a binary search over 1..last finds it."""
    low, high = 1, int(_get(state, f"market/{kind.last_id}") or 0) + 1
    while low < high:
        middle = (low + high) // 2
        if _record(state, kind, middle)[kind.height_field] >= height:
            high = middle
        else:
            low = middle + 1
    return low


def _ids(state: Any, kind: _Kind, symbol: str | None, account: str | None, start: int
         ) -> Any:
    """Record ids from `start` on, of the account (else the symbol, else all), in id order."""
    if account is not None:
        prefix = f"market/{kind.by_account}/{account}/"
    elif symbol is not None:
        prefix = f"market/{kind.by_symbol}/{symbol}/"
    else:
        prefix = f"market/{kind.record}/"
    for key, _ in state.range(prefix, f"{prefix}{start:012d}"):
        yield int(key.rsplit("/", 1)[1])


def _trade_row(state: Any, trade: dict[str, Any]) -> dict[str, Any]:
    row = dict(trade)
    for side in ("buy", "sell"):
        order = _record(state, ORDERS, trade[f"{side}_order"])
        for field in ("broker", "media", "origin"):
            row[f"{side}_{field}"] = order[field]
    return row


async def _list(request: web.Request, kind: _Kind) -> web.Response:
    node = request.app[NODE_KEY]
    await _auditor(request, MARKET_READERS)
    fmt = _format(request)
    symbol = _symbol_text(request, required=False)
    account = _account(request, required=False)
    limit = _limit(request)
    cursor = read_cursor(node, request, kind.route)
    to = _pinned_height(node, request, "to", cursor)
    start_height = _int(request, "from", min(1, to))
    if start_height > to:
        raise fail(400, "bad_request", f"from={start_height} is after to={to}")
    if symbol is not None:
        _known_symbol(node, symbol, to)
    state = _state(node, to)
    subject = f"{symbol or ''}|{account or ''}|{start_height}"
    if cursor is None:
        start = first_id_from(state, kind, start_height)
    else:
        position = cursor[1]
        if len(position) != 2 or position[0] != subject or not isinstance(position[1], int):
            raise fail(400, "bad_request", "bad cursor: it was made for other parameters")
        start = position[1]
    rows: list[dict[str, Any]] = []
    following = None
    for scanned, record_id in enumerate(_ids(state, kind, symbol, account, start)):
        if len(rows) == limit or scanned == MAX_SCANNED:  # a page may come back short
            following = encode_cursor(kind.route, to, [subject, record_id])
            break
        record = _record(state, kind, record_id)
        if symbol is not None and record["symbol"] != symbol:
            continue  # an account's records, of another token
        rows.append(_trade_row(state, record) if kind is TRADES else record)
    return _reply(request, fmt, {
        "as_of": as_of(node, to), "symbol": symbol, "account": account, "from": start_height,
        "to": to, kind.rows_key: to_json(rows), "next_cursor": following},
        kind.rows_key, ORDER_COLUMNS if kind is ORDERS else TRADE_COLUMNS)


async def get_orders(request: web.Request) -> web.Response:
    return await _list(request, ORDERS)


async def get_trades(request: web.Request) -> web.Response:
    return await _list(request, TRADES)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/audit/orders", get_orders)
    app.router.add_get("/v1/audit/trades", get_trades)


__all__ = ["ORDER_COLUMNS", "TRADE_COLUMNS", "add_routes", "first_id_from"]
