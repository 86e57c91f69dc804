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
# Slack on top of the block bytes a PRE-PREPARE or BLOCK carries (type, view, seq, sender,
# signature: a few hundred bytes), generously.

MAX_MESSAGE_BYTES = 15 * 1024 * 1024
# No consensus message a replica emits or accepts is larger (#11 item 3): the p2p transport
# drops frames over 16 MiB, and its own framing needs far less than the 1 MiB left. A
# configuration whose largest message could exceed it is refused (`ReplicaConfig.check`).

VOTE_MAX_BYTES = 320
# An encoded PREPARE, COMMIT or CHECKPOINT of an honest replica: about 230 bytes with a
# 64-character operator name (type, view, seq, hash 32, sender, signature 64, map keys).

MAX_CHAIN_ID_BYTES = 256  # the chain id is in every block header

BY_HASH_PRE_PREPARE_MAX_BYTES = 1024
# A PRE-PREPARE whose block is its header only (a re-proposal, the block of a prepared
# certificate): the header (chain id, two hashes, proposer, four integers) and the
# PRE-PREPARE's own fields, about 420 bytes plus the chain id.

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

BODY_REQUESTS_PER_TIMEOUT = 4
# A replica missing re-proposed bodies repeats its BLOCK-REQUEST every view_timeout_ms / 4, and
# answers one peer's request at most that often: several tries before the view could time
# out, while one peer's requests (small) cannot make it send bodies (large) more often.

KEPT_BODIES_PER_SEQ = 4
# Bodies of blocks a replica PREPAREd, kept per seq until a stable checkpoint passes it
# (consensus.bodies). A second one at a seq needs a view change without a commit in between
# whose primary proposed afresh there; each such view change doubles the timeout, so four
# cover the first minute or so of failed views. Beyond, the oldest view's body goes (a
# re-proposal of it then needs another replica's copy). With the window, this bounds what a
# replica keeps to 4 L blocks.

VIEWS_AHEAD_KEPT_PER_OPERATOR = 4
# A replica keeps a VIEW-CHANGE, buffers a message and checks a NEW-VIEW at most 4n views
# above its own: enough for every operator to have timed out a few times over while this
# replica was cut off; beyond it, it joins by the f+1 rule first, so a peer's ever-higher
# views cost nothing but one counter.

MAX_TXS_PER_EVENT = 100_000  # one TxsAdmitted; same bound as the default max_pending

BLOCK_OVERHEAD_BYTES = 1024  # header and framing of an encoded block, generously
TX_OVERHEAD_BYTES = 16  # msgpack framing of one [body, sig] pair in a block (11 at most)


def max_view_change_bytes(watermark_window: int, quorum: int) -> int:
    """The largest VIEW-CHANGE an honest replica sends: a stable checkpoint proof (a quorum
    of CHECKPOINTs) and at most one prepared certificate per seq of the window, each a
    PRE-PREPARE by hash and a quorum of PREPAREs. Blocks travel by hash, so block size does
    not enter."""
    certificate = BY_HASH_PRE_PREPARE_MAX_BYTES + quorum * VOTE_MAX_BYTES
    return SMALL_MESSAGE_BYTES + quorum * VOTE_MAX_BYTES + watermark_window * certificate


def max_new_view_bytes(watermark_window: int, quorum: int) -> int:
    """A NEW-VIEW: a quorum of VIEW-CHANGEs and a re-proposal by hash per seq of the window."""
    return (SMALL_MESSAGE_BYTES + quorum * max_view_change_bytes(watermark_window, quorum)
            + watermark_window * BY_HASH_PRE_PREPARE_MAX_BYTES)


def max_message_bytes(watermark_window: int, max_block_bytes: int, quorum: int) -> int:
    """The largest consensus message a replica sends or accepts: a PRE-PREPARE or a BLOCK
    with a full block, or a NEW-VIEW, whichever is larger. `ReplicaConfig.check` refuses a
    configuration for which it exceeds MAX_MESSAGE_BYTES."""
    return max(max_block_bytes + MESSAGE_OVERHEAD_BYTES,
               max_new_view_bytes(watermark_window, quorum))
