"""What a host feeds a `Replica` (events) and what it gets back (actions).

Plain frozen data, no behaviour: the node runtime and the simulator build events from the
world and carry out the actions, in list order. See `consensus/__init__.py` for the rules a
host must follow (persist before send, execute commits in order, answer FetchBlocks).
BLOCK-REQUEST / BLOCK (block bodies for re-proposals held by hash) are consensus messages
carried by Send / Broadcast and MessageReceived like the others: no action or event of their
own. Every Send / Broadcast payload is at most `Replica.max_message_bytes` (<=
`constants.MAX_MESSAGE_BYTES`, under the p2p frame limit).
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus.block import Block, CommitCertificate

# -- inputs that are not events ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Executed:
    """The last block the node's executor applied (height 0, ZERO_HASH, the genesis app hash
    and the genesis time for a new chain)."""

    height: int
    block_hash: bytes
    app_hash: bytes
    time: int


@dataclass(frozen=True, slots=True)
class PendingTx:
    """A transaction admitted to the node's mempool: its id, exact bytes and expiry (ms)."""

    tx_id: bytes
    body: bytes
    sig: bytes
    expires: int


# -- events ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passes (virtual or wall-clock ms, never decreasing). The replica checks its own
    deadlines: batch delay, request timer, view-change timer, state-transfer retry."""

    now_ms: int


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """Raw bytes from operator `sender`, whose identity the link has authenticated."""

    sender: str
    data: bytes


@dataclass(frozen=True, slots=True)
class TxsAdmitted:
    """Transactions admitted to this node's mempool. Fed on every replica: the primary
    batches them and every replica runs a request timer for them.

    `relayer` is the node they came through, their lane (consensus.requests): "" for this
    node's own clients, else the peer that relayed them; the primary proposes round-robin
    across lanes. `timed` is False for what a peer relayed past its fair share (the host's
    mempool decides): proposed in its lane's turn, never waited for by the request timer.
    Transactions already pending join `relayer`'s lane too."""

    txs: tuple[PendingTx, ...]
    relayer: str = ""
    timed: bool = True


@dataclass(frozen=True, slots=True)
class BlockExecuted:
    """The executor applied the block of the last `Commit` for `height` (in height order)."""

    height: int
    block_hash: bytes
    app_hash: bytes


@dataclass(frozen=True, slots=True)
class StateTransferred:
    """After a `FetchBlocks`: the node fetched, verified and executed blocks up to `height`.

    `committed_tx_ids` (optional, an addition to the brief) lists the ids of the transactions
    in the transferred blocks so that they leave the replica's pending set; left empty, those
    transactions stay pending until they expire and may fire a spurious request timer."""

    height: int
    block_hash: bytes
    app_hash: bytes
    time: int
    committed_tx_ids: tuple[bytes, ...] = ()


Event = Tick | MessageReceived | TxsAdmitted | BlockExecuted | StateTransferred

# -- actions -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Persist:
    """Write `value` under `key`, durably (synced), before carrying out any later Send or
    Broadcast of the same list. `value == b""` means: delete `key` (the replica prunes what it
    persisted below its stable checkpoint). On restart, pass every live key back in
    `restored`. Keys are short ASCII strings (`view`, `checkpoint`, `prepare/<seq>`, ...)."""

    key: str
    value: bytes


@dataclass(frozen=True, slots=True)
class Send:
    to: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send `data` to every other operator."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Commit:
    """`block` is committed; emitted strictly in height order, each height once. The host
    executes it and answers `BlockExecuted`."""

    block: Block
    certificate: CommitCertificate


@dataclass(frozen=True, slots=True)
class FetchBlocks:
    """State transfer: fetch blocks `from_height..to_height` (inclusive) with their commit
    certificates from peers, check each with `check_certificate` against the genesis keys,
    execute them, then answer `StateTransferred`. The replica emits no `Commit` for these
    heights meanwhile; it may ask again (same or larger range) if no answer comes."""

    from_height: int
    to_height: int


@dataclass(frozen=True, slots=True)
class ViewChanged:
    """Informational: the replica entered `view`, whose primary is `primary`."""

    view: int
    primary: str


Action = Persist | Send | Broadcast | Commit | FetchBlocks | ViewChanged
