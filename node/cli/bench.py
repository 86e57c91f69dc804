"""`stoledger bench`: committed tx/s and commit latency of a real local cluster (node/bench.py).

    stoledger bench --nodes 4 --rate 500,1000 --duration 60 --json
    stoledger bench --nodes 4,7,10 --rate 0 --duration 30
    stoledger bench --nodes 4 --rate 2x,0 --duration 30 --json   (knee, then twice it)
    stoledger bench --workload market --rate 0 --duration 30 --json
    stoledger bench --workload both --rate 0 --duration 30 --json   (transfers, then orders)
    stoledger bench --workload offering --accounts 2000 --duration 60 --json
    stoledger bench --workload offering --in-process --accounts 100000
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nodes", default="4",
                        help="operator counts to sweep, comma-separated (default %(default)s)")
    parser.add_argument("--rate", default="0",
                        help="offered tx/s to sweep, comma-separated; 0 = as fast as the "
                             "cluster takes them; 2x = twice the knee, found first "
                             "(default %(default)s)")
    parser.add_argument("--knee-duration", type=float, default=None,
                        help="seconds per knee-search probe (default: --duration)")
    parser.add_argument("--duration", type=float, default=60.0,
                        help="timed seconds per point (default %(default)s)")
    parser.add_argument("--accounts", type=int, default=200,
                        help="investor accounts that send transfers (default %(default)s)")
    parser.add_argument("--interval-ms", type=int, default=20,
                        help="at a fixed rate, one POST /v1/txs batch this often "
                             "(default %(default)s)")
    parser.add_argument("--window", type=int, default=8_000,
                        help="with --rate 0: most admitted, uncommitted txs in flight "
                             "(default %(default)s)")
    parser.add_argument("--max-rate", type=int, default=2_500,
                        help="with --rate 0: transfers pre-signed per second of the point "
                             "(default %(default)s)")
    parser.add_argument("--drain", type=float, default=30.0,
                        help="seconds to wait after a point for admitted txs to commit "
                             "(default %(default)s)")
    parser.add_argument("--dir", help="bench a running cluster (DIR/cluster.json) instead of "
                                      "starting one; --nodes is then ignored")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary cluster folders (logs) after the run")
    parser.add_argument("--workload", choices=("transfer", "market", "both", "offering"),
                        default="transfer",
                        help="transfer: token transfers; market: pre-signed crossing orders "
                             "sent by a broker, reporting trades_tps too; both: at each rate "
                             "a transfer point then a market point on the same cluster, the "
                             "market point compared with the transfers; offering: --accounts "
                             "subscribers subscribing through two brokers inside a "
                             "--duration window, then the allocation (subscriptions/s, the "
                             "allocation's cost per subscriber in verifications; --rate is "
                             "not used) (default %(default)s)")
    parser.add_argument("--in-process", action="store_true",
                        help="with --workload offering: allocate an offering of --accounts "
                             "subscribers on the chaincode alone, no cluster (its "
                             "transactions' writes, events and time stay bounded)")
    parser.add_argument("--json", action="store_true", help="one JSON object per point")


def register(sub: Any) -> None:
    bench = sub.add_parser(
        "bench", help="measure committed tx/s and commit latency on a local cluster",
        description="Start a real cluster on loopback (or use --dir), set up investors and a "
                    "token, pre-sign token transfers, drive them from a separate load process "
                    "and report committed tx/s, commit latency percentiles, CPU per tx, and "
                    "lost or duplicated transactions. Exit status 1 if any was lost or "
                    "committed twice.")
    add_arguments(bench)
    bench.set_defaults(func=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> None:
    from node.bench import main

    sys.exit(main(args))
