"""Check a node's store offline: replay every block from genesis into memory and compare.

After a crash (or at any time, with the node stopped) this shows that the store is
consistent: blocks chain from genesis with valid commit certificates, and the state, tx index,
receipts, hook events and app hash on disk are exactly what executing those blocks gives.
`stoledger node check --config ...` runs it.
"""

from __future__ import annotations

from collections.abc import Callable

import chaincode
from consensus.block import check_certificate
from genesis.schema import Genesis
from node.ledger.executor import Executor
from node.storage import KV, MemoryKV
from node.storage import schema as s


def check_store(store: KV, genesis: Genesis,
                progress: Callable[[int, int], None] | None = None) -> list[str]:
    """Problems found (empty when the store is consistent)."""
    problems: list[str] = []
    registry = chaincode.builtin_registry(genesis.params)
    replay = Executor(MemoryKV(), registry, genesis.chain_id)
    replay.init_genesis(genesis.hash, genesis.genesis_time,
                        genesis.initial_state())
    stored = Executor(store, registry, genesis.chain_id)
    height = stored.height
    for h in range(1, height + 1):
        block, cert = stored.block(h), stored.certificate(h)
        if block is None or cert is None:
            problems.append(f"height {h}: block or certificate missing")
            break
        if block.header.prev_hash != replay.last_block_hash or not block.is_consistent():
            problems.append(f"height {h}: block does not extend the chain or its tx_root")
            break
        problem = check_certificate(cert, genesis.chain_id, genesis.operator_keys(),
                                    block.hash, h)
        if problem:
            problems.append(f"height {h}: {problem}")
        applied = replay.apply(block, cert)
        for receipt in applied.receipts:
            if stored.receipt(receipt.tx_id) != receipt:
                problems.append(f"height {h}: receipt of {receipt.tx_id.hex()} differs")
        if stored.hook_events_at(h) != applied.hook_events:
            problems.append(f"height {h}: the begin-block hooks' events differ")
        if progress is not None:
            progress(h, height)
    if store.get(s.block_key(height + 1)) is not None:
        problems.append(f"a block above the last applied height {height} is stored")
    if replay.app_hash != stored.app_hash:
        problems.append("app hash on disk differs from the replayed one")
    for prefix, name in ((s.STATE, "state"), (s.TX, "tx index"), (s.HISTORY, "history")):
        mine = dict(store.iterate(prefix))
        theirs = dict(replay.store.iterate(prefix))
        if mine != theirs:
            differing = sorted(set(mine) ^ set(theirs) | {k for k in mine.keys() & theirs.keys()
                                                          if mine[k] != theirs[k]})
            problems.append(f"{name} differs from the replay at {len(differing)} keys, "
                            f"e.g. {differing[0]!r}")
    return problems
