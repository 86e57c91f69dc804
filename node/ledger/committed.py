"""Whether a transaction is committed, answered from memory when memory can say "no" for sure.

Admission asks it of every new transaction, and the answer is nearly always no. The store can
answer only by looking for the id in several LevelDB tables, and every such look counts toward
compacting those tables: ~10 µs of a node's CPU per transaction at saturation. `RecentCommits`
answers most of these from memory, exactly:

- A transaction carries `expires`, and a committed one with the same id has the same body,
  so the same `expires`. The ids committed since this node started are kept in Bloom filters,
  one per `WINDOW_MS` of `expires` (a filter never forgets an id it holds: no false "no").
- What was committed before the start is known by one number the executor keeps in its
  store, in the same batch as each block: the highest `expires` of any transaction committed
  (`schema.META_MAX_EXPIRES`). A transaction expiring after that one, and not in the filter
  for its window, is not committed.
- Everything else ("maybe": an old `expires`, a filter hit, a window pruned or filled past
  a sixteenth of its bits) is the store's to answer.

Filters of windows that ended before the last block's time are dropped: admission refuses an
expired transaction before asking, and anything that still asks goes to the store. No filter
is made for a window further ahead of the block time than an honest pool admits (an hour): a
faulty primary could otherwise commit transactions that each open a window of its own, 2 MiB
apiece. Such a window is only remembered as unfiltered, and the store answers for it.
"""

from __future__ import annotations

WINDOW_MS = 300_000  # one filter per five minutes of `expires`: at most 13 live for 1-hour expiry
NODE_BLOOM_BITS = 1 << 24  # 2 MiB per filter, answering for up to a million ids (node.app)
SMALL_BLOOM_BITS = 1 << 16  # the default: 8 KiB, for the simulator's many small nodes
_PROBES = 4  # bit positions per id, 24 bits each, taken from the id (already a SHA-256)
MAX_AHEAD_WINDOWS = 13  # windows past the block time's that get a filter: an hour and a bit


class _Bloom:
    __slots__ = ("bits", "capacity", "count", "mask")

    def __init__(self, size_bits: int) -> None:
        assert size_bits & (size_bits - 1) == 0 and size_bits <= 1 << 24, size_bits
        self.bits = bytearray(size_bits // 8)
        self.mask = size_bits - 1
        self.capacity = size_bits // 16  # past it, false "maybe" passes 0.3 %: stop answering
        self.count = 0

    def add(self, tx_id: bytes) -> None:
        value = int.from_bytes(tx_id[:12], "little")
        bits, mask = self.bits, self.mask
        for _ in range(_PROBES):
            position = value & mask
            bits[position >> 3] |= 1 << (position & 7)
            value >>= 24
        self.count += 1

    def may_hold(self, tx_id: bytes) -> bool:
        if self.count > self.capacity:
            return True
        value = int.from_bytes(tx_id[:12], "little")
        bits, mask = self.bits, self.mask
        for _ in range(_PROBES):
            position = value & mask
            if not bits[position >> 3] & (1 << (position & 7)):
                return False
            value >>= 24
        return True


class RecentCommits:
    """The ids committed since this node started, by window of `expires`; see the module."""

    def __init__(self, max_expires_before: int, bloom_bits: int = SMALL_BLOOM_BITS) -> None:
        self.max_expires_before = max_expires_before  # every earlier commit expires by then
        self.bloom_bits = bloom_bits
        self._windows: dict[int, _Bloom] = {}
        self._unfiltered: set[int] = set()  # windows too far ahead for a filter
        self._pruned_below = 0  # windows below this one were dropped; the block time's window

    def surely_not(self, tx_id: bytes, expires: int) -> bool:
        """True only if no transaction with this id is committed; False means "ask the
        store"."""
        if expires <= self.max_expires_before:
            return False
        window = expires // WINDOW_MS
        if window < self._pruned_below or window in self._unfiltered:
            return False
        bloom = self._windows.get(window)
        if bloom is None:
            return True
        return not bloom.may_hold(tx_id)

    def add(self, tx_id: bytes, expires: int) -> None:
        """Remember a committed id (after `prune` for its block's time)."""
        window = expires // WINDOW_MS
        bloom = self._windows.get(window)
        if bloom is None:
            if window in self._unfiltered:
                return
            if window > self._pruned_below + MAX_AHEAD_WINDOWS:
                self._unfiltered.add(window)
                return
            bloom = self._windows[window] = _Bloom(self.bloom_bits)
        bloom.add(tx_id)

    def prune(self, block_time: int) -> None:
        """Drop what is kept for windows that ended before `block_time`."""
        current = block_time // WINDOW_MS
        if current <= self._pruned_below:
            return
        for window in [window for window in self._windows if window < current]:
            del self._windows[window]
        self._unfiltered = {window for window in self._unfiltered if window >= current}
        self._pruned_below = current
