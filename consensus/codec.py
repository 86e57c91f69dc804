"""Canonical msgpack: the one encoding that is signed, hashed and stored.

Rules (PROTOCOL.md, "Encoding"): maps have `str` keys only, written in the order of their
UTF-8 bytes; integers, booleans, nil, `str`, `bin` and arrays only (no floats, no ext types).
`unpack` accepts a byte string only if re-encoding what it decoded gives the same bytes, so a
value has exactly one encoding and its hash is well defined.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgpack

MAX_DEPTH = 32  # nesting bound for decoded values; no honest message nests deeper


class EncodingError(ValueError):
    """Bytes that do not decode, or a value that has no canonical encoding."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code  # "bad_encoding" or "not_canonical"
        self.message = message


_INT_LOW = -(2**63)
_INT_HIGH = 2**64
_FLAT = frozenset({str, bytes, type(None), bool, int})  # the exact types of a flat map's values
_STR_KEYS = frozenset({str})
# The one packer `pack` reuses: msgpack's `packb` builds a Packer per call, which cost more
# than packing a small value. Shared by threads safely: `Packer.pack` runs in C holding the GIL
# from start to end (no `default` hook calls back into Python) and resets its buffer when it
# raises, so calls never interleave or leave bytes behind.
_PACKER = msgpack.Packer(use_bin_type=True)


def _normalize(value: Any, depth: int = 0) -> Any:
    """The value with every map's keys in canonical order, checked for encodability.

    The fast path handles the exact built-in types inline; anything else (subclasses, non-str
    keys, errors) goes to `_normalize_general`, which is the definition. Sorting `str` keys by
    code point is sorting them by their UTF-8 bytes (UTF-8 preserves code point order). A flat
    map (every value a str, bytes, None, bool or int: a stored record) is sorted whole, its
    types read by `map` rather than item by item, and packed as it is when its keys are in
    order already (a record read from state keeps its order when a field changes); an
    integer in it outside the 64-bit range is refused by `pack`'s packer, not here
    (tests/consensus/test_codec_fast_path.py)."""
    kind = type(value)
    if depth >= MAX_DEPTH:  # near the bound: the definition, with its depth checks
        return _normalize_general(value, depth)
    if kind is dict:
        if set(map(type, value)) != _STR_KEYS:  # a non-str key, or no key at all
            return _normalize_general(value, depth)
        if set(map(type, value.values())) <= _FLAT:  # a flat map (a record): its ints are
            keys = list(value)  # range-checked by the packer (`pack`)
            ordered = sorted(keys)
            if keys == ordered:  # a record read from state, or built in key order
                return value
            return {key: value[key] for key in ordered}
        keys = sorted(value)
        out = {}
        for key in keys:
            item = value[key]
            item_kind = type(item)
            if (item_kind is str or item_kind is bytes or item is None or item_kind is bool
                    or (item_kind is int and _INT_LOW <= item < _INT_HIGH)):
                out[key] = item
            else:
                out[key] = _normalize(item, depth + 1)
        return out
    if kind is list or kind is tuple:
        return [item if (type(item) is str or type(item) is bytes or item is None)
                else _normalize(item, depth + 1) for item in value]
    if kind is str or kind is bytes or value is None or kind is bool:
        return value
    if kind is int and _INT_LOW <= value < _INT_HIGH:
        return value
    return _normalize_general(value, depth)


def _normalize_general(value: Any, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise EncodingError("bad_encoding", "value nests too deeply")
    if isinstance(value, bool) or value is None or isinstance(value, (str, bytes)):
        return value
    if isinstance(value, int):
        if not -(2**63) <= value < 2**64:
            raise EncodingError("bad_encoding", "integer out of the 64-bit range")
        return value
    if isinstance(value, dict):
        items = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise EncodingError("bad_encoding", f"map key {key!r} is not a string")
            items.append((key.encode(), key, _normalize_general(item, depth + 1)))
        items.sort(key=lambda entry: entry[0])
        return {key: item for _, key, item in items}
    if isinstance(value, (list, tuple)):
        return [_normalize_general(item, depth + 1) for item in value]
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise EncodingError("bad_encoding", f"type {type(value).__name__} has no canonical encoding")


def check(value: Any, depth: int = 0) -> None:
    """Raise EncodingError unless `value` has a canonical encoding: `pack` without building
    the normalised copy or the bytes, for values that are only checked (a contract's result
    and events). The exact built-in types are walked here; anything else goes to the
    definition, `_normalize_general`."""
    kind = type(value)
    if depth >= MAX_DEPTH:
        _normalize_general(value, depth)
    elif kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                _normalize_general(value, depth)
                return
            item_kind = type(item)
            if not (item_kind is str or item_kind is bytes or item is None or item_kind is bool
                    or (item_kind is int and _INT_LOW <= item < _INT_HIGH)):
                check(item, depth + 1)
    elif kind is list or kind is tuple:
        for item in value:
            if not (type(item) is str or type(item) is bytes or item is None):
                check(item, depth + 1)
    elif not (kind is str or kind is bytes or value is None or kind is bool
              or (kind is int and _INT_LOW <= value < _INT_HIGH)):
        _normalize_general(value, depth)


def pack(value: Any) -> bytes:
    """The canonical bytes of `value`. The packer (`_PACKER`) refuses an integer outside the
    64-bit range (OverflowError), which `_normalize` leaves to it in a flat map."""
    try:
        return _PACKER.pack(_normalize(value))  # type: ignore[no-any-return]
    except OverflowError:
        raise EncodingError("bad_encoding", "integer out of the 64-bit range") from None


def unpack(data: bytes, *, max_bytes: int | None = None) -> Any:
    """Decode canonical bytes; raise EncodingError unless they are exactly canonical."""
    if max_bytes is not None and len(data) > max_bytes:
        raise EncodingError("bad_encoding", f"{len(data)} bytes is over the limit {max_bytes}")
    try:
        value = msgpack.unpackb(
            data, raw=False, strict_map_key=True, use_list=True
        )
    except (ValueError, TypeError, msgpack.ExtraData, msgpack.FormatError,
            msgpack.StackError) as error:
        reason = str(error) or type(error).__name__
        raise EncodingError("bad_encoding", f"not msgpack: {reason}") from None
    try:
        again = pack(value)
    except EncodingError as error:
        raise EncodingError("bad_encoding", error.message) from None
    if again != data:
        raise EncodingError("not_canonical", "bytes are not in canonical form (sorted keys, "
                            "shortest integers, bin for bytes)")
    return value


# Reading untrusted msgpack one value at a time, so a count is checked before its items are
# built (node.admission.tx's envelope lists, node.net.frames): what the reader raises on bad
# input, and the first byte of an array or a map.
READ_ERRORS = (ValueError, msgpack.OutOfData, msgpack.FormatError, msgpack.StackError)


def flat_reader(data: bytes) -> msgpack.Unpacker:
    """A reader over `data` that builds no non-empty array or map: its caller reads their
    headers (`read_array_header`, `read_map_header`) and one met where `unpack` reads a value
    is refused at once."""
    reader = msgpack.Unpacker(raw=False, max_array_len=0, max_map_len=0, max_ext_len=0,
                              max_buffer_size=max(len(data), 1))
    reader.feed(data)
    return reader


def is_array_head(byte: int) -> bool:
    return 0x90 <= byte <= 0x9F or byte in (0xDC, 0xDD)


def is_map_head(byte: int) -> bool:
    return 0x80 <= byte <= 0x8F or byte in (0xDE, 0xDF)


def unpack_trusted(data: bytes) -> Any:
    """Decode bytes this node wrote itself with `pack` (its own store): no canonical re-check,
    which would cost a full re-encode per read. Never for bytes from a peer or a client."""
    return msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()
