"""Client transactions: the envelope, the body, the id and the signature (PROTOCOL.md).

`decode_envelope` turns wire bytes (msgpack) or a JSON object into a `Transaction` whose body
is checked field by field. Each check failure raises `TxError` with a stable code from
PROTOCOL.md; nothing is changed anywhere by a rejected transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack

from consensus import codec
from consensus.block import tx_id_of
from consensus.crypto import TX_DOMAIN, verify

TX_VERSION = 1
MAX_TX_BYTES = 64 * 1024  # one transaction's body; a token transfer is ~250 bytes
MAX_NAME_CHARS = 64  # contract and method names
MAX_EXPIRY_MS = 3_600_000  # PROTOCOL.md: expires at most 1 hour after the node's now
# What a decoded transaction holds in memory, about (CPython 3.11, 64-bit): the Transaction,
# its body map and fields, and per item of its args the item and its slot (an empty map is 72
# bytes, a one-key map 192 for its two items, an int 40, an empty array 64).
TX_BASE_BYTES = 1024
OBJECT_BYTES = 96
BODY_FIELDS = frozenset({"v", "chain", "sender", "nonce", "expires", "contract", "method", "args"})


class TxError(Exception):
    """A transaction refused at admission; `code` is PROTOCOL.md's stable error code."""

    def __init__(self, code: str, message: str, status: int = 400,
                 retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.retry_after_s = retry_after_s  # for mempool_full: the Retry-After header


@dataclass(frozen=True, slots=True)
class Transaction:
    body_bytes: bytes
    sig: bytes
    tx_id: bytes
    chain: str
    sender: bytes
    nonce: int
    expires: int
    contract: str
    method: str
    args: dict[str, Any]
    # The bytes it holds in memory, at most about: its wire bytes, TX_BASE_BYTES, and
    # OBJECT_BYTES per item of its decoded args. What the mempool and the verified cache
    # count: 64 KiB of one-byte empty arrays is 4 MiB decoded, so counting wire bytes let a
    # pool bound of 32 MiB hold 2 GB.
    weight: int

    @property
    def tx_id_hex(self) -> str:
        return self.tx_id.hex()

    @property
    def sender_hex(self) -> str:
        return self.sender.hex()

    def envelope(self) -> bytes:
        return codec.pack({"body": self.body_bytes, "sig": self.sig})

    def is_signed(self) -> bool:
        return verify(self.sender, TX_DOMAIN, self.body_bytes, self.sig)

    def body_json(self) -> dict[str, Any]:
        return {"v": TX_VERSION, "chain": self.chain, "sender": self.sender.hex(),
                "nonce": self.nonce, "expires": self.expires, "contract": self.contract,
                "method": self.method, "args": to_json(self.args)}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def decode_body(body_bytes: bytes, sig: bytes) -> Transaction:
    """Check a body's form (not its signature, chain or expiry) and build the Transaction."""
    if len(body_bytes) > MAX_TX_BYTES:
        raise TxError("too_large", f"body is {len(body_bytes)} bytes; the limit is {MAX_TX_BYTES}",
                      413)
    try:
        body = codec.unpack(body_bytes)
    except codec.EncodingError as error:
        raise TxError(error.code, f"body: {error.message}") from None
    if not isinstance(body, dict):
        raise TxError("bad_encoding", "body is not a map")
    if set(body) != BODY_FIELDS:
        missing = sorted(BODY_FIELDS - set(body))
        extra = sorted(set(body) - BODY_FIELDS)
        raise TxError("bad_encoding", f"body fields: missing {missing}, unexpected {extra}")
    if body["v"] != TX_VERSION or not _is_int(body["v"]):
        raise TxError("bad_encoding", f"unsupported transaction version {body['v']!r}")
    if not isinstance(body["chain"], str):
        raise TxError("bad_encoding", "chain is a string")
    if not isinstance(body["sender"], bytes) or len(body["sender"]) != 32:
        raise TxError("bad_encoding", "sender is 32 bytes (an Ed25519 public key)")
    if not _is_int(body["nonce"]) or not 0 <= body["nonce"] < 2**64:
        raise TxError("bad_encoding", "nonce is an integer in 0..2^64-1")
    if not _is_int(body["expires"]) or not 0 <= body["expires"] < 2**63:
        raise TxError("bad_encoding", "expires is a non-negative integer (ms)")
    for name in ("contract", "method"):
        if not isinstance(body[name], str) or not 0 < len(body[name]) <= MAX_NAME_CHARS:
            raise TxError("bad_encoding", f"{name} is a non-empty string")
    if not isinstance(body["args"], dict):
        raise TxError("bad_encoding", "args is a map")
    if not isinstance(sig, bytes) or len(sig) != 64:
        raise TxError("bad_signature", "sig is 64 bytes")
    args = body["args"]
    return Transaction(body_bytes, sig, tx_id_of(body_bytes), body["chain"], body["sender"],
                       body["nonce"], body["expires"], body["contract"], body["method"],
                       args, len(body_bytes) + len(sig) + TX_BASE_BYTES
                       + OBJECT_BYTES * _items(args))


def _items(args: dict[str, Any]) -> int:
    """The items inside decoded args (each value of each map and array), and the map itself."""
    count, containers = 1, [args]
    while containers:
        container = containers.pop()
        count += len(container)
        for item in (container.values() if type(container) is dict else container):
            if type(item) is dict or type(item) is list:
                containers.append(item)
    return count


# A canonical body's keys are sorted, so it ends with its last two fields, `sender` (bin 32)
# and `v`: where the sender must be, if the body is canonical.
_SENDER_MARK = b"\xa6sender\xc4\x20"
_BODY_END = b"\xa1v" + codec.pack(TX_VERSION)
_SENDER_END = -len(_BODY_END)
_SENDER_START = _SENDER_END - 32


def peek_sender(body: bytes) -> bytes | None:
    """The sender of a body, read from where a canonical body keeps it, without decoding it;
    None when the body does not end as a canonical one does. Not a check: a body that ends
    so may still be malformed, and only `decode_body` says whether it is."""
    if not body.endswith(_BODY_END) \
            or body[_SENDER_START - len(_SENDER_MARK):_SENDER_START] != _SENDER_MARK:
        return None
    return body[_SENDER_START:_SENDER_END]


def decode_envelope_map(envelope: Any) -> Transaction:
    """From a decoded envelope: msgpack `{body: bin, sig: bin}` or JSON `{body: hex, sig: hex}`."""
    if not isinstance(envelope, dict) or set(envelope) != {"body", "sig"}:
        raise TxError("bad_encoding", "an envelope is {\"body\", \"sig\"}")
    body, sig = envelope["body"], envelope["sig"]
    if isinstance(body, str) and isinstance(sig, str):
        try:
            body, sig = bytes.fromhex(body), bytes.fromhex(sig)
        except ValueError:
            raise TxError("bad_encoding", "body and sig are lowercase hex in JSON") from None
    if not isinstance(body, bytes) or not isinstance(sig, bytes):
        raise TxError("bad_encoding", "body and sig are bytes (bin in msgpack, hex in JSON)")
    return decode_body(body, sig)


def decode_envelope(data: bytes) -> Transaction:
    """From msgpack envelope bytes (canonical: the map's keys in order, shortest forms)."""
    try:
        envelope = _read_envelope(codec.flat_reader(data), data)
        if not isinstance(envelope, dict) or codec.pack(envelope) != data:
            raise codec.EncodingError("not_canonical", "not a canonical {body, sig} map")
    except codec.EncodingError as error:
        raise TxError(error.code, f"envelope: {error.message}") from None
    return decode_envelope_map(envelope)


def read_envelope_list(data: bytes, max_items: int) -> list[Any]:
    """A msgpack array of envelopes (maps, or envelope bytes), each left for
    `decode_envelope_map` / `decode_envelope` to check. The count is checked before any item
    is read, and no array or map is built inside an item: a hostile body of nested empty
    containers (one object per byte, 8 MiB of them) is refused at its first one, not after
    seconds of decoding and ~70 bytes of memory per byte."""
    try:
        reader = codec.flat_reader(data)
        if not data or not codec.is_array_head(data[0]):
            raise codec.EncodingError("bad_encoding", "not an array")
        count = reader.read_array_header()
        if count > max_items:
            raise TxError("too_large", f"{count} envelopes; at most {max_items}", 413)
        items = [_read_envelope(reader, data) for _ in range(count)]
        if reader.tell() != len(data):
            raise codec.EncodingError("bad_encoding", "bytes after the array")
    except codec.EncodingError as error:
        raise TxError("bad_encoding", f"body is an array of envelopes: {error.message}") \
            from None
    return items


def _read_envelope(reader: msgpack.Unpacker, data: bytes) -> Any:
    """The item at `reader`'s position: a map of at most two scalar fields, or bytes (an
    envelope's); anything else is not an envelope and refuses the whole body."""
    try:
        position = reader.tell()
        if position >= len(data):
            raise codec.EncodingError("bad_encoding", "truncated")
        if codec.is_map_head(data[position]):
            return _read_envelope_map(reader)
        item = reader.unpack()
    except codec.READ_ERRORS:
        raise codec.EncodingError("bad_encoding", "not msgpack, or an array or map inside an "
                                  "envelope") from None
    if not isinstance(item, bytes):
        raise codec.EncodingError("bad_encoding", "an item is an envelope map or its bytes")
    return item


def _read_envelope_map(reader: msgpack.Unpacker) -> dict[str, Any]:
    fields = reader.read_map_header()
    if fields > 2:
        raise codec.EncodingError("bad_encoding", "an envelope is {\"body\", \"sig\"}")
    envelope = {}
    for _ in range(fields):
        key = reader.unpack()
        if not isinstance(key, str):
            raise codec.EncodingError("bad_encoding", "map keys are strings")
        envelope[key] = reader.unpack()
    return envelope


def build(signer: Any, chain: str, contract: str, method: str, args: dict[str, Any],
          nonce: int, expires: int) -> Transaction:
    """Sign a new transaction with `signer` (a consensus.crypto.Signer)."""
    body = {"v": TX_VERSION, "chain": chain, "sender": signer.public_key, "nonce": nonce,
            "expires": expires, "contract": contract, "method": method, "args": args}
    body_bytes = codec.pack(body)
    return decode_body(body_bytes, signer.sign(TX_DOMAIN, body_bytes))


def to_json(value: Any) -> Any:
    """A decoded msgpack value as JSON: bytes become lowercase hex."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    return value
