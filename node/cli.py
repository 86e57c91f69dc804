"""`stoledger`: the command line. Each subcommand's --help says what it does.

    stoledger genesis init --dir DIR [-n N] [--observer]
    stoledger node run --config DIR/nodes/<name>/config.toml
    stoledger cluster up|down|status --dir DIR [-n N] [--observer]
    stoledger tx submit --dir DIR --key KEY [--consent-key KEYFILE] contract method [ARGS_JSON]
    stoledger query --dir DIR --key KEY contract method [ARGS_JSON]
    stoledger demo [--dir DIR] [-n N]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

DEFAULT_DIR = "net"


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    cells = [[str("" if row.get(c) is None else row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def _client(args: argparse.Namespace, signed: bool = True) -> Any:
    from genesis.builder import load_keyfile
    from node.client import Client
    from node.cluster import read_cluster

    url = args.node
    chain_id = None
    if args.dir and Path(args.dir, "cluster.json").exists():
        cluster = read_cluster(args.dir)
        chain_id = cluster["chain_id"]
        url = url or cluster["nodes"][0]["rpc"]
    if url is None:
        raise SystemExit("say which node: --node URL, or --dir DIR of a local cluster")
    if chain_id is None:
        chain_id = Client(url, "").status()["chain_id"]
    key_path = args.key
    if signed and key_path and not Path(key_path).exists() and args.dir:
        key_path = str(Path(args.dir, "keys", f"{key_path}.json"))
    signer = load_keyfile(key_path) if signed and key_path else None
    return Client(url, chain_id, signer)


def _json_arg(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise SystemExit(f"ARGS must be a JSON object: {error}") from None
    if not isinstance(value, dict):
        raise SystemExit("ARGS must be a JSON object")
    return value


def cmd_genesis_init(args: argparse.Namespace) -> None:
    from genesis.builder import init_network

    genesis = init_network(args.dir, n=args.n, observer=args.observer, chain_id=args.chain_id,
                           base_port=args.base_port)
    print(f"wrote {args.dir}: chain {genesis.chain_id}, {len(genesis.operators)} operators "
          f"(f={genesis.f}){', observer fss' if args.observer else ''}")


def cmd_node_run(args: argparse.Namespace) -> None:
    import asyncio

    from node.app import run_node

    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(run_node(args.config))


def cmd_node_check(args: argparse.Namespace) -> None:
    import os

    from genesis.builder import load_config
    from genesis.schema import load_genesis
    from node.fsck import check_store
    from node.storage import LevelDB

    config = load_config(args.config)
    store = LevelDB(os.path.join(config.data_dir, "ledger"))
    try:
        problems = check_store(store, load_genesis(config.genesis), _progress("replayed"))
    finally:
        store.close()
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print("store is consistent")


def _progress(label: str) -> Any:
    def show(done: int, total: int) -> None:
        if done == total or done % 100 == 0:
            print(f"\r{label} {done}/{total}", end="\n" if done == total else "",
                  file=sys.stderr, flush=True)

    return show


def cmd_cluster_up(args: argparse.Namespace) -> None:
    from node import cluster

    cluster.up(args.dir, n=args.n, observer=args.observer, base_port=args.base_port)
    cmd_cluster_status(args)


def cmd_cluster_down(args: argparse.Namespace) -> None:
    from node import cluster

    cluster.down(args.dir)


def cmd_cluster_status(args: argparse.Namespace) -> None:
    from node import cluster

    rows = cluster.status(args.dir)
    if args.json:
        _print_json(rows)
    else:
        print(_table(rows, ["name", "role", "pid", "alive", "ready", "height", "view", "primary",
                            "peers", "rpc"]))


def _tx_args(args: argparse.Namespace, client: Any) -> dict[str, Any]:
    """ARGS, with `consent` signed by --consent-key's key for identity.register."""
    values = _json_arg(args.args)
    if args.consent_key:
        from chaincode.identity import sign_consent
        from genesis.builder import load_keyfile

        if (args.contract, args.method) != ("identity", "register"):
            raise SystemExit("--consent-key is for identity register")
        account = load_keyfile(args.consent_key)
        if values.get("account") not in (None, account.account):
            raise SystemExit("--consent-key is not the key of ARGS' account")
        values["account"] = account.account
        values["consent"] = sign_consent(account, client.chain_id, client.signer.account,
                                         str(values.get("role", "")))
    return values


def cmd_tx_submit(args: argparse.Namespace) -> None:
    from node.client import ApiError

    client = _client(args)
    try:
        result = client.submit(args.contract, args.method, _tx_args(args, client),
                               wait=not args.no_wait)
    except ApiError as error:
        raise SystemExit(f"refused: {error}") from None
    _print_json(result)
    if isinstance(result, dict) and result.get("ok") is False:
        sys.exit(1)


def cmd_tx_sign(args: argparse.Namespace) -> None:
    client = _client(args)
    tx = client.build(args.contract, args.method, _tx_args(args, client))
    print(json.dumps({"body": tx.body_bytes.hex(), "sig": tx.sig.hex()}))
    print(f"tx_id {tx.tx_id_hex}", file=sys.stderr)


def cmd_query(args: argparse.Namespace) -> None:
    from node.client import ApiError

    client = _client(args)
    try:
        _print_json(client.query(args.contract, args.method, _json_arg(args.args)))
    except ApiError as error:
        raise SystemExit(f"refused: {error}") from None


def cmd_demo(args: argparse.Namespace) -> None:
    from node.demo import run_demo

    run_demo(args.dir, n=args.n, keep=args.keep)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stoledger",
        description="A permissioned PBFT ledger for Korean token securities (토큰증권).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Start here: `stoledger demo` runs the whole story on a local cluster.\n"
               "The client contract (encoding, signing, routes) is PROTOCOL.md.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    genesis = sub.add_parser("genesis", help="build a network folder").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    init = genesis.add_parser(
        "init", help="write genesis, node configs, keys, TLS certificates, cluster.json",
        description="Write a ready-to-run network into DIR (which must be empty): genesis.json, "
                    "nodes/<name>/ (config, operator key, TLS key and certificate), keys/<org>"
                    ".json for each organisation admin, and cluster.json.")
    _dir(init)
    _size(init)
    init.add_argument("--chain-id", default="stoledger-local", help="chain id (default "
                      "%(default)s)")
    init.set_defaults(func=cmd_genesis_init)

    node = sub.add_parser("node", help="run one node").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    run = node.add_parser("run", help="run a node in the foreground",
                          description="Run the node described by CONFIG until SIGINT/SIGTERM.")
    run.add_argument("--config", required=True, help="DIR/nodes/<name>/config.toml")
    run.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    run.set_defaults(func=cmd_node_run)
    check = node.add_parser(
        "check", help="check a stopped node's store by replaying it",
        description="Replay every block of the node's store from genesis in memory and compare "
                    "blocks, certificates, state, tx index, receipts and app hash with what is "
                    "on disk. Run it with the node stopped. Exit status 1 on any difference.")
    check.add_argument("--config", required=True, help="DIR/nodes/<name>/config.toml")
    check.set_defaults(func=cmd_node_check)

    cluster = sub.add_parser("cluster", help="a local multi-node cluster").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    up = cluster.add_parser(
        "up", help="initialise DIR if empty and start every node not running",
        description="Initialise DIR if it is empty, start every node of DIR that is not running "
                    "as a background process (pid in cluster.json, log in DIR/nodes/<name>/"
                    "node.log), and return once all are ready. Run it again after a node died "
                    "to restart just that node; it catches up by itself.")
    _dir(up)
    _size(up)
    up.add_argument("--json", action="store_true", help="print the status as JSON")
    up.set_defaults(func=cmd_cluster_up)
    down = cluster.add_parser("down", help="stop every node of DIR")
    _dir(down)
    down.set_defaults(func=cmd_cluster_down)
    status = cluster.add_parser("status", help="each node's pid, height, view and health")
    _dir(status)
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(func=cmd_cluster_status)

    tx = sub.add_parser("tx", help="sign and submit transactions").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    submit = tx.add_parser(
        "submit", help="sign a transaction with a key file and submit it",
        description="Sign CONTRACT.METHOD(ARGS) with KEY and submit it; waits for the receipt "
                    "unless --no-wait. Exit status 1 if chaincode refused it.",
        epilog='example: stoledger tx submit --dir net --key bank cash mint '
               '\'{"to": "<account>", "amount": 1000000}\'')
    _client_args(submit)
    _consent_arg(submit)
    submit.add_argument("--no-wait", action="store_true", help="return once admitted")
    submit.set_defaults(func=cmd_tx_submit)
    sign = tx.add_parser(
        "sign", help="print a signed envelope as JSON, to submit with any HTTP client",
        description="Sign CONTRACT.METHOD(ARGS) with KEY and print the envelope "
                    '{"body": hex, "sig": hex} for POST /v1/tx (its id goes to stderr).',
        epilog="example: stoledger tx sign --dir net --key bank cash mint '{...}' > tx.json\n"
               "         curl -H 'Content-Type: application/json' --data @tx.json "
               "'URL/v1/tx?wait=commit'")
    _client_args(sign)
    _consent_arg(sign)
    sign.set_defaults(func=cmd_tx_sign)

    query = sub.add_parser(
        "query", help="run a signed chaincode query",
        description="Run the query CONTRACT.METHOD(ARGS) signed with KEY.",
        epilog='example: stoledger query --dir net --key fss token info \'{"symbol": "SEOUL1"}\'')
    _client_args(query)
    query.set_defaults(func=cmd_query)

    demo = sub.add_parser(
        "demo", help="the whole story on a local cluster",
        description="Start a local cluster, register investors, create and issue a token, "
                    "transfer it (some transfers refused by the restriction rules), pay a "
                    "dividend with withholding, and print an audit.")
    demo.add_argument("--dir", default="demo-net", help="network folder (default %(default)s)")
    demo.add_argument("-n", type=int, default=4, help="operators (default %(default)s)")
    demo.add_argument("--keep", action="store_true", help="leave the cluster running")
    demo.set_defaults(func=cmd_demo)

    for extra in ("audit", "sim", "bench"):
        module = __import__(f"node.cli_{extra}", fromlist=["register"]) \
            if _has_module(f"node.cli_{extra}") else None
        if module is not None:
            module.register(sub)
    return parser


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", default=DEFAULT_DIR, help="network folder (default "
                        "%(default)s)")


def _size(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", type=int, default=4, help="operators, 3f+1 (default %(default)s)")
    parser.add_argument("--observer", action="store_true",
                        help="add the regulator's non-voting node fss")
    parser.add_argument("--base-port", type=int, default=0,
                        help="first port (rpc, p2p alternate); 0 picks free ports")


def _consent_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--consent-key", metavar="KEYFILE",
                        help="identity register: the registered account's own key file, to "
                             "sign its consent (`consent`; ARGS' `account` may be left out)")


def _client_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", default=DEFAULT_DIR, help="local cluster folder (default "
                        "%(default)s)")
    parser.add_argument("--node", help="node RPC URL (default: the first node of --dir)")
    parser.add_argument("--key", required=True,
                        help="key file, or an organisation name in DIR/keys (ksd, fss, bank...)")
    parser.add_argument("contract", help="identity, token, cash or dividend")
    parser.add_argument("method", help="e.g. transfer")
    parser.add_argument("args", nargs="?", default="{}", help="arguments as a JSON object")


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
