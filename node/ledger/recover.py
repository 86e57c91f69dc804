"""Integrity: what a node does when its state disagrees with a stable checkpoint.

A stable checkpoint is the app hash after some height, signed by 2f+1 operators. When this
node's own app hash at that height differs, its state is wrong (a corrupted disk, a bug, a
hand edit): the quorum contradicts every answer it would give. So it halts serving state
(`/readyz` 503, queries, receipts and audit answers 503 `not_ready`; blocks and status still
answer, since blocks are certified and status says why), writes a HALTED file with the reason
next to its ledger, and says so in its log and status.

Recovery is a replay from genesis, on the next start: `rebuild` executes the node's own
certified blocks (each certificate checked against genesis) into a fresh store beside the old
one, carries over what is not derived from blocks (the replica's write-ahead state and the
access log), and swaps the directories, keeping the bad store as `ledger.diverged-N` for
inspection. The node then rejoins like any node that restarted behind. If the rebuilt app hash
still disagrees with the checkpoint, the node refuses to start: the code itself differs.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable

import chaincode
from consensus.block import check_certificate
from genesis.schema import Genesis
from node.ledger.executor import Executor, Indexer
from node.storage import KV, Batch, LevelDB
from node.storage import schema as s

log = logging.getLogger("stoledger.node")

HALTED_FILE = "HALTED"
REBUILT_FILE = "REBUILT"  # the rebuilt store is whole: a restart finishes the swap
CARRIED = (s.WAL, s.ACCESS)  # not derived from blocks: kept across a rebuild
COPY_BATCH = 1_000


def halted_reason(data_dir: str) -> str | None:
    path = os.path.join(data_dir, HALTED_FILE)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as file:
        return file.read().strip() or "halted"


def halt(data_dir: str, reason: str) -> None:
    """Record the halt durably, so a restart rebuilds before it serves anything."""
    _write_durably(os.path.join(data_dir, HALTED_FILE), reason)


def outdated_layout(data_dir: str) -> str | None:
    """Why the store in `data_dir` must be rebuilt before this code reads it (its key layout
    is older than `schema.LAYOUT`), or None."""
    ledger = os.path.join(data_dir, "ledger")
    if not os.path.exists(os.path.join(ledger, "CURRENT")):
        return None
    store = LevelDB(ledger)
    try:
        if store.get(s.META_GENESIS) is None:
            return None
        raw = store.get(s.META_LAYOUT)
        layout = 1 if raw is None else s.read_u64(raw)
    finally:
        store.close()
    if layout == s.LAYOUT:
        return None
    return f"its store has key layout {layout}; this code reads layout {s.LAYOUT}"


def divergence(executor: Executor, seq: int, quorum_app_hash: bytes) -> str | None:
    """Why this node's state contradicts the stable checkpoint (seq, app hash), or None."""
    if seq == 0 or seq > executor.height:
        return None
    own = executor.app_hash_at(seq)
    if own == quorum_app_hash:
        return None
    return (f"state diverged: the app hash after height {seq} is {own.hex()} here, but "
            f"{quorum_app_hash.hex()} in the stable checkpoint signed by 2f+1 operators")


def rebuild(data_dir: str, genesis: Genesis, indexers: Callable[[KV], list[Indexer]],
            progress: Callable[[int, int], None] | None = None) -> int:
    """Replay the certified blocks of `data_dir/ledger` into a fresh store, with the node's
    indexers (`indexers(store)`) so that audit and surveillance indexes are rebuilt too, and
    swap it in.
    Returns the height rebuilt to. The HALTED file is removed only once the swap is done.

    The swap is two renames. A REBUILT file, written durably once the fresh store is whole,
    lets a restart after a crash between them finish the swap instead of starting over: the
    old store is already renamed then, and starting over would replay nothing and lose the
    carried write-ahead state (the replica's signed votes)."""
    ledger = os.path.join(data_dir, "ledger")
    fresh_path = os.path.join(data_dir, "ledger.rebuild")
    if os.path.exists(os.path.join(data_dir, REBUILT_FILE)):
        log.warning("finishing an earlier rebuild's swap")
        return _swap(data_dir)
    if os.path.exists(fresh_path):
        import shutil

        shutil.rmtree(fresh_path)  # an earlier rebuild that did not finish
    old = LevelDB(ledger)
    fresh = LevelDB(fresh_path)
    try:
        registry = chaincode.builtin_registry(genesis.params)
        stored = Executor(old, registry, genesis.chain_id)
        replay = Executor(fresh, registry, genesis.chain_id, indexers=indexers(fresh))
        replay.init_genesis(genesis.hash, genesis.genesis_time, genesis.initial_state())
        keys = genesis.operator_keys()
        height = 0
        while True:
            block, cert = stored.block(height + 1), stored.certificate(height + 1)
            if block is None or cert is None:
                break
            if block.header.prev_hash != replay.last_block_hash or \
                    check_certificate(cert, genesis.chain_id, keys, block.hash,
                                      block.height) is not None:
                log.error("rebuild: block %d is not a certified extension; stopping there",
                          block.height)
                break
            replay.apply(block, cert)
            height = block.height
            if progress is not None:
                progress(height, stored.height)
        for prefix in CARRIED:
            batch = Batch()
            for key, value in old.iterate(prefix):
                batch.put(key, value)
                if len(batch.ops) >= COPY_BATCH:
                    fresh.write(batch, sync=False)
                    batch = Batch()
            fresh.write(batch, sync=True)
    finally:
        old.close()
        fresh.close()
    _write_durably(os.path.join(data_dir, REBUILT_FILE), str(height))
    log.warning("rebuilt the state by replaying %d certified blocks", height)
    return _swap(data_dir)


def _swap(data_dir: str) -> int:
    """Put the rebuilt store in place of the old one (kept as `ledger.diverged-N`), then
    forget the halt. Each step can be redone after a crash."""
    ledger = os.path.join(data_dir, "ledger")
    fresh_path = os.path.join(data_dir, "ledger.rebuild")
    with open(os.path.join(data_dir, REBUILT_FILE), encoding="utf-8") as file:
        height = int(file.read().strip() or 0)
    if os.path.exists(fresh_path):
        if os.path.exists(ledger):
            serial = 1
            while os.path.exists(os.path.join(data_dir, f"ledger.diverged-{serial}")):
                serial += 1
            os.replace(ledger, os.path.join(data_dir, f"ledger.diverged-{serial}"))
            log.warning("the old store is kept as ledger.diverged-%d", serial)
        os.replace(fresh_path, ledger)
        _sync_dir(data_dir)
    for name in (HALTED_FILE, REBUILT_FILE):
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(data_dir, name))
    _sync_dir(data_dir)
    return height


def _write_durably(path: str, text: str) -> None:
    with open(path + ".tmp", "w", encoding="utf-8") as file:
        file.write(text + "\n")
        file.flush()
        os.fsync(file.fileno())
    os.replace(path + ".tmp", path)
    _sync_dir(os.path.dirname(path))


def _sync_dir(path: str) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
