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
max_block_delay_ms, round-robin across the lanes of the nodes the txs came through
(`consensus.requests`); block time = max(now, previous block time); seq = height. PRE-PREPARE ->
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

View change. A request timer times the oldest timed request (view_timeout_ms from its
admission or the view's start; full blocks committing postpone it, at most
REQUEST_PATIENCE_TIMEOUTS timeouts), so a primary that commits others' requests but leaves
one out is replaced. On expiry, or when f+1 operators signed messages of later views (any
kind, however far ahead: VIEW-CHANGEs, votes, ...), the replica persists its new view and
sends VIEW-CHANGE(stable checkpoint + proof, prepared certificates above it). With a quorum
of them for its view, or a quorum for this view or later ones (views split by a lost
VIEW-CHANGE), it starts a view-change timer; the new primary sends NEW-VIEW (the
VIEW-CHANGEs used and the re-proposals); every replica recomputes it
(`view_change.check_new_view`), persists it and then its view, and only then sends anything
in that view. A timer that expires moves to the next view; the timeout doubles per
consecutive view change and resets when a block commits. VIEW-CHANGEs are kept (one per
sender, at most 4n views ahead) and checked only when a NEW-VIEW needs them. A VIEW-CHANGE
for a view this replica has left or finished is answered (at most once per half timeout per
peer): by the NEW-VIEW from the primary, by the current VIEW-CHANGE from others. What a peer
relayed past its fair share is proposed in its lane's turn but not timed (`consensus.requests`).

Blocks by hash. Prepared certificates in a VIEW-CHANGE and re-proposals in a NEW-VIEW carry
each block cut to its header (`PrePrepare.by_hash`: the signature covers only the block
hash, which is the header's hash), so neither grows with block size. Castro and Liskov's
rule keeps the bodies available (`consensus.bodies`): a replica keeps the body of every
block it PREPAREd, persisted, until a stable checkpoint passes it, and votes for a
re-proposal only once it holds the body, so a prepared block's body is on f+1 honest
replicas and no block commits without one. A replica takes a re-proposal's body from its
log (slots, prepared certificates, kept bodies) or asks every peer with BLOCK-REQUEST(view,
hashes), repeated every quarter timeout; a peer in that view answers with one BLOCK per
body its NEW-VIEW re-proposed (the hashes are distinct), at most max_pipeline x
max_block_bytes per answer and one answer per quarter timeout per peer; each body is checked
against the hash and the tx root. Every message a replica emits is
at most `constants.max_message_bytes(...)`, which `Replica` asserts is at most
MAX_MESSAGE_BYTES (15 MiB, under the 16 MiB p2p frame limit): a PRE-PREPARE or BLOCK with
one block, or a NEW-VIEW of a quorum of VIEW-CHANGEs of L certificates by hash.

Host contract for these messages: nothing new. BLOCK-REQUEST and BLOCK are consensus
messages like the others (Send / Broadcast out, MessageReceived in), so the node and the
simulator carry them as they carry PREPAREs; no new Action or Event.

Crash safety (`consensus.wal`: the key schema, the signed votes, and `restore`, which reads
them back). Before it sends a vote the replica persists it (keys `pre_prepare/<seq>`,
`prepare/<seq>` (after `body/<seq>/<hash>`, the body it PREPAREs), `commit/<seq>` (with
its prepared certificate), `view`, `view_change`, `new_view` (every replica: the NEW-VIEW
of the view it is in), `checkpoint`) and on restart refuses to sign a vote for another hash
at the same (kind, view, seq) or for an older view, and refuses a fresh PRE-PREPARE for a
seq its NEW-VIEW fixed. A restarted replica re-sends its own VIEW-CHANGE / NEW-VIEW /
fresh pre-prepares, asks for the bodies of re-proposals it holds by hash, and, active in a
view whose NEW-VIEW its disk lacks, re-sends its VIEW-CHANGE so the primary sends the
NEW-VIEW again.

Errors. Bad input from a peer is dropped and counted in `Replica.stats` (`dropped_*`,
`in_*`, `out_*`, ...) and changes nothing. A broken invariant, including a host that breaks
its side of the contract, is an AssertionError.

What this package may not do: import asyncio, aiohttp, plyvel, time, random, socket,
threading, logging, os or node (tests/consensus/test_purity.py); use floats; iterate over
anything whose order could differ between nodes.

Known limits. A NEW-VIEW still carries a quorum of VIEW-CHANGEs with a quorum of PREPAREs
per certificate, so its bound grows with quorum^2 x L: with L = 64, up to about 40
operators fit MAX_MESSAGE_BYTES (a larger committee needs a smaller window; `Replica`
refuses a configuration that does not fit). No retransmission of normal-case messages: a
replica that misses messages catches up by state transfer.
"""
