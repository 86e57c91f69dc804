"""Client transactions between nodes: the "t" frames a node sends its peers with what it
admitted (and re-sends after a view change or a lost frame). A frame carries at most
GOSSIP_BATCH transactions and about GOSSIP_MAX_BYTES, well under the p2p frame limit (16 MiB),
however large each transaction is (node.admission.tx caps one at 64 KiB).

On the receiving side (`admit_relayed`) each transaction goes into the pool as relayed by the
peer that sent the frame, in that peer's lane (node.admission.mempool), and the replica hears
of it in the same lane (consensus.requests): timed within the peer's fair share, untimed past
it, and a transaction already pending joins the peer's lane too.

A backup sends what it admitted timed from a peer on to the primary at once (`to_primary`), as
PBFT's backups relay a client's request to the primary: its request timer now waits for
them, and a member that relayed them to backups only, never to the primary, made honest
backups suspect an honest primary (docs/redteam-security.md, finding 2; the pool's
re-submission comes only after RESUBMIT_AFTER_MS, past the view timeout). A frame from the
primary itself, and what was pending already, go nowhere; a pair whose body is pending
already is taken without decoding it (the primary gets n - 2 such forwards per transaction).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from consensus import codec
from consensus.events import PendingTx, TxsAdmitted
from node.admission.mempool import Mempool
from node.admission.tx import Transaction, TxError, decode_body

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


def admit_relayed(mempool: Mempool, peer: str, pairs: Any, now_ms: int,
                  refused: Callable[[str], None]) -> list[TxsAdmitted]:
    """Admit the [body, sig] pairs of a "t" frame from `peer` (at most GOSSIP_BATCH); what
    to tell the replica. Each pair it refuses is counted by code with `refused`."""
    timed: list[PendingTx] = []
    untimed: list[PendingTx] = []
    for pair in pairs[:GOSSIP_BATCH] if isinstance(pairs, list) else ():
        if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], bytes)
                and isinstance(pair[1], bytes)):
            refused("bad_encoding")
            continue
        known = mempool.pending.get(codec.sha256(pair[0]))
        if known is not None:  # a backup's forward of what the primary has: no decode
            refused("duplicate")
            untimed.append(PendingTx(known.tx_id, known.body_bytes, known.sig, known.expires))
            continue
        try:
            tx = decode_body(pair[0], pair[1])
        except TxError as error:
            refused(error.code)
            continue
        try:
            lane = timed if mempool.admit(tx, now_ms, relayed=True, peer=peer) else untimed
        except TxError as error:
            refused(error.code)
            if tx.tx_id not in mempool:
                continue
            lane = untimed  # pending already: it joins this peer's lane as it is (timed or not)
        lane.append(PendingTx(tx.tx_id, tx.body_bytes, tx.sig, tx.expires))
    return [TxsAdmitted(tuple(txs), peer, is_timed)
            for txs, is_timed in ((timed, True), (untimed, False)) if txs]


def to_primary(admitted: list[TxsAdmitted]) -> bytes | None:
    """The "t" frame that sends a backup's timed relays on to the primary (module
    docstring), or None; `admitted` came from one frame, so it fits in one."""
    pairs = [[tx.body, tx.sig] for event in admitted if event.timed for tx in event.txs]
    return codec.pack(["t", pairs]) if pairs else None
