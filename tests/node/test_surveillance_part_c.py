"""Issue 30, red-team part C: later activity judged afresh (no open episode swallows steady
abuse), S7 asking who caused the rise, S8 judging the insider status an account had when it
traded, and S9 linking owners by transfers with structuring as the sender's act
(tests/node/surveillance_desk.py: the real market contract in an in-memory executor)."""

from __future__ import annotations

import pytest

from consensus import codec
from node.surveillance.records import Limits
from tests.node.surveillance_desk import DAY, HOUR, MINUTE, SYMBOL, Desk


def tx_ids(*txs) -> set[str]:
    return {tx.tx_id.hex() for tx in txs}


def listed(desk: Desk, rule: str) -> set[str]:
    """Every transaction some version of some alert of `rule` lists as evidence."""
    return {tx for alert in desk.alerts(rule) for tx in alert["evidence"]}


# ---- afresh: steady abuse over a sliding window --------------------------------------------

@pytest.mark.parametrize("gaps_h", [(1,), (1, 3, 2), (5, 1, 1, 7)])
def test_every_wash_of_a_long_steady_stream_is_in_some_alert(gaps_h):
    """Property: over days of repeated washes (the measure over S1's sliding window never
    doubles, and the episode never goes quiet), the union of the evidence of the alerts and
    their versions holds every wash trade."""
    desk = Desk()
    desk.background()
    desk.pay("a", "b", 1_000)
    desk.step()
    washes = []
    for n in range(60):
        seller, buyer = ("a", "b") if n % 2 else ("b", "a")
        washes.append(desk.place(seller, "sell", 10_000, 20))
        washes.append(desk.place(buyer, "buy", 10_000, 20))
        desk.step(gaps_h[n % len(gaps_h)] * HOUR)
    assert tx_ids(*washes) <= listed(desk, "S1")
    assert len(desk.alerts("S1")) <= 60  # at most one version per block of abuse


def test_every_structured_payment_of_weeks_is_in_some_alert():
    desk = Desk()
    payments = []
    for day in range(21):
        payments.append(desk.pay("a", "bcdefg"[day % 6], 9_600_000))
        desk.step(DAY)
    assert tx_ids(*payments) <= listed(desk, "S9")


# ---- S8: the status an account had when it traded ------------------------------------------

def publish(desk: Desk) -> None:
    desk.world.send("issuer-1", "token", "set_document", symbol=SYMBOL, name="r",
                    uri="https://example.org/r", sha256=codec.sha256(b"r").hex())
    desk.step()


def resign(desk: Desk, name: str) -> None:
    desk.world.send("broker-a", "identity", "update", account=desk[name],
                    attrs={"insider_of": []})
    desk.step(MINUTE)


def test_s8_an_insider_who_resigned_after_buying_is_judged_as_one():
    desk = Desk()
    desk.background()
    desk.make_insider("b")
    desk.step()
    buys = []
    for _ in range(2):
        desk.place("k", "sell", 10_000, 100)
        buys.append(desk.place("b", "buy", 10_000, 100))
        desk.step(HOUR)
    resign(desk, "b")
    desk.place("k", "sell", 10_000, 5)
    after = desk.place("b", "buy", 10_000, 5)  # no longer an insider: not an insider trade
    desk.step(HOUR)
    publish(desk)
    alerts = [a for a in desk.alerts("S8") if a["metrics"]["insider"]]
    assert [a["accounts"] for a in alerts] == [desk.accounts("b")]
    assert tx_ids(*buys) <= set(alerts[0]["evidence"])
    assert not tx_ids(after) & set(alerts[0]["evidence"])


def test_s8_a_former_insider_gives_way_to_a_current_one_in_a_full_index():
    desk = Desk(limits=Limits(insiders=1))
    desk.background()
    desk.make_insider("b")
    desk.step()
    resign(desk, "b")  # b's former status fills the index
    desk.make_insider("c")
    desk.step()
    desk.place("k", "sell", 10_000, 100)
    desk.place("c", "buy", 10_000, 100)
    desk.step(HOUR)
    publish(desk)
    alerts = [a for a in desk.alerts("S8") if a["metrics"]["insider"]]
    assert [a["accounts"] for a in alerts] == [desk.accounts("c")]


# ---- S9: transfers link, per-recipient totals, the sender's act ----------------------------

def alert_ids(desk: Desk, rule: str) -> dict[str, dict]:
    """alert_id -> its latest version."""
    return {a["alert_id"]: a for a in desk.alerts(rule)}


def test_s9_withdrawals_split_over_two_accounts_linked_by_a_transfer():
    desk = Desk()
    desk.pay("a", "b", 1_000)  # one owner under PROTOCOL: cash moved between them
    desk.step(3 * DAY)  # the FDS delay of a new account's first withdrawal (chaincode.fds)
    burns = []
    for _ in range(3):
        burns += [desk.withdraw("a", 5_000_000), desk.withdraw("b", 4_500_000)]
        desk.step(DAY)
    (alert,) = alert_ids(desk, "S9").values()
    assert alert["accounts"] == desk.accounts("a", "b") and alert["metrics"]["units"] == 3
    assert set(alert["evidence"]) == tx_ids(*burns)


def test_s9_one_account_linked_by_a_transfer_is_one_alert():
    desk = Desk()
    desk.pay("a", "b", 1_000)
    desk.step(3 * DAY)
    for _ in range(5):
        desk.withdraw("a", 9_500_000)
        desk.step(DAY)
    assert [a["accounts"] for a in alert_ids(desk, "S9").values()] == [desk.accounts("a")]
    assert [a["version"] for a in desk.alerts("S9")] == [1, 2, 3]  # days 3, 4 and 5


def test_s9_per_recipient_day_totals_each_split_in_two():
    desk = Desk()
    payments = []
    for _ in range(3):
        for to in "cd":
            payments += [desk.pay("a", to, 5_000_000), desk.pay("a", to, 4_600_000)]
        desk.step(DAY)
    (alert,) = alert_ids(desk, "S9").values()
    assert alert["accounts"] == desk.accounts("a") and alert["metrics"]["direction"] == "out"
    assert alert["metrics"]["units"] == 6 and set(alert["evidence"]) == tx_ids(*payments)


def test_s9_a_landlord_receiving_rents_is_not_structuring():
    """Three tenants each pay a month's rent of 9.5M in one week: each is one payment of its
    sender's, and no day's receipts passed the threshold."""
    desk = Desk()
    for tenant in "cde":
        desk.pay(tenant, "a", 9_500_000)
        desk.step(2 * DAY)
    assert desk.alerts("S9") == []
