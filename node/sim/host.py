"""The host of one simulated node: what `node.app.Node` does for a real one, minus the
sockets. It carries out the replica's actions with the node's own loop
(node.ledger.ready.carry_out) through a port of its own (`SimPort`: the node's MemoryKV, the
virtual network, the simulator's state transfer, crashes between two steps), gossips admitted
transactions, and runs state transfer."""

from __future__ import annotations

from typing import Any

from consensus import codec
from consensus.block import Block
from consensus.events import Action, Event, StateTransferred, Tick, ViewChanged
from consensus.wal import KEY_NEW_VIEW, re_proposals_in, sent_bytes_of, vote_key
from node.admission.tx import TxError
from node.ledger.executor import AppliedBlock
from node.ledger.ready import carry_out, forget_committed
from node.net.transfer import blocks_to_serve
from node.sim.config import FETCH_TIMEOUT_MS, TICK_MS
from node.sim.network import Meta, describe
from node.sim.simnode import SimNode
from node.storage import Batch
from node.storage import schema as s


class Host:
    """Mixin of `Simulation`: driving each node's replica, executor and mempool."""

    def _on_tick(self, name: str) -> None:
        node = self.nodes[name]
        if node.up:
            self.feed(node, Tick(self.clock))
        if node.up:  # a crash_mid fault may have struck inside feed
            self._sync(node)
        self.at(self.now + TICK_MS, "tick", name)

    def _sync(self, node: SimNode) -> None:
        """node.app.Node._sync: announce the height; fetch when f+1 peers stay ahead."""
        height = node.executor.height
        if node.height_sync.announce_due(self.now):
            claim = height if node.behaviour is None else node.behaviour.announce_height(height)
            frame = codec.pack(claim)
            for to in self.names:
                if to != node.name:
                    self.transmit(node.name, to, "s", frame, Meta("HEIGHT"))
        target = node.height_sync.fetch_target(self.now, height, node.fetch.fetching)
        if target is not None:
            self._start_fetch(node, target)

    # -- driving a node ------------------------------------------------------------------------

    def feed(self, node: SimNode, event: Event) -> None:
        if node.behaviour is not None:
            filtered = node.behaviour.on_input(event)
            if filtered is None:
                return
            event = filtered
        self.run_actions(node, node.replica.handle(event))

    def run_actions(self, node: SimNode, actions: list[Action]) -> None:
        """The node's own loop (node.ledger.ready.carry_out), through this node's port."""
        carry_out(actions, SimPort(self, node))

    def _crash_now(self, node: SimNode) -> bool:
        """A `crash_mid` fault counts the node's steps down and crashes it mid-batch."""
        if node.crash_in_steps is None:
            return False
        node.crash_in_steps -= 1
        if node.crash_in_steps > 0:
            return False
        node.crash_in_steps = None
        node.crash()
        return True

    def _after_apply(self, node: SimNode, applied: AppliedBlock, how: str) -> None:
        """What the simulator does with a block a node applied: the checker, the timeline."""
        self.checker.on_applied(self.now, node.name, applied, node.executor.state)
        height = applied.block.height
        if self.config.timeline:
            self._phase(node.name, height, how)
            if how == "committed" and height not in self._timeline_done:
                self._timeline_done.add(height)
                header = applied.block.header
                self.timeline_lines.append(
                    f"t={self.now:>6} height {height}: view {header.view}, proposer "
                    f"{header.proposer}, {len(applied.block.txs)} txs, first committed by "
                    f"{node.name}")
        if self._pre_heal and node.honest:
            self._check_recovered()

    def _phase(self, name: str, height: int, phase: str) -> None:
        phases = self.heights_seen.setdefault(height, {}).setdefault(name, {})
        phases.setdefault(phase, self.now)

    def _note_view(self, node: SimNode, action: ViewChanged) -> None:
        self.view_change_log.append(f"t={self.now} {node.name} entered view {action.view} "
                                    f"(primary {action.primary})")
        if self.config.timeline:
            self.timeline_lines.append(f"t={self.now:>6} {node.name}: NEW-VIEW accepted, now in "
                                       f"view {action.view} (primary {action.primary})")

    # -- the network ---------------------------------------------------------------------------

    def send_consensus(self, node: SimNode, targets: list[str], data: bytes) -> None:
        meta = describe("c", data)
        if node.honest:
            self._check_own_message(node, meta, data)
        if meta.type == "VIEW-CHANGE":
            self._note_view_change(node, meta)
        if self.config.timeline and meta.seq is not None:
            if meta.type in ("PREPARE", "PRE-PREPARE"):
                self._phase(node.name, meta.seq, "pre_prepare")
            elif meta.type == "COMMIT":
                self._phase(node.name, meta.seq, "prepared")
        for to in targets:
            outs = [(to, data, 0)] if node.behaviour is None else \
                node.behaviour.on_output(to, data, self.now)
            for dest, out, extra in outs:
                self.transmit(node.name, dest, "c", out,
                              meta if out is data else describe("c", out), extra)

    def _note_view_change(self, node: SimNode, meta: Meta) -> None:
        node.view_changes_sent += 1
        stats = node.replica.stats
        counts = (stats.get("request_timeouts", 0), stats.get("view_change_timeouts", 0))
        if counts[0] > node.last_counts[0]:
            reason = "request timer expired: a transaction waited too long"
        elif counts[1] > node.last_counts[1]:
            reason = "view-change timer expired: no NEW-VIEW in time"
        elif node.restarts and meta.view == node.replica.view:
            reason = "repeated after restart, or joined f+1 VIEW-CHANGEs"
        else:
            reason = "joined f+1 VIEW-CHANGEs for a later view"
        node.last_counts = counts
        line = f"t={self.now} {node.name} VIEW-CHANGE to view {meta.view}: {reason}"
        self.view_change_log.append(line)
        if self.config.timeline:
            self.timeline_lines.append(f"t={self.now:>6} {node.name}: VIEW-CHANGE to view "
                                       f"{meta.view} ({reason})")

    def _check_own_message(self, node: SimNode, meta: Meta, data: bytes) -> None:
        """Honest nodes: never two digests for one (kind, view, seq); persisted before sent."""
        if meta.type not in ("PRE-PREPARE", "PREPARE", "COMMIT", "NEW-VIEW"):
            return
        value = codec.unpack(data)
        if meta.type == "NEW-VIEW":
            for raw in value["pre_prepares"]:
                inner = codec.unpack(raw)
                self.checker.on_vote_sent(self.now, node.name, "PRE-PREPARE", inner["view"],
                                          inner["seq"], Block.decode(inner["block"]).hash)
            return
        view, seq = value["view"], value["seq"]
        if meta.type == "PRE-PREPARE":
            digest = Block.decode(value["block"]).hash
        else:
            digest = value["block_hash"]
        self.checker.on_vote_sent(self.now, node.name, meta.type, view, seq, digest)
        kind = {"PRE-PREPARE": "pre_prepare", "PREPARE": "prepare", "COMMIT": "commit"}
        stored = node.kv.get(s.wal_key(vote_key(kind[meta.type], seq)))
        if stored is not None and sent_bytes_of(kind[meta.type], stored) == data:
            return
        if meta.type == "PRE-PREPARE":
            new_view = node.kv.get(s.wal_key(KEY_NEW_VIEW))
            if new_view is not None and data in re_proposals_in(new_view):
                return
        self.checker.on_unpersisted_send(self.now, node.name,
                                         f"{meta.type} view {view} seq {seq} sent before its "
                                         "vote was persisted")

    def _on_gossip(self, node: SimNode, frame: bytes) -> None:
        from node.admission.tx import decode_body

        txs = []
        for body, sig in codec.unpack(frame):
            try:
                txs.append(decode_body(body, sig))
            except TxError:
                continue
        self.admit(node, txs, gossip=False)

    # -- state transfer ------------------------------------------------------------------------

    def _start_fetch(self, node: SimNode, to_height: int) -> None:
        if node.fetch.start(to_height):
            self._fetch_next(node)

    def _fetch_next(self, node: SimNode) -> None:
        request = node.fetch.next_request(node.executor.height,
                                          node.height_sync.peers_by_height())
        if request is None:
            self._finish_fetch(node)
            return
        frame = codec.pack([request.start, request.stop])
        self.transmit(node.name, request.peer, "f", frame, Meta("FETCH"))
        self.at(self.now + FETCH_TIMEOUT_MS, "fetch_timeout", node.name, request.token)

    def _on_fetch_timeout(self, name: str, token: int) -> None:
        node = self.nodes[name]
        if node.up and node.fetch.on_failed(token):
            self._fetch_next(node)

    def _finish_fetch(self, node: SimNode) -> None:
        if node.fetch.finish(node.executor.height):
            node.height_sync.forget_above(node.executor.height)
        self._report_transfer(node, ())

    def _report_transfer(self, node: SimNode, tx_ids: tuple[bytes, ...]) -> None:
        e = node.executor
        if e.height > node.replica.last_executed:
            self.feed(node, StateTransferred(e.height, e.last_block_hash, e.app_hash,
                                             e.last_block_time, tx_ids))

    def _serve_fetch(self, node: SimNode, sender: str, request: bytes) -> None:
        if node.behaviour is not None and node.behaviour.silences_host():
            return
        start, stop = codec.unpack(request)
        blocks: Any = blocks_to_serve(node.kv, node.executor.height, start, stop)
        if node.behaviour is not None:
            blocks = node.behaviour.serve_blocks(blocks)
        self.transmit(node.name, sender, "b", codec.pack(blocks), Meta("BLOCKS"))

    def _on_blocks(self, node: SimNode, sender: str, payload: bytes) -> None:
        try:
            value = codec.unpack(payload)
        except codec.EncodingError:
            value = None
        e = node.executor
        blocks = node.fetch.take_reply(sender, value, e.height, e.last_block_hash)
        if blocks is None:
            return  # unasked, or a late answer to an earlier request
        tx_ids: list[bytes] = []
        for block, cert in blocks:
            applied = node.executor.apply(block, cert)
            node.transferred_blocks += 1
            forget_committed(node.mempool, applied)
            self._after_apply(node, applied, "transferred")
            tx_ids.extend(block.tx_ids())
        if tx_ids or node.executor.height > node.replica.last_executed:
            self._report_transfer(node, tuple(tx_ids))
        if node.fetch.fetching:  # the StateTransferred above may have ended the fetch
            self._fetch_next(node)


class SimPort:
    """node.ledger.ready's port for a simulated node: its MemoryKV, the virtual network, the
    simulator's state transfer, and the crash_mid fault, which strikes between two steps."""

    def __init__(self, host: Host, node: SimNode) -> None:
        self.host = host
        self.node = node
        self.replica = node.replica
        self.executor = node.executor
        self.mempool = node.mempool

    def is_up(self) -> bool:
        return not self.host._crash_now(self.node)

    def write_synced(self, batch: Batch) -> None:
        self.node.kv.write(batch, sync=True)

    def send(self, to: str, data: bytes) -> None:
        self.host.send_consensus(self.node, [to], data)

    def broadcast(self, data: bytes) -> None:
        others = [name for name in self.host.names if name != self.node.name]
        self.host.send_consensus(self.node, others, data)

    def fetch(self, to_height: int) -> None:
        self.host._start_fetch(self.node, to_height)

    def applied(self, applied: AppliedBlock) -> None:
        self.host._after_apply(self.node, applied, "committed")

    def view_changed(self, view: int, primary: str) -> None:
        self.host._note_view(self.node, ViewChanged(view, primary))
