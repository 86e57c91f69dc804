"""node.net.fetch: the catching-up side of state transfer, shared by node and simulator. Whatever a
peer answers, the fetch never raises, applies only certified blocks that extend the chain,
blames the peer and moves on; answers nobody asked for are ignored."""

from __future__ import annotations

from typing import Any

import pytest

from consensus import codec
from consensus.block import (
    ZERO_HASH,
    Block,
    CommitCertificate,
    Vote,
    commit_vote_bytes,
    make_block,
)
from consensus.crypto import COMMIT_DOMAIN, Signer
from node.net.fetch import MAX_ROUNDS, BlockFetch

CHAIN = "chain"
NAMES = ("ksd", "broker-a", "broker-b", "bank")
SIGNERS = {name: Signer(bytes([index + 1]) * 32) for index, name in enumerate(NAMES)}
KEYS = {name: signer.public_key for name, signer in SIGNERS.items()}


def certified_chain(length: int) -> list[list[bytes]]:
    pairs, prev = [], ZERO_HASH
    for height in range(1, length + 1):
        block = make_block(CHAIN, height, prev, 1000 + height, 0, "ksd",
                           [(f"tx {height}".encode(), b"s" * 64)])
        message = commit_vote_bytes(CHAIN, 0, height, block.hash)
        votes = tuple(Vote(name, SIGNERS[name].public_key,
                           SIGNERS[name].sign(COMMIT_DOMAIN, message)) for name in NAMES[:3])
        pairs.append([block.encode(), CommitCertificate(0, height, block.hash, votes).encode()])
        prev = block.hash
    return pairs


CHAIN_OF_5 = certified_chain(5)


def fetcher() -> BlockFetch:
    fetch = BlockFetch(CHAIN, KEYS, ["broker-a", "broker-b", "bank"])
    assert fetch.start(5)
    return fetch


def test_asks_the_highest_reporters_first_then_every_peer_in_turn() -> None:
    fetch = fetcher()
    asked = []
    for _ in range(4):
        request = fetch.next_request(0, ["bank"])
        assert request is not None and (request.start, request.stop) == (1, 5)
        asked.append(request.peer)
        assert fetch.on_failed(request.token)
    assert asked == ["bank", "broker-a", "broker-b", "bank"]


def test_good_answer_gives_blocks_in_order_and_resets_failures() -> None:
    fetch = fetcher()
    request = fetch.next_request(0, [])
    assert request is not None
    fetch.on_failed(request.token)
    request = fetch.next_request(0, [])
    assert request is not None
    blocks = fetch.take_reply(request.peer, CHAIN_OF_5[:3], 0, ZERO_HASH)
    assert [block.height for block, _ in blocks or []] == [1, 2, 3]
    assert fetch.failures == 0 and not fetch.faults and fetch.last_problem == ""
    assert not fetch.on_failed(request.token), "the answered request's timer is stale"


def _forged_operator_field() -> list[list[Any]]:
    block_bytes, cert_bytes = CHAIN_OF_5[0]
    cert = codec.unpack(cert_bytes)
    cert["votes"][0]["operator"] = ["a", "list"]
    return [[block_bytes, codec.pack(cert)]]


def _unsigned() -> list[list[bytes]]:
    block_bytes, cert_bytes = CHAIN_OF_5[0]
    cert = CommitCertificate.decode(cert_bytes)
    bad = CommitCertificate(cert.view, cert.height, cert.block_hash, tuple(
        Vote(v.operator, v.public_key, bytes(64)) for v in cert.votes))
    return [[block_bytes, bad.encode()]]


def _forged_tx_signatures() -> list[list[bytes]]:
    """The certified block's header and bodies, its certificate, other signatures: tx_root
    commits to them, so the block no longer matches its header (before, it was applied and
    its executor dropped the transactions: what executed was not what was certified)."""
    block_bytes, cert_bytes = CHAIN_OF_5[0]
    real = Block.decode(block_bytes)
    forged = Block(real.header, tuple((body, b"f" * 64) for body, _ in real.txs))
    assert forged.hash == real.hash
    return [[forged.encode(), cert_bytes]]


@pytest.mark.parametrize("payload", [
    5, None, "blocks", [5], [[b"x"]], [[b"x", b"y"]], [[b"x", 7]], [CHAIN_OF_5[0][0]],
    _forged_operator_field(), _unsigned(), [CHAIN_OF_5[1]],  # height 2 does not extend 0
    [[b"\xc1" * 3, b"\xc1"]], [CHAIN_OF_5[0]] * 65, _forged_tx_signatures(),
], ids=["int", "none", "str", "list-of-int", "short-pair", "garbage-bytes", "non-bytes",
        "unpaired", "operator-is-a-list", "bad-signatures", "gap", "invalid-msgpack",
        "over-batch", "forged-tx-signatures"])
def test_malformed_answer_blames_the_peer_and_moves_on(payload: Any) -> None:
    fetch = fetcher()
    request = fetch.next_request(0, ["bank"])
    assert request is not None and request.peer == "bank"
    blocks = fetch.take_reply("bank", payload, 0, ZERO_HASH)
    assert blocks == []
    assert fetch.faults == {"bank": 1} and fetch.last_problem.startswith("bank: ")
    following = fetch.next_request(0, ["bank"])
    assert following is not None and following.peer != "bank"


def test_verified_prefix_is_kept_when_the_rest_is_bad() -> None:
    fetch = fetcher()
    request = fetch.next_request(0, [])
    assert request is not None
    blocks = fetch.take_reply(request.peer, [*CHAIN_OF_5[:2], [b"junk", b"junk"]], 0, ZERO_HASH)
    assert [block.height for block, _ in blocks or []] == [1, 2]
    assert fetch.faults == {request.peer: 1}


def test_unasked_answers_are_ignored() -> None:
    fetch = BlockFetch(CHAIN, KEYS, ["broker-a", "broker-b", "bank"])
    assert fetch.take_reply("bank", CHAIN_OF_5, 0, ZERO_HASH) is None  # not fetching
    fetch.start(5)
    request = fetch.next_request(0, ["bank"])
    assert request is not None
    assert fetch.take_reply("fss", CHAIN_OF_5, 0, ZERO_HASH) is None  # an observer, unasked
    assert fetch.take_reply("broker-a", CHAIN_OF_5, 0, ZERO_HASH) is None  # not the one asked
    assert fetch.ignored == 3 and not fetch.faults
    assert fetch.take_reply("bank", CHAIN_OF_5, 0, ZERO_HASH)  # the awaited one
    assert fetch.take_reply("bank", CHAIN_OF_5, 0, ZERO_HASH) is None  # a second copy


def test_gives_up_after_every_peer_failed_repeatedly_and_says_it_fell_short() -> None:
    fetch = fetcher()
    rounds = 0
    while (request := fetch.next_request(0, [])) is not None:
        rounds += 1
        assert fetch.take_reply(request.peer, 5, 0, ZERO_HASH) == []
    assert rounds == MAX_ROUNDS * 3
    assert fetch.finish(0) is True and not fetch.fetching
    assert fetch.start(5) and fetch.next_request(0, []) is not None, "a later fetch starts over"


def test_single_node_network_has_nobody_to_ask() -> None:
    fetch = BlockFetch(CHAIN, KEYS, [])
    fetch.start(3)
    assert fetch.next_request(0, []) is None
    assert fetch.finish(0) is True


def test_a_state_transfer_answer_fits_a_frame() -> None:
    """blocks_to_serve stops at FETCH_MAX_BYTES, but always serves the first block."""
    from node.net.transfer import FETCH_MAX_BYTES, blocks_to_serve
    from node.storage import Batch, MemoryKV
    from node.storage import schema as s

    store = MemoryKV()
    batch = Batch()
    big = FETCH_MAX_BYTES * 3 // 8  # three of these are over the cap
    for height in range(1, 6):
        batch.put(s.block_key(height), bytes(big))
        batch.put(s.cert_key(height), b"c")
    store.write(batch, sync=True)
    served = blocks_to_serve(store, 5, 1, 5)
    assert len(served) == 2
    assert sum(len(b) + len(c) for b, c in served) <= FETCH_MAX_BYTES
    batch = Batch()
    batch.put(s.block_key(6), bytes(FETCH_MAX_BYTES + 1))
    batch.put(s.cert_key(6), b"c")
    store.write(batch, sync=True)
    assert len(blocks_to_serve(store, 6, 6, 6)) == 1
