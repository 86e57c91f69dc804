"""Who votes, how many votes make a quorum, and sets of votes.

`Committee` is the fixed operator list from genesis: names in primary order and their keys.
`VoteBook` keeps at most one vote per operator per (view, seq) and tells a duplicate apart
from a conflicting vote, so a peer can never make the book grow past n votes per key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from consensus.constants import MAX_NAME_CHARS, MAX_OPERATORS, PUBLIC_KEY_BYTES


def max_faulty(n: int) -> int:
    """f: the most Byzantine operators n operators tolerate (n >= 3f + 1)."""
    assert n >= 1
    return (n - 1) // 3


def quorum_size(n: int) -> int:
    """The smallest q with 2q - n >= f + 1: any two quorums share an honest operator.

    Equal to 2f + 1 when n = 3f + 1; larger for other n, so that safety does not silently
    weaken when genesis lists, say, 5 operators. `block.check_certificate` counts this same
    quorum.
    """
    return (n + max_faulty(n)) // 2 + 1


@dataclass(frozen=True, slots=True)
class Committee:
    """The operators in genesis order, the chain id, and the quorum in use."""

    chain: str
    names: tuple[str, ...]
    keys: dict[str, bytes] = field(hash=False)
    quorum: int

    @classmethod
    def of(cls, chain: str, operators: tuple[tuple[str, bytes], ...],
           quorum_override: int | None = None) -> Committee:
        names = tuple(name for name, _ in operators)
        assert 1 <= len(names) <= MAX_OPERATORS, "1 to MAX_OPERATORS operators"
        assert len(set(names)) == len(names), "operator names are unique"
        for name, key in operators:
            assert isinstance(name, str) and 0 < len(name) <= MAX_NAME_CHARS
            assert isinstance(key, bytes) and len(key) == PUBLIC_KEY_BYTES
        quorum = quorum_size(len(names)) if quorum_override is None else quorum_override
        assert 1 <= quorum <= len(names)
        return cls(chain, names, dict(operators), quorum)

    @property
    def n(self) -> int:
        return len(self.names)

    @property
    def f(self) -> int:
        return max_faulty(self.n)

    @property
    def weak_quorum(self) -> int:
        """f + 1: enough operators that at least one is honest."""
        return self.f + 1

    def primary(self, view: int) -> str:
        return self.names[view % self.n]

    def is_operator(self, name: object) -> bool:
        return isinstance(name, str) and name in self.keys

    def order(self, name: str) -> int:
        return self.names.index(name)


M = TypeVar("M")


class VoteBook(Generic[M]):
    """Votes by (view, seq): for each operator its one digest and the signed message."""

    __slots__ = ("_votes",)

    def __init__(self) -> None:
        self._votes: dict[tuple[int, int], dict[str, tuple[bytes, M]]] = {}

    def add(self, view: int, seq: int, sender: str, digest: bytes, message: M) -> str:
        """"added", "duplicate" (same digest again) or "conflict" (another digest)."""
        votes = self._votes.setdefault((view, seq), {})
        known = votes.get(sender)
        if known is not None:
            return "duplicate" if known[0] == digest else "conflict"
        votes[sender] = (digest, message)
        return "added"

    def voted(self, view: int, seq: int, sender: str) -> bytes | None:
        known = self._votes.get((view, seq), {}).get(sender)
        return None if known is None else known[0]

    def matching(self, view: int, seq: int, digest: bytes, committee: Committee) -> list[M]:
        """The votes for `digest`, in genesis order of their senders."""
        votes = self._votes.get((view, seq), {})
        senders = sorted((s for s, (d, _) in votes.items() if d == digest), key=committee.order)
        return [votes[s][1] for s in senders]

    def digests(self, view: int, seq: int) -> list[bytes]:
        return sorted({d for d, _ in self._votes.get((view, seq), {}).values()})

    def keys_sorted(self) -> list[tuple[int, int]]:
        return sorted(self._votes)

    def discard(self, keep: Callable[[tuple[int, int]], bool]) -> None:
        """Drop every (view, seq) for which `keep((view, seq))` is false."""
        for key in sorted(self._votes):
            if not keep(key):
                del self._votes[key]

    def size(self) -> int:
        return sum(len(votes) for votes in self._votes.values())
