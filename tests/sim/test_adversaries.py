"""Issue #11's adversaries in the simulator: a peer that lies in state transfer, a peer that
floods later views, and crashes that fall between two steps of one batch of actions."""

from __future__ import annotations

from node.sim import SimConfig, format_result, run


def node_row(result, name):  # type: ignore[no-untyped-def]
    return next(n for n in result.nodes if n["name"] == name)


def test_a_liar_in_state_transfer_stops_nobody_from_catching_up() -> None:
    """broker-b claims to be 1,000 blocks ahead, so a lagging node asks it first, and answers
    with malformed replies, forged certificates or nothing. broker-a, cut off by a partition,
    still catches up through the honest peers and nothing wrong is ever applied."""
    result = run(SimConfig(seed=7, faults="crash,partition",
                           byzantine={"broker-b": "lie_transfer"}))
    assert "partition {broker-a} | {bank,broker-b,ksd}" in [f.detail for f in result.faults]
    assert result.ok, format_result(result)
    assert node_row(result, "broker-b")["byzantine_actions"] > 0, "the liar was never asked"
    assert node_row(result, "broker-a")["transferred_blocks"] > 0
    heights = {n["height"] for n in result.nodes if n["role"] == "honest"}
    assert max(heights) - min(heights) <= 1


def test_a_flood_of_later_views_is_harmless() -> None:
    result = run(SimConfig(seed=5, duration_ms=4_000, faults="crash,partition",
                           byzantine={"bank": "flood_views"}))
    assert result.ok, format_result(result)
    assert node_row(result, "bank")["byzantine_actions"] > 0, "no VIEW-CHANGE was flooded"


def test_crashes_between_two_steps_of_a_batch() -> None:
    """A crash after k steps of a node's next batch of actions (between a synced write and
    the send it guards, or between two sends): no vote conflicts after the restart, and
    everything commits."""
    for seed in (1, 2, 5, 8):
        result = run(SimConfig(seed=seed, faults="crash_mid,crash_mid,partition"))
        assert result.ok, format_result(result)
        assert any(f.kind == "crash_mid" for f in result.faults)
        assert sum(n["restarts"] for n in result.nodes) >= 1
