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

The passes over state (`run`, for chaincode.offering's `allocate`), each a bounded walk of one
index of the offering contract's namespace, with `offering["cursor"]` the last key it read and
`offering["phase"]` where the allocation stands:

    eligibility  draw/ in draw order: the subscriber checks again; a failing subscription is
                 settled at once (dropped, refunded in full, its code recorded) and leaves
                 draw/; the others are counted into the ask/ histogram
    threshold    ask/ ascending: `threshold_step` until the threshold is found
    shares       draw/ in draw order: `equal_share`, `pro_rata_share`; remainders into rem/
    remainders   rem/ from its first key: one leftover unit each, the key deleted
    issuing      draw/ from its first key: the share issued (token.issue_offered, under the
                 issuance checks), the escrow settled (`settle_subscription`), the key deleted
    allocated    `finish` gives the units not issued back to the cap

Each pass spends one step per key it reads and moves to the next phase when its index is
exhausted, so `run` never reads more than `budget` keys; a call may end in any phase.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, NamedTuple

from chaincode.runtime import Context

BPS = 10_000
REMAINDER_DIGITS = 20  # total_still <= the asks' sum, which cash bounds below 2^63 < 10^20
ASK_DIGITS = 19  # asks are at most MAX_AMOUNT = 2^62 < 10^19
SUBSCRIBING, ALLOCATED, CANCELLED = "subscribing", "allocated", "cancelled"


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


# ---- the offering contract's keys that allocation reads and writes ---------------------------

def id_key(offering_id: int) -> str:
    """An offering id as it appears in keys (12 digits, zero-padded: key order is id order)."""
    return f"{offering_id:012d}"


def subscription_key(offering_id: int, account: str) -> str:
    return f"sub/{id_key(offering_id)}/{account}"


def draw_prefix(offering_id: int) -> str:
    return f"draw/{id_key(offering_id)}/"


def ask_prefix(offering_id: int) -> str:
    return f"ask/{id_key(offering_id)}/"


def remainder_prefix(offering_id: int) -> str:
    return f"rem/{id_key(offering_id)}/"


def escrow_ref(offering_id: int, account: str) -> str:
    return f"offering/{id_key(offering_id)}/{account}"


def read_after(ctx: Context, prefix: str, cursor: str, limit: int) -> list[tuple[str, Any]]:
    """Up to `limit` (key after the prefix, value) of an index, after `cursor` (a key
    after the prefix; "" from the first), read before the caller writes."""
    rows: list[tuple[str, Any]] = []
    if limit <= 0:
        return rows
    for key, value in ctx.state.range(prefix, prefix + cursor + "\x01" if cursor else ""):
        rows.append((key[len(prefix):], value))
        if len(rows) == limit:
            break
    return rows



# ---- the passes ------------------------------------------------------------------------------

def run(ctx: Context, offering: dict[str, Any], token: dict[str, Any], budget: int) -> None:
    """Spend up to `budget` steps of the allocation of `offering` (its record, updated in
    place; the caller stores it). `token` is the offering's token, read by the caller."""
    if offering["phase"] == SUBSCRIBING:
        offering.update(phase="eligibility", cursor="", work={
            "eligible": 0, "eligible_qty": 0, "threshold": None, "below": 0, "above": 0,
            "extras": 0, "rest": 0, "still_total": 0, "pro_floor_sum": 0, "leftover": 0})
    while budget > 0 and offering["phase"] != ALLOCATED:
        phase = offering["phase"]
        used = PASSES[phase](ctx, offering, token, budget)
        assert used > 0 or offering["phase"] != phase, f"phase {phase} made no progress"
        budget -= used
    if offering["phase"] == ALLOCATED:
        finish(ctx, offering)


def _eligibility_pass(ctx: Context, offering: dict[str, Any],
                      token: dict[str, Any], budget: int) -> int:
    """Re-check up to `budget` subscriptions; drop the failing ones with a full refund."""
    offering_id, work = offering["offering_id"], offering["work"]
    used = 0
    for draw, account in read_after(ctx, draw_prefix(offering_id), offering["cursor"],
                                     budget):
        used += 1
        subscription = ctx.state.get(subscription_key(offering_id, account))
        verdict = ctx.call("token", "subscriber_verdict", symbol=offering["symbol"],
                           account=account, qty=subscription["qty"],
                           price=offering["price"])
        if verdict is not None:
            ctx.state.delete(draw_prefix(offering_id) + draw)
            settle_subscription(ctx, offering, subscription, 0, verdict[0])
            continue
        offering["cursor"] = draw
        work["eligible"] += 1
        work["eligible_qty"] += subscription["qty"]
        ask = ask_prefix(offering_id) + f"{subscription['qty']:0{ASK_DIGITS}d}"
        ctx.state.put(ask, int(ctx.state.get(ask, 0)) + 1)
    if used < budget:  # the pass is over
        offering["cursor"] = ""
        if work["eligible_qty"] <= offering["qty"]:
            offering["phase"] = "issuing"  # undersubscribed: each gets what it asked
        else:
            work.update(pool=equal_pool(offering["qty"], offering["equal_bps"]),
                        above=work["eligible"], below=0)
            offering["phase"] = "threshold"
    return used

def _threshold_pass(ctx: Context, offering: dict[str, Any], token: dict[str, Any],
                    budget: int) -> int:
    """Walk up to `budget` distinct asks to find the equal stage's threshold."""
    offering_id, work = offering["offering_id"], offering["work"]
    prefix = ask_prefix(offering_id)
    used = 0
    for key, count in read_after(ctx, prefix, offering["cursor"], budget):
        used += 1
        threshold, work["below"], work["above"] = threshold_step(
            work["pool"], work["below"], work["above"], int(key), count)
        offering["cursor"] = key
        if threshold is not None:
            work.update(threshold=threshold,
                        extras=work["pool"] - work["below"] - threshold * work["above"],
                        rest=offering["qty"] - work["pool"],
                        still_total=work["eligible_qty"] - work["pool"])
            offering.update(phase="shares", cursor="")
            return used
    assert used == budget, "the asks ran out: an oversubscribed pool is always spent"
    return used

def _shares_pass(ctx: Context, offering: dict[str, Any], token: dict[str, Any],
                 budget: int) -> int:
    """Equal and pro-rata floor shares of up to `budget` subscriptions, in draw order."""
    offering_id, work = offering["offering_id"], offering["work"]
    used = 0
    for draw, account in read_after(ctx, draw_prefix(offering_id), offering["cursor"],
                                     budget):
        used += 1
        key = subscription_key(offering_id, account)
        subscription = ctx.state.get(key)
        equal, extra = equal_share(subscription["qty"], work["threshold"],
                                              work["extras"])
        work["extras"] -= int(extra)
        floor, remainder = pro_rata_share(
            work["rest"], subscription["qty"] - equal, work["still_total"])
        subscription.update(equal=equal, pro_rata=floor)
        ctx.state.put(key, subscription)
        work["pro_floor_sum"] += floor
        if remainder:
            ctx.state.put(remainder_prefix(offering_id) + remainder_key(
                work["still_total"], remainder, draw), account)
        offering["cursor"] = draw
    if used < budget:
        assert work["extras"] == 0, "the partial round's units were not all given"
        work["leftover"] = work["rest"] - work["pro_floor_sum"]
        offering.update(phase="remainders", cursor="")
    return used

def _remainders_pass(ctx: Context, offering: dict[str, Any],
                     token: dict[str, Any], budget: int) -> int:
    """Give up to `budget` leftover units, one each, in remainder order."""
    offering_id, work = offering["offering_id"], offering["work"]
    used = 0
    for key, account in read_after(ctx, remainder_prefix(offering_id), "",
                                    min(budget, work["leftover"])):
        used += 1
        ctx.state.delete(remainder_prefix(offering_id) + key)
        sub_key = subscription_key(offering_id, account)
        subscription = ctx.state.get(sub_key)
        subscription["pro_rata"] += 1
        ctx.state.put(sub_key, subscription)
        work["leftover"] -= 1
    if work["leftover"] == 0:
        offering["phase"] = "issuing"
    else:
        assert used == budget, "the remainder index ran out before the leftover units"
    return used

def _issuing_pass(ctx: Context, offering: dict[str, Any], token: dict[str, Any],
                  budget: int) -> int:
    """Issue up to `budget` shares in draw order and settle their escrows."""
    offering_id = offering["offering_id"]
    used = 0
    for draw, account in read_after(ctx, draw_prefix(offering_id), "", budget):
        used += 1
        ctx.state.delete(draw_prefix(offering_id) + draw)
        subscription = ctx.state.get(subscription_key(offering_id, account))
        share = subscription["qty"] if subscription["equal"] is None else (
            subscription["equal"] + subscription["pro_rata"])
        code = None
        if share:
            verdict = ctx.call("token", "issue_offered", symbol=offering["symbol"],
                               to=account, amount=share, price=offering["price"])
            code = None if verdict is None else verdict[0]
        settle_subscription(ctx, offering, subscription, 0 if code else share, code,
                     issuer=token["issuer"])
    if used < budget:
        offering["phase"] = ALLOCATED
    return used

def settle_subscription(ctx: Context, offering: dict[str, Any], subscription: dict[str, Any],
            units: int, code: str | None, issuer: str | None = None) -> None:
    """A subscription's end: `units x price` of its escrow to the issuer, the rest back;
    `dropped` with `code`, else `allocated`."""
    offering_id, account = offering["offering_id"], subscription["account"]
    ref = escrow_ref(offering_id, account)
    paid = units * offering["price"]
    refund = subscription["escrowed"] - paid
    if paid:
        assert issuer is not None
        ctx.call("cash", "escrow_pay", ref=ref, to=issuer, amount=paid,
                 memo=f"offering {offering_id}")
    if refund:
        ctx.call("cash", "escrow_release", ref=ref, amount=refund)
    subscription.update(escrowed=0, allocated=units, refunded=refund, code=code,
                        status="dropped" if code else "allocated",
                        settled_height=ctx.height)
    ctx.state.put(subscription_key(offering_id, account), subscription)
    offering["allocated_qty"] += units
    offering["settled"] += 1
    offering["refunded"] += refund
    ctx.emit("Allocated", {"offering_id": offering_id, "symbol": offering["symbol"],
                           "account": account, "qty": units, "refund": refund,
                           "code": code})

def finish(ctx: Context, offering: dict[str, Any]) -> None:
    """Allocation done: the units not issued go back to the cap."""
    unissued = offering["qty"] - offering["allocated_qty"]
    if unissued:
        ctx.call("token", "reserve", symbol=offering["symbol"], units=-unissued)
    ctx.state.delete(f"live/{offering['symbol']}")
    ctx.emit("OfferingAllocated", {
        "offering_id": offering["offering_id"], "symbol": offering["symbol"],
        "qty": offering["qty"], "allocated_qty": offering["allocated_qty"],
        "subscribers": offering["settled"], "refunded": offering["refunded"],
        "returned_to_cap": unissued})


PASSES: dict[str, Callable[[Context, dict[str, Any], dict[str, Any], int], int]] = {
    "eligibility": _eligibility_pass, "threshold": _threshold_pass, "shares": _shares_pass,
    "remainders": _remainders_pass, "issuing": _issuing_pass}
