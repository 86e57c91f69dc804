"""The deterministic network simulator: N full nodes in one process, a virtual clock, a
virtual network, faults, Byzantine operators and a checker.

Theory of operation
-------------------
Every node is what a real node is, minus the sockets: the same `consensus.Replica`, the same
`node.ledger.executor.Executor` over its own `MemoryKV`, the real chaincode registry and a
`Mempool`.
The host code here plays `node.app.Node`'s part with the node's own loop,
`node.ledger.ready.carry_out` (Persist written synced before any later Send; Commit runs the
executor and answers BlockExecuted; FetchBlocks starts a state transfer over the virtual
network, whose blocks are checked against genesis keys, executed, and answered with
StateTransferred): only its port differs. It gossips admitted client transactions, serves
state-transfer requests, and gives each replica the node's admission hook.

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
Byzantine operators are `node.sim.byzantine` wrappers around real replicas.

`node.sim.checker.Checker` judges every applied block and every vote an honest node sends
(safety), and the run ends with the liveness verdict: once every fault has healed, with at
most f Byzantine operators, every honest node is up and has committed every client transaction
within `liveness_bound_ms` (judged per honest node: one left behind fails the run). A
failing run names its seed and the command that reproduces it.

The parts
---------
    config.py    the fixed genesis (keys and certificates from labels), constants, SimConfig
    simnode.py   one node: store, executor, mempool, replica; crash and restart
    host.py      the node's port for node.ledger.ready.carry_out (the loop node.app runs
                 too), gossip, state transfer
    network.py   the virtual network: latency, jitter, loss, duplication, partitions
    faults.py    the fault schedule: crashes, partitions (held or cut), loss, duplication,
                 reordering
    workload.py  the clients and their transactions
    run.py       the event queue, the run loop and the liveness verdict
    checker.py   safety and integrity judged on every applied block and every vote sent
    byzantine.py scripted Byzantine operators wrapped around real replicas
    report.py    the Result and how it is printed

What it may import: consensus, chaincode, genesis and the node's own lower rooms (executor,
ready, mempool, storage, transfer, fetch, sync, queue, audit). Nothing in node/ imports the
simulator but the CLI.
"""

from node.sim.byzantine import BEHAVIOURS
from node.sim.config import FAULT_KINDS, FAULT_SCHEDULES, SimConfig, sim_network
from node.sim.network import Meta
from node.sim.report import Result, format_line, format_result
from node.sim.run import Simulation, run

__all__ = ["BEHAVIOURS", "FAULT_KINDS", "FAULT_SCHEDULES", "Meta", "Result", "SimConfig",
           "Simulation", "format_line", "format_result", "run", "sim_network"]
