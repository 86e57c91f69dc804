"""BLOCK-REQUEST cannot be made to amplify: a replica answers only the distinct bodies the
request's view re-proposes, at most a pipeline of full blocks in bytes per answer, and one
answer per peer per quarter timeout. Before, one signed request of 2 KB naming a 1 MB block
64 times got 64 MB back, for any view and any body the replica held."""

from __future__ import annotations

from consensus import messages as msg
from consensus.events import MessageReceived, Send, Tick
from tests.consensus.harness import CHAIN, Cluster, message_type, signer_of, txs


def view_one_re_proposing(cluster: Cluster, blocks: int, size: int = 0) -> list[bytes]:
    """op0 proposes `blocks` blocks that op1 and op2 commit and op3 never sees, then dies;
    view 1 (primary op1) re-proposes them by hash. Returns their hashes, in seq order."""
    cluster.deliver_if = lambda s, t, data: not (
        t == "op3" and message_type(data) in ("PRE-PREPARE", "PREPARE", "COMMIT", "BLOCK"))
    cluster.submit(txs(0, blocks, size=size), to=["op0"])
    cluster.advance(500)
    assert cluster.heights()["op2"] == blocks and cluster.heights()["op3"] == 0
    cluster.crash("op0")
    cluster.submit(txs(1000, 1), to=["op1", "op2", "op3"])
    cluster.advance(2100)
    new_view = cluster["op2"]._new_view
    assert cluster["op2"].view == 1 and new_view is not None
    hashes = [pp.digest for pp in new_view.pre_prepares]
    assert len(hashes) == blocks
    return hashes


def ask(cluster: Cluster, to: str, view: int, hashes: list[bytes],
        wait: bool = True) -> list[Send]:
    """op3 asks `to` for `hashes` (signed, however malformed), after the per-peer interval
    (`wait`); the BLOCKs `to` sends back."""
    request = msg.sign(msg.BlockRequest(view, tuple(hashes), "op3"), signer_of("op3"), CHAIN)
    if wait:
        cluster.now += cluster.config_for(to).view_timeout_ms // 4
        cluster.feed(to, Tick(cluster.now))
    actions = cluster[to].handle(MessageReceived("op3", request.encode()))
    return [a for a in actions if isinstance(a, Send) and message_type(a.data) == "BLOCK"]


def test_a_request_naming_one_body_many_times_gets_it_once_at_most() -> None:
    cluster = Cluster(4, max_block_txs=2)
    hashes = view_one_re_proposing(cluster, 1)
    op2 = cluster["op2"]
    answers = ask(cluster, "op2", 1, hashes * 64)
    assert len(answers) <= 1
    assert op2.stats.get("dropped_undecodable", 0) == 1  # repeated hashes are malformed


def test_only_the_bodies_the_requests_view_re_proposes_are_answered() -> None:
    cluster = Cluster(4, max_block_txs=2)
    hashes = view_one_re_proposing(cluster, 1)
    op2 = cluster["op2"]
    fresh = op2._log.slots[2].block  # op1 proposed the pending transaction afresh in view 1
    assert fresh.txs and fresh.header.view == 1 and fresh.hash not in hashes
    before = dict(op2.stats)
    assert len(ask(cluster, "op2", 1, hashes)) == 1  # the re-proposal: answered
    assert ask(cluster, "op2", 0, hashes, wait=False) == []  # a view op2 has left
    assert ask(cluster, "op2", 2, hashes, wait=False) == []  # a view op2 is not in
    assert ask(cluster, "op2", 1, [fresh.hash]) == []  # a block view 1 did not re-propose
    assert op2.view == 1
    for counter, count in (("dropped_block_request_wrong_view", 2),
                           ("dropped_block_request_unknown", 1)):
        assert op2.stats.get(counter, 0) - before.get(counter, 0) == count, counter


def test_one_answer_carries_at_most_a_pipeline_of_full_blocks() -> None:
    """Four re-proposed blocks of ~60 KB, a pipeline of two 64 KB blocks: op2 sends two
    bodies per answer and the rest with the next one."""
    cluster = Cluster(4, max_block_txs=1, max_block_bytes=64 * 1024, max_pipeline=2)
    hashes = view_one_re_proposing(cluster, 4, size=60 * 1024)
    first = ask(cluster, "op2", 1, hashes)
    assert len(first) == 2
    assert sum(len(a.data) for a in first) <= 2 * (64 * 1024 + 64 * 1024)
    second = ask(cluster, "op2", 1, hashes[2:])
    assert len(second) == 2
    assert {msg.decode(a.data, cluster["op2"]._limits).block.hash
            for a in first + second} == set(hashes)


def test_a_peer_is_answered_at_most_once_per_interval() -> None:
    cluster = Cluster(4, max_block_txs=2)
    hashes = view_one_re_proposing(cluster, 1)
    assert len(ask(cluster, "op2", 1, hashes)) == 1
    again = msg.sign(msg.BlockRequest(1, tuple(hashes), "op3"), signer_of("op3"), CHAIN)
    actions = cluster["op2"].handle(MessageReceived("op3", again.encode()))
    assert not any(isinstance(a, Send) for a in actions)
    assert cluster["op2"].stats["dropped_block_request_too_soon"] == 1
