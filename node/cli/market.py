"""`stoledger market ...`: trade through a broker, and read the order book.

    stoledger market place  --key BROKER --symbol S --account A --side buy|sell --price P --qty Q
                            [--media hts] [--origin HEX | --ip IP --device ID] [--tif gtc|ioc]
    stoledger market cancel --key BROKER ORDER_ID
    stoledger market book   --key KEY --symbol S [--depth N]     the ladder: asks above, bids below
    stoledger market quote  --key KEY --symbol S
    stoledger market trades --key KEY --symbol S [--after ID] [--limit N]

Orders are sent by the investor's broker (PROTOCOL "market"), so `--key` is the broker for
`place` and `cancel`; `--account` is the investor's account id, its key file, or a key's name
in DIR/keys. Every command takes `--dir` (a local cluster folder) or `--node URL`, and `--json`
prints the node's answer as it is. A refused order exits with status 1 and the chaincode's
code. `trades` writes times in KST and accounts by name (node.cli.show; `--hex` for ids).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from node.cli.common import DEFAULT_DIR, node_url, print_json, table
from node.cli.common import client as make_client
from node.cli.show import Names, account_arg, hex_arg
from node.clock import kst_text

MEDIA = ("hts", "mts", "api", "branch", "phone")


def register(sub: Any) -> None:
    market = sub.add_parser(
        "market", help="place and cancel orders (as a broker); book, quote and trades",
        description="Trade on the market contract: a broker places and cancels orders for "
                    "the investors it registered; anyone registered reads the book (as a "
                    "ladder), the quote and the trades.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  stoledger market place --dir net --key broker-a --symbol SEOUL1 \\\n"
               "      --account alice.json --side sell --price 1000 --qty 50 --media mts \\\n"
               "      --ip 203.0.113.7 --device iphone-1\n"
               "  stoledger market book --dir net --key broker-a --symbol SEOUL1\n"
               "  stoledger market cancel --dir net --key broker-a 7\n"
               "  stoledger market trades --dir net --key fss --symbol SEOUL1 --json")
    actions = market.add_subparsers(dest="action", required=True, metavar="ACTION")

    place = _action(actions, "place", "place an order for an investor (as its broker)",
                    "stoledger market place --dir net --key broker-a --symbol SEOUL1 "
                    "--account <64 hex> --side buy --price 1010 --qty 20 --media hts "
                    "--origin <64 hex>")
    place.add_argument("--symbol", required=True)
    place.add_argument("--account", required=True,
                       help="the investor: account id (64 hex), key file, key name in "
                            "DIR/keys, or its name in the identity records (looked up with a "
                            "regulator's or registrar's key)")
    place.add_argument("--side", required=True, choices=("buy", "sell"))
    place.add_argument("--price", required=True, type=int, help="limit price in won")
    place.add_argument("--qty", required=True, type=int, help="units")
    place.add_argument("--media", default="hts", choices=MEDIA,
                       help="where the order came from (default %(default)s)")
    place.add_argument("--origin", help="hex sha256 of the client's IP and device; or give "
                                        "--ip and --device and it is computed")
    place.add_argument("--ip", help="client IP address as the broker saw it")
    place.add_argument("--device", help="client device id")
    place.add_argument("--tif", default="gtc", choices=("gtc", "ioc"),
                       help="good till cancelled (default) or immediate or cancel")
    place.set_defaults(func=cmd_place)

    cancel = _action(actions, "cancel", "cancel a resting order (its broker, or the registrar)",
                     "stoledger market cancel --dir net --key broker-a 7")
    cancel.add_argument("order_id", type=int)
    cancel.set_defaults(func=cmd_cancel)

    book = _action(actions, "book", "the order book as a ladder: asks above, bids below",
                   "stoledger market book --dir net --key broker-a --symbol SEOUL1 --depth 5")
    book.add_argument("--symbol", required=True)
    book.add_argument("--depth", type=int, default=10, help="price levels a side (default "
                                                            "%(default)s, at most 100)")
    book.set_defaults(func=cmd_book)

    quote = _action(actions, "quote", "last and reference price, band, day volume, halted",
                    "stoledger market quote --dir net --key broker-a --symbol SEOUL1")
    quote.add_argument("--symbol", required=True)
    quote.set_defaults(func=cmd_quote)

    trades = _action(actions, "trades", "the token's trades, oldest first (accounts only for "
                                        "the registrar and the regulator)",
                     "stoledger market trades --dir net --key fss --symbol SEOUL1")
    trades.add_argument("--symbol", required=True)
    trades.add_argument("--after", type=int, default=0, help="after this trade id")
    trades.add_argument("--limit", type=int, default=100, help="at most this many (<= 1000)")
    hex_arg(trades)
    trades.set_defaults(func=cmd_trades)


def _action(actions: Any, name: str, summary: str, example: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = actions.add_parser(
        name, help=summary, description=summary[0].upper() + summary[1:] + ".",
        epilog=f"example: {example}")
    parser.add_argument("--dir", default=DEFAULT_DIR, help="local cluster folder (default "
                                                           "%(default)s)")
    parser.add_argument("--node", type=node_url,
                        help="node RPC URL (default: the first node of --dir)")
    parser.add_argument("--key", required=True,
                        help="key file, or an organisation name in DIR/keys (broker-a, fss...)")
    parser.add_argument("--json", action="store_true", help="print the node's answer as JSON")
    return parser


# ---- writing ---------------------------------------------------------------------------------

def order_origin(args: argparse.Namespace) -> str:
    from chaincode.runtime import is_account  # an origin has the shape of an account id
    from node.tools.client import market_origin

    if args.origin is not None:
        if args.ip or args.device:
            raise SystemExit("give --origin, or --ip and --device, not both")
        if not is_account(args.origin):
            raise SystemExit("--origin is a sha256 in 64 lowercase hex")
        return str(args.origin)
    if not (args.ip and args.device):
        raise SystemExit("say where the order came from: --origin HEX, or --ip and --device")
    import ipaddress

    try:
        ip = str(ipaddress.ip_address(args.ip))  # one spelling per address: one origin
    except ValueError:
        raise SystemExit(f"--ip {args.ip!r} is not an IP address (203.0.113.9, 2001:db8::1)"
                         ) from None
    return market_origin(ip, args.device)


def _submit(args: argparse.Namespace, method: str, values: dict[str, Any]) -> dict[str, Any]:
    from node.tools.client import ApiError

    node = make_client(args)
    try:
        receipt: dict[str, Any] = node.submit("market", method, values)
    except ApiError as error:
        raise SystemExit(f"refused by the node: {error}") from None
    if args.json:
        print_json(receipt)
    if receipt.get("status") != "committed":
        raise SystemExit(f"not committed yet ({receipt.get('status')}); its receipt: GET "
                         f"/v1/tx/{receipt.get('tx_id')}")
    if not receipt.get("ok"):
        error = receipt.get("error") or {}
        if not args.json:
            said = Names(node, args.dir, getattr(args, "hex", False)).in_words(
                str(error.get("message")))
            print(f"refused: {error.get('code')}: {said}", file=sys.stderr)
        sys.exit(1)
    return receipt


def cmd_place(args: argparse.Namespace) -> None:
    values = {"symbol": args.symbol, "account": account_arg(args, args.account),
              "side": args.side, "price": args.price, "qty": args.qty, "media": args.media,
              "origin": order_origin(args), "tif": args.tif}
    receipt = _submit(args, "place", values)
    if not args.json:
        result = receipt["result"]
        trades = ", ".join(str(t) for t in result["trades"]) or "none"
        print(f"order {result['order_id']} {result['status']}: {args.side} {args.qty} "
              f"{args.symbol} @ {_won(args.price)}, filled {result['filled']}, remaining "
              f"{result['remaining']}; trades: {trades} (height {receipt['height']})")


def cmd_cancel(args: argparse.Namespace) -> None:
    receipt = _submit(args, "cancel", {"order_id": args.order_id})
    if not args.json:
        order = receipt["result"]
        print(f"order {order['order_id']} cancelled: {order['side']} {order['symbol']} @ "
              f"{_won(order['price'])}, filled {_won(order['filled'])}, released "
              f"{_won(order['remaining'])}"
              f" (height {receipt['height']})")


# ---- reading ---------------------------------------------------------------------------------

def _query(args: argparse.Namespace, method: str, values: dict[str, Any]) -> Any:
    from node.tools.client import ApiError

    try:
        return make_client(args).query("market", method, values)
    except ApiError as error:
        raise SystemExit(f"refused: {error}") from None


def _won(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def market_state(book: dict[str, Any], paused: bool) -> str:
    """paused (the token: no order is taken, e.g. for good once a redemption's record height
    is fixed), halted, open or closed."""
    if paused:
        return "paused (orders are refused TOKEN_PAUSED)"
    return "halted" if book["halted"] else ("open" if book["open"] else "closed")


def _paused(args: argparse.Namespace) -> bool:
    from node.tools.client import ApiError

    try:
        return bool(make_client(args).query("token", "info", {"symbol": args.symbol})["paused"])
    except ApiError as error:
        raise SystemExit(f"refused: {error}") from None


def ladder(book: dict[str, Any], quote: dict[str, Any] | None = None,
           paused: bool = False) -> str:
    """The book as a ladder: asks from the highest down to the best, a rule with the spread,
    then bids from the best down. One line per price level: side, price, qty, orders."""
    state = market_state(book, paused)
    head = f"{book['symbol']}  {state}"
    if quote is not None:
        band = quote["band"]
        head += (f"  last {_won(quote['last_price'])}  reference "
                 f"{_won(quote['reference_price'])}")
        if band["low"] is not None:
            head += f"  band {_won(band['low'])}..{_won(band['high'])}"
    rows = [("ask", level) for level in reversed(book["asks"])]
    widths = [max([5] + [len(_won(level[name])) for _, level in rows
                         + [("bid", b) for b in book["bids"]]]) for name in ("price", "qty")]

    def line(side: str, level: dict[str, Any]) -> str:
        return (f"  {side:<4}{_won(level['price']):>{widths[0] + 2}}"
                f"{_won(level['qty']):>{widths[1] + 2}}{level['orders']:>8}")

    lines = [head, f"  {'':<4}{'price':>{widths[0] + 2}}{'qty':>{widths[1] + 2}}{'orders':>8}"]
    lines += [line(side, level) for side, level in rows]
    if book["asks"] and book["bids"]:
        spread = f" spread {_won(book['asks'][0]['price'] - book['bids'][0]['price'])} "
    else:
        spread = " no asks " if not book["asks"] else " no bids "
    lines.append("  " + spread.center(widths[0] + widths[1] + 16, "-"))
    lines += [line("bid", level) for level in book["bids"]]
    return "\n".join(lines)


def cmd_book(args: argparse.Namespace) -> None:
    book = _query(args, "book", {"symbol": args.symbol, "depth": args.depth})
    if args.json:
        print_json(book)
        return
    print(ladder(book, _query(args, "quote", {"symbol": args.symbol}), _paused(args)))


def cmd_quote(args: argparse.Namespace) -> None:
    quote = _query(args, "quote", {"symbol": args.symbol})
    if args.json:
        print_json(quote)
        return
    band = quote["band"]
    rows = [("last price", _won(quote["last_price"])),
            ("reference price", _won(quote["reference_price"])),
            ("band", "none" if band["low"] is None else
             f"{_won(band['low'])}..{_won(band['high'])} (+-{band['bps']} bps)"),
            ("best bid / ask", f"{_won(quote['best_bid'])} / {_won(quote['best_ask'])}"),
            ("day volume / value", f"{_won(quote['day_volume'])} / {_won(quote['day_value'])}"
                                   " KRW"),
            ("trades", _won(quote["trades"])),
            ("market", market_state(quote, _paused(args)))]
    print(quote["symbol"])
    for name, value in rows:
        print(f"  {name:<20}{value}")


def cmd_trades(args: argparse.Namespace) -> None:
    page = _query(args, "trades", {"symbol": args.symbol, "after": args.after,
                                   "limit": args.limit})
    if args.json:
        print_json(page)
        return
    names = Names(make_client(args), args.dir, args.hex)
    names.learn(account for trade in page["trades"]
                for account in (trade.get("buyer"), trade.get("seller")))
    rows = []
    for trade in page["trades"]:
        row = dict(trade, time=kst_text(trade["time"]), price=_won(trade["price"]),
                   qty=_won(trade["qty"]))
        for name in ("buyer", "seller"):
            if name in row:
                row[name] = names.label(row[name])
        rows.append(row)
    columns = ["trade_id", "time", "price", "qty", "aggressor", "height"]
    if rows and "buyer" in rows[0]:
        columns += ["buyer", "seller"]
    print(table(rows, columns) if rows else f"no trades in {args.symbol} after trade "
                                            f"{args.after}")
    if page["next"] is not None:
        print(f"more: --after {page['next']}")
