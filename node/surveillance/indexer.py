"""The surveillance indexer: committed blocks in, alerts out, in the block's own batch.

`Surveillance(store, params)` is an executor indexer (node.ledger.executor.Indexer). For each
applied block it
1. prunes what every window has outgrown, by the block's time, and finds the sessions whose
   close or opening minutes are over (S5, S14);
2. reads the block's receipts (node.surveillance.reader) into the windows (orders, trades, cash
   movements), the owner graph, the insider index and what waits for later blocks;
3. runs the rules S1-S14 (node.surveillance.rules) on what the block triggered;
4. turns their findings into alerts or new versions of open ones (node.surveillance.episodes);
5. stages every change into the block's batch, and leaves the block's alerts on
   `applied.notes["alerts"]` for the event hub.

Nothing a rule or an alert sees comes from a clock or the node's configuration beyond genesis
(and `Limits`, the same in every node's code): the alerts are a pure function of the chain.
Every collection is mirrored in the store as it changes and `load`ed back whole, and each limit
acts in the block that reaches it, so a restarted node, one that caught up by state transfer and
one that replays from genesis hold the same alerts, byte for byte, however long each has run.

Metering. `meter` counts what surveillance costs this node: the CPU time of its thread in
`__call__` (time.thread_time_ns, the one clock read here) and the blocks, orders and trades it
read. It is node-local, like the node's other metrics (`/metrics`, node.metrics): it goes into
no batch, no alert and no rule, and a restart sets it back to zero.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from chaincode.market import MARKET_DEFAULTS
from consensus import codec
from genesis.surveillance import DAY_MS, check_surveillance_params
from node.ledger.executor import AppliedBlock
from node.storage import KV, Batch
from node.storage import schema as s
from node.surveillance import rules
from node.surveillance.episodes import Episodes, compute_alert_id, read_alert
from node.surveillance.facts import BlockFacts, Judge
from node.surveillance.flows import CashFlows
from node.surveillance.orders import Orders
from node.surveillance.owners import OwnerCache, OwnerGraph, OwnerParams
from node.surveillance.pending import Insiders, Pending
from node.surveillance.reader import Reader
from node.surveillance.records import Limits
from node.surveillance.staged import Staged
from node.surveillance.tallies import Tallies
from node.surveillance.trades import Trades

ALL = "*"


@dataclass(slots=True)
class Meter:
    """What surveillance cost this node since it started (never stored or hashed)."""

    cpu_ns: int = 0  # CPU time of the applying thread inside the indexer
    blocks: int = 0
    orders: int = 0  # OrderPlaced events read
    trades: int = 0  # Trade events read

    def record(self, cpu_ns: int, facts: BlockFacts) -> None:
        self.cpu_ns += cpu_ns
        self.blocks += 1
        self.orders += len(facts.orders)
        self.trades += len(facts.trades)


def horizons(p: dict[str, dict[str, int]]) -> dict[str, int]:
    """How long each collection keeps what it holds: the longest window a rule asks of it."""
    return {
        "orders": max(p["S2"]["window_ms"] + p["S2"]["match_ms"],
                      p["S3"]["window_ms"] + p["S3"]["after_ms"], p["S10"]["window_ms"],
                      p["S13"]["window_ms"]),
        "trades": max(p["S1"]["window_ms"], p["S2"]["window_ms"], p["S4"]["window_ms"],
                      p["S5"]["closing_ms"] + DAY_MS, p["S6"]["window_ms"],
                      p["S7"]["window_ms"] + p["S7"]["dump_ms"],
                      max(p["S8"]["lookback_ms"], p["S8"]["run_up_ms"]) + p["S8"]["effect_ms"],
                      p["S12"]["window_ms"], p["S14"]["opening_ms"] + DAY_MS),
        "flows": max(p["S9"]["window_ms"], p["S9"]["slow_window_ms"]),
    }


class Surveillance:
    """An executor indexer keeping the surveillance windows and writing alerts."""

    def __init__(self, store: KV, params: dict[str, Any] | None = None,
                 limits: Limits | None = None) -> None:
        chain_params = params or {}
        self.store = store
        self.params = p = check_surveillance_params(chain_params.get("surveillance"))
        self.limits = limits = limits or Limits()
        market = dict(MARKET_DEFAULTS)
        market.update(chain_params.get("market") or {})
        self.staged = staged = Staged()
        spans = horizons(p)
        self.orders = Orders(spans["orders"], p["S13"]["window_ms"], limits, staged)
        self.trades = Trades(spans["trades"], p["S6"]["window_ms"], p["S11"]["history_days"],
                             limits, staged)
        self.flows = CashFlows(spans["flows"], limits, staged)
        owners = p["owners"]
        self.owners = OwnerGraph(OwnerParams(owners["link_window_ms"],
                                             owners["transfer_window_ms"],
                                             owners["max_transfer_partners"],
                                             owners["min_link_krw"]), limits, staged)
        self.insiders = Insiders(limits, staged)
        self.pending = Pending(p["S8"]["effect_ms"], p["S12"]["event_ms"], limits, staged)
        self.episodes = Episodes(p, limits, staged, store)
        self.reader = Reader(store, market["sessions"], self.orders, self.trades, self.flows,
                             self.owners, self.insiders, self.pending)
        self.tallies = Tallies()  # memory only: rebuilt from the windows when read
        self.load()
        self.meter = Meter()

    def load(self) -> None:
        """Rebuild the memory from the `v/` keys of the store (after a restart)."""
        raw = self.store.get(s.SURV_CLOCK)
        now = codec.unpack(raw)[0] if raw else 0
        self.orders.load(self.store, now)
        self.trades.load(self.store, now)
        self.flows.load(self.store)
        self.owners.load(self.store)
        self.insiders.load(self.store)
        self.pending.load(self.store)
        self.episodes.load(self.store)

    def __call__(self, applied: AppliedBlock, batch: Batch) -> None:
        started_ns = time.thread_time_ns()
        header = applied.block.header
        facts = BlockFacts(header.time, header.height)
        self.prune(facts)
        self.reader.read(applied, facts)
        judge = Judge(self.params, self.orders, self.trades, self.flows,
                      OwnerCache(self.owners, facts.time), self.insiders, self.pending, facts,
                      self.limits, tallies=self.tallies)
        findings = rules.run(judge)
        for event in judge.settled:
            if (event.height, event.index) in self.pending.material.get(event.symbol, {}):
                self.pending.settle(event)
        alerts = self.episodes.record(findings, facts)
        self.orders.stage()
        self.trades.stage()
        self.staged.put(s.SURV_CLOCK, codec.pack([facts.time, facts.height]))
        self.staged.flush(batch)
        applied.notes["alerts"] = alerts
        self.meter.record(time.thread_time_ns() - started_ns, facts)

    def prune(self, facts: BlockFacts) -> None:
        now = facts.time
        self.orders.prune(now)
        self.trades.prune(now)
        self.flows.prune(now)
        self.owners.prune(now)
        facts.lapsed = self.pending.prune(now)
        self.episodes.prune(now)
        opening_ms = self.params["S14"]["opening_ms"]
        for symbol in sorted(self.pending.sessions):
            check = self.pending.sessions[symbol]
            if check.opening_due and (now >= check.open + opening_ms or now >= check.close):
                facts.openings.append((symbol, check))
                self.pending.opening_judged(symbol)
            if now >= check.close:
                facts.closes.append((symbol, check))
                self.pending.session_closed(symbol)


__all__ = ["ALL", "Meter", "Surveillance", "compute_alert_id", "read_alert"]
