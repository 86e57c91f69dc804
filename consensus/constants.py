"""Limits of the consensus core, each with the reason for its value.

Per-deployment limits (batch size, watermark window, timeouts) live in `ReplicaConfig`; the
fixed ones below bound what a peer can make a replica decode or keep.
"""

from __future__ import annotations

HASH_BYTES = 32  # sha256 digests: block hashes, app hashes
SIGNATURE_BYTES = 64  # Ed25519
PUBLIC_KEY_BYTES = 32  # Ed25519

MAX_OPERATORS = 128  # n; every phase is n^2 messages, and a consortium is tens of institutions
MAX_NAME_CHARS = 64  # operator names in genesis are short institution names
MAX_COUNTER = 2**62  # views and heights; far beyond any reachable value, well inside msgpack u64

SMALL_MESSAGE_BYTES = 4 * 1024
# PREPARE, COMMIT and CHECKPOINT are a handful of fixed-size fields (~250 bytes); anything
# larger is garbage and is refused before it is decoded.

MESSAGE_OVERHEAD_BYTES = 64 * 1024
# Slack on top of the block bytes a message may carry: headers, signatures and certificates
# (a prepared certificate is 2f+1 PREPAREs of ~250 bytes; n <= MAX_OPERATORS).

MAX_TIMEOUT_DOUBLINGS = 10
# A timeout doubles on each consecutive failed view change; 2 s * 2^10 is about half an hour,
# after which doubling again would only slow recovery once the network heals.

CHECKPOINTS_KEPT_PER_SENDER = 4
# CHECKPOINT votes kept per operator (its highest seqs). A lagging replica must accept
# checkpoints far above its own window to learn where the others are, so the bound is per
# sender rather than per seq range.

FUTURE_VIEW_BUFFER_PER_SENDER = 256
# PRE-PREPARE/PREPARE/COMMIT for a view this replica has not entered yet (a NEW-VIEW still in
# flight on another link). Enough for a pipeline of a few windows; beyond it they are dropped
# and the sender's retransmission after the view starts is relied on.

COMMITTED_TX_MEMORY = 200_000
# Ids of recently committed transactions kept to ignore a late TxsAdmitted for them. The
# node's mempool checks its tx index too; this only stops a primary re-proposing a tx that a
# slow mempool re-admits. About 6 MB.

REQUEST_PATIENCE_TIMEOUTS = 8
# The request timer times the oldest pending request. While full blocks commit (a saturated
# primary works through a queue in admission order) it restarts, but a request never waits
# more than this many timeouts in one view: a primary that pads every block cannot censor
# one client for ever.

MAX_TXS_PER_EVENT = 100_000  # one TxsAdmitted; same bound as the default max_pending


def max_message_bytes(watermark_window: int, max_block_bytes: int, quorum: int) -> int:
    """The largest consensus message a replica accepts.

    A VIEW-CHANGE carries at most one prepared certificate, with its block, per seq in the
    watermark window; a NEW-VIEW carries a quorum of VIEW-CHANGEs plus the re-proposed
    blocks. Bounded, but large: see the package docstring ("Known limits").
    """
    view_change = MESSAGE_OVERHEAD_BYTES + watermark_window * (
        max_block_bytes + MESSAGE_OVERHEAD_BYTES)
    return view_change * (quorum + 1) + MESSAGE_OVERHEAD_BYTES
