"""`stoledger bench --workload offering --in-process --accounts N`: an offering of N subscribers
allocated by the chaincode alone, to show that its transactions stay bounded however many
subscribe (100,000 here takes minutes, a real cluster's setup of them far longer).

The same contracts as a node (chaincode.builtin_registry), run the way the executor runs them:
each block's begin-block hooks, then its transactions through `Registry.execute` over one block
overlay, the block's writes committed to an in-memory state whose keys are kept sorted, so that
a range costs the keys it yields, as a LevelDB iterator does (chaincode.runtime.MemoryState
scans every key on every range: fine for tests, not for a million keys). No consensus, no
signatures checked by a node (the registrations' consent signatures are, by the identity
contract), no store: what this measures is the chaincode's own work.

Setup: N investors registered by two brokers (in blocks of SETUP_BLOCK transactions), funded,
an offering of 2 x N units at 1 KRW with asks 1..8 (about 2.25 times oversubscribed); then
`allocate(offering, max_steps)` one transaction a block until done. Reported per allocate
transaction: its writes and events (bounded by max_steps whatever N is) and its thread CPU
time; in all: the transactions, `us_per_subscriber` (allocation CPU over N) and that over
`verify_us`, and whether every subscription settled and every unit was allocated.
"""

from __future__ import annotations

import bisect
import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import chaincode
from chaincode.identity import sign_consent
from chaincode.runtime import Outcome, Overlay
from consensus.crypto import Signer
from node.bench.measure import measure_verify_us
from node.bench.offering import ALLOCATE_STEPS, MAX_ASK, SYMBOL, ask_of

SETUP_BLOCK = 1_000  # setup transactions a block
BLOCK_MS = 1_000
CHAIN = "stoledger-offering-scale"
ORGS = (("ksd", "registrar"), ("broker-a", "broker"), ("broker-b", "broker"),
        ("bank", "bank"), ("issuer-1", "issuer"), ("tax", "tax"), ("fss", "regulator"))


@dataclass
class ScalePoint:
    subscribers: int
    max_steps: int
    verify_us: float
    setup_seconds: float = 0.0
    allocate_txs: int = 0
    allocate_seconds: float = 0.0
    max_writes_per_tx: int = 0
    max_events_per_tx: int = 0
    mean_ms_per_tx: float = 0.0
    max_ms_per_tx: float = 0.0
    us_per_subscriber: float = 0.0
    verifications_per_subscriber: float = 0.0
    allocated_qty: int = 0
    workload: str = "offering-in-process"
    lost: int = 0  # for bench.main's exit status: nothing is sent, nothing can be lost
    duplicated: int = 0
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def format(self) -> str:
        return (f"in process: {self.subscribers:,} subscribers allocated in "
                f"{self.allocate_txs} transactions of max_steps {self.max_steps} "
                f"({self.allocate_seconds:.1f} s; per transaction at most "
                f"{self.max_writes_per_tx:,} writes, {self.max_events_per_tx:,} events, "
                f"{self.max_ms_per_tx:,.0f} ms, mean {self.mean_ms_per_tx:,.0f} ms); "
                f"{self.us_per_subscriber:,.0f} us/subscriber = "
                f"{self.verifications_per_subscriber} verifications (verify "
                f"{self.verify_us} us); setup {self.setup_seconds:.0f} s"
                + "".join(f"\n  PROBLEM: {problem}" for problem in self.problems))


class SortedState:
    """Committed state (full key -> bytes) with its keys sorted: a chaincode StateReader."""

    def __init__(self, values: dict[str, bytes]) -> None:
        self.values = dict(values)
        self.keys = sorted(self.values)

    def get(self, key: str) -> bytes | None:
        return self.values.get(key)

    def range(self, prefix: str, start: str = "") -> Iterator[tuple[str, bytes]]:
        index = bisect.bisect_left(self.keys, max(prefix, start))
        while index < len(self.keys) and self.keys[index].startswith(prefix):
            key = self.keys[index]
            index += 1
            yield key, self.values[key]

    def commit(self, writes: dict[str, bytes | None]) -> None:
        for key, value in writes.items():
            if value is None:
                if self.values.pop(key, None) is not None:
                    del self.keys[bisect.bisect_left(self.keys, key)]
            else:
                if key not in self.values:
                    bisect.insort(self.keys, key)
                self.values[key] = value


class Chain:
    """Blocks of transactions on the real chaincode over an in-memory state."""

    def __init__(self) -> None:
        self.registry = chaincode.builtin_registry()
        self.signers = {name: Signer(hashlib.sha256(name.encode()).digest())
                        for name, _ in ORGS}
        orgs = [{"name": name, "role": role, "account": self.signers[name].account}
                for name, role in ORGS]
        self.state = SortedState(chaincode.genesis_state(orgs))
        self.height = 1
        self.time = int(time.time() * 1000)
        self.seq = 0

    def block(self, txs: list[tuple[str, str, str, dict[str, Any]]]) -> list[Outcome]:
        overlay = Overlay(self.state)
        hooks = self.registry.begin_block(overlay, self.height, self.time, CHAIN)
        assert all(outcome.ok for outcome in hooks), hooks
        outcomes = []
        for sender, contract, method, args in txs:
            self.seq += 1
            tx_id = hashlib.sha256(f"tx-{self.seq}".encode()).hexdigest()
            outcomes.append(self.registry.execute(overlay, sender, tx_id, self.height,
                                                  self.time, contract, method, args, CHAIN))
        self.state.commit(overlay.writes)
        self.height += 1
        self.time += BLOCK_MS
        return outcomes

    def run(self, txs: list[tuple[str, str, str, dict[str, Any]]]) -> None:
        for start in range(0, len(txs), SETUP_BLOCK):
            for outcome in self.block(txs[start:start + SETUP_BLOCK]):
                if not outcome.ok:
                    raise RuntimeError(f"setup transaction refused: {outcome.error}")

    def org(self, name: str) -> str:
        return self.signers[name].account


def run_scale(subscribers: int, progress: Callable[[str], None],
              max_steps: int = ALLOCATE_STEPS) -> ScalePoint:
    if subscribers < 2:
        raise ValueError("an offering workload needs at least 2 subscribers")
    point = ScalePoint(subscribers=subscribers, max_steps=max_steps,
                       verify_us=measure_verify_us())
    started = time.monotonic()
    chain, offering_id = setup(subscribers, progress)
    point.setup_seconds = round(time.monotonic() - started, 1)
    progress(f"allocating {subscribers:,} subscribers, {max_steps} steps a transaction")
    durations = []
    cpu_started = time.thread_time()
    wall_started = time.monotonic()
    while True:
        tx_started = time.thread_time()
        [outcome] = chain.block([(chain.org("issuer-1"), "offering", "allocate",
                                  {"offering_id": offering_id, "max_steps": max_steps})])
        durations.append(time.thread_time() - tx_started)
        if not outcome.ok:
            point.problems.append(f"allocate refused: {outcome.error}")
            break
        point.allocate_txs += 1
        point.max_writes_per_tx = max(point.max_writes_per_tx, len(outcome.writes))
        point.max_events_per_tx = max(point.max_events_per_tx, len(outcome.events))
        if point.allocate_txs % 50 == 0:
            progress(f"allocate {point.allocate_txs}: {outcome.result['subscribers']:,} "
                     "settled")
        if outcome.result["done"]:
            point.allocated_qty = int(outcome.result["allocated_qty"])
            break
    cpu = time.thread_time() - cpu_started
    point.allocate_seconds = round(time.monotonic() - wall_started, 1)
    point.mean_ms_per_tx = round(sum(durations) / len(durations) * 1e3, 1)
    point.max_ms_per_tx = round(max(durations) * 1e3, 1)
    point.us_per_subscriber = round(cpu / subscribers * 1e6, 1)
    point.verifications_per_subscriber = round(point.us_per_subscriber / point.verify_us, 2)
    offering = chain.registry.query(chain.state, chain.org("fss"), chain.height - 1,
                                    chain.time, "offering", "get",
                                    {"offering_id": offering_id})
    if (offering["status"], offering["settled"], offering["allocated_qty"]) != (
            "allocated", subscribers, 2 * subscribers):
        point.problems.append(f"the offering ended {offering}")
    return point


def setup(subscribers: int, progress: Callable[[str], None]) -> tuple[Chain, int]:
    chain = Chain()
    progress(f"setup: 2 brokers register {subscribers:,} investors, the bank funds them")
    investors = [Signer(hashlib.sha256(f"subscriber-{i}".encode()).digest())
                 for i in range(subscribers)]
    brokers = ("broker-a", "broker-b")
    attrs = {"investor_type": "general", "legal_form": "individual", "country": "KR",
             "resident": True, "kyc_expires": chain.time + 365 * 86_400_000,
             "aml_risk": "low"}
    chain.run([(chain.org(brokers[i % 2]), "identity", "register", {
        "account": s.account, "role": "investor", "attrs": attrs,
        "consent": sign_consent(s, CHAIN, chain.org(brokers[i % 2]), "investor")})
        for i, s in enumerate(investors)])
    chain.run([(chain.org("bank"), "cash", "mint", {"to": s.account, "amount": 1_000})
               for s in investors])
    issuer = chain.org("issuer-1")
    qty = 2 * subscribers
    chain.run([(issuer, "token", "create", {
        "symbol": SYMBOL, "name": "scale", "asset_type": "other", "unit_price": 1,
        "max_supply": qty, "rules": {}}),
        (issuer, "token", "set_document", {"symbol": SYMBOL, "name": "prospectus",
                                           "uri": "https://example.invalid/s.pdf",
                                           "sha256": "00" * 32}),
        (chain.org("ksd"), "token", "approve", {"symbol": SYMBOL, "cap": qty}),
        (issuer, "offering", "open", {"symbol": SYMBOL, "price": 1, "qty": qty,
                                      "start_time": chain.time,
                                      "end_time": chain.time + 10**9, "min_qty": 1,
                                      "max_qty": MAX_ASK, "equal_bps": 5_000})])
    progress(f"setup: {subscribers:,} subscriptions through the two brokers")
    chain.run([(chain.org(brokers[i % 2]), "offering", "subscribe",
                {"offering_id": 1, "account": s.account, "qty": ask_of(i)})
               for i, s in enumerate(investors)])
    chain.time += 10**9  # past the window's end
    return chain, 1


__all__ = ["ScalePoint", "run_scale"]
