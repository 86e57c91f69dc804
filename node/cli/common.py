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
    """A client of a node of `--dir` (the first that answers: the others are its fallbacks)
    or of `--node URL` alone, signing with `--key` (a key file, or a name in DIR/keys)."""
    from node.tools.client import Client

    nodes = cluster_nodes(args)
    if args.node is None and not nodes:
        raise SystemExit(f"no cluster in {args.dir} (no cluster.json): start one with "
                         f"`stoledger cluster up --dir {args.dir}`, or say which node with "
                         "--node URL")
    url = args.node or nodes[0]["rpc"]
    fallbacks = [] if args.node else [n["rpc"] for n in nodes[1:]]
    names = node_names(nodes)

    def switch(tried: list[tuple[str, str]], answered: str) -> None:
        gone = ", ".join(f"{names.get(url, url)} ({why})" for url, why in tried)
        print(f"cannot reach {gone}; using {names.get(answered, answered)}", file=sys.stderr,
              flush=True)

    chain_id = read_chain_id(args) if nodes else None
    if chain_id is None:
        chain_id = Client(url, "").status()["chain_id"]
    signer = load_key(args, args.key) if signed and args.key else None
    return Client(url, chain_id, signer, fallbacks=fallbacks, on_switch=switch)


def cluster_nodes(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The nodes of `--dir`'s cluster.json, or [] when it has none."""
    from node.tools.cluster import read_cluster

    if not args.dir or not Path(args.dir, "cluster.json").exists():
        return []
    return list(read_cluster(args.dir)["nodes"])


def read_chain_id(args: argparse.Namespace) -> str:
    from node.tools.cluster import read_cluster

    return str(read_cluster(args.dir)["chain_id"])


def node_names(nodes: list[dict[str, Any]]) -> dict[str, str]:
    return {str(n["rpc"]).rstrip("/"): str(n["name"]) for n in nodes}


def key_path(args: argparse.Namespace, key: str) -> Path:
    """KEY as given: a key file, or a name in DIR/keys (`fss` is DIR/keys/fss.json)."""
    path = Path(key)
    if not path.exists() and args.dir:
        named = Path(args.dir, "keys", f"{key}.json")
        if named.exists() or not path.suffix:
            return named
    return path


def load_key(args: argparse.Namespace, key: str) -> Any:
    from genesis.builder import ConfigError, load_keyfile

    path = key_path(args, key)
    if not path.exists():
        where = f" nor a name in {Path(args.dir, 'keys')}/" if args.dir else ""
        raise SystemExit(f"key {key!r} is neither a key file{where}")
    try:
        return load_keyfile(str(path))
    except ConfigError as error:
        raise SystemExit(str(error)) from None


def unreachable(args: argparse.Namespace, error: Any) -> str:
    """What to say when no node could be reached (node.tools.client.NodeUnreachable)."""
    names = node_names(cluster_nodes(args)) if getattr(args, "dir", None) else {}
    tried = ", ".join(f"{names.get(url, url)} ({why})" if url in names else f"{url} ({why})"
                      for url, why in error.tried)
    if getattr(args, "node", None) or not names:
        return (f"cannot reach the node: {tried}. Is it running? Pick another node with "
                "--node URL, or give --dir DIR to try every node of a local cluster")
    return (f"cannot reach any node of {args.dir}: {tried}. `stoledger cluster up --dir "
            f"{args.dir}` starts what is not running; `stoledger cluster status --dir "
            f"{args.dir}` shows each node")


def json_arg(text: str) -> dict[str, Any]:
    """ARGS_JSON as a dict. A number with a fraction or an exponent (`1.5`, `1e6`) is refused
    here, naming it: the chain's encoding has integers only (a million is 1000000)."""
    def no_float(number: str) -> Any:
        raise SystemExit(f"ARGS: {number} is not an integer; numbers on the chain are whole "
                         f"(write a million as 1000000)")

    try:
        value = json.loads(text, parse_float=no_float)
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


def node_url(text: str) -> str:
    """`--node`: an http(s) URL with a host, or a usage error."""
    from urllib.parse import urlsplit

    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a node's URL (like "
                                         "http://127.0.0.1:8001; cluster.json lists them)")
    return text


def out_file(text: str) -> str:
    """`--out FILE`: a file we can write, checked before any node is asked (its folder exists;
    it is not itself a folder), or a usage error."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name in it")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: there is no folder {path.parent}")
    return text


def dir_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", default=DEFAULT_DIR, help="network folder (default "
                        "%(default)s)")


def operator_count(text: str) -> int:
    """`-n`: a number of operators genesis accepts (3f+1, within the limit), or a usage
    error saying which numbers are."""
    from genesis.builder import check_operator_count
    from genesis.schema import GenesisError

    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of operators")
    try:
        check_operator_count(int(text))
    except GenesisError as error:
        raise argparse.ArgumentTypeError(error.message) from None
    return int(text)


def size_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", type=operator_count, default=4,
                        help="operators, 3f+1: 1, 4, 7, 10, ... (default %(default)s)")
    parser.add_argument("--observer", action="store_true",
                        help="add the regulator's non-voting node fss")
    parser.add_argument("--base-port", type=int, default=0,
                        help="first port (rpc, p2p alternate); 0 picks free ports")


def client_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", default=DEFAULT_DIR, help="local cluster folder (default "
                        "%(default)s)")
    parser.add_argument("--node", type=node_url,
                        help="node RPC URL (default: the first node of --dir)")
    parser.add_argument("--key", required=True,
                        help="key file, or an organisation name in DIR/keys (ksd, fss, bank...)")
    from chaincode import builtin_registry

    contracts = ", ".join(builtin_registry().contracts)  # whatever the chain runs
    parser.add_argument("contract", help=f"one of {contracts}")
    parser.add_argument("method", help="one of its methods, e.g. transfer (docs/reference.md "
                                       "lists them with their arguments)")
    parser.add_argument("args", nargs="?", default="{}", help="arguments as a JSON object")


