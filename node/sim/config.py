"""The simulated network's fixed genesis (keys and certificates derived from labels, so
runs repeat byte for byte), its consensus parameters, and a run's configuration."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import IO

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID

import chaincode
from chaincode.fds import NO_WITHDRAWAL_DELAY
from consensus import codec
from consensus.crypto import Signer
from genesis import certs
from genesis.builder import DEMO_ORGS, operator_names
from genesis.schema import ConsensusParams, Genesis, parse_genesis

TICK_MS = 10  # how often a replica hears the clock (node.app: 20, to wake less)
FETCH_TIMEOUT_MS = 300  # a state-transfer request unanswered this long goes to the next peer
CLIENT_RETRY_MS = 1_500  # a client resubmits a transaction not committed this long
TX_EXPIRY_MS = 600_000  # client transactions expire 10 minutes after they are made
INVESTORS = 4  # registered by broker-a at the start; they transfer cash among themselves
LIVENESS_PROBE_MS = 50  # after the workload ends, how often the run checks it may stop
MAX_HELD_FRAMES = 10_000  # node.net.queue's frame bound (its byte bound applies per link)
MAX_FRAME_BYTES = 16 * 1024 * 1024  # node.net.p2p's frame limit: a bigger frame is dropped
MAX_EVENTS = 5_000_000  # a bound on any one run, however it is configured
SIM_CONSENSUS = ConsensusParams(checkpoint_interval=4, watermark_window=16, max_block_txs=64,
                                max_block_bytes=1024 * 1024, max_block_delay_ms=20,
                                view_timeout_ms=500, max_clock_skew_ms=5_000)
# Small K and L so checkpoints, garbage collection and watermarks happen within seconds; a
# short view timeout so that view changes do too.

FAULT_KINDS = ("crash", "crash_mid", "partition", "cut", "loss", "dup", "reorder", "lose_type")
LOST_TYPES = ("CHECKPOINT", "PRE-PREPARE", "PREPARE", "COMMIT", "VIEW-CHANGE", "NEW-VIEW",
              "BLOCK-REQUEST", "BLOCK", "TXS", "FETCH", "BLOCKS", "HEIGHT")
# `lose_type` loses every message of one of these kinds on every link while it lasts: a
# message that is sent once and never repeated (red team R1: CHECKPOINT) shows as a stall.
MIX_POOL = ("crash", "partition", "cut", "dup", "reorder", "loss", "crash", "partition",
            "crash_mid", "loss", "cut", "lose_type")
# `mix` draws 1 to 3 of these: crashes (plain and between two steps of a batch of actions),
# partitions that hold frames (p2p's per-peer queue outlives a link) and ones that lose them
# (`cut`: links reset, frames in flight and over the queue bound are gone), 5-30 % loss on
# every link, duplication, reordering, and the loss of every message of one kind.
MIX_V2_POOL = MIX_POOL[:-1]
MIX_V2_BEHAVIOURS = 13
# `mix_v2`, the mix before the red team's `lose_type` and `malformed` joined it (2026-12).
MIX_POOLS = {"mix": MIX_POOL, "mix_v2": MIX_V2_POOL}  # and mix_v1 below
MIX_V1_POOL = ("crash", "partition", "dup", "reorder", "loss", "crash", "partition",
               "crash_mid")
MIX_V1_BEHAVIOURS = 11
# `mix_v1`, the mix before `cut`, `withhold` and `forge_body` joined it (2026-12): the
# regression seeds found with it keep drawing the same faults and Byzantine operators.
MIX_POOLS["mix_v1"] = MIX_V1_POOL
MIX_BEHAVIOURS = {"mix_v1": MIX_V1_BEHAVIOURS, "mix_v2": MIX_V2_BEHAVIOURS}
FAULT_SCHEDULES = {
    "none": (),
    "default": ("crash", "partition"),
    "crash": ("crash",),
    "crash_mid": ("crash_mid",),
    "partition": ("partition",),
    "loss": ("loss",),
    "dup": ("dup",),
    "reorder": ("reorder",),
    "chaos": ("crash", "crash_mid", "partition", "cut", "loss", "dup", "reorder"),
    "lose_type": ("lose_type",),
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
    # The investors transfer cash minted seconds before; the delay is chaincode's to test.
    params["fds"] = {**params["fds"], **NO_WITHDRAWAL_DELAY}
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
