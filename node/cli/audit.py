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
    stoledger audit holds [--account A] [--alert ID] [--at H] ...      (fds holds)
    stoledger audit offerings --symbol S [--offering-id N] [--at H] ...
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
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from node.cli.common import DEFAULT_DIR, node_url, out_file, print_json, table
from node.cli.common import client as make_client
from node.cli.show import Names, account_arg, count, hex_arg
from node.clock import duration_text, kst_text

TABLE_ROUTES = {"holdings", "captable", "history", "rejected", "dividends", "access-log",
                "orders", "trades", "alerts", "holds", "offerings"}
ACCOUNT_HELP = ("account id (64 hex), key file, key name in DIR/keys, or a name the identity "
                "records give (kim)")
MAX_ALL_PAGES = 10_000  # --all follows next_cursor at most this many times


def register(sub: Any) -> None:
    audit = sub.add_parser(
        "audit", help="regulator audit: holdings, cap table, history, proofs, access log",
        description="Read the audit routes of a node (signed with --key, default fss, the "
                    "regulator), or check a block proof offline with `audit verify`.")
    actions = audit.add_subparsers(dest="action", required=True, metavar="ACTION")

    holdings = _route(actions, "holdings", "every token and cash balance of an account")
    holdings.add_argument("--account", required=True, help=ACCOUNT_HELP)
    _at(holdings)

    captable = _route(actions, "captable", "holders and balances of a token")
    captable.add_argument("--symbol", required=True)
    _at(captable)
    _pages(captable)

    history = _route(actions, "history", "every transaction touching an account or a token")
    which = history.add_mutually_exclusive_group(required=True)
    which.add_argument("--account", help=ACCOUNT_HELP)
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
    proof.add_argument("--out", type=out_file, help="also write the proof JSON to this file")

    access = _route(actions, "access-log", "who read what, when")
    access.add_argument("--from", dest="from_", type=int, metavar="SEQ",
                        help="first entry (default 1)")
    _pages(access)

    for name, summary in (("orders", "every order: media, origin, broker, status, cancel code"),
                          ("trades", "every trade with both accounts, media and origin")):
        market = _route(actions, name, summary)
        market.add_argument("--symbol")
        market.add_argument("--account", help=ACCOUNT_HELP)
        _heights(market)
        _pages(market)
    alerts = _route(actions, "alerts", "surveillance alerts with their evidence")
    alerts.add_argument("--rule", help="a rule id, e.g. S1")
    alerts.add_argument("--symbol")
    alerts.add_argument("--account", help=ACCOUNT_HELP)
    _heights(alerts)
    _pages(alerts)
    holds = _route(actions, "holds", "fds holds: who placed and released them, when, why, "
                   "on which alert")
    holds.add_argument("--account", help=ACCOUNT_HELP)
    holds.add_argument("--alert", help="alert id (64 hex): the holds the alert caused")
    _at(holds)
    _pages(holds)

    offerings = _route(actions, "offerings", "public offerings: each subscription, its "
                                             "shares, allocation and refund")
    offerings.add_argument("--symbol", required=True)
    offerings.add_argument("--offering-id", dest="offering_id", type=int,
                           help="one offering (default all of the token's)")
    _at(offerings)
    _pages(offerings)

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
    parser.add_argument("--node", type=node_url,
                        help="node RPC URL (default: the first node of --dir)")
    parser.add_argument("--key", default="fss", help="key file, or an organisation name in "
                        "DIR/keys (default %(default)s)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the JSON answer")
    if name in TABLE_ROUTES:
        output.add_argument("--csv", action="store_true", help="print CSV")
    hex_arg(parser)
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


PARAMS = (("rule", "rule"), ("alert", "alert"), ("account", "account"), ("symbol", "symbol"),
          ("at", "at"), ("from_", "from"),
          ("to", "to"), ("code", "code"), ("limit", "limit"), ("cursor", "cursor"),
          ("height", "height"), ("offering_id", "offering_id"))


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

    if getattr(args, "account", None) is not None:
        args.account = account_arg(args, args.account)
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
    else:
        names = Names(client, args.dir, args.hex)
        names.learn(accounts_in(args.route, pages))
        print(render(args.route, pages, names, getattr(args, "out", None), args.dir))
    if args.route == "proof" and args.out:
        print(f"wrote {args.out}", file=sys.stderr if args.json else sys.stdout)


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


ACCOUNT_FIELDS = {"holdings": ("account",), "captable": ("account",), "history": ("sender",),
                  "rejected": ("sender",), "access-log": ("account", "subject"),
                  "orders": ("account", "broker"), "trades": ("buyer", "seller"),
                  "alerts": ("accounts",), "holds": ("account", "by", "released_by"),
                  "offerings": ("account", "broker"),
                  "supply": (), "dividends": (), "proof": ()}  # every route: a new one says
ROW_KEYS = {"captable": "holders", "history": "transactions", "rejected": "transactions",
            "access-log": "entries", "orders": "orders", "trades": "trades",
            "alerts": "alerts", "holds": "holds", "offerings": "subscriptions"}


def accounts_in(route: str, pages: list[dict[str, Any]]) -> list[str]:
    """The accounts an answer's text names, in the order they appear."""
    fields = ACCOUNT_FIELDS.get(route, ())
    rows = _rows(pages, ROW_KEYS[route]) if route in ROW_KEYS else pages
    found: dict[str, None] = {}
    for row in rows:
        for name in fields:
            value = row.get(name)
            for account in value if isinstance(value, list) else [value]:
                if isinstance(account, str):
                    found.setdefault(account, None)
    return list(found)


def _range(page: dict[str, Any]) -> str:
    return f"heights {page['from']}..{page['to']}"


def render(route: str, pages: list[dict[str, Any]], names: Names | None = None,
           out: str | None = None, directory: str | None = None) -> str:
    """A readable text form of an audit answer (all pages of it): accounts by name (node.cli
    .show), times in KST, durations in units."""
    names = names or Names(None, None)
    page = pages[0]
    head = _as_of(page)
    if route == "holdings":
        return (f"{names.label(page['account'])}  {head}\n"
                + table(page["holdings"], ["kind", "asset", "balance", "frozen", "locked"]))
    if route == "captable":
        rows = [dict(row, account=names.label(row["account"])) for row in _rows(pages, "holders")]
        return (f"{page['symbol']} ({page['name']}): {count(page['holder_count'], 'holder')}, "
                f"{page['outstanding']} outstanding, {head}\n"
                + table(rows, ["account", "balance", "frozen", "locked", "share_bps"])
                + _more(pages))
    if route in ("history", "rejected"):
        rows = _rows(pages, "transactions")
        lines = f"{count(len(rows), 'transaction')}, {_range(page)}, {head}\n"
        if route == "rejected" and page.get("by_code"):
            lines += "by code: " + ", ".join(f"{c} {n}" for c, n in page["by_code"].items())
            lines += "\n"
        shown = [dict(row, time=kst_text(row["time"]), tx_id=row["tx_id"][:16],
                      sender=names.label(row["sender"]),
                      call=f"{row['contract']}.{row['method']}",
                      result="ok" if row["ok"] else row["error_code"]) for row in rows]
        return lines + table(shown, ["height", "index", "time", "tx_id", "sender", "call",
                                      "result"]) + _more(pages)
    if route == "supply":
        fields = ["max_supply", "cap", "issued", "reserved", "redeemed", "outstanding",
                  "sum_of_balances", "holder_count", "holders_counted", "reconciles"]
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
        return render_proof(page, out, directory)
    if route == "orders":
        rows = [dict(row, account=names.label(row["account"]), origin=row["origin"][:12],
                     broker=names.label(row["broker"]), code=row["code"] or "")
                for row in _rows(pages, "orders")]
        return (f"{count(len(rows), 'order')}, {_range(page)}, {head}\n"
                + table(rows, ["order_id", "placed_height", "symbol", "account", "side",
                               "price", "qty", "filled", "status", "code", "media", "origin",
                               "broker"]) + _more(pages))
    if route == "trades":
        rows = [dict(row, buyer=names.label(row["buyer"]), seller=names.label(row["seller"]),
                     buy=f"{row['buy_media']} {row['buy_origin'][:8]}",
                     sell=f"{row['sell_media']} {row['sell_origin'][:8]}")
                for row in _rows(pages, "trades")]
        return (f"{count(len(rows), 'trade')}, {_range(page)}, {head}\n"
                + table(rows, ["trade_id", "height", "symbol", "price", "qty", "buyer", "buy",
                               "seller", "sell"]) + _more(pages))
    if route == "alerts":
        return render_alerts(pages, names)
    if route == "holds":
        rows = [dict(row, account=names.label(row["account"]), by=names.label(row["by"]),
                     alert=(row["alert_id"] or "")[:12], reason=row["reason"][:40],
                     released=f"{names.label(row['released_by'])} at {row['released_height']}"
                              f": {row['released_reason']}" if row["released_by"] else "")
                for row in _rows(pages, "holds")]
        return (f"{count(len(rows), 'hold')}, {head}\n"
                + table(rows, ["hold_id", "height", "account", "scope", "status", "by",
                               "alert", "orders_cancelled", "reason", "released"])
                + _more(pages))
    if route == "offerings":
        lines = [f"{page['symbol']} offerings, {head}"]
        lines += [f"  offering {o['offering_id']}: {o['qty']:,} units at {o['price']:,} KRW, "
                  f"{o['status']}, {count(o['subscribers'], 'subscriber')} asking "
                  f"{o['subscribed_qty']:,}, {o['allocated_qty']:,} allocated, "
                  f"{o['refunded']:,} KRW refunded" for o in page["offerings"]]
        rows = [dict(row, account=names.label(row["account"]), broker=names.label(row["broker"]),
                     status=f"{row['status']} {row['code'] or ''}".strip())
                for row in _rows(pages, "subscriptions")]
        return "\n".join(lines) + "\n" + table(rows, [
            "offering_id", "account", "broker", "qty", "equal", "pro_rata", "allocated",
            "refunded", "status"]) + _more(pages)
    assert route == "access-log", route
    rows = [dict(row, time=kst_text(row["time"]), account=names.label(row["account"]),
                 read=row.get("read") or "",
                 subject=names.label(row["subject"]) if row.get("subject") else "")
            for row in _rows(pages, "entries")]
    return head + "\n" + table(rows, ["seq", "time", "account", "role", "method", "path",
                                       "read", "subject", "height"]) + _more(pages)


def render_proof(page: dict[str, Any], out: str | None, directory: str | None) -> str:
    header = page["header"]
    votes = ", ".join(v["operator"] for v in page["certificate"]["votes"])
    genesis = str(Path(directory, "genesis.json")) if directory else "genesis.json"
    proof = out or "PROOF (write it with --out FILE)"
    return (f"block {header['height']} of {header['chain']}: hash {page['block_hash']}\n"
            f"  time {kst_text(header['time'])}, view {header['view']}, proposer "
            f"{header['proposer']}, {count(len(page.get('tx_ids', [])), 'transaction')}\n"
            f"  commit votes: {votes}\n"
            f"  check it offline: stoledger audit verify --genesis {genesis} --proof {proof}")


def render_alerts(pages: list[dict[str, Any]], names: Names | None = None) -> str:
    """Each alert with the numbers that crossed its thresholds and its evidence."""
    names = names or Names(None, None)
    alerts = _rows(pages, "alerts")
    page = pages[0]
    lines = [f"{count(len(alerts), 'alert')}, {_range(page)}, {_as_of(page)}"]
    for alert in alerts:
        window = alert["window"]
        lines += [
            "",
            f"{alert['rule']} {alert['name']}  [{alert['severity']}]  {alert['symbol'] or '-'}"
            f"  alert {alert['alert_id'][:16]}",
            f"  raised at height {alert['height']}, window {kst_text(window['from_time'])} .. "
            f"{kst_text(window['to_time'])} "
            f"({duration_text(window['to_time'] - window['from_time'])})",
            f"  {names.named_in(alert['explanation'], alert['accounts'])}",
            "  accounts: " + ", ".join(names.label(a) for a in alert["accounts"]),
            "  metrics: " + ", ".join(f"{name}={metric_text(name, value)}" for name, value
                                      in sorted(alert["metrics"].items())),
            f"  evidence ({count(len(alert['evidence']), 'transaction')}, {part_text(alert)}"
            f"{'height' if len(alert['heights']) == 1 else 'heights'} "
            f"{', '.join(str(h) for h in alert['heights'])}):"]
        lines += [f"    {tx_id}" for tx_id in alert["evidence"]]
    return "\n".join(lines) + _more(pages)


def part_text(alert: dict[str, Any]) -> str:
    """Which of its block's versions an alert version is, when a burst made several (each
    lists the next 64 transactions: node.surveillance.episodes)."""
    part, parts = alert.get("part", (1, 1))
    return f"part {part} of {parts} of its block, " if parts > 1 else ""


def metric_text(name: str, value: Any) -> str:
    """An alert metric as people read it: a `*_ms` metric is a duration, a `*_time` one a
    time (both integers of milliseconds); others as they are."""
    if isinstance(value, int) and not isinstance(value, bool):
        if name.endswith("_ms"):
            return duration_text(value)
        if name.endswith("_time"):
            return kst_text(value)
    return str(value)


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
