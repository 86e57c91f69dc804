"""Issue #12: one pre-state / transaction / post-state test per defect the compliance review
found (each failed on the code before the fix). Item 4 (investors follow a broker's key
recovery) is in test_identity.py; the record date compared through the audit route is in
tests/node/test_audit.py."""

from __future__ import annotations

from typing import Any

import pytest

from chaincode.compliance import MAX_LOCKS
from consensus import codec
from tests.chaincode.helpers import DAY_MS, YEAR_MS, Chain, account_of, world
from tests.chaincode.test_dividend import pay_all


def entitlements(chain: Chain, dividend_id: int) -> dict[str, dict[str, Any]]:
    rows = chain.query("fss", "dividend", "payments", dividend_id=dividend_id)["entitlements"]
    return {row["account"]: row for row in rows}


def cash_of(chain: Chain, name: str) -> dict[str, int]:
    result = chain.query("fss", "cash", "balance", account=chain[name])
    return {key: result[key] for key in ("balance", "escrowed", "available")}


# ---- 1. tax class from legal_form and resident --------------------------------------------

def test_withholding_follows_legal_form_and_residence_not_investor_type() -> None:
    """Pre: holders of one unit each: a resident individual (general), a non-resident
    individual, a domestic corporation that is an institutional professional investor, a
    foreign corporation (`corporate`), and broker-a's own account (an organisation).
    Tx: a dividend of 1,000,000 KRW over 5 units, paid.
    Post: income tax 1400 / 2000 / 0 / 2000 / 0 bps, each plus 10% local tax."""
    chain = world()
    chain.register("kim")  # resident individual, general
    chain.register("smith", investor_type="professional", country="US", resident=False)
    chain.register("kdb", investor_type="professional", legal_form="corporation")
    chain.register("acme", investor_type="corporate", country="US", resident=False)
    for name in ("kim", "smith", "kdb", "acme", "broker-a"):
        chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain[name], amount=1)
    chain.ok("bank", "cash", "mint", to=chain["issuer-1"], amount=1_000_000)
    declared = chain.ok("issuer-1", "dividend", "declare", symbol="APT1", total=1_000_000)
    pay_all(chain, declared["dividend_id"])
    rows = entitlements(chain, declared["dividend_id"])
    expected = {"kim": ("resident_individual", 1400, 28_000, 2_800),
                "smith": ("non_resident_individual", 2000, 40_000, 4_000),
                "kdb": ("domestic_corporation", 0, 0, 0),
                "acme": ("foreign_corporation", 2000, 40_000, 4_000),
                "broker-a": ("domestic_corporation", 0, 0, 0)}
    for name, (klass, bps, income_tax, local_tax) in expected.items():
        row = rows[chain[name]]
        assert (row["class"], row["it_bps"], row["gross"]) == (klass, bps, 200_000), name
        assert (row["income_tax"], row["local_tax"]) == (income_tax, local_tax), name
        assert chain.cash(name) == 200_000 - income_tax - local_tax


# ---- 2. record date --------------------------------------------------------------------------

def register_at(chain: Chain, dividend_id: int) -> dict[str, int]:
    return {account: row["balance"] for account, row in entitlements(chain, dividend_id).items()}


def captable_at(chain: Chain, height: int) -> dict[str, int]:
    """token.holders at `height`, as /v1/audit/captable?at=height reads it, issuer left out
    (the issuer is not entitled)."""
    page = chain.query_at(height, "fss", "token", "holders", symbol="APT1")
    issuer = chain["issuer-1"]
    return {row["account"]: row["balance"] for row in page["holders"]
            if row["account"] != issuer}


def test_register_is_the_cap_table_at_the_record_height() -> None:
    """Pre: alice 10, bob 10. Tx: one block with alice -> bob 5, declare, bob -> carol 3.
    Post: the record height is the previous block; the register is the cap table there
    (alice 10, bob 10), not the state at declare's position in its block (alice 5, bob 15)."""
    chain = world()
    for name in ("alice", "bob"):
        chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain[name], amount=10)
    chain.ok("bank", "cash", "mint", to=chain["issuer-1"], amount=2_000)
    before = chain.height - 1
    outcomes = chain.block(
        chain.tx("alice", "token", "transfer", symbol="APT1", to=chain["bob"], amount=5),
        chain.tx("issuer-1", "dividend", "declare", symbol="APT1", total=2_000),
        chain.tx("bob", "token", "transfer", symbol="APT1", to=chain["carol"], amount=3))
    assert all(outcome.ok for outcome in outcomes), [o.error for o in outcomes]
    declaration = outcomes[1].result
    assert declaration["record_height"] == before
    pay_all(chain, declaration["dividend_id"])
    assert register_at(chain, declaration["dividend_id"]) == captable_at(chain, before) == {
        chain["alice"]: 10, chain["bob"]: 10}
    assert chain.cash("alice") == chain.cash("bob")


def test_record_time_announced_ahead() -> None:
    """Pre: alice 10. Tx: declare with record_time 3 days ahead; trades until then; pay.
    Post: pay before the record date -> RECORD_DATE_PENDING and `get` has no record height;
    the first block at or after record_time fixes it (begin-block hook) to the last block
    before record_time, and the register equals the cap table at that height."""
    chain = world()
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["alice"], amount=10)
    chain.ok("bank", "cash", "mint", to=chain["issuer-1"], amount=1_000)
    record_time = chain.time + 3 * DAY_MS
    declared = chain.ok("issuer-1", "dividend", "declare", symbol="APT1", total=1_000,
                        record_time=record_time)
    dividend_id = declared["dividend_id"]
    assert declared["status"] == "pending" and declared["record_height"] is None
    chain.fail("RECORD_DATE_PENDING", "issuer-1", "dividend", "pay", dividend_id=dividend_id,
               max_holders=10)
    chain.ok("alice", "token", "transfer", symbol="APT1", to=chain["bob"], amount=4)
    chain.time = record_time - 1  # the next block: 1 ms before the record time
    chain.ok("alice", "token", "transfer", symbol="APT1", to=chain["carol"], amount=1)
    last_before = chain.height - 1
    assert chain.query("alice", "dividend", "get", dividend_id=dividend_id)[
        "record_height"] is None
    chain.time = record_time  # this block reaches the record time: its hook fixes it
    chain.ok("bob", "token", "transfer", symbol="APT1", to=chain["carol"], amount=4)
    hook = chain.hook_outcomes[0]  # hooks run in contract order: dividend's first
    assert hook.ok and hook.result == 1
    fixed = chain.query("alice", "dividend", "get", dividend_id=dividend_id)
    assert (fixed["status"], fixed["record_height"]) == ("registering", last_before)
    pay_all(chain, dividend_id)
    assert register_at(chain, dividend_id) == captable_at(chain, last_before) == {
        chain["alice"]: 5, chain["bob"]: 4, chain["carol"]: 1}


def test_pay_fixes_a_due_record_date_itself() -> None:
    """Pre: a dividend pending with record_time reached by the block that carries pay (the
    hook of an earlier block did not run past it). Post: pay fixes the record height (the
    same one the hook would) and proceeds."""
    chain = world()
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["alice"], amount=10)
    chain.ok("bank", "cash", "mint", to=chain["issuer-1"], amount=1_000)
    declared = chain.ok("issuer-1", "dividend", "declare", symbol="APT1", total=1_000,
                        record_time=chain.time + 10_000)
    last_before = chain.height - 1
    chain.advance(20_000)
    result = chain.ok("issuer-1", "dividend", "pay", dividend_id=declared["dividend_id"],
                      max_holders=10)
    assert result["done"] and chain.cash("alice") == 1_000 - 140 - 14
    assert chain.query("alice", "dividend", "get", dividend_id=declared["dividend_id"])[
        "record_height"] == last_before


# ---- 3. dividends escrowed at declare ---------------------------------------------------------

def test_declare_escrows_the_total() -> None:
    """Pre: the issuer holds 1,000,000 KRW. Tx: declare 1,000,000 twice. Post: the second is
    INSUFFICIENT_CASH; the first is escrowed (balance 1,000,000, escrowed 1,000,000,
    available 0) so the issuer cannot spend it, and paying it empties the escrow."""
    chain = world()
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["alice"], amount=10)
    chain.ok("bank", "cash", "mint", to=chain["issuer-1"], amount=1_000_000)
    first = chain.ok("issuer-1", "dividend", "declare", symbol="APT1", total=1_000_000)
    chain.fail("INSUFFICIENT_CASH", "issuer-1", "dividend", "declare", symbol="APT1",
               total=1_000_000)
    assert cash_of(chain, "issuer-1") == {"balance": 1_000_000, "escrowed": 1_000_000,
                                          "available": 0}
    chain.fail("INSUFFICIENT_BALANCE", "issuer-1", "cash", "transfer", to=chain["bob"],
               amount=1)
    chain.fail("INSUFFICIENT_BALANCE", "bank", "cash", "burn", from_=chain["issuer-1"],
               amount=1)
    pay_all(chain, first["dividend_id"])
    assert cash_of(chain, "issuer-1") == {"balance": 0, "escrowed": 0, "available": 0}
    assert chain.cash("alice") + chain.cash("tax") == 1_000_000


# ---- 5. recovery of a revoked account carries every record ---------------------------------

def test_recover_a_revoked_account_carries_every_record() -> None:
    """Pre: alice (general) bought 4,000 units (40,000,000 KRW counted), holds a locked lot
    and a freeze, and is entitled to a dividend not yet paid; her broker revokes her lost key.
    Tx: the registrar recovers alice -> alice-2. Post: it succeeds (was ACCOUNT_REVOKED);
    alice-2 is active with the same holding, lock-up expiry, freeze, investment window, and is
    paid alice's dividend."""
    chain = world(lockup_ms=YEAR_MS)
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["carol"], amount=5_000)
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["alice"], amount=1_000)
    lot_until = chain.time - 1000 + YEAR_MS
    chain.ok("ksd", "token", "force_transfer", symbol="APT1", from_=chain["carol"],
             to=chain["bob"], amount=3_000, reason="court")
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["alice"], amount=3_000)
    chain.ok("ksd", "token", "freeze", symbol="APT1", account=chain["alice"], amount=7)
    chain.ok("bank", "cash", "mint", to=chain["issuer-1"], amount=9_000)
    declared = chain.ok("issuer-1", "dividend", "declare", symbol="APT1", total=9_000)
    chain.ok("broker-a", "identity", "revoke", account=chain["alice"], reason="lost phone")
    before = chain.query("ksd", "token", "balance", symbol="APT1", account=chain["alice"])
    new = account_of("alice-2")
    chain.ok("ksd", "token", "recover", old=chain["alice"], new=new, reason="lost phone")
    chain.accounts["alice-2"] = new
    record = chain.query("ksd", "identity", "get", account=new)
    assert record["status"] == "active" and record["recovered_from"] == chain["alice"]
    after = chain.query("ksd", "token", "balance", symbol="APT1", account=new)
    assert after == dict(before, account=new)
    assert [lot_until, 1_000] in after["locks"] and after["frozen"] == 7
    window = chain.query("ksd", "token", "investment", account=new)
    assert window["net"] == 40_000_000
    chain.fail("ACCOUNT_REVOKED", "ksd", "token", "recover", old=chain["alice"],
               new=account_of("alice-3"), reason="again")  # already recovered
    pay_all(chain, declared["dividend_id"])
    entry = chain.query("ksd", "dividend", "entitlement", dividend_id=declared["dividend_id"],
                        account=new)
    assert entry["account"] == chain["alice"]
    # frozen units of the token at payment: held (item 8), then released to the new key
    assert entry["status"] == "held"
    released = chain.ok("ksd", "dividend", "release", dividend_id=declared["dividend_id"],
                        account=new)
    assert released["paid_to"] == new and chain.cash("alice-2") == entry["net"] > 0


# ---- 6. general-investor limits cannot be bypassed ----------------------------------------

def test_a_sale_offsets_only_purchases_that_counted() -> None:
    """Pre: alice bought 50,000 units (500,000,000 KRW) while professional (not counted),
    then became a general investor. Tx: she sells them all, then buys. Post: net stays 0
    (was -500,000,000) and she can buy 100,000,000 KRW and not a won more (was 600,000,000)."""
    chain = world(max_supply=10_000_000)
    chain.ok("broker-a", "identity", "update", account=chain["alice"],
             attrs={"investor_type": "professional"})
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["alice"], amount=50_000)
    chain.ok("broker-a", "identity", "update", account=chain["alice"],
             attrs={"investor_type": "general"})
    chain.ok("alice", "token", "transfer", symbol="APT1", to=chain["carol"], amount=50_000)
    assert chain.query("alice", "token", "investment", account=chain["alice"])["net"] == 0
    chain.ok("carol", "token", "transfer", symbol="APT1", to=chain["alice"], amount=10_000)
    chain.fail("INVESTMENT_LIMIT_EXCEEDED", "carol", "token", "transfer", symbol="APT1",
               to=chain["alice"], amount=1)


def test_forced_transfer_in_then_sale_makes_no_room() -> None:
    """Pre: alice bought 10,000 units (the whole limit); 20,000 more reach her by forced
    transfer (not counted). Tx: she sells 20,000, then buys 1. Post: still over the limit."""
    chain = world()
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["carol"], amount=30_000)
    chain.ok("carol", "token", "transfer", symbol="APT1", to=chain["alice"], amount=10_000)
    chain.ok("ksd", "token", "force_transfer", symbol="APT1", from_=chain["carol"],
             to=chain["alice"], amount=20_000, reason="inheritance")
    chain.ok("alice", "token", "transfer", symbol="APT1", to=chain["dave"], amount=10_000)
    chain.ok("alice", "token", "transfer", symbol="APT1", to=chain["dave"], amount=10_000)
    # FIFO: her sales offset her counted purchase; nothing else makes room
    assert chain.query("alice", "token", "investment", account=chain["alice"])["net"] == 0
    chain.ok("dave", "token", "transfer", symbol="APT1", to=chain["alice"], amount=10_000)
    chain.fail("INVESTMENT_LIMIT_EXCEEDED", "dave", "token", "transfer", symbol="APT1",
               to=chain["alice"], amount=1)


def test_recovering_the_issuers_key_keeps_its_investors_windows() -> None:
    """Pre: alice bought the whole issuer limit (60,000,000 KRW) of issuer-1's APT1. Tx: the
    registrar recovers issuer-1's key. Post: alice still cannot buy APT1 (the window was
    reset before), nor a new token of the recovered issuer."""
    chain = world(issuer_annual_limit=60_000_000)
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["carol"], amount=10_000)
    chain.ok("carol", "token", "transfer", symbol="APT1", to=chain["alice"], amount=6_000)
    new = account_of("issuer-1b")
    chain.ok("ksd", "token", "recover", old=chain["issuer-1"], new=new, reason="HSM failure")
    chain.fail("INVESTMENT_LIMIT_EXCEEDED", "carol", "token", "transfer", symbol="APT1",
               to=chain["alice"], amount=1)
    chain.fail("INVESTMENT_LIMIT_EXCEEDED", new, "token", "issue", symbol="APT1",
               to=chain["alice"], amount=1)
    by_issuer = chain.query("alice", "token", "investment", account=chain["alice"])["by_issuer"]
    assert by_issuer == {chain["issuer-1"]: 60_000_000}  # kept under the issuer's first key


# ---- 7. lock-ups end exactly lockup_ms after arrival ----------------------------------------

def test_lockups_are_never_extended_by_merging_lots() -> None:
    """Pre: 33 daily issues to alice under a 60-day lock-up (the old bound merged lots past
    32). Tx: an hour after the first lot's expiry, transfer its units. Post: they are
    transferable (before: nothing was), and each later lot unlocks on its own day."""
    chain = world(lockup_ms=60 * DAY_MS)
    first_until = chain.time + 60 * DAY_MS
    for _ in range(33):
        chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["alice"], amount=10)
        chain.advance(DAY_MS - 1000)
    chain.time = first_until + 3_600_000
    balance = chain.query("alice", "token", "balance", symbol="APT1", account=chain["alice"])
    assert balance["transferable"] == 10 and len(balance["locks"]) == 32
    chain.ok("alice", "token", "transfer", symbol="APT1", to=chain["bob"], amount=10)
    chain.fail("LOCKUP_ACTIVE", "alice", "token", "transfer", symbol="APT1",
               to=chain["bob"], amount=1)
    chain.time = first_until + DAY_MS
    chain.ok("alice", "token", "transfer", symbol="APT1", to=chain["bob"], amount=10)


def test_lockup_lots_are_bounded_by_refusing_with_a_code() -> None:
    """Pre: alice holds MAX_LOCKS lots with distinct expiries. Tx: one more issue with a new
    expiry. Post: LOCKUP_LOTS_EXCEEDED (no lot is merged); an issue in the same block as the
    last lot (same expiry) still joins it; once the first lot expires there is room."""
    chain = world(lockup_ms=YEAR_MS)
    first_end = chain.time + DAY_MS
    # pre-state written directly (MAX_LOCKS daily issues would be slow): lots ending a day
    # apart from a day ahead
    holding = {"balance": MAX_LOCKS, "frozen": 0,
               "locks": [[first_end + i * DAY_MS, 1] for i in range(MAX_LOCKS)]}
    token = codec.unpack(chain.state.values["token/meta/APT1"])
    token.update(issued=MAX_LOCKS, outstanding=MAX_LOCKS, holders=1)
    chain.state.values["token/meta/APT1"] = codec.pack(token)
    chain.state.values[f"token/bal/APT1/{chain['alice']}"] = codec.pack(holding)
    chain.state.values[f"token/held/{chain['alice']}/APT1"] = codec.pack(1)
    chain.fail("LOCKUP_LOTS_EXCEEDED", "issuer-1", "token", "issue", symbol="APT1",
               to=chain["alice"], amount=1)
    assert chain.query("alice", "token", "can_transfer", symbol="APT1", from_=chain["alice"],
                       to=chain["bob"], amount=1)["code"] == "LOCKUP_ACTIVE"
    chain.time = first_end  # the first lot has ended: room for one
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["alice"], amount=1)
    locks = chain.query("alice", "token", "balance", symbol="APT1", account=chain["alice"])[
        "locks"]
    assert len(locks) == MAX_LOCKS and locks[-1] == [first_end + YEAR_MS, 1]
    assert locks[0] == [first_end + DAY_MS, 1]  # every other lot untouched


# ---- 8. AML on the KRW leg; dividends held -------------------------------------------------

def test_cash_transfer_runs_the_identity_checks() -> None:
    """Pre: henry is AML high-risk with 999,999 KRW. Tx: henry -> alice, alice -> henry.
    Post: AML_BLOCKED both ways (was allowed); order INSUFFICIENT_BALANCE, SENDER_NOT_VERIFIED,
    RECIPIENT_NOT_VERIFIED, AML_BLOCKED."""
    chain = world()
    chain.register("henry", aml_risk="high")
    chain.ok("bank", "cash", "mint", to=chain["henry"], amount=999_999)
    chain.ok("bank", "cash", "mint", to=chain["alice"], amount=10)
    chain.fail("INSUFFICIENT_BALANCE", "henry", "cash", "transfer", to=account_of("ghost"),
               amount=1_000_000)
    chain.fail("RECIPIENT_NOT_VERIFIED", "henry", "cash", "transfer", to=account_of("ghost"),
               amount=999_999)
    chain.fail("AML_BLOCKED", "henry", "cash", "transfer", to=chain["alice"], amount=999_999)
    chain.fail("AML_BLOCKED", "alice", "cash", "transfer", to=chain["henry"], amount=1)
    chain.ok("broker-a", "identity", "revoke", account=chain["henry"], reason="AML")
    chain.fail("SENDER_NOT_VERIFIED", "henry", "cash", "transfer", to=chain["alice"], amount=1)


def test_dividend_net_is_held_for_revoked_aml_high_and_frozen_holders() -> None:
    """Pre: alice (revoked), bob (AML high), carol (units frozen), dave (clean), 1 unit each.
    Tx: a 4,000 KRW dividend, paid; then the registrar releases carol's.
    Post: only dave is paid; the others' nets stay in the escrow (status held), withholding
    goes to tax; release pays carol, only the registrar may release, and only a held one."""
    chain = world()
    for name in ("alice", "bob", "carol", "dave"):
        chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain[name], amount=1)
    chain.ok("broker-a", "identity", "revoke", account=chain["alice"], reason="closed")
    chain.ok("broker-a", "identity", "update", account=chain["bob"], attrs={"aml_risk": "high"})
    chain.ok("ksd", "token", "freeze", symbol="APT1", account=chain["carol"])
    chain.ok("bank", "cash", "mint", to=chain["issuer-1"], amount=4_000)
    declared = chain.ok("issuer-1", "dividend", "declare", symbol="APT1", total=4_000)
    dividend_id = declared["dividend_id"]
    pay_all(chain, dividend_id)
    rows = entitlements(chain, dividend_id)
    status = {name: rows[chain[name]]["status"] for name in ("alice", "bob", "carol", "dave")}
    assert status == {"alice": "held", "bob": "held", "carol": "held", "dave": "paid"}
    held = sum(rows[chain[n]]["net"] for n in ("alice", "bob", "carol"))
    assert (chain.cash("alice"), chain.cash("bob"), chain.cash("carol")) == (0, 0, 0)
    assert chain.cash("dave") == 1_000
    assert cash_of(chain, "issuer-1") == {"balance": held, "escrowed": held, "available": 0}
    declaration = chain.query("fss", "dividend", "get", dividend_id=dividend_id)
    assert declaration["done"] and (declaration["held_count"], declaration["held_net"]) == (
        3, held)
    chain.fail("UNAUTHORIZED", "issuer-1", "dividend", "release", dividend_id=dividend_id,
               account=chain["carol"])
    chain.fail("NOT_HELD", "ksd", "dividend", "release", dividend_id=dividend_id,
               account=chain["dave"])
    chain.ok("ksd", "dividend", "release", dividend_id=dividend_id, account=chain["carol"])
    assert chain.cash("carol") == rows[chain["carol"]]["net"]
    chain.fail("NOT_HELD", "ksd", "dividend", "release", dividend_id=dividend_id,
               account=chain["carol"])
    assert cash_of(chain, "issuer-1")["escrowed"] == held - rows[chain["carol"]]["net"]


# ---- 9. forced transfer takes the freeze with the units -----------------------------------

def test_forced_transfer_of_frozen_units_takes_the_freeze_down() -> None:
    """Pre: alice 100, 30 frozen. Tx: force-transfer 30 to bob. Post: alice 70 with nothing
    frozen (was 30 still frozen); bob's 30 arrive unfrozen and unlocked."""
    chain = world(lockup_ms=YEAR_MS)
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["alice"], amount=100)
    chain.ok("ksd", "token", "freeze", symbol="APT1", account=chain["alice"], amount=30)
    chain.ok("ksd", "token", "force_transfer", symbol="APT1", from_=chain["alice"],
             to=chain["bob"], amount=30, reason="court seizure")
    alice = chain.query("ksd", "token", "balance", symbol="APT1", account=chain["alice"])
    bob = chain.query("ksd", "token", "balance", symbol="APT1", account=chain["bob"])
    assert (alice["balance"], alice["frozen"]) == (70, 0)
    assert (bob["balance"], bob["frozen"], bob["locked"]) == (30, 0, 0)


# ---- 10. max_holders counts investors -------------------------------------------------------

def test_max_holders_does_not_count_the_issuer() -> None:
    """Pre: max_holders = 2, the issuer holds its own units, alice holds. Tx: issue to bob,
    then the issuer transfers to carol. Post: bob fits (was MAX_HOLDERS_EXCEEDED); carol is
    the third investor and does not."""
    chain = world(max_holders=2)
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["issuer-1"], amount=100)
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["alice"], amount=10)
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["bob"], amount=10)
    chain.fail("MAX_HOLDERS_EXCEEDED", "issuer-1", "token", "issue", symbol="APT1",
               to=chain["carol"], amount=1)
    prediction = chain.query("ksd", "token", "can_transfer", symbol="APT1",
                             from_=chain["issuer-1"], to=chain["carol"], amount=1)
    assert prediction["code"] == "MAX_HOLDERS_EXCEEDED"
    chain.fail("MAX_HOLDERS_EXCEEDED", "issuer-1", "token", "transfer", symbol="APT1",
               to=chain["carol"], amount=1)
    chain.ok("alice", "token", "transfer", symbol="APT1", to=chain["issuer-1"], amount=10)
    chain.ok("issuer-1", "token", "transfer", symbol="APT1", to=chain["carol"], amount=1)


# ---- 11. declare is bounded ----------------------------------------------------------------

@pytest.mark.parametrize("holders", [3, 60])
def test_declare_does_constant_work_and_pay_steps_are_bounded(holders: int) -> None:
    """Pre: `holders` investors. Tx: declare, then pay with max_holders = 7.
    Post: declare writes the same few keys for 3 or 60 holders (it wrote 2 per holder);
    each pay writes O(7) keys; the register is complete and exact."""
    chain = world()
    names = [f"holder-{i}" for i in range(holders)]
    for index, name in enumerate(names):
        chain.register(name)
        chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain[name], amount=index + 1)
    chain.ok("bank", "cash", "mint", to=chain["issuer-1"], amount=1_000_003)
    outcome = chain.execute(chain["issuer-1"], "dividend", "declare",
                            {"symbol": "APT1", "total": 1_000_003})
    assert outcome.ok and len(outcome.writes) <= 8, sorted(outcome.writes)
    dividend_id = outcome.result["dividend_id"]
    while True:
        step = chain.execute(chain["issuer-1"], "dividend", "pay",
                             {"dividend_id": dividend_id, "max_holders": 7})
        assert step.ok, step.error
        assert step.result["registered"] + step.result["allocated"] + step.result["paid"] <= 7
        assert len(step.writes) <= 3 * 7 + 8, len(step.writes)
        if step.result["done"]:
            break
    rows = entitlements(chain, dividend_id)
    assert len(rows) == holders
    assert sum(row["gross"] for row in rows.values()) == 1_000_003
