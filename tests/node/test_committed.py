"""node.ledger.committed: memory says "surely not committed" only when it is so."""

import hashlib

from node.ledger.committed import WINDOW_MS, RecentCommits


def ids(label, count):
    return [hashlib.sha256(f"{label}{i}".encode()).digest() for i in range(count)]


def test_never_surely_not_for_an_id_it_was_given_and_mostly_for_others():
    recent = RecentCommits(max_expires_before=1_000, bloom_bits=1 << 12)  # 256 ids a window
    added = ids("a", 300)  # past the window's capacity: it stops answering, never lies
    for index, tx_id in enumerate(added):
        recent.add(tx_id, 5 * WINDOW_MS + index % 2)
    assert not any(recent.surely_not(tx_id, 5 * WINDOW_MS + i % 2) for i, tx_id in enumerate(added))
    assert not any(recent.surely_not(tx_id, 5 * WINDOW_MS) for tx_id in ids("b", 50))  # full
    others = ids("c", 200)
    for tx_id in others[:100]:
        recent.add(tx_id, 7 * WINDOW_MS)
    assert not any(recent.surely_not(tx_id, 7 * WINDOW_MS) for tx_id in others[:100])
    assert sum(recent.surely_not(tx_id, 7 * WINDOW_MS) for tx_id in others[100:]) > 90
    assert all(recent.surely_not(tx_id, 9 * WINDOW_MS) for tx_id in others)  # an empty window


def test_what_expires_by_the_start_or_in_a_dropped_window_is_the_stores():
    recent = RecentCommits(max_expires_before=3 * WINDOW_MS)
    tx_id = ids("x", 1)[0]
    assert not recent.surely_not(tx_id, 3 * WINDOW_MS)  # may be committed before the start
    assert recent.surely_not(tx_id, 3 * WINDOW_MS + 1)
    recent.add(tx_id, 4 * WINDOW_MS)
    recent.prune(5 * WINDOW_MS)  # a block at a time past the window of `expires`
    assert not recent.surely_not(tx_id, 4 * WINDOW_MS)
    assert not recent.surely_not(ids("y", 1)[0], 4 * WINDOW_MS + 5)
    assert recent.surely_not(tx_id, 5 * WINDOW_MS)


def test_a_window_further_ahead_than_an_honest_pool_admits_gets_no_filter_and_asks_the_store():
    """A faulty primary may commit transactions expiring far ahead, each in a window of its
    own: none gets a filter (2 MiB apiece at a node), and the store answers for them."""
    recent = RecentCommits(max_expires_before=0)
    now = 100 * WINDOW_MS
    recent.prune(now)
    far = [(tx_id, now + (20 + i) * WINDOW_MS) for i, tx_id in enumerate(ids("far", 50))]
    for tx_id, expires in far:
        recent.add(tx_id, expires)
    assert not recent._windows  # no filter was made
    assert not any(recent.surely_not(tx_id, expires) for tx_id, expires in far)
    assert not recent.surely_not(ids("other", 1)[0], far[0][1])  # nor for its window
    near = ids("near", 1)[0]
    recent.add(near, now + WINDOW_MS)
    assert len(recent._windows) == 1 and not recent.surely_not(near, now + WINDOW_MS)
    recent.prune(now + 40 * WINDOW_MS)
    assert len(recent._unfiltered) == 30  # the windows passed are forgotten
