"""The node process: wires store, executor, mempool, consensus replica, p2p links and RPC.

The replica (consensus/) decides; node.ledger.ready.carry_out, the loop the simulator runs
too, carries out what it returns through this node's port (`_Port`: LevelDB, the p2p links,
asyncio state transfer): persist (synced) before send, `Commit` runs the executor and answers
`BlockExecuted`, `FetchBlocks` starts state transfer. Time reaches the replica only as `Tick`.

p2p frames are canonical msgpack `[kind, payload]` (node.net.frames lists the kinds and
checks each one's shape as it decodes it). A peer's malformed frame is counted
(`frames_bad`) and refused; past the decode, an exception is this node's own bug, and it
stops the node loudly (`_fail`) rather than counting against the peer. Every block that
arrives outside consensus ("b", "k") is checked against genesis: its commit certificate must
carry 2f+1 valid operator votes, and it must extend this node's chain.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Coroutine, Iterable
from typing import Any

import chaincode
from consensus import codec
from consensus.block import Block, CommitCertificate
from consensus.crypto import Signer
from consensus.replica import (
    Action,
    Executed,
    MessageReceived,
    PendingTx,
    Replica,
    ReplicaConfig,
    StateTransferred,
    Tick,
    TxsAdmitted,
)
from genesis.builder import NodeConfig, load_keyfile
from genesis.schema import Genesis, check_chaincode, load_genesis
from node.admission.mempool import NODE_LIMITS, KnownSenders, Mempool
from node.admission.tx import Transaction, TxError
from node.admission.verified import VerifiedCache
from node.clock import now_ms
from node.ledger import recover
from node.ledger.audit import audit_indexer
from node.ledger.committed import NODE_BLOOM_BITS
from node.ledger.executor import AppliedBlock, Executor
from node.ledger.ready import carry_out, forget_committed
from node.metrics import Metrics
from node.net import frames
from node.net.fetch import BlockFetch
from node.net.gossip import (
    GOSSIP_BATCH,
    GOSSIP_MAX_BYTES,
    admit_relayed,
    gossip_frames,
    to_primary,
)
from node.net.p2p import Peer, PeerNetwork
from node.net.sync import HeightSync
from node.net.transfer import FETCH_BATCH, blocks_to_serve, verify_block
from node.rpc.access import AccessLog
from node.rpc.events import EventHub, registering_broker
from node.storage import KV, Batch, LevelDB
from node.storage import schema as s
from node.surveillance.indexer import Surveillance

log = logging.getLogger("stoledger.node")

# How often the replica hears the clock; below the 50 ms batch delay. Each tick wakes the
# process: an idle node spent 2.7 % of a core on 10 ms ticks, 1.4 % on 20 ms ones.
TICK_MS = 20
RESUBMIT_AFTER_MS = 5_000  # re-send txs pending this long to the primary (a lost gossip frame)
RESUBMIT_MAX_TXS = 5_000  # per round, so a huge pool does not flood one link
FETCH_TIMEOUT_S = 3.0
READY_LAG_BLOCKS = 2  # blocks behind f+1 peers still counted as caught up (commits in flight)
# Open `?wait=commit` requests. Each one also holds an HTTP connection, which the RPC caps
# well below this; past it a request is answered 202 at once, as at its timeout.
MAX_WAITERS = 10_000

class Node:
    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.genesis: Genesis = load_genesis(config.genesis)
        self.name = config.name
        self.signer: Signer = load_keyfile(config.key)
        me = self.genesis.node(self.name)
        if me.public_key != self.signer.public_key:
            raise RuntimeError(f"the key in {config.key} is not {self.name}'s key in genesis")
        self.voting = self.genesis.is_operator(self.name)
        self.registry = chaincode.builtin_registry(self.genesis.params)
        check_chaincode(self.genesis, self.registry.source_hashes())
        os.makedirs(config.data_dir, mode=0o700, exist_ok=True)
        os.chmod(config.data_dir, 0o700)  # keys' neighbours: the ledger and the access log
        outdated = recover.outdated_layout(config.data_dir)
        if outdated is not None:
            recover.halt(config.data_dir, outdated)
        reason = recover.halted_reason(config.data_dir)
        if reason is not None:
            log.warning("rebuilding this node's state from its certified blocks: %s", reason)
            recover.rebuild(config.data_dir, self.genesis, self._indexers)
        self.store = LevelDB(os.path.join(config.data_dir, "ledger"))
        self.halted: str | None = None  # why this node stopped serving state
        self.verified = VerifiedCache()
        indexers = self._indexers(self.store)
        self.executor = Executor(self.store, self.registry, self.genesis.chain_id,
                                 self.verified, indexers, bloom_bits=NODE_BLOOM_BITS)
        self.executor.init_genesis(
            self.genesis.hash, self.genesis.genesis_time,
            self.genesis.initial_state())
        self.known_senders = KnownSenders(self.executor.stored_identity)
        self.mempool = Mempool(self.genesis.chain_id, self.registry, self.verified,
                               self.executor.is_committed, limits=NODE_LIMITS,
                               known_sender=self.known_senders,
                               is_broker=self.known_senders.is_broker,
                               entry_nodes=self.genesis.n + len(self.genesis.observers),
                               observers=[node.name for node in self.genesis.observers])
        self.metrics = Metrics(next(indexer.meter for indexer in indexers
                                    if isinstance(indexer, Surveillance)))
        self.replica: Replica | None = None
        if self.voting:
            params = self.genesis.consensus
            self.replica = Replica(
                ReplicaConfig(
                    chain=self.genesis.chain_id, operators=self.genesis.operator_tuples(),
                    me=self.name, checkpoint_interval=params.checkpoint_interval,
                    watermark_window=params.watermark_window,
                    max_block_txs=params.max_block_txs, max_block_bytes=params.max_block_bytes,
                    max_block_delay_ms=params.max_block_delay_ms,
                    view_timeout_ms=params.view_timeout_ms,
                    max_clock_skew_ms=params.max_clock_skew_ms,
                    admit_tx=self.executor.admits_block_tx),
                self.signer, self._load_wal(), self._executed())
        peers = [Peer(n.name, n.public_key, n.tls_cert, n.host, n.p2p_port, voting)
                 for voting, nodes in ((True, self.genesis.operators),
                                       (False, self.genesis.observers)) for n in nodes]
        self.p2p = PeerNetwork(
            chain_id=self.genesis.chain_id, me=self.name, signer=self.signer, peers=peers,
            ca_cert_path=config.ca_cert, tls_cert_path=config.tls_cert,
            tls_key_path=config.tls_key, on_frame=self._on_frame,
            listen=(config.p2p_host, config.p2p_port))
        self.waiters: dict[bytes, list[asyncio.Future[None]]] = {}
        self.waiting = 0  # futures in `waiters`, at most MAX_WAITERS
        self.events = EventHub(broker_of=registering_broker(self.executor))
        self.access = AccessLog(self.store, lambda: self.executor.height)
        self._gossip: list[list[bytes]] = []
        self._gossip_bytes = 0
        self._pending_blocks: dict[int, tuple[Block, CommitCertificate]] = {}
        self.fetch = BlockFetch(self.genesis.chain_id, self.genesis.operator_keys(),
                                [n.name for n in self.genesis.operators if n.name != self.name])
        self._fetch_answered = asyncio.Event()
        self._transferred_tx_ids: list[bytes] = []
        self.height_sync = HeightSync(self.genesis.f + 1)
        self._tasks: list[asyncio.Task[None]] = []
        self.failure: BaseException | None = None  # our own bug, which stopped the node
        self.failed = asyncio.Event()
        self._checked_checkpoint = 0
        problem = self._divergence()
        if problem is not None and reason is not None:
            raise RuntimeError(f"{problem}, even after a rebuild from genesis: this node's "
                               "code or genesis differs from the quorum's")
        if problem is not None:
            self._halt(problem)
        self._submitted_at: dict[bytes, float] = {}
        self._resubmit_at = 0
        self._waiting: set[bytes] = set()  # pending at the last resubmission round

    def _indexers(self, store: KV) -> list[Any]:
        """What the executor keeps beside state, in the node's own store: the audit indexes
        and the surveillance windows and alerts (a rebuild recreates both)."""
        return [audit_indexer, Surveillance(store, self.genesis.params)]

    # Persistence of the replica's write-ahead state

    def _load_wal(self) -> dict[str, bytes]:
        return {raw[len(s.WAL):].decode(): value for raw, value in self.store.iterate(s.WAL)}

    def _executed(self) -> Executed:
        e = self.executor
        return Executed(e.height, e.last_block_hash, e.app_hash, e.last_block_time)

    # Lifecycle

    async def start(self) -> None:
        await self.p2p.start()
        self._spawn(self._tick_loop(), "tick")

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.events.close()
        await self.p2p.stop()
        self.store.close()

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run `work` as a task of this node; if it raises, that is our bug: `_fail`."""
        task = asyncio.create_task(work, name=name)
        task.add_done_callback(self._task_done)
        self._tasks.append(task)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (error := task.exception()) is not None:
            self._fail(error)

    async def _tick_loop(self) -> None:
        while True:
            self._flush_gossip()
            self._check_integrity()
            self._sync()
            now = now_ms()
            if self.replica is not None:
                self.run(self.replica.handle(Tick(now)))
            self.mempool.on_tick(now)
            self.mempool.drop_expired(now)
            self._resubmit_waiting(now)
            await asyncio.sleep(TICK_MS / 1000)

    def _divergence(self) -> str | None:
        if self.replica is None:
            return None
        return recover.divergence(self.executor, self.replica.stable_checkpoint,
                                  self.replica.stable_app_hash)

    def _check_integrity(self) -> None:
        """Halt serving state once a stable checkpoint contradicts this node (ledger.recover)."""
        if self.replica is None or self.halted is not None or \
                self.replica.stable_checkpoint == self._checked_checkpoint:
            return
        problem = self._divergence()
        if problem is None:
            if self.replica.stable_checkpoint <= self.executor.height:
                self._checked_checkpoint = self.replica.stable_checkpoint
            return
        self._halt(problem)

    def _fail(self, error: BaseException) -> None:
        """Our own code broke (a bug, a broken invariant): stop the node, loudly. It is never
        counted against a peer, and the node does not carry on half-working."""
        if isinstance(error, asyncio.CancelledError) or self.failure is not None:
            return
        self.failure = error
        log.critical("stopping: internal error", exc_info=error)
        self.failed.set()

    def _halt(self, problem: str) -> None:
        self.halted = problem + "; restart the node to rebuild its state from genesis"
        recover.halt(self.config.data_dir, problem)
        log.error("HALTED: %s", self.halted)

    def _sync(self) -> None:
        now = now_ms()
        if self.voting and self.height_sync.announce_due(now):
            self.p2p.broadcast(codec.pack(["s", self.executor.height]), voting_only=False)
        target = self.height_sync.fetch_target(now, self.executor.height, self.fetch.fetching)
        if target is not None:
            log.info("behind: at %d, f+1 peers at %d or more; fetching", self.executor.height,
                     target)
            self._start_fetch(target)

    # Carrying out the replica's actions

    def run(self, actions: Iterable[Action]) -> None:
        """Carry out the replica's actions (node.ledger.ready, the loop the simulator runs)."""
        carry_out(actions, _Port(self))

    def _after_apply(self, applied: AppliedBlock) -> None:
        """What this node does with an applied block beside the pool's part
        (`forget_committed`): known senders, metrics, waiters, observers, events."""
        height = applied.block.height
        self.known_senders.forget(applied.writes)
        self.metrics.blocks += 1
        self.metrics.txs_committed += len(applied.receipts)
        done = time.monotonic()
        for receipt in applied.receipts:
            started = self._submitted_at.pop(receipt.tx_id, None)
            if started is not None:
                self.metrics.observe_commit_latency(done - started)
            for future in self.waiters.pop(receipt.tx_id, ()):
                self.waiting -= 1
                if not future.done():
                    future.set_result(None)
        if self.voting and self.genesis.observers:
            frame = codec.pack(["k", [applied.block.encode(), applied.certificate.encode()]])
            for observer in self.genesis.observers:
                self.p2p.send(observer.name, frame)
        self.events.publish(applied)
        log.debug("applied block %d with %d txs", height, len(applied.receipts))

    # Client transactions

    def submit(self, tx: Transaction) -> None:
        """Admit a client transaction (raises TxError), gossip it, tell the replica."""
        refused = self.submit_many([tx])[0]
        if refused is not None:
            raise refused

    def submit_many(self, txs: list[Transaction]) -> list[TxError | None]:
        """`submit` for a batch (POST /v1/txs): the same checks and gossip per transaction,
        but one TxsAdmitted for the batch, so the primary cuts blocks once per request rather
        than once per transaction. Returns, in order, None (admitted) or the refusal."""
        outcomes: list[TxError | None] = []
        admitted: list[PendingTx] = []
        now = now_ms()
        started = time.monotonic()
        for tx in txs:
            try:
                self.mempool.admit(tx, now)
            except TxError as error:
                outcomes.append(error)
                continue
            outcomes.append(None)
            self._submitted_at[tx.tx_id] = started
            self._gossip.append([tx.body_bytes, tx.sig])
            self._gossip_bytes += len(tx.body_bytes) + len(tx.sig)
            if len(self._gossip) >= GOSSIP_BATCH or self._gossip_bytes >= GOSSIP_MAX_BYTES:
                self._flush_gossip()
            admitted.append(self._pending_tx(tx))
        self._flush_gossip()  # at once: peers count these in their pools before admitting more
        if len(self._submitted_at) > 4 * self.mempool.max_txs:
            self._submitted_at.clear()
        if admitted and self.replica is not None:
            self.run(self.replica.handle(TxsAdmitted(tuple(admitted))))
        self.metrics.txs_admitted += len(admitted)
        return outcomes

    @staticmethod
    def _pending_tx(tx: Transaction) -> PendingTx:
        return PendingTx(tx.tx_id, tx.body_bytes, tx.sig, tx.expires)

    def _flush_gossip(self) -> None:
        """Send what this node admitted to every operator (an observer too: it has no
        replica, so what it admits reaches a primary only this way)."""
        if self._gossip:
            self.p2p.broadcast(codec.pack(["t", self._gossip]))
        self._gossip = []
        self._gossip_bytes = 0

    def _resubmit(self, primary: str, txs: list[Transaction]) -> None:
        """Send admitted, uncommitted transactions to `primary` (after a view change: the new
        primary may have missed some gossip, so every operator re-submits its pool)."""
        if primary == self.name or not txs:
            return
        for frame in gossip_frames(txs):
            self.p2p.send(primary, frame)
        self.metrics.txs_resubmitted += len(txs)

    def _resubmit_waiting(self, now: int) -> None:
        """Every RESUBMIT_AFTER_MS, re-send the transactions that have waited that long: to the
        primary (an operator), or to every operator (an observer, which has no replica and no
        request timer). This catches a gossip frame lost with a link; a primary that fails to
        propose is the request timer's (and the view change's re-submission above). The
        receiver drops what it holds as a duplicate before any signature check."""
        if now < self._resubmit_at:
            return
        self._resubmit_at = now + RESUBMIT_AFTER_MS
        waiting, self._waiting = self._waiting, set(self.mempool.pending)
        txs = [self.mempool.pending[tx_id] for tx_id in waiting
               if tx_id in self.mempool.pending][:RESUBMIT_MAX_TXS]
        if not txs:
            return
        if self.replica is not None:
            self._resubmit(self.replica.primary, txs)
            return
        for frame in gossip_frames(txs):
            self.p2p.broadcast(frame)
        self.metrics.txs_resubmitted += len(txs)

    def wait_for(self, tx_id: bytes) -> asyncio.Future[None] | None:
        """A future done when `tx_id` commits here, or None when MAX_WAITERS are open. The
        caller hands it back to `stop_waiting` on every way out (refused, timed out, done)."""
        if self.waiting >= MAX_WAITERS:
            return None
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.setdefault(tx_id, []).append(future)
        self.waiting += 1
        return future

    def stop_waiting(self, tx_id: bytes, future: asyncio.Future[None]) -> None:
        futures = self.waiters.get(tx_id)
        if futures is not None and future in futures:
            futures.remove(future)
            self.waiting -= 1
            if not futures:
                del self.waiters[tx_id]
        if not future.done():
            future.cancel()

    # p2p frames

    def _on_frame(self, peer: str, frame: bytes) -> None:
        """A frame from `peer`. Its shape is checked as it is decoded (node.net.frames): a
        malformed frame, or one of a kind this node does not take from this peer, is counted
        and refused. What runs after is this node's code: an exception there is our bug,
        which stops the node (`_fail`); it is never counted as the peer's bad frame."""
        try:
            kind, payload = frames.decode(frame)
        except codec.EncodingError:
            self.metrics.frames_bad += 1
            return
        if not self._takes(peer, kind):
            self.metrics.frames_bad += 1
            return
        try:
            self._dispatch_frame(peer, kind, payload)
        except BaseException as error:
            self._fail(error)
            raise

    def _takes(self, peer: str, kind: str) -> bool:
        """Whether this node takes frames of `kind` from `peer`."""
        return {"c": self.replica is not None, "s": self.genesis.is_operator(peer),
                "k": not self.voting}.get(kind, True)

    def _dispatch_frame(self, peer: str, kind: str, payload: Any) -> None:
        if kind == "c":
            assert self.replica is not None
            self.run(self.replica.handle(MessageReceived(peer, payload)))
        elif kind == "t":  # node.net.gossip: in the peer's lane, timed ones on to the primary
            admitted = admit_relayed(self.mempool, peer, payload, now_ms(),
                                     self.metrics.refuse_relay)
            if self.replica is not None:
                for event in admitted:
                    self.run(self.replica.handle(event))
                forward = to_primary(admitted)
                if forward is not None and self.replica.primary not in (self.name, peer):
                    self.p2p.send(self.replica.primary, forward)
        elif kind == "f":
            self._serve_fetch(peer, payload)
        elif kind == "b":
            self._on_blocks(peer, payload)
        elif kind == "s":
            self.height_sync.report(peer, payload)
        else:
            assert kind == "k", "frames.decode returns only known kinds"
            self._observe(payload)

    def _serve_fetch(self, peer: str, payload: Any) -> None:
        blocks = blocks_to_serve(self.store, self.executor.height, payload[0], payload[1])
        self.p2p.send(peer, codec.pack(["b", blocks]))

    def _verified_block(self, block_bytes: bytes, cert_bytes: bytes
                        ) -> tuple[Block, CommitCertificate] | None:
        """A block and certificate from a peer, if 2f+1 genesis operators committed it."""
        verified = verify_block(self.genesis.chain_id, self.genesis.operator_keys(),
                                block_bytes, cert_bytes)
        if isinstance(verified, str):
            log.warning("refused a block from a peer: %s", verified)
            self.metrics.blocks_refused += 1
            return None
        return verified

    def _apply_verified(self, block: Block, cert: CommitCertificate) -> bool:
        if block.height != self.executor.height + 1:
            return False
        if block.header.prev_hash != self.executor.last_block_hash:
            log.warning("block %d from a peer does not extend our chain", block.height)
            return False
        applied = self.executor.apply(block, cert)
        forget_committed(self.mempool, applied)
        self._after_apply(applied)
        self._transferred_tx_ids.extend(receipt.tx_id for receipt in applied.receipts)
        return True

    def _observe(self, payload: Any) -> None:
        verified = self._verified_block(payload[0], payload[1])
        if verified is None or verified[0].height <= self.executor.height:
            return
        block, cert = verified
        if len(self._pending_blocks) < 4 * FETCH_BATCH:
            self._pending_blocks[block.height] = (block, cert)
        while self.executor.height + 1 in self._pending_blocks:
            self._apply_verified(*self._pending_blocks.pop(self.executor.height + 1))
        self._transferred_tx_ids.clear()  # observers have no replica to tell
        for height in [h for h in self._pending_blocks if h <= self.executor.height]:
            del self._pending_blocks[height]
        if self._pending_blocks and not self.fetch.fetching:
            self._start_fetch(min(self._pending_blocks) - 1)

    # State transfer (the rules are node.net.fetch's; this is the asyncio driver)

    def _start_fetch(self, to_height: int) -> None:
        if self.fetch.start(to_height):
            self._spawn(self._fetch(), "fetch")

    async def _fetch(self) -> None:
        """Ask peers in turn until the target is reached or the fetch gives up; answers arrive
        as "b" frames (`_on_blocks`). Nothing a peer sends can end this task early."""
        try:
            while (request := self.fetch.next_request(
                    self.executor.height, self.height_sync.peers_by_height())) is not None:
                self._fetch_answered.clear()
                frame = codec.pack(["f", [request.start, request.stop]])
                if not self.p2p.send(request.peer, frame):
                    self.fetch.on_failed(request.token)
                    await asyncio.sleep(0.05)
                    continue
                try:
                    await asyncio.wait_for(self._fetch_answered.wait(), FETCH_TIMEOUT_S)
                except TimeoutError:
                    self.fetch.on_failed(request.token)
        finally:
            if self.fetch.finish(self.executor.height):
                self.height_sync.forget_above(self.executor.height)
            if self.replica is not None:
                e = self.executor
                tx_ids, self._transferred_tx_ids = tuple(self._transferred_tx_ids), []
                self.run(self.replica.handle(StateTransferred(
                    e.height, e.last_block_hash, e.app_hash, e.last_block_time, tx_ids)))

    def _on_blocks(self, peer: str, payload: Any) -> None:
        e = self.executor
        blocks = self.fetch.take_reply(peer, payload, e.height, e.last_block_hash)
        if blocks is None:
            self.metrics.frames_bad += 1  # unasked
            return
        if self.fetch.last_problem:
            log.warning("state transfer: %s", self.fetch.last_problem)
            self.metrics.blocks_refused += 1
        for block, cert in blocks:
            self._apply_verified(block, cert)
        self._fetch_answered.set()

    # Status

    def status(self) -> dict[str, Any]:
        e = self.executor
        r = self.replica
        return {
            "chain_id": self.genesis.chain_id, "node": self.name,
            "role": "operator" if self.voting else "observer",
            "height": e.height, "last_block_hash": e.last_block_hash.hex(),
            "app_hash": e.app_hash.hex(),
            "view": r.view if r else None, "primary": r.primary if r else None,
            "stable_checkpoint": r.stable_checkpoint if r else None,
            "mempool_size": len(self.mempool), "peers": self.p2p.connected(),
            "halted": self.halted,
        }

    def is_ready(self) -> bool:
        """Connected to a quorum and caught up: f+1 peers told us their height, and we are
        within READY_LAG_BLOCKS of what f+1 of them have (a single peer's claim is not enough,
        so a liar cannot make honest nodes unready), and not halted (node.ledger.recover)."""
        if self.halted is not None:
            return False
        if self.genesis.n > 1:
            sync = self.height_sync
            if len(sync.reported) < self.genesis.f + 1:
                return False
            if self.executor.height + READY_LAG_BLOCKS < sync.witnessed_height():
                return False
        connected = len([p for p in self.p2p.connected() if self.genesis.is_operator(p)])
        if self.voting:
            return connected + 1 >= self.genesis.quorum
        return connected >= self.genesis.f + 1


class _Port:
    """node.ledger.ready's port for a real node: LevelDB, the p2p links, asyncio state
    transfer. A real node's crash needs no help, so it is always up."""

    def __init__(self, node: Node) -> None:
        assert node.replica is not None, "only an operator's node runs a replica"
        self.node = node
        self.replica = node.replica
        self.executor = node.executor
        self.mempool = node.mempool

    def is_up(self) -> bool:
        return True

    def write_synced(self, batch: Batch) -> None:
        self.node.store.write(batch, sync=True)

    def send(self, to: str, data: bytes) -> None:
        self.node.p2p.send(to, codec.pack(["c", data]))

    def broadcast(self, data: bytes) -> None:
        self.node.p2p.broadcast(codec.pack(["c", data]))

    def fetch(self, to_height: int) -> None:
        self.node._start_fetch(to_height)

    def applied(self, applied: AppliedBlock) -> None:
        self.node._after_apply(applied)

    def view_changed(self, view: int, primary: str) -> None:
        self.node.metrics.view_changes += 1
        log.info("view %d, primary %s", view, primary)
        self.node._resubmit(primary, self.node.mempool.pending_txs())
