"""An in-memory cluster of Replicas: no sockets, no clock, no threads.

`Cluster(n)` wires n replicas (operators `op0`, `op1`, ...). Messages go through one FIFO
queue and are delivered one at a time; `cluster.deliver_if` (a predicate on
(sender, to, message)) drops what a test wants lost, and `hold`/`release` reorder. The host
part of each node is as small as the contract allows: it keeps what the replica persists, "executes"
committed blocks with a fake deterministic app hash (sha256(previous app hash + block hash)),
answers FetchBlocks from the other nodes' verified chains, and checks the host-side rules
(commits in order, each height once; persist before send).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from consensus import codec, wal
from consensus import messages as msg
from consensus.block import ZERO_HASH, Block, CommitCertificate, check_certificate
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
from consensus.replica import Replica, ReplicaConfig

CHAIN = "stoledger-test"
GENESIS_TIME = 1_700_000_000_000
GENESIS_APP_HASH = codec.sha256(b"genesis app state")
VOTE_TYPES = {"PRE-PREPARE": "pre_prepare", "PREPARE": "prepare", "COMMIT": "commit"}


def operator_names(n: int) -> list[str]:
    return [f"op{i}" for i in range(n)]


def signer_of(name: str) -> Signer:
    return Signer(codec.sha256(b"test seed " + name.encode()))


def make_tx(i: int, expires: int = GENESIS_TIME + 3_600_000, size: int = 0) -> PendingTx:
    body = codec.pack({"i": i, "pad": b"x" * size})
    return PendingTx(codec.sha256(body), body, bytes(64), expires)


def txs(start: int, count: int, **kwargs: Any) -> tuple[PendingTx, ...]:
    return tuple(make_tx(i, **kwargs) for i in range(start, start + count))


def message_type(data: bytes) -> str:
    try:
        value = codec.unpack(data)
        return str(value["type"])
    except Exception:
        return "?"


def next_app_hash(app_hash: bytes, block_hash: bytes) -> bytes:
    return codec.sha256(app_hash + block_hash)


@dataclass
class Node:
    name: str
    signer: Signer
    replica: Replica
    disk: dict[str, bytes] = field(default_factory=dict)
    executed: Executed = field(default_factory=lambda: Executed(
        0, ZERO_HASH, GENESIS_APP_HASH, GENESIS_TIME))
    blocks: dict[int, tuple[Block, CommitCertificate]] = field(default_factory=dict)
    app_hashes: dict[int, bytes] = field(default_factory=dict)
    fetches: list[FetchBlocks] = field(default_factory=list)
    views: list[int] = field(default_factory=list)
    up: bool = True


class Cluster:
    def __init__(self, n: int, **config: Any) -> None:
        self.names = operator_names(n)
        self.signers = {name: signer_of(name) for name in self.names}
        self.operators = tuple((name, self.signers[name].public_key) for name in self.names)
        self.config_overrides = config
        self.now = GENESIS_TIME
        self.queue: deque[tuple[str, str, bytes]] = deque()
        self.held: list[tuple[str, str, bytes]] = []
        self.host_events: deque[tuple[str, Event]] = deque()
        self.deliver_if: Callable[[str, str, Any], bool] | None = None
        self.transcript: list[str] = []
        self.record = False
        self.auto_transfer = True
        self.nodes: dict[str, Node] = {}
        for name in self.names:
            self.nodes[name] = Node(name, self.signers[name], self._new_replica(name, None,
                                                                                None))

    # -- construction ------------------------------------------------------------------------

    def config_for(self, name: str) -> ReplicaConfig:
        return ReplicaConfig(chain=CHAIN, operators=self.operators, me=name,
                             **self.config_overrides)

    def _new_replica(self, name: str, restored: dict[str, bytes] | None,
                     executed: Executed | None) -> Replica:
        executed = executed or Executed(0, ZERO_HASH, GENESIS_APP_HASH, GENESIS_TIME)
        return Replica(self.config_for(name), self.signers[name], restored, executed)

    def __getitem__(self, name: str) -> Replica:
        return self.nodes[name].replica

    @property
    def operator_keys(self) -> dict[str, bytes]:
        return dict(self.operators)

    # -- driving ---------------------------------------------------------------------------------

    def feed(self, name: str, event: Event) -> list[Action]:
        node = self.nodes[name]
        assert node.up
        actions = node.replica.handle(event)
        self._apply(node, actions)
        return actions

    def _apply(self, node: Node, actions: list[Action]) -> None:
        persisted: set[str] = set()
        for action in actions:
            if isinstance(action, Persist):
                persisted.add(action.key)
                if action.value == b"":
                    node.disk.pop(action.key, None)
                else:
                    node.disk[action.key] = action.value
            elif isinstance(action, Send | Broadcast):
                self._check_persisted_before_send(node, action.data, persisted)
                targets = [action.to] if isinstance(action, Send) else [
                    other for other in self.names if other != node.name]
                for to in targets:
                    self.queue.append((node.name, to, action.data))
            elif isinstance(action, Commit):
                self._on_commit(node, action)
            elif isinstance(action, FetchBlocks):
                node.fetches.append(action)
                if self.auto_transfer:
                    self.host_events.append((node.name, action))  # type: ignore[arg-type]
            elif isinstance(action, ViewChanged):
                node.views.append(action.view)
            else:
                raise AssertionError(f"unknown action {action!r}")

    def _check_persisted_before_send(self, node: Node, data: bytes, persisted: set[str]) -> None:
        kind = VOTE_TYPES.get(message_type(data))
        if kind is None:
            return
        message = msg.decode(data, msg.DecodeLimits(1 << 30, 1000, 1000))
        if message.sender != node.name:
            return
        key = wal.vote_key(kind, message.seq)  # type: ignore[union-attr]
        assert key in node.disk, f"{node.name} sent {kind} {key} before persisting it"
        stored = wal.sent_bytes_of(kind, node.disk[key])
        if stored != data and kind == "pre_prepare" and wal.KEY_NEW_VIEW in node.disk \
                and data in wal.re_proposals_in(node.disk[wal.KEY_NEW_VIEW]):
            return  # a re-proposal: persisted inside the NEW-VIEW that carries it
        assert stored == data, f"{node.name} sent a {kind} other than the one it persisted"

    def _on_commit(self, node: Node, action: Commit) -> None:
        height = action.block.height
        expected = max([node.executed.height, *node.blocks]) + 1
        assert height == expected, f"{node.name} committed {height}, expected {expected}"
        reason = check_certificate(action.certificate, CHAIN, self.operator_keys,
                                   action.block.hash, height)
        if self.config_overrides.get("quorum_override") is None:
            assert reason is None, reason
        node.blocks[height] = (action.block, action.certificate)
        self.host_events.append((node.name, action))  # type: ignore[arg-type]
        if self.record:
            self.transcript.append(f"{node.name} commits {height}")

    def _execute(self, node: Node, action: Any) -> None:
        if isinstance(action, Commit):
            block = action.block
            app = next_app_hash(node.executed.app_hash, block.hash)
            node.executed = Executed(block.height, block.hash, app, block.header.time)
            node.app_hashes[block.height] = app
            self.feed(node.name, BlockExecuted(block.height, block.hash, app))
        elif isinstance(action, FetchBlocks):
            self._transfer(node, action)

    def _transfer(self, node: Node, fetch: FetchBlocks) -> None:
        """Fetch blocks with certificates from any other node that has them, check them."""
        height = node.executed.height
        tx_ids: list[bytes] = []
        while height < fetch.to_height:
            source = next((other for other in self.nodes.values() if other is not node
                           and height + 1 in other.blocks), None)
            if source is None:
                break
            block, cert = source.blocks[height + 1]
            assert check_certificate(cert, CHAIN, self.operator_keys, block.hash,
                                     height + 1) is None
            assert block.header.prev_hash == node.executed.block_hash
            app = next_app_hash(node.executed.app_hash, block.hash)
            node.executed = Executed(block.height, block.hash, app, block.header.time)
            node.blocks[block.height] = (block, cert)
            node.app_hashes[block.height] = app
            tx_ids.extend(block.tx_ids())
            height += 1
        if height > fetch.from_height - 1:
            ex = node.executed
            self.feed(node.name, StateTransferred(ex.height, ex.block_hash, ex.app_hash,
                                                  ex.time, tuple(tx_ids)))

    def step(self) -> bool:
        """Do one thing: a host event first, else deliver one message. False when idle."""
        if self.host_events:
            name, action = self.host_events.popleft()
            node = self.nodes[name]
            if node.up:
                self._execute(node, action)
            return True
        if self.queue:
            sender, to, data = self.queue.popleft()
            node = self.nodes[to]
            if not node.up or not self.nodes[sender].up:
                return True
            if self.deliver_if is not None and not self.deliver_if(sender, to, data):
                if self.record:
                    self.transcript.append(f"{sender} -> {to} {message_type(data)} (dropped)")
                return True
            if self.record:
                self.transcript.append(f"{sender} -> {to} {message_type(data)}")
            self.feed(to, MessageReceived(sender, data))
            return True
        return False

    def run(self, max_steps: int = 200_000) -> None:
        for _ in range(max_steps):
            if not self.step():
                return
        raise AssertionError("the cluster did not settle")

    def tick(self, ms: int) -> None:
        self.now += ms
        for node in self.nodes.values():
            if node.up:
                self.feed(node.name, Tick(self.now))
        self.run()

    def advance(self, total_ms: int, step_ms: int = 50) -> None:
        for _ in range(total_ms // step_ms):
            self.tick(step_ms)

    def submit(self, batch: tuple[PendingTx, ...], to: list[str] | None = None) -> None:
        for name in to or self.names:
            if self.nodes[name].up:
                self.feed(name, TxsAdmitted(batch))
        self.run()

    def hold(self, predicate: Callable[[str, str, bytes], bool]) -> None:
        """Take matching queued messages out of the queue (to deliver later, reordered)."""
        kept = deque()
        for item in self.queue:
            (self.held if predicate(*item) else kept).append(item)
        self.queue = kept

    def release(self) -> None:
        self.queue.extend(self.held)
        self.held = []
        self.run()

    # -- faults --------------------------------------------------------------------------------

    def crash(self, name: str) -> None:
        self.nodes[name].up = False

    def restart(self, name: str) -> Replica:
        node = self.nodes[name]
        node.replica = self._new_replica(name, dict(node.disk), node.executed)
        node.up = True
        return node.replica

    # -- checks --------------------------------------------------------------------------------

    def heights(self) -> dict[str, int]:
        return {name: node.executed.height for name, node in self.nodes.items()}

    def assert_same_chain(self) -> int:
        """Every pair of nodes agrees at every height both have; returns the lowest top."""
        chains = [node.blocks for node in self.nodes.values()]
        for height in sorted({h for chain in chains for h in chain}):
            hashes = {chain[height][0].hash for chain in chains if height in chain}
            assert len(hashes) == 1, f"fork at height {height}"
        for height, (block, cert) in sorted(chains[0].items()):
            assert check_certificate(cert, CHAIN, self.operator_keys, block.hash, height) is None
        return min(node.executed.height for node in self.nodes.values())

    def committed_tx_count(self, name: str) -> int:
        return sum(len(block.txs) for block, _ in self.nodes[name].blocks.values())


def drop_types(*types: str, sender: str | None = None,
               to: str | None = None) -> Callable[[str, str, bytes], bool]:
    def deliver(s: str, t: str, data: bytes) -> bool:
        if sender is not None and s != sender:
            return True
        if to is not None and t != to:
            return True
        return message_type(data) not in types
    return deliver


