"""`stoledger bench --workload market`: orders that cross, instead of transfers.

What differs from the transfer workload (node/bench/__init__.py runs both the same way):
- Setup, not timed: the transfer setup (`--accounts` professional investors registered by
  broker-a and broker-b in turn, node/bench/setup.py `registrar`; the token BENCH1 at unit
  price 1 KRW, units issued to each), then the bank mints KRW to every investor so that each
  can pay for its buys.
- The load: pre-signed `market.place` orders, each sent by the broker that registered its
  investor (an order is always a broker's transaction, and the market's real shape is brokers
  sending for their clients: the pool sees two senders, as offering.py's subscriptions do, not
  one sender holding the whole stream, which a node's per-sender fair share would throttle).
  The investors are split in two halves that never meet themselves: order k is a sell of 1
  unit by seller k/2 when k is even, a buy of 1 unit by buyer k/2 when k is odd
  (`order_party`), all at 1 KRW (the only price inside the +-30% band around a unit price of
  1). Each half holds investors of both brokers, and a batch of the load carries as many
  orders of one broker as of the other (give or take one). Whatever order the blocks put them
  in, each buy meets a resting sell or rests until one comes: in a drained run the trades are
  min(sells, buys) less what rests. No order can self-trade (halves are disjoint), and no
  transfer rule can refuse a fill. The batches, their size, pacing and the round-robin over
  the entry nodes are the transfer point's (node/bench/load.py: the same `run_point`).
- The point's figures are the transfer workload's: `committed_tps` counts committed orders
  (transactions); plus `trades_tps`, the `Trade` events of the blocks inside the timed window
  per second, and `trades`, all the run's trades.
- What surveillance costs (issue 16: under 10 % of a node's CPU per order). Each node's
  `/metrics` is read at both ends of the timed window, next to its CPU (node.metrics: the
  surveillance indexer's own CPU time on its thread and the orders it read; its `Meter`).
  `surveillance_cpu_us_per_order` is, per node, the surveillance CPU over the window divided by
  the orders surveillance read in it, in µs, averaged over the nodes; `cpu_us_per_order_node`
  is a node's whole CPU per committed order (the same figure as `cpu_us_per_tx_node`: every
  transaction is an order); `surveillance_share` is, per node, the surveillance CPU over the
  window divided by the node's whole CPU over the same window, averaged over the nodes. The
  share is close to the quotient of the two per-order figures but not computed from it: those
  divide by different counts (orders read by each node's surveillance between the two reads,
  orders of the blocks whose event reached the bench inside the window), and a quotient would
  mix the two windows' edges. None when the nodes expose no surveillance counters.
- Against transfers (`--workload both`): at each rate a transfer point runs first, then the
  market point on the same cluster, minutes apart, so that both see the same machine (a shared
  one's absolute figures drift; their quotient much less). The market point then says
  `transfer_tps` (the transfer point's committed tx/s), `orders_per_transfer` (committed
  orders/s over it: issue 29 asks >= 0.5 at `--rate 0`) and `order_cost_in_transfers` (a node's
  CPU per order over its CPU per transfer, both per committed transaction).
- Honesty: every admitted order's receipt is checked (lost, duplicated, failed = ok false;
  here none may fail), the trades counted in the blocks must equal the increase of the
  contract's own trade counter (`market.quote`), and `GET /v1/audit/supply` must reconcile at
  the end; a mismatch is reported in `problems`, and the bench exits 1.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from dataclasses import dataclass, field
from typing import Any

from consensus import codec
from consensus.crypto import TX_DOMAIN, Signer
from node.bench.config import EXPIRY_MS, PRESIGN_CHUNK, SYMBOL, Point
from node.bench.load import envelope
from node.bench.measure import SurveillanceCost
from node.tools.client import market_origin

CASH_PER_ACCOUNT = 10**12  # KRW minted to each investor; a buy of 1 unit escrows 1 KRW
PRICE = 1  # KRW; BENCH1's unit price is 1, so the band allows 1 only


@dataclass
class MarketPoint(Point):
    workload: str = "market"
    trades: int = 0  # Trade events in the run's blocks
    trades_tps: float = 0.0  # Trade events of the blocks inside the timed window, per second
    problems: list[str] = field(default_factory=list)
    cpu_us_per_order_node: float = 0.0  # = cpu_us_per_tx_node: every transaction is an order
    surveillance_cpu_us_per_order: float | None = None  # mean over the nodes, in µs
    surveillance_share: float | None = None  # of a node's CPU over the window, mean over nodes
    transfer_tps: float | None = None  # --workload both: the paired transfer point's rate
    orders_per_transfer: float | None = None  # committed orders/s over transfer_tps
    order_cost_in_transfers: float | None = None  # CPU per order over CPU per transfer


def compare_to_transfers(orders: MarketPoint, transfers: Point) -> MarketPoint:
    """`orders` with the figures relative to the transfer point measured just before it."""
    orders.transfer_tps = transfers.committed_tps
    if transfers.committed_tps:
        orders.orders_per_transfer = round(orders.committed_tps / transfers.committed_tps, 3)
    if transfers.cpu_us_per_tx_node:
        orders.order_cost_in_transfers = round(
            orders.cpu_us_per_tx_node / transfers.cpu_us_per_tx_node, 2)
    return orders


class MarketWorkload:
    name = "orders"

    def __init__(self) -> None:
        self.trades_before = 0

    def prepare(self, bench: Any, accounts: int) -> None:
        from genesis.builder import load_keyfile

        if accounts < 2:
            raise ValueError("the market workload needs at least 2 accounts (sellers, buyers)")
        bench.prepare(accounts)
        bank = load_keyfile(str(bench.dir / "keys" / "bank.json"))
        accounts_hex = [Signer(seed).account for seed in bench.seeds]
        bench.progress(f"setup: the bank mints {CASH_PER_ACCOUNT:,} KRW to each investor")
        bench.submit_and_wait(bank, [("cash", "mint", {"to": account,
                                                       "amount": CASH_PER_ACCOUNT})
                                     for account in accounts_hex])

    def presign(self, bench: Any, count: int, nonce_base: int) -> list[tuple[bytes, bytes]]:
        accounts = [Signer(seed).account for seed in bench.seeds]
        expires = int(time.time() * 1000) + EXPIRY_MS
        brokers = [bench.key(org).seed for org in bench.brokers]
        jobs = [(bench.chain_id, brokers, accounts, nonce_base, start,
                 min(PRESIGN_CHUNK, count - start), expires)
                for start in range(0, count, PRESIGN_CHUNK)]
        context = multiprocessing.get_context("spawn")
        with context.Pool(max(1, os.cpu_count() or 1)) as pool:
            chunks = pool.map(sign_orders, jobs)
        return [item for chunk in chunks for item in chunk]

    def before(self, bench: Any) -> None:
        self.trades_before = _trade_counter(bench)

    def finish(self, bench: Any, point: Point, start_height: int, stop_height: int,
               window_heights: set[int], surveillance: SurveillanceCost) -> MarketPoint:
        trades = _trades_per_block(bench, start_height, stop_height)
        in_window = sum(count for height, count in trades.items() if height in window_heights)
        total = sum(trades.values())
        problems = []
        counter = _trade_counter(bench) - self.trades_before
        if counter != total:
            problems.append(f"trades in the blocks {total} != market.quote's counter {counter}")
        if point.failed:
            problems.append(f"{point.failed} orders committed with ok=false")
        status, supply = bench.http.request("GET", f"/v1/audit/supply?symbol={SYMBOL}",
                                            signer=bench.keys["fss"])
        if status != 200 or not supply.get("reconciles"):
            problems.append(f"/v1/audit/supply does not reconcile: {status} {supply}")
        return MarketPoint(**point.__dict__, trades=total,
                           trades_tps=round(in_window / point.duration_s, 1),
                           problems=problems,
                           cpu_us_per_order_node=point.cpu_us_per_tx_node,
                           surveillance_cpu_us_per_order=surveillance.cpu_us_per_order,
                           surveillance_share=surveillance.share)


def order_party(accounts: int, index: int) -> int:
    """The investor (an index into the accounts) of order `index`: even orders are sells by
    the first half, odd ones buys by the second half, so no order meets its own account."""
    half = accounts // 2
    pair = index // 2
    return pair % half if index % 2 == 0 else half + pair % (accounts - half)


def order_args(accounts: list[str], index: int) -> dict[str, Any]:
    """Order `index` of the stream: even a sell by a seller, odd a buy by a buyer."""
    account = accounts[order_party(len(accounts), index)]
    return {"symbol": SYMBOL, "account": account, "side": "sell" if index % 2 == 0 else "buy",
            "price": PRICE, "qty": 1, "media": "api",
            "origin": market_origin("198.51.100.10", account[:16])}


def sign_orders(job: tuple[str, list[bytes], list[str], int, int, int, int]
                ) -> list[tuple[bytes, bytes]]:
    """Orders start..start+count, each signed by its investor's broker (`brokers[i]` is the
    seed of the broker that registered `accounts[i]`)."""
    chain, brokers, accounts, nonce_base, start, count, expires = job
    signers = {seed: Signer(seed) for seed in set(brokers)}
    out = []
    for index in range(start, start + count):
        broker = signers[brokers[order_party(len(accounts), index)]]
        body = codec.pack({"v": 1, "chain": chain, "sender": broker.public_key,
                           "nonce": nonce_base + index, "expires": expires,
                           "contract": "market", "method": "place",
                           "args": order_args(accounts, index)})
        out.append((codec.sha256(body), envelope(body, broker.sign(TX_DOMAIN, body))))
    return out


def _trades_per_block(bench: Any, start: int, stop: int) -> dict[int, int]:
    """height -> Trade events in the receipts of that block, for blocks start..stop."""
    found: dict[int, int] = {}
    for block in bench.blocks(start, stop):
        found[block["header"]["height"]] = sum(
            1 for receipt in block["receipts"] for event in receipt.get("events", [])
            if event.get("contract") == "market" and event.get("name") == "Trade")
    return found


def _trade_counter(bench: Any) -> int:
    status, answer = bench.http.request("POST", "/v1/query", codec.pack(
        {"contract": "market", "method": "quote", "args": {"symbol": SYMBOL}}),
        bench.keys["fss"])
    if status != 200:
        raise RuntimeError(f"market.quote: {status} {answer}")
    return int(answer["result"]["trades"])


__all__ = ["MarketPoint", "MarketWorkload", "compare_to_transfers", "order_args",
           "order_party", "sign_orders"]
