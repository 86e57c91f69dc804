"""Surveillance over a generated market (node.surveillance.generator): the alerts are a pure
function of the chain - a node that restarts every few blocks (its memory reloaded from its
store) and a node that catches up by replaying the committed blocks (as state transfer and a
rebuild from genesis do) hold exactly the live node's surveillance keys, even with every bound
of its memory lowered until each one binds - and a busy market of honest traders and honest
look-alikes (branch terminals, market makers, a thin token, institutions, payees) raises no
alert. The recall of every simple and evasive plant is measured over several seeds in the
README (`stoledger market-sim --plant both`); the slow test here pins one seed of the evasive
plants, with the plant it is known to miss today (KNOWN_MISSES)."""

from __future__ import annotations

import pytest

from node.storage import MemoryKV
from node.storage import schema as s
from node.surveillance.alerts import all_alerts
from node.surveillance.generator import GeneratorConfig
from node.surveillance.records import Limits
from node.surveillance.runs import EVASIVE, SIMPLE, build, generate
from node.surveillance.world import MarketWorld

TINY = Limits(closed_orders=40, trades=60, flows=6, origin_uses=30, links=4, per_origin=3,
              per_account=3, owner_accounts=3, episodes=2, pending=2, insiders=1)
BUSY = ("S1", "S3", "S4", "S7", "S9", "S10", "S12", "S13", "S1.transfer", "S1.recover",
        "S8.insider", "S8.nominee", "S9.fan_in")


def surveillance_keys(store) -> dict[bytes, bytes]:
    return dict(store.iterate(s.SURVEILLANCE))


def replay(live: MarketWorld, restart_every: int | None) -> MarketWorld:
    store = MemoryKV()
    node = MarketWorld(live.params, live.genesis_time, store=store, limits=live.limits)
    for count, applied in enumerate(live.blocks, start=1):
        node.executor.apply(applied.block, applied.certificate)
        if restart_every and count % restart_every == 0:
            node = MarketWorld(live.params, live.genesis_time, store=store,
                               limits=live.limits)  # a restart
    return node


def test_restarted_and_replaying_nodes_derive_the_same_alerts_past_every_bound():
    market = build(GeneratorConfig(seed=7, honest_orders=900, honest_accounts=60, plant=BUSY,
                                   limits=TINY, keep_blocks=True))
    report = market.run()
    live = market.world
    memory = live.surveillance
    # every bound was reached (the collections sit at their limits) ...
    assert memory.orders.holdings.total == TINY.closed_orders
    assert memory.trades.count == TINY.trades
    assert memory.flows.holdings.total == TINY.flows
    assert memory.owners.use_count == TINY.origin_uses
    assert memory.owners.link_count == TINY.links
    assert len(memory.episodes.open) == TINY.episodes
    # the capped collections gave from their largest holders, so smaller ones kept theirs
    assert len(memory.trades.by_symbol) > 1 and len(memory.flows.holdings.counts) > 1
    # of several rules (8 today on seed 7; seed 6 was used until Market.take_time moved the
    # plants' times apart and its episodes no longer reached their bound).
    # Under these tiny caps the washers hold the most trades and give their oldest first
    # (rt37 F11), so S1's and S7's plants go uncaught here: 10 before
    assert report.alerts >= 8
    # ... and a node that restarted every 37 blocks, and one that replayed them all, agree
    expected = surveillance_keys(live.store)
    restarted = replay(live, restart_every=37)
    assert restarted.executor.app_hash == live.executor.app_hash
    assert surveillance_keys(restarted.store) == expected
    replayed = replay(live, restart_every=None)
    assert surveillance_keys(replayed.store) == expected
    assert all_alerts(replayed.store) == all_alerts(live.store)


def test_a_busy_honest_market_with_its_lookalikes_raises_no_alert():
    report = generate(GeneratorConfig(seed=11, honest_orders=3_000, plant=()))
    assert report.honest_orders >= 3_000 and report.trades > 1_000
    assert report.alerts == 0, [(a["rule"], a["explanation"]) for a in report.honest_examples]


# Plants these seeds miss today (issue 30 is open: recall is not 1.0 for every rule; README,
# "Market surveillance", has the table over seeds 1-20). The list is exact both ways: a plant
# missed that is not here fails the test, and so does one listed here that is now caught
# (take it off). It names known gaps; it is not a tolerance.
# Seed 8's S7.25h (a gap of the plant, not of S7): it pumped OFC3 from 10,670 won 33 minutes
# after S14.sweep had lifted the open from 10,240; by the dump 25 hours later the token traded
# at 10,410-10,480 (S7.four_sweeps had dumped it to 10,270 that morning), no bid stood above
# where its rise began, and it sold nothing: no dump for S7 to judge.
KNOWN_MISSES: dict[tuple[int, str], set[tuple[str, str]]] = {(8, "evasive"): {("S7", "25h")}}


@pytest.mark.slow
@pytest.mark.parametrize(("seed", "plants"), [(8, "evasive")])
def test_every_plant_is_caught_and_no_honest_account_flagged(seed, plants):
    """One seed of the evasive plants (a run takes about a minute; the simple plants' recall
    is in the README's table, and each rule has its desk tests)."""
    chosen = SIMPLE if plants == "simple" else EVASIVE
    report = generate(GeneratorConfig(seed=seed, plant=chosen))
    missed = {(case.rule, case.variant) for case in report.cases if not case.caught}
    assert len(report.cases) == len(chosen), f"seed {seed}: {len(report.cases)} cases"
    assert missed == KNOWN_MISSES.get((seed, plants), set()), f"seed {seed}: {sorted(missed)}"
    assert report.honest_examples == [], [(a["rule"], a["explanation"])
                                          for a in report.honest_examples]
