"""`Replica`: one operator's PBFT state machine, `handle(event) -> list[Action]`.

The handler owns control flow; `messages`, `quorum`, `log` and `view_change` compute. Every
`_on_*` method first checks its input completely and returns (counting the reason in
`stats`) before it changes anything, so bad input from a peer leaves the replica unchanged.
A broken internal invariant (including a host that breaks its side of the contract, e.g. a
`BlockExecuted` for a block never committed) is an AssertionError.
"""

from __future__ import annotations

from typing import Any

from consensus import messages as msg
from consensus import wal
from consensus.block import ZERO_HASH, Block, CommitCertificate, Vote, make_block
from consensus.bodies import BodyFetch, KeptBodies
from consensus.checkpoints import OwnCheckpoints
from consensus.config import ReplicaConfig
from consensus.constants import (
    BODY_REQUESTS_PER_TIMEOUT,
    MAX_CHAIN_ID_BYTES,
    MAX_COUNTER,
    MAX_MESSAGE_BYTES,
    MAX_TIMEOUT_DOUBLINGS,
    MAX_TXS_PER_EVENT,
    VIEWS_AHEAD_KEPT_PER_OPERATOR,
    max_message_bytes,
    max_view_change_bytes,
)
from consensus.crypto import Signer
from consensus.events import (
    Action,
    BlockExecuted,
    Broadcast,
    Commit,
    Event,
    Executed,
    FetchBlocks,
    MessageReceived,
    PendingTx,
    Persist,
    Send,
    StateTransferred,
    Tick,
    TxsAdmitted,
    ViewChanged,
)
from consensus.future import FutureBuffer, budget_bytes
from consensus.log import MessageLog, Slot
from consensus.outbox import Outbox
from consensus.quorum import Committee
from consensus.requests import RequestPool
from consensus.view_change import (
    NewViewPlan,
    check_new_view,
    check_view_change,
    compute_new_view,
    re_proposals,
    select_view_changes,
)
from consensus.view_sync import ViewSync
from consensus.wal import KEY_CHECKPOINT, KEY_NEW_VIEW, KEY_VIEW, KEY_VIEW_CHANGE, SignedVotes

__all__ = [
    "Action", "BlockExecuted", "Broadcast", "Commit", "Event", "Executed", "FetchBlocks",
    "MessageReceived", "PendingTx", "Persist", "Replica", "ReplicaConfig", "Send",
    "StateTransferred", "Tick", "TxsAdmitted", "ViewChanged",
]


class Replica:
    """One PBFT replica. See the package docstring for the protocol it runs."""

    def __init__(self, config: ReplicaConfig, signer: Signer,
                 restored: dict[str, bytes] | None, executed: Executed) -> None:
        config.check()
        self.config = config
        self.committee = Committee.of(config.chain, config.operators, config.quorum_override)
        assert self.committee.keys.get(config.me) == signer.public_key, \
            "the signer holds this operator's genesis key"
        self._signer = signer
        self._me = config.me
        self.max_message_bytes = max_message_bytes(
            config.watermark_window, config.max_block_bytes, self.committee.quorum)
        assert self.max_message_bytes <= MAX_MESSAGE_BYTES, (
            f"the largest consensus message ({self.max_message_bytes} bytes) would not fit "
            f"MAX_MESSAGE_BYTES: lower max_block_bytes or watermark_window")
        assert len(config.chain.encode()) <= MAX_CHAIN_ID_BYTES
        self._max_view_change_bytes = max_view_change_bytes(config.watermark_window,
                                                            self.committee.quorum)
        self._limits = msg.DecodeLimits(self.max_message_bytes, self.committee.n,
                                        config.watermark_window)
        # A NEW-VIEW re-proposes what its primary had in flight, at most max_pipeline blocks
        # past the last committed one: one answer to a BLOCK-REQUEST carries that much.
        self.body_answer_bytes = config.max_pipeline * config.max_block_bytes
        self._out = Outbox(signer, config.chain, self.committee.n, self.max_message_bytes)

        self._now_ms = executed.time
        self._view = 0
        self._view_active = True
        self._executed = executed
        self._last_committed = executed.height
        self._tip_hash = executed.block_hash  # hash and time of block `_last_committed`
        self._tip_time = executed.time
        self._unexecuted: dict[int, Block] = {}  # committed, not yet BlockExecuted
        self._stable = msg.CheckpointProof(0, ZERO_HASH, ())  # genesis: no votes needed
        self._log = MessageLog(config.watermark_window, 0, 0)
        self._own_checkpoints = OwnCheckpoints()  # the CHECKPOINTs I signed (R1: repeated)

        self._requests = RequestPool(config.max_pending)
        self._view_started_ms = self._now_ms  # request timers count from here at the latest
        self._view_change_deadline: int | None = None
        self._view_change_resend_at = 0  # until a quorum of VIEW-CHANGEs: when to repeat ours
        self._consecutive_view_changes = 0

        self._view_sync = ViewSync()  # peers' VIEW-CHANGEs and views, answers to those behind
        self._my_view_change: msg.ViewChange | None = None
        self._new_view: msg.NewView | None = None  # the NEW-VIEW that started this view
        self._new_view_top = 0  # seqs up to here are fixed by that NEW-VIEW
        self._future = FutureBuffer(budget_bytes(config.max_pipeline, config.max_block_bytes))
        self._bodies = BodyFetch()  # re-proposals held by hash whose bodies are wanted
        self._kept = KeptBodies()  # bodies of the blocks this replica PREPAREd

        self._votes = SignedVotes()

        self._fetch_target: int | None = None
        self._fetch_deadline = 0
        self._lag_since: int | None = None
        self._resend_after_restart = False
        if restored:
            self._restore(restored)

    # -- read-only status ----------------------------------------------------------------------

    @property
    def view(self) -> int:
        return self._view

    @property
    def primary(self) -> str:
        return self.committee.primary(self._view)

    @property
    def is_primary(self) -> bool:
        return self.primary == self._me

    @property
    def in_view_change(self) -> bool:
        return not self._view_active

    @property
    def low_watermark(self) -> int:
        return self._log.low_watermark

    @property
    def stable_checkpoint(self) -> int:
        return self._stable.seq

    @property
    def stable_app_hash(self) -> bytes:
        """The app hash 2f+1 operators signed at the stable checkpoint."""
        return self._stable.app_hash

    @property
    def last_committed(self) -> int:
        return self._last_committed

    @property
    def last_executed(self) -> int:
        return self._executed.height

    @property
    def pending_count(self) -> int:
        return len(self._requests)

    @property
    def stats(self) -> dict[str, int]:
        return dict(sorted(self._out.stats.items()))

    @property
    def log_size(self) -> int:
        return self._log.size()

    @property
    def view_timeout_ms(self) -> int:
        """The request / view-change timeout now in force (doubles per failed view change)."""
        doublings = min(max(self._consecutive_view_changes - 1, 0), MAX_TIMEOUT_DOUBLINGS)
        return self.config.view_timeout_ms << doublings

    @property
    def request_deadline(self) -> int | None:
        return self._requests.deadline

    @property
    def view_change_deadline(self) -> int | None:
        return self._view_change_deadline

    # -- the one entry point -------------------------------------------------------------------

    def handle(self, event: Event) -> list[Action]:
        assert self._out.is_empty(), "handle is not re-entrant"
        if isinstance(event, Tick):  # the clock first: the re-send below schedules from now
            self._now_ms = max(self._now_ms, event.now_ms)
        if self._resend_after_restart:
            self._resend_after_restart = False
            self._resend_own_view_messages()
        if isinstance(event, MessageReceived):
            self._on_message(event)
        elif isinstance(event, Tick):
            self._on_tick(event)
        elif isinstance(event, TxsAdmitted):
            self._on_txs_admitted(event)
        elif isinstance(event, BlockExecuted):
            self._on_block_executed(event)
        elif isinstance(event, StateTransferred):
            self._on_state_transferred(event)
        else:
            raise AssertionError(f"unknown event {type(event).__name__}")
        return self._out.take()

    # -- small helpers -------------------------------------------------------------------------

    def _may_sign(self, kind: str, view: int, seq: int, digest: bytes) -> bool:
        """False (counted) if signing would contradict a vote this replica signed."""
        if self._votes.may_sign(kind, view, seq, digest):
            return True
        self._out.count("refused_conflicting_vote")
        return False

    def _record_signed(self, kind: str, view: int, seq: int, digest: bytes,
                       value: bytes) -> None:
        self._out.persist(self._votes.record(kind, view, seq, digest), value)

    def _timeout(self) -> int:
        return self.view_timeout_ms

    def _in_window(self, seq: int) -> bool:
        return self._log.in_window(seq)

    # -- messages ------------------------------------------------------------------------------

    def _on_message(self, event: MessageReceived) -> None:
        if not self.committee.is_operator(event.sender):
            self._out.drop("unknown_operator")
            return
        if event.sender == self._me:
            self._out.drop("from_self")
            return
        try:
            message = msg.decode(event.data, self._limits)
        except msg.MessageError:
            self._out.drop("undecodable")
            return
        self._out.count(f"in_{message.TYPE}")
        if message.sender != event.sender:
            self._out.drop("sender_mismatch")
            return
        if not msg.is_signed_by_sender(message, self.committee):
            self._out.drop("bad_signature")
            return
        self._dispatch(message)

    def _dispatch(self, message: Any) -> None:
        view = getattr(message, "view", None)
        if view is not None and self._view_sync.note_view(message.sender, view, self._view):
            # a signed announcement that the sender left every view below `view`
            self._maybe_join_later_view()
        self._dispatch_checked(message)

    def _dispatch_checked(self, message: Any) -> None:
        if isinstance(message, msg.PrePrepare):
            self._on_pre_prepare(message)
        elif isinstance(message, msg.Prepare):
            self._on_prepare(message)
        elif isinstance(message, msg.Commit):
            self._on_commit(message)
        elif isinstance(message, msg.Checkpoint):
            self._on_checkpoint(message)
        elif isinstance(message, msg.ViewChange):
            self._on_view_change(message)
        elif isinstance(message, msg.NewView):
            self._on_new_view(message)
        elif isinstance(message, msg.BlockRequest):
            self._on_block_request(message)
        elif isinstance(message, msg.BlockReply):
            self._on_block_reply(message)
        else:
            raise AssertionError("decode returns only known messages")

    def _check_view(self, view: int, message: Any) -> bool:
        """True if `message` (of `view`) belongs to the current, active view. Messages of a
        view not started yet are buffered (bounded); older ones are dropped."""
        if view < self._view:
            self._out.drop("wrong_view")
            return False
        if view > self._view or not self._view_active:
            if view > self._view + self._views_ahead_kept():
                self._out.drop("wrong_view")
                return False
            if not self._future.add(message):
                self._out.drop("future_buffer_full")
                return False
            self._out.count("buffered_future_view")
            return False
        return True

    def _maybe_join_later_view(self) -> None:
        """Signed messages of later views (of any kind, however far ahead) from f+1
        operators: at least one honest replica is there (this one restarted, missed the view
        change, or was cut off for many views). Ask to join the (f+1)-th highest: the
        VIEW-CHANGE makes that view's primary re-send its NEW-VIEW (#11 item 6)."""
        target = self._view_sync.join_target(self._view, self.committee.weak_quorum)
        if target is not None:
            self._out.count("joined_later_view")
            self._start_view_change(target)

    def _check_seq(self, seq: int) -> bool:
        if seq <= self._last_committed:
            self._out.drop("stale")
            return False
        if not self._in_window(seq):
            self._out.drop("outside_watermarks")
            return False
        return True

    def _on_pre_prepare(self, pre_prepare: msg.PrePrepare) -> None:
        if pre_prepare.sender != self.committee.primary(pre_prepare.view):
            self._out.drop("not_primary")
            return
        if pre_prepare.view > self._view or not self._view_active:
            # checked before it may be buffered for a later view (#11 item 9)
            reason = self._check_block_shape(pre_prepare.block, pre_prepare.seq,
                                             pre_prepare.view)
            if reason is not None:
                self._out.drop(reason)
                return
        if not self._check_view(pre_prepare.view, pre_prepare):
            return
        if not self._check_seq(pre_prepare.seq):
            return
        known = self._log.slots.get(pre_prepare.seq)
        if known is not None and known.pre_prepare is not None:
            same = known.pre_prepare.digest == pre_prepare.digest
            if same and known.pre_prepare.is_by_hash and not pre_prepare.is_by_hash:
                # a re-sent re-proposal with its body: the body must be the one certified
                if not pre_prepare.block.is_consistent():
                    self._out.drop("bad_block")
                    return
                self._take_body(pre_prepare.block)
                return
            self._out.drop("duplicate" if same else "conflicting")
            return
        if pre_prepare.seq <= self._new_view_top:
            # fixed by the NEW-VIEW: only its re-proposal (a re-sent one keeps the block's
            # original header view, so it is checked against the NEW-VIEW, not as fresh)
            if not self._is_re_proposal(pre_prepare):
                self._out.drop("conflicting")
                return
            if not pre_prepare.is_by_hash and not pre_prepare.block.is_consistent():
                self._out.drop("bad_block")
                return
            self._out.count("re_proposals_received")
            self._log.slot(pre_prepare.seq).pre_prepare = pre_prepare
            self._advance()
            return
        reason = self._check_fresh_block(pre_prepare.block, pre_prepare.seq, pre_prepare.view)
        if reason is not None:
            self._out.drop(reason)
            return
        self._log.slot(pre_prepare.seq).pre_prepare = pre_prepare
        self._advance()

    def _is_re_proposal(self, pre_prepare: msg.PrePrepare) -> bool:
        """`pre_prepare` is the re-proposal the NEW-VIEW of this view made for its seq."""
        if self._new_view is None or self._new_view.view != pre_prepare.view:
            return False
        return any(p.seq == pre_prepare.seq and p.digest == pre_prepare.digest
                   for p in self._new_view.pre_prepares)

    def _check_fresh_block(self, block: Block, seq: int, view: int) -> str | None:
        if block.header.view != view:
            return "bad_block"
        return self._check_block_shape(block, seq, view)

    def _check_block_shape(self, block: Block, seq: int, view: int) -> str | None:
        """The checks that need no chain context (a re-proposal keeps an older view)."""
        return self.config.block_refusal(block, seq, view, self.committee, self._now_ms)

    def _on_prepare(self, prepare: msg.Prepare) -> None:
        if not self._check_view(prepare.view, prepare) or not self._check_seq(prepare.seq):
            return
        outcome = self._log.prepares.add(prepare.view, prepare.seq, prepare.sender,
                                         prepare.block_hash, prepare)
        if outcome != "added":
            self._out.drop("duplicate" if outcome == "duplicate" else "conflicting")
            return
        self._advance()

    def _on_commit(self, commit: msg.Commit) -> None:
        if not self._check_view(commit.view, commit) or not self._check_seq(commit.seq):
            return
        outcome = self._log.commits.add(commit.view, commit.seq, commit.sender,
                                        commit.block_hash, commit)
        if outcome != "added":
            self._out.drop("duplicate" if outcome == "duplicate" else "conflicting")
            return
        self._advance()

    # -- normal case: prepare, commit, deliver -------------------------------------------------

    def _previous_of(self, seq: int) -> tuple[bytes, int] | None:
        """(hash, time) of block seq-1 if this replica may chain on it in this view: it is
        the last committed block, or it is prepared in this view."""
        if seq - 1 == self._last_committed:
            return self._tip_hash, self._tip_time
        slot = self._log.slots.get(seq - 1)
        if slot is not None and slot.prepared:
            return slot.block.hash, slot.block.header.time
        return None

    def _advance(self) -> None:
        """Send every PREPARE and COMMIT now allowed, in seq order, then deliver commits."""
        if not self._view_active:
            return
        view = self._view
        seq = self._last_committed + 1
        while self._in_window(seq):
            slot = self._log.slots.get(seq)
            if slot is None or slot.pre_prepare is None:
                break
            if slot.block_by_hash:  # votes go only to a block whose body this replica holds
                self._want_body(slot)
                break
            if not slot.prepare_sent and not self._send_prepare(slot):
                break
            if not slot.prepared:
                prepares = self._log.prepares.matching(view, seq, slot.block.hash,
                                                       self.committee)
                if len(prepares) < self.committee.quorum:
                    break
                slot.prepared = True
                self._log.record_prepared(msg.PreparedCertificate(
                    slot.pre_prepare, tuple(prepares[:self.committee.quorum])))
            if not slot.commit_sent and not self._send_commit(slot):
                break
            if not slot.committed_local:
                commits = self._log.commits.matching(view, seq, slot.block.hash, self.committee)
                if len(commits) >= self.committee.quorum:
                    slot.committed_local = True
            seq += 1
        self._deliver_commits()

    def _send_prepare(self, slot: Slot) -> bool:
        previous = self._previous_of(slot.seq)
        if previous is None:
            return False
        block = slot.block
        if block.header.prev_hash != previous[0] or block.header.time < previous[1]:
            self._out.drop("bad_chain")
            slot.pre_prepare = None  # the primary is faulty; the request timer will tell
            return False
        digest = block.hash
        if not self._may_sign("prepare", self._view, slot.seq, digest):
            return False
        prepare = self._out.sign(msg.Prepare(self._view, slot.seq, digest, self._me))
        self._keep_body(block)
        self._record_signed("prepare", self._view, slot.seq, digest, prepare.encode())
        self._out.broadcast(prepare)
        self._log.prepares.add(self._view, slot.seq, self._me, digest, prepare)
        slot.prepare_sent = True
        return True

    def _keep_body(self, block: Block) -> None:
        """Keep (persisted, before the PREPARE leaves) the body of a block this replica
        PREPAREs, until a stable checkpoint passes it (consensus.bodies)."""
        new, evicted = self._kept.keep(self._view, block)
        if new:
            self._out.persist(wal.body_key(block.height, block.hash),
                              wal.body_record(self._view, block))
        for key in evicted:
            self._out.persist(key, b"")

    def _send_commit(self, slot: Slot) -> bool:
        digest = slot.block.hash
        if not self._may_sign("commit", self._view, slot.seq, digest):
            return False
        commit = self._out.sign(msg.Commit(self._view, slot.seq, digest, self._me))
        record = wal.commit_record(commit.encode(), self._log.prepared_certificates[slot.seq])
        self._record_signed("commit", self._view, slot.seq, digest, record)
        self._out.broadcast(commit)
        self._log.commits.add(self._view, slot.seq, self._me, digest, commit)
        slot.commit_sent = True
        return True

    def _deliver_commits(self) -> None:
        delivered = False
        while self._fetch_target is None:
            seq = self._last_committed + 1
            slot = self._log.slots.get(seq)
            if slot is None or not slot.committed_local:
                break
            if slot.block_by_hash:
                self._want_body(slot)  # committed by hash: execution needs the body first
                break
            block = slot.block
            commits = self._log.commits.matching(self._view, seq, block.hash, self.committee)
            assert len(commits) >= self.committee.quorum
            assert block.header.prev_hash == self._tip_hash, "commits extend the chain"
            votes = tuple(Vote(c.sender, self.committee.keys[c.sender], c.sig) for c in commits)
            self._out.emit(Commit(block, CommitCertificate(self._view, seq, block.hash,
                                                                 votes)))
            self._out.count("committed_blocks")
            self._mark_committed(seq, block.hash, block.header.time, slot.tx_ids())
            self._unexecuted[seq] = block
            delivered = True
            if self.config.is_full(block):
                self._requests.note_busy(self._now_ms)
        if delivered:
            self._on_progress()

    def _mark_committed(self, height: int, block_hash: bytes, time: int,
                        tx_ids: tuple[bytes, ...]) -> None:
        self._last_committed = height
        self._tip_hash = block_hash
        self._tip_time = time
        self._requests.remove_committed(tx_ids)

    def _on_progress(self) -> None:
        """A block committed: the view works, so timeouts reset. The request timer does not
        restart for the requests still pending (see `_arm_request_timer`)."""
        self._consecutive_view_changes = 0
        self._lag_since = None
        self._arm_request_timer()
        self._maybe_propose()

    def _arm_request_timer(self) -> None:
        """The request timer times the oldest pending request, not the time since any block
        committed (`RequestPool.arm_timer`; #11 item 5)."""
        self._requests.arm_timer(self._view_active, self._view_started_ms, self._timeout())

    # -- the primary: batching and pipelining --------------------------------------------------

    def _proposal_tip(self) -> tuple[int, bytes, int]:
        """(seq, hash, time) of the last block of this view's chain so far."""
        seq, tip_hash, tip_time = self._last_committed, self._tip_hash, self._tip_time
        while True:
            slot = self._log.slots.get(seq + 1)
            if slot is None or slot.pre_prepare is None:
                return seq, tip_hash, tip_time
            seq += 1
            tip_hash, tip_time = slot.block.hash, slot.block.header.time

    def _maybe_propose(self) -> None:
        if not (self._view_active and self.is_primary) or self._fetch_target is not None:
            return
        while True:
            tip_seq, tip_hash, tip_time = self._proposal_tip()
            seq = tip_seq + 1
            if seq > self._last_committed + self.config.max_pipeline or not self._in_window(seq):
                return
            if seq <= self._new_view_top:
                return  # re-proposals not yet in the log (state transfer pending)
            time = max(self._now_ms, tip_time)
            txs, full = self._select_batch(time, seq)
            if not txs:
                return
            # A block that is not full waits max_block_delay_ms for its oldest tx, and as much
            # again for each block already in flight: an idle cluster proposes at once, a busy
            # one lets the next block fill while the pipeline drains (fewer, bigger blocks:
            # each costs every node a round of votes and a synced write, whatever its size).
            in_flight = tip_seq - self._last_committed
            oldest = min(self._requests.admitted_ms(tx.tx_id) for tx in txs)
            if not full and oldest + self.config.max_block_delay_ms * (1 + in_flight) \
                    > self._now_ms:
                return
            block = make_block(self.committee.chain, seq, tip_hash, time, self._view, self._me,
                               tuple((tx.body, tx.sig) for tx in txs))
            if not self._may_sign("pre_prepare", self._view, seq, block.hash):
                return
            assert len(block.encode()) <= self.config.max_block_bytes
            pre_prepare = self._out.sign(msg.PrePrepare(self._view, seq, block, self._me))
            self._record_signed("pre_prepare", self._view, seq, block.hash,
                                pre_prepare.encode())
            self._out.broadcast(pre_prepare)
            self._out.count("proposed_blocks")
            self._log.slot(seq).pre_prepare = pre_prepare
            self._advance()

    def _select_batch(self, time: int, height: int) -> tuple[list[PendingTx], bool]:
        """Block `height`'s transactions (`RequestPool.select_batch`, lanes in turn by height)
        but those in blocks proposed and not yet committed; and whether the batch is full."""
        in_flight: set[bytes] = set()
        for seq in sorted(self._log.slots):
            if seq > self._last_committed:
                in_flight.update(self._log.slots[seq].tx_ids())
        return self._requests.select_batch(time, in_flight, self.config.max_block_txs,
                                           self.config.max_block_bytes, height)

    def _on_txs_admitted(self, event: TxsAdmitted) -> None:
        if len(event.txs) > MAX_TXS_PER_EVENT:
            raise AssertionError("the host feeds at most MAX_TXS_PER_EVENT txs at once")
        admission = self._requests.admit(event.txs, self._now_ms, event.relayer, event.timed)
        for name, count in (("txs_ignored_known", admission.known),
                            ("txs_ignored_expired", admission.expired),
                            ("txs_dropped_pending_full", admission.full)):
            if count:
                self._out.count(name, count)
        self._out.count("txs_admitted", admission.added)
        if admission.added and self._requests.deadline is None:
            self._arm_request_timer()
        self._maybe_propose()

    # -- time ----------------------------------------------------------------------------------

    def _on_tick(self, event: Tick) -> None:
        assert isinstance(event.now_ms, int) and 0 <= event.now_ms < MAX_COUNTER
        self._now_ms = max(self._now_ms, event.now_ms)
        now = self._now_ms
        expired = self._requests.expire(now)
        if expired:
            self._out.count("txs_expired", expired)
            self._arm_request_timer()
        if not self._requests:
            self._requests.deadline = None
        if self._view_active and self._requests.deadline is not None \
                and now >= self._requests.deadline:
            self._out.count("request_timeouts")
            self._start_view_change(self._view + 1)
        elif not self._view_active and self._view_change_deadline is not None \
                and now >= self._view_change_deadline:
            self._out.count("view_change_timeouts")
            self._start_view_change(self._view + 1)
        elif not self._view_active and self._view_change_deadline is None \
                and self._my_view_change is not None \
                and self._my_view_change.view == self._view \
                and now >= self._view_change_resend_at:
            # No quorum of VIEW-CHANGEs yet, so no timer runs: ours may have been lost on a
            # link that went down. Repeat it (peers drop it as stale if they have it).
            self._out.count("view_change_resends")
            self._out.broadcast(self._my_view_change)
            self._view_change_resend_at = now + self._timeout()
        resend = self._own_checkpoints.due(self._stable.seq, now, self._timeout() // 2)
        if resend is not None:  # R1: lost CHECKPOINTs must not freeze the window
            self._out.count("checkpoint_resends")
            self._out.broadcast(resend)
        if self._bodies.is_due(now):
            self._out.count("block_request_retries")
            self._request_bodies()
        if self._fetch_target is not None and now >= self._fetch_deadline:
            self._out.count("fetch_retries")
            self._request_fetch(self._fetch_target, retry=True)
        self._check_lagging()
        self._maybe_propose()

    def _check_lagging(self) -> None:
        """A quorum COMMITted a seq above a hole this replica cannot fill (it missed the
        PRE-PREPARE): after a grace period, fetch up to there."""
        if not self._view_active or self._fetch_target is not None:
            return
        next_slot = self._log.slots.get(self._last_committed + 1)
        if next_slot is not None and next_slot.pre_prepare is not None:
            self._lag_since = None
            return
        top = 0
        for view, seq in self._log.commits.keys_sorted():
            if view != self._view or seq <= self._last_committed:
                continue
            for digest in self._log.commits.digests(view, seq):
                votes = self._log.commits.matching(view, seq, digest, self.committee)
                if len(votes) >= self.committee.quorum:
                    top = max(top, seq)
        if top == 0:
            self._lag_since = None
            return
        if self._lag_since is None:
            self._lag_since = self._now_ms
        elif self._now_ms - self._lag_since >= self.config.view_timeout_ms // 2:
            self._out.count("lag_detected")
            self._request_fetch(top)

    # -- checkpoints and garbage collection ----------------------------------------------------

    def _on_block_executed(self, event: BlockExecuted) -> None:
        assert event.height == self._executed.height + 1, "blocks execute in height order"
        block = self._unexecuted.pop(event.height, None)
        assert block is not None, "BlockExecuted answers a Commit"
        assert block.hash == event.block_hash, "the executed block is the committed one"
        self._executed = Executed(event.height, event.block_hash, event.app_hash,
                                  block.header.time)
        self._after_execution(event.height, event.app_hash)

    def _after_execution(self, height: int, app_hash: bytes) -> None:
        if height % self.config.checkpoint_interval != 0 or height <= self._stable.seq:
            return
        checkpoint = self._out.sign(msg.Checkpoint(height, app_hash, self._me))
        self._own_checkpoints.add(checkpoint, self._now_ms + self._timeout() // 2)
        self._log.add_checkpoint(checkpoint)
        self._out.broadcast(checkpoint)
        self._try_stabilize(height, app_hash)

    def _on_checkpoint(self, checkpoint: msg.Checkpoint) -> None:
        if checkpoint.seq <= self._stable.seq:
            self._out.drop("stale")
            return
        if checkpoint.seq % self.config.checkpoint_interval != 0:
            self._out.drop("bad_checkpoint")
            return
        outcome = self._log.add_checkpoint(checkpoint)
        if outcome != "added":
            self._out.drop({"duplicate": "duplicate", "conflict": "conflicting"}.get(
                outcome, "stale"))
            return
        self._try_stabilize(checkpoint.seq, checkpoint.app_hash)

    def _try_stabilize(self, seq: int, app_hash: bytes) -> None:
        votes = self._log.matching_checkpoints(seq, app_hash, list(self.committee.names))
        if len(votes) < self.committee.quorum or seq <= self._stable.seq:
            return
        self._adopt_stable_checkpoint(msg.CheckpointProof(
            seq, app_hash, tuple(votes[:self.committee.quorum])))

    def _adopt_stable_checkpoint(self, proof: msg.CheckpointProof) -> None:
        """A new stable checkpoint: move the low watermark, drop the log below it, prune
        what was persisted below it, and fetch up to it if this replica is behind."""
        assert proof.seq > self._stable.seq
        own = self._own_checkpoints.app_hash(proof.seq)
        if own is not None and own != proof.app_hash:
            self._out.count("checkpoint_diverged")
        self._stable = proof
        self._out.count("stable_checkpoints")
        self._out.persist(KEY_CHECKPOINT, proof.encode())
        self._log.collect_garbage(proof.seq)
        self._own_checkpoints.prune(proof.seq)
        for key in self._votes.prune(proof.seq) + self._kept.prune(proof.seq):
            self._out.persist(key, b"")
        if proof.seq > self._last_committed:
            self._request_fetch(proof.seq)
        self._advance()
        self._maybe_propose()

    # -- state transfer ------------------------------------------------------------------------

    def _request_fetch(self, to_height: int, retry: bool = False) -> None:
        if to_height <= self._last_committed:
            self._fetch_target = None
            return
        if not retry and self._fetch_target is not None and self._fetch_target >= to_height:
            return
        self._fetch_target = max(to_height, self._fetch_target or 0)
        self._fetch_deadline = self._now_ms + self.config.view_timeout_ms
        self._out.count("fetches")
        self._out.emit(FetchBlocks(self._last_committed + 1, self._fetch_target))

    def _on_state_transferred(self, event: StateTransferred) -> None:
        if event.height <= self._executed.height:
            self._out.count("state_transfer_ignored")
            return
        assert not any(h <= event.height for h in self._unexecuted), \
            "the host executes queued commits before transferred blocks"
        self._executed = Executed(event.height, event.block_hash, event.app_hash, event.time)
        if event.height >= self._last_committed:
            self._mark_committed(event.height, event.block_hash, event.time,
                                 tuple(event.committed_tx_ids))
            self._log.forget_through(event.height)
        self._out.count("state_transfers")
        if self._fetch_target is not None and self._fetch_target <= event.height:
            self._fetch_target = None
        if event.height % self.config.checkpoint_interval == 0:
            self._after_execution(event.height, event.app_hash)
        self._arm_request_timer()
        self._advance()
        self._maybe_propose()

    # -- view change ---------------------------------------------------------------------------

    def _start_view_change(self, new_view: int) -> None:
        """Stop taking part in the current view and ask to move to `new_view`."""
        assert new_view > self._view
        self._view = new_view
        self._view_active = False
        self._consecutive_view_changes += 1
        self._out.count("view_changes")
        self._requests.deadline = None
        self._view_change_deadline = None
        self._lag_since = None
        self._new_view = None
        self._new_view_top = 0
        self._bodies.clear()
        self._log.start_view(new_view)
        self._view_sync.forget_below(new_view)
        self._out.persist(KEY_VIEW, wal.view_record(new_view, False))
        low = self._stable.seq
        prepared = tuple(cert for seq, cert in sorted(self._log.prepared_certificates.items())
                         if low < seq <= low + self.config.watermark_window)
        view_change = self._out.sign(msg.ViewChange(new_view, self._stable, prepared, self._me))
        self._my_view_change = view_change
        self._view_change_resend_at = self._now_ms + self._timeout()
        self._out.persist(KEY_VIEW_CHANGE, view_change.encode())
        self._out.broadcast(view_change)
        self._view_sync.store_own(view_change)
        self._future.prune(self._view)
        self._view_change_progress()

    def _on_view_change(self, view_change: msg.ViewChange) -> None:
        if view_change.view < self._view or (view_change.view == self._view
                                             and self._view_active):
            # the sender is behind, or missed the NEW-VIEW: show it where this replica is
            self._answer_behind(view_change.sender)
            self._out.drop("wrong_view" if view_change.view < self._view else "stale")
            return
        known = self._view_sync.stored(view_change.sender)
        if known is not None and known.view >= view_change.view:
            self._out.drop("stale")
            return
        if view_change.view > self._view + self._views_ahead_kept():
            # Too far ahead to keep (its view still counts for the f+1 join rule, as a
            # status announcement). Kept ones are checked lazily, when a NEW-VIEW needs them.
            self._out.drop("view_too_far_ahead")
            return
        self._view_sync.store(view_change)
        higher = self._view_sync.views_above(self._view)
        if len(higher) >= self.committee.weak_quorum:
            # f+1 replicas want a later view: at least one honest one does, so join them.
            self._start_view_change(higher[self.committee.weak_quorum - 1])
        elif not self._view_active:
            self._view_change_progress()

    def _views_ahead_kept(self) -> int:
        return self.committee.n * VIEWS_AHEAD_KEPT_PER_OPERATOR

    def _answer_behind(self, sender: str) -> None:
        """A peer sent a VIEW-CHANGE for a view this replica has left or finished: it is
        behind (cut off, restarted) or missed the NEW-VIEW. The primary answers with the
        NEW-VIEW, the proof of the current view; a backup with its own VIEW-CHANGE for the
        current view, a signed status the peer counts toward the f+1 join rule. At most
        once per half timeout per peer (#11 item 6)."""
        if not self._view_sync.may_answer(sender, self._now_ms,
                                          self.config.view_timeout_ms // 2):
            return
        if self._view_active and self.is_primary and self._new_view is not None:
            reply: Any = self._new_view
        elif self._my_view_change is not None and self._my_view_change.view == self._view:
            reply = self._my_view_change
        else:
            return
        self._view_sync.answered(sender, self._now_ms)
        self._out.count("answered_behind")
        self._out.send(sender, reply)

    def _checked_ready(self, ready: list[msg.ViewChange]) -> list[msg.ViewChange]:
        """Of the stored VIEW-CHANGEs for the target view, those whose proofs check; the
        rest are dropped (checked once each: lazily, only when a NEW-VIEW needs them)."""
        checked, dropped = self._view_sync.checked(ready, self._is_valid_view_change)
        if dropped:
            self._out.count("dropped_bad_view_change", dropped)
        return checked

    def _is_valid_view_change(self, view_change: msg.ViewChange) -> bool:
        if len(view_change.encode()) > self._max_view_change_bytes:
            return False
        return check_view_change(view_change, self.committee,
                                 self.config.watermark_window) is None

    def _view_change_progress(self) -> None:
        """In a view change: start the timer at a quorum; as the new primary, start the view."""
        target = self._view
        ready = self._view_sync.for_view(target)
        if len(ready) < self.committee.quorum:
            # View synchronisation (#11 item 8): a quorum that left every view below this
            # one, spread over this and later views (a peer's VIEW-CHANGE for this view was
            # lost and its timer moved it on), can never fill this view. Run the timer
            # anyway: on expiry this replica moves up and meets the ones ahead, who wait.
            at_or_above = self._view_sync.count_at_or_above(target)
            if at_or_above >= self.committee.quorum and self._view_change_deadline is None:
                self._out.count("view_change_timer_spread")
                self._view_change_deadline = self._now_ms + self._timeout()
            return
        if self._view_change_deadline is None:
            self._view_change_deadline = self._now_ms + self._timeout()
        if self.committee.primary(target) != self._me:
            return
        ready = self._checked_ready(ready)
        if len(ready) < self.committee.quorum:
            return
        chosen = select_view_changes(ready, self.committee)
        plan = compute_new_view(target, chosen, self.config.watermark_window)
        pre_prepares = []
        for unsigned in re_proposals(plan, self._me):
            if not self._may_sign("pre_prepare", target, unsigned.seq, unsigned.digest):
                return
            pre_prepares.append(self._out.sign(unsigned))
        new_view = self._out.sign(msg.NewView(target, chosen, tuple(pre_prepares), self._me))
        for pre_prepare in pre_prepares:  # persisted inside the NEW-VIEW
            self._votes.note("pre_prepare", target, pre_prepare.seq, pre_prepare.digest)
        self._enter_view(new_view, plan, announce=True)

    def _on_new_view(self, new_view: msg.NewView) -> None:
        if new_view.view < self._view or (new_view.view == self._view and self._view_active
                                          and self._new_view is not None):
            # (A replica active in a view without its NEW-VIEW, one restarted from a disk
            # that lacks it, takes it: the NEW-VIEW fixes seqs it must not accept afresh.)
            self._out.drop("stale")
            return
        if new_view.sender != self.committee.primary(new_view.view):
            self._out.drop("bad_new_view")
            return
        if new_view.view > self._view + self._views_ahead_kept():
            # each check is costly: a replica far behind joins by the f+1 rule first
            self._out.drop("view_too_far_ahead")
            return
        reason, plan = check_new_view(new_view, self.committee, self.config.watermark_window)
        if reason is not None or plan is None:
            self._out.drop("bad_new_view")
            return
        for pre_prepare in new_view.pre_prepares:
            if pre_prepare.seq == self._last_committed and pre_prepare.digest != self._tip_hash:
                self._out.drop("new_view_conflicts_committed")
                return
        self._enter_view(new_view, plan)

    def _enter_view(self, new_view: msg.NewView, plan: NewViewPlan,
                    announce: bool = False) -> None:
        """Start `new_view`'s view. Every replica, not only its primary, persists the
        NEW-VIEW and then the view before it sends anything in that view (the primary's
        NEW-VIEW, anyone's PREPAREs): after a restart it still knows which seqs the NEW-VIEW
        fixed and refuses a fresh PRE-PREPARE for them (#11 item 1). The NEW-VIEW goes to
        disk first, so a disk that says "active in view v" always holds v's NEW-VIEW."""
        entering = (new_view.view, self._view_active) != (self._view, True)
        if new_view.view > self._view:
            self._log.start_view(new_view.view)
        self._view = new_view.view
        self._view_active = True
        self._view_change_deadline = None
        self._new_view = new_view
        self._new_view_top = plan.top_seq
        self._out.persist(KEY_NEW_VIEW, new_view.encode())
        self._out.persist(KEY_VIEW, wal.view_record(self._view, True))
        if announce:
            self._out.broadcast(new_view)
        if entering:
            self._out.count("new_views")
        else:
            self._out.count("new_views_recovered")
        if plan.checkpoint.seq > self._stable.seq:
            self._adopt_stable_checkpoint(plan.checkpoint)
        self._bodies.clear()
        self._take_re_proposals(new_view)
        self._request_bodies()
        if plan.checkpoint.seq > self._last_committed:
            self._request_fetch(plan.checkpoint.seq)
        self._view_sync.forget_below(self._view + 1)
        self._out.emit(ViewChanged(self._view, self.primary))
        if entering:
            self._view_started_ms = self._now_ms
        self._arm_request_timer()
        self._advance()
        self._replay_future()
        self._maybe_propose()

    def _replay_future(self) -> None:
        for message in self._future.drain(self.committee.order):
            if message.view >= self._view:
                self._dispatch_checked(message)

    # -- block bodies (#11 item 3) ----------------------------------------------------------------

    def _take_re_proposals(self, new_view: msg.NewView) -> None:
        """Put the NEW-VIEW's re-proposals (by hash) in their slots, each with its body
        where this replica holds it; the others are wanted (`_request_bodies`)."""
        for pre_prepare in new_view.pre_prepares:
            seq = pre_prepare.seq
            if seq <= self._last_committed or not self._in_window(seq):
                continue
            slot = self._log.slot(seq)
            if slot.pre_prepare is not None and slot.pre_prepare.digest == pre_prepare.digest \
                    and not slot.pre_prepare.is_by_hash:
                continue
            body = self._body_of(pre_prepare.digest)
            slot.pre_prepare = pre_prepare if body is None else pre_prepare.with_body(body)
            slot.reset_tx_ids()
            if body is None:
                self._bodies.want(pre_prepare.digest, seq)

    def _body_of(self, block_hash: bytes) -> Block | None:
        """The full block with this hash, if this replica holds it: in a slot, a prepared
        certificate, or the bodies it kept."""
        for slot in self._log.slots.values():
            pre_prepare = slot.pre_prepare
            if pre_prepare is not None and pre_prepare.digest == block_hash \
                    and not pre_prepare.is_by_hash:
                return pre_prepare.block
        for certificate in self._log.prepared_certificates.values():
            if certificate.pre_prepare.digest == block_hash \
                    and not certificate.pre_prepare.is_by_hash:
                return certificate.block
        return self._kept.get(block_hash)

    def _want_body(self, slot: Slot) -> None:
        assert slot.pre_prepare is not None
        if self._bodies.want(slot.pre_prepare.digest, slot.seq):
            self._request_bodies()

    def _request_bodies(self) -> None:
        """Ask every peer for the bodies still wanted (above what is committed); repeated
        on a tick every quarter timeout until they arrive or the view changes."""
        self._bodies.forget_through(self._last_committed)
        if not self._bodies or not self._view_active:
            return
        hashes = self._bodies.hashes(self.config.watermark_window)
        request = self._out.sign(msg.BlockRequest(self._view, hashes, self._me))
        self._out.count("block_requests")
        self._out.broadcast(request)
        self._bodies.requested(
            self._now_ms, max(self.config.view_timeout_ms // BODY_REQUESTS_PER_TIMEOUT, 1))

    def _on_block_request(self, request: msg.BlockRequest) -> None:
        """Send the bodies asked for that this view's NEW-VIEW re-proposes and this replica
        holds, one BLOCK per body (each fits a frame): a request is small, the answer is not,
        so a peer gets each body once (the request's hashes are distinct), at most
        `body_answer_bytes` per answer (in seq order: the rest with its next request), and
        one answer per quarter timeout."""
        new_view = self._new_view
        if request.view != self._view or not self._view_active or new_view is None \
                or new_view.view != self._view:
            self._out.drop("block_request_wrong_view")
            return
        if not self._bodies.may_answer(request.sender, self._now_ms,
                                       self.config.view_timeout_ms // BODY_REQUESTS_PER_TIMEOUT):
            self._out.drop("block_request_too_soon")
            return
        re_proposed = {pre_prepare.digest for pre_prepare in new_view.pre_prepares}
        bodies: list[Block] = []
        size = 0
        for block_hash in request.hashes:
            body = self._body_of(block_hash) if block_hash in re_proposed else None
            if body is None:
                continue
            size += len(body.encode())
            if bodies and size > self.body_answer_bytes:
                self._out.count("block_request_answers_cut")
                break
            bodies.append(body)
        if not bodies:
            self._out.drop("block_request_unknown")
            return
        self._bodies.answered(request.sender, self._now_ms)
        for body in bodies:
            self._out.send(request.sender, self._out.sign(msg.BlockReply(body, self._me)))

    def _on_block_reply(self, reply: msg.BlockReply) -> None:
        block = reply.block
        seq = self._bodies.seq_of(block.hash)
        if seq is None:
            self._out.drop("unwanted_block")
            return
        if block.height != seq or not block.txs or not block.is_consistent():
            self._out.drop("bad_block")  # the header matches, the transactions do not
            return
        self._take_body(block)

    def _take_body(self, block: Block) -> None:
        """A body for a slot held by hash: fill it in, then go on where it waited."""
        self._bodies.got(block.hash)
        slot = self._log.slots.get(block.height)
        if slot is None or slot.pre_prepare is None or slot.pre_prepare.digest != block.hash:
            return
        slot.pre_prepare = slot.pre_prepare.with_body(block)
        slot.reset_tx_ids()
        certificate = self._log.prepared_certificates.get(block.height)
        if certificate is not None and certificate.pre_prepare.digest == block.hash:
            self._log.prepared_certificates[block.height] = msg.PreparedCertificate(
                certificate.pre_prepare.with_body(block), certificate.prepares)
        self._out.count("block_bodies_received")
        self._advance()

    # -- restart -------------------------------------------------------------------------------

    def _restore(self, restored: dict[str, bytes]) -> None:
        """Resume from what this replica persisted (`wal.restore` reads it): its view, its
        stable checkpoint and every vote it signed above it, so that it never signs a
        conflicting one."""
        state = wal.restore(restored, self._me, self._limits, self.config.watermark_window)
        if state.stable is not None:
            self._stable = state.stable
            self._log.collect_garbage(state.stable.seq)
        self._view, self._view_active = state.view, state.active
        self._log.start_view(self._view)
        if state.view_change is not None:
            view_change = state.view_change
            if not msg.is_signed_by_sender(view_change, self.committee):
                # written by an older version, blocks inside: the same statement, re-signed
                view_change = self._out.sign(view_change)
            self._my_view_change = view_change
            self._view_sync.store_own(view_change)
        self._new_view, self._new_view_top = state.new_view, state.new_view_top
        for key, seq in state.vote_keys.items():
            self._votes.restore_key(key, seq)
        for certificate in state.certificates:
            self._log.record_prepared(certificate)
        for view, body in state.bodies:
            self._kept.keep(view, body)
        for kind, vote in state.votes:
            self._restore_vote(kind, vote)
        if self._new_view is not None:
            self._take_re_proposals(self._new_view)  # bodies from restored certificates
        self._out.count("restarts")
        self._resend_after_restart = True

    def _restore_vote(self, kind: str, vote: Any) -> None:
        self._votes.restore(kind, vote.view, vote.seq, vote.digest)
        if vote.view != self._view or not self._view_active or not self._in_window(vote.seq):
            return
        if vote.seq <= self._last_committed:
            return
        slot = self._log.slot(vote.seq)
        if isinstance(vote, msg.PrePrepare):
            slot.pre_prepare = vote
        elif isinstance(vote, msg.Prepare):
            self._log.prepares.add(vote.view, vote.seq, self._me, vote.block_hash, vote)
            slot.prepare_sent = True
        elif isinstance(vote, msg.Commit):
            self._log.commits.add(vote.view, vote.seq, self._me, vote.block_hash, vote)

    def _resend_own_view_messages(self) -> None:
        """After a restart: repeat the VIEW-CHANGE or NEW-VIEW (a peer may have missed it
        while this replica was down), the pre-prepares this primary signed, and the
        CHECKPOINT of its executed height (not on disk: one lost before may be needed)."""
        if not self._view_active and self._my_view_change is not None \
                and self._my_view_change.view == self._view:
            self._out.broadcast(self._my_view_change)
            self._view_change_resend_at = self._now_ms + self._timeout()
            self._view_change_progress()
        elif self._view_active and self._new_view is not None:
            self._out.broadcast(self._new_view)
        elif self._view_active and self._view > 0 and self._my_view_change is not None \
                and self._my_view_change.view == self._view:
            # active in a view whose NEW-VIEW this disk lacks: the VIEW-CHANGE makes the
            # primary send it again, and `_on_new_view` takes it for the current view
            self._out.broadcast(self._my_view_change)
        if self._stable.seq > self._last_committed:
            self._request_fetch(self._stable.seq)
        self._after_execution(self._executed.height, self._executed.app_hash)  # R1
        if self._view_active and self.is_primary:
            for seq in sorted(self._log.slots):
                pre_prepare = self._log.slots[seq].pre_prepare
                if pre_prepare is not None and pre_prepare.view == self._view \
                        and seq > self._new_view_top:  # re-proposals are in the NEW-VIEW
                    self._out.broadcast(pre_prepare)
        self._request_bodies()

