"""#11 liveness items against `Replica`: censorship (5), a replica far behind in views (6),
views that split (8)."""

from __future__ import annotations

from tests.consensus.harness import Cluster, txs


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
