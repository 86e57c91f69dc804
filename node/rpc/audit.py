"""Regulator audit routes (PROTOCOL.md, "Audit"): read-only views of the ledger at any height.

How it works. Each route checks the signed request first (401 `unauthorized`; `signed_caller`
also writes the read to the node's access log), then the caller's role (403 `forbidden`), then
its parameters (400 `bad_request`), and only then reads. Reads never await between two store
reads, so a block applied by the event loop cannot land in the middle of one answer.

- Balances, cap tables, token records and dividends come from the chaincode's own queries run
  against the state as of the end of block `at` (`node.ledger.executor.HistoricalState`) with that
  block's time, so locked units are computed as they stood then. The queries run with the
  rights of the genesis regulator organisation (the route has already checked the caller), so
  the answer does not depend on which auditor asks.
- `supply` also sums the holdings in state itself, independently of the token's counters, and
  says whether the two reconcile (with `reserved`, the units open offerings hold on the cap).
- `history` and `rejected` read the audit indexes (`node.ledger.audit`), blocks and receipts.
- `proof` is what `node.ledger.proof.verify_proof` (and `stoledger audit verify`) checks offline.

Access (PROTOCOL.md says "regulator (signed); registrar where noted"):
- `regulator`: every route.
- `registrar`: `access-log` (PROTOCOL: "regulator and registrar"), and also `captable` and
  `supply`, because total-issuance management (caps, issued, outstanding, holders) is the
  securities depository's own job; the registrar already reads the same through `token.info`
  and `token.holders`.
- everyone else (operators, observers, brokers, banks, issuers, investors, unregistered keys):
  403 `forbidden`.

Every answer carries `"as_of": {"height", "block_hash"}`: the height answered at (`at`,
default the latest; `to` for history and rejected; the block itself for proof). `?format=csv`
answers `text/csv` where the answer is a table, with the same columns as the JSON rows and
`as_of` and `next_cursor` in the headers `X-As-Of-Height`, `X-As-Of-Block-Hash` and
`X-Next-Cursor`. Lists page with `limit` (default 100, at most 1000) and `cursor` (opaque,
from the previous page's `next_cursor`; null on the last page). A cursor pins the height of its
first page, so later pages answer at the same height while new blocks commit.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from chaincode.runtime import ChaincodeError, is_account
from chaincode.token import is_symbol
from consensus import codec
from consensus.block import Block
from node.admission.tx import TxError, decode_body, to_json
from node.ledger.audit import ALL_CODES, DIVIDENDS
from node.ledger.executor import HistoricalState
from node.rpc.common import NODE_KEY, answer, fail, signed_caller
from node.storage import schema as s

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_CURSOR_CHARS = 512
REGULATOR_ONLY = frozenset({"regulator"})
ISSUANCE_READERS = frozenset({"regulator", "registrar"})

HISTORY_COLUMNS = ["height", "index", "time", "tx_id", "sender", "contract", "method", "args",
                   "ok", "error_code", "error_message"]
HOLDINGS_COLUMNS = ["kind", "asset", "balance", "frozen", "locked"]
CAPTABLE_COLUMNS = ["account", "balance", "frozen", "locked", "share_bps"]
DIVIDEND_COLUMNS = ["dividend_id", "record_height", "record_time", "total", "entitled",
                    "holders", "income_tax", "local_tax", "net", "paid_count", "paid_gross",
                    "paid_income_tax", "paid_local_tax", "paid_net", "done"]
ACCESS_COLUMNS = ["seq", "account", "role", "method", "path", "read", "subject", "time", "height"]
PAYMENT_FIELDS = {"pay": ("paid", "gross", "withheld", "done"),
                  "release": ("account", "paid_to", "net")}


# ---- checks and parameters -------------------------------------------------------------------

async def _auditor(request: web.Request, roles: frozenset[str]) -> str:
    account, role = await signed_caller(request)
    if role not in roles:
        who = " and the ".join(sorted(roles))
        raise fail(403, "forbidden", f"this audit route is for the {who}; the caller's role is "
                   f"{role or 'none'}")
    return account


def _format(request: web.Request, table: bool = True) -> str:
    value = request.query.get("format", "json")
    if value not in ("json", "csv"):
        raise fail(400, "bad_request", "format is json or csv")
    if value == "csv" and not table:
        raise fail(400, "bad_request", "this answer is not a table; format=csv is not offered")
    return value


def _int(request: web.Request, name: str, default: int | None) -> int:
    text = request.query.get(name)
    if text is None or text == "":
        if default is None:
            raise fail(400, "bad_request", f"parameter {name} is required")
        return default
    if not text.isdigit() or len(text) > 19:
        raise fail(400, "bad_request", f"parameter {name} is a non-negative integer")
    return int(text)


def _height(node: Any, request: web.Request, name: str, default: int | None = None) -> int:
    latest = node.executor.height
    height = _int(request, name, latest if default is None else default)
    if height > latest:
        raise fail(400, "bad_request", f"{name}={height} is above the chain height {latest}")
    return height


def _limit(request: web.Request) -> int:
    limit = _int(request, "limit", DEFAULT_LIMIT)
    if not 1 <= limit <= MAX_LIMIT:
        raise fail(400, "bad_request", f"limit is 1..{MAX_LIMIT}")
    return limit


def _account(request: web.Request, required: bool = True) -> str | None:
    account = request.query.get("account")
    if account is None or account == "":
        if required:
            raise fail(400, "bad_request", "parameter account is required")
        return None
    if not is_account(account):
        raise fail(400, "bad_request", "account is 64 lowercase hex characters (an Ed25519 "
                   "public key)")
    return account


def _symbol_text(request: web.Request, required: bool = True) -> str | None:
    symbol = request.query.get("symbol")
    if symbol is None or symbol == "":
        if required:
            raise fail(400, "bad_request", "parameter symbol is required")
        return None
    if not is_symbol(symbol):
        raise fail(400, "bad_request", f"{symbol!r} is not a token symbol")
    return symbol


def _known_symbol(node: Any, symbol: str, height: int) -> None:
    if _state(node, height).get(f"token/meta/{symbol}") is None:
        raise fail(400, "bad_request", f"unknown symbol {symbol} (no such token at height "
                   f"{height})")


# ---- cursors ---------------------------------------------------------------------------------

def encode_cursor(route: str, height: int, position: list[Any]) -> str:
    raw = codec.pack([route, height, position])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor(node: Any, request: web.Request, route: str) -> tuple[int, list[Any]] | None:
    """(pinned height, position) of the `cursor` parameter, or None on a first page."""
    text = request.query.get("cursor")
    if text is None or text == "":
        return None
    try:
        if len(text) > MAX_CURSOR_CHARS:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        name, height, position = codec.unpack(raw)
        if name != route or not isinstance(height, int) or not isinstance(position, list):
            raise ValueError("not this route's cursor")
    except Exception:
        raise fail(400, "bad_request", "bad cursor: pass the next_cursor of the previous page "
                   "of the same route unchanged") from None
    if not 0 <= height <= node.executor.height:
        raise fail(400, "bad_request", "bad cursor: its height is not on this chain")
    return height, position


def _pinned_height(node: Any, request: web.Request, name: str,
                   cursor: tuple[int, list[Any]] | None) -> int:
    """The height to answer at: the cursor's, which an explicit parameter must agree with."""
    if cursor is None:
        return _height(node, request, name)
    if request.query.get(name) not in (None, "") and _int(request, name, None) != cursor[0]:
        raise fail(400, "bad_request", f"{name} differs from the height the cursor was made at "
                   f"({cursor[0]})")
    return cursor[0]


# ---- reading ---------------------------------------------------------------------------------

def _state(node: Any, height: int) -> Any:
    executor = node.executor
    return executor.state if height == executor.height else HistoricalState(executor.store,
                                                                           height)


def _block_time(node: Any, height: int) -> int:
    if height == 0:
        return int(node.genesis.genesis_time)
    block = node.executor.block(height)
    assert block is not None, height
    return int(block.header.time)


def _as_of(node: Any, height: int) -> dict[str, Any]:
    return {"height": height, "block_hash": node.executor.block_hash_at(height).hex()}


def auditor_account(node: Any, fallback: str) -> str:
    """Whose read rights the chaincode queries run with: the genesis regulator organisation."""
    for org in node.genesis.orgs:
        if org.role == "regulator":
            return str(org.account)
    return fallback


def _query(node: Any, caller: str, height: int, contract: str, method: str,
           args: dict[str, Any]) -> Any:
    try:
        return node.registry.query(_state(node, height), auditor_account(node, caller), height,
                                   _block_time(node, height), contract, method, args)
    except ChaincodeError as error:
        raise fail(400, "bad_request", f"{contract}.{method} at height {height}: "
                   f"{error.code}: {error.message}") from None


def _decoded(value: bytes) -> Any:
    return codec.unpack(value)


class _Blocks:
    """Blocks read once per answer: tx id -> body, and block times."""

    def __init__(self, node: Any) -> None:
        self.node = node
        self.blocks: dict[int, tuple[Block, dict[bytes, tuple[bytes, bytes]]]] = {}

    def get(self, height: int) -> tuple[Block, dict[bytes, tuple[bytes, bytes]]]:
        if height not in self.blocks:
            block = self.node.executor.block(height)
            assert block is not None, height
            self.blocks[height] = (block, {codec.sha256(body): (body, sig)
                                           for body, sig in block.txs})
        return self.blocks[height]

    def row(self, position: tuple[int, int]) -> dict[str, Any]:
        receipt = self.node.executor.receipt_at(*position)
        assert receipt is not None, position
        tx_id = receipt.tx_id
        block, bodies = self.get(receipt.height)
        row: dict[str, Any] = {"height": receipt.height, "index": receipt.index,
                               "time": block.header.time, "tx_id": tx_id.hex()}
        try:
            tx = decode_body(*bodies[tx_id])
            row.update(sender=tx.sender_hex, contract=tx.contract, method=tx.method,
                       args=to_json(tx.args))
        except (KeyError, TxError):  # cannot happen for an executed tx; say so, do not crash
            row.update(sender=None, contract=None, method=None, args=None)
        error = receipt.error or {}
        row.update(ok=receipt.ok, error_code=error.get("code"),
                   error_message=error.get("message"))
        return row


def _index_page(node: Any, prefix: bytes, start: tuple[int, int], stop_height: int,
                limit: int) -> tuple[list[tuple[int, int]], tuple[int, int] | None]:
    """Up to `limit` positions (height, index) of an audit index from position `start` through
    `stop_height`, and the position of the next one (None when there is none)."""
    begin = prefix + s.position(*start)
    stop = prefix + s.u64(stop_height + 1)
    found: list[tuple[int, int]] = []
    for raw, _ in node.executor.store.iterate(prefix, start=begin, stop=stop):
        if len(found) == limit:
            return found, s.read_position(raw)
        found.append(s.read_position(raw))
    return found, None


# ---- answering -------------------------------------------------------------------------------

def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return str(value)


def csv_text(rows: list[dict[str, Any]], columns: list[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_cell(row.get(column)) for column in columns])
    return out.getvalue()


def _reply(request: web.Request, fmt: str, value: dict[str, Any], rows_key: str | None = None,
           columns: list[str] | None = None) -> web.Response:
    if fmt == "csv":
        assert rows_key is not None and columns is not None
        headers = {"X-As-Of-Height": str(value["as_of"]["height"]),
                   "X-As-Of-Block-Hash": value["as_of"]["block_hash"]}
        if value.get("next_cursor"):
            headers["X-Next-Cursor"] = value["next_cursor"]
        return web.Response(text=csv_text(value[rows_key], columns), content_type="text/csv",
                            charset="utf-8", headers=headers)
    return answer(request, value)


# ---- routes ----------------------------------------------------------------------------------

async def get_holdings(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    caller = await _auditor(request, REGULATOR_ONLY)
    fmt = _format(request)
    account = _account(request)
    assert account is not None
    height = _height(node, request, "at")
    tokens = _query(node, caller, height, "token", "holdings", {"account": account})
    cash = _query(node, caller, height, "cash", "balance", {"account": account})
    rows = [{"kind": "token", "asset": row["symbol"], "balance": row["balance"],
             "frozen": row["frozen"], "locked": row["locked"]} for row in tokens]
    rows.append({"kind": "cash", "asset": "KRW", "balance": cash["balance"], "frozen": 0,
                 "locked": 0})
    record = _identity(node, height, account)
    return _reply(request, fmt, {"as_of": _as_of(node, height), "account": account,
                                 "identity": to_json(record), "holdings": rows,
                                 "cash": cash["balance"]}, "holdings", HOLDINGS_COLUMNS)


def _identity(node: Any, height: int, account: str) -> dict[str, Any] | None:
    raw = _state(node, height).get(s.identity_record(account))
    return None if raw is None else _decoded(raw)  # type: ignore[no-any-return]


async def get_captable(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    caller = await _auditor(request, ISSUANCE_READERS)
    fmt = _format(request)
    symbol = _symbol_text(request)
    assert symbol is not None
    limit = _limit(request)
    cursor = _cursor(node, request, "captable")
    height = _pinned_height(node, request, "at", cursor)
    _known_symbol(node, symbol, height)
    after = ""
    if cursor is not None:
        if len(cursor[1]) != 2 or cursor[1][0] != symbol or not isinstance(cursor[1][1], str):
            raise fail(400, "bad_request", "bad cursor: it was made for another symbol")
        after = cursor[1][1]
    token = _query(node, caller, height, "token", "info", {"symbol": symbol})
    page = _query(node, caller, height, "token", "holders",
                  {"symbol": symbol, "after": after, "limit": limit})
    outstanding = token["outstanding"]
    rows = [dict(row, share_bps=row["balance"] * 10_000 // outstanding if outstanding else 0)
            for row in page["holders"]]
    following = None
    if page["next"] is not None:
        following = encode_cursor("captable", height, [symbol, page["next"]])
    return _reply(request, fmt, {
        "as_of": _as_of(node, height), "symbol": symbol, "name": token["name"],
        "issuer": token["issuer"], "holder_count": page["count"], "outstanding": outstanding,
        "holders": rows, "next_cursor": following}, "holders", CAPTABLE_COLUMNS)


def _range(node: Any, request: web.Request, cursor: tuple[int, list[Any]] | None
           ) -> tuple[int, int]:
    to = _pinned_height(node, request, "to", cursor)
    start = _int(request, "from", min(1, to))  # blocks start at 1; a new chain has none
    if start > to:
        raise fail(400, "bad_request", f"from={start} is after to={to}")
    return start, to


def _is_uint(value: Any, bits: int) -> bool:
    """An integer that fits the unsigned key field it goes into (a cursor is client input)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**bits


def _position(cursor: tuple[int, list[Any]] | None, start: int, subject: str) -> tuple[int, int]:
    if cursor is None:
        return start, 0
    position = cursor[1]
    if (len(position) != 3 or position[0] != subject or not _is_uint(position[1], 63)
            or not _is_uint(position[2], 32) or position[1] < start):
        raise fail(400, "bad_request", "bad cursor: it was made for other parameters")
    return position[1], position[2]


async def get_history(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    await _auditor(request, REGULATOR_ONLY)
    fmt = _format(request)
    account = _account(request, required=False)
    symbol = _symbol_text(request, required=False)
    if (account is None) == (symbol is None):
        raise fail(400, "bad_request", "give exactly one of account or symbol")
    limit = _limit(request)
    cursor = _cursor(node, request, "history")
    start, to = _range(node, request, cursor)
    if symbol is not None:
        _known_symbol(node, symbol, node.executor.height)
        kind, subject = "sym", symbol
    else:
        assert account is not None
        kind, subject = "acct", account
    position = _position(cursor, start, f"{kind}:{subject}")
    positions, following = _index_page(node, s.audit_prefix(kind, subject), position, to,
                                       limit)
    blocks = _Blocks(node)
    rows = [blocks.row(at) for at in positions]
    value: dict[str, Any] = {
        "as_of": _as_of(node, to), "account": account, "symbol": symbol, "from": start,
        "to": to, "transactions": rows,
        "next_cursor": None if following is None else
        encode_cursor("history", to, [f"{kind}:{subject}", *following])}
    return _reply(request, fmt, value, "transactions", HISTORY_COLUMNS)


async def get_rejected(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    await _auditor(request, REGULATOR_ONLY)
    fmt = _format(request)
    code = request.query.get("code") or ALL_CODES
    if len(code) > 64 or not all(c.isalnum() or c == "_" for c in code.replace("*", "")):
        raise fail(400, "bad_request", "code is an error code such as LOCKUP_ACTIVE")
    limit = _limit(request)
    cursor = _cursor(node, request, "rejected")
    start, to = _range(node, request, cursor)
    position = _position(cursor, start, code)
    positions, following = _index_page(node, s.audit_prefix("rej", code), position, to, limit)
    blocks = _Blocks(node)
    rows = [blocks.row(at) for at in positions]
    value: dict[str, Any] = {
        "as_of": _as_of(node, to), "code": None if code == ALL_CODES else code,
        "from": start, "to": to, "by_code": _count_by_code(node, start, to),
        "transactions": rows,
        "next_cursor": None if following is None else
        encode_cursor("rejected", to, [code, *following])}
    return _reply(request, fmt, value, "transactions", HISTORY_COLUMNS)


def _count_by_code(node: Any, start: int, to: int) -> dict[str, int]:
    """Refusals per error code in start..to (one pass over the keys of the `rej` index)."""
    counts: dict[str, int] = {}
    prefix = s.AUDIT + b"rej/"
    for raw, _ in node.executor.store.iterate(prefix):
        code = raw[len(prefix):-13].decode()
        if code == ALL_CODES:
            continue
        height, _index = s.read_position(raw)
        if start <= height <= to:
            counts[code] = counts.get(code, 0) + 1
    return dict(sorted(counts.items()))


async def get_supply(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    caller = await _auditor(request, ISSUANCE_READERS)
    _format(request, table=False)
    symbol = _symbol_text(request)
    assert symbol is not None
    height = _height(node, request, "at")
    _known_symbol(node, symbol, height)
    token = _query(node, caller, height, "token", "info", {"symbol": symbol})
    balances, holders = sum_balances(_state(node, height), symbol)
    checks = {
        "outstanding_is_issued_minus_redeemed":
            token["outstanding"] == token["issued"] - token["redeemed"],
        "sum_of_balances_is_outstanding": balances == token["outstanding"],
        "holders_counter_matches": holders == token["holders"],
        "issued_and_reserved_in_cap": token["issued"] + token["reserved"] <= (token["cap"] or 0),
        "cap_within_max_supply": (token["cap"] or 0) <= token["max_supply"],
    }
    return answer(request, {
        "as_of": _as_of(node, height), "symbol": symbol, "max_supply": token["max_supply"],
        "cap": token["cap"], "issued": token["issued"], "reserved": token["reserved"],
        "redeemed": token["redeemed"], "outstanding": token["outstanding"],
        "sum_of_balances": balances, "holder_count": token["holders"], "holders_counted": holders,
        "reconciles": all(checks.values()), "checks": checks})


def sum_balances(state: Any, symbol: str) -> tuple[int, int]:
    """(sum of balances, holders) of a token, read from its holdings in state directly."""
    total = holders = 0
    for _, raw in state.range(f"token/bal/{symbol}/"):
        balance = int(_decoded(raw)["balance"])
        total += balance
        holders += balance > 0
    return total, holders


async def get_dividends(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    caller = await _auditor(request, REGULATOR_ONLY)
    fmt = _format(request)
    symbol = _symbol_text(request)
    assert symbol is not None
    height = node.executor.height
    _known_symbol(node, symbol, height)
    declarations = _query(node, caller, height, "dividend", "declarations", {"symbol": symbol})
    payments = _dividend_payments(node, symbol)
    rows = []
    for declaration in declarations:
        row = dict(declaration)
        row["withheld"] = declaration["income_tax"] + declaration["local_tax"]
        row["paid_withheld"] = declaration["paid_income_tax"] + declaration["paid_local_tax"]
        row["payments"] = payments.get(declaration["dividend_id"], [])
        rows.append(row)
    totals = {"declarations": len(rows), "declared": sum(r["total"] for r in rows)}
    for name in ("income_tax", "local_tax", "withheld", "net", "paid_gross", "paid_income_tax",
                 "paid_local_tax", "paid_withheld", "paid_net"):
        totals[name] = sum(r[name] for r in rows)
    totals["unpaid_gross"] = totals["declared"] - totals["paid_gross"]
    return _reply(request, fmt, {"as_of": _as_of(node, height), "symbol": symbol,
                                 "declarations": to_json(rows), "totals": totals},
                  "declarations", DIVIDEND_COLUMNS)


def _dividend_payments(node: Any, symbol: str) -> dict[int, list[dict[str, Any]]]:
    """dividend id -> its payments in chain order: `pay` steps and registrar `release`s of a
    held net (PAYMENT_FIELDS), told by the transaction's method (a release's result has a
    `paid` flag too, and no dividend_id)."""
    found: dict[int, list[dict[str, Any]]] = {}
    blocks = _Blocks(node)
    for raw, _ in node.executor.store.iterate(s.audit_prefix(DIVIDENDS, symbol)):
        row = blocks.row(s.read_position(raw))
        fields = PAYMENT_FIELDS.get(row["method"])
        if fields is None:
            continue  # the declaration
        result = node.executor.receipt_at(row["height"], row["index"]).result
        payment = {name: row[name] for name in ("height", "time", "tx_id", "method")}
        payment.update({name: result[name] for name in fields})
        found.setdefault(row["args"]["dividend_id"], []).append(payment)
    return found


async def get_proof(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    await _auditor(request, REGULATOR_ONLY)
    _format(request, table=False)
    height = _height(node, request, "height", default=node.executor.height)
    if height == 0:
        raise fail(400, "bad_request", "height 0 is genesis, which has no block; heights "
                   "start at 1")
    return answer(request, dict(proof_json(node, height), as_of=_as_of(node, height)))


def proof_json(node: Any, height: int) -> dict[str, Any]:
    block = node.executor.block(height)
    cert = node.executor.certificate(height)
    assert block is not None and cert is not None, height
    return {"chain_id": node.genesis.chain_id, "height": height,
            "header": to_json(block.header.to_map()),
            "header_bytes": block.header.encode().hex(), "block_hash": block.hash.hex(),
            "certificate": cert.to_json(), "tx_ids": [t.hex() for t in block.tx_ids()],
            "tx_sigs": [sig.hex() for _, sig in block.txs]}


async def get_access_log(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    await _auditor(request, ISSUANCE_READERS)
    fmt = _format(request)
    limit = _limit(request)
    cursor = _cursor(node, request, "access-log")
    start = _int(request, "from", 1)
    if cursor is not None:
        if len(cursor[1]) != 1 or not _is_uint(cursor[1][0], 63) or cursor[1][0] < start:
            raise fail(400, "bad_request", "bad cursor: it was made for other parameters")
        start = cursor[1][0]
    rows, following = [], None
    for raw, value in _access_entries(node, start):
        if len(rows) == limit:
            following = encode_cursor("access-log", node.executor.height,
                                      [s.read_u64(raw[len(s.ACCESS):])])
            break
        rows.append(_decoded(value))
    height = node.executor.height
    return _reply(request, fmt, {"as_of": _as_of(node, height), "entries": rows,
                                 "next_cursor": following}, "entries", ACCESS_COLUMNS)


def _access_entries(node: Any, start: int) -> Iterator[tuple[bytes, bytes]]:
    return node.store.iterate(s.ACCESS, start=s.access_key(start))  # type: ignore[no-any-return]


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/audit/holdings", get_holdings)
    app.router.add_get("/v1/audit/captable", get_captable)
    app.router.add_get("/v1/audit/history", get_history)
    app.router.add_get("/v1/audit/rejected", get_rejected)
    app.router.add_get("/v1/audit/supply", get_supply)
    app.router.add_get("/v1/audit/dividends", get_dividends)
    app.router.add_get("/v1/audit/proof", get_proof)
    app.router.add_get("/v1/audit/access-log", get_access_log)


__all__ = ["add_routes", "csv_text", "encode_cursor", "proof_json", "sum_balances"]
