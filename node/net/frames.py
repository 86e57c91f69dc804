"""The frames nodes send each other over their p2p links (node.net.p2p carries bytes): canonical
msgpack `[kind, payload]`, where the payload is a scalar, or an array of scalars or of short
arrays of scalars:

  c  bytes                         a consensus message (consensus.messages)
  t  [[body, sig], ...]            client transactions a node admitted (node.net.gossip)
  f  [start, stop]                 a state-transfer request (node.net.fetch)
  b  [[block, certificate], ...]   its answer (node.net.transfer)
  s  height                        an operator's executed height (node.net.sync)
  k  [block, certificate]          a committed block, for an observer

`decode` reads that shape and nothing bigger: no map, no array deeper than two levels or
longer than the longest payload. A peer (any operator may be Byzantine) that sends 16 MiB of
empty arrays, one byte each, is refused at the first one out of place, where decoding the
whole frame first cost 19 s on the event loop and 2 GB. Then it checks the payload has its
kind's shape (the table above: bytes where bytes are, non-negative integers where heights
are, pairs of bytes where pairs are); an unknown kind or another shape is refused too. So a
frame that decodes is one its consumer can take as it is: what goes wrong after that is the
node's own bug, not the peer's bad frame (node.app)."""

from __future__ import annotations

from typing import Any

import msgpack

from consensus import codec
from node.net.gossip import GOSSIP_BATCH

MAX_ITEMS = GOSSIP_BATCH  # the longest payload: a "t" frame (a "b" frame has 64 at most)
MAX_INNER = 2  # [body, sig], [block, certificate]


def decode(frame: bytes) -> tuple[Any, Any]:
    """(kind, payload) of a frame; EncodingError when it is not one, or not canonical."""
    reader = codec.flat_reader(frame)
    try:
        if not frame or frame[0] != 0x92:  # an array of two
            raise ValueError("a frame is [kind, payload]")
        reader.read_array_header()
        kind = reader.unpack()
        payload = _read(reader, frame)
        if reader.tell() != len(frame):
            raise ValueError("bytes after the frame")
    except codec.READ_ERRORS as error:
        raise codec.EncodingError("bad_encoding", f"not a frame: {error}") from None
    if codec.pack([kind, payload]) != frame:
        raise codec.EncodingError("not_canonical", "the frame is not canonical msgpack")
    if not _has_shape(kind, payload):
        raise codec.EncodingError("bad_frame", f"not the shape of a {str(kind)[:8]!r} frame")
    return kind, payload


MAX_COUNTER = 2**63  # heights in "f" and "s" frames


def _has_shape(kind: Any, payload: Any) -> bool:
    if kind == "c":
        return isinstance(payload, bytes)
    if kind in ("t", "b"):
        return isinstance(payload, list) and all(map(_is_pair, payload))
    if kind == "k":
        return _is_pair(payload)
    if kind == "f":
        return isinstance(payload, list) and len(payload) == 2 and all(map(_is_counter, payload))
    if kind == "s":
        return _is_counter(payload)
    return False


def _is_pair(value: Any) -> bool:
    return (isinstance(value, list) and len(value) == 2
            and isinstance(value[0], bytes) and isinstance(value[1], bytes))


def _is_counter(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < MAX_COUNTER


def _read(reader: msgpack.Unpacker, frame: bytes) -> Any:
    """The payload: a scalar, or an array of scalars and of short arrays of scalars."""
    if not codec.is_array_head(_next_byte(reader, frame)):
        return reader.unpack()  # a scalar; a map or an ext is refused by the reader
    count = reader.read_array_header()
    if count > MAX_ITEMS:
        raise ValueError(f"{count} items; at most {MAX_ITEMS}")
    items: list[Any] = []
    for _ in range(count):
        if 0x90 <= _next_byte(reader, frame) <= 0x9F:
            inner = reader.read_array_header()
            if inner > MAX_INNER:
                raise ValueError(f"an item of {inner}; at most {MAX_INNER}")
            items.append([reader.unpack() for _ in range(inner)])
        else:  # a scalar; a longer array, a map or an ext is refused by the reader
            items.append(reader.unpack())
    return items


def _next_byte(reader: msgpack.Unpacker, frame: bytes) -> int:
    """The first byte of the next value (its type), or ValueError if the frame ends first."""
    position = reader.tell()
    if position >= len(frame):
        raise ValueError("the frame ends early")
    return frame[position]
