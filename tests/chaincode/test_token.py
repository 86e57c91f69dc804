"""token: create / approve / issue, the transfer checks in order, freeze, pause, forced
transfer, recovery, redemption, documents, investment limits, holder counts, read access."""

from __future__ import annotations

from typing import Any

import pytest

from chaincode.runtime import ChaincodeError
from chaincode.token import require_sha256
from tests.chaincode.helpers import DAY_MS, YEAR_MS, Chain, account_of, world


def transfer_fails(chain: Chain, code: str, sender: str, to: str, amount: int,
                   symbol: str = "APT1") -> None:
    """can_transfer predicts the code, then transfer fails with it and changes nothing."""
    predicted = chain.query("ksd", "token", "can_transfer", symbol=symbol, from_=chain[sender],
                            to=chain[to], amount=amount)
    assert predicted["code"] == code and predicted["ok"] is False, predicted
    chain.fail(code, sender, "token", "transfer", symbol=symbol, to=chain[to], amount=amount)


def transfer_ok(chain: Chain, sender: str, to: str, amount: int, symbol: str = "APT1") -> None:
    predicted = chain.query("ksd", "token", "can_transfer", symbol=symbol, from_=chain[sender],
                            to=chain[to], amount=amount)
    assert predicted == {"ok": True, "code": "OK", "message": ""}
    chain.ok(sender, "token", "transfer", symbol=symbol, to=chain[to], amount=amount)


def info(chain: Chain, symbol: str = "APT1") -> dict[str, Any]:
    return chain.query("fss", "token", "info", symbol=symbol)  # type: ignore[no-any-return]


# ---- create / approve / issue ----------------------------------------------------------------

def test_create_by_issuer_only_and_validated() -> None:
    chain = Chain()
    args = {"symbol": "B1", "name": "Bond", "asset_type": "bond", "unit_price": 5000,
            "max_supply": 100, "rules": {}}
    for caller in ("ksd", "fss", "broker-a", "bank", "tax", "nobody"):
        chain.fail("UNAUTHORIZED", caller, "token", "create", **args)
    token = chain.ok("issuer-1", "token", "create", **args)
    assert token["cap"] is None and token["issuer"] == chain["issuer-1"]
    assert token["rules"]["max_holders"] == 0 and token["rules"]["allowed_countries"] == []
    chain.fail("TOKEN_EXISTS", "issuer-2", "token", "create", **args)
    for bad in ({"symbol": "b/1"}, {"symbol": ""}, {"unit_price": 0}, {"max_supply": -1},
                {"rules": {"max_holding_bps": 10_001}}, {"rules": {"colour": 1}},
                {"rules": {"allowed_investor_types": ["whale"]}},
                {"rules": {"allowed_countries": ["kr"]}},
                {"unit_price": 2**40, "max_supply": 2**40}):
        chain.fail("BAD_ARGS", "issuer-1", "token", "create", **dict(args, symbol="B2") | bad)


def test_approve_by_registrar_within_max_supply() -> None:
    chain = Chain()
    chain.ok("issuer-1", "token", "create", symbol="B1", name="Bond", asset_type="bond",
             unit_price=5000, max_supply=100, rules={})
    for caller in ("issuer-1", "fss", "broker-a"):
        chain.fail("UNAUTHORIZED", caller, "token", "approve", symbol="B1", cap=50)
    chain.fail("UNKNOWN_TOKEN", "ksd", "token", "approve", symbol="B9", cap=50)
    chain.fail("CAP_TOO_HIGH", "ksd", "token", "approve", symbol="B1", cap=101)
    assert chain.events("ksd", "token", "approve", symbol="B1", cap=50) == ["CapApproved"]
    assert info(chain, "B1")["cap"] == 50


def test_issuance_checks_in_order() -> None:
    chain = Chain()
    chain.register("alice")
    chain.register("bob", aml_risk="high")
    chain.register("carol", investor_type="professional", country="US")
    chain.register("dave", investor_type="professional", country="JP")
    chain.register("erin", investor_type="professional")
    chain.register("fay", investor_type="professional")
    chain.ok("issuer-1", "token", "create", symbol="B1", name="Bond", asset_type="bond",
             unit_price=1, max_supply=1000,
             rules={"allowed_investor_types": ["professional"],
                    "allowed_countries": ["JP", "KR"], "max_holders": 2,
                    "max_holding_bps": 1000})
    chain.fail("NOT_APPROVED", "issuer-1", "token", "issue", symbol="B1", to=chain["alice"],
               amount=1)
    chain.ok("ksd", "token", "approve", symbol="B1", cap=150)
    chain.fail("RECIPIENT_NOT_VERIFIED", "issuer-1", "token", "issue", symbol="B1",
               to=account_of("ghost"), amount=1)
    chain.fail("AML_BLOCKED", "issuer-1", "token", "issue", symbol="B1", to=chain["bob"],
               amount=1)
    chain.fail("INVESTOR_TYPE_NOT_ALLOWED", "issuer-1", "token", "issue", symbol="B1",
               to=chain["alice"], amount=1)
    chain.fail("COUNTRY_NOT_ALLOWED", "issuer-1", "token", "issue", symbol="B1",
               to=chain["carol"], amount=1)
    chain.fail("HOLDING_LIMIT_EXCEEDED", "issuer-1", "token", "issue", symbol="B1",
               to=chain["dave"], amount=101)
    chain.ok("issuer-1", "token", "issue", symbol="B1", to=chain["dave"], amount=100)
    chain.ok("issuer-1", "token", "issue", symbol="B1", to=chain["erin"], amount=40)
    chain.fail("MAX_HOLDERS_EXCEEDED", "issuer-1", "token", "issue", symbol="B1",
               to=chain["fay"], amount=1)
    chain.fail("CAP_EXCEEDED", "issuer-1", "token", "issue", symbol="B1", to=chain["erin"],
               amount=11)
    chain.ok("issuer-1", "token", "issue", symbol="B1", to=chain["erin"], amount=10)
    token = info(chain, "B1")
    assert (token["issued"], token["outstanding"], token["holders"]) == (150, 150, 2)
    chain.fail("CAP_BELOW_ISSUED", "ksd", "token", "approve", symbol="B1", cap=149)


def test_issue_by_the_tokens_issuer_only() -> None:
    chain = world()
    chain.create_token("OTHER", issuer="issuer-2")
    for caller in ("issuer-2", "ksd", "fss", "alice"):
        chain.fail("UNAUTHORIZED", caller, "token", "issue", symbol="APT1", to=chain["alice"],
                   amount=1)
    chain.fail("UNKNOWN_TOKEN", "issuer-1", "token", "issue", symbol="NOPE",
               to=chain["alice"], amount=1)
    chain.fail("BAD_ARGS", "issuer-1", "token", "issue", symbol="APT1", to=chain["alice"],
               amount=0)
    events = chain.events("issuer-1", "token", "issue", symbol="APT1", to=chain["alice"],
                          amount=10)
    assert events == ["Issued"]


# ---- transfer --------------------------------------------------------------------------------

def test_transfer_moves_units_and_emits() -> None:
    chain = world()
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["alice"], amount=100)
    transfer_ok(chain, "alice", "bob", 30)
    assert (chain.balance("APT1", "alice"), chain.balance("APT1", "bob")) == (70, 30)
    assert info(chain)["holders"] == 2
    transfer_ok(chain, "alice", "bob", 70)
    assert info(chain)["holders"] == 1 and chain.balance("APT1", "alice") == 0
    outcome = chain.execute(chain["bob"], "token", "transfer",
                            {"symbol": "APT1", "to": chain["alice"], "amount": 5})
    assert [event.name for event in outcome.events] == ["Transfer"]
    assert outcome.events[0].data == {"symbol": "APT1", "from": chain["bob"],
                                      "to": chain["alice"], "amount": 5}


def test_transfer_codes_in_protocol_order() -> None:
    chain = world(lockup_ms=DAY_MS, max_holders=3, max_holding_bps=100,
                  allowed_investor_types=["general", "professional", "qualified"],
                  allowed_countries=["KR"])
    chain.register("henry")
    chain.register("ivy", kyc_expires=chain.time + 30 * DAY_MS)
    chain.register("jay")
    for name, amount in (("alice", 1000), ("bob", 1000), ("henry", 10)):
        chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain[name], amount=amount)
    chain.ok("broker-a", "identity", "update", account=chain["henry"],
             attrs={"aml_risk": "high"})
    chain.ok("ksd", "token", "freeze", symbol="APT1", account=chain["bob"], amount=400)
    chain.ok("issuer-1", "token", "pause", symbol="APT1")
    transfer_fails(chain, "TOKEN_PAUSED", "alice", "bob", 1)
    chain.ok("issuer-1", "token", "unpause", symbol="APT1")
    transfer_fails(chain, "INSUFFICIENT_BALANCE", "bob", "alice", 601)  # frozen 400 of 1000
    transfer_fails(chain, "INSUFFICIENT_BALANCE", "nobody", "alice", 1)  # before identity
    chain.ok("broker-a", "identity", "revoke", account=chain["bob"], reason="moved")
    transfer_fails(chain, "SENDER_NOT_VERIFIED", "bob", "alice", 1)
    transfer_fails(chain, "RECIPIENT_NOT_VERIFIED", "alice", "bob", 1)
    transfer_fails(chain, "RECIPIENT_NOT_VERIFIED", "alice", "nobody", 1)
    transfer_fails(chain, "AML_BLOCKED", "alice", "henry", 1)
    transfer_fails(chain, "AML_BLOCKED", "henry", "alice", 1)
    transfer_fails(chain, "LOCKUP_ACTIVE", "alice", "ivy", 1)
    chain.advance(DAY_MS)
    transfer_fails(chain, "INVESTOR_TYPE_NOT_ALLOWED", "alice", "dave", 1)  # corporate
    transfer_fails(chain, "COUNTRY_NOT_ALLOWED", "alice", "carol", 1)  # US
    transfer_fails(chain, "MAX_HOLDERS_EXCEEDED", "alice", "jay", 1)  # alice, bob, henry
    chain.ok("ksd", "token", "force_transfer", symbol="APT1", from_=chain["henry"],
             to=chain["alice"], amount=10, reason="AML seizure")
    # 10,000 units (1% of max_supply) at 10,000 KRW: exactly the 100,000,000 KRW limit
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["ivy"], amount=10_000)
    transfer_fails(chain, "HOLDING_LIMIT_EXCEEDED", "alice", "ivy", 1)
    chain.ok("issuer-1", "token", "redeem", symbol="APT1", from_=chain["ivy"], amount=1)
    # ivy's issuance counted as a purchase (a redemption is no sale): no room left
    transfer_fails(chain, "INVESTMENT_LIMIT_EXCEEDED", "alice", "ivy", 1)
    chain.advance(30 * DAY_MS)
    transfer_fails(chain, "SENDER_NOT_VERIFIED", "ivy", "alice", 1)  # KYC expired


def test_transfer_arguments_and_regulator() -> None:
    chain = world()
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["alice"], amount=10)
    chain.fail("BAD_ARGS", "alice", "token", "transfer", symbol="APT1", to=chain["alice"],
               amount=1)
    chain.fail("BAD_ARGS", "alice", "token", "transfer", symbol="APT1", to=chain["bob"],
               amount=-1)
    chain.fail("UNKNOWN_TOKEN", "alice", "token", "transfer", symbol="NOPE", to=chain["bob"],
               amount=1)
    chain.fail("UNAUTHORIZED", "fss", "token", "transfer", symbol="APT1", to=chain["bob"],
               amount=1)
    assert chain.query("fss", "token", "can_transfer", symbol="APT1", from_=chain["fss"],
                       to=chain["bob"], amount=1)["code"] == "UNAUTHORIZED"
    assert chain.query("ksd", "token", "can_transfer", symbol="NO/PE", from_=chain["alice"],
                       to=chain["bob"], amount=1)["code"] == "BAD_ARGS"


def test_can_transfer_read_access() -> None:
    chain = world()
    args = {"symbol": "APT1", "from_": chain["alice"], "to": chain["bob"], "amount": 1}
    for reader in ("alice", "broker-a", "issuer-1", "ksd", "fss"):
        chain.query(reader, "token", "can_transfer", **args)
    for reader in ("bob", "broker-b", "issuer-2", "bank", "nobody"):
        with pytest.raises(ChaincodeError) as caught:
            chain.query(reader, "token", "can_transfer", **args)
        assert caught.value.code == "FORBIDDEN"


def test_lockup_applies_to_issued_units_only_until_expiry() -> None:
    chain = world(lockup_ms=10 * DAY_MS)
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["alice"], amount=100)
    transfer_fails(chain, "LOCKUP_ACTIVE", "alice", "bob", 1)
    chain.advance(5 * DAY_MS)
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["alice"], amount=50)
    chain.advance(5 * DAY_MS)
    balance = chain.query("alice", "token", "balance", symbol="APT1", account=chain["alice"])
    assert (balance["locked"], balance["transferable"]) == (50, 100)
    transfer_fails(chain, "LOCKUP_ACTIVE", "alice", "bob", 101)
    transfer_ok(chain, "alice", "bob", 100)
    transfer_ok(chain, "bob", "carol", 100)  # bought units are never locked
    chain.advance(5 * DAY_MS)
    transfer_ok(chain, "alice", "bob", 50)


# ---- freeze / pause / force / redeem -----------------------------------------------------------

def test_freeze_partial_and_full() -> None:
    chain = world()
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["alice"], amount=100)
    chain.fail("UNAUTHORIZED", "issuer-2", "token", "freeze", symbol="APT1",
               account=chain["alice"], amount=1)
    chain.fail("UNAUTHORIZED", "fss", "token", "freeze", symbol="APT1",
               account=chain["alice"], amount=1)
    chain.fail("NO_HOLDING", "ksd", "token", "freeze", symbol="APT1", account=chain["bob"],
               amount=1)
    assert chain.events("issuer-1", "token", "freeze", symbol="APT1", account=chain["alice"],
                        amount=60) == ["Frozen"]
    chain.fail("FROZEN_EXCEEDS_BALANCE", "ksd", "token", "freeze", symbol="APT1",
               account=chain["alice"], amount=41)
    transfer_fails(chain, "INSUFFICIENT_BALANCE", "alice", "bob", 41)
    transfer_ok(chain, "alice", "bob", 40)
    chain.fail("UNFREEZE_EXCEEDS_FROZEN", "ksd", "token", "unfreeze", symbol="APT1",
               account=chain["alice"], amount=61)
    assert chain.events("ksd", "token", "unfreeze", symbol="APT1", account=chain["alice"],
                        amount=10) == ["Unfrozen"]
    transfer_ok(chain, "alice", "bob", 10)
    chain.ok("ksd", "token", "freeze", symbol="APT1", account=chain["bob"], amount=None)
    transfer_fails(chain, "INSUFFICIENT_BALANCE", "bob", "alice", 1)
    chain.ok("ksd", "token", "unfreeze", symbol="APT1", account=chain["bob"])
    transfer_ok(chain, "bob", "alice", 50)


def test_pause_and_unpause() -> None:
    chain = world()
    chain.create_token("OTHER", issuer="issuer-2")
    for caller in ("issuer-2", "fss", "alice", "broker-a"):
        chain.fail("UNAUTHORIZED", caller, "token", "pause", symbol="APT1")
    assert chain.events("ksd", "token", "pause", symbol="APT1") == ["Paused"]
    chain.fail("ALREADY_PAUSED", "issuer-1", "token", "pause", symbol="APT1")
    assert chain.events("issuer-1", "token", "unpause", symbol="APT1") == ["Unpaused"]
    chain.fail("NOT_PAUSED", "ksd", "token", "unpause", symbol="APT1")


def test_force_transfer_skips_lockup_freeze_pause_and_keeps_reason() -> None:
    chain = world(lockup_ms=YEAR_MS, allowed_investor_types=["general"])
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["alice"], amount=100)
    chain.ok("ksd", "token", "freeze", symbol="APT1", account=chain["alice"])
    chain.ok("ksd", "token", "pause", symbol="APT1")
    args = {"symbol": "APT1", "from_": chain["alice"], "amount": 70, "reason": "court order 1"}
    for caller in ("issuer-1", "fss", "broker-a"):
        chain.fail("UNAUTHORIZED", caller, "token", "force_transfer", to=chain["bob"], **args)
    chain.fail("RECIPIENT_NOT_VERIFIED", "ksd", "token", "force_transfer",
               to=account_of("ghost"), **args)
    chain.fail("INSUFFICIENT_BALANCE", "ksd", "token", "force_transfer", to=chain["bob"],
               **dict(args, amount=101))
    chain.fail("BAD_ARGS", "ksd", "token", "force_transfer", to=chain["bob"],
               **dict(args, reason=""))
    kept = chain.ok("ksd", "token", "force_transfer", to=chain["dave"], **args)  # corporate
    assert kept["reason"] == "court order 1"
    listed = chain.query("fss", "token", "forced_transfers", symbol="APT1")
    assert [row["reason"] for row in listed] == ["court order 1"]
    alice = chain.query("ksd", "token", "balance", symbol="APT1", account=chain["alice"])
    assert (alice["balance"], alice["frozen"], alice["locked"]) == (30, 30, 30)
    dave = chain.query("ksd", "token", "balance", symbol="APT1", account=chain["dave"])
    assert (dave["balance"], dave["frozen"], dave["locked"]) == (70, 0, 0)
    assert info(chain)["outstanding"] == 100 and info(chain)["holders"] == 2
    with pytest.raises(ChaincodeError):
        chain.query("alice", "token", "forced_transfers", symbol="APT1")


def test_redeem_by_issuer() -> None:
    chain = world(lockup_ms=YEAR_MS)
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["alice"], amount=100)
    chain.ok("ksd", "token", "freeze", symbol="APT1", account=chain["alice"], amount=20)
    for caller in ("ksd", "fss", "issuer-2", "alice"):
        chain.fail("UNAUTHORIZED", caller, "token", "redeem", symbol="APT1",
                   from_=chain["alice"], amount=1)
    chain.fail("INSUFFICIENT_BALANCE", "issuer-1", "token", "redeem", symbol="APT1",
               from_=chain["alice"], amount=81)
    assert chain.events("issuer-1", "token", "redeem", symbol="APT1", from_=chain["alice"],
                        amount=80) == ["Redeemed"]
    token = info(chain)
    assert (token["issued"], token["redeemed"], token["outstanding"]) == (100, 80, 20)
    chain.ok("ksd", "token", "unfreeze", symbol="APT1", account=chain["alice"])
    chain.ok("issuer-1", "token", "redeem", symbol="APT1", from_=chain["alice"], amount=20)
    assert info(chain)["holders"] == 0
    chain.fail("CAP_EXCEEDED", "issuer-1", "token", "issue", symbol="APT1",
               to=chain["carol"], amount=999_901)  # cap counts issued, not outstanding


def test_recover_moves_everything_to_the_new_key() -> None:
    chain = world(lockup_ms=YEAR_MS)
    chain.create_token("OTHER", issuer="issuer-2")
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["alice"], amount=100)
    chain.ok("issuer-2", "token", "issue", symbol="OTHER", to=chain["alice"], amount=7)
    chain.ok("ksd", "token", "freeze", symbol="APT1", account=chain["alice"], amount=5)
    chain.ok("bank", "cash", "mint", to=chain["alice"], amount=1234)
    new = account_of("alice-2")
    args = {"old": chain["alice"], "new": new, "reason": "lost phone"}
    for caller in ("broker-a", "fss", "issuer-1", "alice"):
        chain.fail("UNAUTHORIZED", caller, "token", "recover", **args)
    chain.fail("ALREADY_REGISTERED", "ksd", "token", "recover", **dict(args, new=chain["bob"]))
    chain.fail("NOT_REGISTERED", "ksd", "token", "recover",
               **dict(args, old=account_of("ghost")))
    events = chain.events("ksd", "token", "recover", **args)
    assert events == ["Revoked", "Registered", "CashTransfer", "Recovered"]
    moved = chain.query("ksd", "token", "balance", symbol="APT1", account=new)
    assert (moved["balance"], moved["frozen"], moved["locked"]) == (100, 5, 100)
    assert chain.query("ksd", "token", "holdings", account=new) == [
        {"symbol": "APT1", "balance": 100, "frozen": 5, "locked": 100},
        {"symbol": "OTHER", "balance": 7, "frozen": 0, "locked": 0}]
    assert chain.query("ksd", "token", "holdings", account=chain["alice"]) == []
    assert chain.cash("alice-2") == 1234 and chain.cash("alice") == 0
    assert info(chain)["holders"] == 1
    record = chain.query("ksd", "identity", "get", account=new)
    assert record["recovered_from"] == chain["alice"] and record["broker"] == chain["broker-a"]
    old = chain.query("ksd", "identity", "get", account=chain["alice"])
    assert old["status"] == "revoked" and old["recovered_to"] == new
    chain.fail("ACCOUNT_REVOKED", "ksd", "token", "recover",
               **dict(args, new=account_of("alice-3")))


def test_recover_an_issuer_key_moves_its_tokens() -> None:
    chain = world()
    new = account_of("issuer-1b")
    chain.ok("ksd", "token", "recover", old=chain["issuer-1"], new=new, reason="HSM failure")
    assert info(chain)["issuer"] == new
    chain.ok(new, "token", "issue", symbol="APT1", to=chain["alice"], amount=1)
    chain.fail("UNAUTHORIZED", "issuer-1", "token", "issue", symbol="APT1", to=chain["alice"],
               amount=1)


# ---- documents -------------------------------------------------------------------------------

def test_documents() -> None:
    chain = world()
    digest = "ab" * 32
    chain.fail("UNAUTHORIZED", "ksd", "token", "set_document", symbol="APT1",
               name="prospectus", uri="https://x/p.pdf", sha256=digest)
    chain.fail("BAD_ARGS", "issuer-1", "token", "set_document", symbol="APT1",
               name="prospectus", uri="https://x/p.pdf", sha256="xyz")
    assert chain.events("issuer-1", "token", "set_document", symbol="APT1", name="prospectus",
                        uri="https://x/p.pdf", sha256=digest) == ["DocumentSet"]
    chain.ok("issuer-1", "token", "set_document", symbol="APT1", name="appraisal",
             uri="https://x/a.pdf", sha256=bytes(32))
    chain.ok("issuer-1", "token", "set_document", symbol="APT1", name="prospectus",
             uri="https://x/p2.pdf", sha256=digest)
    documents = chain.query("alice", "token", "documents", symbol="APT1")
    assert [(d["name"], d["uri"]) for d in documents] == [
        ("appraisal", "https://x/a.pdf"), ("prospectus", "https://x/p2.pdf")]
    assert documents[0]["sha256"] == "00" * 32 and info(chain)["documents"] == 2
    with pytest.raises(ChaincodeError) as caught:
        chain.query("nobody", "token", "documents", symbol="APT1")
    assert caught.value.code == "FORBIDDEN"
    assert chain.events("issuer-1", "token", "remove_document", symbol="APT1",
                        name="appraisal") == ["DocumentRemoved"]
    chain.fail("UNKNOWN_DOCUMENT", "issuer-1", "token", "remove_document", symbol="APT1",
               name="appraisal")
    for index in range(63):
        chain.ok("issuer-1", "token", "set_document", symbol="APT1", name=f"report-{index}",
                 uri="https://x", sha256=digest)
    chain.fail("TOO_MANY_DOCUMENTS", "issuer-1", "token", "set_document", symbol="APT1",
               name="one-too-many", uri="https://x", sha256=digest)


# ---- limits and counts -----------------------------------------------------------------------

def test_general_investor_limit_over_the_365_day_window() -> None:
    chain = world()  # unit_price 10,000 KRW: the 100,000,000 KRW limit is 10,000 units
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["carol"], amount=100_000)
    transfer_ok(chain, "carol", "alice", 6_000)
    chain.advance(200 * DAY_MS)
    transfer_ok(chain, "carol", "alice", 4_000)
    transfer_fails(chain, "INVESTMENT_LIMIT_EXCEEDED", "carol", "alice", 1)
    transfer_ok(chain, "carol", "dave", 1)  # corporate: no limit
    transfer_ok(chain, "alice", "bob", 1_000)  # a sale makes room (net purchases)
    net = chain.query("broker-a", "token", "investment", account=chain["alice"])["net"]
    assert net == 9_000 * 10_000
    transfer_ok(chain, "carol", "alice", 1_000)
    transfer_fails(chain, "INVESTMENT_LIMIT_EXCEEDED", "carol", "alice", 1)
    # the first day's purchase (6,000 units, of which the sale offset 1,000 first in first
    # out) leaves the window; day 200 holds 4,000 + 1,000 units of purchases
    chain.advance(165 * DAY_MS)
    transfer_ok(chain, "carol", "alice", 5_000)
    transfer_fails(chain, "INVESTMENT_LIMIT_EXCEEDED", "carol", "alice", 1)
    with pytest.raises(ChaincodeError):
        chain.query("broker-b", "token", "investment", account=chain["alice"])


def test_issuance_is_checked_against_the_limits_and_counts() -> None:
    """#12 item 6 (issue never applied the limits). Pre: alice general, no purchases; APT1
    at 10,000 KRW, issuer limit 60,000,000 KRW. Tx: issue 12,000 units (120,000,000 KRW).
    Post: INVESTMENT_LIMIT_EXCEEDED, in the issuance order (after HOLDING_LIMIT_EXCEEDED,
    before CAP_EXCEEDED); issues within the limits pass and count as purchases."""
    chain = world(issuer_annual_limit=60_000_000, cap=20_000)
    chain.fail("INVESTMENT_LIMIT_EXCEEDED", "issuer-1", "token", "issue", symbol="APT1",
               to=chain["alice"], amount=12_000)  # network limit (and before CAP_EXCEEDED)
    chain.fail("INVESTMENT_LIMIT_EXCEEDED", "issuer-1", "token", "issue", symbol="APT1",
               to=chain["alice"], amount=6_001)  # issuer limit
    chain.fail("CAP_EXCEEDED", "issuer-1", "token", "issue", symbol="APT1",
               to=chain["carol"], amount=20_001)  # professional: no limit, then the cap
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["alice"], amount=6_000)
    assert chain.query("alice", "token", "investment", account=chain["alice"])["net"] == \
        60_000_000
    chain.fail("INVESTMENT_LIMIT_EXCEEDED", "issuer-1", "token", "issue", symbol="APT1",
               to=chain["alice"], amount=1)
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["carol"], amount=10)
    transfer_fails(chain, "INVESTMENT_LIMIT_EXCEEDED", "carol", "alice", 1)


def test_issuer_annual_limit() -> None:
    chain = world(issuer_annual_limit=50_000)  # 5 units of APT1
    chain.create_token("OTHER", issuer="issuer-2")
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["carol"], amount=100)
    chain.ok("issuer-2", "token", "issue", symbol="OTHER", to=chain["carol"], amount=100)
    transfer_ok(chain, "carol", "alice", 5)
    transfer_fails(chain, "INVESTMENT_LIMIT_EXCEEDED", "carol", "alice", 1)
    transfer_ok(chain, "carol", "alice", 50, symbol="OTHER")
    transfer_ok(chain, "carol", "erin", 50)  # qualified investors are not limited
    chain.advance(YEAR_MS)
    transfer_ok(chain, "carol", "alice", 5)


def test_max_holders_counts_joins_and_leaves() -> None:
    chain = world(max_holders=2)
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["alice"], amount=10)
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["bob"], amount=10)
    transfer_fails(chain, "MAX_HOLDERS_EXCEEDED", "alice", "carol", 5)
    transfer_ok(chain, "alice", "carol", 10)  # alice leaves as carol joins
    transfer_ok(chain, "bob", "carol", 3)
    assert info(chain)["holders"] == 2


def test_holding_limit() -> None:
    chain = world(max_holding_bps=100)  # 1% of 1,000,000 = 10,000 units
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["carol"], amount=10_000)
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["dave"], amount=1)
    transfer_fails(chain, "HOLDING_LIMIT_EXCEEDED", "dave", "carol", 1)
    transfer_ok(chain, "carol", "dave", 9_999)


# ---- read access -----------------------------------------------------------------------------

def test_balance_holders_info_read_access() -> None:
    chain = world()
    chain.create_token("OTHER", issuer="issuer-2")
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["alice"], amount=5)
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["erin"], amount=3)
    for reader in ("alice", "broker-a", "issuer-1", "ksd", "fss"):
        assert chain.query(reader, "token", "balance", symbol="APT1",
                           account=chain["alice"])["balance"] == 5
    for reader in ("bob", "broker-b", "issuer-2", "bank", "tax", "nobody"):
        with pytest.raises(ChaincodeError) as caught:
            chain.query(reader, "token", "balance", symbol="APT1", account=chain["alice"])
        assert caught.value.code == "FORBIDDEN"
    for reader in ("issuer-1", "ksd", "fss"):
        listed = chain.query(reader, "token", "holders", symbol="APT1")
        assert {row["account"] for row in listed["holders"]} == {chain["alice"], chain["erin"]}
        assert listed["count"] == 2 and listed["outstanding"] == 8
    for reader in ("issuer-2", "alice", "broker-a", "bank"):
        with pytest.raises(ChaincodeError) as caught:
            chain.query(reader, "token", "holders", symbol="APT1")
        assert caught.value.code == "FORBIDDEN"
    first = chain.query("ksd", "token", "holders", symbol="APT1", limit=1)
    second = chain.query("ksd", "token", "holders", symbol="APT1", after=first["next"])
    assert len(first["holders"]) == 1 and len(second["holders"]) == 1
    assert second["next"] is None
    token = chain.query("alice", "token", "info", symbol="APT1")
    assert {key: token[key] for key in ("cap", "issued", "redeemed", "outstanding")} == {
        "cap": 1_000_000, "issued": 8, "redeemed": 0, "outstanding": 8}
    with pytest.raises(ChaincodeError) as caught:
        chain.query("nobody", "token", "info", symbol="APT1")
    assert caught.value.code == "FORBIDDEN"
    with pytest.raises(ChaincodeError) as caught:
        chain.query("alice", "token", "info", symbol="NOPE")
    assert caught.value.code == "UNKNOWN_TOKEN"


def test_a_sha256_is_32_bytes_or_64_lowercase_hex() -> None:
    """require_sha256 (a document's digest, an order's origin): exactly 64 lowercase hex
    characters or 32 bytes; anything else is BAD_ARGS."""
    digest = "0123456789abcdef" * 4
    assert require_sha256(digest) == digest
    assert require_sha256(bytes(range(32))) == bytes(range(32)).hex()
    for bad in (digest.upper(), digest[:-1], digest + "0", digest[:-1] + "g", digest[:-1] + "\n",
                "\n" + digest[1:], " " + digest[1:], bytes(31), 12, None, [digest]):
        with pytest.raises(ChaincodeError) as refused:
            require_sha256(bad)
        assert refused.value.code == "BAD_ARGS", bad
