"""node.tools.faults: the seeded schedule of a chaos run and the relay policies it is made of."""

from __future__ import annotations

import pytest

from node.tools.faults import (
    FLAP_CUTS,
    GAP_S,
    HOLD_S,
    KINDS,
    LONG_HOLD_S,
    Schedule,
    deaf_held,
    oneway_held,
    slow_delays,
    split_held,
)
from node.tools.nemesis import (
    Monitor,
    Reading,
    all_above,
    committed_above,
    fully_linked,
    links_down,
)

FOUR = ("ksd", "broker-a", "broker-b", "bank")
SEVEN = (*FOUR, "op-4", "op-5", "op-6")


def deal(schedule: Schedule, count: int) -> list:
    return [schedule.next() for _ in range(count)]


def test_the_same_seed_deals_the_same_episodes_and_another_seed_others() -> None:
    first = deal(Schedule(7, FOUR), 40)
    assert first == deal(Schedule(7, FOUR), 40)
    assert first != deal(Schedule(8, FOUR), 40)


@pytest.mark.parametrize("names", [FOUR, SEVEN])
def test_every_round_deals_every_kind_once(names) -> None:
    episodes = deal(Schedule(3, names, f=(len(names) - 1) // 3), 5 * len(KINDS))
    for start in range(0, len(episodes), len(KINDS)):
        assert sorted(e.kind for e in episodes[start:start + len(KINDS)]) == sorted(KINDS)
    assert [e.number for e in episodes] == list(range(1, len(episodes) + 1))
    only = deal(Schedule(3, names, kinds=("split", "oneway")), 6)
    assert {e.kind for e in only} == {"split", "oneway"}


@pytest.mark.parametrize(("names", "f", "sizes"), [
    (FOUR, 1, {(2, 2), (1, 3), (3, 1)}),  # halves (2-2) or n - f | f (3-1)
    (SEVEN, 2, {(3, 4), (5, 2)}),  # halves (3-4: no quorum of 5 on either side) or 5-2
])
def test_splits_are_halves_or_leave_a_quorum_on_one_side(names, f, sizes) -> None:
    splits = [e for e in deal(Schedule(11, names, f=f), 30 * len(KINDS)) if e.kind == "split"]
    seen = {tuple(len(group) for group in e.groups) for e in splits}
    assert seen <= sizes and len(seen) >= 2
    for e in splits:
        assert sorted(e.groups[0] + e.groups[1]) == sorted(names)


@pytest.mark.parametrize(("names", "sides"), [(FOUR, (1, 2)), (SEVEN, (3, 3))])
def test_a_bridge_cuts_two_sides_apart_and_links_one_node_to_both(names, sides) -> None:
    bridges = [e for e in deal(Schedule(13, names), 3 * len(KINDS)) if e.kind == "bridge"]
    assert len(bridges) == 3
    for e in bridges:
        assert tuple(len(side) for side in e.groups) == sides
        assert sorted(e.groups[0] + e.groups[1] + e.nodes) == sorted(names)
        held = split_held(e.groups)
        assert not any(e.nodes[0] in pair for pair in held)
        assert len(held) == 2 * sides[0] * sides[1]


def test_episodes_name_their_victims_and_stay_within_their_bounds() -> None:
    LONG = LONG_HOLD_S
    episodes = deal(Schedule(5, SEVEN, f=2), 20 * len(KINDS))
    assert 0 < sum(e.hold_s >= LONG[0] for e in episodes) < len(episodes) / 2
    for e in episodes:
        assert GAP_S[0] <= e.gap_s <= GAP_S[1]
        if e.kind == "flap":
            cuts = (len(e.phases_s) + 1) // 2
            assert len(e.phases_s) % 2 == 1 and FLAP_CUTS[0] <= cuts <= FLAP_CUTS[1]
            assert e.hold_s == round(sum(e.phases_s), 1)
        else:
            assert HOLD_S[0] <= e.hold_s <= HOLD_S[1] or LONG[0] <= e.hold_s <= LONG[1]
        if e.kind in ("oneway", "drop"):
            assert len(e.nodes) == 2 and e.nodes[0] != e.nodes[1]
        elif e.kind in ("kill", "pause", "isolate", "deaf", "slow", "bridge"):
            assert len(e.nodes) == 1 and e.nodes[0] in SEVEN
        assert e.describe().startswith(e.kind)


def test_a_schedule_refuses_unknown_kinds_and_a_single_node() -> None:
    with pytest.raises(ValueError, match="fault kinds"):
        Schedule(1, FOUR, kinds=("kill", "meteor"))
    with pytest.raises(ValueError, match="fault kinds"):
        Schedule(1, FOUR, kinds=())
    with pytest.raises(ValueError, match="two nodes"):
        Schedule(1, ("ksd",))


def test_relay_policies() -> None:
    held = split_held((("a", "b"), ("c",)))
    assert sorted(held) == [["a", "c"], ["b", "c"], ["c", "a"], ["c", "b"]]
    assert len(split_held((SEVEN[:3], SEVEN[3:]))) == 2 * 3 * 4
    assert oneway_held("a", "b") == [["a", "b"]]
    assert sorted(deaf_held("b", ("a", "b", "c"))) == [["a", "b"], ["c", "b"]]
    assert sorted(slow_delays("a", ("a", "b"), 90)) == [["a", "b", 90], ["b", "a", 90]]


def test_the_monitor_finds_when_a_condition_first_held_after_a_moment_looking_back() -> None:
    """A heal that took a while (a restart waits for readiness) is measured from its start:
    `first` replays the recorded readings, it does not answer with the time it was asked."""
    monitor = Monitor({"a": "", "b": ""}, poll_s=0.2)
    linked = {"a": frozenset({"b"}), "b": frozenset({"a"})}
    for when, name, height, peers in [
            (1.0, "a", 5, linked["a"]), (1.0, "b", 5, linked["b"]), (2.0, "b", None, None),
            (2.5, "a", 5, frozenset()), (3.0, "a", 7, frozenset()), (4.0, "b", 6, frozenset()),
            (4.5, "a", 7, linked["a"]), (5.0, "b", 8, linked["b"])]:
        monitor.record(name, Reading(height, peers) if height is not None else None, when)

    assert monitor.first(committed_above(5), since=2.2, timeout_s=10) == 3.0
    assert monitor.first(all_above(5), since=2.2, timeout_s=10) == 4.0
    assert monitor.first(all_above(4), since=1.5, timeout_s=10) == 1.5  # held already
    assert monitor.first(all_above(4), since=2.2, timeout_s=10) == 4.0  # b answered nothing
    assert monitor.first(all_above(5), since=2.2, timeout_s=1.0) is None  # not in time
    # The cut a-b is noticed once each end that answers has dropped the other (b silent).
    assert monitor.first(links_down([("a", "b")]), since=1.2, timeout_s=10) == 2.5
    assert monitor.first(fully_linked, since=2.2, timeout_s=10) == 5.0
    assert monitor.heights() == {"a": 7, "b": 8}
