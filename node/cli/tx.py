"""`stoledger tx|query`: sign and submit a transaction, print a signed envelope for any HTTP
client, or run a signed chaincode query."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from node.cli.common import client, client_args, json_arg, print_json


def register(sub: Any) -> None:
    tx = sub.add_parser("tx", help="sign and submit transactions").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    submit = tx.add_parser(
        "submit", help="sign a transaction with a key file and submit it",
        description="Sign CONTRACT.METHOD(ARGS) with KEY and submit it; waits for the receipt "
                    "unless --no-wait. Exit status 1 if chaincode refused it.",
        epilog='example: stoledger tx submit --dir net --key bank cash mint '
               '\'{"to": "<account>", "amount": 1000000}\'')
    client_args(submit)
    consent_arg(submit)
    submit.add_argument("--no-wait", action="store_true", help="return once admitted")
    submit.set_defaults(func=cmd_tx_submit)
    sign = tx.add_parser(
        "sign", help="print a signed envelope as JSON, to submit with any HTTP client",
        description="Sign CONTRACT.METHOD(ARGS) with KEY and print the envelope "
                    '{"body": hex, "sig": hex} for POST /v1/tx (its id goes to stderr).',
        epilog="example: stoledger tx sign --dir net --key bank cash mint '{...}' > tx.json\n"
               "         curl -H 'Content-Type: application/json' --data @tx.json "
               "'URL/v1/tx?wait=commit'")
    client_args(sign)
    consent_arg(sign)
    sign.set_defaults(func=cmd_tx_sign)

    query = sub.add_parser(
        "query", help="run a signed chaincode query",
        description="Run the query CONTRACT.METHOD(ARGS) signed with KEY.",
        epilog='example: stoledger query --dir net --key fss token info \'{"symbol": "SEOUL1"}\'')
    client_args(query)
    query.set_defaults(func=cmd_query)


def consent_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--consent-key", metavar="KEYFILE",
                        help="identity register: the registered account's own key file, to "
                             "sign its consent (`consent`; ARGS' `account` may be left out)")


def tx_args(args: argparse.Namespace, node: Any) -> dict[str, Any]:
    """ARGS, with `consent` signed by --consent-key's key for identity.register."""
    values = json_arg(args.args)
    if args.consent_key:
        from chaincode.identity import sign_consent
        from genesis.builder import load_keyfile

        if (args.contract, args.method) != ("identity", "register"):
            raise SystemExit("--consent-key is for identity register")
        account = load_keyfile(args.consent_key)
        if values.get("account") not in (None, account.account):
            raise SystemExit("--consent-key is not the key of ARGS' account")
        values["account"] = account.account
        values["consent"] = sign_consent(account, node.chain_id, node.signer.account,
                                         str(values.get("role", "")))
    return values


def cmd_tx_submit(args: argparse.Namespace) -> None:
    from node.tools.client import ApiError

    node = client(args)
    try:
        result = node.submit(args.contract, args.method, tx_args(args, node),
                             wait=not args.no_wait)
    except ApiError as error:
        raise SystemExit(f"refused: {error}") from None
    print_json(result)
    if isinstance(result, dict) and result.get("ok") is False:
        sys.exit(1)


def cmd_tx_sign(args: argparse.Namespace) -> None:
    node = client(args)
    tx = node.build(args.contract, args.method, tx_args(args, node))
    print(json.dumps({"body": tx.body_bytes.hex(), "sig": tx.sig.hex()}))
    print(f"tx_id {tx.tx_id_hex}", file=sys.stderr)


def cmd_query(args: argparse.Namespace) -> None:
    from node.tools.client import ApiError

    node = client(args)
    try:
        print_json(node.query(args.contract, args.method, json_arg(args.args)))
    except ApiError as error:
        raise SystemExit(f"refused: {error}") from None


