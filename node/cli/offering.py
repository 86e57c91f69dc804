"""`stoledger offering ...`: a public offering (공모 청약) and a redemption, from the command line.

    stoledger offering open      --key ISSUER --symbol S --price P --qty Q [--minutes M]
                                 [--min-qty N] [--max-qty N] [--equal-bps B]
    stoledger offering subscribe --key BROKER --offering ID --account A --qty Q
    stoledger offering withdraw  --key BROKER --offering ID --account A
    stoledger offering allocate  --key ISSUER --offering ID [--max-steps N]   (until done)
    stoledger offering status    --key KEY --offering ID [--rows N]
    stoledger offering redeem    --key ISSUER --symbol S --price P [--record-time MS]
                                 [--max-steps N]   (declares, then settles until done)
    stoledger offering redeem    --key ISSUER --redemption ID [--max-steps N]   (settles)

Subscriptions are sent by the investor's broker (PROTOCOL "offering"), so `--key` is the broker
for `subscribe` and `withdraw`; `--account` is the investor's account id or key file. `status`
prints the offering's terms; with the issuer's, the registrar's or the regulator's key also its
book of subscriptions as the allocation table. Every command takes `--dir` (a local cluster
folder) or `--node URL`, and `--json`. A refused transaction exits with status 1 and its code.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from node.cli.common import DEFAULT_DIR, node_url, print_json
from node.cli.common import client as make_client
from node.cli.show import Names, account_arg, hex_arg

MAX_STEPS = 1_000


def register(sub: Any) -> None:
    offering = sub.add_parser(
        "offering", help="public offerings (open, subscribe, allocate) and redemption",
        description="Sell new units to the public through the brokers: the issuer opens an "
                    "offering, brokers subscribe their clients (the whole price escrowed), the "
                    "issuer allocates after the close (equal and pro-rata shares, refunds); at "
                    "the end of a token's life the issuer redeems every unit.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  stoledger offering open --dir net --key issuer-1 --symbol SEOUL1 \\\n"
               "      --price 5000 --qty 10000 --minutes 10 --max-qty 2000 --equal-bps 5000\n"
               "  stoledger offering subscribe --dir net --key broker-a --offering 1 \\\n"
               "      --account alice.json --qty 500\n"
               "  stoledger offering allocate --dir net --key issuer-1 --offering 1\n"
               "  stoledger offering status --dir net --key fss --offering 1\n"
               "  stoledger offering redeem --dir net --key issuer-1 --symbol SEOUL1 \\\n"
               "      --price 5600")
    actions = offering.add_subparsers(dest="action", required=True, metavar="ACTION")

    opened = _action(actions, "open", "open an offering of new units (as the token's issuer)",
                     "stoledger offering open --dir net --key issuer-1 --symbol SEOUL1 "
                     "--price 5000 --qty 10000 --minutes 10")
    opened.add_argument("--symbol", required=True)
    opened.add_argument("--price", required=True, type=int, help="KRW a unit")
    opened.add_argument("--qty", required=True, type=int, help="units offered")
    opened.add_argument("--minutes", type=float, default=10.0,
                        help="the subscription window, from now (default %(default)s)")
    opened.add_argument("--start-ms", type=int, help="window start, Unix ms (default: now)")
    opened.add_argument("--end-ms", type=int, help="window end, Unix ms (overrides --minutes)")
    opened.add_argument("--min-qty", type=int, default=1, help="default %(default)s")
    opened.add_argument("--max-qty", type=int, help="default: the whole offering")
    opened.add_argument("--equal-bps", type=int, default=5_000,
                        help="share of the units allocated equally (균등배정), in basis "
                             "points (default %(default)s: half)")
    opened.set_defaults(func=cmd_open)

    subscribe = _action(actions, "subscribe", "subscribe for an investor (as its broker)",
                        "stoledger offering subscribe --dir net --key broker-a --offering 1 "
                        "--account <64 hex> --qty 500")
    _client_arguments(subscribe)
    subscribe.add_argument("--qty", required=True, type=int, help="units asked")
    subscribe.set_defaults(func=cmd_subscribe)

    withdraw = _action(actions, "withdraw", "withdraw an investor's subscription in the window "
                                            "(as its broker)",
                       "stoledger offering withdraw --dir net --key broker-a --offering 1 "
                       "--account <64 hex>")
    _client_arguments(withdraw)
    withdraw.set_defaults(func=cmd_withdraw)

    allocate = _action(actions, "allocate", "allocate after the close, in bounded steps until "
                                            "done (as the issuer), and print the table",
                       "stoledger offering allocate --dir net --key issuer-1 --offering 1")
    allocate.add_argument("--offering", required=True, type=int, help="offering id")
    allocate.add_argument("--max-steps", type=int, default=MAX_STEPS,
                          help="steps per transaction, 1..1000 (default %(default)s)")
    allocate.add_argument("--rows", type=int, default=20, help="table rows to print")
    allocate.set_defaults(func=cmd_allocate)

    status = _action(actions, "status", "the offering's terms and status; its book of "
                                        "subscriptions for the issuer, registrar, regulator",
                     "stoledger offering status --dir net --key fss --offering 1")
    status.add_argument("--offering", required=True, type=int, help="offering id")
    status.add_argument("--rows", type=int, default=20, help="table rows to print")
    status.set_defaults(func=cmd_status)

    redeem = _action(actions, "redeem", "redeem every unit of a token and settle it (as the "
                                        "issuer)",
                     "stoledger offering redeem --dir net --key issuer-1 --symbol SEOUL1 "
                     "--price 5600")
    which = redeem.add_mutually_exclusive_group(required=True)
    which.add_argument("--symbol", help="declare a redemption of this token (with --price)")
    which.add_argument("--redemption", type=int, help="settle this redemption instead")
    redeem.add_argument("--price", type=int, help="KRW paid a unit (with --symbol)")
    redeem.add_argument("--record-time", type=int,
                        help="Unix ms of the record date (default: now)")
    redeem.add_argument("--max-steps", type=int, default=MAX_STEPS,
                        help="steps per settle transaction (default %(default)s)")
    redeem.add_argument("--rows", type=int, default=20, help="table rows to print")
    redeem.set_defaults(func=cmd_redeem)


def _action(actions: Any, name: str, summary: str, example: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = actions.add_parser(
        name, help=summary, description=summary[0].upper() + summary[1:] + ".",
        epilog=f"example: {example}")
    parser.add_argument("--dir", default=DEFAULT_DIR, help="local cluster folder (default "
                                                           "%(default)s)")
    parser.add_argument("--node", type=node_url,
                        help="node RPC URL (default: the first node of --dir)")
    parser.add_argument("--key", required=True,
                        help="key file, or an organisation name in DIR/keys (issuer-1, "
                             "broker-a, fss...)")
    parser.add_argument("--json", action="store_true", help="print the node's answers as JSON")
    hex_arg(parser)
    return parser


def _client_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--offering", required=True, type=int, help="offering id")
    parser.add_argument("--account", required=True,
                        help="the investor: account id (64 hex), key file, key name in "
                             "DIR/keys, or its name in the identity records (looked up with a "
                             "regulator's or registrar's key)")


# ---- talking to the node ---------------------------------------------------------------------

def _submit(node: Any, args: argparse.Namespace, method: str, values: dict[str, Any]
            ) -> dict[str, Any]:
    from node.tools.client import ApiError

    try:
        receipt: dict[str, Any] = node.submit("offering", method, values)
    except ApiError as error:
        raise SystemExit(f"refused by the node: {error}") from None
    if args.json:
        print_json(receipt)
    if receipt.get("status") != "committed":
        raise SystemExit(f"not committed yet ({receipt.get('status')}); see the receipt of "
                         f"{receipt.get('tx_id')}")
    if not receipt.get("ok"):
        error = receipt.get("error") or {}
        if not args.json:
            said = Names(node, args.dir, getattr(args, "hex", False)).in_words(
                str(error.get("message")))
            print(f"refused: {error.get('code')}: {said}", file=sys.stderr)
        sys.exit(1)
    return receipt


def _query(node: Any, method: str, values: dict[str, Any]) -> Any:
    from node.tools.client import ApiError

    try:
        return node.query("offering", method, values)
    except ApiError as error:
        raise SystemExit(f"refused: {error}") from None


def _book(node: Any, offering_id: int) -> list[dict[str, Any]] | None:
    """Every subscription (None when this key may not read the book)."""
    from node.tools.client import ApiError

    rows: list[dict[str, Any]] = []
    after = ""
    while True:
        try:
            page = node.query("offering", "subscriptions",
                              {"offering_id": offering_id, "after": after})
        except ApiError as error:
            if error.status == 403:
                return None
            raise SystemExit(f"refused: {error}") from None
        rows += page["subscriptions"]
        if page["next"] is None:
            return rows
        after = page["next"]


def _print_book(node: Any, args: argparse.Namespace, offering_id: int) -> None:
    from node.tools.offering_view import ALLOCATION_HEADER, allocation_rows, text_table

    book = _book(node, offering_id)
    if book is None:
        print("  (the book of subscriptions is for the issuer, the registrar and the "
              "regulator)")
        return
    rows_shown = args.rows
    names = Names(node, args.dir, args.hex)
    names.learn([sub["account"] for sub in sorted(book, key=lambda sub: sub["draw"])][:rows_shown])
    rows = allocation_rows(book, names.label)
    shown = rows[:-1][:rows_shown] + rows[-1:]
    print(text_table(shown, ALLOCATION_HEADER))
    if len(rows) - 1 > rows_shown:
        print(f"  ... {len(rows) - 1 - rows_shown} more rows (--rows, or --json)")


def _named(args: argparse.Namespace, account: str) -> str:
    """The account as people know it (node.cli.show.Names), with one lookup."""
    names = Names(make_client(args), args.dir, args.hex)
    names.learn([account])
    return names.label(account)


# ---- commands --------------------------------------------------------------------------------

def cmd_open(args: argparse.Namespace) -> None:
    start = args.start_ms if args.start_ms is not None else int(time.time() * 1000)
    end = args.end_ms if args.end_ms is not None else start + int(args.minutes * 60_000)
    values = {"symbol": args.symbol, "price": args.price, "qty": args.qty, "start_time": start,
              "end_time": end, "min_qty": args.min_qty,
              "max_qty": args.qty if args.max_qty is None else args.max_qty,
              "equal_bps": args.equal_bps}
    node = make_client(args)
    receipt = _submit(node, args, "open", values)
    if not args.json:
        offering = _query(node, "get", {"offering_id": receipt["result"]["offering_id"]})
        from node.tools.offering_view import terms

        print(terms(offering) + f" (height {receipt['height']})")


def cmd_subscribe(args: argparse.Namespace) -> None:
    receipt = _submit(make_client(args), args, "subscribe", {
        "offering_id": args.offering, "account": account_arg(args, args.account),
        "qty": args.qty})
    if not args.json:
        result = receipt["result"]
        print(f"subscribed {result['qty']:,} units of offering {args.offering} for "
              f"{_named(args, result['account'])}: {result['escrowed']:,} KRW escrowed "
              f"(height {receipt['height']})")


def cmd_withdraw(args: argparse.Namespace) -> None:
    receipt = _submit(make_client(args), args, "withdraw", {
        "offering_id": args.offering, "account": account_arg(args, args.account)})
    if not args.json:
        print(f"withdrawn: {receipt['result']['refund']:,} KRW back to "
              f"{_named(args, receipt['result']['account'])} (height {receipt['height']})")


def cmd_allocate(args: argparse.Namespace) -> None:
    node = make_client(args)
    calls = 0
    while True:
        receipt = _submit(node, args, "allocate", {"offering_id": args.offering,
                                                   "max_steps": args.max_steps})
        calls += 1
        result = receipt["result"]
        if not args.json:
            print(f"allocate {calls}: {result['subscribers']:,} subscriptions settled, "
                  f"{result['allocated_qty']:,} units allocated (height {receipt['height']})",
                  file=sys.stderr)
        if result["done"]:
            break
    if not args.json:
        cmd_status(args)


def cmd_status(args: argparse.Namespace) -> None:
    from node.tools.offering_view import terms

    node = make_client(args)
    offering = _query(node, "get", {"offering_id": args.offering})
    if args.json:
        print_json({"offering": offering, "subscriptions": _book(node, args.offering)})
        return
    print(terms(offering))
    _print_book(node, args, args.offering)


def cmd_redeem(args: argparse.Namespace) -> None:
    from node.tools.offering_view import REDEMPTION_HEADER, redemption_rows, text_table

    node = make_client(args)
    if args.redemption is not None:
        redemption_id = args.redemption
    else:
        if args.price is None:
            raise SystemExit("--symbol needs --price: the KRW paid for each unit")
        values: dict[str, Any] = {"symbol": args.symbol, "price": args.price}
        if args.record_time is not None:
            values["record_time"] = args.record_time
        receipt = _submit(node, args, "redeem_all", values)
        redemption_id = receipt["result"]["redemption_id"]
        if not args.json:
            print(f"redemption {redemption_id} declared: {receipt['result']['escrowed']:,} KRW "
                  f"escrowed (height {receipt['height']})", file=sys.stderr)
    redemption = _query(node, "redemption", {"redemption_id": redemption_id})
    if redemption["status"] == "pending" and redemption["record_time"] > time.time() * 1000:
        print(f"the record date {redemption['record_time']} is ahead: settle after it with "
              f"--redemption {redemption_id}")
        return
    while not redemption["done"]:
        receipt = _submit(node, args, "settle", {"redemption_id": redemption_id,
                                                 "max_steps": args.max_steps})
        result = receipt["result"]
        if not args.json:
            print(f"settle: {result['paid_count']:,}/{result['holders']:,} holders paid, "
                  f"{result['status']} (height {receipt['height']})", file=sys.stderr)
        redemption = {"done": result["done"]}
    if args.json:
        return
    redemption = _query(node, "redemption", {"redemption_id": redemption_id})
    print(f"redemption {redemption_id} of {redemption['symbol']} at "
          f"{redemption['price']:,} KRW a unit (record height {redemption['record_height']}): "
          f"{redemption['status']}, {redemption['burned']:,} units burned")
    if "entries" in redemption:
        entries = redemption["entries"]
        names = Names(node, args.dir, args.hex)
        names.learn([entry["account"] for entry in entries[:args.rows]])
        rows = redemption_rows(entries, names.label)
        print(text_table(rows[:-1][:args.rows] + rows[-1:], REDEMPTION_HEADER))
