"""`stoledger console`: the URL of the regulator's console of a running local cluster."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from node.cli.common import dir_arg, node_url


def register(sub: Any) -> None:
    console = sub.add_parser(
        "console", help="print the URL of the web console of a running cluster",
        description="Print the URL of the regulator's console served by a node of DIR "
                    "(every node serves it at /console/). Open it in a browser and load a key "
                    "file from DIR/keys/ (fss.json for the regulator): the page signs each "
                    "request itself and the key never leaves the page.")
    dir_arg(console)
    console.add_argument("--node", type=node_url,
                         help="which node's console (default: the first that is up)")
    console.set_defaults(func=cmd_console)


def console_url(rpc: str) -> str:
    return rpc.rstrip("/") + "/console/"


def cmd_console(args: argparse.Namespace) -> None:
    from node.tools.client import ApiError, Client, NodeUnreachable
    from node.tools.cluster import read_cluster

    if not Path(args.dir, "cluster.json").exists():
        raise SystemExit(f"{args.dir}/cluster.json not found: start a cluster with "
                         f"`stoledger cluster up --dir {args.dir}`")
    nodes = read_cluster(args.dir)["nodes"]
    if args.node is not None:
        nodes = [n for n in nodes if n["name"] == args.node]
        if not nodes:
            raise SystemExit(f"no node named {args.node} in {args.dir}")
    for node in nodes:
        try:
            Client(node["rpc"], "", timeout_s=3.0).status()
        except (NodeUnreachable, ApiError):  # down, or not serving: try the next node
            continue
        print(console_url(node["rpc"]))
        print(f"Load a key file from {Path(args.dir, 'keys')}/ in the page (fss.json: the "
              "regulator).")
        return
    raise SystemExit(f"no node of {args.dir} answers; start them with "
                     f"`stoledger cluster up --dir {args.dir}`")
