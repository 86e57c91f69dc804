"""Owner links the attacker controls (issue 30, red team F1, F1b, F2): what one account does
alone, for nothing, must neither cut a link nor make one.

- F1: paying others (eight one-won transfers, or eight real ones) made the payer a "hub", and a
  hub's transfer links were all dropped, so its real partner washed unseen. Only payers make a
  hub now, and a payment to a hub is what stops linking.
- F1b: 64 orders from fresh origins (a VPN's exits) pushed a shared device out of the limit of
  origins per account. Lone origins are forgotten first now.
- F2: one won sent to a stranger made it one owner with the payer, so its honest sale to the
  payer was a high S1 alert naming it. A transfer links from `min_link_krw` up now.
"""

from __future__ import annotations

from tests.node.surveillance_desk import Desk
from tests.node.test_surveillance_evasions import trade

NAMES = tuple("abcdefghijklmnopq")


def wash(desk: Desk, first: str, second: str) -> None:
    trade(desk, first, second)
    trade(desk, second, first)


def s1_on(desk: Desk, *names: str) -> list[dict]:
    return [a for a in desk.alerts("S1") if a["accounts"] == desk.accounts(*names)]


def test_paying_many_others_does_not_cut_the_payers_real_link():
    desk = Desk(names=NAMES)
    desk.background()
    desk.pay("b", "a", 1_000_000)  # b, a's nominee, pays a
    desk.step()
    for other in "cdefghijm":  # a then pays nine others, each in earnest
        desk.pay("a", other, 1_000_000)
    desk.step()
    wash(desk, "a", "b")
    assert s1_on(desk, "a", "b")


def test_payers_of_one_payee_are_not_one_owner():
    """A shop paid by nine customers is a hub: two of them trading is no wash; one that
    the shop pays back (a refund) is still linked to it."""
    desk = Desk(names=NAMES)
    desk.background()
    for payer in "abcdefghi":
        desk.pay(payer, "p", 1_000_000)
    desk.step()
    wash(desk, "a", "b")
    assert not desk.alerts("S1")
    desk.pay("p", "c", 600_000)  # the shop refunds c: that payment is to no hub
    desk.step()
    wash(desk, "p", "c")
    assert s1_on(desk, "c", "p")


def test_a_trivial_transfer_to_a_stranger_links_nobody():
    desk = Desk()
    desk.background()
    desk.pay("a", "b", 1)  # a (attacker) sends b (a stranger) one won
    desk.give("a", "c", 1)  # and c one unit (KRW 10,000 at the last price)
    desk.step()
    trade(desk, "b", "a")  # b sells to a on the market, honestly
    trade(desk, "c", "a")
    assert not desk.alerts("S1")


def test_orders_from_fresh_origins_do_not_push_out_a_shared_device():
    desk = Desk()
    desk.background()
    desk.place("a", "buy", 9_000, 1, where="laptop", tif="ioc")
    desk.place("b", "buy", 9_000, 1, where="laptop", tif="ioc")
    desk.step()
    for exit_ in range(64):  # as many fresh origins as an account may keep
        desk.place("a", "buy", 9_000, 1, where=f"vpn-exit-{exit_}", tif="ioc")
    desk.step()
    wash(desk, "a", "b")
    assert s1_on(desk, "a", "b")


def test_a_unit_of_a_never_traded_token_links_nobody():
    """Red team rt37 F1: with no last price the transfer's value was unknown and linked at any
    size. A token never traded is worth its issue price (KRW 10,000 here): one unit is under
    `min_link_krw`, fifty reach it."""
    desk = Desk()
    desk.give("a", "c", 1)  # no trade yet: the attacker frames c with one unit
    desk.give("a", "b", 50)  # and moves KRW 500,000 of units to b, its nominee
    desk.step()
    trade(desk, "c", "a")  # c sells to a on the market, honestly
    trade(desk, "b", "a")
    assert [a["accounts"] for a in desk.alerts("S1")] == [desk.accounts("a", "b")]
