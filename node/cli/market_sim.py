"""`stoledger market-sim`: the seeded market generator (node.surveillance.generator) against the
surveillance rules S1-S10.

    stoledger market-sim                          seed 1, every manipulation planted
    stoledger market-sim --seeds 20               seeds 1..20, one table over all of them
    stoledger market-sim --plant none --orders 20000   a clean market: what honest traders raise
    stoledger market-sim --plant S1,S4 --honest-alerts  show the alerts on honest accounts

Per rule it prints the planted cases, how many were caught (an alert of that rule naming only
the case's accounts) and missed, the alerts naming an honest account, and those per 10,000
honest orders. Other alerts (a rule firing on another rule's manipulators) are counted apart.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "market-sim", help="a seeded market with planted manipulations, scored against S1-S10",
        description="Drive the real market contract in an in-memory executor with honest "
                    "traders and, by flag, planted manipulations of each kind S1-S10, then "
                    "print per rule what surveillance caught, missed, and raised on honest "
                    "accounts. The same seed gives the same market, order for order.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1, help="first seed (default %(default)s)")
    parser.add_argument("--seeds", type=int, default=1, help="how many seeds (default "
                        "%(default)s)")
    parser.add_argument("--days", type=int, default=2, help="trading days (default "
                        "%(default)s)")
    parser.add_argument("--accounts", type=int, default=300, help="honest accounts (default "
                        "%(default)s)")
    parser.add_argument("--orders", type=int, default=6_000, help="honest orders per seed "
                        "(default %(default)s)")
    parser.add_argument("--plant", default="all", help="rules to plant: all, none, or a comma "
                        "list such as S1,S4 (default %(default)s)")
    parser.add_argument("--honest-alerts", action="store_true",
                        help="print every alert that names an honest account")
    parser.add_argument("--json", action="store_true", help="print the totals as JSON")
    parser.set_defaults(func=cmd_market_sim)


def plants(text: str) -> tuple[str, ...]:
    from node.surveillance.generator import RULES

    if text == "all":
        return RULES
    if text == "none":
        return ()
    chosen = tuple(rule.strip().upper() for rule in text.split(",") if rule.strip())
    unknown = [rule for rule in chosen if rule not in RULES]
    if unknown:
        raise SystemExit(f"unknown rules {unknown}; choose from {', '.join(RULES)}")
    return chosen


def cmd_market_sim(args: argparse.Namespace) -> None:
    from node.surveillance.generator import RULES, GeneratorConfig, RuleScore
    from node.surveillance.plants import generate

    totals = {rule: RuleScore() for rule in RULES}
    honest_orders = orders = trades = 0
    apply_seconds = surveillance_seconds = 0.0
    started = time.process_time()
    for seed in range(args.seed, args.seed + args.seeds):
        report = generate(GeneratorConfig(seed=seed, days=args.days,
                                          honest_accounts=args.accounts,
                                          honest_orders=args.orders, plant=plants(args.plant)))
        honest_orders += report.honest_orders
        apply_seconds += report.apply_seconds
        surveillance_seconds += report.surveillance_seconds
        orders += report.orders
        trades += report.trades
        missed = [f"{case.rule}:{','.join(case.names)}" for case in report.cases
                  if not case.caught]
        print(f"seed {seed}: {report.orders} orders ({report.honest_orders} honest), "
              f"{report.trades} trades, {report.alerts} alerts"
              + (f"; missed {' '.join(missed)}" if missed else ""), flush=True)
        for rule, score in report.rules.items():
            total = totals[rule]
            for name in ("planted", "caught", "missed", "honest_alerts", "other_alerts"):
                setattr(total, name, getattr(total, name) + getattr(score, name))
        if args.honest_alerts:
            for alert in report.honest_examples:
                print(f"  honest alert {alert['rule']} {alert['symbol']}: "
                      f"{alert['explanation']}")
    rows = []
    for rule, total in totals.items():
        recall = f"{total.caught / total.planted:.2f}" if total.planted else "-"
        rate = total.honest_alerts * 10_000 / honest_orders if honest_orders else 0.0
        rows.append({"rule": rule, "planted": total.planted, "caught": total.caught,
                     "missed": total.missed, "recall": recall,
                     "honest_alerts": total.honest_alerts,
                     "per_10k_honest_orders": f"{rate:.2f}",
                     "other_alerts": total.other_alerts})
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
    print(table(rows, ["rule", "planted", "caught", "missed", "recall", "honest_alerts",
                       "per_10k_honest_orders", "other_alerts"]))
