"""Client transactions between nodes: the "t" frames a node sends its peers with what it
admitted (and re-sends after a view change or a lost frame). A frame carries at most
GOSSIP_BATCH transactions and about GOSSIP_MAX_BYTES, well under the p2p frame limit (16 MiB),
however large each transaction is (node.admission.tx caps one at 64 KiB)."""

from __future__ import annotations

from collections.abc import Iterator

from consensus import codec
from node.admission.tx import Transaction

GOSSIP_BATCH = 500  # client transactions per "t" frame, at most ...
GOSSIP_MAX_BYTES = 4 * 1024 * 1024  # ... and about this many bytes


def gossip_frames(txs: list[Transaction]) -> Iterator[bytes]:
    """"t" frames of at most GOSSIP_BATCH transactions and about GOSSIP_MAX_BYTES each."""
    pairs: list[list[bytes]] = []
    size = 0
    for tx in txs:
        pairs.append([tx.body_bytes, tx.sig])
        size += len(tx.body_bytes) + len(tx.sig)
        if len(pairs) >= GOSSIP_BATCH or size >= GOSSIP_MAX_BYTES:
            yield codec.pack(["t", pairs])
            pairs, size = [], 0
    if pairs:
        yield codec.pack(["t", pairs])
