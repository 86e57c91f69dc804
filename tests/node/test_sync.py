"""The height-sync rule: fetch when a peer stays ahead long enough; readiness needs f+1."""

from node.net.sync import SYNC_BEHIND_MS, SYNC_INTERVAL_MS, HeightSync


def test_one_peer_ahead_is_enough_to_try_but_not_to_be_witnessed():
    sync = HeightSync(witnesses=2)
    sync.report("a", 50)
    sync.report("b", 7)
    assert sync.witnessed_height() == 7
    assert sync.fetch_target(0, 7, False) is None  # just noticed
    assert sync.fetch_target(SYNC_BEHIND_MS, 7, False) == 50
    assert sync.peers_by_height() == ["a", "b"]


def test_behind_for_long_enough_fetches_to_the_highest_report():
    sync = HeightSync(witnesses=2)
    for peer, height in (("a", 12), ("b", 10), ("c", 3)):
        sync.report(peer, height)
    assert sync.fetch_target(1_000, 5, False) is None
    assert sync.fetch_target(1_000 + SYNC_BEHIND_MS - 1, 5, False) is None  # a commit in flight
    assert sync.fetch_target(1_000 + SYNC_BEHIND_MS, 5, True) is None  # already fetching
    assert sync.fetch_target(1_000 + SYNC_BEHIND_MS, 5, False) == 12
    assert sync.fetch_target(1_000 + SYNC_BEHIND_MS, 12, False) is None  # caught up


def test_a_claim_no_fetch_could_make_good_is_forgotten():
    sync = HeightSync(witnesses=2)
    sync.report("liar", 10**9)
    sync.report("b", 8)
    sync.forget_above(8)
    assert sync.reported == {"b": 8}
    assert sync.fetch_target(0, 8, False) is None


def test_catching_up_in_time_resets_the_wait():
    sync = HeightSync(witnesses=1)
    sync.report("a", 4)
    assert sync.fetch_target(0, 3, False) is None
    assert sync.fetch_target(10, 4, False) is None
    sync.report("a", 5)
    assert sync.fetch_target(SYNC_BEHIND_MS + 20, 4, False) is None  # behind again, anew


def test_announcements_are_spaced():
    sync = HeightSync(witnesses=1)
    assert sync.announce_due(0)
    assert not sync.announce_due(SYNC_INTERVAL_MS - 1)
    assert sync.announce_due(SYNC_INTERVAL_MS)
