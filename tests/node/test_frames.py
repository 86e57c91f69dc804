"""node.net.frames: a peer's frame is read in the shape frames have, and nothing bigger is built
from it (any operator may be Byzantine: 16 MiB of empty arrays cost 19 s and 2 GB before)."""

from __future__ import annotations

import os
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus import codec
from consensus.crypto import Signer
from node.net import frames
from node.net.gossip import GOSSIP_BATCH
from tests.node.test_rpc_hardening import net  # noqa: F401  (the pytest fixture)

LEGIT = [
    ["c", os.urandom(700)],
    ["t", [[os.urandom(250), os.urandom(64)] for _ in range(GOSSIP_BATCH)]],
    ["f", [1, 64]],
    ["b", [[os.urandom(900), os.urandom(200)] for _ in range(64)]],
    ["s", 123],
    ["k", [os.urandom(900), os.urandom(200)]],
]


@pytest.mark.parametrize("frame", LEGIT, ids=[frame[0] for frame in LEGIT])
def test_every_kind_of_frame_reads_back(frame):
    assert list(frames.decode(codec.pack(frame))) == frame


EMPTY = 2 * 2**20  # one byte each


@pytest.mark.parametrize("raw", [
    b"\x92\xa1t\xdd" + EMPTY.to_bytes(4, "big") + b"\x90" * EMPTY,  # 2 Mi empty pairs
    b"\x92\xa1t\xdc\x01\xf4" + (b"\xdc\x10\x00" + b"\x90" * 4096) * 500,  # long inner arrays
    b"\x92\xa1t\xdc\x01\xf4" + (b"\x92\x91" + b"\x90" + b"\x90") * 500,  # three deep
    b"\x92\xa1c\xdd" + EMPTY.to_bytes(4, "big") + b"\x80" * EMPTY,  # empty maps
], ids=["count", "long", "deep", "maps"])
def test_a_frame_of_empty_containers_is_refused_before_it_is_built(raw):
    tracemalloc.start()
    try:
        with pytest.raises(codec.EncodingError):
            frames.decode(raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * len(raw) + 2**20, f"peak {peak / 2**20:.1f} MiB"


def test_a_frame_that_is_not_canonical_is_refused():
    canonical = codec.pack(["s", 5])
    longer = b"\x92\xa1s\xcc\x05"  # 5 as a uint8: decodes, but not the canonical bytes
    assert list(frames.decode(canonical)) == ["s", 5]
    with pytest.raises(codec.EncodingError):
        frames.decode(longer)


scalars = st.one_of(st.integers(-(2**63), 2**64 - 1), st.binary(max_size=8),
                    st.text(max_size=4), st.none(), st.booleans())
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4), max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=2), values)
def test_decode_returns_the_frame_exactly_or_refuses_it(kind, payload):
    """Exactly the frames of the shape are read (a scalar, or up to MAX_ITEMS scalars and
    arrays of up to MAX_INNER scalars), and read back as sent; every other is refused."""
    raw = codec.pack([kind, payload])

    def scalar(value):  # an empty array is read where a scalar is: one object, bounded
        return not isinstance(value, list) or value == []

    fits = scalar(payload) or all(
        scalar(item) or (len(item) <= frames.MAX_INNER and all(map(scalar, item)))
        for item in payload)
    try:
        decoded = frames.decode(raw)
    except codec.EncodingError:
        assert not fits
    else:
        assert fits and list(decoded) == [kind, payload]


async def test_the_node_counts_such_a_frame_bad_and_admits_nothing(net):  # noqa: F811
    node, _, _, _ = net
    node._on_frame("broker-a", b"\x92\xa1t\xdd" + EMPTY.to_bytes(4, "big") + b"\x90" * EMPTY)
    assert node.metrics.frames_bad == 1 and len(node.mempool) == 0


async def test_refused_relays_are_counted_by_code(net):  # noqa: F811
    import time

    from node.admission import tx as txmod
    from node.net.gossip import gossip_frames

    node, _, keys, _ = net
    tx = txmod.build(keys["bank"], node.genesis.chain_id, "cash", "mint",
                     {"to": keys["bank"].account, "amount": 1}, 0,
                     int(time.time() * 1000) + 60_000)
    stranger = txmod.build(Signer.generate(), node.genesis.chain_id, "cash", "mint",
                           {"to": keys["bank"].account, "amount": 1}, 0,
                           int(time.time() * 1000) + 60_000)
    for _ in range(2):
        for frame in gossip_frames([tx, stranger]):
            node._on_frame("broker-a", frame)
    assert len(node.mempool) == 1
    text = node.metrics.render(node)
    assert 'stoledger_txs_relay_refused_total{code="duplicate"} 1' in text
    assert 'stoledger_txs_relay_refused_total{code="unknown_sender"} 2' in text


@pytest.mark.parametrize("frame", LEGIT, ids=[frame[0] for frame in LEGIT])
def test_every_cut_of_a_frame_is_refused_as_a_bad_frame(frame):
    """A frame cut anywhere (a peer's, at the end of its bytes) is an EncodingError, never
    another exception out of the node's frame handler."""
    raw = codec.pack(frame)
    for end in {*range(min(8, len(raw))), len(raw) // 2, len(raw) - 1}:
        with pytest.raises(codec.EncodingError):
            frames.decode(raw[:end])
