"""The run loop: one priority queue of events ordered by (time, sequence number), popped
and run to completion one at a time, and the liveness verdict at the end."""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from typing import Any

import chaincode
from consensus.quorum import max_faulty
from consensus.replica import ReplicaConfig
from node.sim.byzantine import BEHAVIOURS, make_behaviour
from node.sim.checker import Checker
from node.sim.config import (
    LIVENESS_PROBE_MS,
    MAX_EVENTS,
    MIX_BEHAVIOURS,
    TICK_MS,
    SimConfig,
    sim_network,
)
from node.sim.faults import Faults
from node.sim.host import Host
from node.sim.network import Meta, Network
from node.sim.report import FaultRecord, Result
from node.sim.simnode import NodeSetup, SimNode
from node.sim.workload import ClientTx, Workload


class Simulation(Host, Network, Faults, Workload):
    def __init__(self, config: SimConfig) -> None:
        n = config.nodes
        if n < 4 or (n - 1) % 3:
            raise ValueError(f"--nodes {n}: the simulator runs n = 3f+1 >= 4 operators")
        self.config = config
        self.f = max_faulty(n)
        self.network = sim_network(n, config.consensus)
        self.genesis = self.network.genesis
        self.chain = self.genesis.chain_id
        self.names = tuple(node.name for node in self.genesis.operators)
        self.registry = chaincode.builtin_registry(self.genesis.params)
        self.initial_state = self.genesis.initial_state()
        self.setup = NodeSetup(self.genesis, self.registry, self.initial_state,
                               self.replica_config)
        seed = config.seed
        self.rng_net = random.Random(f"{seed}/network")
        self.rng_faults = random.Random(f"{seed}/faults")
        self.rng_load = random.Random(f"{seed}/workload")
        self.rng_byz = random.Random(f"{seed}/byzantine")
        self.now = 0
        self._queue: list[tuple[int, int, str, tuple[Any, ...]]] = []
        self._counter = 0
        self.events = 0
        self.byzantine = self._choose_byzantine()
        clients = self._make_clients()
        self.clients = clients
        victim = clients["inv-0"].signer.public_key
        self.nodes: dict[str, SimNode] = {}
        for name in self.names:
            behaviour = None
            if name in self.byzantine:
                behaviour = make_behaviour(self.byzantine[name], name,
                                           self.network.node_signers[name], self.chain,
                                           self.names, random.Random(f"{seed}/byz/{name}"),
                                           victim)
            self.nodes[name] = SimNode(self.setup, name, self.network.node_signers[name],
                                       behaviour)
        honest = tuple(name for name in self.names if name not in self.byzantine)
        self.checker = Checker(self.chain, self.genesis.operator_keys(), honest,
                               check_certificates=config.quorum_override is None)
        self.links = {(a, b): self.rng_net.randint(1, 8) for a in self.names
                      for b in self.names if a != b}
        self.loss: dict[int, float] = {}
        self.duplicate: dict[int, float] = {}
        self.lost_types: dict[int, str] = {}  # fault id -> the message kind it loses
        self.jitter: dict[int, int] = {}
        self.partitions: dict[int, dict[str, int]] = {}
        self.cuts: set[int] = set()  # partitions whose frames are lost, not held
        self.held: list[tuple[str, str, str, bytes, Meta]] = []  # frames waiting for a link
        # bytes held per (sender, receiver): node.net.queue bounds each peer's queue in bytes
        self.held_bytes: dict[tuple[str, str], int] = {}
        self.held_count = 0
        # Scenario tests: return False to drop a message at delivery (sim, from, to, meta).
        self.deliver_filter: Callable[[Simulation, str, str, Meta], bool] | None = None
        self.faults: list[FaultRecord] = []
        self.heal_ms = 0
        self.messages: dict[str, dict[str, int]] = {}
        self.drop_reasons: dict[str, int] = {}
        self.txs: dict[bytes, ClientTx] = {}
        self.tx_order: list[bytes] = []
        self.view_change_log: list[str] = []
        self.timeline_lines: list[str] = []
        self.heights_seen: dict[int, dict[str, dict[str, int]]] = {}
        self.recovery_ms: int | None = None
        self._pre_heal: list[bytes] = []
        self._timeline_done: set[int] = set()
        self.trace = config.trace

    # -- setup ---------------------------------------------------------------------------------

    def replica_config(self, name: str) -> ReplicaConfig:
        params = self.genesis.consensus
        return ReplicaConfig(
            chain=self.chain, operators=self.genesis.operator_tuples(), me=name,
            checkpoint_interval=params.checkpoint_interval,
            watermark_window=params.watermark_window, max_block_txs=params.max_block_txs,
            max_block_bytes=params.max_block_bytes,
            max_block_delay_ms=params.max_block_delay_ms,
            view_timeout_ms=params.view_timeout_ms,
            max_clock_skew_ms=params.max_clock_skew_ms,
            quorum_override=self.config.quorum_override)

    def _choose_byzantine(self) -> dict[str, str]:
        chosen: dict[str, str] = {}
        for name in sorted(self.config.byzantine):
            if name not in self.names:
                raise ValueError(f"--byzantine {name}: not an operator ({', '.join(self.names)})")
            behaviour = self.config.byzantine[name]
            if behaviour not in BEHAVIOURS:
                raise ValueError(f"--byzantine {name}={behaviour}: one of "
                                 f"{', '.join(BEHAVIOURS)}")
            chosen[name] = behaviour
        others = [name for name in self.names if name not in chosen]
        extra = max(0, self.config.faulty - len(chosen))
        pool = BEHAVIOURS
        for mix, count in MIX_BEHAVIOURS.items():  # an older mix draws from its own pool
            if mix in self.config.faults.split(","):
                pool = BEHAVIOURS[:count]
        for name in sorted(self.rng_byz.sample(others, min(extra, len(others)))):
            chosen[name] = self.rng_byz.choice(pool)
        if len(chosen) > self.f and not self.config.allow_unsafe:
            raise ValueError(f"{len(chosen)} Byzantine operators, more than f={self.f} for "
                             f"n={len(self.names)} (pass --allow-unsafe to try anyway)")
        return dict(sorted(chosen.items()))

    # -- the event queue -----------------------------------------------------------------------

    def at(self, time_ms: int, kind: str, *args: Any) -> None:
        self._counter += 1
        heapq.heappush(self._queue, (time_ms, self._counter, kind, args))

    def run(self, until: Callable[[Simulation], bool] | None = None) -> Result:
        config = self.config
        for index, name in enumerate(self.names):
            self.at(1 + index * TICK_MS // len(self.names), "tick", name)
        self._schedule_workload()
        self._schedule_faults()
        stop = max(config.duration_ms, self.heal_ms + config.liveness_bound_ms)
        self.at(config.duration_ms, "probe")
        self._unsettled: list[bytes] = []
        handlers: dict[str, Callable[..., Any]] = {
            "tick": self._on_tick, "deliver": self._on_deliver, "submit": self._on_submit,
            "retry": self._on_retry, "fault": self._on_fault, "probe": self._on_probe,
            "fetch_timeout": self._on_fetch_timeout, "call": lambda fn: fn(self),
            "heal": self._on_heal,
        }
        self._done = False
        while self._queue and not self._done:
            time_ms, _, kind, args = heapq.heappop(self._queue)
            if time_ms > stop:
                self.now = stop
                break
            self.now = time_ms
            self.events += 1
            assert self.events < MAX_EVENTS, "the simulation did not end"
            handlers[kind](*args)
            if until is not None and until(self):
                break
        return self._result()

    # -- time and clients ----------------------------------------------------------------------

    @property
    def clock(self) -> int:
        return self.genesis.genesis_time + self.now

    def _on_heal(self) -> None:
        """Every scheduled fault has healed: from now on the clock for liveness runs."""
        self._pre_heal = self._uncommitted(self.tx_order)
        if not self._pre_heal:
            self.recovery_ms = 0
        if self.config.timeline:
            self.timeline_lines.append(f"t={self.now:>6} every fault healed")
        self._check_recovered()

    def _check_recovered(self) -> None:
        if self.recovery_ms is not None or not self._pre_heal:
            return
        self._pre_heal = self._uncommitted(self._pre_heal)
        if not self._pre_heal:
            self.recovery_ms = self.now - self.heal_ms

    def _uncommitted(self, tx_ids: list[bytes]) -> list[bytes]:
        """The transactions of `tx_ids` not yet committed on every honest node that is up
        (liveness is judged per honest replica: one left behind fails the run)."""
        honest = [self.nodes[name] for name in self.names
                  if self.nodes[name].honest and self.nodes[name].up]
        return [tx_id for tx_id in tx_ids
                if not all(node.executor.is_committed(tx_id) for node in honest)]

    def _stuck(self) -> dict[str, str]:
        """Each honest node that is down or has not committed every transaction, and how."""
        stuck = {}
        total = len(self.tx_order)
        for name in self.names:
            node = self.nodes[name]
            if not node.honest:
                continue
            if not node.up:
                stuck[name] = "down"
                continue
            missing = sum(not node.executor.is_committed(t) for t in self.tx_order)
            if missing:
                stuck[name] = (f"{missing} of {total} transactions not committed (height "
                               f"{node.executor.height}, view {node.replica.view})")
        return stuck

    def _on_probe(self) -> None:
        self._unsettled = self._uncommitted(self._unsettled)
        self._check_recovered()
        if self.now >= self.heal_ms and not self._unsettled:
            self._done = True
            return
        self.at(self.now + LIVENESS_PROBE_MS, "probe")

    # -- results -------------------------------------------------------------------------------

    def _result(self) -> Result:
        for name in self.names:
            node = self.nodes[name]
            if node.honest and node.up:
                chain = [node.executor.block_hash_at(h)
                         for h in range(1, node.executor.height + 1)]
                self.checker.check_chains(self.now, {name: chain})
        byzantine_count = len(self.byzantine)
        checked = byzantine_count <= self.f and self.config.quorum_override is None
        missing = self._uncommitted(self.tx_order)
        stuck = self._stuck()
        live = not stuck
        if live:
            detail = (f"every one of {len(self.tx_order)} transactions committed on every "
                      f"honest node by t={self.now} ms")
        else:
            detail = (f"{len(stuck)} honest node(s) stuck at t={self.now} ms (heal at "
                      f"{self.heal_ms} ms, bound {self.config.liveness_bound_ms} ms): "
                      + "; ".join(f"{name} {why}" for name, why in stuck.items()))
        nodes = []
        for name in self.names:
            node = self.nodes[name]
            stats = node.replica.stats
            nodes.append({
                "name": name, "role": self.byzantine.get(name, "honest"),
                "up": node.up, "height": node.executor.height, "view": node.replica.view,
                "view_changes": node.view_changes_sent,
                "stable_checkpoint": node.replica.stable_checkpoint,
                "transferred_blocks": node.transferred_blocks, "restarts": node.restarts,
                "dropped": sum(v for k, v in stats.items() if k.startswith("dropped_")),
                "byzantine_actions": node.behaviour.actions if node.behaviour else 0,
            })
        reference = next((self.nodes[n] for n in self.names if self.nodes[n].honest), None)
        ok_receipts = failed_receipts = 0
        if reference is not None:
            for tx_id in self.tx_order:
                receipt = reference.executor.receipt(tx_id)
                if receipt is not None:
                    ok_receipts += receipt.ok
                    failed_receipts += not receipt.ok
        txs = {"submitted": len(self.tx_order), "committed_on_every_honest_node":
               len(self.tx_order) - len(missing), "receipts_ok": ok_receipts,
               "receipts_refused": failed_receipts,
               "resubmitted": sum(self.txs[t].attempts - 1 for t in self.tx_order)}
        return Result(
            config=self.config, end_ms=self.now, heal_ms=self.heal_ms, nodes=nodes,
            byzantine=dict(self.byzantine), faults=list(self.faults),
            messages=dict(sorted(self.messages.items())),
            drop_reasons=dict(sorted(self.drop_reasons.items())), txs=txs,
            violations=list(self.checker.violations), liveness_checked=checked,
            liveness_ok=live, liveness_detail=detail, stuck=sorted(stuck),
            recovery_ms=self.recovery_ms,
            view_changes=list(self.view_change_log), timeline=self._timeline(), events=self.events)

    def _timeline(self) -> list[str]:
        if not self.config.timeline:
            return []
        lines = list(self.timeline_lines)
        lines.append("")
        lines.append("per height (ms): pp = pre-prepare accepted, pr = prepared, "
                     "cm = committed, st = state transfer")
        short = {"pre_prepare": "pp", "prepared": "pr", "committed": "cm",
                 "transferred": "st"}
        for height in sorted(self.heights_seen):
            cells = []
            for name in self.names:
                phases = self.heights_seen[height].get(name)
                if not phases:
                    cells.append(f"{name}: -")
                    continue
                cells.append(f"{name}: " + " ".join(
                    f"{short[p]}={phases[p]}" for p in short if p in phases))
            lines.append(f"h{height:<4} " + " | ".join(cells))
        return lines


def run(config: SimConfig, until: Callable[[Simulation], bool] | None = None) -> Result:
    return Simulation(config).run(until)
