"""dividend: declare (record snapshot), exact shares, withholding, paged pay, read access."""

from __future__ import annotations

from typing import Any

import pytest

from chaincode.dividend import compute_gross_shares, compute_withholding
from chaincode.runtime import ChaincodeError
from tests.chaincode.helpers import Chain, account_of, world


def dividend_world() -> Chain:
    chain = world()
    for name, amount in (("alice", 1), ("bob", 1), ("carol", 1), ("dave", 3)):
        chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain[name], amount=amount)
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["issuer-1"], amount=50)
    chain.ok("bank", "cash", "mint", to=chain["issuer-1"], amount=1_000_000)
    return chain


def test_largest_remainder_and_ties_by_account() -> None:
    assert compute_gross_shares(10, [("a", 1), ("b", 1), ("c", 1)]) == [4, 3, 3]
    assert compute_gross_shares(10, [("c", 1), ("b", 1), ("a", 1)]) == [3, 3, 4]
    assert compute_gross_shares(100, [("a", 1), ("b", 2), ("c", 3)]) == [17, 33, 50]
    assert compute_withholding(100_000, 1400) == (14_000, 1_400, 84_600)
    assert compute_withholding(100_000, 2000) == (20_000, 2_000, 78_000)
    assert compute_withholding(99, 1400) == (13, 1, 85)


def pay_all(chain: Chain, dividend_id: int, page: int = 1000) -> list[dict[str, Any]]:
    results = []
    while True:
        result = chain.ok("issuer-1", "dividend", "pay", dividend_id=dividend_id,
                          max_holders=page)
        results.append(result)
        if result["done"]:
            return results


def test_declare_and_pay_in_pages() -> None:
    chain = dividend_world()
    for caller in ("ksd", "fss", "issuer-2", "alice"):
        chain.fail("UNAUTHORIZED", caller, "dividend", "declare", symbol="APT1", total=1000)
    chain.fail("UNKNOWN_TOKEN", "issuer-1", "dividend", "declare", symbol="NOPE", total=1)
    chain.fail("INSUFFICIENT_CASH", "issuer-1", "dividend", "declare", symbol="APT1",
               total=1_000_001)
    chain.fail("BAD_ARGS", "issuer-1", "dividend", "declare", symbol="APT1", total=1,
               record_time=chain.time - 1)  # never before the declaring block
    outcome = chain.execute(chain["issuer-1"], "dividend", "declare",
                            {"symbol": "APT1", "total": 1_000_000})
    assert outcome.ok, outcome.error
    assert [e.name for e in outcome.events] == ["CashEscrowed", "DividendDeclared",
                                                "RecordDateFixed"]
    declaration = outcome.result
    dividend_id = declaration["dividend_id"]
    assert declaration["entitled"] == 6 and declaration["holders"] == 4  # issuer excluded
    assert declaration["record_height"] == chain.height - 2  # the block before the declaring
    assert declaration["status"] == "registering"
    # after the record block, trades do not change the entitlement
    chain.ok("alice", "token", "transfer", symbol="APT1", to=chain["bob"], amount=1)
    chain.fail("UNAUTHORIZED", "issuer-2", "dividend", "pay", dividend_id=dividend_id,
               max_holders=2)
    chain.fail("BAD_ARGS", "issuer-1", "dividend", "pay", dividend_id=dividend_id,
               max_holders=0)
    chain.fail("UNKNOWN_DIVIDEND", "issuer-1", "dividend", "pay", dividend_id=99,
               max_holders=2)
    steps = pay_all(chain, dividend_id, page=3)
    # 4 holders registered, the remaining won handed out, 4 entitlements settled; 3 per call
    assert (steps[0]["registered"], steps[0]["paid"]) == (3, 0)
    assert sum(r["registered"] for r in steps) == 4 and sum(r["paid"] for r in steps) == 4
    assert all(r["registered"] + r["allocated"] + r["paid"] <= 3 for r in steps)
    chain.fail("ALREADY_PAID", "issuer-1", "dividend", "pay", dividend_id=dividend_id,
               max_holders=1)
    shares = {name: chain.query("ksd", "dividend", "entitlement", dividend_id=dividend_id,
                                account=chain[name]) for name in ("alice", "bob", "carol",
                                                                  "dave")}
    assert sum(s["gross"] for s in shares.values()) == 1_000_000
    assert [shares[n]["gross"] for n in ("alice", "bob", "carol", "dave")] == \
        compute_gross_shares(1_000_000, [(chain[n], b) for n, b in
                                         (("alice", 1), ("bob", 1), ("carol", 1), ("dave", 3))])
    assert shares["dave"]["gross"] == 500_000
    assert shares["dave"]["class"] == "domestic_corporation"
    assert shares["carol"]["class"] == "non_resident_individual"
    assert shares["carol"]["it_bps"] == 2000
    assert shares["alice"]["class"] == "resident_individual"
    assert shares["dave"]["income_tax"] == 0 and shares["dave"]["net"] == 500_000
    for entry in shares.values():
        assert entry["net"] + entry["income_tax"] + entry["local_tax"] == entry["gross"]
        assert entry["status"] == "paid" and entry["paid"]
    withheld = sum(s["income_tax"] + s["local_tax"] for s in shares.values())
    assert chain.cash("tax") == withheld
    for name, entry in shares.items():
        assert chain.cash(name) == entry["net"]
    assert chain.cash("issuer-1") == 0
    record = chain.query("alice", "dividend", "get", dividend_id=dividend_id)
    assert record["done"] and record["paid_gross"] == 1_000_000
    assert record["status"] == "done"
    assert record["paid_income_tax"] + record["paid_local_tax"] == withheld
    assert chain.query("alice", "dividend", "declarations", symbol="APT1") == [record]
    payments = chain.query("fss", "dividend", "payments", dividend_id=dividend_id)
    assert all(row["paid"] for row in payments["entitlements"])


def test_nobody_entitled() -> None:
    chain = world()
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["issuer-1"], amount=50)
    chain.ok("bank", "cash", "mint", to=chain["issuer-1"], amount=10)
    chain.fail("NO_ENTITLED_HOLDERS", "issuer-1", "dividend", "declare", symbol="APT1",
               total=10)


def test_recovered_holder_is_paid_at_the_new_key() -> None:
    chain = dividend_world()
    declared = chain.ok("issuer-1", "dividend", "declare", symbol="APT1", total=6_000)
    new = account_of("alice-2")
    chain.ok("ksd", "token", "recover", old=chain["alice"], new=new, reason="lost key")
    pay_all(chain, declared["dividend_id"])
    entry = chain.query("ksd", "dividend", "entitlement", dividend_id=declared["dividend_id"],
                        account=chain["alice"])
    assert entry["paid_to"] == new and chain.cash("alice-2") == entry["net"]
    # the entitlement is found under the new key too
    assert chain.query("ksd", "dividend", "entitlement", dividend_id=declared["dividend_id"],
                       account=new) == entry


def test_dividend_read_access() -> None:
    chain = dividend_world()
    declared = chain.ok("issuer-1", "dividend", "declare", symbol="APT1", total=600)
    dividend_id = declared["dividend_id"]
    chain.ok("issuer-1", "dividend", "pay", dividend_id=dividend_id, max_holders=4)
    for reader in ("alice", "broker-a", "issuer-1", "ksd", "fss"):
        chain.query(reader, "dividend", "entitlement", dividend_id=dividend_id,
                    account=chain["alice"])
    for reader in ("bob", "broker-b", "issuer-2", "bank", "tax", "nobody"):
        with pytest.raises(ChaincodeError) as caught:
            chain.query(reader, "dividend", "entitlement", dividend_id=dividend_id,
                        account=chain["alice"])
        assert caught.value.code == "FORBIDDEN"
    with pytest.raises(ChaincodeError) as caught:
        chain.query("ksd", "dividend", "entitlement", dividend_id=dividend_id,
                    account=chain["erin"])
    assert caught.value.code == "NOT_ENTITLED"
    for reader in ("alice", "nobody"):
        with pytest.raises(ChaincodeError) as caught:
            chain.query(reader, "dividend", "payments", dividend_id=dividend_id)
        assert caught.value.code == "FORBIDDEN"
    with pytest.raises(ChaincodeError) as caught:
        chain.query("nobody", "dividend", "get", dividend_id=dividend_id)
    assert caught.value.code == "FORBIDDEN"


def test_the_spare_won_goes_to_the_largest_remainder_not_the_first_account() -> None:
    """10 won over balances 1 (alice) and 2 (bob): exact shares 3.33 and 6.67, so bob's
    remainder is the largest and the spare won is his, though alice's account id sorts first.
    (A split by account order alone would pay 4 and 6, and still sum to 10.)"""
    chain = world()
    assert chain["alice"] < chain["bob"]
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["alice"], amount=1)
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["bob"], amount=2)
    chain.ok("bank", "cash", "mint", to=chain["issuer-1"], amount=10)
    declared = chain.ok("issuer-1", "dividend", "declare", symbol="APT1", total=10)
    pay_all(chain, declared["dividend_id"])
    gross = {name: chain.query("ksd", "dividend", "entitlement",
                               dividend_id=declared["dividend_id"],
                               account=chain[name])["gross"] for name in ("alice", "bob")}
    assert gross == {"alice": 3, "bob": 7}


def test_nobody_entitled_at_an_announced_record_date_cancels_and_releases() -> None:
    """Pre: a dividend announced 10 s ahead while alice holds; before the record date all
    her units are redeemed. Post: the record height has nobody entitled: the dividend is
    cancelled, its escrow back in the issuer's available cash, and pay answers
    NO_ENTITLED_HOLDERS."""
    chain = world()
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["alice"], amount=10)
    chain.ok("bank", "cash", "mint", to=chain["issuer-1"], amount=500)
    declared = chain.ok("issuer-1", "dividend", "declare", symbol="APT1", total=500,
                        record_time=chain.time + 10_000)
    assert chain.query("bank", "cash", "balance", account=chain["issuer-1"])["available"] == 0
    chain.ok("issuer-1", "token", "redeem", symbol="APT1", from_=chain["alice"], amount=10)
    chain.advance(10_000)
    chain.block()  # an empty block reaching the record time: its hook cancels the dividend
    assert chain.hook_outcomes[0].result == 1
    chain.fail("NO_ENTITLED_HOLDERS", "issuer-1", "dividend", "pay",
               dividend_id=declared["dividend_id"], max_holders=10)
    record = chain.query("fss", "dividend", "get", dividend_id=declared["dividend_id"])
    assert record["status"] == "cancelled" and record["record_height"] == chain.height - 3
    assert chain.query("bank", "cash", "balance", account=chain["issuer-1"]) == {
        "account": chain["issuer-1"], "balance": 500, "escrowed": 0, "available": 500}
