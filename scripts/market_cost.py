#!/usr/bin/env python3
"""What an order costs to execute, against a transfer, in process (no cluster, no network).

The real executor and contracts (node.surveillance.world.MarketWorld over a LevelDB store in a
temporary folder, with the surveillance and audit indexers a node runs) apply blocks of the
bench's two workloads in turn: `--block` transfers (investor i sends 1 unit to investor i+1,
node/bench/load.py), then `--block` orders (node/bench/market.py's stream: sells of 1 unit by
one half of the investors, buys of 1 unit by the other half, all at 1 KRW, so every buy meets a
resting sell). Signatures are checked at admission in a node, so not here; everything else a
node does to apply a block is (execution, receipts, app hash, indexers, the batch).

Prints JSON: the CPU µs (this thread) per transfer and per order of applying blocks (median
over `--rounds` blocks of each), `verify_us` (one Ed25519 verification, node/bench/measure.py),
both costs in verifications, and their quotient `order_over_transfer`. Use it under py-spy to
see where an order's time goes:

    python scripts/market_cost.py --rounds 20
    py-spy record -r 400 -f raw -o order.txt -- python scripts/market_cost.py --only orders
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from node.bench.market import order_args
from node.bench.measure import measure_verify_us
from node.ledger.audit import audit_indexer
from node.storage.kv import LevelDB
from node.surveillance.world import MarketWorld

SYMBOL = "BENCH1"
UNITS = 1_000_000
CASH = 10**12
T0 = 1_767_225_600_000  # 2026-01-01 UTC


def build(accounts: int, folder: str) -> tuple[MarketWorld, list[str]]:
    world = MarketWorld({}, T0, store=LevelDB(folder), indexers=[audit_indexer])
    names = [f"investor-{index}" for index in range(accounts)]
    world.register(names, "broker-a", T0)
    world.create_token(SYMBOL, "issuer-1", 1, accounts * UNITS, T0)
    world.fund(names, {SYMBOL: "issuer-1"}, UNITS, CASH, T0)
    return world, names


def transfer_block(world: MarketWorld, names: list[str], start: int, size: int) -> None:
    for index in range(start, start + size):
        sender, to = names[index % len(names)], names[(index + 1) % len(names)]
        world.send(sender, "token", "transfer", symbol=SYMBOL, to=world.account(to), amount=1)


def order_block(world: MarketWorld, accounts: list[str], start: int, size: int) -> None:
    for index in range(start, start + size):
        world.send("broker-a", "market", "place", **order_args(accounts, index))


def timed_commit(world: MarketWorld, now: int) -> float:
    started = time.thread_time()
    receipts = world.commit(now)
    seconds = time.thread_time() - started
    world.check(receipts)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--block", type=int, default=500, help="transactions per block")
    parser.add_argument("--rounds", type=int, default=10, help="blocks of each workload")
    parser.add_argument("--only", choices=("orders", "transfers"),
                        help="apply only this workload (to profile it)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="market-cost-") as folder:
        return run(args, folder)


def run(args: argparse.Namespace, folder: str) -> int:
    world, names = build(args.accounts, folder)
    accounts = [world.account(name) for name in names]
    now = T0 + 1_000
    costs: dict[str, list[float]] = {"transfers": [], "orders": []}
    for round_number in range(args.rounds):
        start = round_number * args.block
        for kind in ("transfers", "orders"):
            if args.only not in (None, kind):
                continue
            if kind == "transfers":
                transfer_block(world, names, start, args.block)
            else:
                order_block(world, accounts, start, args.block)
            now += 1_000
            costs[kind].append(timed_commit(world, now) / args.block * 1e6)
    verify_us = measure_verify_us()
    result: dict[str, float | int] = {"verify_us": verify_us, "block": args.block,
                                      "rounds": args.rounds}
    for kind, values in costs.items():
        if values:
            median = statistics.median(values)
            result[f"{kind}_us"] = round(median, 1)
            result[f"{kind}_verifications"] = round(median / verify_us, 2)
    if costs["transfers"] and costs["orders"]:
        result["order_over_transfer"] = round(result["orders_us"] / result["transfers_us"], 2)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
