"""Blocks, their hashes, and commit certificates (PROTOCOL.md, "Blocks and commit certificates").

A block is a header plus the transactions it orders, each kept as the client's exact
`(body_bytes, sig)` pair. The header commits to the transactions through `tx_root` and to the
chain through `prev_hash`. `tx_root` is the Merkle root of one leaf per transaction,
sha256(tx_id || sig) (`tx_leaf`): the block hash, and so every commit certificate, covers
each transaction's signature as well as its body. (It used to be the root of the tx ids
alone, so a peer could hand a replica the certified block with other signatures, which its
executor then refused: what executed was not what was certified.) A commit certificate is
2f+1 commit votes for one `(view, height, block_hash)`; anyone holding genesis can check it
offline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from consensus import codec
from consensus.crypto import COMMIT_DOMAIN, verify
from consensus.quorum import quorum_size

ZERO_HASH = b"\x00" * 32


def tx_id_of(body_bytes: bytes) -> bytes:
    return codec.sha256(body_bytes)


def tx_leaf(tx_id: bytes, sig: bytes) -> bytes:
    """A transaction's leaf in `tx_root`: sha256 of its id (32 bytes) and its signature (64
    bytes). 96 bytes hashed, where an inner node hashes 64: a leaf is never an inner node."""
    return codec.sha256(tx_id + sig)


def tx_root_of(txs: tuple[tuple[bytes, bytes], ...] | list[tuple[bytes, bytes]]) -> bytes:
    """The `tx_root` of `(body_bytes, sig)` pairs, in block order."""
    return merkle_root([tx_leaf(tx_id_of(body), sig) for body, sig in txs])


def merkle_root(leaves: list[bytes]) -> bytes:
    """sha256 pairwise; the last node of an odd level is paired with itself; empty -> zeros."""
    if not leaves:
        return ZERO_HASH
    level = list(leaves)
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        level = [codec.sha256(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


@dataclass(frozen=True, slots=True)
class BlockHeader:
    chain: str
    height: int
    prev_hash: bytes
    time: int
    view: int
    proposer: str
    tx_root: bytes

    def to_map(self) -> dict[str, Any]:
        return {
            "chain": self.chain, "height": self.height, "prev_hash": self.prev_hash,
            "time": self.time, "view": self.view, "proposer": self.proposer,
            "tx_root": self.tx_root,
        }

    def encode(self) -> bytes:
        return codec.pack(self.to_map())

    @property
    def hash(self) -> bytes:
        return codec.sha256(self.encode())

    @classmethod
    def from_map(cls, value: Any) -> BlockHeader:
        if not isinstance(value, dict) or set(value) != _HEADER_FIELDS:
            fields = ", ".join(sorted(_HEADER_FIELDS))
            raise ValueError(f"a block header has exactly the fields {fields}")
        header = cls(**value)
        header.check()
        return header

    @classmethod
    def decode(cls, data: bytes) -> BlockHeader:
        return cls.from_map(codec.unpack(data))

    def check(self) -> None:
        if not isinstance(self.chain, str) or not isinstance(self.proposer, str):
            raise ValueError("chain and proposer are strings")
        for name in ("height", "time", "view"):
            number = getattr(self, name)
            if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number < 2**63:
                raise ValueError(f"{name} is a non-negative integer")
        if self.height < 1:
            raise ValueError("heights start at 1")
        for name in ("prev_hash", "tx_root"):
            if not isinstance(getattr(self, name), bytes) or len(getattr(self, name)) != 32:
                raise ValueError(f"{name} is 32 bytes")


_HEADER_FIELDS = frozenset(BlockHeader.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class Block:
    """A header and its transactions as `(body_bytes, sig)` pairs, in order."""

    header: BlockHeader
    txs: tuple[tuple[bytes, bytes], ...]
    # Computed once, on first use: a block is hashed and encoded several times on its way
    # (pre-prepare, votes, store), and a large one costs milliseconds to encode.
    # init=False: dataclasses.replace() never carries a cache over to a different block.
    _hash: bytes | None = field(default=None, init=False, compare=False, repr=False)
    _bytes: bytes | None = field(default=None, init=False, compare=False, repr=False)

    @property
    def hash(self) -> bytes:
        if self._hash is None:
            object.__setattr__(self, "_hash", self.header.hash)
        assert self._hash is not None
        return self._hash

    @property
    def height(self) -> int:
        return self.header.height

    def tx_ids(self) -> list[bytes]:
        return [tx_id_of(body) for body, _ in self.txs]

    def is_consistent(self) -> bool:
        """The header's tx_root matches the transactions carried, signatures included."""
        return self.header.tx_root == tx_root_of(self.txs)

    def encode(self) -> bytes:
        if self._bytes is None:
            object.__setattr__(self, "_bytes", codec.pack(self.to_map()))
        assert self._bytes is not None
        return self._bytes

    @classmethod
    def decode(cls, data: bytes) -> Block:
        block = cls.from_map(codec.unpack(data))
        object.__setattr__(block, "_bytes", data)  # unpack proved `data` canonical
        return block

    @classmethod
    def from_map(cls, value: Any) -> Block:
        if not isinstance(value, dict) or set(value) != {"header", "txs"}:
            raise ValueError("a block is {header, txs}")
        header = BlockHeader.decode(value["header"])
        txs = value["txs"]
        if not isinstance(txs, list):
            raise ValueError("txs is a list")
        pairs = []
        for pair in txs:
            if (not isinstance(pair, list) or len(pair) != 2
                    or not isinstance(pair[0], bytes) or not isinstance(pair[1], bytes)):
                raise ValueError("each tx is [body_bytes, sig]")
            pairs.append((pair[0], pair[1]))
        return cls(header, tuple(pairs))

    def to_map(self) -> dict[str, Any]:
        return {"header": self.header.encode(), "txs": [[body, sig] for body, sig in self.txs]}


def make_block(chain: str, height: int, prev_hash: bytes, time: int, view: int, proposer: str,
               txs: tuple[tuple[bytes, bytes], ...] | list[tuple[bytes, bytes]]) -> Block:
    txs = tuple(txs)
    return Block(BlockHeader(chain, height, prev_hash, time, view, proposer, tx_root_of(txs)),
                 txs)


def commit_vote_bytes(chain: str, view: int, height: int, block_hash: bytes) -> bytes:
    """What an operator signs (after COMMIT_DOMAIN) to vote to commit a block."""
    return codec.pack({"chain": chain, "view": view, "height": height, "block_hash": block_hash})


@dataclass(frozen=True, slots=True)
class Vote:
    operator: str
    public_key: bytes
    sig: bytes


@dataclass(frozen=True, slots=True)
class CommitCertificate:
    view: int
    height: int
    block_hash: bytes
    votes: tuple[Vote, ...]

    def to_map(self) -> dict[str, Any]:
        return {"view": self.view, "height": self.height, "block_hash": self.block_hash,
                "votes": [{"operator": v.operator, "public_key": v.public_key, "sig": v.sig}
                          for v in self.votes]}

    def encode(self) -> bytes:
        return codec.pack(self.to_map())

    def to_json(self) -> dict[str, Any]:
        return {"view": self.view, "height": self.height, "block_hash": self.block_hash.hex(),
                "votes": [{"operator": v.operator, "public_key": v.public_key.hex(),
                           "sig": v.sig.hex()} for v in self.votes]}

    @classmethod
    def from_map(cls, value: Any) -> CommitCertificate:
        if not isinstance(value, dict) or set(value) != {"view", "height", "block_hash", "votes"}:
            raise ValueError("a certificate is {view, height, block_hash, votes}")
        votes = []
        for vote in value["votes"]:
            if not isinstance(vote, dict) or set(vote) != {"operator", "public_key", "sig"}:
                raise ValueError("a vote is {operator, public_key, sig}")
            votes.append(Vote(vote["operator"], vote["public_key"], vote["sig"]))
        return cls(value["view"], value["height"], value["block_hash"], tuple(votes))

    @classmethod
    def decode(cls, data: bytes) -> CommitCertificate:
        return cls.from_map(codec.unpack(data))

    @classmethod
    def from_json(cls, value: Any) -> CommitCertificate:
        try:
            return cls(int(value["view"]), int(value["height"]), bytes.fromhex(value["block_hash"]),
                       tuple(Vote(v["operator"], bytes.fromhex(v["public_key"]),
                                  bytes.fromhex(v["sig"])) for v in value["votes"]))
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"malformed certificate: {error}") from None


def check_certificate(cert: CommitCertificate, chain: str, operators: dict[str, bytes],
                      block_hash: bytes, height: int) -> str | None:
    """None if `cert` proves that a quorum of distinct operators committed `block_hash` at
    `height`; otherwise the reason it does not. `operators` maps operator name to public key.

    The quorum is `quorum.quorum_size(n)`, the one the replicas count (2f+1 when n = 3f+1,
    more otherwise), so a certificate never passes with fewer votes than a replica needed to
    commit. A malformed vote (an operator that is not a name, a key or signature that is not
    bytes) is a reason, never an exception: certificates come from untrusted peers."""
    if cert.block_hash != block_hash:
        return "certificate is for another block hash"
    if cert.height != height:
        return "certificate is for another height"
    n = len(operators)
    quorum = quorum_size(n)
    message = commit_vote_bytes(chain, cert.view, cert.height, cert.block_hash)
    seen: set[str] = set()
    for vote in cert.votes:
        if not isinstance(vote.operator, str) or not isinstance(vote.public_key, bytes) \
                or not isinstance(vote.sig, bytes):
            return "a vote is an operator name, a public key and a signature"
        if vote.operator not in operators:
            return f"vote from {vote.operator!r}, which is not an operator in genesis"
        if operators[vote.operator] != vote.public_key:
            return f"vote for {vote.operator!r} carries a key that is not its genesis key"
        if vote.operator in seen:
            return f"two votes from {vote.operator!r}"
        if not verify(vote.public_key, COMMIT_DOMAIN, message, vote.sig):
            return f"bad signature in the vote of {vote.operator!r}"
        seen.add(vote.operator)
    if len(seen) < quorum:
        return f"{len(seen)} valid votes; a certificate needs {quorum} (the quorum of n={n})"
    return None
