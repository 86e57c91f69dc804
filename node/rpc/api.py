"""What the RPC layer may use of a node: this narrow interface, never `node.app`'s internals.

`node.app.Node` provides it for a real node; a unit test can provide it with a stand-in that
has an executor over a store and no consensus or p2p (tests/node/test_audit.py does).
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from chaincode.runtime import Registry
from genesis.schema import Genesis
from node.admission.mempool import Mempool
from node.admission.tx import Transaction, TxError
from node.ledger.executor import Executor
from node.metrics import Metrics
from node.rpc.access import AccessLog
from node.rpc.events import EventHub
from node.storage import KV


class NodeApi(Protocol):
    genesis: Genesis
    registry: Registry
    executor: Executor
    store: KV
    mempool: Mempool
    metrics: Metrics
    events: EventHub
    access: AccessLog
    halted: str | None  # why the node stopped serving state (node.ledger.recover), or None

    def submit(self, tx: Transaction) -> None: ...

    def submit_many(self, txs: list[Transaction]) -> list[TxError | None]: ...

    def wait_for(self, tx_id: bytes) -> asyncio.Future[None] | None: ...

    def stop_waiting(self, tx_id: bytes, future: asyncio.Future[None]) -> None: ...

    def status(self) -> dict[str, Any]: ...

    def is_ready(self) -> bool: ...
