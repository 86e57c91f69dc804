"""An offering's allocation arithmetic (PROTOCOL "offering", `allocate` step 2), integers only.

Over the eligible subscribers, in draw order (ascending `draw_key`):
- Undersubscribed (they asked for at most `qty` in all): each gets what it asked.
- Oversubscribed: the equal pool `floor(qty x equal_bps / 10000)` is shared first (균등배정):
  each gets `min(asked, floor(pool / n))`, then the pool's remaining units go one each, in
  draw order, round after round, to the subscribers still short, until the pool is spent or
  nobody is short. The rest (`qty` minus what the equal stage gave) goes pro rata to what each
  still asks (비례배정): `floor(rest x still / total_still)`, and the leftover units one each
  by largest remainder, ties in draw order.

`compute_allocation` does exactly that, round by round as written: the reference the tests hold
the contract to. The contract (chaincode.offering) cannot loop over every subscriber in one
transaction, so it computes the same in bounded steps from a closed form of the equal stage:

    f(t) = sum_i min(asked_i, t)   (what the equal stage gives if everyone is served up to t)

After `floor(pool / n)` and R full rounds everyone has `min(asked, floor(pool / n) + R)`, so the
full rounds end at the threshold t = the largest t with f(t) <= pool, and the last, partial
round gives one unit each to the first `pool - f(t)` subscribers in draw order whose ask
exceeds t. Oversubscribed, the equal stage always spends the whole pool (if every ask were met
by it, the asks would sum to at most pool <= qty), so total_still = sum(asked) - pool > rest,
which keeps every pro-rata share, leftover unit included, within what a subscriber asked.
`threshold_step` finds t from the asks' histogram (one distinct ask per step, ascending);
`equal_share` and `pro_rata_share` then give each subscriber its shares in one pass in draw
order; the leftover units follow the remainder index (`remainder_key`).
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

BPS = 10_000
REMAINDER_DIGITS = 20  # total_still <= the asks' sum, which cash bounds below 2^63 < 10^20


class Share(NamedTuple):
    """One subscriber's allocation: `equal` and `pro_rata` are None when nothing was rationed
    (undersubscribed: `total` is what it asked)."""

    equal: int | None
    pro_rata: int | None
    total: int


def draw_key(offering_id: int, account: str) -> str:
    """hex sha256(offering_id as 8 bytes big-endian || the account's 32 public-key bytes)."""
    return hashlib.sha256(offering_id.to_bytes(8, "big") + bytes.fromhex(account)).hexdigest()


def equal_pool(qty: int, equal_bps: int) -> int:
    return qty * equal_bps // BPS


def compute_allocation(qty: int, equal_bps: int, asked: list[int]) -> list[Share]:
    """The reference, literally as PROTOCOL writes it; `asked` in draw order (every ask >= 1).
    Loops once per unit of the pool: for tests, not for the chain."""
    if sum(asked) <= qty:
        return [Share(None, None, ask) for ask in asked]
    pool = equal_pool(qty, equal_bps)
    equal = [min(ask, pool // len(asked)) for ask in asked]
    left = pool - sum(equal)
    while left > 0 and any(e < a for e, a in zip(equal, asked, strict=True)):
        for i, ask in enumerate(asked):
            if left == 0:
                break
            if equal[i] < ask:
                equal[i] += 1
                left -= 1
    rest = qty - sum(equal)
    still = [ask - e for ask, e in zip(asked, equal, strict=True)]
    total_still = sum(still)
    pro_rata = [rest * s // total_still for s in still]
    remainders = [rest * s % total_still for s in still]
    leftover = rest - sum(pro_rata)
    for i in sorted(range(len(asked)), key=lambda i: (-remainders[i], i))[:leftover]:
        pro_rata[i] += 1
    shares = [Share(e, p, e + p) for e, p in zip(equal, pro_rata, strict=True)]
    assert all(s.total <= a for s, a in zip(shares, asked, strict=True)), "beyond an ask"
    assert sum(s.total for s in shares) == qty, "an oversubscribed offering allocates all"
    return shares


def threshold_step(pool: int, below: int, above: int, value: int, count: int
                   ) -> tuple[int | None, int, int]:
    """One step of the search for the equal stage's threshold t, over the distinct asks in
    ascending order. `below`: the sum of the asks already passed (all <= t), `above`: how many
    subscribers ask `value` or more; `count` of them ask exactly `value`. Returns (t, below,
    above) once t is found (t < value), else (None, below, above) moved past `value`."""
    assert above >= count > 0
    if below + value * above > pool:  # f(value) > pool: t lies below value
        return (pool - below) // above, below, above
    return None, below + value * count, above - count


def equal_share(asked: int, threshold: int, extras_left: int) -> tuple[int, bool]:
    """(equal share, whether it took one of the partial round's units): visited in draw
    order, while `extras_left` of those units remain."""
    if asked > threshold and extras_left > 0:
        return threshold + 1, True
    return min(asked, threshold), False


def pro_rata_share(rest: int, still: int, total_still: int) -> tuple[int, int]:
    """(floor share, remainder) of the pro-rata stage."""
    return divmod(rest * still, total_still)


def remainder_key(total_still: int, remainder: int, draw: str) -> str:
    """Sorts by remainder descending, then draw order: the leftover units' order."""
    return f"{total_still - 1 - remainder:0{REMAINDER_DIGITS}d}/{draw}"
