"""Prometheus text exposition of the node's counters, written by hand (a few dozen lines do
not justify a dependency). Consensus and p2p keep their own counters; they are read here, and
so is the surveillance indexer's meter (node.surveillance.indexer.Meter: its CPU time and the
orders and trades it read), which the market bench reads to price surveillance per order."""

from __future__ import annotations

from typing import Any

from node import collector

LATENCY_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self, surveillance: Any = None) -> None:
        self.surveillance = surveillance  # node.surveillance.indexer.Meter, when there is one
        self.txs_admitted = 0
        self.txs_resubmitted = 0
        self.txs_committed = 0
        self.blocks = 0
        self.blocks_refused = 0
        self.view_changes = 0
        self.frames_bad = 0
        self.rejected: dict[str, int] = {}
        self.relay_refused: dict[str, int] = {}  # gossiped by peers, by code
        self.http_requests: dict[str, int] = {}
        self.latency_counts = [0] * len(LATENCY_BUCKETS_S)
        self.latency_sum = 0.0
        self.latency_total = 0

    def reject(self, code: str) -> None:
        self.rejected[code] = self.rejected.get(code, 0) + 1

    def refuse_relay(self, code: str) -> None:
        self.relay_refused[code] = self.relay_refused.get(code, 0) + 1

    def observe_commit_latency(self, seconds: float) -> None:
        self.latency_sum += seconds
        self.latency_total += 1
        for i, bound in enumerate(LATENCY_BUCKETS_S):
            if seconds <= bound:
                self.latency_counts[i] += 1

    def render(self, node: Any) -> str:
        lines: list[str] = []

        def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
            lines.append(f"# HELP stoledger_{name} {help_text}")
            lines.append(f"# TYPE stoledger_{name} {kind}")
            for labels, value in samples:
                lines.append(f"stoledger_{name}{labels} {value}")

        status = node.status()
        metric("height", "gauge", "Last executed block height.", [("", status["height"])])
        metric("view", "gauge", "Current PBFT view.", [("", status["view"] or 0)])
        metric("stable_checkpoint", "gauge", "Last stable checkpoint sequence number.",
               [("", status["stable_checkpoint"] or 0)])
        metric("mempool_size", "gauge", "Admitted transactions not yet committed.",
               [("", status["mempool_size"])])
        mempool = getattr(node, "mempool", None)
        if mempool is not None:
            metric("mempool_capacity", "gauge", "Admission's soft bound on the backlog (txs).",
                   [("", mempool.capacity() or mempool.max_txs)])
            metric("commit_rate", "gauge", "Measured commit rate (tx/s, EWMA), for admission.",
                   [("", round(mempool.commit_rate, 1))])
            metric("txs_resubmitted_total", "counter", "Pending txs re-sent to a primary.",
                   [("", self.txs_resubmitted)])
        metric("peers", "gauge", "Authenticated peer links.", [("", len(status["peers"]))])
        metric("txs_admitted_total", "counter", "Client transactions admitted.",
               [("", self.txs_admitted)])
        metric("txs_committed_total", "counter", "Transactions executed in committed blocks.",
               [("", self.txs_committed)])
        metric("txs_rejected_total", "counter", "Client transactions refused at admission.",
               [(f'{{code="{code}"}}', n) for code, n in sorted(self.rejected.items())])
        metric("txs_relay_refused_total", "counter", "Transactions peers relayed that this "
               "node refused (duplicate: it held them already, as after a view change's "
               "re-submission; mempool_full: no room).",
               [(f'{{code="{code}"}}', n) for code, n in sorted(self.relay_refused.items())])
        verified = getattr(node, "verified", None)
        if verified is not None:
            metric("tx_signature_checks_total", "counter", "Client transaction signatures "
                   "verified (admission, PRE-PREPARE check, execution; cache hits excluded).",
                   [("", verified.verifications)])
        metric("blocks_total", "counter", "Blocks applied.", [("", self.blocks)])
        metric("blocks_refused_total", "counter", "Blocks from peers with a bad certificate.",
               [("", self.blocks_refused)])
        metric("view_changes_total", "counter", "Views entered after the first.",
               [("", self.view_changes)])
        replica = getattr(node, "replica", None)
        if replica is not None:
            stats = dict(replica.stats)
            metric("consensus_messages_total", "counter", "Consensus messages by direction "
                   "and type, and drops by reason.",
                   [(f'{{stat="{key}"}}', value) for key, value in sorted(stats.items())])
        metric("p2p_total", "counter", "Peer link counters.",
               [(f'{{stat="{key}"}}', value) for key, value in sorted(node.p2p.stats.items())])
        access = getattr(node, "access", None)
        if access is not None:
            metric("unregistered_reads_total", "counter", "Signed reads by keys with no role "
                   "(counted, not written to the access log).", [("", access.unregistered)])
        meter = self.surveillance
        if meter is not None:
            metric("surveillance_cpu_seconds_total", "counter", "CPU time of the surveillance "
                   "indexer on the applying thread.", [("", round(meter.cpu_ns / 1e9, 9))])
            metric("surveillance_blocks_total", "counter", "Blocks surveillance read.",
                   [("", meter.blocks)])
            metric("surveillance_orders_total", "counter", "Orders (OrderPlaced) surveillance "
                   "read.", [("", meter.orders)])
            metric("surveillance_trades_total", "counter", "Trades surveillance read.",
                   [("", meter.trades)])
        metric("gc_collections_total", "counter", "Garbage collections by generation (the "
               "process's; node.collector).",
               [(f'{{generation="{g}"}}', n) for g, n in enumerate(collector.collections())])
        metric("gc_pause_seconds_total", "counter", "Time the garbage collector ran, by "
               "generation, since node.collector.tune (start-up).",
               [(f'{{generation="{g}"}}', round(seconds, 6))
                for g, seconds in enumerate(collector.METER.seconds)])
        metric("http_requests_total", "counter", "HTTP requests by route.",
               [(f'{{route="{route}"}}', n) for route, n in sorted(self.http_requests.items())])
        lines.append("# HELP stoledger_commit_latency_seconds Admission to commit on this node.")
        lines.append("# TYPE stoledger_commit_latency_seconds histogram")
        for bound, count in zip(LATENCY_BUCKETS_S, self.latency_counts, strict=True):
            lines.append(f'stoledger_commit_latency_seconds_bucket{{le="{bound}"}} {count}')
        lines.append(f'stoledger_commit_latency_seconds_bucket{{le="+Inf"}} {self.latency_total}')
        lines.append(f"stoledger_commit_latency_seconds_sum {self.latency_sum:.6f}")
        lines.append(f"stoledger_commit_latency_seconds_count {self.latency_total}")
        return "\n".join(lines) + "\n"
