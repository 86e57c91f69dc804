"""The height-sync rule: fetch only when f+1 peers are ahead for long enough."""

from node.sync import SYNC_BEHIND_MS, SYNC_INTERVAL_MS, HeightSync


def test_one_peer_ahead_is_not_enough_with_f_1():
    sync = HeightSync(witnesses=2)
    sync.report("a", 50)
    sync.report("b", 7)
    assert sync.witnessed_height() == 7
    assert sync.fetch_target(0, 7, False) is None
    assert sync.fetch_target(SYNC_BEHIND_MS * 5, 7, False) is None


def test_behind_f_plus_1_peers_for_long_enough_fetches_to_their_height():
    sync = HeightSync(witnesses=2)
    for peer, height in (("a", 12), ("b", 10), ("c", 3)):
        sync.report(peer, height)
    assert sync.fetch_target(1_000, 5, False) is None  # just noticed
    assert sync.fetch_target(1_000 + SYNC_BEHIND_MS - 1, 5, False) is None  # a commit in flight
    assert sync.fetch_target(1_000 + SYNC_BEHIND_MS, 5, True) is None  # already fetching
    assert sync.fetch_target(1_000 + SYNC_BEHIND_MS, 5, False) == 10
    assert sync.fetch_target(1_000 + SYNC_BEHIND_MS, 10, False) is None  # caught up


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
