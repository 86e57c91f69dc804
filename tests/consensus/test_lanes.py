"""Issue 27, item 5 in the consensus core: lanes, round-robin proposing, untimed relays.

One node relaying a flood (here op3's lane: what it relayed past its fair share comes
untimed, as node.admission.mempool says) used to fill every block in admission order and to
hold the oldest request past the request timer, so the primary was suspected while it worked
through the flood. Now the primary takes one transaction per lane in turn, the flood's tail is
not waited for, and a request left out is still caught."""

from __future__ import annotations

from consensus.events import TxsAdmitted
from consensus.requests import RequestPool
from tests.consensus.harness import Cluster, txs

TIMEOUT_MS = 2_000


def test_a_block_takes_one_transaction_per_lane_in_turn() -> None:
    pool = RequestPool(10_000)
    flood, mine, theirs = txs(0, 100), txs(1000, 2), txs(2000, 2)
    pool.admit(flood, 0, "op3", timed=False)
    pool.admit(mine, 1)
    pool.admit(theirs, 2, "op1")
    chosen, full = pool.select_batch(10, set(), 6, 10**9, turn=0)
    assert full and {tx.tx_id for tx in mine + theirs} <= {tx.tx_id for tx in chosen}
    assert [tx.tx_id for tx in chosen[:3]] == [mine[0].tx_id, theirs[0].tx_id, flood[0].tx_id]
    # the first lane turns with the height; what the other lanes leave goes to the flood
    chosen, _ = pool.select_batch(10, set(), 10, 10**9, turn=2)
    assert chosen[0] == flood[0] and len(chosen) == 10


def test_one_lane_is_admission_order() -> None:
    pool = RequestPool(100)
    batch = txs(0, 20)
    pool.admit(batch[:10], 0)
    pool.admit(batch[10:], 5)
    chosen, full = pool.select_batch(10, {batch[3].tx_id}, 8, 10**9, turn=7)
    assert full and chosen == [tx for tx in batch if tx != batch[3]][:8]


def test_a_pending_transaction_joins_the_lane_of_a_second_relayer() -> None:
    """A flooder that relays an honest node's transaction first cannot keep it at the back of
    its own lane: the honest node's relay puts it in the honest lane too."""
    pool = RequestPool(10_000)
    flood, honest = txs(0, 50), txs(1000, 1)
    pool.admit(flood + honest, 0, "op3", timed=False)
    assert pool.admit(honest, 1, "op1").known == 1
    chosen, _ = pool.select_batch(10, set(), 4, 10**9, turn=0)
    assert honest[0] in chosen


def test_the_timer_waits_for_timed_requests_only() -> None:
    pool = RequestPool(10_000)
    pool.admit(txs(0, 100), 0, "op3", timed=False)
    pool.arm_timer(True, 0, TIMEOUT_MS)
    assert pool.deadline is None
    pool.admit(txs(1000, 1), 700, "op1")
    pool.arm_timer(True, 0, TIMEOUT_MS)
    assert pool.deadline == 700 + TIMEOUT_MS
    pool.remove_committed([txs(1000, 1)[0].tx_id])
    pool.arm_timer(True, 0, TIMEOUT_MS)
    assert pool.deadline is None and len(pool) == 100


def flood_from_op3(cluster: Cluster, count: int, timed: int,
                   to: tuple[str, ...] = ("op0", "op1", "op2")) -> tuple:
    """op3 relays `count` transactions to `to`, the first `timed` within its share."""
    flood = txs(0, count)
    for name in to:
        cluster.feed(name, TxsAdmitted(flood[:timed], "op3"))
        cluster.feed(name, TxsAdmitted(flood[timed:], "op3", timed=False))
    return flood


def committed_at(cluster: Cluster, name: str) -> dict[bytes, int]:
    return {t: height for height, (block, _) in cluster.nodes[name].blocks.items()
            for t in block.tx_ids()}


def test_a_flood_from_one_relayer_does_not_hold_back_the_others() -> None:
    """1,500 transactions relayed by op3, then one op1's client sent: it goes into the first
    block the primary proposes after it, not behind 150 blocks of the flood."""
    cluster = Cluster(4, max_block_txs=10, max_pipeline=1)
    flood_from_op3(cluster, 1_500, timed=10)
    honest = txs(10_000, 1)
    cluster.feed("op1", TxsAdmitted(honest))
    for name in ("op0", "op2", "op3"):
        cluster.feed(name, TxsAdmitted(honest, "op1"))
    cluster.run()
    cluster.advance(1_000)
    assert all(committed_at(cluster, name)[honest[0].tx_id] <= 2 for name in cluster.names)
    assert cluster.heights()["op0"] == 151  # the flood went through as well
    cluster.assert_same_chain()


def test_relays_the_primary_never_had_are_not_taken_for_censorship() -> None:
    """op3's lane at op0, the primary, was at its limit, so op0 refused 500 transactions op3
    relayed; op1 and op2 took them past op3's fair share (untimed). 30 s later (15 request
    timeouts) nobody has suspected op0, which keeps committing its clients' requests."""
    cluster = Cluster(4, max_block_txs=10, max_pipeline=1)
    flood_from_op3(cluster, 500, timed=0, to=("op1", "op2"))
    cluster.run()
    for i in range(30):
        cluster.submit(txs(20_000 + i, 1))
        cluster.advance(1_000)
    assert all(cluster[name].view == 0 for name in cluster.names)
    assert all(cluster[name].stats.get("request_timeouts", 0) == 0 for name in cluster.names)
    assert cluster.heights()["op0"] == 30
    cluster.assert_same_chain()


def test_a_relayed_request_the_primary_leaves_out_is_still_caught() -> None:
    """op1's client transaction, relayed within op1's share (timed) to op2 and op3, never
    reaches op0, the primary (a censoring primary can pretend so), while op3's flood keeps
    every block full: the backups still move to view 1, whose primary (op1) commits it."""
    cluster = Cluster(4, max_block_txs=10, max_pipeline=1)
    flood_from_op3(cluster, 1_500, timed=10)
    censored = txs(10_000, 1)
    cluster.feed("op1", TxsAdmitted(censored))
    for name in ("op2", "op3"):
        cluster.feed(name, TxsAdmitted(censored, "op1"))
    cluster.run()
    cluster.advance(20_000)
    for name in ("op1", "op2", "op3"):
        assert cluster[name].view >= 1, name
        committed = {t for block, _ in cluster.nodes[name].blocks.values()
                     for t in block.tx_ids()}
        assert censored[0].tx_id in committed, name
    cluster.assert_same_chain()
