"""Red-team findings against chaincode.fds (docs/redteam-fds.md): one test per finding, each
the shortest sequence of transactions that shows the hole. Transactions run through
`Chain.execute`, which does what a block does: no admission check in front, as for a
transaction admitted before its sender was revoked or put in a block by a faulty primary."""

from __future__ import annotations

from chaincode.fds import MAX_ACTIVE_HOLDS
from tests.chaincode.helpers import DAY_MS, world
from tests.chaincode.test_fds import ALERT, cash_world, hold

HOUR_MS = 3_600_000


def alert_id(number: int) -> str:
    return f"{number:064x}"


# ---- F1: a broker uses up the account's hold budget before the registrar ---------------------

def test_a_broker_cannot_use_up_the_hold_budget_against_the_registrar() -> None:
    chain = cash_world()
    mine = [hold(chain, "alice", "all", by="broker-a", alert_id=alert_id(n))
            for n in range(MAX_ACTIVE_HOLDS)]
    # the responder's hold on a real alert must land, whatever the broker did before
    registrar = hold(chain, "alice", "all", alert_id=ALERT)
    for hold_id in mine:  # the broker lets its client go
        chain.ok("broker-a", "fds", "release", hold_id=hold_id, reason="cleared")
    chain.fail("ACCOUNT_HELD", "alice", "cash", "transfer", to=chain["bob"], amount=1)
    assert chain.query("ksd", "fds", "get", hold_id=registrar)["status"] == "active"


def test_a_hold_that_covers_more_is_never_refused_for_room() -> None:
    chain = cash_world()
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["alice"], amount=10)
    for n in range(MAX_ACTIVE_HOLDS):  # 64 structuring alerts, nobody released them
        hold(chain, "alice", "withdrawals", alert_id=alert_id(n))
    hold(chain, "alice", "all", alert_id=ALERT)  # then a pump and dump: trading must stop
    chain.fail("ACCOUNT_HELD", "alice", "token", "transfer", symbol="APT1", to=chain["bob"],
               amount=1)


# ---- F2: a revoked or recovered broker key still releases its holds --------------------------

def test_a_revoked_broker_cannot_release_its_hold() -> None:
    chain = cash_world()
    hold_id = hold(chain, "alice", "all", by="broker-a")
    chain.ok("ksd", "identity", "revoke", account=chain["broker-a"], reason="licence withdrawn")
    chain.fail("UNAUTHORIZED", "broker-a", "fds", "release", hold_id=hold_id, reason="bye")


def test_a_recovered_broker_key_cannot_release_its_hold() -> None:
    chain = cash_world()
    hold_id = hold(chain, "alice", "all", by="broker-a")
    chain.ok("ksd", "token", "recover", old=chain["broker-a"], new=chain["broker-a-2"],
             reason="key stolen")
    chain.fail("UNAUTHORIZED", "broker-a", "fds", "release", hold_id=hold_id, reason="thief")


# ---- F3: an alert id with "/" reaches into another alert's index -----------------------------

def test_an_alert_id_cannot_name_a_key_inside_another_alerts_index() -> None:
    chain = cash_world()
    chain.fail("BAD_ARGS", "broker-a", "fds", "hold", account=chain["alice"], scope="trading",
               reason="planted", alert_id=f"{ALERT}/000000000001")


# ---- F4: the withdrawal delay is evaded by one transfer --------------------------------------

def test_a_deposit_cannot_leave_by_a_transfer_before_the_delay() -> None:
    chain = cash_world()  # alice and bob past their delays
    chain.ok("bank", "cash", "mint", to=chain["alice"], amount=50_000_000)  # the victim's money
    # bob burns at once what alice sends him: the 24 h delay would do nothing
    chain.fail("WITHDRAWAL_DELAYED", "alice", "cash", "transfer", to=chain["bob"],
               amount=50_000_000)
    chain.advance(24 * HOUR_MS)
    chain.ok("alice", "cash", "transfer", to=chain["bob"], amount=50_000_000)


# ---- F5: a hold on a key recovered away lands on the dead key --------------------------------

def test_a_hold_on_a_recovered_key_follows_it_to_its_successor() -> None:
    chain = cash_world()
    old, new = chain["alice"], chain["alice-2"]
    chain.accounts["alice-2"] = new
    chain.ok("ksd", "token", "recover", old=old, new=new, reason="says the key was lost")
    # the responder was behind: the alert names the old key
    chain.ok("ksd", "fds", "hold", account=old, scope="all", reason=f"alert {ALERT}",
             alert_id=ALERT)
    chain.fail("ACCOUNT_HELD", "alice-2", "cash", "transfer", to=chain["bob"], amount=1)
    assert chain.query("ksd", "fds", "holds", account=new)["held"] == [
        "withdrawals", "trading", "all"]


# ---- F6: the broker lifts its client's limits by calling it a corporation --------------------

def test_a_broker_cannot_lift_the_limits_by_changing_legal_form() -> None:
    chain = world()
    chain.ok("bank", "cash", "mint", to=chain["alice"], amount=500_000_000)
    chain.execute(chain["broker-a"], "identity", "update",
                  {"account": chain["alice"], "attrs": {"legal_form": "corporation"}})
    chain.fail("WITHDRAWAL_DELAYED", "bank", "cash", "burn", from_=chain["alice"],
               amount=500_000_000)
    chain.advance(3 * DAY_MS)
    chain.fail("DAILY_LIMIT_EXCEEDED", "bank", "cash", "burn", from_=chain["alice"],
               amount=500_000_000)


def test_the_registrar_may_still_correct_a_legal_form() -> None:
    chain = world()
    chain.ok("ksd", "identity", "update", account=chain["alice"],
             attrs={"legal_form": "corporation"})
    assert chain.query("ksd", "identity", "get", account=chain["alice"])["attrs"][
        "legal_form"] == "corporation"
