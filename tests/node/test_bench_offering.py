"""`bench --workload offering`: the in-process allocation stays bounded per transaction, and a
short run on a one-node cluster reports subscriptions/s and the allocation's cost, all of its
subscriptions settled."""

from __future__ import annotations

import pytest

from node import bench
from node.bench.offering import MAX_ASK, bound_on_transactions
from node.bench.offering_scale import run_scale

PER_STEP_WRITES = 16  # what one allocation step may write, at most (a subscription issued:
# its record, the draw index, the escrow's four keys, two cash balances, the token record,
# the holding, its held index and two investment windows; the rest are per transaction)


@pytest.mark.parametrize("subscribers", [60, 600])
def test_allocation_transactions_stay_bounded_whatever_the_subscribers(subscribers):
    max_steps = 50
    point = run_scale(subscribers, lambda line: None, max_steps=max_steps)
    assert point.problems == []
    assert point.allocated_qty == 2 * subscribers
    assert point.max_writes_per_tx <= PER_STEP_WRITES * max_steps + 8
    # Allocated (one per subscriber settled) plus the token's Issued and two cash events
    assert point.max_events_per_tx <= 4 * max_steps + 1
    assert point.allocate_txs <= bound_on_transactions(subscribers, MAX_ASK, max_steps)
    assert point.allocate_txs >= 3 * subscribers // max_steps  # three passes at least
    assert point.us_per_subscriber > 0 and point.verifications_per_subscriber > 0


@pytest.mark.slow
def test_a_short_offering_run_on_one_node():
    points = []
    options = bench.Options(nodes=(1,), duration_s=10.0, accounts=40, drain_s=20.0,
                            workload="offering")
    bench.run(options, points.append, lambda line: None)
    [point] = points
    assert point.problems == [], point.problems
    assert (point.subscribers, point.brokers, point.lost, point.duplicated, point.failed) == (
        40, 2, 0, 0, 0)
    assert point.allocated_qty == 80 and point.allocate_txs == 1
    assert point.subscriptions_tps > 0 and point.cpu_us_per_subscription_node > 0
    assert point.allocate_verifications_per_subscriber > 0
    assert "subscriptions" in bench.format_point(point)
