"""Carrying out a replica's actions: the one loop the node (node.app) and the simulator
(node.sim.host) both run, as etcd's `Ready` is one contract for every host.

The rules (consensus/__init__.py, "Host contract"), in list order:
- `Persist` actions gather into one batch, written synced before anything later in the list
  leaves (persist before send); a delete is an empty value (`stage_persist`).
- `Commit` executes the block (the next height; if state transfer applied it already, its
  stored result is reported), the pool forgets its transactions (recording as expired those
  the block's time had passed), and the replica hears `BlockExecuted`; what that returns joins
  the queue.
- `Send` / `Broadcast` go out, `FetchBlocks` starts state transfer, `ViewChanged` is told.

What differs between the two hosts is their port: the disk (`write_synced`), the network
(`send`, `broadcast`, `fetch`), what else a host does with an applied block or a new view,
and whether it is still running (`is_up`: the simulator can crash a host between two steps;
a real node's crash needs no help). The executor, the pool and the replica are the same code.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Protocol

from consensus.events import (
    Action,
    BlockExecuted,
    Broadcast,
    Commit,
    FetchBlocks,
    Persist,
    Send,
    ViewChanged,
)
from consensus.replica import Replica
from node.admission.mempool import Mempool
from node.ledger.executor import AppliedBlock, Executor
from node.storage import Batch
from node.storage import schema as s


class Port(Protocol):
    """A host's side of `carry_out`: its parts and its I/O."""

    replica: Replica
    executor: Executor
    mempool: Mempool

    def is_up(self) -> bool:
        """Still running (asked before each step)."""

    def write_synced(self, batch: Batch) -> None: ...

    def send(self, to: str, data: bytes) -> None: ...

    def broadcast(self, data: bytes) -> None: ...

    def fetch(self, to_height: int) -> None:
        """Start (or extend) state transfer up to `to_height`."""

    def applied(self, applied: AppliedBlock) -> None:
        """What else the host does with a block it executed (events, metrics, checks)."""

    def view_changed(self, view: int, primary: str) -> None: ...


def stage_persist(batch: Batch, action: Persist) -> None:
    """Add a replica's Persist to the write-ahead batch (empty value = delete)."""
    if action.value:
        batch.put(s.wal_key(action.key), action.value)
    else:
        batch.delete(s.wal_key(action.key))


def carry_out(actions: Iterable[Action], port: Port) -> None:
    """Carry out `actions` (and what executing their commits returns), in order."""
    queue = deque(actions)
    persist = Batch()
    while queue:
        action = queue.popleft()
        if isinstance(action, Persist):
            stage_persist(persist, action)
            continue
        if persist:
            if not port.is_up():
                return
            port.write_synced(persist)
            persist = Batch()
        if not port.is_up():
            return  # a crash between two steps: the rest never happens
        if isinstance(action, Send):
            port.send(action.to, action.data)
        elif isinstance(action, Broadcast):
            port.broadcast(action.data)
        elif isinstance(action, Commit):
            queue.extend(port.replica.handle(execute(action, port)))
        elif isinstance(action, FetchBlocks):
            port.fetch(action.to_height)
        elif isinstance(action, ViewChanged):
            port.view_changed(action.view, action.primary)
        else:
            raise AssertionError(f"unknown action {action!r}")
    if persist:
        port.write_synced(persist)


def execute(commit: Commit, port: Port) -> BlockExecuted:
    """Apply a committed block (or report one state transfer applied first)."""
    executor = port.executor
    height = commit.block.height
    if height <= executor.height:
        return BlockExecuted(height, executor.block_hash_at(height), executor.app_hash_at(height))
    applied = executor.apply(commit.block, commit.certificate)
    forget_committed(port.mempool, applied)
    port.applied(applied)
    return BlockExecuted(applied.block.height, applied.block.hash, applied.app_hash)


def forget_committed(mempool: Mempool, applied: AppliedBlock) -> None:
    """The pool's side of an applied block, however it arrived (a commit or state transfer):
    its transactions leave the pool (those its time had passed recorded as expired) and
    count toward the commit rate."""
    block = applied.block
    mempool.remove_committed(block.tx_ids(), block.header.time)
    mempool.on_commit(len(applied.receipts))
