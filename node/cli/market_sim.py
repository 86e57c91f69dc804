"""`stoledger market-sim`: the seeded market generator (node.surveillance.generator) against the
surveillance rules S1-S14.

    stoledger market-sim                          seed 1, the simple plant of every rule
    stoledger market-sim --plant evasive          the variations of issue 30 (evasions)
    stoledger market-sim --seeds 20 --plant both  seeds 1..20, simple then evasive, one table
    stoledger market-sim --plant none             a clean market: what honest traders raise
    stoledger market-sim --plant S1,S4.slow --honest-alerts  show the alerts on honest accounts

Per rule it prints the planted cases and how many were caught (an alert of that rule naming
only the case's accounts), the simple plants and the evasive ones apart, the alerts naming an
honest account (the look-alikes included) and those per 10,000 honest orders. Other alerts (a
rule firing on another rule's manipulators) are counted apart.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "market-sim", help="a seeded market with planted manipulations, scored against S1-S14",
        description="Drive the real market contract in an in-memory executor with honest "
                    "traders, their look-alikes and, by flag, planted manipulations (the "
                    "simple form of each rule S1-S14, or the evasions of issue 30), then print "
                    "per rule what surveillance caught, missed, and raised on honest accounts. "
                    "The same seed gives the same market, order for order.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1, help="first seed (default %(default)s)")
    parser.add_argument("--seeds", type=int, default=1, help="how many seeds (default "
                        "%(default)s)")
    parser.add_argument("--days", type=int, default=3, help="trading days, the first without "
                        "plants (default %(default)s)")
    parser.add_argument("--accounts", type=int, default=300, help="honest accounts (default "
                        "%(default)s)")
    parser.add_argument("--orders", type=int, default=9_000, help="honest orders per run "
                        "(default %(default)s)")
    parser.add_argument("--plant", default="simple", help="simple, evasive, both (a run of "
                        "each per seed), none, or a comma list such as S1,S4.slow (default "
                        "%(default)s)")
    parser.add_argument("--honest-alerts", action="store_true",
                        help="print every alert that names an honest account")
    parser.add_argument("--json", action="store_true", help="print the totals as JSON")
    parser.set_defaults(func=cmd_market_sim)


def plant_sets(text: str) -> list[tuple[str, ...]]:
    from node.surveillance.runs import ALL_PLANTS, EVASIVE, SIMPLE

    named = {"simple": [SIMPLE], "evasive": [EVASIVE], "both": [SIMPLE, EVASIVE],
             "none": [()]}
    if text in named:
        return named[text]
    chosen = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in chosen if name not in ALL_PLANTS]
    if unknown:
        raise SystemExit(f"unknown plants {unknown}; choose from {', '.join(ALL_PLANTS)}")
    return [chosen]


def cmd_market_sim(args: argparse.Namespace) -> None:
    from node.surveillance.generator import RULES, GeneratorConfig, RuleScore
    from node.surveillance.runs import generate

    totals = {rule: RuleScore() for rule in RULES}
    honest_orders = orders = trades = 0
    apply_seconds = surveillance_seconds = 0.0
    started = time.process_time()
    for seed in range(args.seed, args.seed + args.seeds):
        for plants in plant_sets(args.plant):
            report = generate(GeneratorConfig(seed=seed, days=args.days,
                                              honest_accounts=args.accounts,
                                              honest_orders=args.orders, plant=plants))
            honest_orders += report.honest_orders
            apply_seconds += report.apply_seconds
            surveillance_seconds += report.surveillance_seconds
            orders += report.orders
            trades += report.trades
            missed = [f"{case.rule}.{case.variant}" for case in report.cases
                      if not case.caught]
            print(f"seed {seed}: {report.orders} orders ({report.honest_orders} honest), "
                  f"{report.trades} trades, {report.alerts} alerts, {len(report.cases)} "
                  f"plants" + (f"; missed {' '.join(missed)}" if missed else ""), flush=True)
            for rule, score in report.rules.items():
                total = totals[rule]
                for name in vars(score):
                    setattr(total, name, getattr(total, name) + getattr(score, name))
            if args.honest_alerts:
                for alert in report.honest_examples:
                    print(f"  honest alert {alert['rule']} {alert['symbol']}: "
                          f"{alert['explanation']}")
    rows = [row(rule, total, honest_orders) for rule, total in totals.items()]
    if args.json:
        print(json.dumps({"seeds": args.seeds, "honest_orders": honest_orders,
                          "orders": orders, "trades": trades, "rules": rows,
                          "apply_seconds": apply_seconds,
                          "surveillance_seconds": surveillance_seconds}, indent=2))
        return
    from node.cli.common import table

    print(f"\n{args.seeds} seed(s) from {args.seed}: {orders} orders ({honest_orders} honest), "
          f"{trades} trades, {time.process_time() - started:.0f} s CPU")
    if orders:
        print(f"applying blocks: {apply_seconds * 1e6 / orders:.0f} us CPU per order, of which "
              f"surveillance {surveillance_seconds * 1e6 / orders:.0f} us "
              f"({100 * surveillance_seconds / max(apply_seconds, 1e-9):.1f}%)")
    print(table(rows, ["rule", "simple", "simple_recall", "evasive", "evasive_recall",
                       "honest_alerts", "per_10k_honest_orders", "other_alerts"]))


def row(rule: str, total: Any, honest_orders: int) -> dict[str, Any]:
    def recall(caught: int, planted: int) -> str:
        return f"{caught / planted:.2f}" if planted else "-"

    rate = total.honest_alerts * 10_000 / honest_orders if honest_orders else 0.0
    return {"rule": rule, "simple": f"{total.caught}/{total.planted}",
            "simple_recall": recall(total.caught, total.planted),
            "evasive": f"{total.evasive_caught}/{total.evasive_planted}",
            "evasive_recall": recall(total.evasive_caught, total.evasive_planted),
            "honest_alerts": total.honest_alerts, "per_10k_honest_orders": f"{rate:.2f}",
            "other_alerts": total.other_alerts}
