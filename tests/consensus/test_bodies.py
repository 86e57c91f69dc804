"""Block bodies across view changes (Castro-Liskov): a replica keeps the body of every block it
PREPAREd until a stable checkpoint passes it, persisted, and votes for a re-proposal only once
it holds the body. Before, a replica that PREPAREd a block without completing a prepared
certificate lost the body at the next view change, and voted for the re-proposal by hash; a
block could then commit with its body on no honest replica that was up, and every later view
re-proposed it for ever."""

from __future__ import annotations

from typing import Any

from consensus import messages as msg
from consensus.events import Tick
from tests.consensus.harness import Cluster, message_type, txs

LIMITS = msg.DecodeLimits(1 << 30, 1000, 1000)


def sender_of_new_view(cluster: Cluster, primary: str) -> Any:
    """deliver_if for a view change whose new primary crashes right after its NEW-VIEW
    leaves: its NEW-VIEW reaches every peer, nothing it sends after that does."""
    state = {"delivered": 0}

    def deliver(sender: str, to: str, data: bytes) -> bool:
        if sender != primary:
            return True
        if message_type(data) == "NEW-VIEW":
            state["delivered"] += 1
            if state["delivered"] == len(cluster.names) - 1:
                cluster.crash(primary)  # its later messages are never delivered
            return True
        return message_type(data) not in ("PREPARE", "COMMIT", "BLOCK", "PRE-PREPARE")

    return deliver


def prepare_only_at(cluster: Cluster, holder: str) -> bytes:
    """View 0: every replica PREPAREs block 1, PREPAREs reach only `holder` (the only one to
    complete a prepared certificate) and no COMMIT reaches anyone. Returns the block's
    bytes."""
    cluster.deliver_if = lambda s, t, data: message_type(data) != "COMMIT" and not (
        message_type(data) == "PREPARE" and t != holder)
    cluster.submit(txs(0, 3))
    cluster.tick(50)
    for name in cluster.names:
        certificates = cluster[name]._log.prepared_certificates
        assert sorted(certificates) == ([1] if name == holder else []), name
    block = cluster[holder]._log.prepared_certificates[1].block
    assert block.txs
    return block.encode()


def assert_committed_everywhere_but(cluster: Cluster, down: str, block: bytes) -> None:
    for name in cluster.names:
        if name != down:
            assert cluster.heights()[name] >= 1, (name, cluster.heights())
            assert cluster.nodes[name].blocks[1][0].encode() == block, name
    cluster.assert_same_chain()


def test_only_one_replica_prepared_and_it_crashes_after_its_new_view() -> None:
    """Crash-only, n = 4: only op1 completed a prepared certificate for block 1; op1 leads
    view 1 and crashes right after its NEW-VIEW goes out. op0, op2 and op3 PREPAREd the block
    in view 0, so each kept its body: they prepare the re-proposal and commit it."""
    cluster = Cluster(4)
    block = prepare_only_at(cluster, "op1")
    cluster.deliver_if = sender_of_new_view(cluster, "op1")
    cluster.advance(2100)
    assert not cluster.nodes["op1"].up
    assert all(cluster[name].view == 1 for name in ("op0", "op2", "op3"))
    cluster.advance(10_000)
    assert_committed_everywhere_but(cluster, "op1", block)


def test_the_kept_body_survives_a_restart() -> None:
    """The same, but op0, op2 and op3 restart between view 0 and the view change: the bodies
    they PREPAREd come back from their disks."""
    cluster = Cluster(4)
    block = prepare_only_at(cluster, "op1")
    for name in ("op0", "op2", "op3"):
        cluster.crash(name)
        cluster.restart(name)
    cluster.deliver_if = sender_of_new_view(cluster, "op1")
    cluster.submit(txs(0, 3), to=["op0", "op2", "op3"])  # their pools were in memory
    cluster.advance(2100)
    assert all(cluster[name].view == 1 for name in ("op0", "op2", "op3"))
    cluster.advance(10_000)
    assert_committed_everywhere_but(cluster, "op1", block)


def test_a_withholding_primary_cannot_leave_a_block_without_a_body() -> None:
    """Byzantine, n = 4: the primary op0 sends block 1 to f+1 honest replicas (op1, op2), keeps
    its own PREPARE (so it alone prepares the block), sends its VIEW-CHANGE early, then goes
    silent. View 1's NEW-VIEW re-proposes the block from op0's certificate. op1 and op2 kept
    the body they PREPAREd; op3, which never saw it, gets it from them, and all three commit
    it. Before, op1, op2 and op3 committed the re-proposal by hash and waited for ever."""
    cluster = Cluster(4)
    phase = {"view 0": True, "op0 silent": False}

    def deliver(sender: str, to: str, data: bytes) -> bool:
        kind = message_type(data)
        if sender == "op0":
            if phase["op0 silent"]:
                return False
            return kind != "PREPARE" and kind != "COMMIT" and not (
                kind == "PRE-PREPARE" and to == "op3")
        return kind != "COMMIT" or not phase["view 0"]  # nothing commits in view 0

    cluster.deliver_if = deliver
    cluster.submit(txs(0, 3))
    cluster.tick(50)
    assert sorted(cluster["op0"]._log.prepared_certificates) == [1]
    assert all(cluster[name]._log.prepared_certificates == {}
               for name in ("op1", "op2", "op3"))
    block = cluster["op0"]._log.prepared_certificates[1].block.encode()
    cluster.feed("op0", Tick(cluster.now + 2_000))  # op0's VIEW-CHANGE goes out early
    cluster.run()
    phase.update({"view 0": False, "op0 silent": True})
    cluster.advance(2100)
    assert all(cluster[name].view == 1 for name in ("op1", "op2", "op3"))
    cluster.advance(10_000)
    assert_committed_everywhere_but(cluster, "op0", block)


def test_a_replica_votes_for_a_re_proposal_only_once_it_holds_the_body() -> None:
    """op3 never saw block 1 and gets no BLOCK for a while after view 1 re-proposes it: it
    sends no PREPARE for it meanwhile (before, it voted for the hash), and votes once a
    BLOCK arrives."""
    cluster = Cluster(4)
    cluster.deliver_if = lambda s, t, data: message_type(data) != "COMMIT" and not (
        message_type(data) == "PRE-PREPARE" and t == "op3")
    cluster.submit(txs(0, 3))
    cluster.tick(50)
    assert cluster["op3"]._log.slots.get(1) is None
    cluster.crash("op0")
    prepares_of_op3: list[int] = []

    def deliver(sender: str, to: str, data: bytes) -> bool:
        if sender == "op3" and message_type(data) == "PREPARE":
            prepares_of_op3.append(msg.decode(data, LIMITS).view)
        return not (message_type(data) == "BLOCK" and to == "op3")

    cluster.deliver_if = deliver
    cluster.advance(3000)
    op3 = cluster["op3"]
    assert op3.view == 1 and op3.stats.get("block_requests", 0) >= 1
    assert prepares_of_op3 == []
    assert cluster.heights()["op3"] == 0
    cluster.deliver_if = None
    cluster.advance(1000)
    assert cluster.nodes["op3"].blocks[1][0].header.view == 0  # the re-proposed block
    assert cluster.heights()["op3"] >= 1
    cluster.assert_same_chain()


def test_kept_bodies_are_dropped_at_a_stable_checkpoint() -> None:
    """What a replica keeps for re-proposals is bounded by the window: once a stable
    checkpoint passes a block, its body is forgotten and its key deleted from disk."""
    cluster = Cluster(4, checkpoint_interval=4, watermark_window=8, max_block_txs=1)
    cluster.submit(txs(0, 3))
    cluster.advance(200)
    op2 = cluster.nodes["op2"]
    kept = [key for key in op2.disk if key.startswith("body/")]
    assert len(kept) == 3
    cluster.submit(txs(3, 3))
    cluster.advance(200)
    assert cluster["op2"].stable_checkpoint == 4
    kept = sorted(key for key in op2.disk if key.startswith("body/"))
    assert [int(key.split("/")[1]) for key in kept] == [5, 6]
