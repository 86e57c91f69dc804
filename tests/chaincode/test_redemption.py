"""offering.redeem_all / settle / release: the register at the record height, burning every
unit, paying price x units with withholding on the gain only, held nets, the token retired."""

from __future__ import annotations

from typing import Any

import pytest

from chaincode.redemption import compute_payment
from chaincode.runtime import ChaincodeError
from tests.chaincode.helpers import DAY_MS, Chain, world
from tests.chaincode.offering_helpers import PRICE, open_offering, settle_all, with_prospectus
from tests.chaincode.test_offering import hold, ladder

UNIT_PRICE = 10_000  # APT1 in tests.chaincode.helpers.world
HOLDINGS = {"alice": 10, "bob": 7, "carol": 3, "dave": 20, "erin": 1}  # and the issuer's 5


def redemption_world() -> Chain:
    """world(): alice, bob (general, resident individuals), carol (professional, US
    non-resident individual), dave (corporate: a domestic corporation), erin (qualified);
    each holds HOLDINGS units of APT1, the issuer 5; the issuer has 10^9 KRW."""
    chain = world()
    for name, units in HOLDINGS.items():
        chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain[name], amount=units)
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["issuer-1"], amount=5)
    chain.ok("bank", "cash", "mint", to=chain["issuer-1"], amount=10**9)
    return chain


def total_cash(chain: Chain) -> int:
    return int(chain.query("fss", "cash", "supply")["supply"])


def test_compute_payment_withholds_on_the_gain_only() -> None:
    assert compute_payment(12_000, 10_000, 10, 1400) == {
        "gross": 120_000, "gain": 20_000, "income_tax": 2_800, "local_tax": 280,
        "net": 116_920}
    assert compute_payment(9_000, 10_000, 10, 2000)["net"] == 90_000  # a loss: no tax
    assert compute_payment(10_001, 10_000, 3, 2000) == {
        "gross": 30_003, "gain": 3, "income_tax": 0, "local_tax": 0, "net": 30_003}


def test_redeem_all_pays_every_holder_and_leaves_nothing_outstanding() -> None:
    chain = redemption_world()
    price = 12_500
    issuer_before = chain.cash("issuer-1")
    supply_before = total_cash(chain)
    outcome = chain.execute(chain["issuer-1"], "offering", "redeem_all",
                            {"symbol": "APT1", "price": price})
    assert outcome.ok, outcome.error
    redemption_id = outcome.result["redemption_id"]
    assert outcome.result["record_height"] is None  # fixed by the next block's hook
    assert outcome.result["escrowed"] == price * 46  # every unit outstanding, the issuer's too
    assert [e.name for e in outcome.events] == ["CashEscrowed", "RedemptionDeclared"]
    chain.block()  # the next block: its hook fixes the register at the declaring block
    record_height = chain.height - 2  # the declaring block
    assert [e.name for o in chain.hook_outcomes for e in o.events] == ["Paused"]
    info = chain.query("ksd", "token", "info", symbol="APT1")
    assert info["paused"] and info["redemption"] == {"redemption_id": redemption_id,
                                                     "record_height": record_height}
    chain.fail("TOKEN_PAUSED", "alice", "token", "transfer", symbol="APT1", to=chain["bob"],
               amount=1)
    chain.fail("TOKEN_REDEEMED", "issuer-1", "token", "unpause", symbol="APT1")
    chain.fail("TOKEN_REDEEMED", "issuer-1", "token", "issue", symbol="APT1",
               to=chain["alice"], amount=1)
    results = settle_all(chain, redemption_id, steps=2)
    assert all(r["registered"] + r["paid"] + r["swept"] <= 2 for r in results)
    info = chain.query("ksd", "token", "info", symbol="APT1")
    assert (info["outstanding"], info["issued"], info["redeemed"], info["holders"]) == (
        0, 46, 46, 0)
    redemption = chain.query("fss", "offering", "redemption", redemption_id=redemption_id)
    assert redemption["status"] == "done" and redemption["returned"] == price * 5
    rates = {"alice": 1400, "bob": 1400, "carol": 2000, "dave": 0, "erin": 1400}
    withheld = 0
    for entry in redemption["entries"]:
        name = next(n for n in HOLDINGS if chain[n] == entry["account"])
        expected = compute_payment(price, UNIT_PRICE, HOLDINGS[name], rates[name])
        assert {k: entry[k] for k in expected} == expected, name
        assert (entry["status"], entry["burned"]) == ("paid", HOLDINGS[name])
        assert chain.cash(name) == expected["net"]
        withheld += expected["income_tax"] + expected["local_tax"]
    assert chain.cash("tax") == withheld
    assert chain.cash("issuer-1") == issuer_before - price * 41 - 0  # its own 5 came back
    assert total_cash(chain) == supply_before  # cash only moved
    chain.fail("ALREADY_PAID", "issuer-1", "offering", "settle", redemption_id=redemption_id,
               max_steps=1)


def test_the_register_is_the_cap_table_at_the_record_height() -> None:
    chain = redemption_world()
    record_time = chain.time + 5_000
    declared = chain.ok("issuer-1", "offering", "redeem_all", symbol="APT1", price=11_000,
                        record_time=record_time)
    redemption_id = declared["redemption_id"]
    assert declared["record_height"] is None
    chain.fail("RECORD_DATE_PENDING", "issuer-1", "offering", "settle",
               redemption_id=redemption_id, max_steps=10)
    chain.ok("alice", "token", "transfer", symbol="APT1", to=chain["bob"], amount=4)
    chain.advance(5_000)  # the next block reaches record_time: its hook fixes the height
    outcome = chain.execute(chain["bob"], "token", "transfer",
                            {"symbol": "APT1", "to": chain["alice"], "amount": 1})
    assert not outcome.ok and outcome.error["code"] == "TOKEN_PAUSED"
    redemption = chain.query("fss", "offering", "redemption", redemption_id=redemption_id)
    record_height = redemption["record_height"]
    assert record_height == chain.height - 2
    settle_all(chain, redemption_id, steps=3)
    redemption = chain.query("fss", "offering", "redemption", redemption_id=redemption_id)
    register = {e["account"]: e["units"] for e in redemption["entries"]}
    captable = chain.query_at(record_height, "fss", "token", "holders", symbol="APT1")
    at_record = {row["account"]: row["balance"] for row in captable["holders"]
                 if row["account"] != chain["issuer-1"]}
    assert register == at_record
    assert register[chain["alice"]] == 6 and register[chain["bob"]] == 11


def test_held_nets_wait_for_the_registrar() -> None:
    chain = redemption_world()
    chain.ok("ksd", "token", "freeze", symbol="APT1", account=chain["alice"], amount=2)
    chain.ok("broker-a", "identity", "update", account=chain["bob"],
             attrs={"aml_risk": "high"})
    chain.ok("broker-a", "identity", "revoke", account=chain["carol"], reason="closed")
    declared = chain.ok("issuer-1", "offering", "redeem_all", symbol="APT1", price=10_000)
    redemption_id = declared["redemption_id"]
    hold(chain, "dave", "withdrawals")
    settle_all(chain, redemption_id)
    redemption = chain.query("fss", "offering", "redemption", redemption_id=redemption_id)
    status = {e["account"]: e["status"] for e in redemption["entries"]}
    waiting = ("alice", "bob", "carol", "dave")
    assert [status[chain[n]] for n in waiting] == ["held"] * 4
    assert status[chain["erin"]] == "paid"
    assert redemption["held_net"] == sum(HOLDINGS[n] for n in waiting) * 10_000
    assert chain.query("ksd", "token", "info", symbol="APT1")["outstanding"] == 0
    for name in waiting:
        assert chain.cash(name) == 0
    chain.fail("UNAUTHORIZED", "issuer-1", "offering", "release",
               redemption_id=redemption_id, account=chain["alice"])
    chain.fail("NOT_HELD", "ksd", "offering", "release", redemption_id=redemption_id,
               account=chain["erin"])
    chain.fail("NOT_ENTITLED", "ksd", "offering", "release", redemption_id=redemption_id,
               account=chain["issuer-1"])
    chain.fail("UNKNOWN_REDEMPTION", "ksd", "offering", "release", redemption_id=2,
               account=chain["alice"])
    chain.fail("BAD_ARGS", "ksd", "offering", "release", redemption_id=redemption_id,
               account="alice")
    for name in waiting:
        chain.ok("ksd", "offering", "release", redemption_id=redemption_id,
                 account=chain[name])
        assert chain.cash(name) == HOLDINGS[name] * 10_000
    chain.fail("NOT_HELD", "ksd", "offering", "release", redemption_id=redemption_id,
               account=chain["alice"])
    ref = chain.query("fss", "offering", "redemption", redemption_id=redemption_id)
    assert (ref["held_count"], ref["held_net"], ref["released_count"]) == (0, 0, 4)


def test_units_moved_after_the_record_height_are_burned_unpaid() -> None:
    chain = redemption_world()
    declared = chain.ok("issuer-1", "offering", "redeem_all", symbol="APT1", price=10_000)
    # a court order moves units after the record height: the register holder is paid
    chain.ok("ksd", "token", "force_transfer", symbol="APT1", from_=chain["dave"],
             to=chain["erin"], amount=5, reason="court order")
    outcome_names: list[tuple[str, str, int]] = []
    for result_outcome in _settle_outcomes(chain, declared["redemption_id"]):
        outcome_names += [(e.data["account"], e.data["status"], e.data["units"])
                          for e in result_outcome.events if e.name == "Redeemed"]
    assert (chain["dave"], "paid", 20) in outcome_names
    assert (chain["erin"], "paid", 1) in outcome_names
    assert (chain["erin"], "burned", 5) in outcome_names  # what dave no longer had
    assert (chain["issuer-1"], "burned", 5) in outcome_names
    assert chain.cash("dave") == 20 * 10_000 and chain.cash("erin") == 10_000
    assert chain.query("ksd", "token", "info", symbol="APT1")["outstanding"] == 0


def _settle_outcomes(chain: Chain, redemption_id: int) -> list[Any]:
    outcomes = []
    while True:
        outcome = chain.execute(chain["issuer-1"], "offering", "settle",
                                {"redemption_id": redemption_id, "max_steps": 1_000})
        assert outcome.ok, outcome.error
        outcomes.append(outcome)
        if outcome.result["done"]:
            return outcomes


def test_a_redeemed_token_is_retired() -> None:
    chain = redemption_world()
    with_prospectus(chain)
    declared = chain.ok("issuer-1", "offering", "redeem_all", symbol="APT1", price=10_000,
                        record_time=chain.time + DAY_MS)
    chain.fail("TOKEN_REDEEMED", "issuer-1", "token", "issue", symbol="APT1",
               to=chain["alice"], amount=1)
    chain.fail("TOKEN_REDEEMED", "issuer-1", "offering", "open", symbol="APT1", price=PRICE,
               qty=10, start_time=chain.time, end_time=chain.time + 10_000, min_qty=1,
               max_qty=10, equal_bps=0)
    chain.fail("TOKEN_REDEEMED", "issuer-1", "offering", "redeem_all", symbol="APT1",
               price=1)
    # before the record height the token still trades, and may be paused and unpaused
    chain.ok("alice", "token", "transfer", symbol="APT1", to=chain["bob"], amount=1)
    chain.ok("issuer-1", "token", "pause", symbol="APT1")
    chain.ok("issuer-1", "token", "unpause", symbol="APT1")
    assert declared["redemption_id"] == 1


REDEEM_ORDER = ("BAD_ARGS", "UNKNOWN_TOKEN", "UNAUTHORIZED", "TOKEN_REDEEMED",
                "NO_ENTITLED_HOLDERS", "INSUFFICIENT_CASH")


def redeem_attempt(broken: set[str]) -> Any:
    chain = world()
    with_prospectus(chain)
    if "NO_ENTITLED_HOLDERS" not in broken:
        chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["alice"], amount=10)
    if "INSUFFICIENT_CASH" not in broken:
        chain.ok("bank", "cash", "mint", to=chain["issuer-1"], amount=10 * 10_000)
    if "TOKEN_REDEEMED" in broken:
        chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["bob"], amount=1)
        chain.ok("bank", "cash", "mint", to=chain["issuer-1"], amount=10_000)
        chain.ok("issuer-1", "offering", "redeem_all", symbol="APT1", price=10_000,
                 record_time=chain.time + DAY_MS)
    return chain.execute(chain["issuer-2" if "UNAUTHORIZED" in broken else "issuer-1"],
                         "offering", "redeem_all", {
                             "symbol": "NOPE" if "UNKNOWN_TOKEN" in broken else "APT1",
                             "price": 0 if "BAD_ARGS" in broken else 10_000})


def test_redeem_all_checks_in_order() -> None:
    ladder(REDEEM_ORDER, redeem_attempt)


def test_redeem_all_refuses_while_an_offering_is_open() -> None:
    chain = redemption_world()
    with_prospectus(chain)
    open_offering(chain, qty=10)
    chain.fail("OFFERING_OPEN", "issuer-1", "offering", "redeem_all", symbol="APT1",
               price=10_000)


@pytest.mark.parametrize("record_time", [-1, 367 * DAY_MS])
def test_the_record_time_is_checked_as_for_dividends(record_time: int) -> None:
    chain = redemption_world()
    chain.fail("BAD_ARGS", "issuer-1", "offering", "redeem_all", symbol="APT1", price=1,
               record_time=chain.time + record_time)


def test_settle_checks() -> None:
    chain = redemption_world()
    declared = chain.ok("issuer-1", "offering", "redeem_all", symbol="APT1", price=1,
                        record_time=chain.time + DAY_MS)
    redemption_id = declared["redemption_id"]
    for caller in ("issuer-2", "ksd", "alice"):
        chain.fail("UNAUTHORIZED", caller, "offering", "settle", redemption_id=redemption_id,
                   max_steps=1)
    chain.fail("BAD_ARGS", "issuer-1", "offering", "settle", redemption_id=redemption_id,
               max_steps=1_001)
    chain.fail("UNKNOWN_REDEMPTION", "issuer-1", "offering", "settle", redemption_id=5,
               max_steps=1)
    chain.fail("RECORD_DATE_PENDING", "issuer-1", "offering", "settle",
               redemption_id=redemption_id, max_steps=1)
    chain.advance(DAY_MS)
    settle_all(chain, redemption_id)
    chain.fail("ALREADY_PAID", "issuer-1", "offering", "settle", redemption_id=redemption_id,
               max_steps=1)


def test_who_reads_a_redemption() -> None:
    chain = redemption_world()
    declared = chain.ok("issuer-1", "offering", "redeem_all", symbol="APT1", price=1)
    settle_all(chain, declared["redemption_id"])
    public = chain.query("alice", "offering", "redemption",
                         redemption_id=declared["redemption_id"])
    assert "entries" not in public and public["status"] == "done"
    for reader in ("issuer-1", "ksd", "fss"):
        rows = chain.query(reader, "offering", "redemption",
                           redemption_id=declared["redemption_id"], limit=2)
        assert len(rows["entries"]) == 2 and rows["next"] == 2
    with pytest.raises(ChaincodeError) as caught:
        chain.query("nobody", "offering", "redemption", redemption_id=1)
    assert caught.value.code == "FORBIDDEN"
    assert [r["redemption_id"] for r in chain.query("bob", "offering", "redemptions",
                                                    symbol="APT1")] == [1]
