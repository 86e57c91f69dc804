"""`stoledger bench --workload offering`: N subscribers subscribing through two brokers, then the
offering's allocation, on a real cluster.

How a run works:
1. Setup, not timed: broker-a registers the first half of `--accounts` investors and broker-b
   the other half (general investors in KR); the bank mints KRW to each; issuer-1 creates
   OFFER1 (unit price 1 KRW), files its prospectus, ksd approves the cap, and issuer-1 opens
   one offering of 2 x N units at 1 KRW, asks 1..8 units a subscriber (so about 2.25 times
   oversubscribed), half shared equally, its window `--duration` seconds from the open.
2. Subscriptions, timed: one pre-signed `offering.subscribe` a subscriber, each sent by the
   subscriber's broker (so the pool sees two senders, as it would), posted in msgpack batches
   round-robin over the nodes with at most `--window` admitted and uncommitted, refused ones
   (`mempool_full`) offered again. `subscriptions_tps` = N / (arrival of the block event of
   the last subscription at the first node - the first send); every admitted subscription's
   receipt is checked (lost, duplicated, failed). `cpu_us_per_subscription_node`: the nodes'
   mean CPU over the phase per subscription, with its ratio to `verify_us`.
3. Allocation, timed apart: once the window has closed, issuer-1 sends `allocate(offering,
   1000)` one transaction at a time (each waits for its commit) until `done`. Reported: the
   allocate transactions, their wall time, and `allocate_cpu_us_per_subscriber_node` (the
   nodes' mean CPU over the phase divided by N) with `allocate_verifications_per_subscriber`
   (that over `verify_us`: what allocating one subscriber costs a node, in signature checks).
4. Honesty: the offering must end `allocated` with every subscription settled and every unit
   allocated, and `/v1/audit/supply` must reconcile; any mismatch goes to `problems` and the
   bench exits 1.

The in-process variant (`--in-process`, offering_scale.py) runs an offering of `--accounts`
subscribers on the chaincode alone, to show how allocation's transactions stay bounded at
100,000 subscribers without a cluster's setup time.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chaincode.identity import sign_consent
from consensus import codec
from consensus.crypto import TX_DOMAIN, Signer
from node.bench.config import EXPIRY_MS, Options
from node.bench.load import Http, envelope, pack_batch
from node.bench.measure import check_receipts, measure_verify_us
from node.bench.setup import Bench, BlockWatcher, cluster_for

SYMBOL = "OFFER1"
MAX_ASK = 8  # units a subscriber asks: 1..8, by its index
BATCH = 500  # subscriptions a POST /v1/txs
REFUSED_PAUSE_S = 0.2
ALLOCATE_STEPS = 1_000  # the contract's most per transaction
CASH_PER_ACCOUNT = 1_000  # KRW: more than any ask at 1 KRW a unit


@dataclass
class OfferingPoint:
    nodes: int
    subscribers: int
    brokers: int
    verify_us: float
    subscriptions_tps: float = 0.0
    subscribe_seconds: float = 0.0
    cpu_us_per_subscription_node: float = 0.0
    subscription_verify_ratio: float = 0.0  # cpu_us_per_subscription_node / verify_us
    refused: int = 0  # mempool_full answers, offered again
    lost: int = 0
    duplicated: int = 0
    failed: int = 0
    allocate_txs: int = 0
    allocate_seconds: float = 0.0
    allocate_cpu_us_per_subscriber_node: float = 0.0
    allocate_verifications_per_subscriber: float = 0.0
    allocated_qty: int = 0
    workload: str = "offering"
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def format(self) -> str:
        return (f"{self.nodes} nodes  {self.subscribers:,} subscribers via {self.brokers} "
                f"brokers  subscriptions {self.subscriptions_tps:,.0f}/s committed "
                f"({self.subscribe_seconds:.1f} s)  cpu/subscription/node "
                f"{self.cpu_us_per_subscription_node:,.0f} us (ratio "
                f"{self.subscription_verify_ratio})  allocation {self.allocate_txs} txs in "
                f"{self.allocate_seconds:.1f} s, {self.allocate_cpu_us_per_subscriber_node:,.0f}"
                f" us/subscriber/node = {self.allocate_verifications_per_subscriber} "
                f"verifications  verify {self.verify_us} us  lost {self.lost}  duplicated "
                f"{self.duplicated}  failed {self.failed}  refused {self.refused}"
                + "".join(f"\n  PROBLEM: {problem}" for problem in self.problems))


def ask_of(index: int) -> int:
    return 1 + index % MAX_ASK


def run_offering(options: Options, emit: Callable[[Any], None],
                 progress: Callable[[str], None]) -> list[Any]:
    points = []
    for nodes in [None] if options.directory else list(options.nodes):
        with cluster_for(options, nodes, progress) as bench:
            point = measure(bench, options, progress)
            points.append(point)
            emit(point)
    return points


def measure(bench: Bench, options: Options, progress: Callable[[str], None]) -> OfferingPoint:
    if options.accounts < 2:
        raise ValueError("the offering workload needs at least 2 subscribers")
    verify_us = measure_verify_us()
    brokers = [bench.key("broker-a"), bench.key("broker-b")]
    subscribers = setup(bench, options, brokers, progress)
    offering_id, end_time = open_offering(bench, options, len(subscribers))
    signed = presign(bench, offering_id, subscribers, brokers)
    point = OfferingPoint(nodes=len(bench.urls), subscribers=len(subscribers),
                          brokers=len(brokers), verify_us=verify_us)
    subscribe_phase(bench, options, signed, point, progress)
    progress(f"waiting for the window to close ({max(0, end_time / 1000 - time.time()):.0f} s)")
    while time.time() * 1000 < end_time + 500:  # a tool waits for the chain's clock
        time.sleep(0.2)
    allocate_phase(bench, offering_id, point, progress)
    check(bench, offering_id, point)
    point.verify_us = min(verify_us, measure_verify_us())
    point.subscription_verify_ratio = round(point.cpu_us_per_subscription_node
                                            / point.verify_us, 2)
    point.allocate_verifications_per_subscriber = round(
        point.allocate_cpu_us_per_subscriber_node / point.verify_us, 2)
    return point


def setup(bench: Bench, options: Options, brokers: list[Signer],
          progress: Callable[[str], None]) -> list[Signer]:
    count = options.accounts
    progress(f"setup: 2 brokers register {count} investors; the bank funds them; {SYMBOL}")
    subscribers = [Signer.generate() for _ in range(count)]
    attrs = {"investor_type": "general", "legal_form": "individual", "country": "KR",
             "resident": True, "kyc_expires": int(time.time() * 1000) + 365 * 86_400_000,
             "aml_risk": "low"}
    for b, broker in enumerate(brokers):
        bench.submit_and_wait(broker, [
            ("identity", "register", {
                "account": s.account, "role": "investor", "attrs": attrs,
                "consent": sign_consent(s, bench.chain_id, broker.account, "investor")})
            for i, s in enumerate(subscribers) if i % len(brokers) == b])
    bench.submit_and_wait(bench.key("bank"), [
        ("cash", "mint", {"to": s.account, "amount": CASH_PER_ACCOUNT}) for s in subscribers])
    issuer = bench.key("issuer-1")
    qty = 2 * count
    bench.submit_and_wait(issuer, [("token", "create", {
        "symbol": SYMBOL, "name": "offering benchmark units", "asset_type": "other",
        "unit_price": 1, "max_supply": qty, "rules": {}}), ("token", "set_document", {
            "symbol": SYMBOL, "name": "prospectus", "uri": "https://example.invalid/b.pdf",
            "sha256": "00" * 32})])
    bench.submit_and_wait(bench.key("ksd"), [("token", "approve", {"symbol": SYMBOL,
                                                                   "cap": qty})])
    return subscribers


def open_offering(bench: Bench, options: Options, count: int) -> tuple[int, int]:
    start = int(time.time() * 1000)
    end = start + int(options.duration_s * 1000)
    bench.submit_and_wait(bench.key("issuer-1"), [("offering", "open", {
        "symbol": SYMBOL, "price": 1, "qty": 2 * count, "start_time": start, "end_time": end,
        "min_qty": 1, "max_qty": MAX_ASK, "equal_bps": 5_000})])
    status, answer = bench.http.request("POST", "/v1/query", codec.pack(
        {"contract": "offering", "method": "offerings", "args": {"symbol": SYMBOL}}),
        bench.key("fss"))
    if status != 200:
        raise RuntimeError(f"offering.offerings: {status} {answer}")
    return int(answer["result"]["offerings"][-1]["offering_id"]), end


def presign(bench: Bench, offering_id: int, subscribers: list[Signer],
            brokers: list[Signer]) -> list[tuple[bytes, bytes]]:
    """(tx id, envelope) of each subscription, sent by the subscriber's broker."""
    expires = int(time.time() * 1000) + EXPIRY_MS
    nonce = int.from_bytes(os.urandom(4), "big") << 24
    signed = []
    for index, subscriber in enumerate(subscribers):
        broker = brokers[index % len(brokers)]
        body = codec.pack({"v": 1, "chain": bench.chain_id, "sender": broker.public_key,
                           "nonce": nonce + index, "expires": expires,
                           "contract": "offering", "method": "subscribe",
                           "args": {"offering_id": offering_id,
                                    "account": subscriber.account, "qty": ask_of(index)}})
        signed.append((codec.sha256(body), envelope(body, broker.sign(TX_DOMAIN, body))))
    return signed


def subscribe_phase(bench: Bench, options: Options, signed: list[tuple[bytes, bytes]],
                    point: OfferingPoint, progress: Callable[[str], None]) -> None:
    import multiprocessing

    counter = multiprocessing.get_context("spawn").Value("q", 0)
    watcher = BlockWatcher(bench.urls[0], bench.chain_id, counter, bench.keys["broker-a"])
    watcher.start()
    watcher.connected.wait(10)
    start_height = bench.status()["height"]
    https = [Http(url, bench.chain_id) for url in bench.urls]
    cpu_before = bench.cpu()
    started = time.monotonic()
    try:
        queue = [item for _, item in signed]
        sent = turn = 0
        deadline = started + options.duration_s + options.drain_s
        while queue or counter.value < len(signed):
            if time.monotonic() > deadline:
                point.problems.append(f"{len(signed) - counter.value} subscriptions not "
                                      "committed before the window closed")
                break
            if watcher.error is not None:
                raise RuntimeError(f"event stream: {watcher.error}")
            if not queue or sent - counter.value >= options.window:
                time.sleep(0.01)
                continue
            batch, queue = queue[:BATCH], queue[BATCH:]
            turn += 1
            status, answer = https[turn % len(https)].request("POST", "/v1/txs",
                                                              pack_batch(batch))
            refused = batch if status == 503 else [
                sent_item for sent_item, result in zip(batch, answer or [], strict=False)
                if "error" in result and result["error"]["code"] == "mempool_full"]
            if status not in (200, 503):
                raise RuntimeError(f"POST /v1/txs answered {status}: {answer}")
            sent += len(batch) - len(refused)
            point.refused += len(refused)
            queue = refused + queue
            if refused:
                time.sleep(REFUSED_PAUSE_S)
        last_block = max(watcher.arrivals.values(), default=(started, 0))[0]
        cpu = {name: value - cpu_before[name] for name, value in bench.cpu().items()}
    finally:
        watcher.stop()
        for http in https:
            http.close()
    point.subscribe_seconds = round(last_block - started, 2)
    point.subscriptions_tps = round(len(signed) / max(last_block - started, 1e-9), 1)
    point.cpu_us_per_subscription_node = round(
        sum(cpu.values()) / len(cpu) / len(signed) * 1e6, 1)
    progress(f"checking {len(signed)} subscription receipts")
    blocks = bench.fetch_blocks(start_height + 1, bench.status()["height"])
    receipts = check_receipts([tx_id for tx_id, _ in signed], blocks)
    point.lost, point.duplicated, point.failed = (receipts.lost, receipts.duplicated,
                                                  receipts.failed)
    if receipts.failed:
        point.problems.append(f"{receipts.failed} subscriptions committed with ok=false")


def allocate_phase(bench: Bench, offering_id: int, point: OfferingPoint,
                   progress: Callable[[str], None]) -> None:
    from node.tools.client import Client

    issuer = Client(bench.urls[0], bench.chain_id, bench.key("issuer-1"))
    cpu_before = bench.cpu()
    started = time.monotonic()
    while True:
        receipt = issuer.submit("offering", "allocate",
                                {"offering_id": offering_id, "max_steps": ALLOCATE_STEPS})
        if receipt.get("status") != "committed" or not receipt.get("ok"):
            point.problems.append(f"allocate: {receipt.get('status')} {receipt.get('error')}")
            return
        point.allocate_txs += 1
        result = receipt["result"]
        if point.allocate_txs % 10 == 0 or result["done"]:
            progress(f"allocate {point.allocate_txs}: {result['subscribers']:,} settled")
        if result["done"]:
            break
    point.allocate_seconds = round(time.monotonic() - started, 2)
    cpu = {name: value - cpu_before[name] for name, value in bench.cpu().items()}
    point.allocate_cpu_us_per_subscriber_node = round(
        sum(cpu.values()) / len(cpu) / point.subscribers * 1e6, 1)
    point.allocated_qty = int(result["allocated_qty"])


def check(bench: Bench, offering_id: int, point: OfferingPoint) -> None:
    status, answer = bench.http.request("POST", "/v1/query", codec.pack(
        {"contract": "offering", "method": "get", "args": {"offering_id": offering_id}}),
        bench.key("fss"))
    offering = answer["result"] if status == 200 else {}
    expected = (("status", "allocated"), ("settled", point.subscribers - point.failed),
                ("allocated_qty", 2 * point.subscribers))
    for name, value in expected:
        if offering.get(name) != value:
            point.problems.append(f"offering {name} is {offering.get(name)}, not {value}")
    status, supply = bench.http.request("GET", f"/v1/audit/supply?symbol={SYMBOL}",
                                        signer=bench.key("fss"))
    if status != 200 or not supply.get("reconciles"):
        point.problems.append(f"/v1/audit/supply does not reconcile: {status} {supply}")


def steps_of(subscribers: int, distinct_asks: int) -> int:
    """The most allocate steps an oversubscribed offering takes: eligibility, shares and
    issuing once per subscriber, one per distinct ask, fewer leftover units than
    subscribers."""
    return 4 * subscribers + distinct_asks


def bound_on_transactions(subscribers: int, distinct_asks: int, max_steps: int) -> int:
    return math.ceil(steps_of(subscribers, distinct_asks) / max_steps) + 1


__all__ = ["OfferingPoint", "bound_on_transactions", "run_offering"]
