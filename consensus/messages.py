"""PBFT messages: frozen dataclasses with an explicit canonical encoding.

On the wire every message is one canonical msgpack map `{"type": TYPE, ...fields, "sender",
"sig"}`. Messages nested in another (the PREPAREs of a prepared certificate, the VIEW-CHANGEs
of a NEW-VIEW) are carried as their own wire bytes, so each keeps its signature.

What is signed (`signing_payload`):
- PRE-PREPARE, PREPARE, VIEW-CHANGE, NEW-VIEW:
  `CONSENSUS_DOMAIN + canonical({"type", "chain", ...fields, "sender"})` (a PRE-PREPARE signs
  the block hash, and carries the block bytes beside it);
- COMMIT: exactly the PROTOCOL.md commit vote, `COMMIT_DOMAIN + commit_vote_bytes(chain, view,
  height, block_hash)`, so 2f+1 COMMITs of one view are a `CommitCertificate`;
- CHECKPOINT: `CHECKPOINT_DOMAIN + canonical({"chain", "seq", "app_hash"})`.

Blocks by hash (#11 item 3). A PRE-PREPARE signs only the block hash, which is the hash of
the header; so a PRE-PREPARE whose block is cut down to its header (`PrePrepare.by_hash`, no
transactions) carries the same valid signature and everything the view change computes on
(seq, hash, prev_hash, time, proposer). Prepared certificates in a VIEW-CHANGE and the
re-proposals of a NEW-VIEW travel in that form, so their size does not grow with block
size; replicas get the bodies from their own log or with BLOCK-REQUEST / BLOCK. Only the
replica's own disk keeps certificates with their bodies (`to_map(with_body=True)`).

- BLOCK-REQUEST: `CONSENSUS_DOMAIN + canonical({"type", "chain", "view", "hashes",
  "sender"})`: the block bodies `sender` lacks;
- BLOCK: `CONSENSUS_DOMAIN + canonical({"type", "chain", "block_hash", "sender"})`, the
  block's bytes beside it; the receiver checks the body against the hash it asked for.

`decode` checks types, sizes and ranges and raises `MessageError`; it does not check
signatures (that needs the committee): `is_signed_by_sender` does.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from consensus import codec
from consensus.block import ZERO_HASH, Block, commit_vote_bytes
from consensus.constants import (
    HASH_BYTES,
    MAX_COUNTER,
    MAX_NAME_CHARS,
    SIGNATURE_BYTES,
    SMALL_MESSAGE_BYTES,
)
from consensus.crypto import CHECKPOINT_DOMAIN, COMMIT_DOMAIN, CONSENSUS_DOMAIN, Signer, verify
from consensus.quorum import Committee


class MessageError(ValueError):
    """Bytes from a peer that are not a well-formed message. `code` names the reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# -- field checks -----------------------------------------------------------------------------

def _int(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < MAX_COUNTER:
        raise MessageError("bad_field", f"{name} is an integer in [0, 2^62)")
    return value


def _hash(value: Any, name: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != HASH_BYTES:
        raise MessageError("bad_field", f"{name} is {HASH_BYTES} bytes")
    return value


def _sig(value: Any) -> bytes:
    if not isinstance(value, bytes) or len(value) != SIGNATURE_BYTES:
        raise MessageError("bad_field", f"sig is {SIGNATURE_BYTES} bytes")
    return value


def _name(value: Any) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_NAME_CHARS:
        raise MessageError("bad_field", f"sender is a name of 1 to {MAX_NAME_CHARS} characters")
    return value


def _bytes_list(value: Any, name: str, limit: int) -> list[bytes]:
    if not isinstance(value, list) or len(value) > limit:
        raise MessageError("bad_field", f"{name} is a list of at most {limit} items")
    for item in value:
        if not isinstance(item, bytes):
            raise MessageError("bad_field", f"{name} holds encoded messages")
    return value


def _fields(value: Any, type_tag: str, names: frozenset[str]) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != names | {"type", "sender", "sig"}:
        raise MessageError("bad_field", f"{type_tag} has exactly the fields "
                           f"{', '.join(sorted(names | {'type', 'sender', 'sig'}))}")
    if value["type"] != type_tag:
        raise MessageError("bad_field", f"expected a {type_tag}")
    return value


def _consensus_payload(type_tag: str, chain: str, fields: dict[str, Any]) -> bytes:
    return CONSENSUS_DOMAIN + codec.pack({"type": type_tag, "chain": chain, **fields})


# -- the messages ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PrePrepare:
    """The primary of `view` assigns `block` to sequence number `seq` (= block height)."""

    TYPE: ClassVar[str] = "PRE-PREPARE"
    view: int
    seq: int
    block: Block
    sender: str
    sig: bytes = b""

    @property
    def digest(self) -> bytes:
        return self.block.hash

    @property
    def is_by_hash(self) -> bool:
        """The block is its header only; its transactions (the body) are elsewhere."""
        return is_by_hash(self.block)

    def by_hash(self) -> PrePrepare:
        """The same PRE-PREPARE, signature still valid, with the block cut to its header."""
        if not self.block.txs:
            return self
        return dataclasses.replace(self, block=Block(self.block.header, ()))

    def with_body(self, block: Block) -> PrePrepare:
        """The same PRE-PREPARE with the full block whose hash it signed."""
        assert block.hash == self.digest
        return dataclasses.replace(self, block=block)

    def signing_payload(self, chain: str) -> bytes:
        return _consensus_payload(self.TYPE, chain, {
            "view": self.view, "seq": self.seq, "block_hash": self.block.hash,
            "sender": self.sender})

    def to_map(self) -> dict[str, Any]:
        return {"type": self.TYPE, "view": self.view, "seq": self.seq,
                "block": self.block.encode(), "sender": self.sender, "sig": self.sig}

    def encode(self) -> bytes:
        return codec.pack(self.to_map())

    @classmethod
    def from_map(cls, value: Any) -> PrePrepare:
        value = _fields(value, cls.TYPE, frozenset({"view", "seq", "block"}))
        if not isinstance(value["block"], bytes):
            raise MessageError("bad_field", "block is the block's encoded bytes")
        try:
            block = Block.decode(value["block"])
        except (ValueError, TypeError) as error:
            raise MessageError("bad_block", f"block does not decode: {error}") from None
        return cls(_int(value["view"], "view"), _int(value["seq"], "seq"), block,
                   _name(value["sender"]), _sig(value["sig"]))


@dataclass(frozen=True, slots=True)
class _Vote:
    """A vote of `sender` for the block with `block_hash` at (view, seq): PREPARE or COMMIT."""

    TYPE: ClassVar[str] = ""
    view: int
    seq: int
    block_hash: bytes
    sender: str
    sig: bytes = b""

    @property
    def digest(self) -> bytes:
        return self.block_hash

    def to_map(self) -> dict[str, Any]:
        return {"type": self.TYPE, "view": self.view, "seq": self.seq,
                "block_hash": self.block_hash, "sender": self.sender, "sig": self.sig}

    def encode(self) -> bytes:
        return codec.pack(self.to_map())

    @classmethod
    def from_map(cls, value: Any) -> Self:
        value = _fields(value, cls.TYPE, frozenset({"view", "seq", "block_hash"}))
        return cls(_int(value["view"], "view"), _int(value["seq"], "seq"),
                   _hash(value["block_hash"], "block_hash"), _name(value["sender"]),
                   _sig(value["sig"]))


@dataclass(frozen=True, slots=True)
class Prepare(_Vote):
    TYPE: ClassVar[str] = "PREPARE"

    def signing_payload(self, chain: str) -> bytes:
        return _consensus_payload(self.TYPE, chain, {
            "view": self.view, "seq": self.seq, "block_hash": self.block_hash,
            "sender": self.sender})


@dataclass(frozen=True, slots=True)
class Commit(_Vote):
    """A commit vote; its signature is the PROTOCOL.md commit vote for (view, seq, hash)."""

    TYPE: ClassVar[str] = "COMMIT"

    def signing_payload(self, chain: str) -> bytes:
        return COMMIT_DOMAIN + commit_vote_bytes(chain, self.view, self.seq, self.block_hash)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The app hash after executing block `seq`, signed by `sender`."""

    TYPE: ClassVar[str] = "CHECKPOINT"
    seq: int
    app_hash: bytes
    sender: str
    sig: bytes = b""

    @property
    def digest(self) -> bytes:
        return self.app_hash

    def signing_payload(self, chain: str) -> bytes:
        return CHECKPOINT_DOMAIN + codec.pack(
            {"chain": chain, "seq": self.seq, "app_hash": self.app_hash})

    def to_map(self) -> dict[str, Any]:
        return {"type": self.TYPE, "seq": self.seq, "app_hash": self.app_hash,
                "sender": self.sender, "sig": self.sig}

    def encode(self) -> bytes:
        return codec.pack(self.to_map())

    @classmethod
    def from_map(cls, value: Any) -> Checkpoint:
        value = _fields(value, cls.TYPE, frozenset({"seq", "app_hash"}))
        return cls(_int(value["seq"], "seq"), _hash(value["app_hash"], "app_hash"),
                   _name(value["sender"]), _sig(value["sig"]))


@dataclass(frozen=True, slots=True)
class CheckpointProof:
    """A stable checkpoint: a quorum of matching CHECKPOINTs (none for seq 0, genesis)."""

    seq: int
    app_hash: bytes
    checkpoints: tuple[Checkpoint, ...]

    def to_map(self) -> dict[str, Any]:
        return {"seq": self.seq, "app_hash": self.app_hash,
                "proof": [c.encode() for c in self.checkpoints]}

    def encode(self) -> bytes:
        return codec.pack(self.to_map())

    @classmethod
    def from_map(cls, value: Any, max_votes: int) -> CheckpointProof:
        if not isinstance(value, dict) or set(value) != {"seq", "app_hash", "proof"}:
            raise MessageError("bad_field", "a checkpoint proof is {seq, app_hash, proof}")
        proof = tuple(_decode_as(Checkpoint, item)
                      for item in _bytes_list(value["proof"], "proof", max_votes))
        return cls(_int(value["seq"], "seq"), _hash(value["app_hash"], "app_hash"), proof)

    @classmethod
    def decode(cls, data: bytes, max_votes: int) -> CheckpointProof:
        try:
            value = codec.unpack(data)
        except codec.EncodingError as error:
            raise MessageError(error.code, error.message) from None
        return cls.from_map(value, max_votes)


@dataclass(frozen=True, slots=True)
class PreparedCertificate:
    """A PRE-PREPARE and a quorum of PREPAREs for it: the block was prepared in its view."""

    pre_prepare: PrePrepare
    prepares: tuple[Prepare, ...]

    @property
    def view(self) -> int:
        return self.pre_prepare.view

    @property
    def seq(self) -> int:
        return self.pre_prepare.seq

    @property
    def block(self) -> Block:
        return self.pre_prepare.block

    def to_map(self, with_body: bool = False) -> dict[str, Any]:
        """On the wire the block travels by hash; `with_body` is for the replica's disk."""
        pre_prepare = self.pre_prepare if with_body else self.pre_prepare.by_hash()
        return {"pre_prepare": pre_prepare.encode(),
                "prepares": [p.encode() for p in self.prepares]}

    @classmethod
    def from_map(cls, value: Any, max_votes: int,
                 with_body: bool = False) -> PreparedCertificate:
        if not isinstance(value, dict) or set(value) != {"pre_prepare", "prepares"}:
            raise MessageError("bad_field", "a prepared certificate is {pre_prepare, prepares}")
        if not isinstance(value["pre_prepare"], bytes):
            raise MessageError("bad_field", "pre_prepare is an encoded PRE-PREPARE")
        pre_prepare = _decode_as(PrePrepare, value["pre_prepare"])
        if pre_prepare.block.txs and not with_body:
            raise MessageError("bad_field", "a prepared certificate carries its block by hash")
        prepares = tuple(_decode_as(Prepare, item)
                         for item in _bytes_list(value["prepares"], "prepares", max_votes))
        return cls(pre_prepare, prepares)


class _SignedBody:
    """A message whose signed payload is its `_body()` (VIEW-CHANGE, NEW-VIEW, BLOCK-REQUEST):
    the signing bytes, the map and the encoding follow from it."""

    __slots__ = ()
    TYPE: ClassVar[str]
    sig: bytes

    def _body(self) -> dict[str, Any]:
        raise NotImplementedError

    def signing_payload(self, chain: str) -> bytes:
        return _consensus_payload(self.TYPE, chain, self._body())

    def to_map(self) -> dict[str, Any]:
        return {"type": self.TYPE, **self._body(), "sig": self.sig}

    def encode(self) -> bytes:
        return codec.pack(self.to_map())


@dataclass(frozen=True, slots=True)
class ViewChange(_SignedBody):
    """`sender` moves to `view`: its stable checkpoint and what it prepared above it."""

    TYPE: ClassVar[str] = "VIEW-CHANGE"
    view: int
    checkpoint: CheckpointProof
    prepared: tuple[PreparedCertificate, ...]
    sender: str
    sig: bytes = b""

    def _body(self) -> dict[str, Any]:
        return {"view": self.view, "checkpoint": self.checkpoint.to_map(),
                "prepared": [cert.to_map() for cert in self.prepared], "sender": self.sender}

    @classmethod
    def from_map(cls, value: Any, limits: DecodeLimits, stored: bool = False) -> ViewChange:
        value = _fields(value, cls.TYPE, frozenset({"view", "checkpoint", "prepared"}))
        prepared = value["prepared"]
        if not isinstance(prepared, list) or len(prepared) > limits.max_prepared:
            raise MessageError("bad_field", f"at most {limits.max_prepared} prepared "
                               "certificates (the watermark window)")
        return cls(_int(value["view"], "view"),
                   CheckpointProof.from_map(value["checkpoint"], limits.max_votes),
                   tuple(PreparedCertificate.from_map(c, limits.max_votes, with_body=stored)
                         for c in prepared),
                   _name(value["sender"]), _sig(value["sig"]))


@dataclass(frozen=True, slots=True)
class NewView(_SignedBody):
    """The primary of `view` starts it: the VIEW-CHANGEs it used and the re-proposals."""

    TYPE: ClassVar[str] = "NEW-VIEW"
    view: int
    view_changes: tuple[ViewChange, ...]
    pre_prepares: tuple[PrePrepare, ...]
    sender: str
    sig: bytes = b""

    def _body(self) -> dict[str, Any]:
        return {"view": self.view, "view_changes": [vc.encode() for vc in self.view_changes],
                "pre_prepares": [pp.by_hash().encode() for pp in self.pre_prepares],
                "sender": self.sender}

    @classmethod
    def from_map(cls, value: Any, limits: DecodeLimits, stored: bool = False) -> NewView:
        """`stored`: bytes from this replica's own disk, which an older version wrote with
        block bodies inside; they are cut to their headers (the signatures stay valid)."""
        value = _fields(value, cls.TYPE, frozenset({"view", "view_changes", "pre_prepares"}))
        view_changes = tuple(
            _decode_view_change(item, limits, stored)
            for item in _bytes_list(value["view_changes"], "view_changes", limits.max_votes))
        pre_prepares = tuple(
            _decode_as(PrePrepare, item)
            for item in _bytes_list(value["pre_prepares"], "pre_prepares", limits.max_prepared))
        if stored:
            pre_prepares = tuple(pp.by_hash() for pp in pre_prepares)
            view_changes = tuple(dataclasses.replace(vc, prepared=tuple(
                dataclasses.replace(cert, pre_prepare=cert.pre_prepare.by_hash())
                for cert in vc.prepared)) for vc in view_changes)
        if any(pp.block.txs for pp in pre_prepares):
            raise MessageError("bad_field", "a NEW-VIEW carries its re-proposals by hash")
        return cls(_int(value["view"], "view"), view_changes, pre_prepares,
                   _name(value["sender"]), _sig(value["sig"]))


@dataclass(frozen=True, slots=True)
class BlockRequest(_SignedBody):
    """`sender` lacks the bodies of these blocks (re-proposals of `view` it holds by hash)."""

    TYPE: ClassVar[str] = "BLOCK-REQUEST"
    view: int
    hashes: tuple[bytes, ...]
    sender: str
    sig: bytes = b""

    def _body(self) -> dict[str, Any]:
        return {"view": self.view, "hashes": list(self.hashes), "sender": self.sender}

    @classmethod
    def from_map(cls, value: Any, limits: DecodeLimits) -> BlockRequest:
        value = _fields(value, cls.TYPE, frozenset({"view", "hashes"}))
        hashes = value["hashes"]
        if not isinstance(hashes, list) or not 0 < len(hashes) <= limits.max_prepared:
            raise MessageError("bad_field", f"hashes is a list of 1 to {limits.max_prepared}")
        checked = tuple(_hash(h, "hash") for h in hashes)  # bytes first: set() needs them
        if len(set(checked)) != len(checked):  # (a list among them raised TypeError: R2)
            raise MessageError("bad_field", "hashes are distinct")
        return cls(_int(value["view"], "view"), checked, _name(value["sender"]),
                   _sig(value["sig"]))


@dataclass(frozen=True, slots=True)
class BlockReply:
    """A block body, answering a BLOCK-REQUEST; the receiver checks it against the hash."""

    TYPE: ClassVar[str] = "BLOCK"
    block: Block
    sender: str
    sig: bytes = b""

    def signing_payload(self, chain: str) -> bytes:
        return _consensus_payload(self.TYPE, chain, {"block_hash": self.block.hash,
                                                     "sender": self.sender})

    def to_map(self) -> dict[str, Any]:
        return {"type": self.TYPE, "block": self.block.encode(), "sender": self.sender,
                "sig": self.sig}

    def encode(self) -> bytes:
        return codec.pack(self.to_map())

    @classmethod
    def from_map(cls, value: Any) -> BlockReply:
        value = _fields(value, cls.TYPE, frozenset({"block"}))
        if not isinstance(value["block"], bytes):
            raise MessageError("bad_field", "block is the block's encoded bytes")
        try:
            block = Block.decode(value["block"])
        except (ValueError, TypeError) as error:
            raise MessageError("bad_block", f"block does not decode: {error}") from None
        return cls(block, _name(value["sender"]), _sig(value["sig"]))


def is_by_hash(block: Block) -> bool:
    """`block` is a header whose transactions were left out (an empty block is whole)."""
    return not block.txs and block.header.tx_root != ZERO_HASH


Message = (PrePrepare | Prepare | Commit | Checkpoint | ViewChange | NewView | BlockRequest
           | BlockReply)
Signable = Message

_SMALL: dict[str, type[Prepare] | type[Commit] | type[Checkpoint]] = {
    Prepare.TYPE: Prepare, Commit.TYPE: Commit, Checkpoint.TYPE: Checkpoint}


@dataclass(frozen=True, slots=True)
class DecodeLimits:
    max_message_bytes: int
    max_votes: int  # n: no list of votes or VIEW-CHANGEs is longer
    max_prepared: int  # the watermark window: no more prepared certificates or re-proposals


def _unpack(data: bytes, max_bytes: int) -> Any:
    try:
        return codec.unpack(data, max_bytes=max_bytes)
    except codec.EncodingError as error:
        raise MessageError(error.code, error.message) from None


def _decode_as(cls: type[PrePrepare] | type[Prepare] | type[Commit] | type[Checkpoint],
               data: bytes) -> Any:
    limit = SMALL_MESSAGE_BYTES if cls.TYPE in _SMALL else len(data)
    return cls.from_map(_unpack(data, limit))


def _decode_view_change(data: bytes, limits: DecodeLimits, stored: bool = False) -> ViewChange:
    return ViewChange.from_map(_unpack(data, limits.max_message_bytes), limits, stored)


def decode_stored(data: bytes, limits: DecodeLimits) -> Message:
    """A message this replica persisted itself (its VIEW-CHANGE, a NEW-VIEW): as `decode`,
    but an older version's form, with block bodies inside certificates and re-proposals, is
    read too and cut to blocks by hash."""
    value = _unpack(data, max(limits.max_message_bytes, len(data)))
    if isinstance(value, dict) and value.get("type") == ViewChange.TYPE:
        view_change = ViewChange.from_map(value, limits, stored=True)
        return dataclasses.replace(view_change, prepared=tuple(
            dataclasses.replace(cert, pre_prepare=cert.pre_prepare.by_hash())
            for cert in view_change.prepared))
    if isinstance(value, dict) and value.get("type") == NewView.TYPE:
        return NewView.from_map(value, limits, stored=True)
    return decode(data, limits)


def decode(data: bytes, limits: DecodeLimits) -> Message:
    """One message from a peer's bytes; MessageError if malformed or over a limit."""
    if not isinstance(data, bytes):
        raise MessageError("bad_encoding", "a message is bytes")
    value = _unpack(data, limits.max_message_bytes)
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise MessageError("bad_field", "a message is a map with a type")
    type_tag = value["type"]
    small = _SMALL.get(type_tag)
    if small is not None:
        if len(data) > SMALL_MESSAGE_BYTES:
            raise MessageError("too_large", f"a {type_tag} is at most {SMALL_MESSAGE_BYTES} bytes")
        return small.from_map(value)
    if type_tag == PrePrepare.TYPE:
        return PrePrepare.from_map(value)
    if type_tag == ViewChange.TYPE:
        return ViewChange.from_map(value, limits)
    if type_tag == NewView.TYPE:
        return NewView.from_map(value, limits)
    if type_tag == BlockRequest.TYPE:
        return BlockRequest.from_map(value, limits)
    if type_tag == BlockReply.TYPE:
        return BlockReply.from_map(value)
    raise MessageError("unknown_type", f"unknown message type {type_tag[:32]!r}")


# -- signatures --------------------------------------------------------------------------------

def sign(message: Any, signer: Signer, chain: str) -> Any:
    """A copy of `message` with `sig` set (the domain is part of `signing_payload`)."""
    payload = message.signing_payload(chain)
    domain = _domain_of(payload)
    return dataclasses.replace(message, sig=signer.sign(domain, payload[len(domain):]))


def _domain_of(payload: bytes) -> bytes:
    for domain in (CONSENSUS_DOMAIN, COMMIT_DOMAIN, CHECKPOINT_DOMAIN):
        if payload.startswith(domain):
            return domain
    raise AssertionError("every signing payload starts with a known domain")


def is_signed_by_sender(message: Any, committee: Committee) -> bool:
    """`message.sender` is an operator and `message.sig` is its signature."""
    key = committee.keys.get(message.sender)
    if key is None:
        return False
    payload = message.signing_payload(committee.chain)
    domain = _domain_of(payload)
    return verify(key, domain, payload[len(domain):], message.sig)
