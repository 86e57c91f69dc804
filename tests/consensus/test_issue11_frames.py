"""#11 item 3: every consensus message fits a transport frame; blocks travel by hash in
VIEW-CHANGE and NEW-VIEW, and a replica fetches the bodies it lacks with BLOCK-REQUEST."""

from __future__ import annotations

from consensus.constants import MAX_MESSAGE_BYTES
from consensus.events import Broadcast, Send
from tests.consensus.harness import Cluster, message_type, txs

TRANSPORT_FRAME_BYTES = 16 * 1024 * 1024  # node/net/p2p.py's max_frame_bytes


def record_sizes(cluster: Cluster) -> dict[str, int]:
    """Largest message emitted per type, recorded as the replicas emit them."""
    largest: dict[str, int] = {}
    apply = cluster._apply

    def recording_apply(node, actions):  # type: ignore[no-untyped-def]
        for action in actions:
            if isinstance(action, Send | Broadcast):
                kind = message_type(action.data)
                largest[kind] = max(largest.get(kind, 0), len(action.data))
        apply(node, actions)

    cluster._apply = recording_apply  # type: ignore[method-assign]
    return largest


def test_full_pipeline_of_full_blocks_survives_a_view_change_in_frames_that_fit() -> None:
    """Genesis defaults (n = 4, L = 64, 4 MiB blocks, pipeline 8): eight full blocks are
    prepared everywhere but committed nowhere, and the primary dies. Before, the NEW-VIEW
    carried every block of a quorum of VIEW-CHANGEs (~130 MB here) and never arrived."""
    cluster = Cluster(4)
    assert cluster["op1"].max_message_bytes <= MAX_MESSAGE_BYTES < TRANSPORT_FRAME_BYTES
    largest = record_sizes(cluster)
    cluster.deliver_if = lambda s, t, data: message_type(data) != "COMMIT"
    cluster.submit(txs(0, 8 * 68, size=60 * 1024))  # 68 transactions of 60 KB fill a block
    cluster.advance(400)  # the last block is not quite full: it waits 50 ms per block ahead
    prepared = cluster["op2"]._log.prepared_certificates
    assert sorted(prepared) == list(range(1, 9))
    assert all(len(cert.block.encode()) > 3 * 1024 * 1024 for cert in prepared.values())
    originals = {seq: cert.block.encode() for seq, cert in prepared.items()}
    cluster.crash("op0")
    cluster.deliver_if = None
    cluster.advance(2100)
    assert cluster["op1"].view == 1
    for name in ("op1", "op2", "op3"):
        blocks = cluster.nodes[name].blocks
        assert sorted(blocks)[:8] == list(range(1, 9)), name
        assert all(blocks[seq][0].encode() == originals[seq] for seq in range(1, 9))
    assert max(largest.values()) <= MAX_MESSAGE_BYTES
    assert largest["VIEW-CHANGE"] < 256 * 1024 and largest["NEW-VIEW"] < 1024 * 1024
    cluster.assert_same_chain()


def test_a_replica_without_the_bodies_fetches_them_and_commits() -> None:
    """op3 missed every PRE-PREPARE of view 0 (it never saw the blocks); view 1 re-proposes
    them by hash. op3 asks for the bodies with BLOCK-REQUEST and executes the same blocks."""
    cluster = Cluster(4, max_block_txs=2)
    cluster.deliver_if = lambda s, t, data: not (
        message_type(data) == "COMMIT" or (message_type(data) == "PRE-PREPARE" and t == "op3"))
    cluster.submit(txs(0, 4))
    cluster.tick(50)
    assert sorted(cluster["op2"]._log.prepared_certificates) == [1, 2]
    assert cluster["op3"]._log.prepared_certificates == {}
    cluster.crash("op0")
    cluster.deliver_if = None
    cluster.advance(2100)
    op3 = cluster["op3"]
    assert op3.view == 1 and op3.stats["block_requests"] >= 1
    assert op3.stats["block_bodies_received"] >= 2
    assert cluster.heights()["op3"] >= 2
    assert [cluster.nodes["op3"].blocks[h][0].encode() for h in (1, 2)] == \
        [cluster.nodes["op2"].blocks[h][0].encode() for h in (1, 2)]
    cluster.assert_same_chain()


def test_a_body_that_does_not_match_its_header_is_refused() -> None:
    import dataclasses

    from consensus import messages as msg
    from consensus.events import MessageReceived
    from tests.consensus.harness import CHAIN, signer_of

    cluster = Cluster(4, max_block_txs=2)
    cluster.deliver_if = lambda s, t, data: not (
        message_type(data) == "COMMIT" or (message_type(data) in ("PRE-PREPARE", "BLOCK")
                                           and t == "op3"))
    cluster.submit(txs(0, 2))
    cluster.tick(50)
    real = cluster["op2"]._log.prepared_certificates[1].block
    cluster.crash("op0")
    cluster.deliver_if = lambda s, t, data: not (message_type(data) == "BLOCK" and t == "op3")
    cluster.advance(2100)
    op3 = cluster["op3"]
    assert op3.view == 1 and real.hash in op3._bodies
    tampered = dataclasses.replace(real, txs=((b"other", bytes(64)),))
    assert tampered.hash == real.hash and not tampered.is_consistent()
    reply = msg.sign(msg.BlockReply(tampered, "op2"), signer_of("op2"), CHAIN)
    cluster.feed("op3", MessageReceived("op2", reply.encode()))
    assert op3.stats["dropped_bad_block"] == 1 and real.hash in op3._bodies
    cluster.deliver_if = None
    cluster.advance(1000)
    assert real.hash not in op3._bodies
    assert cluster.nodes["op3"].blocks[1][0].encode() == real.encode()
    cluster.assert_same_chain()
