"""What executes is what was certified: tx_root is the Merkle root of sha256(tx_id || sig) per
transaction, so the block hash (and every vote and certificate on it) covers the signatures,
and a body that arrives without its PRE-PREPARE (a BLOCK answer, a re-sent re-proposal) is
refused when its signatures are not the ones its header committed to. Before, tx_root covered
the bodies alone: a peer answering BLOCK-REQUEST with the real bodies under garbage signatures
made the replica commit them under the real hash and certificate, and its executor dropped
those transactions, so its state diverged."""

from __future__ import annotations

import dataclasses

from consensus import messages as msg
from consensus.block import Block, make_block, tx_id_of, tx_leaf, tx_root_of
from consensus.events import MessageReceived
from tests.consensus.harness import CHAIN, GENESIS_TIME, Cluster, message_type, signer_of, txs


def forged(block: Block) -> Block:
    """The same header and bodies, other signatures (the harness signs with zeros)."""
    return Block(block.header, tuple((body, b"\x07" * 64) for body, _ in block.txs))


def test_tx_root_commits_to_every_signature() -> None:
    pairs = [(b"one", b"\x01" * 64), (b"two", b"\x02" * 64), (b"three", b"\x03" * 64)]
    block = make_block(CHAIN, 1, bytes(32), GENESIS_TIME, 0, "op0", pairs)
    other = make_block(CHAIN, 1, bytes(32), GENESIS_TIME, 0, "op0",
                       [*pairs[:2], (b"three", b"\x04" * 64)])
    assert block.tx_ids() == other.tx_ids() and block.hash != other.hash
    assert tx_root_of(pairs) == block.header.tx_root
    assert tx_leaf(tx_id_of(b"one"), b"\x01" * 64) != tx_id_of(b"one")
    assert not Block(block.header, other.txs).is_consistent()
    assert Block(block.header, tuple(pairs)).is_consistent()


def view_one_without_bodies_at_op3(cluster: Cluster) -> Block:
    """Block 1 prepared in view 0 everywhere but op3 (which never saw it); op0 dies; view 1
    re-proposes it by hash and op3 waits for its body (BLOCKs to op3 are held back)."""
    cluster.deliver_if = lambda s, t, data: not (
        message_type(data) == "COMMIT" or (message_type(data) in ("PRE-PREPARE", "BLOCK")
                                           and t == "op3"))
    cluster.submit(txs(0, 2))
    cluster.tick(50)
    real = cluster["op2"]._log.prepared_certificates[1].block
    cluster.crash("op0")
    cluster.deliver_if = lambda s, t, data: not (message_type(data) == "BLOCK" and t == "op3")
    cluster.advance(2100)
    assert cluster["op3"].view == 1 and real.hash in cluster["op3"]._bodies
    return real


def test_a_block_answer_under_forged_signatures_is_refused() -> None:
    cluster = Cluster(4, max_block_txs=2)
    real = view_one_without_bodies_at_op3(cluster)
    op3 = cluster["op3"]
    fake = forged(real)
    assert fake.hash == real.hash and fake.txs != real.txs
    reply = msg.sign(msg.BlockReply(fake, "op2"), signer_of("op2"), CHAIN)
    cluster.feed("op3", MessageReceived("op2", reply.encode()))
    assert op3.stats["dropped_bad_block"] == 1 and real.hash in op3._bodies
    cluster.deliver_if = None
    cluster.advance(1000)
    assert cluster.nodes["op3"].blocks[1][0].encode() == real.encode()
    cluster.assert_same_chain()


def test_a_re_proposal_re_sent_with_a_body_under_forged_signatures_is_refused() -> None:
    """The new primary's PRE-PREPARE signs only the block hash, so it stays validly signed
    whatever body rides beside it; the body must match the header's tx_root."""
    cluster = Cluster(4, max_block_txs=2)
    real = view_one_without_bodies_at_op3(cluster)
    op3 = cluster["op3"]
    new_view = op3._new_view
    assert new_view is not None
    re_proposal = next(pp for pp in new_view.pre_prepares if pp.seq == 1)
    resent = dataclasses.replace(re_proposal, block=forged(real))
    assert msg.is_signed_by_sender(resent, op3.committee)
    cluster.feed("op3", MessageReceived("op1", resent.encode()))
    assert op3.stats["dropped_bad_block"] == 1 and real.hash in op3._bodies
    cluster.feed("op3", MessageReceived("op1", re_proposal.with_body(real).encode()))
    assert real.hash not in op3._bodies
    cluster.deliver_if = None
    cluster.advance(1000)
    assert cluster.nodes["op3"].blocks[1][0].encode() == real.encode()
    cluster.assert_same_chain()
