"""`stoledger sim`: the deterministic network simulator (node.sim) from the command line.

    stoledger sim                                  n=4, a crash and a partition that heal
    stoledger sim --nodes 7 --faulty 2 --faults chaos --seed 42
    stoledger sim --byzantine ksd=equivocate --timeline
    stoledger sim --seeds 100 --faults mix --faulty 1     one summary line per seed
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any


def register(subparsers: Any) -> None:
    from node.sim import BEHAVIOURS, FAULT_KINDS, FAULT_SCHEDULES

    parser = subparsers.add_parser(
        "sim", help="simulate a network: faults, Byzantine operators, a safety checker",
        description="Run N full nodes (the real replica, executor and chaincode) in one "
                    "process on a virtual clock and a virtual network with latency, loss, "
                    "duplication, reordering, crashes and partitions, some operators "
                    "Byzantine, and check safety on every step and liveness once faults heal. "
                    "The same seed gives the same run, byte for byte.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="fault schedules: " + ", ".join(FAULT_SCHEDULES) + ", mix (a random mix), or "
               "a comma list of " + ", ".join(FAULT_KINDS) + "\nbehaviours: "
               + ", ".join(BEHAVIOURS) + "\n\nexamples:\n  stoledger sim\n"
               "  stoledger sim --nodes 7 --faulty 2 --faults chaos --seed 42\n"
               "  stoledger sim --byzantine ksd=equivocate --timeline\n"
               "  stoledger sim --seeds 50 --faults mix --faulty 1")
    parser.add_argument("--nodes", "-n", type=int, default=4, help="operators, 3f+1 "
                        "(default %(default)s)")
    parser.add_argument("--faulty", type=int, default=0,
                        help="Byzantine operators chosen by the seed, with random behaviours "
                             "(at most f unless --allow-unsafe; default %(default)s)")
    parser.add_argument("--byzantine", action="append", default=[], metavar="NAME=BEHAVIOUR",
                        help="make operator NAME Byzantine (repeatable)")
    parser.add_argument("--seed", type=int, default=1, help="default %(default)s")
    parser.add_argument("--seeds", type=int, default=0, metavar="N",
                        help="run N seeds from --seed on and print one line for each")
    parser.add_argument("--duration-ms", type=int, default=5_000,
                        help="simulated milliseconds of client traffic (default %(default)s); "
                             "the run goes on until every transaction committed or the "
                             "liveness bound passed")
    parser.add_argument("--tx-rate", type=int, default=20,
                        help="client transactions per simulated second (default %(default)s)")
    parser.add_argument("--faults", default="default",
                        help="schedule or comma list of fault kinds (default %(default)s)")
    parser.add_argument("--liveness-bound-ms", type=int, default=10_000,
                        help="how long after the last fault heals every transaction must be "
                             "committed (default %(default)s)")
    parser.add_argument("--allow-unsafe", action="store_true",
                        help="allow more than f Byzantine operators (expect violations)")
    parser.add_argument("--quorum-override", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--trace", metavar="FILE",
                        help="write every message as a JSON line (time, from, to, type, view, "
                             "seq, sent / delivered / dropped and why)")
    parser.add_argument("--timeline", action="store_true",
                        help="print a per-height timeline of phases and view changes")
    parser.set_defaults(func=cmd_sim)


def _config(args: argparse.Namespace, seed: int, trace: Any) -> Any:
    from node.sim import SimConfig

    byzantine = {}
    for item in args.byzantine:
        name, sep, behaviour = item.partition("=")
        if not sep:
            raise SystemExit(f"--byzantine {item}: write NAME=BEHAVIOUR")
        byzantine[name] = behaviour
    return SimConfig(nodes=args.nodes, seed=seed, duration_ms=args.duration_ms,
                     tx_rate=args.tx_rate, faults=args.faults, faulty=args.faulty,
                     byzantine=byzantine, allow_unsafe=args.allow_unsafe,
                     quorum_override=args.quorum_override,
                     liveness_bound_ms=args.liveness_bound_ms, trace=trace,
                     timeline=args.timeline)


def cmd_sim(args: argparse.Namespace) -> None:
    from node.sim import format_line, format_result, run

    started = time.monotonic()
    seeds = list(range(args.seed, args.seed + args.seeds)) if args.seeds else [args.seed]
    trace = open(args.trace, "w", encoding="utf-8") if args.trace else None  # noqa: SIM115
    failed = []
    results = []
    try:
        for seed in seeds:
            try:
                result = run(_config(args, seed, trace))
            except ValueError as error:
                raise SystemExit(f"stoledger sim: {error}") from None
            results.append(result)
            if not result.ok:
                failed.append(result)
            if args.json:
                continue
            print(format_line(result) if args.seeds else format_result(result), flush=True)
    finally:
        if trace is not None:
            trace.close()
    if args.json:
        payload = [r.to_json() for r in results]
        print(json.dumps(payload if args.seeds else payload[0], indent=2, sort_keys=True))
    elif args.seeds:
        print(f"{len(seeds)} seeds: {sum(not r.safety_ok for r in results)} with safety "
              f"violations, {sum(r.liveness_checked and not r.liveness_ok for r in results)} "
              "with liveness failures")
        for result in failed:
            print(f"FAILED seed {result.config.seed}: {result.config.command()}")
    print(f"({time.monotonic() - started:.1f} s real time)", file=sys.stderr)
    if failed:
        raise SystemExit(1)
