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
kinds = st.one_of(st.sampled_from(["c", "t", "f", "b", "s", "k"]), st.text(max_size=2))


def is_pair(value):
    return isinstance(value, list) and len(value) == 2 and all(
        isinstance(item, bytes) for item in value)


def is_height(value):
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63


KIND_SHAPES = {
    "c": lambda p: isinstance(p, bytes),
    "t": lambda p: isinstance(p, list) and all(map(is_pair, p)),
    "b": lambda p: isinstance(p, list) and all(map(is_pair, p)),
    "k": is_pair,
    "f": lambda p: isinstance(p, list) and len(p) == 2 and all(map(is_height, p)),
    "s": is_height,
}


@settings(max_examples=600, deadline=None)
@given(kinds, values)
def test_decode_returns_the_frame_exactly_or_refuses_it(kind, payload):
    """Exactly the frames of the shape are read (a scalar, or up to MAX_ITEMS scalars and
    arrays of up to MAX_INNER scalars, in the shape of a known kind), and read back as
    sent; every other is refused."""
    raw = codec.pack([kind, payload])

    def scalar(value):  # an empty array is read where a scalar is: one object, bounded
        return not isinstance(value, list) or value == []

    fits = scalar(payload) or all(
        scalar(item) or (len(item) <= frames.MAX_INNER and all(map(scalar, item)))
        for item in payload)
    fits = fits and KIND_SHAPES.get(kind, lambda p: False)(payload)
    try:
        decoded = frames.decode(raw)
    except codec.EncodingError:
        assert not fits
    else:
        assert fits and list(decoded) == [kind, payload]


OTHER_SHAPES = [["c", 5], ["c", [b"x"]], ["t", 5], ["t", [[1, 2]]], ["t", [[b"body"]]],
                ["t", [b"body", b"sig"]], ["f", [1]], ["f", ["a", "b"]], ["f", [-1, 5]],
                ["f", 7], ["b", [[b"x"]]], ["b", b"x"], ["s", -1], ["s", b"5"], ["s", True],
                ["k", [b"x"]], ["k", [b"x", 5]], ["z", 1], [5, b"x"]]


@pytest.mark.parametrize("frame", OTHER_SHAPES, ids=[repr(f)[:24] for f in OTHER_SHAPES])
def test_a_frame_of_another_shape_than_its_kind_is_refused(frame):
    with pytest.raises(codec.EncodingError):
        frames.decode(codec.pack(frame))


async def test_the_node_counts_a_frame_of_another_shape_and_admits_nothing(net):  # noqa: F811
    """Before, a relayed pair that was not [bytes, bytes] was dropped without a count, and a
    fetch request of strings raised inside the handler; now each is a counted bad frame."""
    node, _, _, _ = net
    for frame in OTHER_SHAPES:
        node._on_frame("ksd", codec.pack(frame))
    assert node.metrics.frames_bad == len(OTHER_SHAPES) and len(node.mempool) == 0
    assert node.failure is None


async def test_our_own_bug_behind_a_good_frame_stops_the_node(net, monkeypatch):  # noqa: F811
    """A well-formed frame whose handling raises is this node's bug: it is not counted as
    the peer's bad frame (before: frames_bad, and the node carried on), and it stops the
    node (Node.failed, which `stoledger node run` waits on)."""
    node, _, _, _ = net

    def broken(peer: str, height: int) -> None:
        raise KeyError("a bug in our own code")

    monkeypatch.setattr(node.height_sync, "report", broken)
    with pytest.raises(KeyError):
        node._on_frame("ksd", codec.pack(["s", 5]))
    assert node.metrics.frames_bad == 0
    assert isinstance(node.failure, KeyError) and node.failed.is_set()


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
