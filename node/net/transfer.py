"""State transfer pieces shared by the node (node.app) and the simulator (node.sim): the serving
side, the block check, and the write-ahead step. The catching-up side is node.net.fetch.

A node serves committed blocks with their certificates from its store; a node catching up
accepts a block only if its commit certificate carries 2f+1 valid votes of genesis operators
and its header commits to its transactions, signatures included. Whether it extends the
chain is the caller's check (it knows its own tip).
"""

from __future__ import annotations

from typing import Any

from consensus import codec
from consensus.block import Block, CommitCertificate, check_certificate
from node.storage import KV
from node.storage import schema as s

FETCH_BATCH = 64  # blocks per state-transfer answer, at most ...
FETCH_MAX_BYTES = 8 * 1024 * 1024  # ... and about this many bytes: half the p2p frame limit
# (16 MiB). One block always goes, and genesis caps a block at MAX_BLOCK_BYTES_LIMIT (8 MiB),
# so an answer of one block and its certificate still fits a frame.


def blocks_to_serve(store: KV, height: int, start: Any, stop: Any) -> list[list[bytes]]:
    """[[block bytes, certificate bytes], ...] for start..stop, within what is executed, at most
    FETCH_BATCH blocks and FETCH_MAX_BYTES (but always the first block)."""
    start, stop = int(start), int(stop)
    stop = min(stop, height, start + FETCH_BATCH - 1)
    blocks: list[list[bytes]] = []
    size = 0
    for h in range(max(start, 1), stop + 1):
        block = store.get(s.block_key(h))
        cert = store.get(s.cert_key(h))
        if block is None or cert is None:
            break
        size += len(block) + len(cert)
        if blocks and size > FETCH_MAX_BYTES:
            break
        blocks.append([block, cert])
    return blocks


def verify_block(chain: str, operators: dict[str, bytes], block_bytes: bytes,
                 cert_bytes: bytes) -> tuple[Block, CommitCertificate] | str:
    """The block and certificate if 2f+1 genesis operators committed it; else the reason."""
    try:
        block = Block.decode(block_bytes)
        cert = CommitCertificate.decode(cert_bytes)
        if block.header.chain != chain:
            return f"block of chain {block.header.chain!r}"
        if not block.is_consistent():
            return "tx_root does not match the transactions"
        problem = check_certificate(cert, chain, operators, block.hash, block.height)
    except (codec.EncodingError, ValueError, TypeError, KeyError, IndexError,
            AttributeError) as error:  # whatever a peer sends, it is the peer's fault
        return f"malformed block or certificate: {error}"
    return problem if problem is not None else (block, cert)

