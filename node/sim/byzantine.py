"""Byzantine operators for the simulator: wrappers around a real `Replica`.

A behaviour never changes consensus code. It sits between the replica and the virtual network
of one node and may filter what the replica is fed (`on_input`) and drop, delay, duplicate or
rewrite what it sends (`on_output`, per destination, after a Broadcast is expanded), re-signing
with the node's own key through `consensus.messages` when it crafts a conflicting vote. Every
random choice comes from the `random.Random` the simulator hands it, so a run stays
reproducible from its seed.

Behaviours (`BEHAVIOURS`):
    equivocate      as primary, a different PRE-PREPARE (and matching votes) to half the peers
    silent          sends nothing at all (consensus, gossip, state transfer)
    omission        drops every message to a fixed subset of its peers
    delay           holds every consensus message 200..1500 ms
    forge           corrupts the signature bytes of half of its messages
    replay          re-sends old messages, preferring ones of earlier views
    wrong_app_hash  signs CHECKPOINTs with a wrong app hash
    censor          as primary, never includes the transactions of one client
    double_vote     PREPARE/COMMIT for another block to half the peers at every height
    lie_transfer    claims a height far ahead (so it is asked first) and answers state-transfer
                    requests with malformed replies, forged certificates or nothing
    flood_views     once it has sent a VIEW-CHANGE, re-signs it for ever-higher views
    withhold        keeps its PREPAREs to itself, as primary sends each PRE-PREPARE to f+1
                    peers only and its VIEW-CHANGE early, and answers neither BLOCK-REQUEST
                    nor state transfer
    forge_body      answers BLOCK-REQUEST and state transfer with the real blocks (header,
                    bodies, certificate) under forged transaction signatures
    malformed       beside each message, sends a copy with one field, at any depth (inside
                    nested messages too), replaced by a value of another type or size
                    (red team R2: a decoder must refuse it, never raise)

The host asks a behaviour two more things: what height to announce (`announce_height`) and
what to answer a state-transfer request with (`serve_blocks`).
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import replace
from typing import Any

from consensus import codec
from consensus import messages as msg
from consensus.block import Block, make_block
from consensus.crypto import Signer
from consensus.events import Event, MessageReceived, Tick, TxsAdmitted

BEHAVIOURS = ("equivocate", "silent", "omission", "delay", "forge", "replay",
              "wrong_app_hash", "censor", "double_vote", "lie_transfer", "flood_views",
              "withhold", "forge_body", "malformed")
REPLAY_MEMORY = 256  # own messages kept for replay
LIMITS = msg.DecodeLimits(1 << 28, 256, 4096)  # generous: we decode only our own messages

Outgoing = tuple[str, bytes, int]  # (to, data, extra delay ms)


class Behaviour:
    """Honest by default; subclasses override what they corrupt."""

    name = "honest"

    def __init__(self, me: str, signer: Signer, chain: str, operators: tuple[str, ...],
                 rng: random.Random, victim: bytes = b"") -> None:
        self.me = me
        self.signer = signer
        self.chain = chain
        self.operators = operators
        self.peers = tuple(name for name in operators if name != me)
        self.rng = rng
        self.victim = victim  # the client public key `censor` never serves
        self.actions = 0  # how many messages this behaviour dropped, changed or added

    def primary(self, view: int) -> str:
        return self.operators[view % len(self.operators)]

    def silences_host(self) -> bool:
        """True if the node also stops gossiping transactions and serving state transfer."""
        return False

    def on_input(self, event: Event) -> Event | None:
        return event

    def on_output(self, to: str, data: bytes, now_ms: int) -> list[Outgoing]:
        return [(to, data, 0)]

    def announce_height(self, height: int) -> int:
        return height

    def serve_blocks(self, blocks: list[list[bytes]]) -> Any:
        return blocks

    def _sign(self, message: Any) -> bytes:
        return bytes(msg.sign(message, self.signer, self.chain).encode())


def _decode(data: bytes) -> Any:
    try:
        return msg.decode(data, LIMITS)
    except msg.MessageError:
        return None


class Silent(Behaviour):
    name = "silent"

    def silences_host(self) -> bool:
        return True

    def on_output(self, to: str, data: bytes, now_ms: int) -> list[Outgoing]:
        self.actions += 1
        return []


class Omission(Behaviour):
    name = "omission"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        count = max(1, len(self.peers) // 3)
        self.dropped_peers = tuple(sorted(self.rng.sample(list(self.peers), count)))

    def on_output(self, to: str, data: bytes, now_ms: int) -> list[Outgoing]:
        if to in self.dropped_peers:
            self.actions += 1
            return []
        return [(to, data, 0)]


class Delay(Behaviour):
    name = "delay"

    def on_output(self, to: str, data: bytes, now_ms: int) -> list[Outgoing]:
        self.actions += 1
        return [(to, data, self.rng.randint(200, 1500))]


class Forge(Behaviour):
    name = "forge"

    def on_output(self, to: str, data: bytes, now_ms: int) -> list[Outgoing]:
        if self.rng.random() < 0.5:
            return [(to, data, 0)]
        value = codec.unpack(data)
        sig = bytearray(value["sig"])
        sig[self.rng.randrange(len(sig))] ^= 0x5A
        value["sig"] = bytes(sig)
        self.actions += 1
        return [(to, codec.pack(value), 0)]


class Replay(Behaviour):
    name = "replay"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[tuple[int, bytes]] = []  # (view or -1, data)

    def on_output(self, to: str, data: bytes, now_ms: int) -> list[Outgoing]:
        out = [(to, data, 0)]
        if self.sent and self.rng.random() < 0.3:
            views = sorted({view for view, _ in self.sent})
            oldest = [item for item in self.sent if item[0] == views[0]]
            _, old = self.rng.choice(oldest if self.rng.random() < 0.7 else self.sent)
            out.append((self.rng.choice(self.peers), old, self.rng.randint(0, 50)))
            self.actions += 1
        value = codec.unpack(data)
        view = value.get("view", -1) if isinstance(value, dict) else -1
        self.sent.append((int(view), data))
        if len(self.sent) > REPLAY_MEMORY:
            del self.sent[0]
        return out


class WrongAppHash(Behaviour):
    name = "wrong_app_hash"

    def on_output(self, to: str, data: bytes, now_ms: int) -> list[Outgoing]:
        message = _decode(data)
        if not isinstance(message, msg.Checkpoint):
            return [(to, data, 0)]
        wrong = codec.sha256(b"wrong app hash" + message.app_hash)
        self.actions += 1
        return [(to, self._sign(msg.Checkpoint(message.seq, wrong, self.me)), 0)]


class Censor(Behaviour):
    name = "censor"

    def on_input(self, event: Event) -> Event | None:
        if not isinstance(event, TxsAdmitted) or not self.victim:
            return event
        kept = tuple(tx for tx in event.txs if not _sent_by(tx.body, self.victim))
        self.actions += len(event.txs) - len(kept)
        return dataclasses.replace(event, txs=kept) if kept else None


def _sent_by(body: bytes, sender: bytes) -> bool:
    try:
        value = codec.unpack(body)
    except codec.EncodingError:
        return False
    return isinstance(value, dict) and value.get("sender") == sender


class Equivocate(Behaviour):
    """As primary: peers in `other_side` get another block for the same seq, and this node's
    own PREPARE/COMMIT to them name that other block, so each side sees a consistent story."""

    name = "equivocate"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        half = len(self.peers) // 2
        self.other_side = frozenset(self.peers[len(self.peers) - half:])
        self.twins: dict[tuple[int, int], bytes] = {}  # (view, seq) -> the other block's hash
        self.twin_messages: dict[tuple[int, int], bytes] = {}

    def on_output(self, to: str, data: bytes, now_ms: int) -> list[Outgoing]:
        if to not in self.other_side:
            return [(to, data, 0)]
        message = _decode(data)
        if isinstance(message, msg.PrePrepare) and message.sender == self.me:
            key = (message.view, message.seq)
            twin = self.twin_messages.get(key)
            if twin is None:
                block = message.block
                header = block.header
                txs = block.txs[:-1]
                other = make_block(header.chain, header.height, header.prev_hash,
                                   header.time + 1, header.view, header.proposer, txs)
                self.twins[key] = other.hash
                twin = self._sign(msg.PrePrepare(message.view, message.seq, other, self.me))
                self.twin_messages[key] = twin
            self.actions += 1
            return [(to, twin, 0)]
        if isinstance(message, msg.Prepare | msg.Commit):
            other_hash = self.twins.get((message.view, message.seq))
            if other_hash is not None:
                self.actions += 1
                return [(to, self._sign(replace(message, block_hash=other_hash, sig=b"")), 0)]
        return [(to, data, 0)]


class DoubleVote(Behaviour):
    name = "double_vote"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        half = len(self.peers) // 2
        self.other_side = frozenset(self.peers[:half])

    def on_output(self, to: str, data: bytes, now_ms: int) -> list[Outgoing]:
        message = _decode(data)
        if not isinstance(message, msg.Prepare | msg.Commit):
            return [(to, data, 0)]
        fake_hash = codec.sha256(b"another block" + message.block_hash)
        fake = self._sign(replace(message, block_hash=fake_hash, sig=b""))
        self.actions += 1
        if to in self.other_side:
            return [(to, fake, 0), (to, data, 5)]
        return [(to, data, 0), (to, fake, 5)]


class LieTransfer(Behaviour):
    """The liar of issue #11: it reports the highest height, so a lagging node asks it first,
    and answers with something a careless fetch client would choke on or accept."""

    name = "lie_transfer"
    CLAIM_AHEAD = 1_000

    def announce_height(self, height: int) -> int:
        return height + self.CLAIM_AHEAD

    def serve_blocks(self, blocks: list[list[bytes]]) -> Any:
        self.actions += 1
        kind = self.rng.randrange(6)
        if kind == 0:
            return 5
        if kind == 1:
            return [5]
        if kind == 2:
            return []  # withheld
        if not blocks:
            return [[b"junk", b"junk"]]
        block_bytes, cert_bytes = blocks[0]
        cert = codec.unpack(cert_bytes)
        if kind == 3:  # a certificate whose operator field is a list
            cert["votes"][0]["operator"] = [cert["votes"][0]["operator"]]
        elif kind == 4:  # forged signatures
            for vote in cert["votes"]:
                vote["sig"] = bytes(64)
        else:  # another block under the real certificate
            real = Block.decode(block_bytes)
            header = real.header
            block_bytes = make_block(header.chain, header.height, header.prev_hash,
                                     header.time + 1, header.view, header.proposer,
                                     real.txs).encode()
        return [[block_bytes, codec.pack(cert)]]


class FloodViews(Behaviour):
    """Each VIEW-CHANGE it would send goes out again, validly signed, for views far ahead:
    a replica must not spend unbounded work or memory on them."""

    name = "flood_views"
    COPIES = 4

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.next_view = 0

    def on_output(self, to: str, data: bytes, now_ms: int) -> list[Outgoing]:
        message = _decode(data)
        if not isinstance(message, msg.ViewChange):
            return [(to, data, 0)]
        self.next_view = max(self.next_view, message.view) + self.rng.randint(1, 50)
        out = [(to, data, 0)]
        for step in range(self.COPIES):
            view = self.next_view + step * 1_000
            out.append((to, self._sign(replace(message, view=view, sig=b"")), 1 + step))
        self.actions += self.COPIES
        return out


class Withhold(Behaviour):
    """Castro-Liskov's body problem, provoked: this node keeps its PREPAREs to itself (so its
    own replica may hold the only prepared certificate), as primary sends each PRE-PREPARE to
    just f+1 peers, sends its VIEW-CHANGE early (once it has withheld a PRE-PREPARE, its
    replica's clock runs EARLY_MS ahead, so its request timer fires first and its
    VIEW-CHANGE, with that certificate, is in the next NEW-VIEW's quorum), and never answers
    a BLOCK-REQUEST or a state-transfer request. A re-proposal of its block then depends on
    the bodies the honest replicas kept."""

    name = "withhold"
    EARLY_MS = 400  # most of the simulator's 500 ms view timeout

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        f = (len(self.operators) - 1) // 3
        self.told = frozenset(self.peers[:f + 1])  # who gets its PRE-PREPAREs
        self.withheld = False

    def silences_host(self) -> bool:
        return True

    def on_input(self, event: Event) -> Event | None:
        if self.withheld and isinstance(event, Tick):
            return Tick(event.now_ms + self.EARLY_MS)
        return event

    def on_output(self, to: str, data: bytes, now_ms: int) -> list[Outgoing]:
        message = _decode(data)
        if isinstance(message, msg.Prepare | msg.BlockReply) or (
                isinstance(message, msg.PrePrepare) and to not in self.told):
            self.withheld = self.withheld or isinstance(message, msg.PrePrepare)
            self.actions += 1
            return []
        return [(to, data, 0)]


class ForgeBody(Behaviour):
    """Real bodies under forged signatures wherever a body travels without its PRE-PREPARE:
    its answers to BLOCK-REQUEST and to state transfer carry the blocks it holds with every
    transaction's signature replaced. The header, and so the block hash, certificate and
    (before signatures were bound into tx_root) the tx root, stay the real ones."""

    name = "forge_body"

    def on_output(self, to: str, data: bytes, now_ms: int) -> list[Outgoing]:
        message = _decode(data)
        if not isinstance(message, msg.BlockReply):
            return [(to, data, 0)]
        self.actions += 1
        forged = replace(message, block=_forged_signatures(message.block))
        return [(to, forged.encode(), 0)]

    def serve_blocks(self, blocks: list[list[bytes]]) -> Any:
        self.actions += 1
        return [[_forged_signatures(Block.decode(block)).encode(), cert]
                for block, cert in blocks]


def _forged_signatures(block: Block) -> Block:
    """The same header and bodies, every signature replaced by one that does not verify."""
    return Block(block.header, tuple((body, codec.sha256(sig) + codec.sha256(body))
                                     for body, sig in block.txs))


class Malformed(Behaviour):
    """A decoder's worst peer: well-framed canonical msgpack of a real message type, with
    one field somewhere (a nested encoded message's field too) of the wrong type, size or
    an extreme value. A copy that still decodes goes out validly signed (sender: this
    node), so the checks after the signature see it too. It keeps an example of every
    message type it has seen, sent or received (and makes a BLOCK-REQUEST, which few runs
    send), and mutates one of them at random beside each message it sends. An honest
    replica must drop and count it; raising takes a real node down (red team R2)."""

    name = "malformed"
    ODD_VALUES: tuple[Any, ...] = (None, True, -1, 0, 2**62 - 1, 10**9, 2**63, "x" * 100, b"",
                                   bytes(32), bytes(33), [], [[1]], [{"a": 1}], {},
                                   {"a": [1]}, [b"x", [1]])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.examples: dict[str, bytes] = {}  # message type -> the latest one seen

    def on_input(self, event: Event) -> Event | None:
        if isinstance(event, MessageReceived):
            self._note(event.data)
        return event

    def on_output(self, to: str, data: bytes, now_ms: int) -> list[Outgoing]:
        self._note(data)
        out = [(to, data, 0)]
        if self.rng.random() < 0.3:
            self.actions += 1
            out.append((to, self._malformed(), 1))
        return out

    def _note(self, data: bytes) -> None:
        value = codec.unpack(data)
        if isinstance(value, dict) and isinstance(value.get("type"), str):
            self.examples[value["type"]] = data

    def _malformed(self) -> bytes:
        examples = dict(self.examples)
        examples.setdefault(msg.BlockRequest.TYPE, self._sign(msg.BlockRequest(
            0, (codec.sha256(b"some block"),), self.me)))
        example = examples[self.rng.choice(sorted(examples))]
        data = codec.pack(self._mutate(codec.unpack(example), depth=0))
        try:
            message = _decode(data)
        except Exception:  # a decoder bug: the honest replica will meet the same bytes
            return data
        if message is not None and hasattr(message, "sender") and message.sender != self.me:
            message = replace(message, sender=self.me)
        return self._sign(message) if message is not None else data

    def _mutate(self, value: Any, depth: int) -> Any:
        """`value` with one field replaced, at this level or (maybe) inside a nested one."""
        if isinstance(value, dict) and value:
            key = self.rng.choice(sorted(k for k in value if k != "type") or ["type"])
            return {**value, key: self._mutate_item(value[key], depth)}
        if isinstance(value, list) and value:
            index = self.rng.randrange(len(value))
            return [*value[:index], self._mutate_item(value[index], depth), *value[index + 1:]]
        return self.rng.choice(self.ODD_VALUES)

    def _mutate_item(self, item: Any, depth: int) -> Any:
        if depth < 4 and self.rng.random() < 0.5:
            if isinstance(item, bytes):
                try:
                    inner = codec.unpack(item)
                except codec.EncodingError:
                    inner = None
                if isinstance(inner, dict | list) and inner:
                    return codec.pack(self._mutate(inner, depth + 1))
            if isinstance(item, dict | list) and item:
                return self._mutate(item, depth + 1)
        return self.rng.choice(self.ODD_VALUES)


_CLASSES: dict[str, type[Behaviour]] = {
    cls.name: cls for cls in (Equivocate, Silent, Omission, Delay, Forge, Replay, WrongAppHash,
                              Censor, DoubleVote, LieTransfer, FloodViews, Withhold,
                              ForgeBody, Malformed)}


def make_behaviour(name: str, me: str, signer: Signer, chain: str, operators: tuple[str, ...],
                   rng: random.Random, victim: bytes = b"") -> Behaviour:
    if name not in _CLASSES:
        raise ValueError(f"unknown Byzantine behaviour {name!r}; one of {', '.join(BEHAVIOURS)}")
    return _CLASSES[name](me, signer, chain, operators, rng, victim)
