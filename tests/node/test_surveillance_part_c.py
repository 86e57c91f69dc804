"""Issue 30, red-team part C: later activity judged afresh (no open episode swallows steady
abuse), S7 asking who caused the rise, S8 judging the insider status an account had when it
traded, and S9 linking owners by transfers with structuring as the sender's act
(tests/node/surveillance_desk.py: the real market contract in an in-memory executor)."""

from __future__ import annotations

import pytest

from consensus import codec
from node.surveillance.records import Limits
from node.surveillance.rules.sessions import compute_session_close
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
    desk.pay("a", "b", 1_000_000)
    desk.step()
    washes = []
    for n in range(60):
        seller, buyer = ("a", "b") if n % 2 else ("b", "a")
        washes.append(desk.place(seller, "sell", 10_000, 20))
        washes.append(desk.place(buyer, "buy", 10_000, 20))
        desk.step(gaps_h[n % len(gaps_h)] * HOUR)
    assert tx_ids(*washes) <= listed(desk, "S1")
    assert len(desk.alerts("S1")) <= 60  # at most one version per block of abuse


def test_a_token_outlier_makes_a_version_only_when_its_measure_doubles():
    """A finding that names no account (S11: a token's day) is a state, not an owner's acts:
    more trades at the same distance from the mean are no new version, twice the distance
    is."""
    desk = Desk()
    desk.background()
    desk.step(compute_session_close("always", desk.time) - desk.time + 10 * MINUTE)
    for price in (11_200, 11_200, 11_200, 12_500, 12_500):
        desk.background(rounds=1, price=price)
    moves = [(a["version"], a["metrics"]["move_bps"]) for a in desk.alerts("S11")]
    assert moves == [(1, 1_200), (2, 2_500)]


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


def test_s8_a_trade_before_the_appointment_is_no_insiders():
    """Red team rt37 F5: a current insider was one forever back, so an investor appointed an
    officer a day after buying was named a high insider of its own earlier buy."""
    desk = Desk()
    desk.background()
    desk.place("k", "sell", 10_000, 100)
    desk.place("c", "buy", 10_000, 100)  # c buys as a plain investor
    desk.step(DAY)
    desk.make_insider("c")  # and is appointed an officer a day later
    desk.step(DAY)
    publish(desk)  # a routine document
    desk.step(HOUR)
    assert not [a for a in desk.alerts("S8") if a["metrics"]["insider"]]
    desk.place("k", "sell", 10_000, 5)
    later = desk.place("c", "buy", 10_000, 5)  # now an insider's buy
    desk.step(HOUR)
    publish(desk)
    alerts = [a for a in desk.alerts("S8") if a["metrics"]["insider"]]
    assert [a["accounts"] for a in alerts] == [desk.accounts("c")]
    assert tx_ids(later) <= set(alerts[0]["evidence"])
    assert alerts[0]["metrics"]["net_qty"] == 5


def test_s8_buying_before_the_appointment_is_still_judged_as_unusual():
    """An investor's buying before it became an insider is no insider's trade, but neither
    does the appointment hide it: the news's effect judges it as anyone's."""
    desk = Desk()
    desk.background()
    for _ in range(3):
        desk.place("k", "sell", 10_000, 1_200)
        desk.place("a", "buy", 10_000, 1_200)
        desk.step(HOUR)
    desk.make_insider("a")
    desk.step(HOUR)
    publish(desk)
    for price in (10_200, 10_400):
        desk.place("k", "sell", price, 10)
        desk.place("l", "buy", price, 10)
        desk.step(HOUR)
    alerts = desk.alerts("S8")
    assert [(a["accounts"], a["metrics"]["insider"]) for a in alerts] == [
        (desk.accounts("a"), False)]


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
    desk.pay("a", "b", 1_000_000)  # one owner under PROTOCOL: cash moved between them
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
    desk.pay("a", "b", 1_000_000)
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
    assert alert["metrics"]["units"] == 6 and desk.listed(alert) == tx_ids(*payments)


def test_s9_a_landlord_receiving_rents_is_not_structuring():
    """Three tenants each pay a month's rent of 9.5M in one week: each is one payment of its
    sender's, and no day's receipts passed the threshold."""
    desk = Desk()
    for tenant in "cde":
        desk.pay(tenant, "a", 9_500_000)
        desk.step(2 * DAY)
    assert desk.alerts("S9") == []


# ---- S7: who caused the rise -----------------------------------------------------------------

def trade(desk: Desk, seller: str, buyer: str, qty: int, price: int = 10_000) -> None:
    desk.place(seller, "sell", price, qty)
    desk.place(buyer, "buy", price, qty)
    desk.step()


def pump_and_dump(desk: Desk, passive: bool = False) -> list:
    """a sets five prices 1% apart (lifting g's offers, or bidding above the last for g to
    hit), then sells 400 into h's bid above where the rise began."""
    orders = []
    for step in range(1, 6):
        price = 10_000 + 100 * step
        first, second = (("a", "buy"), ("g", "sell")) if passive else (("g", "sell"), ("a", "buy"))
        placed = desk.place(first[0], first[1], price, 100)
        desk.step()
        hit = desk.place(second[0], second[1], price, 100)
        orders.append(placed if passive else hit)
        desk.step(MINUTE)
    desk.place("h", "buy", 10_450, 400)
    desk.step()
    orders.append(desk.place("a", "sell", 10_450, 400))
    desk.step(MINUTE)
    return orders


def test_s7_a_small_buy_hours_before_does_not_dilute_the_pump():
    desk = Desk()
    desk.background()
    trade(desk, "k", "a", 1)  # the seed buy, 20 hours before the pump
    for _ in range(20):  # an honest day: 200 units an hour
        trade(desk, "k", "l", 200)
        desk.step(HOUR)
    orders = pump_and_dump(desk)
    alerts = desk.alerts("S7")
    assert [a["accounts"] for a in alerts] == [desk.accounts("a")]
    assert alerts[0]["metrics"]["buy_share_bps"] == 10_000
    assert tx_ids(*orders) <= set(alerts[0]["evidence"])


def test_s7_a_pump_by_bids_above_the_last_that_sellers_hit():
    desk = Desk()
    desk.background()
    pump_and_dump(desk, passive=True)
    assert [a["accounts"] for a in desk.alerts("S7")] == [desk.accounts("a")]


def test_s7_an_investor_whose_bids_others_hit_while_others_lift_the_price():
    """b's bids are hit at or under the last while k and l lift the price 5%; b then sells
    half above where it began: others caused the rise."""
    desk = Desk()
    desk.background()
    desk.place("b", "buy", 10_000, 100)
    desk.step()
    desk.place("g", "sell", 10_000, 100)
    desk.step(MINUTE)
    for price in (10_150, 10_300, 10_500):
        trade(desk, "k", "l", 50, price)
        desk.step(MINUTE)
    desk.place("b", "buy", 10_450, 100)
    desk.step()
    desk.place("h", "sell", 10_450, 100)
    desk.step(HOUR)
    desk.place("i", "buy", 10_400, 100)
    desk.step()
    desk.place("b", "sell", 10_400, 100)
    desk.step(MINUTE)
    assert desk.alerts("S7") == []
