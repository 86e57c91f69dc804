"""`stoledger audit ...`: the regulator's audit routes from the command line, and the offline
proof check.

    stoledger audit holdings --account A [--at H]
    stoledger audit captable --symbol S [--at H] [--limit N] [--cursor C | --all]
    stoledger audit history (--account A | --symbol S) [--from H] [--to H] [--limit N] ...
    stoledger audit rejected [--code C] [--from H] [--to H] ...
    stoledger audit supply --symbol S [--at H]
    stoledger audit dividends --symbol S
    stoledger audit proof [--height H] [--out proof.json]
    stoledger audit access-log [--from SEQ] ...
    stoledger audit orders|trades [--symbol S] [--account A] [--from H] [--to H] ...
    stoledger audit alerts [--rule S1] [--symbol S] [--account A] [--from H] [--to H] ...
    stoledger audit verify --genesis genesis.json --proof proof.json     (offline)

Every command but `verify` signs its request with `--key` (an organisation in DIR/keys,
default `fss`, the regulator) and prints a readable table; `--json` prints the node's answer,
`--csv` the CSV form where the answer is a table. `verify` needs no node: exit status 0 when
the proof holds, 1 (with the reason) when it does not.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any
from urllib.parse import urlencode

from node.cli.common import DEFAULT_DIR, print_json, table
from node.cli.common import client as make_client

TABLE_ROUTES = {"holdings", "captable", "history", "rejected", "dividends", "access-log",
                "orders", "trades", "alerts"}
MAX_ALL_PAGES = 10_000  # --all follows next_cursor at most this many times


def register(sub: Any) -> None:
    audit = sub.add_parser(
        "audit", help="regulator audit: holdings, cap table, history, proofs, access log",
        description="Read the audit routes of a node (signed with --key, default fss, the "
                    "regulator), or check a block proof offline with `audit verify`.")
    actions = audit.add_subparsers(dest="action", required=True, metavar="ACTION")

    holdings = _route(actions, "holdings", "every token and cash balance of an account")
    holdings.add_argument("--account", required=True, help="account id (64 hex)")
    _at(holdings)

    captable = _route(actions, "captable", "holders and balances of a token")
    captable.add_argument("--symbol", required=True)
    _at(captable)
    _pages(captable)

    history = _route(actions, "history", "every transaction touching an account or a token")
    which = history.add_mutually_exclusive_group(required=True)
    which.add_argument("--account", help="account id (64 hex)")
    which.add_argument("--symbol")
    _heights(history)
    _pages(history)

    rejected = _route(actions, "rejected", "committed transactions chaincode refused")
    rejected.add_argument("--code", help="one error code, e.g. LOCKUP_ACTIVE (default all)")
    _heights(rejected)
    _pages(rejected)

    supply = _route(actions, "supply", "cap, issued, redeemed, outstanding; do they reconcile")
    supply.add_argument("--symbol", required=True)
    _at(supply)

    dividends = _route(actions, "dividends", "declarations, payments, withholding totals")
    dividends.add_argument("--symbol", required=True)

    proof = _route(actions, "proof", "a block's header and commit certificate")
    proof.add_argument("--height", type=int, help="block height (default the latest)")
    proof.add_argument("--out", help="also write the proof JSON to this file")

    access = _route(actions, "access-log", "who read what, when")
    access.add_argument("--from", dest="from_", type=int, metavar="SEQ",
                        help="first entry (default 1)")
    _pages(access)

    for name, summary in (("orders", "every order: media, origin, broker, status, cancel code"),
                          ("trades", "every trade with both accounts, media and origin")):
        market = _route(actions, name, summary)
        market.add_argument("--symbol")
        market.add_argument("--account", help="account id (64 hex)")
        _heights(market)
        _pages(market)
    alerts = _route(actions, "alerts", "surveillance alerts (S1-S10) with their evidence")
    alerts.add_argument("--rule", help="S1..S10")
    alerts.add_argument("--symbol")
    alerts.add_argument("--account", help="account id (64 hex)")
    _heights(alerts)
    _pages(alerts)

    verify = actions.add_parser(
        "verify", help="check a proof offline against genesis",
        description="Check that PROOF (the JSON of `audit proof`) shows 2f+1 operators of "
                    "GENESIS committed the block. Needs no node. Exit status 0 if valid, 1 if "
                    "not.")
    verify.add_argument("--genesis", required=True, help="genesis.json")
    verify.add_argument("--proof", required=True, help="proof JSON file ('-' for stdin)")
    verify.set_defaults(func=cmd_verify)


def _route(actions: Any, name: str, summary: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = actions.add_parser(name, help=summary,
                                                         description=summary[0].upper()
                                                         + summary[1:] + ".")
    parser.add_argument("--dir", default=DEFAULT_DIR, help="local cluster folder (default "
                        "%(default)s)")
    parser.add_argument("--node", help="node RPC URL (default: the first node of --dir)")
    parser.add_argument("--key", default="fss", help="key file, or an organisation name in "
                        "DIR/keys (default %(default)s)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the JSON answer")
    if name in TABLE_ROUTES:
        output.add_argument("--csv", action="store_true", help="print CSV")
    parser.set_defaults(func=cmd_route, route=name)
    return parser


def _at(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--at", type=int, help="height (default the latest)")


def _heights(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="from_", type=int, metavar="H",
                        help="first height (default 1)")
    parser.add_argument("--to", type=int, metavar="H", help="last height (default the latest)")


def _pages(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", type=int, help="rows per page (default 100, at most 1000)")
    parser.add_argument("--cursor", help="next_cursor of the previous page")
    parser.add_argument("--all", action="store_true", help="follow next_cursor to the end")


PARAMS = (("rule", "rule"), ("account", "account"), ("symbol", "symbol"), ("at", "at"),
          ("from_", "from"),
          ("to", "to"), ("code", "code"), ("limit", "limit"), ("cursor", "cursor"),
          ("height", "height"))


def route_path(args: argparse.Namespace, csv: bool = False, cursor: str | None = None) -> str:
    query = {}
    for attr, name in PARAMS:
        value = getattr(args, attr, None)
        if value is not None:
            query[name] = str(value)
    if cursor is not None:
        query["cursor"] = cursor
    if csv:
        query["format"] = "csv"
    path = f"/v1/audit/{args.route}"
    return f"{path}?{urlencode(query)}" if query else path


def cmd_route(args: argparse.Namespace) -> None:
    from node.tools.client import ApiError

    client = make_client(args)
    if client.signer is None:
        raise SystemExit("audit routes need a signed request: --key ORG or a key file")
    try:
        if getattr(args, "csv", False):
            print(_fetch_csv(client, args), end="")
            return
        pages = _fetch(client, args)
    except ApiError as error:
        raise SystemExit(f"refused: {error}") from None
    if args.route == "proof" and args.out:
        with open(args.out, "w", encoding="utf-8") as file:
            json.dump(pages[0], file, indent=2)
            file.write("\n")
    if args.json:
        print_json(pages[0] if len(pages) == 1 else pages)
        return
    print(render(args.route, pages))


def _fetch(client: Any, args: argparse.Namespace) -> list[dict[str, Any]]:
    pages = [client.get(route_path(args), signed=True)]
    while getattr(args, "all", False) and pages[-1].get("next_cursor"):
        if len(pages) >= MAX_ALL_PAGES:
            break
        pages.append(client.get(route_path(args, cursor=pages[-1]["next_cursor"]),
                                signed=True))
    return pages


def _fetch_csv(client: Any, args: argparse.Namespace) -> str:
    status, text = client.request("GET", route_path(args, csv=True), signed=True)
    if status >= 400:
        from node.tools.client import ApiError

        error = text.get("error", {}) if isinstance(text, dict) else {}
        raise ApiError(status, error.get("code", "http_error"), error.get("message", str(text)))
    return str(text)


def _rows(pages: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return [row for page in pages for row in page.get(key, [])]


def _as_of(page: dict[str, Any]) -> str:
    as_of = page["as_of"]
    return f"as of height {as_of['height']} (block {as_of['block_hash'][:16]}...)"


def _more(pages: list[dict[str, Any]]) -> str:
    cursor = pages[-1].get("next_cursor")
    return f"\nmore: --cursor {cursor}" if cursor else ""


def render(route: str, pages: list[dict[str, Any]]) -> str:
    """A readable text form of an audit answer (all pages of it)."""
    page = pages[0]
    head = _as_of(page)
    if route == "holdings":
        return (f"{page['account']}  {head}\n"
                + table(page["holdings"], ["kind", "asset", "balance", "frozen", "locked"]))
    if route == "captable":
        return (f"{page['symbol']} ({page['name']}): {page['holder_count']} holders, "
                f"{page['outstanding']} outstanding, {head}\n"
                + table(_rows(pages, "holders"),
                         ["account", "balance", "frozen", "locked", "share_bps"])
                + _more(pages))
    if route in ("history", "rejected"):
        rows = _rows(pages, "transactions")
        lines = f"{len(rows)} transactions, heights {page['from']}..{page['to']}, {head}\n"
        if route == "rejected" and page.get("by_code"):
            lines += "by code: " + ", ".join(f"{c} {n}" for c, n in page["by_code"].items())
            lines += "\n"
        shown = [dict(row, tx_id=row["tx_id"][:16], sender=(row["sender"] or "")[:16],
                      call=f"{row['contract']}.{row['method']}",
                      result="ok" if row["ok"] else row["error_code"]) for row in rows]
        return lines + table(shown, ["height", "index", "time", "tx_id", "sender", "call",
                                      "result"]) + _more(pages)
    if route == "supply":
        fields = ["max_supply", "cap", "issued", "redeemed", "outstanding", "sum_of_balances",
                  "holder_count", "holders_counted", "reconciles"]
        lines = [f"{page['symbol']}  {head}"] + [f"  {f:<16} {page[f]}" for f in fields]
        lines += [f"  check {name}: {'ok' if ok else 'FAILS'}"
                  for name, ok in page["checks"].items()]
        return "\n".join(lines)
    if route == "dividends":
        totals = page["totals"]
        return (f"{page['symbol']} dividends, {head}\n"
                + table(page["declarations"], ["dividend_id", "record_height", "total",
                                                "holders", "paid_count", "paid_gross",
                                                "paid_withheld", "paid_net", "done"])
                + "\ntotals: " + ", ".join(f"{k} {v}" for k, v in totals.items()))
    if route == "proof":
        header = page["header"]
        votes = ", ".join(v["operator"] for v in page["certificate"]["votes"])
        return (f"block {header['height']} of {header['chain']}: hash {page['block_hash']}\n"
                f"  time {header['time']}, view {header['view']}, proposer "
                f"{header['proposer']}, {len(page.get('tx_ids', []))} txs\n"
                f"  commit votes: {votes}\n"
                "  check it offline: stoledger audit verify --genesis genesis.json --proof "
                "<file from --out>")
    if route == "orders":
        rows = [dict(row, account=row["account"][:12], origin=row["origin"][:12],
                     broker=row["broker"][:12], status=row["code"] or row["status"])
                for row in _rows(pages, "orders")]
        return (f"{len(rows)} orders, heights {page['from']}..{page['to']}, {head}\n"
                + table(rows, ["order_id", "placed_height", "symbol", "account", "side",
                               "price", "qty", "filled", "status", "media", "origin",
                               "broker"]) + _more(pages))
    if route == "trades":
        rows = [dict(row, buyer=row["buyer"][:12], seller=row["seller"][:12],
                     buy=f"{row['buy_media']} {row['buy_origin'][:8]}",
                     sell=f"{row['sell_media']} {row['sell_origin'][:8]}")
                for row in _rows(pages, "trades")]
        return (f"{len(rows)} trades, heights {page['from']}..{page['to']}, {head}\n"
                + table(rows, ["trade_id", "height", "symbol", "price", "qty", "buyer", "buy",
                               "seller", "sell"]) + _more(pages))
    if route == "alerts":
        return render_alerts(pages)
    assert route == "access-log", route
    return head + "\n" + table(_rows(pages, "entries"), ["seq", "time", "account", "role",
                                                          "method", "path", "height"]) \
        + _more(pages)


def render_alerts(pages: list[dict[str, Any]]) -> str:
    """Each alert with the numbers that crossed its thresholds and its evidence."""
    alerts = _rows(pages, "alerts")
    page = pages[0]
    lines = [f"{len(alerts)} alerts, heights {page['from']}..{page['to']}, {_as_of(page)}"]
    for alert in alerts:
        window = alert["window"]
        lines += [
            "",
            f"{alert['rule']} {alert['name']}  [{alert['severity']}]  {alert['symbol'] or '-'}"
            f"  alert {alert['alert_id'][:16]}",
            f"  raised at height {alert['height']}, window {window['from_time']}.."
            f"{window['to_time']} ms",
            f"  {alert['explanation']}",
            "  accounts: " + ", ".join(alert["accounts"]),
            "  metrics: " + ", ".join(f"{name}={value}" for name, value
                                      in sorted(alert["metrics"].items())),
            f"  evidence ({len(alert['evidence'])} transactions, heights "
            f"{', '.join(str(h) for h in alert['heights'])}):"]
        lines += [f"    {tx_id}" for tx_id in alert["evidence"]]
    return "\n".join(lines) + _more(pages)


def cmd_verify(args: argparse.Namespace) -> None:
    from genesis.schema import GenesisError, load_genesis
    from node.ledger.proof import verify_proof

    try:
        genesis = load_genesis(args.genesis)
    except GenesisError as error:
        raise SystemExit(f"cannot use genesis: {error}") from None
    try:
        if args.proof == "-":
            proof = json.load(sys.stdin)
        else:
            with open(args.proof, encoding="utf-8") as file:
                proof = json.load(file)
    except (OSError, ValueError) as error:
        print(f"invalid: cannot read the proof: {error}")
        sys.exit(1)
    ok, reason = verify_proof(genesis, proof)
    if not ok:
        print(f"invalid: {reason}")
        sys.exit(1)
    print(reason)
    sys.exit(0)
