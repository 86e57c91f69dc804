"""The deterministic network simulator: N full nodes in one process, a virtual clock, a
virtual network, faults, Byzantine operators and a checker.

Theory of operation
-------------------
Every node is what a real node is, minus the sockets: the same `consensus.Replica`, the same
`node.executor.Executor` over its own `MemoryKV`, the real chaincode registry and a `Mempool`.
The host code here plays `node.app.Node`'s part: it carries out the replica's actions in
order (Persist is written synced before any later Send; Commit runs the executor and answers
BlockExecuted; FetchBlocks starts a state transfer over the virtual network, whose blocks are
checked with `check_certificate` against genesis keys, executed, and answered with
StateTransferred), gossips admitted client transactions and serves state-transfer requests.

Time is an integer count of simulated milliseconds. Everything that happens is an event in one
priority queue ordered by (time, sequence number): a message arriving, a node's tick (every
TICK_MS), a client submitting a transaction, a fault starting or healing. The loop pops the
earliest event and runs it to completion; nothing else runs meanwhile, and nothing reads the
wall clock. All randomness comes from `random.Random` instances seeded from the run's seed
(one stream each for the network, the faults, the workload and the Byzantine behaviours), and
nothing iterates a set or a dict whose order could vary, so one seed gives one run, byte for
byte (the trace is the proof: run twice and compare).

The network has a base latency per directed link plus seeded jitter (so messages reorder),
and faults that come and go on a schedule: loss, duplication, extra jitter, partitions. A
crash drops everything the node did not sync (`MemoryKV.crash`) and takes it off the network;
a restart builds a NEW Replica from the WAL keys it persisted and a new Executor over its KV.
Byzantine operators are `node.sim_byzantine` wrappers around real replicas.

`node.sim_checker.Checker` judges every applied block and every vote an honest node sends
(safety), and the run ends with the liveness verdict: once every fault has healed, with at
most f Byzantine operators, every client transaction is committed on f+1 honest nodes within
`liveness_bound_ms`. A failing run names its seed and the command that reproduces it.
"""

from __future__ import annotations

import datetime
import heapq
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID

import chaincode
from chaincode.identity import sign_consent
from consensus import codec
from consensus.block import Block, CommitCertificate
from consensus.crypto import Signer
from consensus.events import (
    Action,
    BlockExecuted,
    Broadcast,
    Commit,
    Event,
    Executed,
    FetchBlocks,
    MessageReceived,
    PendingTx,
    Persist,
    Send,
    StateTransferred,
    Tick,
    TxsAdmitted,
    ViewChanged,
)
from consensus.quorum import max_faulty
from consensus.replica import Replica, ReplicaConfig, vote_key
from genesis import certs
from genesis.builder import DEMO_ORGS, operator_names
from genesis.schema import ConsensusParams, Genesis, parse_genesis
from node.audit import audit_indexer
from node.executor import AppliedBlock, Executor, VerifiedCache
from node.mempool import Mempool
from node.sim_byzantine import BEHAVIOURS, Behaviour, make_behaviour
from node.sim_checker import Checker, Violation
from node.storage import Batch, MemoryKV
from node.storage import schema as s
from node.sync import HeightSync
from node.transfer import blocks_to_serve, stage_persist, verify_block
from node.tx import Transaction, TxError, build

TICK_MS = 10  # how often a replica hears the clock (node.app does the same)
FETCH_TIMEOUT_MS = 300  # a state-transfer request unanswered this long goes to the next peer
CLIENT_RETRY_MS = 1_500  # a client resubmits a transaction not committed this long
TX_EXPIRY_MS = 600_000  # client transactions expire 10 minutes after they are made
INVESTORS = 4  # registered by broker-a at the start; they transfer cash among themselves
LIVENESS_PROBE_MS = 50  # after the workload ends, how often the run checks it may stop
MAX_HELD_FRAMES = 10_000  # node.p2p's outbound queue bound (max_queue_frames)
MAX_EVENTS = 5_000_000  # a bound on any one run, however it is configured
SIM_CONSENSUS = ConsensusParams(checkpoint_interval=4, watermark_window=16, max_block_txs=64,
                                max_block_bytes=1024 * 1024, max_block_delay_ms=20,
                                view_timeout_ms=500, max_clock_skew_ms=5_000)
# Small K and L so checkpoints, garbage collection and watermarks happen within seconds; a
# short view timeout so that view changes do too.

FAULT_KINDS = ("crash", "partition", "loss", "dup", "reorder")
MIX_POOL = ("crash", "partition", "dup", "reorder", "loss", "crash", "partition")
# `mix` draws 1 to 3 of these. Loss is left out: a lost VIEW-CHANGE is never sent again (see
# tests/sim/test_regressions.py), so `loss` and `chaos` are for runs that expect that stall.
FAULT_SCHEDULES = {
    "none": (),
    "default": ("crash", "partition"),
    "crash": ("crash",),
    "partition": ("partition",),
    "loss": ("loss",),
    "dup": ("dup",),
    "reorder": ("reorder",),
    "chaos": ("crash", "crash", "partition", "loss", "dup", "reorder"),
}


# -- a deterministic network ------------------------------------------------------------------

def _seed_of(label: str) -> bytes:
    return codec.sha256(b"stoledger-sim " + label.encode())


def _ca_key(label: str) -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.from_private_bytes(_seed_of(label))


def _certificate(subject: str, issuer: str, key: ed25519.Ed25519PrivateKey,
                 signer: ed25519.Ed25519PrivateKey, serial: int, ca: bool) -> x509.Certificate:
    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    builder = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer))
               .public_key(key.public_key()).serial_number(serial)
               .not_valid_before(certs.NOT_BEFORE)
               .not_valid_after(certs.NOT_BEFORE + datetime.timedelta(days=3650))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None),
                              critical=True))
    return builder.sign(signer, None)


@dataclass(frozen=True)
class SimNetwork:
    genesis: Genesis
    node_signers: dict[str, Signer]
    org_signers: dict[str, Signer]


_NETWORKS: dict[tuple[int, ConsensusParams], SimNetwork] = {}


def sim_network(n: int, consensus: ConsensusParams = SIM_CONSENSUS) -> SimNetwork:
    """A genesis like `genesis.builder.build_network`'s, with every key and certificate derived
    from fixed labels, so app hashes and signatures repeat from run to run. Cached per n."""
    key = (n, consensus)
    if key in _NETWORKS:
        return _NETWORKS[key]
    chain_id = "stoledger-sim"
    names = operator_names(n)
    org_roles = list(DEMO_ORGS) + [(name, "operator") for name in names
                                   if name not in dict(DEMO_ORGS)]
    org_signers = {name: Signer(_seed_of("org " + name)) for name, _ in org_roles}
    node_signers = {name: Signer(_seed_of("node " + name)) for name in names}
    ca_key = _ca_key("ca")
    ca_name = f"{chain_id} CA"
    ca_cert = _certificate(ca_name, ca_name, ca_key, ca_key, 1, True)
    nodes = []
    for index, name in enumerate(names):
        cert = _certificate(name, ca_name, _ca_key("tls " + name), ca_key, index + 2, False)
        nodes.append({"name": name, "org": name, "public_key": node_signers[name].account,
                      "tls_cert": certs.cert_pem(cert).decode(), "host": "127.0.0.1",
                      "p2p_port": 20001 + 2 * index, "rpc_port": 20000 + 2 * index})
    params = dict(chaincode.DEFAULT_PARAMS)
    document = {
        "chain_id": chain_id, "genesis_time": 1_767_225_600_000,
        "consensus": consensus.to_json(), "ca_cert": certs.cert_pem(ca_cert).decode(),
        "operators": nodes, "observers": [],
        "orgs": [{"name": name, "role": role, "account": org_signers[name].account}
                 for name, role in org_roles],
        "chaincode": chaincode.builtin_registry(params).source_hashes(), "params": params,
    }
    network = SimNetwork(parse_genesis(document), node_signers, org_signers)
    _NETWORKS[key] = network
    return network


# -- configuration and results ----------------------------------------------------------------

@dataclass
class SimConfig:
    nodes: int = 4
    seed: int = 1
    duration_ms: int = 5_000  # simulated; the workload runs this long, faults heal before
    tx_rate: int = 20  # client transactions per simulated second
    faults: str = "default"  # a schedule name or a comma list of fault kinds (FAULT_SCHEDULES)
    faulty: int = 0  # Byzantine operators chosen at random (behaviours from the mix)
    byzantine: dict[str, str] = field(default_factory=dict)  # operator -> behaviour
    allow_unsafe: bool = False  # more than f Byzantine operators (expect violations)
    quorum_override: int | None = None  # TEST-ONLY: a broken quorum for the checker's test
    liveness_bound_ms: int = 10_000  # after the last fault heals
    heal_fraction: int = 45  # faults heal by this percent of duration_ms
    base_loss: float = 0.0
    partition_drops: bool = False  # True: a partition loses frames instead of delaying them
    base_jitter_ms: int = 4
    consensus: ConsensusParams = SIM_CONSENSUS
    trace: IO[str] | None = None
    timeline: bool = False

    def command(self) -> str:
        """The command line that reproduces this run."""
        parts = [f"stoledger sim --seed {self.seed} --nodes {self.nodes} --duration-ms "
                 f"{self.duration_ms} --tx-rate {self.tx_rate} --faults {self.faults}"]
        if self.faulty:
            parts.append(f"--faulty {self.faulty}")
        for name in sorted(self.byzantine):
            parts.append(f"--byzantine {name}={self.byzantine[name]}")
        if self.allow_unsafe:
            parts.append("--allow-unsafe")
        if self.quorum_override is not None:
            parts.append(f"--quorum-override {self.quorum_override}")
        return " ".join(parts)


@dataclass
class FaultRecord:
    kind: str
    start_ms: int
    end_ms: int
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "start_ms": self.start_ms, "end_ms": self.end_ms,
                "detail": self.detail}


@dataclass
class Result:
    config: SimConfig
    end_ms: int
    heal_ms: int
    nodes: list[dict[str, Any]]
    byzantine: dict[str, str]
    faults: list[FaultRecord]
    messages: dict[str, dict[str, int]]
    drop_reasons: dict[str, int]
    txs: dict[str, int]
    violations: list[Violation]
    liveness_checked: bool
    liveness_ok: bool
    liveness_detail: str
    recovery_ms: int | None
    view_changes: list[str]
    timeline: list[str]
    events: int

    @property
    def safety_ok(self) -> bool:
        return not self.violations

    @property
    def ok(self) -> bool:
        return self.safety_ok and (self.liveness_ok or not self.liveness_checked)

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.config.seed, "nodes": self.config.nodes,
            "duration_ms": self.config.duration_ms, "end_ms": self.end_ms,
            "heal_ms": self.heal_ms, "tx_rate": self.config.tx_rate,
            "faults_schedule": self.config.faults, "byzantine": self.byzantine,
            "faults": [fault.to_json() for fault in self.faults],
            "node_status": self.nodes, "messages": self.messages,
            "drop_reasons": self.drop_reasons, "txs": self.txs,
            "safety": "OK" if self.safety_ok else "VIOLATED",
            "violations": [v.to_json() for v in self.violations],
            "liveness": self.liveness_word(), "liveness_detail": self.liveness_detail,
            "recovery_ms": self.recovery_ms, "view_changes": self.view_changes,
            "events": self.events, "reproduce": self.config.command(),
        }

    def liveness_word(self) -> str:
        if not self.liveness_checked:
            return "NOT CHECKED"
        return "OK" if self.liveness_ok else "FAILED"


# -- the pieces of the world ------------------------------------------------------------------

@dataclass(slots=True)
class Meta:
    """What the trace and the counters say about one message."""

    type: str
    view: int | None = None
    seq: int | None = None


def describe(kind: str, data: bytes) -> Meta:
    if kind != "c":
        return Meta({"t": "TXS", "f": "FETCH", "b": "BLOCKS", "s": "HEIGHT"}[kind])
    try:
        value = codec.unpack(data)
    except codec.EncodingError:
        return Meta("?")
    if not isinstance(value, dict):
        return Meta("?")
    view, seq = value.get("view"), value.get("seq")
    return Meta(str(value.get("type", "?")), view if isinstance(view, int) else None,
                seq if isinstance(seq, int) else None)


@dataclass
class Client:
    name: str
    signer: Signer
    nonce: int = 0


@dataclass
class ClientTx:
    tx: Transaction
    submitted_ms: int
    entry: str
    attempts: int = 1


class SimNode:
    """One full node: store, executor, mempool, replica (maybe wrapped), host state."""

    def __init__(self, sim: Simulation, name: str, signer: Signer,
                 behaviour: Behaviour | None) -> None:
        self.sim = sim
        self.name = name
        self.signer = signer
        self.behaviour = behaviour
        self.kv = MemoryKV()
        self.up = True
        self.restarts = 0
        self.crashes = 0
        self.transferred_blocks = 0
        self.view_changes_sent = 0
        self.last_counts = (0, 0)  # request_timeouts, view_change_timeouts seen so far
        self._boot()

    def _boot(self) -> None:
        genesis = self.sim.genesis
        self.verified = VerifiedCache()
        self.executor = Executor(self.kv, self.sim.registry, genesis.chain_id, self.verified,
                                 [audit_indexer])
        self.executor.init_genesis(genesis.hash, genesis.genesis_time, self.sim.initial_state)
        self.mempool = Mempool(genesis.chain_id, self.sim.registry, self.verified,
                               self.executor.is_committed)
        wal = {raw[len(s.WAL):].decode(): value for raw, value in self.kv.iterate(s.WAL)}
        e = self.executor
        executed = Executed(e.height, e.last_block_hash, e.app_hash, e.last_block_time)
        self.replica = Replica(self.sim.replica_config(self.name), self.signer, wal or None,
                               executed)
        self.fetching = False
        self.fetch_target = 0
        self.fetch_turn = self.sim.names.index(self.name)
        self.fetch_peer = ""
        self.fetch_token = 0
        self.fetch_failures = 0
        self.height_sync = HeightSync(self.sim.genesis.f + 1)

    def crash(self) -> None:
        self.up = False
        self.crashes += 1
        self.kv.crash()
        self.fetching = False

    def restart(self) -> None:
        self.restarts += 1
        self.up = True
        self._boot()

    @property
    def honest(self) -> bool:
        return self.behaviour is None


class Simulation:
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
            self.nodes[name] = SimNode(self, name, self.network.node_signers[name], behaviour)
        honest = tuple(name for name in self.names if name not in self.byzantine)
        self.checker = Checker(self.chain, self.genesis.operator_keys(), honest,
                               check_certificates=config.quorum_override is None)
        self.links = {(a, b): self.rng_net.randint(1, 8) for a in self.names
                      for b in self.names if a != b}
        self.loss: dict[int, float] = {}
        self.duplicate: dict[int, float] = {}
        self.jitter: dict[int, int] = {}
        self.partitions: dict[int, dict[str, int]] = {}
        self.held: list[tuple[str, str, str, bytes, Meta]] = []  # frames waiting for a link
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
        for name in sorted(self.rng_byz.sample(others, min(extra, len(others)))):
            chosen[name] = self.rng_byz.choice(BEHAVIOURS)
        if len(chosen) > self.f and not self.config.allow_unsafe:
            raise ValueError(f"{len(chosen)} Byzantine operators, more than f={self.f} for "
                             f"n={len(self.names)} (pass --allow-unsafe to try anyway)")
        return dict(sorted(chosen.items()))

    def _make_clients(self) -> dict[str, Client]:
        clients = {name: Client(name, self.network.org_signers[name])
                   for name in ("bank", "broker-a")}
        for index in range(INVESTORS):
            name = f"inv-{index}"
            clients[name] = Client(name, Signer(_seed_of("client " + name)))
        return clients

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

    def _on_tick(self, name: str) -> None:
        node = self.nodes[name]
        if node.up:
            self.feed(node, Tick(self.clock))
            self._sync(node)
        self.at(self.now + TICK_MS, "tick", name)

    def _sync(self, node: SimNode) -> None:
        """node.app.Node._sync: announce the height; fetch when f+1 peers stay ahead."""
        height = node.executor.height
        if node.height_sync.announce_due(self.now):
            frame = codec.pack(height)
            for to in self.names:
                if to != node.name:
                    self.transmit(node.name, to, "s", frame, Meta("HEIGHT"))
        target = node.height_sync.fetch_target(self.now, height, node.fetching)
        if target is not None:
            self._start_fetch(node, target)

    def _schedule_workload(self) -> None:
        rate = self.config.tx_rate
        self.at(5, "submit", "register")
        if rate <= 0:
            return
        mean_gap = 1000 / rate
        time_ms = 40.0
        while True:
            time_ms += self.rng_load.expovariate(1 / mean_gap)
            if time_ms >= self.config.duration_ms:
                return
            self.at(int(time_ms), "submit", "random")

    def make_tx(self, client: str, contract: str, method: str, args: dict[str, Any]
                ) -> Transaction:
        c = self.clients[client]
        c.nonce += 1
        return build(c.signer, self.chain, contract, method, args, c.nonce,
                     self.clock + TX_EXPIRY_MS)

    def _on_submit(self, what: str) -> None:
        if what == "register":
            kyc = self.genesis.genesis_time + 10 * 365 * 86_400_000
            attrs = {"investor_type": "general", "legal_form": "individual", "country": "KR",
                     "resident": True, "kyc_expires": kyc, "aml_risk": "low"}
            broker = self.clients["broker-a"].signer.account
            for index in range(INVESTORS):
                signer = self.clients[f"inv-{index}"].signer
                consent = sign_consent(signer, self.chain, broker, "investor")
                self.submit(self.make_tx("broker-a", "identity", "register",
                                         {"account": signer.account, "role": "investor",
                                          "attrs": attrs, "consent": consent}))
            return
        rng = self.rng_load
        investors = [f"inv-{index}" for index in range(INVESTORS)]
        if rng.random() < 0.35:
            to = self.clients[rng.choice(investors)].signer.account
            tx = self.make_tx("bank", "cash", "mint", {"to": to,
                                                       "amount": rng.randint(1_000, 100_000)})
        else:
            sender, receiver = rng.sample(investors, 2)
            tx = self.make_tx(sender, "cash", "transfer",
                              {"to": self.clients[receiver].signer.account,
                               "amount": rng.randint(1, 5_000)})
        self.submit(tx)

    def submit(self, tx: Transaction, entry: str | None = None) -> None:
        """A client hands `tx` to a node that is up (chosen at random unless `entry`)."""
        up = [name for name in self.names if self.nodes[name].up]
        if not up:
            return
        entry = entry or self.rng_load.choice(up)
        known = self.txs.get(tx.tx_id)
        if known is None:
            self.txs[tx.tx_id] = ClientTx(tx, self.now, entry)
            self.tx_order.append(tx.tx_id)
            self._unsettled.append(tx.tx_id)
        else:
            known.entry = entry
            known.attempts += 1
        self.at(self.now + CLIENT_RETRY_MS, "retry", tx.tx_id)
        self.admit(self.nodes[entry], [tx], gossip=True)

    def _on_retry(self, tx_id: bytes) -> None:
        record = self.txs[tx_id]
        if self.nodes[record.entry].executor.is_committed(tx_id):
            return
        up = [name for name in self.names if self.nodes[name].up and name != record.entry]
        if up:
            self.submit(record.tx, self.rng_load.choice(up))

    def admit(self, node: SimNode, txs: list[Transaction], gossip: bool) -> None:
        if not node.up:
            return
        admitted = []
        for tx in txs:
            try:
                node.mempool.admit(tx, self.clock)
            except TxError:
                continue
            admitted.append(tx)
        if gossip and txs and not (node.behaviour and node.behaviour.silences_host()):
            frame = codec.pack([[tx.body_bytes, tx.sig] for tx in txs])
            for to in self.names:
                if to != node.name:
                    self.transmit(node.name, to, "t", frame, Meta("TXS"))
        if admitted:
            self.feed(node, TxsAdmitted(tuple(PendingTx(tx.tx_id, tx.body_bytes, tx.sig,
                                                        tx.expires) for tx in admitted)))

    # -- driving a node ------------------------------------------------------------------------

    def feed(self, node: SimNode, event: Event) -> None:
        if node.behaviour is not None:
            filtered = node.behaviour.on_input(event)
            if filtered is None:
                return
            event = filtered
        self.run_actions(node, node.replica.handle(event))

    def run_actions(self, node: SimNode, actions: list[Action]) -> None:
        """node.app.Node.run: persist (synced) before anything later leaves; execute commits."""
        queue = list(actions)
        index = 0
        persist = Batch()
        while index < len(queue):
            action = queue[index]
            index += 1
            if isinstance(action, Persist):
                stage_persist(persist, action)
                continue
            if persist:
                node.kv.write(persist, sync=True)
                persist = Batch()
            if isinstance(action, Broadcast):
                self.send_consensus(node, [n for n in self.names if n != node.name], action.data)
            elif isinstance(action, Send):
                self.send_consensus(node, [action.to], action.data)
            elif isinstance(action, Commit):
                queue.extend(self._execute_commit(node, action))
            elif isinstance(action, FetchBlocks):
                self._start_fetch(node, action.to_height)
            elif isinstance(action, ViewChanged):
                self._note_view(node, action)
            else:
                raise AssertionError(f"unknown action {action!r}")
        if persist:
            node.kv.write(persist, sync=True)

    def _execute_commit(self, node: SimNode, action: Commit) -> list[Action]:
        height = action.block.height
        e = node.executor
        if height <= e.height:  # already applied through a fetch (node.app does the same)
            return node.replica.handle(BlockExecuted(height, e.block_hash_at(height),
                                                     e.app_hash_at(height)))
        assert height == e.height + 1, \
            f"{node.name}: Commit {height} but the executor is at {e.height}"
        applied = node.executor.apply(action.block, action.certificate)
        self._after_apply(node, applied, "committed")
        return node.replica.handle(BlockExecuted(height, applied.block.hash, applied.app_hash))

    def _after_apply(self, node: SimNode, applied: AppliedBlock, how: str) -> None:
        node.mempool.remove_committed(applied.block.tx_ids())
        self.checker.on_applied(self.now, node.name, applied, node.executor.state)
        height = applied.block.height
        if self.config.timeline:
            self._phase(node.name, height, how)
            if how == "committed" and height not in self._timeline_done:
                self._timeline_done.add(height)
                header = applied.block.header
                self.timeline_lines.append(
                    f"t={self.now:>6} height {height}: view {header.view}, proposer "
                    f"{header.proposer}, {len(applied.block.txs)} txs, first committed by "
                    f"{node.name}")
        if self._pre_heal and node.honest:
            self._check_recovered()

    def _phase(self, name: str, height: int, phase: str) -> None:
        phases = self.heights_seen.setdefault(height, {}).setdefault(name, {})
        phases.setdefault(phase, self.now)

    def _note_view(self, node: SimNode, action: ViewChanged) -> None:
        self.view_change_log.append(f"t={self.now} {node.name} entered view {action.view} "
                                    f"(primary {action.primary})")
        if self.config.timeline:
            self.timeline_lines.append(f"t={self.now:>6} {node.name}: NEW-VIEW accepted, now in "
                                       f"view {action.view} (primary {action.primary})")

    # -- the network ---------------------------------------------------------------------------

    def send_consensus(self, node: SimNode, targets: list[str], data: bytes) -> None:
        meta = describe("c", data)
        if node.honest:
            self._check_own_message(node, meta, data)
        if meta.type == "VIEW-CHANGE":
            self._note_view_change(node, meta)
        if self.config.timeline and meta.seq is not None:
            if meta.type in ("PREPARE", "PRE-PREPARE"):
                self._phase(node.name, meta.seq, "pre_prepare")
            elif meta.type == "COMMIT":
                self._phase(node.name, meta.seq, "prepared")
        for to in targets:
            outs = [(to, data, 0)] if node.behaviour is None else \
                node.behaviour.on_output(to, data, self.now)
            for dest, out, extra in outs:
                self.transmit(node.name, dest, "c", out,
                              meta if out is data else describe("c", out), extra)

    def _note_view_change(self, node: SimNode, meta: Meta) -> None:
        node.view_changes_sent += 1
        stats = node.replica.stats
        counts = (stats.get("request_timeouts", 0), stats.get("view_change_timeouts", 0))
        if counts[0] > node.last_counts[0]:
            reason = "request timer expired: a transaction waited too long"
        elif counts[1] > node.last_counts[1]:
            reason = "view-change timer expired: no NEW-VIEW in time"
        elif node.restarts and meta.view == node.replica.view:
            reason = "repeated after restart, or joined f+1 VIEW-CHANGEs"
        else:
            reason = "joined f+1 VIEW-CHANGEs for a later view"
        node.last_counts = counts
        line = f"t={self.now} {node.name} VIEW-CHANGE to view {meta.view}: {reason}"
        self.view_change_log.append(line)
        if self.config.timeline:
            self.timeline_lines.append(f"t={self.now:>6} {node.name}: VIEW-CHANGE to view "
                                       f"{meta.view} ({reason})")

    def _check_own_message(self, node: SimNode, meta: Meta, data: bytes) -> None:
        """Honest nodes: never two digests for one (kind, view, seq); persisted before sent."""
        if meta.type not in ("PRE-PREPARE", "PREPARE", "COMMIT", "NEW-VIEW"):
            return
        value = codec.unpack(data)
        if meta.type == "NEW-VIEW":
            for raw in value["pre_prepares"]:
                inner = codec.unpack(raw)
                self.checker.on_vote_sent(self.now, node.name, "PRE-PREPARE", inner["view"],
                                          inner["seq"], Block.decode(inner["block"]).hash)
            return
        view, seq = value["view"], value["seq"]
        if meta.type == "PRE-PREPARE":
            digest = Block.decode(value["block"]).hash
        else:
            digest = value["block_hash"]
        self.checker.on_vote_sent(self.now, node.name, meta.type, view, seq, digest)
        kind = {"PRE-PREPARE": "pre_prepare", "PREPARE": "prepare", "COMMIT": "commit"}
        stored = node.kv.get(s.wal_key(vote_key(kind[meta.type], seq)))
        if meta.type == "COMMIT" and stored is not None:
            stored = codec.unpack(stored)["commit"]
        if stored == data:
            return
        if meta.type == "PRE-PREPARE":
            new_view = node.kv.get(s.wal_key("new_view"))
            if new_view is not None and data in codec.unpack(new_view)["pre_prepares"]:
                return
        self.checker.on_unpersisted_send(self.now, node.name,
                                         f"{meta.type} view {view} seq {seq} sent before its "
                                         "vote was persisted")

    def connected(self, a: str, b: str) -> bool:
        return all(groups[a] == groups[b] for groups in self.partitions.values())

    def transmit(self, sender: str, to: str, kind: str, data: bytes, meta: Meta,
                 extra_ms: int = 0) -> None:
        counts = self.messages.setdefault(meta.type, {"sent": 0, "delivered": 0, "dropped": 0})
        counts["sent"] += 1
        loss = max(self.loss.values(), default=self.config.base_loss)
        if loss and self.rng_net.random() < loss:
            self._dropped(sender, to, meta, "loss")
            return
        copies = 1
        duplicate = max(self.duplicate.values(), default=0.0)
        if duplicate and self.rng_net.random() < duplicate:
            copies = 2
            counts["sent"] += 1
        jitter = self.config.base_jitter_ms + max(self.jitter.values(), default=0)
        for _ in range(copies):
            latency = self.links[(sender, to)] + self.rng_net.randint(0, jitter) + extra_ms
            self.at(self.now + latency, "deliver", sender, to, kind, data, meta)
        if self.trace is not None:
            self._trace(sender, to, meta, "sent", None)

    def _dropped(self, sender: str, to: str, meta: Meta, reason: str) -> None:
        self.messages[meta.type]["dropped"] += 1
        self.drop_reasons[reason] = self.drop_reasons.get(reason, 0) + 1
        if self.trace is not None:
            self._trace(sender, to, meta, "dropped", reason)

    def _trace(self, sender: str, to: str, meta: Meta, status: str, reason: str | None) -> None:
        assert self.trace is not None
        record = {"t": self.now, "from": sender, "to": to, "type": meta.type,
                  "view": meta.view, "seq": meta.seq, "status": status}
        if reason is not None:
            record["reason"] = reason
        self.trace.write(json.dumps(record, sort_keys=True) + "\n")

    def _on_deliver(self, sender: str, to: str, kind: str, data: bytes, meta: Meta) -> None:
        node = self.nodes[to]
        if not node.up:
            self._dropped(sender, to, meta, "receiver down")
            return
        if self.deliver_filter is not None and not self.deliver_filter(self, sender, to, meta):
            self._dropped(sender, to, meta, "scenario")
            return
        if not self.connected(sender, to):
            if self.config.partition_drops:
                self._dropped(sender, to, meta, "partition")
            elif len(self.held) < MAX_HELD_FRAMES:
                self.held.append((sender, to, kind, data, meta))
                self.held_count += 1
            else:
                self._dropped(sender, to, meta, "outbound queue full")
            return
        self.messages[meta.type]["delivered"] += 1
        if self.trace is not None:
            self._trace(sender, to, meta, "delivered", None)
        if kind == "c":
            self.feed(node, MessageReceived(sender, data))
        elif kind == "t":
            self._on_gossip(node, data)
        elif kind == "f":
            self._serve_fetch(node, sender, data)
        elif kind == "b":
            self._on_blocks(node, sender, data)
        elif kind == "s":
            node.height_sync.report(sender, int(codec.unpack(data)))
        else:
            raise AssertionError(kind)

    def _on_gossip(self, node: SimNode, frame: bytes) -> None:
        from node.tx import decode_body

        txs = []
        for body, sig in codec.unpack(frame):
            try:
                txs.append(decode_body(body, sig))
            except TxError:
                continue
        self.admit(node, txs, gossip=False)

    # -- state transfer ------------------------------------------------------------------------

    def _start_fetch(self, node: SimNode, to_height: int) -> None:
        node.fetch_target = max(node.fetch_target, to_height)
        if not node.fetching:
            node.fetching = True
            node.fetch_failures = 0
            node.fetch_turn = 0
            self._fetch_next(node)

    def _fetch_next(self, node: SimNode) -> None:
        if node.executor.height >= node.fetch_target:
            self._finish_fetch(node)
            return
        ahead = node.height_sync.peers_by_height()  # node.app asks these first too
        peers = ahead + [name for name in self.names if name != node.name and name not in ahead]
        node.fetch_peer = peers[node.fetch_turn % len(peers)]
        node.fetch_turn += 1
        node.fetch_token += 1
        request = codec.pack([node.executor.height + 1, node.fetch_target])
        self.transmit(node.name, node.fetch_peer, "f", request, Meta("FETCH"))
        self.at(self.now + FETCH_TIMEOUT_MS, "fetch_timeout", node.name, node.fetch_token)

    def _on_fetch_timeout(self, name: str, token: int) -> None:
        node = self.nodes[name]
        if not node.up or not node.fetching or token != node.fetch_token:
            return
        node.fetch_failures += 1
        if node.fetch_failures >= 3 * (len(self.names) - 1):
            self._finish_fetch(node)
        else:
            self._fetch_next(node)

    def _finish_fetch(self, node: SimNode) -> None:
        node.fetching = False
        node.fetch_token += 1
        if node.executor.height < node.fetch_target:
            node.height_sync.forget_above(node.executor.height)
        node.fetch_target = node.executor.height
        self._report_transfer(node, ())

    def _report_transfer(self, node: SimNode, tx_ids: tuple[bytes, ...]) -> None:
        e = node.executor
        if e.height > node.replica.last_executed:
            self.feed(node, StateTransferred(e.height, e.last_block_hash, e.app_hash,
                                             e.last_block_time, tx_ids))

    def _serve_fetch(self, node: SimNode, sender: str, request: bytes) -> None:
        if node.behaviour is not None and node.behaviour.silences_host():
            return
        start, stop = codec.unpack(request)
        blocks = blocks_to_serve(node.kv, node.executor.height, start, stop)
        self.transmit(node.name, sender, "b", codec.pack(blocks), Meta("BLOCKS"))

    def _on_blocks(self, node: SimNode, sender: str, payload: bytes) -> None:
        if not node.fetching or sender != node.fetch_peer:
            return  # a late answer to an earlier request
        tx_ids: list[bytes] = []
        for block_bytes, cert_bytes in codec.unpack(payload):
            verified = self._verified_block(block_bytes, cert_bytes)
            if verified is None:
                break
            block, cert = verified
            if block.height != node.executor.height + 1 or block.height > node.fetch_target:
                break
            if block.header.prev_hash != node.executor.last_block_hash:
                break
            applied = node.executor.apply(block, cert)
            node.transferred_blocks += 1
            self._after_apply(node, applied, "transferred")
            tx_ids.extend(block.tx_ids())
        if tx_ids or node.executor.height > node.replica.last_executed:
            node.fetch_failures = 0
            self._report_transfer(node, tuple(tx_ids))
        else:
            node.fetch_failures += 1
        if not node.fetching:
            return  # the StateTransferred above may have ended the fetch
        if node.executor.height >= node.fetch_target or \
                node.fetch_failures >= 3 * (len(self.names) - 1):
            self._finish_fetch(node)
        else:
            self._fetch_next(node)

    def _verified_block(self, block_bytes: bytes, cert_bytes: bytes
                        ) -> tuple[Block, CommitCertificate] | None:
        verified = verify_block(self.chain, self.genesis.operator_keys(), block_bytes,
                                cert_bytes)
        return None if isinstance(verified, str) else verified

    # -- faults --------------------------------------------------------------------------------

    def fault_kinds(self) -> list[str]:
        kinds: list[str] = []
        for part in self.config.faults.split(","):
            part = part.strip()
            if not part:
                continue
            if part in FAULT_SCHEDULES:
                kinds.extend(FAULT_SCHEDULES[part])
            elif part == "mix":
                pool = [*MIX_POOL]
                kinds.extend(self.rng_faults.sample(pool, self.rng_faults.randint(1, 3)))
            else:
                raise ValueError(f"--faults {part}: one of {', '.join(FAULT_SCHEDULES)}, mix")
        return kinds

    def _schedule_faults(self) -> None:
        heal_by = self.config.duration_ms * self.config.heal_fraction // 100
        rng = self.rng_faults
        for fault_id, kind in enumerate(self.fault_kinds()):
            latest_start = max(300, heal_by - 300)
            start = rng.randint(min(300, latest_start), latest_start)
            end = min(heal_by, start + rng.randint(200, 1_500))
            end = max(end, start + 100)
            self.at(start, "fault", fault_id, kind, start, end)
            self.heal_ms = max(self.heal_ms, end)
        if self.heal_ms:
            self.at(self.heal_ms, "heal")

    def _on_fault(self, fault_id: int, kind: str, start: int, end: int) -> None:
        rng = self.rng_faults
        if kind == "crash":
            up = [name for name in self.names if self.nodes[name].up]
            if not up:
                return
            victim = rng.choice(up)
            self.nodes[victim].crash()
            self.at(end, "call", lambda sim: sim.restart(victim))
            detail = f"crash {victim}, restart at {end} ms"
        elif kind == "partition":
            names = list(self.names)
            rng.shuffle(names)
            cut = rng.randint(1, len(names) // 2)
            groups = {name: (0 if index < cut else 1) for index, name in enumerate(names)}
            self.partitions[fault_id] = groups
            self.at(end, "call", lambda sim: sim.heal_partition(fault_id))
            side = sorted(name for name in names if groups[name] == 0)
            other = sorted(name for name in names if groups[name] == 1)
            detail = f"partition {{{','.join(side)}}} | {{{','.join(other)}}}"
        elif kind == "loss":
            rate = rng.choice((0.05, 0.1, 0.2, 0.3))
            self.loss[fault_id] = rate
            self.at(end, "call", lambda sim: sim.loss.pop(fault_id, None))
            detail = f"loss {int(rate * 100)}% on every link"
        elif kind == "dup":
            rate = rng.choice((0.1, 0.2, 0.3))
            self.duplicate[fault_id] = rate
            self.at(end, "call", lambda sim: sim.duplicate.pop(fault_id, None))
            detail = f"duplicate {int(rate * 100)}% of messages"
        elif kind == "reorder":
            extra = rng.choice((20, 50, 100))
            self.jitter[fault_id] = extra
            self.at(end, "call", lambda sim: sim.jitter.pop(fault_id, None))
            detail = f"jitter +{extra} ms (reordering)"
        else:
            raise AssertionError(kind)
        self.faults.append(FaultRecord(kind, start, end, detail))
        if self.config.timeline:
            self.timeline_lines.append(f"t={self.now:>6} FAULT {detail} until {end} ms")

    def heal_partition(self, fault_id: int) -> None:
        """The links are back: frames the senders' outbound queues held now leave, in order
        (node.p2p keeps one bounded queue per peer that outlives its links)."""
        self.partitions.pop(fault_id, None)
        held, self.held = self.held, []
        for sender, to, kind, data, meta in held:
            if self.connected(sender, to):
                latency = self.links[(sender, to)] + self.rng_net.randint(
                    0, self.config.base_jitter_ms)
                self.at(self.now + latency, "deliver", sender, to, kind, data, meta)
            else:
                self.held.append((sender, to, kind, data, meta))

    def crash(self, name: str) -> None:
        """Scenario tests: crash `name` now (what it did not sync is lost)."""
        self.nodes[name].crash()

    def restart(self, name: str) -> None:
        node = self.nodes[name]
        if node.up:
            return
        node.restart()
        if self.config.timeline:
            self.timeline_lines.append(f"t={self.now:>6} {name} restarted at height "
                                       f"{node.executor.height}, view {node.replica.view}")
        self.feed(node, Tick(self.clock))

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
        """The transactions of `tx_ids` not yet committed on f+1 honest nodes (enough for a
        client to trust the receipt: PBFT's liveness promise; an honest replica that a
        Byzantine peer keeps in the dark may lag, and is reported, not failed)."""
        honest = [self.nodes[name] for name in self.names
                  if self.nodes[name].honest and self.nodes[name].up]
        needed = self.f + 1
        return [tx_id for tx_id in tx_ids
                if sum(node.executor.is_committed(tx_id) for node in honest) < needed]

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
        lagging = [name for name in self.names if self.nodes[name].honest
                   and not self.nodes[name].up]
        live = not missing and not lagging
        if live:
            detail = (f"every one of {len(self.tx_order)} transactions committed on f+1 honest"
                      f" nodes by t={self.now} ms")
        else:
            detail = (f"{len(missing)} of {len(self.tx_order)} transactions not committed on "
                      f"f+1 honest nodes by t={self.now} ms (heal at {self.heal_ms} ms, bound "
                      f"{self.config.liveness_bound_ms} ms)")
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
        txs = {"submitted": len(self.tx_order), "committed_everywhere":
               len(self.tx_order) - len(missing), "receipts_ok": ok_receipts,
               "receipts_refused": failed_receipts,
               "resubmitted": sum(self.txs[t].attempts - 1 for t in self.tx_order)}
        return Result(
            config=self.config, end_ms=self.now, heal_ms=self.heal_ms, nodes=nodes,
            byzantine=dict(self.byzantine), faults=list(self.faults),
            messages=dict(sorted(self.messages.items())),
            drop_reasons=dict(sorted(self.drop_reasons.items())), txs=txs,
            violations=list(self.checker.violations), liveness_checked=checked,
            liveness_ok=live, liveness_detail=detail, recovery_ms=self.recovery_ms,
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


# -- output ------------------------------------------------------------------------------------

def format_result(result: Result) -> str:
    config = result.config
    lines = [f"stoledger sim: seed {config.seed}, n={config.nodes} (f={max_faulty(config.nodes)})"
             f", {config.duration_ms} ms of traffic at {config.tx_rate} tx/s, faults "
             f"'{config.faults}', ran to t={result.end_ms} ms ({result.events} events)"]
    if result.byzantine:
        lines.append("byzantine: " + ", ".join(f"{name}={behaviour}"
                                               for name, behaviour in result.byzantine.items()))
    else:
        lines.append("byzantine: none")
    lines.append("faults injected:" if result.faults else "faults injected: none")
    for fault in result.faults:
        lines.append(f"  {fault.start_ms:>6}..{fault.end_ms:<6} ms  {fault.detail}")
    lines.append("")
    header = ("node", "role", "height", "view", "view-chg", "stable-cp", "transferred",
              "restarts", "dropped-in")
    rows = [[n["name"], n["role"], n["height"], n["view"], n["view_changes"],
             n["stable_checkpoint"], n["transferred_blocks"], n["restarts"], n["dropped"]]
            for n in result.nodes]
    lines.extend(_table(header, rows))
    lines.append("")
    rows = [[kind, c["sent"], c["delivered"], c["dropped"]]
            for kind, c in result.messages.items()]
    lines.extend(_table(("message", "sent", "delivered", "dropped"), rows))
    if result.drop_reasons:
        lines.append("dropped by the network: " + ", ".join(
            f"{reason} {count}" for reason, count in result.drop_reasons.items()))
    txs = result.txs
    lines.append(f"transactions: {txs['submitted']} submitted ({txs['resubmitted']} resubmitted"
                 f" by clients), {txs['committed_everywhere']} committed on f+1 honest nodes; "
                 f"receipts {txs['receipts_ok']} ok, {txs['receipts_refused']} refused by "
                 "chaincode")
    lines.append(f"view changes: {sum(n['view_changes'] for n in result.nodes)} VIEW-CHANGE "
                 "messages signed")
    lines.append("")
    if result.safety_ok:
        lines.append("safety: OK")
    else:
        lines.append(f"safety: VIOLATED ({len(result.violations)})")
        for violation in result.violations[:10]:
            lines.append(f"  {violation}")
    liveness = f"liveness: {result.liveness_word()}"
    if result.liveness_checked and result.liveness_ok and result.recovery_ms is not None:
        liveness += (f" (transactions from before the heal at {result.heal_ms} ms all "
                     f"committed {result.recovery_ms} ms after it)")
    elif not result.liveness_checked:
        liveness += " (beyond the fault model: more than f faulty or a broken quorum)"
    else:
        liveness += f" ({result.liveness_detail})"
    lines.append(liveness)
    if not result.ok:
        lines.append(f"FAILED seed {config.seed}; reproduce with: {config.command()}")
    if result.timeline:
        lines.append("")
        lines.append("timeline:")
        lines.extend(result.timeline)
    return "\n".join(lines)


def format_line(result: Result) -> str:
    heights = [n["height"] for n in result.nodes]
    views = max(n["view"] for n in result.nodes)
    byz = ",".join(f"{k}={v}" for k, v in result.byzantine.items()) or "-"
    recovery = "" if result.recovery_ms is None else f" recovered +{result.recovery_ms}ms"
    return (f"seed {result.config.seed:>6}: heights {min(heights)}..{max(heights)} view {views} "
            f"faults {len(result.faults)} byz {byz} txs {result.txs['submitted']} "
            f"safety {'OK' if result.safety_ok else 'VIOLATED'} liveness "
            f"{result.liveness_word()}{recovery}")


def _table(header: tuple[str, ...], rows: list[list[Any]]) -> list[str]:
    cells = [[str(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    out += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return out
