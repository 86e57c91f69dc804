"""Seeds that once failed, pinned. Each reproduced a liveness bug the simulator found; both are
fixed, and these runs keep them fixed. They are never skipped. Seeds found by the random
mix draw their faults and Byzantine operators from `mix_v1`, the mix they were found with.

1. VIEW-CHANGE is never retransmitted, and the view-change timer starts only at a quorum of
   VIEW-CHANGEs. When VIEW-CHANGEs are lost (a partition that drops frames, a link that dies
   mid-write), every replica waits forever in the view change with fewer than 2f+1 of them.
   Fixed in consensus/replica.py: a replica repeats its VIEW-CHANGE every timeout until it
   holds a quorum of them.

2. After a view change, a replica that already committed a re-proposed seq drops the
   re-proposal and every vote for it as `stale`, and a lagging replica learns it is behind
   only from a stable checkpoint (2f+1 matching CHECKPOINTs at a multiple of K) or a quorum
   of COMMITs above its hole in the current view. When honest replicas end up at different
   heights between two checkpoints (e.g. 7/6/6/7), no seq can gather a quorum: the ahead
   replicas will not vote on the laggards' next seq, the laggards cannot prepare the ahead
   ones' next seq, and view changes repeat forever (seen without any Byzantine node).
   Fixed in node/net/sync.py, which both node.app and node.sim run: operators announce their
   executed height, and a node left behind for a second fetches certified blocks.

3. Seen once loss joined the random mix: when the one honest node that committed a height
   is a single peer, waiting for f+1 peers to report it never ends. Fixed in node/net/sync.py:
   one peer's report is enough to try, since the certificate proves the block.

4. Found by the widened mix (`stoledger sim --seeds 1000 --faults mix --faulty f`) on the
   code before issue 26's fixes, with the run's defaults (5 s of traffic at 20 tx/s):
   - withhold: the Byzantine primary's block, prepared by it alone, is re-proposed in view 1;
     the honest replicas that PREPAREd it had dropped its body with the view's slots and voted
     for it by hash, so it committed with no body anywhere and the chain stopped for good
     (n = 4 seed 3, n = 7 seed 13). Fixed in consensus/bodies.py (kept bodies) and
     replica._advance (no vote without the body).
   - forge_body: a peer served the certified blocks with other signatures; tx_root did not
     cover them, so the victim executed them, dropped the transactions and diverged (n = 4
     seed 2, n = 7 seed 20). Fixed in consensus/block.py (tx_root over sha256(tx_id || sig)).
"""

from __future__ import annotations

import pytest

from node.sim import SimConfig, format_result, run

# (n, seed) of the sweep in test_sweep.py that stalled by bug 2
STALLED_SEEDS = frozenset({(4, 91), (4, 95), (7, 14), (7, 47)})


def test_lost_view_changes_are_sent_again() -> None:
    """Bug 1, seed 6: partition {broker-a,ksd} | {bank,broker-b} that drops frames; both
    sides send VIEW-CHANGE for view 1 during it; after the heal each replica holds 2 of the 3
    it needs, and nobody ever sends one again."""
    result = run(SimConfig(seed=6, duration_ms=3_000, tx_rate=10, faults="partition",
                           partition_drops=True))
    assert result.ok, format_result(result)


def test_honest_replicas_at_different_heights_recover_no_byzantine() -> None:
    """Bug 2, seed 17, no Byzantine node: after the partition heals ksd and bank are at 7,
    broker-a and broker-b at 6, and views 1..5 all fail."""
    result = run(SimConfig(seed=17, duration_ms=3_000, tx_rate=10, faults="partition",
                           partition_drops=True))
    assert result.ok, format_result(result)


@pytest.mark.parametrize("n,seed", sorted(STALLED_SEEDS))
def test_sweep_seeds_that_stall(n: int, seed: int) -> None:
    """Bug 2 in the sweep: honest replicas left at different heights between checkpoints."""
    from tests.sim.test_sweep import sweep_config

    result = run(sweep_config(n, seed, mix="mix_v1"))
    assert result.safety_ok, format_result(result)
    assert result.liveness_ok, format_result(result)


# (n, seed) of `stoledger sim --seeds 1000 --faults mix --faulty f` that failed before issue 26
WIDENED_MIX_SEEDS = [(4, 2), (4, 3), (7, 13), (7, 20)]


@pytest.mark.parametrize("n,seed", WIDENED_MIX_SEEDS)
def test_widened_mix_seeds_that_failed(n: int, seed: int) -> None:
    """Bug class 4: bodies withheld, bodies forged; every honest replica commits everything."""
    result = run(SimConfig(nodes=n, seed=seed, faults="mix_v2", faulty=(n - 1) // 3))
    assert result.safety_ok, format_result(result)
    assert result.liveness_ok, format_result(result)


def test_a_single_honest_node_ahead_is_caught_up_with() -> None:
    """Bug 3, seed 65: a Byzantine double voter and lost messages let broker-a alone (with the
    Byzantine vote) commit heights 7 and 8; the other honest nodes stayed at 6 through every
    later view, since only one peer was ahead and the height sync waited for f+1. A block's
    certificate proves it, so node.net.sync now fetches toward any single peer's height."""
    result = run(SimConfig(seed=65, nodes=4, duration_ms=2_500, tx_rate=10, faults="mix_v1",
                           faulty=1))
    assert result.ok, format_result(result)
