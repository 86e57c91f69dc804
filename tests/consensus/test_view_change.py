"""View change: silent primary, prepared blocks carried over, NEW-VIEW checked, timeouts."""

from __future__ import annotations

import dataclasses

from consensus import messages as msg
from consensus.block import ZERO_HASH, make_block
from consensus.events import Broadcast, MessageReceived, Persist, Tick
from tests.consensus.harness import CHAIN, Cluster, message_type, signer_of, txs


def test_silent_primary_is_replaced_and_the_new_primary_commits() -> None:
    cluster = Cluster(4)
    cluster.crash("op0")
    cluster.submit(txs(0, 5))
    cluster.advance(1950)
    assert cluster["op1"].view == 0  # the request timer (2000 ms) has not fired yet
    cluster.advance(100)
    for name in ("op1", "op2", "op3"):
        replica = cluster[name]
        assert (replica.view, replica.primary, replica.in_view_change) == (1, "op1", False)
        assert cluster.nodes[name].views == [1]
        assert replica.stats["view_changes"] == 1
    cluster.tick(50)
    assert cluster.heights() == {"op0": 0, "op1": 1, "op2": 1, "op3": 1}
    assert cluster.nodes["op2"].blocks[1][0].header.proposer == "op1"
    cluster.assert_same_chain()


def test_prepared_block_is_carried_into_the_new_view_with_its_original_bytes() -> None:
    cluster = Cluster(4)
    cluster.deliver_if = lambda s, t, data: message_type(data) != "COMMIT"
    cluster.submit(txs(0, 3))
    cluster.tick(50)
    assert cluster.heights() == {name: 0 for name in cluster.names}  # prepared, not committed
    original = cluster["op2"]._log.prepared_certificates[1].block
    cluster.crash("op0")
    cluster.deliver_if = None
    cluster.advance(2100)
    assert cluster["op1"].view == 1
    committed = cluster.nodes["op3"].blocks[1][0]
    assert committed.encode() == original.encode()
    assert (committed.header.view, committed.header.proposer) == (0, "op0")
    assert cluster.nodes["op3"].blocks[1][1].view == 1  # certified by view-1 commit votes
    cluster.assert_same_chain()


def capture_new_view(cluster: Cluster) -> bytes:
    """Run a view change in which op3 never gets the NEW-VIEW; return its bytes."""
    captured: list[bytes] = []

    def deliver(sender: str, to: str, data: bytes) -> bool:
        if to == "op3" and message_type(data) == "NEW-VIEW":
            captured.append(data)
            return False
        return True

    cluster.deliver_if = deliver
    cluster.crash("op0")
    cluster.submit(txs(0, 2))
    cluster.advance(2050)
    cluster.deliver_if = None
    assert cluster["op3"].in_view_change and len(captured) == 1
    return captured[0]


def resigned(message, name: str):
    return msg.sign(message, signer_of(name), CHAIN)


def test_forged_or_incorrect_new_view_is_rejected() -> None:
    cluster = Cluster(4, max_block_txs=1)
    cluster.deliver_if = lambda s, t, data: message_type(data) != "COMMIT"
    cluster.submit(txs(100, 1))
    cluster.tick(50)  # block 1 prepared everywhere: the NEW-VIEW must re-propose it
    cluster.deliver_if = None
    real = msg.decode(capture_new_view(cluster), cluster["op3"]._limits)
    assert isinstance(real, msg.NewView) and len(real.pre_prepares) == 1
    op3 = cluster["op3"]
    forgeries = {
        "signed by a replica that is not the primary": resigned(
            dataclasses.replace(real, sender="op2"), "op2"),
        "re-proposal left out": resigned(dataclasses.replace(real, pre_prepares=()), "op1"),
        "too few view-changes": resigned(
            dataclasses.replace(real, view_changes=real.view_changes[:2]), "op1"),
        "a view-change with a broken signature": resigned(dataclasses.replace(
            real, view_changes=(dataclasses.replace(real.view_changes[0], sig=bytes(64)),
                                *real.view_changes[1:])), "op1"),
        "same view-change twice": resigned(dataclasses.replace(
            real, view_changes=(real.view_changes[0],) * 3), "op1"),
        "tampered outer signature": dataclasses.replace(real, sig=bytes(64)),
    }
    for reason, forged in forgeries.items():
        sender = forged.sender
        cluster.feed("op3", MessageReceived(sender, forged.encode()))
        assert op3.in_view_change, reason
    assert op3.stats["dropped_bad_new_view"] == 5
    assert op3.stats["dropped_bad_signature"] == 1
    cluster.feed("op3", MessageReceived("op1", real.encode()))
    cluster.run()
    assert not op3.in_view_change and op3.view == 1
    cluster.tick(50)
    assert cluster.assert_same_chain() == 0
    assert cluster.heights()["op3"] == 3


def test_new_view_that_re_proposes_another_block_is_rejected() -> None:
    cluster = Cluster(4)
    cluster.deliver_if = lambda s, t, data: message_type(data) != "COMMIT"
    cluster.submit(txs(100, 1))
    cluster.tick(50)
    cluster.deliver_if = None
    real = msg.decode(capture_new_view(cluster), cluster["op3"]._limits)
    assert isinstance(real, msg.NewView)
    block = real.pre_prepares[0].block  # by hash: a header; another header is another block
    other = dataclasses.replace(block, header=dataclasses.replace(
        block.header, time=block.header.time + 1))
    swapped = resigned(dataclasses.replace(real.pre_prepares[0], block=other), "op1")
    forged = resigned(dataclasses.replace(real, pre_prepares=(swapped,)), "op1")
    cluster.feed("op3", MessageReceived("op1", forged.encode()))
    assert cluster["op3"].in_view_change
    assert cluster["op3"].stats["dropped_bad_new_view"] == 1


def test_f_plus_1_view_changes_pull_a_replica_into_the_view_change() -> None:
    cluster = Cluster(4)
    cluster.crash("op0")
    cluster.submit(txs(0, 1), to=["op1", "op2"])  # op3 has no request, so no timer
    cluster.advance(2050)
    op3 = cluster["op3"]
    assert op3.stats.get("request_timeouts", 0) == 0
    assert op3.stats["view_changes"] == 1 and op3.view == 1 and not op3.in_view_change


def test_a_lone_suspicious_replica_does_not_change_the_view() -> None:
    cluster = Cluster(4)
    cluster.submit(txs(0, 1), to=["op3"])  # only op3 knows the tx; the primary never sees it
    cluster.advance(2050)
    assert cluster["op3"].in_view_change and cluster["op3"].view == 1
    assert [cluster[n].view for n in ("op0", "op1", "op2")] == [0, 0, 0]
    assert cluster["op3"].view_change_deadline is None  # waits for a quorum before escalating


def test_timeouts_double_on_consecutive_failed_view_changes() -> None:
    cluster = Cluster(7)
    cluster.crash("op0")
    # every NEW-VIEW is lost: each view change fails, and op6 keeps escalating
    cluster.deliver_if = lambda s, t, data: message_type(data) != "NEW-VIEW"
    cluster.submit(txs(0, 1))
    op6 = cluster["op6"]
    assert op6.request_deadline == cluster.now + 2000
    timers: list[tuple[int, int]] = []  # (view, view-change timeout it started with)
    for _ in range(400):
        cluster.tick(50)
        deadline = op6.view_change_deadline
        if deadline is not None and (not timers or timers[-1][0] != op6.view):
            timers.append((op6.view, deadline - cluster.now))
    assert timers[:4] == [(1, 2000), (2, 4000), (3, 8000), (4, 16000)]
    cluster.deliver_if = None
    cluster.advance(40_000)
    assert cluster.heights()["op6"] == 1
    assert op6.view_timeout_ms == 2000  # progress in the new view resets it


def test_view_change_is_persisted_before_it_is_sent() -> None:
    cluster = Cluster(4)
    cluster.submit(txs(0, 1), to=["op3"])
    actions = cluster.feed("op3", Tick(cluster.now + 2000))
    kinds = [(type(a).__name__, getattr(a, "key", None) or message_type(getattr(a, "data", b"")))
             for a in actions if isinstance(a, Persist | Broadcast)]
    assert kinds == [("Persist", "view"), ("Persist", "view_change"),
                     ("Broadcast", "VIEW-CHANGE")]


def test_replica_that_missed_the_new_view_gets_it_again() -> None:
    cluster = Cluster(4)
    capture_new_view(cluster)
    # op3 repeats its VIEW-CHANGE (as after a restart); the primary answers with NEW-VIEW
    own = cluster["op3"]._my_view_change
    assert own is not None
    cluster.feed("op1", MessageReceived("op3", own.encode()))
    cluster.run()
    assert not cluster["op3"].in_view_change


def test_new_view_re_proposes_the_block_prepared_in_the_latest_view() -> None:
    """Seq 1 was prepared twice: block A in view 0, block B in view 1 (A never committed).
    The NEW-VIEW of view 2 must re-propose B, whatever the order of the VIEW-CHANGEs: a
    replica enters view 2 on the NEW-VIEW that carries B and refuses the one that carries A."""
    def prepared(view: int, proposer: str, tx: bytes) -> msg.PreparedCertificate:
        block = make_block(CHAIN, 1, ZERO_HASH, 1_700_000_000_000, view, proposer,
                           [(tx, bytes(64))])
        pre_prepare = msg.sign(msg.PrePrepare(view, 1, block, proposer), signer_of(proposer),
                               CHAIN)
        prepares = tuple(msg.sign(msg.Prepare(view, 1, block.hash, name), signer_of(name), CHAIN)
                         for name in ("op0", "op1", "op2", "op3") if name != proposer)
        return msg.PreparedCertificate(pre_prepare, prepares)

    older, newer = prepared(0, "op0", b"A"), prepared(1, "op1", b"B")
    genesis = msg.CheckpointProof(0, ZERO_HASH, ())
    changes = tuple(msg.sign(msg.ViewChange(2, genesis, (cert,), name), signer_of(name), CHAIN)
                    for name, cert in (("op0", newer), ("op1", older), ("op2", older)))

    def new_view(block: object) -> bytes:
        pre_prepare = msg.sign(msg.PrePrepare(2, 1, block, "op2"), signer_of("op2"), CHAIN)
        return msg.sign(msg.NewView(2, changes, (pre_prepare,), "op2"), signer_of("op2"),
                        CHAIN).encode()

    op3 = Cluster(4)["op3"]
    op3.handle(MessageReceived("op2", new_view(older.block)))
    assert op3.stats["dropped_bad_new_view"] == 1 and op3.view == 0
    op3.handle(MessageReceived("op2", new_view(newer.block)))
    assert (op3.view, op3.in_view_change) == (2, False)
    assert op3._log.slots[1].pre_prepare.digest == newer.block.hash
