"""#11 liveness items against `Replica`: censorship (5), a replica far behind in views (6),
views that split (8)."""

from __future__ import annotations

from tests.consensus.harness import Cluster, message_type, txs


def test_a_request_left_out_while_others_commit_triggers_a_view_change() -> None:
    """#11 item 5. The primary never includes tx 1000 (here: it never sees it, which a
    censoring primary can pretend), yet keeps committing other requests. The request timer
    times the oldest pending request, so the backups move to view 1, whose primary has it."""
    cluster = Cluster(4, max_block_txs=10)
    censored = txs(1000, 1)
    cluster.submit(censored, to=["op1", "op2", "op3"])
    for i in range(12):  # a block of other requests every 250 ms for 3 s
        cluster.submit(txs(i, 1))
        cluster.advance(250)
    for name in ("op1", "op2", "op3"):
        assert cluster[name].view >= 1, name
        assert cluster[name].stats["request_timeouts"] >= 1 or \
            cluster[name].stats.get("view_changes", 0) >= 1
    cluster.advance(500)
    tx_id = censored[0].tx_id
    for name in ("op1", "op2", "op3"):
        committed = {t for block, _ in cluster.nodes[name].blocks.values()
                     for t in block.tx_ids()}
        assert tx_id in committed, name
    cluster.assert_same_chain()


def test_a_saturated_primary_is_not_suspected_while_full_blocks_commit() -> None:
    """The other side of item 5: the oldest request waits behind full blocks of older ones
    (admission order), which is no reason to change the view, up to a bound."""
    cluster = Cluster(4, max_block_txs=2, max_pipeline=1)
    cluster.submit(txs(0, 60))
    for _ in range(60):
        cluster.advance(100)
        if cluster.heights()["op1"] >= 30:
            break
    assert cluster.heights()["op1"] == 30
    assert all(cluster[name].view == 0 for name in cluster.names)


def test_replicas_split_across_two_view_changes_meet_again() -> None:
    """#11 item 8 (the class behind sim seed 5287): op3 is down. op0, op1 and op2 time out and
    send VIEW-CHANGE(1), but op2's is lost. op2 holds a quorum for view 1, so its timer runs
    and it moves on to view 2; op0 and op1 hold only two VIEW-CHANGEs for view 1 and one for
    view 2: no quorum for either view, so neither a timer nor the f+1 rule moved them, and the
    three honest replicas waited apart for good. A quorum of replicas in view changes for
    views at or above this one starts the timer too, so op0 and op1 go on to view 2."""
    cluster = Cluster(4)
    cluster.crash("op3")

    def lossy(sender: str, to: str, data: bytes) -> bool:
        kind = message_type(data)
        if kind == "PRE-PREPARE" and sender == "op0":
            return False  # view 0 makes no progress
        if kind == "VIEW-CHANGE" and sender == "op2":
            return decode_view(data) != 1  # op2's VIEW-CHANGE(1) is lost, every copy
        return True

    cluster.deliver_if = lossy
    cluster.submit(txs(0, 1))
    cluster.advance(4200)
    assert (cluster["op2"].view, cluster["op2"].in_view_change) == (2, True)
    cluster.advance(20_000)
    views = {name: (cluster[name].view, cluster[name].in_view_change)
             for name in ("op0", "op1", "op2")}
    assert len(set(views.values())) == 1 and not cluster["op0"].in_view_change, views
    assert all(cluster.heights()[name] == 1 for name in ("op0", "op1", "op2"))
    cluster.assert_same_chain()


def decode_view(data: bytes) -> int:
    from consensus import codec
    return int(codec.unpack(data)["view"])


def test_a_replica_many_views_behind_gets_back() -> None:
    """#11 item 6. op3 is cut off while the others go through more than 4n failed view
    changes (every NEW-VIEW lost, 10 ms timeouts), then settle and commit in a view far
    beyond op3's, and everyone restarts with the default timeout. Their
    messages are too far ahead for op3 to buffer, and op3's VIEW-CHANGE for view 1 is stale
    to them. The f+1 rule over signed status (any message of a later view) takes op3 there,
    and the primary answers its VIEW-CHANGE with the NEW-VIEW."""
    cluster = Cluster(4, view_timeout_ms=10)
    cut_off = {"op3"}
    lose_new_views = [True]

    def deliver(sender: str, to: str, data: bytes) -> bool:
        if sender in cut_off or to in cut_off:
            return False
        return not (lose_new_views[0] and message_type(data) == "NEW-VIEW")

    cluster.deliver_if = deliver
    cluster.submit(txs(0, 1), to=["op0", "op1", "op2"])
    while cluster["op0"].view <= 4 * 4 + 1:
        cluster.advance(1000, step_ms=100)
    lose_new_views[0] = False
    for _ in range(120):
        cluster.advance(1000, step_ms=100)
        if not cluster["op0"].in_view_change:
            break
    far = cluster["op0"].view
    assert far > 17 and not cluster["op0"].in_view_change
    assert cluster.heights()["op0"] == 1 and cluster["op3"].view == 0
    # the operators restart with the default timeout (10 ms only made the views climb fast)
    cluster.config_overrides["view_timeout_ms"] = 2000
    for name in cluster.names:
        cluster.crash(name)
        cluster.restart(name)
    cut_off.clear()
    cluster.submit(txs(1, 3))
    cluster.advance(3000, step_ms=50)
    op3 = cluster["op3"]
    assert (op3.view, op3.in_view_change) == (far, False)
    assert op3.stats["joined_later_view"] >= 1
    assert cluster.heights() == {name: cluster.heights()["op0"] for name in cluster.names}
    assert cluster.heights()["op0"] >= 2
    cluster.assert_same_chain()
