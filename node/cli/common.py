"""What every command group shares: the default network folder, a client for a node of it,
JSON and table printing, and the common arguments."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

DEFAULT_DIR = "net"


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    cells = [[str("" if row.get(c) is None else row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def client(args: argparse.Namespace, signed: bool = True) -> Any:
    from genesis.builder import load_keyfile
    from node.tools.client import Client
    from node.tools.cluster import read_cluster

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


def json_arg(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise SystemExit(f"ARGS must be a JSON object: {error}") from None
    if not isinstance(value, dict):
        raise SystemExit("ARGS must be a JSON object")
    return value


def progress(label: str) -> Any:
    def show(done: int, total: int) -> None:
        if done == total or done % 100 == 0:
            print(f"\r{label} {done}/{total}", end="\n" if done == total else "",
                  file=sys.stderr, flush=True)

    return show


def dir_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", default=DEFAULT_DIR, help="network folder (default "
                        "%(default)s)")


def size_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", type=int, default=4, help="operators, 3f+1 (default %(default)s)")
    parser.add_argument("--observer", action="store_true",
                        help="add the regulator's non-voting node fss")
    parser.add_argument("--base-port", type=int, default=0,
                        help="first port (rpc, p2p alternate); 0 picks free ports")


def client_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", default=DEFAULT_DIR, help="local cluster folder (default "
                        "%(default)s)")
    parser.add_argument("--node", help="node RPC URL (default: the first node of --dir)")
    parser.add_argument("--key", required=True,
                        help="key file, or an organisation name in DIR/keys (ksd, fss, bank...)")
    parser.add_argument("contract", help="identity, token, cash or dividend")
    parser.add_argument("method", help="e.g. transfer")
    parser.add_argument("args", nargs="?", default="{}", help="arguments as a JSON object")


