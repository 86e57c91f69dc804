"""#11 item 1: a restarted backup keeps the NEW-VIEW of its view, so a Byzantine primary cannot
lead it into a fork; and a backup that lacks the NEW-VIEW of its view can get it again."""

from __future__ import annotations

from consensus import messages as msg
from consensus.block import make_block
from consensus.events import Broadcast, Executed, MessageReceived, Tick
from tests.consensus.harness import CHAIN, Cluster, message_type, next_app_hash, signer_of, txs


def prepare_w_and_x_commit_only_at_op0_and_op1() -> tuple[Cluster, bytes, bytes]:
    """View 0: op0 proposes W at 1 and X at 2; everyone prepares both; op2 and op3 miss every
    COMMIT, so only op0 and op1 commit. Returns the cluster and the hashes of W and X."""
    cluster = Cluster(4, max_block_txs=1)
    cluster.deliver_if = lambda s, t, data: not (message_type(data) == "COMMIT"
                                                 and t in ("op2", "op3"))
    cluster.submit(txs(0, 2))
    cluster.tick(50)
    cluster.deliver_if = None
    assert cluster.heights() == {"op0": 2, "op1": 2, "op2": 0, "op3": 0}
    w = cluster.nodes["op0"].blocks[1][0].hash
    x = cluster.nodes["op0"].blocks[2][0].hash
    for name in ("op2", "op3"):
        assert sorted(cluster[name]._log.prepared_certificates) == [1, 2]
    return cluster, w, x


def test_restarted_backups_refuse_a_fresh_block_at_a_seq_the_new_view_fixed() -> None:
    """The scenario of #11 item 1 (n = 4, op1 the Byzantine primary of view 1)."""
    cluster, w, x = prepare_w_and_x_commit_only_at_op0_and_op1()
    # op2 and op3 time out on their pending requests; f+1 VIEW-CHANGEs pull op0 and op1 in;
    # op1's NEW-VIEW re-proposes W and X. op0 and op1 committed both, so they never PREPARE
    # the re-proposals, and op2 and op3 wait in view 1 with W and X re-proposed.
    cluster.advance(2050)
    for name in cluster.names:
        assert (cluster[name].view, cluster[name].in_view_change) == (1, False), name
    new_view = cluster["op2"]._new_view
    assert new_view is not None and [p.digest for p in new_view.pre_prepares] == [w, x]
    assert cluster.heights() == {"op0": 2, "op1": 2, "op2": 0, "op3": 0}
    # op2 and op3 crash; their hosts fetch block 1 (W, certified in view 0) before restart.
    block_1, cert_1 = cluster.nodes["op0"].blocks[1]
    for name in ("op2", "op3"):
        node = cluster.nodes[name]
        cluster.crash(name)
        app = next_app_hash(node.executed.app_hash, block_1.hash)
        node.executed = Executed(1, block_1.hash, app, block_1.header.time)
        node.blocks[1] = (block_1, cert_1)
        cluster.restart(name)
        assert cluster[name].view == 1 and cluster[name].last_committed == 1
    # Byzantine op1 proposes X' at (view 1, seq 2), chained on W, and votes for it.
    byzantine = signer_of("op1")
    x_prime = make_block(CHAIN, 2, w, block_1.header.time + 1, 1, "op1",
                         [(b"x-prime", bytes(64))])
    assert x_prime.hash != x
    forged = [msg.sign(msg.PrePrepare(1, 2, x_prime, "op1"), byzantine, CHAIN),
              msg.sign(msg.Prepare(1, 2, x_prime.hash, "op1"), byzantine, CHAIN),
              msg.sign(msg.Commit(1, 2, x_prime.hash, "op1"), byzantine, CHAIN)]
    sent: list[object] = []
    for name in ("op2", "op3"):
        for message in forged:
            actions = cluster.feed(name, MessageReceived("op1", message.encode()))
            sent.extend(msg.decode(a.data, cluster[name]._limits) for a in actions
                        if isinstance(a, Broadcast))
    cluster.run()
    assert not any(getattr(m, "block_hash", None) == x_prime.hash for m in sent), \
        "a restarted backup voted for a block at a seq the NEW-VIEW fixed"
    for name in ("op2", "op3"):
        assert cluster[name].stats["dropped_conflicting"] >= 1
        assert 2 not in cluster.nodes[name].blocks or \
            cluster.nodes[name].blocks[2][0].hash == x
    cluster.assert_same_chain()


def test_a_backup_without_the_new_view_of_its_view_gets_it_back() -> None:
    """A backup restarted from a disk without the NEW-VIEW (written before every replica
    persisted it) asks again with its VIEW-CHANGE and takes the NEW-VIEW of its own view."""
    cluster, _w, x = prepare_w_and_x_commit_only_at_op0_and_op1()
    cluster.advance(2050)
    node = cluster.nodes["op2"]
    cluster.crash("op2")
    node.disk.pop("new_view", None)
    op2 = cluster.restart("op2")
    assert (op2.view, op2.in_view_change, op2._new_view) == (1, False, None)
    actions = cluster.feed("op2", Tick(cluster.now + 50))
    assert "VIEW-CHANGE" in [message_type(a.data) for a in actions if isinstance(a, Broadcast)]
    cluster.run()
    assert op2._new_view is not None and op2.stats["new_views_recovered"] == 1
    assert op2._log.slots[2].pre_prepare is not None
    assert op2._log.slots[2].pre_prepare.digest == x
    assert "new_view" in node.disk


def test_new_primary_persists_its_view_before_it_broadcasts_new_view() -> None:
    """#11 item 7: the new primary's actions persist the NEW-VIEW and the view it enters
    before the NEW-VIEW leaves (persist before send)."""
    cluster = Cluster(4)
    cluster.crash("op0")
    cluster.submit(txs(0, 1))
    recorded: list[list[object]] = []
    feed = cluster.feed

    def recording_feed(name: str, event: object) -> list:
        actions = feed(name, event)  # type: ignore[arg-type]
        if name == "op1":
            recorded.append(actions)
        return actions

    cluster.feed = recording_feed  # type: ignore[method-assign]
    cluster.advance(2050)
    assert cluster["op1"].view == 1 and not cluster["op1"].in_view_change
    batch = next(actions for actions in recorded if any(
        isinstance(a, Broadcast) and message_type(a.data) == "NEW-VIEW" for a in actions))
    order = [getattr(a, "key", None) or message_type(getattr(a, "data", b""))
             for a in batch if type(a).__name__ in ("Persist", "Broadcast")]
    new_view_at = order.index("NEW-VIEW")
    assert "new_view" in order[:new_view_at]
    view_persists = [i for i, key in enumerate(order) if key == "view"]
    assert view_persists and view_persists[-1] < new_view_at, order
