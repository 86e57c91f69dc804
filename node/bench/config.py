"""The benchmark's constants and its two records: the options of a run and one measured point."""


from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

SYMBOL = "BENCH1"
UNITS_PER_ACCOUNT = 10**9
SETUP_BATCH = 200  # setup transactions per POST
PRESIGN_CHUNK = 2_000  # transfers per pool task
MAX_BATCH_TXS = 2_000  # envelopes per POST /v1/txs in the load
MAX_INFLIGHT_PER_NODE = 4  # concurrent POSTs per node from the load process
EXPIRY_MS = 50 * 60 * 1000  # under the node's 1 hour limit, well over any run
BLOCK_PAGE = 100  # PROTOCOL.md: at most 100 blocks per GET /v1/blocks
MSGPACK = "application/msgpack"
ADMITTED = 0  # item status in the load's results; an error code string otherwise
REFUSED_PAUSE_S = 0.2  # --rate 0: a node that answered mempool_full gets no batch this long
REFUSED_CODES = ("mempool_full", "http:503")  # refused for lack of room (the excess)
KNEE_STEP = 0.1  # the knee search raises the offered rate by this fraction per probe
KNEE_MAX_PROBES = 6
KNEE_KEEPS_UP = 0.95  # a probe keeps up when it commits this share of the offered rate ...
KNEE_P99_MS = 2_000  # ... with p99 under this, and nothing lost


@dataclass
class Options:
    nodes: Sequence[int] = (4,)
    rates: Sequence[int | str] = (0,)  # tx/s, 0 = as fast as taken, or "2x": twice the knee
    duration_s: float = 60.0
    accounts: int = 200
    interval_ms: int = 20
    window: int = 8_000
    max_rate: int = 2_500  # pre-signed transfers per second of a --rate 0 point
    drain_s: float = 30.0
    directory: str | None = None  # a running cluster; else a temporary one per node count
    keep: bool = False
    knee_duration_s: float | None = None  # each knee probe (default: duration_s)
    workload: str = "transfer"  # or "market" (node/bench/market.py), "both" (paired), or
    # "offering" (node/bench/offering.py)
    in_process: bool = False  # --workload offering: on the chaincode alone (offering_scale.py)


@dataclass
class Point:
    nodes: int
    offered_tps: float
    committed_tps: float
    latency_ms: dict[str, float]
    cpu_s_per_tx: float
    verify_us: float
    lost: int
    duplicated: int
    block_txs_avg: float
    duration_s: float
    target_rate: int = 0
    submitted: int = 0
    admitted: int = 0
    committed: int = 0
    failed: int = 0
    reordered: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    blocks: int = 0
    cpu_s_per_tx_node: dict[str, float] = field(default_factory=dict)
    cpu_util_node: dict[str, float] = field(default_factory=dict)
    cpu_util_load: float = 0.0  # the load process, in cores
    machine_util: float = 0.0  # every core of the machine busy = 1.0
    refused: int = 0  # refused for lack of room: mempool_full items and whole 503 answers
    knee_tps: float | None = None  # the knee found first for an "Nx" rate (else None)
    probe: bool = False  # a point of the knee search
    cpu_us_per_tx_node: float = 0.0  # mean over the nodes, in µs
    cpu_verify_ratio: float = 0.0  # cpu_us_per_tx_node / verify_us: holds across machines
    wake_us: float = 0.0  # CPU of one idle event-loop wake-up on this machine (measure.py)
    view_changes: int = 0  # views any node entered, from the load's start to the drain's end
    relays_refused: int = 0  # relayed transactions the nodes refused for lack of room

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)
