"""`Timeline`: records in time order, appended at the end and dropped from the front, with the
records since a time found by bisection (a deque cannot be bisected; a list popped from the
front is quadratic)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")
COMPACT_AT = 1_024  # dropped entries kept before the lists are copied down


class Timeline(Generic[T]):
    __slots__ = ("head", "items", "times")

    def __init__(self) -> None:
        self.items: list[T] = []
        self.times: list[int] = []
        self.head = 0  # items before it were dropped

    def append(self, time: int, item: T) -> None:
        assert not self.times or time >= self.times[-1], "a timeline goes forward"
        self.items.append(item)
        self.times.append(time)

    def __len__(self) -> int:
        return len(self.items) - self.head

    def __bool__(self) -> bool:
        return len(self.items) > self.head

    def __iter__(self) -> Iterator[T]:
        return iter(self.items[self.head:])

    def first(self) -> T:
        return self.items[self.head]

    def first_time(self) -> int:
        return self.times[self.head]

    def pop_first(self) -> T:
        item = self.items[self.head]
        self.head += 1
        if self.head >= COMPACT_AT and self.head * 2 >= len(self.items):
            del self.items[:self.head]
            del self.times[:self.head]
            self.head = 0
        return item

    def since(self, time: int) -> list[T]:
        """The records at or after `time`, oldest first."""
        return self.items[bisect_left(self.times, time, self.head):]

    def first_at(self, time: int) -> T | None:
        """The first record at or after `time`, or None."""
        index = bisect_left(self.times, time, self.head)
        return self.items[index] if index < len(self.items) else None

    def between(self, start: int, stop: int) -> list[T]:
        """The records with `start <= time < stop`."""
        low = bisect_left(self.times, start, self.head)
        return self.items[low:bisect_left(self.times, stop, low)]

    def remove(self, time: int, item: T) -> None:
        """Remove `item`, appended at `time`, wherever it is (a capped collection's largest
        holder gives a record that another's timeline also holds)."""
        index = bisect_left(self.times, time, self.head)
        while self.items[index] is not item:
            index += 1
        del self.items[index]
        del self.times[index]
