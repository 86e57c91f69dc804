"""One simulated node: its store (a `MemoryKV` that can crash), executor, mempool and
replica (maybe wrapped in a Byzantine behaviour), rebuilt from what it persisted on restart."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from chaincode.runtime import Registry
from consensus.crypto import Signer
from consensus.events import (
    Executed,
)
from consensus.replica import Replica, ReplicaConfig
from genesis.schema import Genesis
from node.admission.mempool import Mempool
from node.admission.verified import VerifiedCache
from node.ledger.audit import audit_indexer
from node.ledger.executor import Executor
from node.net.fetch import BlockFetch
from node.net.sync import HeightSync
from node.sim.byzantine import Behaviour
from node.storage import MemoryKV
from node.storage import schema as s
from node.surveillance.indexer import Surveillance


@dataclass(frozen=True)
class NodeSetup:
    """What every simulated node is built from, the same for all of them."""

    genesis: Genesis
    registry: Registry
    initial_state: Any
    replica_config: Callable[[str], ReplicaConfig]


class SimNode:
    """One full node: store, executor, mempool, replica (maybe wrapped), host state."""

    def __init__(self, setup: NodeSetup, name: str, signer: Signer,
                 behaviour: Behaviour | None) -> None:
        self.setup = setup
        self.name = name
        self.signer = signer
        self.behaviour = behaviour
        self.kv = MemoryKV()
        self.up = True
        self.restarts = 0
        self.stopped_for_good = False  # a peer's message made it raise (node.sim.network)
        self.crashes = 0
        self.crash_in_steps: int | None = None  # a crash_mid fault: crash after this many steps
        self.transferred_blocks = 0
        self.view_changes_sent = 0
        self.last_counts = (0, 0)  # request_timeouts, view_change_timeouts seen so far
        self._boot()

    def _boot(self) -> None:
        genesis = self.setup.genesis
        self.verified = VerifiedCache()
        self.executor = Executor(self.kv, self.setup.registry, genesis.chain_id, self.verified,
                                 [audit_indexer, Surveillance(self.kv, genesis.params)])
        self.executor.init_genesis(genesis.hash, genesis.genesis_time, self.setup.initial_state)
        self.mempool = Mempool(genesis.chain_id, self.setup.registry, self.verified,
                               self.executor.is_committed)
        wal = {raw[len(s.WAL):].decode(): value for raw, value in self.kv.iterate(s.WAL)}
        e = self.executor
        executed = Executed(e.height, e.last_block_hash, e.app_hash, e.last_block_time)
        # the node's own admission check of a proposed block's transactions (node.app does
        # the same): an honest replica never prepares a block it could not execute as sent
        config = replace(self.setup.replica_config(self.name),
                         admit_tx=self.executor.admits_block_tx)
        self.replica = Replica(config, self.signer, wal or None, executed)
        self.fetch = BlockFetch(genesis.chain_id, genesis.operator_keys(),
                                [n.name for n in genesis.operators if n.name != self.name])
        self.height_sync = HeightSync(self.setup.genesis.f + 1)

    def crash(self) -> None:
        self.up = False
        self.crashes += 1
        self.crash_in_steps = None
        self.kv.crash()

    def restart(self) -> None:
        self.restarts += 1
        self.up = True
        self._boot()

    @property
    def honest(self) -> bool:
        return self.behaviour is None
