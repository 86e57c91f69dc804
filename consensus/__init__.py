"""PBFT as a pure state machine (Castro & Liskov, OSDI '99 / TOCS 2002, signatures not MACs).

Theory of operation
-------------------
`Replica.handle(event) -> list[Action]` is the whole interface (`consensus.events`). The
replica does no I/O and reads no clock: time comes in `Tick(now_ms)`, bytes in
`MessageReceived`, transactions in `TxsAdmitted`, execution results in `BlockExecuted` and
`StateTransferred`. The host carries out the actions in list order: `Persist` (synced) before
any later `Send`/`Broadcast`; `Commit` blocks are executed strictly in height order and
answered with `BlockExecuted`; `FetchBlocks` is answered with `StateTransferred`.

Normal case. n operators (n = 3f + 1; n = 1 is a one-node dev chain), quorum
`quorum.quorum_size(n)` (2f + 1). The primary of view v is operators[v mod n]. It cuts a block
when max_block_txs/max_block_bytes are reached or the oldest pending tx waited
max_block_delay_ms; block time = max(now, previous block time); seq = height. PRE-PREPARE ->
PREPARE (every replica, the primary included) -> COMMIT; a quorum of COMMITs for one
(view, seq, hash) is a `CommitCertificate` and the block is emitted as `Commit`, in order.
Pipelining: up to max_pipeline blocks beyond the last committed one, inside the watermark
window (h, h + L]. A replica PREPAREs seq s+1 only once it has prepared s in the same view
and s+1's prev_hash is s's hash (DESIGN.md); so a prepared s+1 implies f+1 honest replicas
prepared s, which is why a NEW-VIEW never needs null blocks (see `view_change`).

Checks on a PRE-PREPARE: from the primary of its view; block consistent, right chain, height
= seq, header view = the view, proposer = that primary, within max_block_txs/bytes, time
<= now + max_clock_skew_ms; and, before PREPARE, prev_hash = the previous block's hash and
time >= its time. Transactions' own signatures and expiry are the executor's to check.

Checkpoints. After executing a multiple of K, a replica signs CHECKPOINT(seq, app_hash); a
quorum of matching ones is a stable checkpoint: the low watermark moves, the log and the
persisted votes at or below it are dropped. A stable checkpoint (or a NEW-VIEW's) above
what this replica committed makes it emit `FetchBlocks`; so does a quorum of COMMITs above
a hole it cannot fill, after view_timeout_ms / 2.

View change. A request timer (view_timeout_ms) runs while transactions are pending; on
expiry, or on f+1 VIEW-CHANGEs for later views, the replica persists its new view and sends
VIEW-CHANGE(stable checkpoint + proof, prepared certificates above it). With a quorum of
them it starts a view-change timer; the new primary sends NEW-VIEW (the VIEW-CHANGEs used
and the re-proposed blocks, original bytes); every replica recomputes it
(`view_change.check_new_view`). A timer that expires moves to the next view; the timeout
doubles per consecutive view change and resets when a block commits.

Crash safety. Before it sends a vote the replica persists it (keys `pre_prepare/<seq>`,
`prepare/<seq>`, `commit/<seq>` (with its prepared certificate), `view`, `view_change`,
`new_view`, `checkpoint`) and on restart refuses to sign a vote for another hash at the
same (kind, view, seq) or for an older view. A restarted replica re-sends its own
VIEW-CHANGE / NEW-VIEW / pre-prepares.

Errors. Bad input from a peer is dropped and counted in `Replica.stats` (`dropped_*`,
`in_*`, `out_*`, ...) and changes nothing. A broken invariant, including a host that breaks
its side of the contract, is an AssertionError.

What this package may not do: import asyncio, aiohttp, plyvel, time, random, socket,
threading, logging, os or node (tests/consensus/test_purity.py); use floats; iterate over
anything whose order could differ between nodes.

Known limits. VIEW-CHANGE carries whole blocks, so the largest message is bounded but big
(`constants.max_message_bytes`: about L x max_block_bytes x (quorum + 1)). No retransmission
of normal-case messages: a replica that misses messages catches up by state transfer.
"""
