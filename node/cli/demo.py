"""`stoledger demo`: the whole story on a local cluster (node/tools/demo.py)."""

from __future__ import annotations

import argparse
from typing import Any

from node.cli.common import operator_count


def register(sub: Any) -> None:
    demo = sub.add_parser(
        "demo", help="the whole story on a local cluster",
        description="Start a local cluster, register investors, create and issue a token, "
                    "transfer it (some transfers refused by the restriction rules), pay a "
                    "dividend with withholding, let brokers trade it for their clients on the "
                    "market (delivery versus payment), watch surveillance raise an alert and the "
                    "FDS responder hold the accounts, run a public offering with its allocation, "
                    "redeem a token, and print an audit. DIR is replaced: when it holds a network "
                    "of an earlier run, its running cluster is stopped and the folder deleted "
                    "(the demo says so); a folder that is not a stoledger network, or a network "
                    "holding files the tools did not write (a key you made in DIR/keys/, a "
                    "proof), is refused and left as it is.")
    demo.add_argument("--dir", default="demo-net",
                      help="network folder, replaced (default %(default)s)")
    demo.add_argument("-n", type=operator_count, default=4,
                      help="operators, 3f+1 (default %(default)s)")
    demo.add_argument("--keep", action="store_true", help="leave the cluster running")
    demo.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> None:
    from node.tools.demo import run_demo

    run_demo(args.dir, n=args.n, keep=args.keep)


