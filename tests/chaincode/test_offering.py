"""offering: open (the cap reservation), subscribe, withdraw, allocate in bounded steps, cancel,
the queries and their readers, and every refusal in PROTOCOL's order.

The order tests are ladders: `world(broken)` builds a world where exactly the checks in
`broken` fail; step i breaks the checks from the i-th on and expects the i-th code. Removing a
check makes its step answer the next code; swapping two adjacent checks makes the earlier
step answer the later code; either way a step goes red."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chaincode.allocation import compute_allocation
from chaincode.runtime import ChaincodeError
from tests.chaincode.helpers import DAY_MS, Chain
from tests.chaincode.offering_helpers import (
    CASH,
    PRICE,
    WINDOW_MS,
    allocate_all,
    book,
    close_window,
    in_draw_order,
    offering_world,
    open_offering,
    subscribe,
    with_prospectus,
)


def ladder(order: tuple[str, ...], attempt: Callable[[set[str]], Any]) -> None:
    """For each i: break order[i:] and expect order[i]; then break nothing and expect OK.
    `attempt(broken)` returns the outcome of the call in a world breaking `broken`."""
    for i, code in enumerate(order):
        outcome = attempt(set(order[i:]))
        assert not outcome.ok, f"expected {code} with {order[i:]} broken, got ok"
        assert outcome.error["code"] == code, (order[i:], outcome.error)
    outcome = attempt(set())
    assert outcome.ok, outcome.error


def hold(chain: Chain, name: str, scope: str, broker: str = "broker-a") -> int:
    """An fds hold on `name` by its broker (chaincode.fds)."""
    return int(chain.ok(broker, "fds", "hold", account=chain[name], scope=scope,
                        reason="alert under review")["hold_id"])


# ---- open ------------------------------------------------------------------------------------

OPEN_ORDER = ("BAD_ARGS", "UNKNOWN_TOKEN", "UNAUTHORIZED", "NO_PROSPECTUS", "NOT_APPROVED",
              "CAP_EXCEEDED", "OFFERING_OPEN", "TOKEN_REDEEMED")


def open_attempt(broken: set[str]) -> Any:
    """issuer-1 offers units of APT1 (cap 10,000, 10 issued). Checks that cannot fail
    together with an earlier broken one are left whole (no cap: no cap check, no offering
    and no redemption; an offering open: no redemption)."""
    chain = Chain()
    chain.register("alice")
    chain.ok("issuer-1", "token", "create", symbol="APT1", name="APT1", asset_type="bond",
             unit_price=1_000, max_supply=10_000, rules={})
    with_prospectus(chain)
    reserved = 0
    if "NOT_APPROVED" not in broken:
        chain.ok("ksd", "token", "approve", symbol="APT1", cap=10_000)
        chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["alice"], amount=10)
        if "OFFERING_OPEN" in broken:
            reserved = 10
            open_offering(chain, qty=reserved)
        elif "TOKEN_REDEEMED" in broken:
            chain.ok("bank", "cash", "mint", to=chain["issuer-1"], amount=10**6)
            chain.ok("issuer-1", "offering", "redeem_all", symbol="APT1", price=1_000,
                     record_time=chain.time + DAY_MS)
    if "NO_PROSPECTUS" in broken:
        chain.ok("issuer-1", "token", "remove_document", symbol="APT1", name="prospectus")
    qty = 10_000 - 10 - reserved + int("CAP_EXCEEDED" in broken)
    return chain.execute(chain["issuer-2" if "UNAUTHORIZED" in broken else "issuer-1"],
                         "offering", "open", {
                             "symbol": "NOPE" if "UNKNOWN_TOKEN" in broken else "APT1",
                             "price": PRICE, "qty": qty, "start_time": chain.time,
                             "end_time": chain.time + WINDOW_MS,
                             "min_qty": 1, "max_qty": qty,
                             "equal_bps": 10_001 if "BAD_ARGS" in broken else 5_000})


def test_open_checks_in_protocol_order() -> None:
    ladder(OPEN_ORDER, open_attempt)


@pytest.mark.parametrize("terms", [
    {"price": 0}, {"qty": 0}, {"min_qty": 0}, {"max_qty": 101}, {"min_qty": 5, "max_qty": 4},
    {"equal_bps": -1}, {"end_time": "soon"}, {"start_time": 10, "end_time": 10},
    {"end_time": -1}, {"price": 2**40, "qty": 2**30},
    {"start_time": 0, "end_time": 32 * DAY_MS}])
def test_open_refuses_bad_terms(terms: dict[str, Any]) -> None:
    chain = offering_world()
    args = {"symbol": "APT1", "price": PRICE, "qty": 100, "start_time": chain.time,
            "end_time": chain.time + WINDOW_MS, "min_qty": 1, "max_qty": 100,
            "equal_bps": 5_000}
    args.update(terms)
    if "start_time" in terms and terms["start_time"] == 0:
        args.update(start_time=chain.time - DAY_MS, end_time=chain.time + 31 * DAY_MS)
    chain.fail("BAD_ARGS", "issuer-1", "offering", "open", **args)


def test_an_end_time_already_past_is_refused() -> None:
    chain = offering_world()
    chain.fail("BAD_ARGS", "issuer-1", "offering", "open", symbol="APT1", price=PRICE,
               qty=10, start_time=chain.time - 10_000, end_time=chain.time, min_qty=1,
               max_qty=10, equal_bps=0)


def test_offered_units_are_reserved_against_the_cap_until_allocated() -> None:
    chain = offering_world()
    chain.ok("ksd", "token", "approve", symbol="APT1", cap=1_000)
    offering_id = open_offering(chain, qty=600)
    assert chain.query("ksd", "token", "info", symbol="APT1")["reserved"] == 600
    chain.fail("CAP_EXCEEDED", "issuer-1", "token", "issue", symbol="APT1", to=chain["dave"],
               amount=401)
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["dave"], amount=400)
    chain.fail("CAP_BELOW_ISSUED", "ksd", "token", "approve", symbol="APT1", cap=999)
    subscribe(chain, offering_id, "alice", 100)
    subscribe(chain, offering_id, "dave", 150)
    close_window(chain, offering_id)
    allocate_all(chain, offering_id)
    token = chain.query("ksd", "token", "info", symbol="APT1")
    # 250 issued by the allocation; the 350 not allocated went back to the cap
    assert (token["issued"], token["reserved"]) == (650, 0)
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["dave"], amount=350)


# ---- subscribe -------------------------------------------------------------------------------

SUBSCRIBE_ORDER = ("UNKNOWN_OFFERING", "UNAUTHORIZED", "NOT_YOUR_CLIENT",
                   "SUBSCRIPTION_CLOSED", "BAD_ARGS", "ALREADY_SUBSCRIBED",
                   "RECIPIENT_NOT_VERIFIED", "AML_BLOCKED", "ACCOUNT_HELD",
                   "INVESTOR_TYPE_NOT_ALLOWED", "COUNTRY_NOT_ALLOWED",
                   "INVESTMENT_LIMIT_EXCEEDED", "INSUFFICIENT_CASH")
LIMIT = 1_000_000  # KRW: the network limit on a general investor in these worlds
ASK = 100  # units alice asks (100,000 KRW), inside every limit
OVER_LIMIT_ASK = 1_500  # 1,500,000 KRW


def subscribe_attempt(broken: set[str]) -> Any:
    """alice (general, KR, broker-a) subscribes to an offering of APT1 (professional and
    general investors, KR only)."""
    chain = Chain({"general_investor_annual_limit": LIMIT})
    chain.register("alice")
    chain.create_token("APT1", unit_price=1_000, max_supply=10_000,
                       allowed_investor_types=["general", "professional"],
                       allowed_countries=["KR"])
    with_prospectus(chain)
    offering_id = open_offering(chain, qty=5_000)
    ask = OVER_LIMIT_ASK if "INVESTMENT_LIMIT_EXCEEDED" in broken else ASK
    pre = 0
    if "ALREADY_SUBSCRIBED" in broken:
        pre = PRICE
        chain.ok("bank", "cash", "mint", to=chain["alice"], amount=pre)
        subscribe(chain, offering_id, "alice", 1)
    if "INSUFFICIENT_CASH" not in broken:
        chain.ok("bank", "cash", "mint", to=chain["alice"], amount=ask * PRICE)
    if "ACCOUNT_HELD" in broken:
        hold(chain, "alice", "trading")
    attrs: dict[str, Any] = {}
    if "AML_BLOCKED" in broken:
        attrs["aml_risk"] = "high"
    if "INVESTOR_TYPE_NOT_ALLOWED" in broken:
        attrs["investor_type"] = "qualified"
    if "COUNTRY_NOT_ALLOWED" in broken:
        attrs["country"] = "US"
    if attrs:
        chain.ok("broker-a", "identity", "update", account=chain["alice"], attrs=attrs)
    if "RECIPIENT_NOT_VERIFIED" in broken:
        chain.ok("broker-a", "identity", "revoke", account=chain["alice"], reason="closed")
    if "SUBSCRIPTION_CLOSED" in broken:
        close_window(chain, offering_id)
    sender = "broker-a"
    if "NOT_YOUR_CLIENT" in broken:
        sender = "broker-b"
    if "UNAUTHORIZED" in broken:
        sender = "issuer-1"
    return chain.execute(chain[sender], "offering", "subscribe", {
        "offering_id": 99 if "UNKNOWN_OFFERING" in broken else offering_id,
        "account": chain["alice"], "qty": 5_001 if "BAD_ARGS" in broken else ask})


def test_subscribe_checks_in_protocol_order() -> None:
    ladder(SUBSCRIBE_ORDER, subscribe_attempt)


def test_malformed_ids_are_bad_args_before_anything() -> None:
    chain = offering_world()
    open_offering(chain)
    for args in ({"offering_id": "1", "account": chain["alice"], "qty": 1},
                 {"offering_id": 1, "account": "alice", "qty": 1}):
        chain.fail("BAD_ARGS", "issuer-2", "offering", "subscribe", **args)
    chain.fail("UNAUTHORIZED", "issuer-2", "offering", "subscribe", offering_id=1,
               account=chain["alice"], qty=True)  # qty is checked where PROTOCOL says
    chain.fail("BAD_ARGS", "broker-a", "offering", "subscribe", offering_id=1,
               account=chain["alice"], qty=True)


def test_subscription_escrows_the_whole_price_and_withdrawal_returns_it() -> None:
    chain = offering_world()
    offering_id = open_offering(chain, qty=1_000, min_qty=10, max_qty=500)
    outcome = chain.execute(chain["broker-a"], "offering", "subscribe",
                            {"offering_id": offering_id, "account": chain["alice"], "qty": 300})
    assert outcome.ok, outcome.error
    assert outcome.result == {"offering_id": offering_id, "account": chain["alice"],
                              "qty": 300, "escrowed": 300 * PRICE}
    assert [e.name for e in outcome.events] == ["CashEscrowed", "Subscribed"]
    cash = chain.query("alice", "cash", "balance", account=chain["alice"])
    assert (cash["balance"], cash["escrowed"], cash["available"]) == (
        CASH, 300 * PRICE, CASH - 300 * PRICE)
    offering = chain.query("alice", "offering", "get", offering_id=offering_id)
    assert (offering["subscribed_qty"], offering["subscribers"], offering["status"]) == (
        300, 1, "open")
    chain.fail("NOT_YOUR_CLIENT", "broker-b", "offering", "withdraw", offering_id=offering_id,
               account=chain["alice"])
    chain.fail("NOT_SUBSCRIBED", "broker-a", "offering", "withdraw", offering_id=offering_id,
               account=chain["bob"])
    events = chain.events("broker-a", "offering", "withdraw", offering_id=offering_id,
                          account=chain["alice"])
    assert events == ["CashReleased", "SubscriptionWithdrawn"]
    cash = chain.query("alice", "cash", "balance", account=chain["alice"])
    assert (cash["balance"], cash["escrowed"]) == (CASH, 0)
    subscription = chain.query("alice", "offering", "subscription", offering_id=offering_id,
                               account=chain["alice"])
    assert (subscription["status"], subscription["escrowed"], subscription["refunded"]) == (
        "withdrawn", 0, 300 * PRICE)
    chain.fail("NOT_SUBSCRIBED", "broker-a", "offering", "withdraw", offering_id=offering_id,
               account=chain["alice"])
    offering = chain.query("alice", "offering", "get", offering_id=offering_id)
    assert (offering["subscribed_qty"], offering["subscribers"]) == (0, 0)
    subscribe(chain, offering_id, "alice", 20)  # a withdrawn subscription counts nowhere
    assert chain.query("alice", "offering", "get", offering_id=offering_id)[
        "subscribed_qty"] == 20


WITHDRAW_ORDER = ("UNKNOWN_OFFERING", "UNAUTHORIZED", "NOT_YOUR_CLIENT",
                  "SUBSCRIPTION_CLOSED", "NOT_SUBSCRIBED")


def withdraw_attempt(broken: set[str]) -> Any:
    chain = offering_world()
    offering_id = open_offering(chain)
    if "NOT_SUBSCRIBED" not in broken:
        subscribe(chain, offering_id, "alice", 10)
    if "SUBSCRIPTION_CLOSED" in broken:
        close_window(chain, offering_id)
    sender = "issuer-1" if "UNAUTHORIZED" in broken else (
        "broker-b" if "NOT_YOUR_CLIENT" in broken else "broker-a")
    return chain.execute(chain[sender], "offering", "withdraw", {
        "offering_id": 7 if "UNKNOWN_OFFERING" in broken else offering_id,
        "account": chain["alice"]})


def test_withdraw_checks_in_protocol_order() -> None:
    ladder(WITHDRAW_ORDER, withdraw_attempt)


def test_status_follows_block_time_and_phase() -> None:
    chain = offering_world()
    offering_id = open_offering(chain, start_time=chain.time + 5_000, window_ms=5_000)

    def status() -> str:
        return str(chain.query("bob", "offering", "get", offering_id=offering_id)["status"])

    assert status() == "scheduled"
    chain.fail("SUBSCRIPTION_CLOSED", "broker-a", "offering", "subscribe",
               offering_id=offering_id, account=chain["alice"], qty=1)
    chain.advance(5_000)
    assert status() == "open"
    subscribe(chain, offering_id, "alice", 3)
    subscribe(chain, offering_id, "bob", 3)
    chain.fail("SUBSCRIPTION_OPEN", "issuer-1", "offering", "allocate",
               offering_id=offering_id, max_steps=1)
    chain.advance(5_000)
    assert status() == "closed"
    chain.ok("issuer-1", "offering", "allocate", offering_id=offering_id, max_steps=1)
    assert status() == "allocating"
    chain.fail("ALREADY_ALLOCATING", "issuer-1", "offering", "cancel",
               offering_id=offering_id, reason="too late")
    allocate_all(chain, offering_id)
    assert status() == "allocated"
    chain.fail("ALREADY_ALLOCATED", "issuer-1", "offering", "allocate",
               offering_id=offering_id, max_steps=1)


# ---- allocate --------------------------------------------------------------------------------

def test_allocate_checks() -> None:
    chain = offering_world()
    offering_id = open_offering(chain)
    subscribe(chain, offering_id, "alice", 10)
    chain.fail("BAD_ARGS", "issuer-1", "offering", "allocate", offering_id=offering_id,
               max_steps=0)
    chain.fail("BAD_ARGS", "issuer-1", "offering", "allocate", offering_id=offering_id,
               max_steps=1_001)
    chain.fail("UNKNOWN_OFFERING", "issuer-1", "offering", "allocate", offering_id=2,
               max_steps=1)
    for caller in ("issuer-2", "ksd", "fss", "broker-a"):
        chain.fail("UNAUTHORIZED", caller, "offering", "allocate", offering_id=offering_id,
                   max_steps=1)
    chain.fail("SUBSCRIPTION_OPEN", "issuer-1", "offering", "allocate",
               offering_id=offering_id, max_steps=1)


def test_oversubscribed_allocation_is_the_reference_and_settles_every_escrow() -> None:
    chain = offering_world()
    chain.register("gina")
    chain.ok("bank", "cash", "mint", to=chain["gina"], amount=CASH)
    offering_id = open_offering(chain, qty=101, equal_bps=5_000)
    asks = {"alice": 100, "bob": 7, "carol": 60, "dave": 31, "erin": 2, "gina": 101}
    for name, ask in asks.items():
        subscribe(chain, offering_id, name, ask)
    issuer_cash = chain.cash("issuer-1")
    close_window(chain, offering_id)
    results = allocate_all(chain, offering_id, steps=3)
    assert all(r["subscribers"] <= 6 for r in results) and results[-1]["subscribers"] == 6
    order = in_draw_order(offering_id, [chain[name] for name in asks])
    names = {chain[name]: name for name in asks}
    expected = compute_allocation(101, 5_000, [asks[names[a]] for a in order])
    rows = book(chain, offering_id)
    for account, share in zip(order, expected, strict=True):
        row = rows[account]
        assert (row["equal"], row["pro_rata"], row["allocated"]) == share, names[account]
        assert row["refunded"] == (row["qty"] - row["allocated"]) * PRICE
        assert (row["status"], row["code"], row["escrowed"]) == ("allocated", None, 0)
        assert chain.balance("APT1", names[account]) == share.total
        assert chain.cash(names[account]) == CASH - share.total * PRICE
    assert sum(share.total for share in expected) == 101
    assert chain.cash("issuer-1") == issuer_cash + 101 * PRICE
    offering = chain.query("bob", "offering", "get", offering_id=offering_id)
    assert (offering["allocated_qty"], offering["settled"], offering["status"]) == (
        101, 6, "allocated")


def test_the_equal_pool_is_shared_first_and_the_rest_pro_rata() -> None:
    """qty 10, pool 5 (equal_bps 5000), three subscribers asking 10, 10, 1: floor(5/3) = 1
    each, then the pool's remaining 2 one each in draw order to those still short (the
    first two asking 10, whoever they are in draw order); the rest 5 pro rata to 9, 9, 0."""
    chain = offering_world()
    offering_id = open_offering(chain, qty=10, equal_bps=5_000)
    for name, ask in (("alice", 10), ("bob", 10), ("carol", 1)):
        subscribe(chain, offering_id, name, ask)
    close_window(chain, offering_id)
    allocate_all(chain, offering_id)
    rows = book(chain, offering_id)
    assert rows[chain["carol"]]["equal"] == 1 and rows[chain["carol"]]["pro_rata"] == 0
    big = in_draw_order(offering_id, [chain["alice"], chain["bob"]])
    # equal: 2 each (1 + one of the partial round); still 8 each; rest 10 - 5 = 5 over 16:
    # floor(5 x 8 / 16) = 2 each, 1 leftover to the first in draw order (equal remainders)
    assert [(rows[a]["equal"], rows[a]["pro_rata"]) for a in big] == [(2, 3), (2, 2)]


def test_undersubscribed_each_gets_what_it_asked_and_the_rest_returns_to_the_cap() -> None:
    chain = offering_world()
    offering_id = open_offering(chain, qty=100)
    subscribe(chain, offering_id, "alice", 30)
    subscribe(chain, offering_id, "erin", 40)
    close_window(chain, offering_id)
    outcome = chain.execute(chain["issuer-1"], "offering", "allocate",
                            {"offering_id": offering_id, "max_steps": 1_000})
    assert outcome.ok and outcome.result["done"], outcome.error
    allocated = [e.data for e in outcome.events if e.name == "Allocated"]
    assert sorted((d["qty"], d["refund"], d["code"]) for d in allocated) == [
        (30, 0, None), (40, 0, None)]
    final = [e.data for e in outcome.events if e.name == "OfferingAllocated"]
    assert final == [{"offering_id": offering_id, "symbol": "APT1", "qty": 100,
                      "allocated_qty": 70, "subscribers": 2, "refunded": 0,
                      "returned_to_cap": 30}]
    rows = book(chain, offering_id)
    assert rows[chain["alice"]]["equal"] is None and rows[chain["alice"]]["allocated"] == 30
    assert chain.query("ksd", "token", "info", symbol="APT1")["reserved"] == 0


def test_an_offering_nobody_subscribed_allocates_nothing() -> None:
    chain = offering_world()
    offering_id = open_offering(chain, qty=100)
    close_window(chain, offering_id)
    [result] = allocate_all(chain, offering_id, steps=1)
    assert (result["allocated_qty"], result["subscribers"], result["done"]) == (0, 0, True)
    assert chain.query("ksd", "token", "info", symbol="APT1")["reserved"] == 0


@pytest.mark.parametrize("spoil, code", [
    ({"aml_risk": "high"}, "AML_BLOCKED"),
    ({"country": "JP"}, "COUNTRY_NOT_ALLOWED"),
    ({"investor_type": "qualified"}, "INVESTOR_TYPE_NOT_ALLOWED"),
    ("revoke", "RECIPIENT_NOT_VERIFIED"),
    ("held", "ACCOUNT_HELD"),
    ("buy", "INVESTMENT_LIMIT_EXCEEDED")])
def test_a_subscriber_failing_at_allocation_is_dropped_and_refunded_in_full(
        spoil: Any, code: str) -> None:
    chain = Chain({"general_investor_annual_limit": 200_000})
    chain.register("alice")
    chain.register("bob")
    chain.create_token("APT1", unit_price=1_000, allowed_investor_types=["general"],
                       allowed_countries=["KR"])
    with_prospectus(chain)
    for name in ("alice", "bob"):
        chain.ok("bank", "cash", "mint", to=chain[name], amount=CASH)
    offering_id = open_offering(chain, qty=100)
    subscribe(chain, offering_id, "alice", 100)  # 100,000 KRW of alice's 200,000
    subscribe(chain, offering_id, "bob", 50)
    if spoil == "revoke":
        chain.ok("broker-a", "identity", "revoke", account=chain["alice"], reason="closed")
    elif spoil == "held":
        hold(chain, "alice", "trading")
    elif spoil == "buy":  # 150,000 KRW bought since: 100,000 more would pass the limit
        chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["alice"], amount=150)
    elif isinstance(spoil, dict):
        chain.ok("broker-a", "identity", "update", account=chain["alice"], attrs=spoil)
    close_window(chain, offering_id)
    before = chain.balance("APT1", "alice")
    allocate_all(chain, offering_id)
    alice = chain.query("fss", "offering", "subscription", offering_id=offering_id,
                        account=chain["alice"])
    assert (alice["status"], alice["code"], alice["allocated"], alice["refunded"],
            alice["escrowed"]) == ("dropped", code, 0, 100 * PRICE, 0)
    assert chain.balance("APT1", "alice") == before
    assert chain.query("fss", "cash", "balance", account=chain["alice"])["escrowed"] == 0
    # its share is not handed to the others: bob gets what he asked, the rest returns
    assert chain.balance("APT1", "bob") == 50
    assert chain.query("ksd", "offering", "get", offering_id=offering_id)[
        "allocated_qty"] == 50


@pytest.mark.parametrize("rules, code", [
    ({"max_holders": 2}, "MAX_HOLDERS_EXCEEDED"),
    ({"max_holding_bps": 1}, "HOLDING_LIMIT_EXCEEDED")])
def test_the_issuance_checks_drop_a_subscriber_in_draw_order(rules: dict[str, Any],
                                                              code: str) -> None:
    chain = offering_world(**rules)  # max_supply 1,000,000: 1 bps is 100 units
    offering_id = open_offering(chain, qty=1_000, max_qty=150)
    asks = {"alice": 60, "bob": 90, "carol": 150}
    for name, ask in asks.items():
        subscribe(chain, offering_id, name, ask)
    close_window(chain, offering_id)
    allocate_all(chain, offering_id)
    rows = book(chain, offering_id)
    order = in_draw_order(offering_id, [chain[name] for name in asks])
    if code == "MAX_HOLDERS_EXCEEDED":
        dropped = [order[2]]  # the third in draw order finds both places taken
    else:
        dropped = [chain["carol"]]  # 150 units > 100
    for account in order:
        row = rows[account]
        if account in dropped:
            assert (row["status"], row["code"], row["allocated"]) == ("dropped", code, 0)
            assert row["refunded"] == row["qty"] * PRICE
        else:
            assert (row["status"], row["allocated"]) == ("allocated", row["qty"])


def test_allocated_units_count_at_the_offering_price_and_start_the_lockup() -> None:
    chain = offering_world(lockup_ms=DAY_MS)
    offering_id = open_offering(chain, qty=100)  # at 1,000 KRW; APT1's unit_price is 10,000
    subscribe(chain, offering_id, "alice", 40)
    assert chain.query("alice", "token", "investment", account=chain["alice"])["net"] == 0
    close_window(chain, offering_id)
    allocate_all(chain, offering_id)
    assert chain.query("alice", "token", "investment", account=chain["alice"])["net"] == \
        40 * PRICE
    balance = chain.query("alice", "token", "balance", symbol="APT1", account=chain["alice"])
    assert balance["locked"] == 40 and balance["locks"] == [[chain.time - 1000 + DAY_MS, 40]]


def test_each_call_is_bounded_by_max_steps() -> None:
    chain = offering_world()
    names = [f"inv{i}" for i in range(40)]
    for name in names:
        chain.register(name)
        chain.ok("bank", "cash", "mint", to=chain[name], amount=CASH)
    offering_id = open_offering(chain, qty=300, max_qty=20, equal_bps=3_000)
    for i, name in enumerate(names):
        subscribe(chain, offering_id, name, 1 + i % 20)
    close_window(chain, offering_id)
    calls = []
    while True:
        outcome = chain.execute(chain["issuer-1"], "offering", "allocate",
                                {"offering_id": offering_id, "max_steps": 7})
        assert outcome.ok, outcome.error
        calls.append(outcome)
        if outcome.result["done"]:
            break
    # each step touches one subscription (or one ask, or one leftover unit): at most 7 of
    # them per call, each with a bounded number of writes
    for outcome in calls:
        settled = sum(e.name == "Allocated" for e in outcome.events)
        assert settled <= 7
        assert len(outcome.writes) <= 7 * 12 + 8, len(outcome.writes)
    # 40 eligibility, 20 distinct asks at most, 40 shares, < 40 leftovers, 40 issues
    assert len(calls) >= (40 * 3) // 7
    assert sum(r.result["allocated_qty"] for r in calls[-1:]) == 300


# ---- cancel ----------------------------------------------------------------------------------

def test_cancel_refunds_every_escrow_in_bounded_steps_and_issues_nothing() -> None:
    chain = offering_world()
    offering_id = open_offering(chain, qty=100)
    for name in ("alice", "bob", "carol", "erin"):
        subscribe(chain, offering_id, name, 10)
    chain.fail("UNKNOWN_OFFERING", "issuer-1", "offering", "cancel", offering_id=9,
               reason="x")
    for caller in ("issuer-2", "fss", "broker-a"):
        chain.fail("UNAUTHORIZED", caller, "offering", "cancel", offering_id=offering_id,
                   reason="x")
    outcome = chain.execute(chain["ksd"], "offering", "cancel",
                            {"offering_id": offering_id, "reason": "금감원 정정요구",
                             "max_steps": 3})
    assert outcome.ok, outcome.error
    assert outcome.result == {"offering_id": offering_id, "status": "cancelled",
                              "refunded": 3, "subscribers": 3, "done": False}
    names = [e.name for e in outcome.events]
    assert names[0] == "OfferingCancelled" and names.count("Allocated") == 3
    assert chain.query("ksd", "token", "info", symbol="APT1")["reserved"] == 0
    chain.fail("SUBSCRIPTION_CLOSED", "broker-a", "offering", "withdraw",
               offering_id=offering_id, account=chain["alice"])
    chain.fail("ALREADY_CANCELLED", "issuer-1", "offering", "allocate",
               offering_id=offering_id, max_steps=1)
    last = chain.ok("issuer-1", "offering", "cancel", offering_id=offering_id, reason="x")
    assert (last["refunded"], last["done"]) == (1, True)
    chain.fail("ALREADY_CANCELLED", "issuer-1", "offering", "cancel",
               offering_id=offering_id, reason="x")
    for name in ("alice", "bob", "carol", "erin"):
        row = chain.query("fss", "offering", "subscription", offering_id=offering_id,
                          account=chain[name])
        assert (row["status"], row["code"], row["refunded"]) == ("dropped", "CANCELLED",
                                                                 10 * PRICE)
        assert chain.query("fss", "cash", "balance", account=chain[name])["escrowed"] == 0
    info = chain.query("ksd", "token", "info", symbol="APT1")
    assert info["issued"] == 0
    assert chain.query("ksd", "offering", "get", offering_id=offering_id)["status"] == \
        "cancelled"
    open_offering(chain, qty=100)  # the token may offer again


# ---- reading ---------------------------------------------------------------------------------

def test_who_may_read_what() -> None:
    chain = offering_world()
    offering_id = open_offering(chain)
    subscribe(chain, offering_id, "alice", 10)
    for reader in ("alice", "bob", "issuer-2", "broker-b", "bank"):
        assert chain.query(reader, "offering", "get", offering_id=offering_id)[
            "offering_id"] == offering_id
    with pytest.raises(ChaincodeError) as caught:
        chain.query("nobody", "offering", "get", offering_id=offering_id)
    assert caught.value.code == "FORBIDDEN"
    for reader in ("alice", "broker-a", "issuer-1", "ksd", "fss"):
        chain.query(reader, "offering", "subscription", offering_id=offering_id,
                    account=chain["alice"])
    for reader in ("bob", "broker-b", "issuer-2", "bank"):
        with pytest.raises(ChaincodeError) as caught:
            chain.query(reader, "offering", "subscription", offering_id=offering_id,
                        account=chain["alice"])
        assert caught.value.code == "FORBIDDEN"
    for reader in ("issuer-1", "ksd", "fss"):
        page = chain.query(reader, "offering", "subscriptions", offering_id=offering_id)
        assert [row["account"] for row in page["subscriptions"]] == [chain["alice"]]
    for reader in ("alice", "broker-a", "issuer-2"):
        with pytest.raises(ChaincodeError) as caught:
            chain.query(reader, "offering", "subscriptions", offering_id=offering_id)
        assert caught.value.code == "FORBIDDEN"
    listed = chain.query("bob", "offering", "offerings", symbol="APT1")
    assert [row["offering_id"] for row in listed["offerings"]] == [offering_id]


def test_get_answers_protocol_fields() -> None:
    chain = offering_world()
    offering_id = open_offering(chain, qty=100, min_qty=2, max_qty=50, equal_bps=4_000)
    subscribe(chain, offering_id, "alice", 10)
    offering = chain.query("bob", "offering", "get", offering_id=offering_id)
    assert {"offering_id", "symbol", "price", "qty", "start_time", "end_time", "min_qty",
            "max_qty", "equal_bps", "status", "subscribed_qty", "subscribers",
            "allocated_qty"} <= set(offering)
    assert (offering["min_qty"], offering["max_qty"], offering["equal_bps"]) == (2, 50, 4_000)
    row = chain.query("alice", "offering", "subscription", offering_id=offering_id,
                      account=chain["alice"])
    assert {"qty", "escrowed", "allocated", "refunded", "code", "status"} <= set(row)
    assert (row["qty"], row["escrowed"], row["status"]) == (10, 10 * PRICE, "live")


@pytest.mark.parametrize("scope, subscribes, dropped, net_held", [
    ("trading", False, True, False), ("all", False, True, True),
    ("withdrawals", True, False, True)])
def test_fds_holds_by_scope(scope: str, subscribes: bool, dropped: bool,
                            net_held: bool) -> None:
    """A `trading` or `all` hold refuses a subscription (ACCOUNT_HELD) and drops a
    subscriber at allocation; a `withdrawals` or `all` hold keeps a redemption's net in the
    escrow. A `withdrawals` hold never stops a subscription (an escrow is no outflow)."""
    chain = offering_world()
    offering_id = open_offering(chain, qty=100)
    subscribe(chain, offering_id, "bob", 10)
    hold_id = hold(chain, "bob", scope)
    outcome = chain.execute(chain["broker-a"], "offering", "subscribe",
                            {"offering_id": offering_id, "account": chain["alice"], "qty": 5})
    assert outcome.ok
    hold(chain, "alice", scope)  # placed after alice subscribed
    outcome = chain.execute(chain["broker-a"], "offering", "withdraw",
                            {"offering_id": offering_id, "account": chain["alice"]})
    assert outcome.ok  # a hold does not trap an escrow: the broker may still withdraw it
    outcome = chain.execute(chain["broker-a"], "offering", "subscribe",
                            {"offering_id": offering_id, "account": chain["alice"], "qty": 5})
    assert outcome.ok == subscribes, outcome.error
    if not subscribes:
        assert outcome.error["code"] == "ACCOUNT_HELD"
    close_window(chain, offering_id)
    allocate_all(chain, offering_id)
    bob = chain.query("ksd", "offering", "subscription", offering_id=offering_id,
                      account=chain["bob"])
    assert (bob["status"], bob["code"]) == (("dropped", "ACCOUNT_HELD") if dropped
                                            else ("allocated", None))
    if dropped:  # a redemption needs a holder: release bob's hold and take another offering
        chain.ok("broker-a", "fds", "release", hold_id=hold_id, reason="cleared")
        chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["bob"], amount=10)
        hold(chain, "bob", scope)
    chain.ok("bank", "cash", "mint", to=chain["issuer-1"], amount=10**6)
    redemption = chain.ok("issuer-1", "offering", "redeem_all", symbol="APT1", price=PRICE)
    chain.ok("issuer-1", "offering", "settle", redemption_id=redemption["redemption_id"],
             max_steps=10)
    entries = chain.query("ksd", "offering", "redemption",
                          redemption_id=redemption["redemption_id"])["entries"]
    bob_entry = next(entry for entry in entries if entry["account"] == chain["bob"])
    assert bob_entry["status"] == ("held" if net_held else "paid")


EVENT_FIELDS = {
    "OfferingOpened": {"offering_id", "symbol", "price", "qty", "start_time", "end_time",
                       "min_qty", "max_qty", "equal_bps"},
    "Subscribed": {"offering_id", "symbol", "account", "broker", "qty", "escrowed"},
    "SubscriptionWithdrawn": {"offering_id", "symbol", "account", "qty", "refund"},
    "Allocated": {"offering_id", "symbol", "account", "qty", "refund", "code"},
    "OfferingAllocated": {"offering_id", "symbol", "qty", "allocated_qty", "subscribers",
                          "refunded", "returned_to_cap"},
    "OfferingCancelled": {"offering_id", "symbol", "reason", "by"},
    "RedemptionDeclared": {"redemption_id", "symbol", "price", "record_time", "units",
                           "escrowed"},
    "Redeemed": {"redemption_id", "symbol", "account", "units", "gross", "withheld", "net",
                 "status"},
}


def test_events_have_the_names_and_shapes_surveillance_reads() -> None:
    """PROTOCOL's event names, each with the fields the offering docstring lists (the
    surveillance engineer reads offerings and redemptions as material events by these)."""
    chain = offering_world()
    seen: dict[str, set[str]] = {}

    def run(caller: str, method: str, **args: Any) -> Any:
        outcome = chain.execute(chain[caller], "offering", method,
                                {k.rstrip("_"): v for k, v in args.items()})
        assert outcome.ok, outcome.error
        for event in outcome.events:
            if event.contract == "offering":
                assert set(event.data) == EVENT_FIELDS[event.name], event.name
                seen.setdefault(event.name, set()).add(event.data["symbol"])
        return outcome.result

    cancelled = open_offering(chain, qty=10)
    subscribe(chain, cancelled, "alice", 1)
    run("ksd", "cancel", offering_id=cancelled, reason="withdrawn prospectus")
    offering_id = run("issuer-1", "open", symbol="APT1", price=PRICE, qty=10,
                      start_time=chain.time, end_time=chain.time + WINDOW_MS, min_qty=1,
                      max_qty=10, equal_bps=5_000)["offering_id"]
    run("broker-a", "subscribe", offering_id=offering_id, account=chain["alice"], qty=8)
    run("broker-a", "subscribe", offering_id=offering_id, account=chain["bob"], qty=8)
    run("broker-a", "withdraw", offering_id=offering_id, account=chain["bob"])
    run("broker-a", "subscribe", offering_id=offering_id, account=chain["bob"], qty=6)
    close_window(chain, offering_id)
    run("issuer-1", "allocate", offering_id=offering_id, max_steps=1_000)
    chain.ok("bank", "cash", "mint", to=chain["issuer-1"], amount=10**6)
    redemption = run("issuer-1", "redeem_all", symbol="APT1", price=PRICE)
    run("issuer-1", "settle", redemption_id=redemption["redemption_id"], max_steps=10)
    assert set(seen) == set(EVENT_FIELDS) and all(s == {"APT1"} for s in seen.values())


def test_leftover_units_follow_remainders_then_draw_order() -> None:
    """The remainder index sorts by remainder, largest first, then by draw order."""
    from chaincode.allocation import remainder_key

    keys = {remainder_key(100, 7, "ffe0"): "c", remainder_key(100, 5, "0ff1"): "a",
            remainder_key(100, 5, "f0e2"): "b", remainder_key(100, 99, "ffff"): "d"}
    assert [keys[key] for key in sorted(keys)] == ["d", "c", "a", "b"]
