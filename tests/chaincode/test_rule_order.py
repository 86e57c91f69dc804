"""The first failing rule wins: for every adjacent pair of rules in PROTOCOL.md's order, a
transfer (and an issuance) that breaks both is refused with the earlier code.

`test_transfer_codes_in_protocol_order` shows that each code can occur; it cannot tell a swapped
pair of checks apart, because in each of its cases only one rule fails. Here each rule has a
"breaker": a change to one world that makes that rule, and only that rule, fail. A case breaks
two adjacent rules at once and expects the earlier code; it also breaks the later rule alone
and expects the later code, so the pair really does fail twice and is not vacuous.
"""

from __future__ import annotations

from itertools import pairwise

import pytest

from tests.chaincode.helpers import DAY_MS, Chain
from tests.chaincode.test_token import transfer_fails, transfer_ok

TRANSFER_ORDER = (
    "TOKEN_PAUSED", "INSUFFICIENT_BALANCE", "SENDER_NOT_VERIFIED", "RECIPIENT_NOT_VERIFIED",
    "AML_BLOCKED", "ACCOUNT_HELD", "LOCKUP_ACTIVE", "INVESTOR_TYPE_NOT_ALLOWED",
    "COUNTRY_NOT_ALLOWED", "MAX_HOLDERS_EXCEEDED", "HOLDING_LIMIT_EXCEEDED",
    "INVESTMENT_LIMIT_EXCEEDED")
ISSUE_ORDER = (
    "NOT_APPROVED", "RECIPIENT_NOT_VERIFIED", "AML_BLOCKED", "INVESTOR_TYPE_NOT_ALLOWED",
    "COUNTRY_NOT_ALLOWED", "MAX_HOLDERS_EXCEEDED", "HOLDING_LIMIT_EXCEEDED",
    "INVESTMENT_LIMIT_EXCEEDED", "CAP_EXCEEDED")

HOLDING_LIMIT = 10_000  # units: max_supply 1,000,000 x 100 bps
AMOUNT = 100  # units moved or issued, far inside every limit
OVER_HOLDING_LIMIT = HOLDING_LIMIT + 1  # the amount when HOLDING_LIMIT_EXCEEDED is broken
RULES = {"lockup_ms": DAY_MS, "max_holding_bps": 100,
         "allowed_investor_types": ["general", "professional"], "allowed_countries": ["KR"]}
NETWORK_LIMIT = 100_000_000  # KRW, general_investor_annual_limit in the default params


def pairs(order: tuple[str, ...]) -> list[tuple[str, str]]:
    return list(pairwise(order))


def spoil_recipient(chain: Chain, broken: set[str], who: str) -> None:
    """The identity breakers, applied last: attribute updates, then revocation."""
    attrs = {}
    if "AML_BLOCKED" in broken:
        attrs["aml_risk"] = "high"
    if "INVESTOR_TYPE_NOT_ALLOWED" in broken:
        attrs["investor_type"] = "corporate"
    if "COUNTRY_NOT_ALLOWED" in broken:
        attrs["country"] = "US"
    if attrs:
        chain.ok("broker-a", "identity", "update", account=chain[who], attrs=attrs)
    if "RECIPIENT_NOT_VERIFIED" in broken:
        chain.ok("broker-a", "identity", "revoke", account=chain[who], reason="closed")


# ---- transfer: alice sends to bob ------------------------------------------------------------

def transfer_world(broken: set[str]) -> tuple[Chain, int]:
    """A world where alice -> bob breaks exactly the rules in `broken`; and the amount.

    APT1 (issuer-1, 1,000 KRW a unit) allows 2 holders and 10,000 units a holder, with a
    one-day lock-up. alice holds 10,000 units and bob holds 1, so bob does not join."""
    assert broken <= set(TRANSFER_ORDER)
    chain = Chain()
    for name in ("alice", "bob", "zed", "yan"):
        chain.register(name)
    chain.create_token("APT1", unit_price=1_000, max_supply=1_000_000, max_holders=2, **RULES)
    chain.create_token("OTHER", issuer="issuer-2", unit_price=10_000)
    amount = OVER_HOLDING_LIMIT if "HOLDING_LIMIT_EXCEEDED" in broken else AMOUNT
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["alice"],
             amount=HOLDING_LIMIT)
    if "HOLDING_LIMIT_EXCEEDED" in broken:
        # alice needs more than one holder may receive: a forced transfer skips that limit
        chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["yan"],
                 amount=HOLDING_LIMIT)
        chain.ok("ksd", "token", "force_transfer", symbol="APT1", from_=chain["yan"],
                 to=chain["alice"], amount=HOLDING_LIMIT, reason="court order")
    # the second holder: bob himself, or (MAX_HOLDERS_EXCEEDED) zed, so that bob would join
    second = "zed" if "MAX_HOLDERS_EXCEEDED" in broken else "bob"
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain[second], amount=1)
    if "INVESTMENT_LIMIT_EXCEEDED" in broken:
        # issuance counts as a purchase: bob's net is now a few KRW under the network limit
        chain.ok("issuer-2", "token", "issue", symbol="OTHER", to=chain["bob"],
                 amount=NETWORK_LIMIT // 10_000 - 1)
    if "LOCKUP_ACTIVE" not in broken:
        chain.advance(DAY_MS + 1)
    if "INSUFFICIENT_BALANCE" in broken:
        balance = chain.balance("APT1", "alice")
        chain.ok("ksd", "token", "freeze", symbol="APT1", account=chain["alice"],
                 amount=balance - amount + 1)
    spoil_recipient(chain, broken, "bob")
    if "ACCOUNT_HELD" in broken:  # only an `all` hold refuses a token transfer out
        chain.ok("ksd", "fds", "hold", account=chain["alice"], scope="all", reason="S1 alert")
    if "SENDER_NOT_VERIFIED" in broken:
        chain.ok("broker-a", "identity", "revoke", account=chain["alice"], reason="closed")
    if "TOKEN_PAUSED" in broken:
        chain.ok("issuer-1", "token", "pause", symbol="APT1")
    return chain, amount


def test_the_transfer_world_is_clean_until_broken() -> None:
    chain, amount = transfer_world(set())
    transfer_ok(chain, "alice", "bob", amount)


@pytest.mark.parametrize("code", TRANSFER_ORDER)
def test_each_transfer_breaker_breaks_its_own_rule(code: str) -> None:
    chain, amount = transfer_world({code})
    transfer_fails(chain, code, "alice", "bob", amount)


@pytest.mark.parametrize("first, second", pairs(TRANSFER_ORDER))
def test_transfer_reports_the_earlier_of_two_broken_rules(first: str, second: str) -> None:
    chain, amount = transfer_world({first, second})
    transfer_fails(chain, first, "alice", "bob", amount)


# ---- issuance: issuer-1 issues to bob --------------------------------------------------------

def issue_world(broken: set[str]) -> tuple[Chain, int]:
    """A world where issuing APT1 to bob breaks exactly the rules in `broken`; and the amount.

    APT1 allows 1 holder and 10,000 units a holder; bob already holds 1 unit, so he does not
    join. NOT_APPROVED is broken only alone or with RECIPIENT_NOT_VERIFIED (nothing can be
    issued before the cap, so nobody holds anything then)."""
    assert broken <= set(ISSUE_ORDER)
    chain = Chain()
    for name in ("bob", "zed"):
        chain.register(name)
    chain.ok("issuer-1", "token", "create", symbol="APT1", name="APT1 building",
             asset_type="real_estate", unit_price=1_000, max_supply=1_000_000,
             rules=dict(RULES, max_holders=1))
    amount = OVER_HOLDING_LIMIT if "HOLDING_LIMIT_EXCEEDED" in broken else AMOUNT
    if "INVESTMENT_LIMIT_EXCEEDED" in broken:
        # another issuer's token bought at issuance: bob's net a few KRW under the limit
        chain.create_token("OTHER", issuer="issuer-2", unit_price=10_000)
        chain.ok("issuer-2", "token", "issue", symbol="OTHER", to=chain["bob"],
                 amount=NETWORK_LIMIT // 10_000 - 1)
    if "NOT_APPROVED" in broken:
        assert broken <= {"NOT_APPROVED", "RECIPIENT_NOT_VERIFIED"}
    else:
        chain.ok("ksd", "token", "approve", symbol="APT1", cap=1_000_000)
        holder = "zed" if "MAX_HOLDERS_EXCEEDED" in broken else "bob"
        chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain[holder], amount=1)
    if "CAP_EXCEEDED" in broken:
        chain.ok("ksd", "token", "approve", symbol="APT1", cap=1 + amount - 1)  # 1 issued already
    spoil_recipient(chain, broken, "bob")
    return chain, amount


def issue_fails(chain: Chain, code: str, amount: int) -> None:
    chain.fail(code, "issuer-1", "token", "issue", symbol="APT1", to=chain["bob"],
               amount=amount)


def test_the_issue_world_is_clean_until_broken() -> None:
    chain, amount = issue_world(set())
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["bob"], amount=amount)


@pytest.mark.parametrize("code", ISSUE_ORDER)
def test_each_issue_breaker_breaks_its_own_rule(code: str) -> None:
    chain, amount = issue_world({code})
    issue_fails(chain, code, amount)


@pytest.mark.parametrize("first, second", pairs(ISSUE_ORDER))
def test_issue_reports_the_earlier_of_two_broken_rules(first: str, second: str) -> None:
    chain, amount = issue_world({first, second})
    issue_fails(chain, first, amount)
