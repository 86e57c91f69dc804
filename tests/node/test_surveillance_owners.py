"""Owner links the attacker controls (issue 30, red team F1, F1b, F2): what one account does
alone, for nothing, must neither cut a link nor make one.

- F1: paying others (eight one-won transfers, or eight real ones) made the payer a "hub", and a
  hub's transfer links were all dropped, so its real partner washed unseen. A hub now stops
  only the payments of its kind: into a payee hub, out of a payer hub (rt37 F2); a partner's
  payment to one that paid nine others still links.
- F1b: 64 orders from fresh origins (a VPN's exits) pushed a shared device out of the limit of
  origins per account. Lone origins are forgotten first now.
- F2: one won sent to a stranger made it one owner with the payer, so its honest sale to the
  payer was a high S1 alert naming it. A transfer links from `min_link_krw` up now.
- rt37 F2, F4: payroll made an employer's staff one owner, and round trips made a nominee a
  payee hub. A payer of many one way is a hub too, and two-way links count for no hub.
- rt37 F3, F12: a helper's VPN exits shared with `a`, or a flood of edges by others, pushed
  out a shared device or a payment at the limits. An account forgets first what joins it to
  nobody else, and past a global limit the account holding the most edges gives.
"""

from __future__ import annotations

import random

from node.storage import Batch, MemoryKV
from node.surveillance.owners import ORIGIN, TRANSFER, OwnerGraph, OwnerParams
from node.surveillance.records import Limits
from node.surveillance.staged import Staged
from tests.node.surveillance_desk import Desk
from tests.node.test_surveillance_evasions import trade

NAMES = tuple("abcdefghijklmnopq")


def wash(desk: Desk, first: str, second: str) -> None:
    trade(desk, first, second)
    trade(desk, second, first)


def owner_of(desk: Desk, name: str) -> list[str]:
    """The accounts of `name`'s owner on the graph now, before any trade between them marks a
    link TRADED (which joins past hubs, rt38 F1): what the payments alone make."""
    world = desk.world
    return list(world.surveillance.owners.owner(desk[name], desk.time).accounts)


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
    assert desk["b"] in owner_of(desk, "a")
    wash(desk, "a", "b")
    assert s1_on(desk, "a", "b")


def test_payers_of_one_payee_are_not_one_owner():
    """A shop paid by ten customers is a hub: two of them trading is no wash; one that the
    shop pays back (a refund) is still linked to it, and no longer counts as its customer
    (rt37 F4: a payment returned is a two-way link), so nine remain."""
    desk = Desk(names=NAMES)
    desk.background()
    for payer in "abcdefghij":
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


def test_staff_paid_by_one_employer_are_not_one_owner():
    """Red team rt37 F2: an employer paying ten staff made every payee one owner (the walk ran
    payee -> payer -> payee), so two staff trading by chance was a high S1 and a trading hold.
    A payer of more than `max_transfer_partners` one-way payees is a hub too."""
    desk = Desk(names=NAMES)
    desk.background()
    for staff in "abcdefghij":
        desk.pay("p", staff, 3_000_000)
    desk.step()
    wash(desk, "a", "b")
    assert not desk.alerts("S1")


def test_payees_that_pay_back_do_not_make_a_hub():
    """Red team rt37 F4: nine accounts paid b 500,000 and b paid each back, so b was a payee
    hub and a's payment to b (its nominee) linked nobody. A payment returned is a two-way
    link, not a customer's: only one-way payers count towards a hub."""
    desk = Desk(names=NAMES)
    desk.background()
    desk.pay("a", "b", 1_000_000)
    desk.step()
    for other in "cdefghijm":
        desk.pay(other, "b", 500_000)
    desk.step()
    for other in "cdefghijm":
        desk.pay("b", other, 500_000)
    desk.step()
    assert desk["b"] in owner_of(desk, "a")
    wash(desk, "a", "b")
    assert s1_on(desk, "a", "b")


def test_a_helpers_origins_do_not_push_out_a_shared_device():
    """Red team rt37 F3: a helper that never trades used 64 VPN exits, then `a` used them, so
    all of a's origins were shared and the laptop a shares with b, the oldest, was forgotten.
    An origin that links the account to nobody its other origins do not is kept first."""
    desk = Desk(names=NAMES)
    desk.background()
    desk.place("a", "buy", 9_000, 1, where="laptop", tif="ioc")
    desk.place("b", "buy", 9_000, 1, where="laptop", tif="ioc")
    desk.step()
    for exit_ in range(64):
        desk.place("h", "buy", 9_000, 1, where=f"vpn-{exit_}", tif="ioc")
    desk.step()
    for exit_ in range(64):
        desk.place("a", "buy", 9_000, 1, where=f"vpn-{exit_}", tif="ioc")
    desk.step()
    wash(desk, "a", "b")
    assert s1_on(desk, "a", "b")


# ---- the owner graph's limits against floods (rt37 F3, F12), on the graph alone ----------------

DAY_MS = 86_400_000
NOW = 1_767_225_600_000


def graph(limits: Limits, store: MemoryKV | None = None) -> OwnerGraph:
    found = OwnerGraph(OwnerParams(link_window_ms=DAY_MS, transfer_window_ms=DAY_MS,
                                   max_transfer_partners=2, min_link_krw=1), limits, Staged())
    if store is not None:
        found.load(store)
    return found


def test_payments_from_helpers_do_not_push_out_a_nominees_link():
    """A link to a payee hub joins nobody, so it is the first to go at the limit of links per
    account: five helpers paying `a` make it a hub, and a's link to b stays."""
    owners = graph(Limits(per_account=4))
    owners.link(TRANSFER, "a", "b", NOW, "tx-ab", 10)
    for index in range(5):
        owners.link(TRANSFER, f"h{index}", "a", NOW + 1 + index, f"tx-h{index}", 10)
    assert "b" in owners.owner("a", NOW + 10).accounts


def flood(seed: int, steps: int = 300) -> None:
    """Helpers h0-h2 and `a` itself flood the graph at random, under tiny limits: lone origins,
    exits shared among them, payments among helpers and bystanders. `a` and `b` share a laptop
    and a payment, which neither the flood nor `a`'s own orders may cut. The bound is three
    helpers: with four (seed 7), each of a's five origins links it to a helper the others do
    not, `a` holds as many uses as the largest holder, and gives its oldest, the laptop. A
    graph reloaded from the store every 50 steps makes the same edges as the live one."""
    limits = Limits(per_origin=4, per_account=6, origin_uses=24, links=8)
    store = MemoryKV()
    live, restarted = graph(limits), graph(limits)
    rng = random.Random(seed)
    now = NOW
    actions: list[tuple[str, ...]] = [("use", "a", "laptop"), ("use", "b", "laptop"),
                                      ("pay", "a", "b")]
    for step in range(steps):
        helper = f"h{rng.randrange(3)}"
        kind = rng.randrange(3)
        if kind == 0:
            actions.append(("use", helper, f"lone-{step}"))
        elif kind == 1:
            actions.append(("use", rng.choice([helper, "a"]), f"exit-{rng.randrange(12)}"))
        else:
            actions.append(("pay", helper, rng.choice([f"h{rng.randrange(3)}",
                                                       f"x{rng.randrange(8)}"])))
    for step, (what, account, other) in enumerate(actions):
        now += 1_000
        for owners in (live, restarted):
            if what == "use":
                owners.use(account, other, now)
            else:
                owners.link(TRANSFER, account, other, now, f"tx-{step}", 10)
        for kind in (ORIGIN, TRANSFER) if step >= 2 else ():  # each link on its own
            assert "b" in live.owner("a", now, frozenset({kind})).accounts, (seed, step, kind)
        batch = Batch()
        live.staged.flush(batch)
        store.write(batch)
        restarted.staged.ops.clear()
        if step % 50 == 49:
            restarted = graph(limits, store)
    assert (restarted.uses, restarted.links) == (live.uses, live.links)


def test_floods_of_edges_by_others_keep_a_pairs_links():
    for seed in range(10):  # 0.2 s each
        flood(seed)


def test_paying_shops_makes_no_payer_hub():
    """Payments into a payee hub link nobody, and do not count towards making the payer a
    payer hub: `a`, paying three shops' bills (each paid by three customers), still links to
    b, whom it funds (max_transfer_partners 2 here)."""
    owners = graph(Limits())
    owners.link(TRANSFER, "a", "b", NOW, "tx-ab", 10)
    for shop in ("s0", "s1", "s2"):
        for customer in ("a", "c", "d"):
            owners.link(TRANSFER, customer, shop, NOW + 1, f"tx-{customer}-{shop}", 10)
    assert owners.hub("s0", NOW + 10) and not owners.hub("a", NOW + 10)
    assert "b" in owners.owner("a", NOW + 10).accounts


def test_a_payer_hub_still_links_the_payee_that_trades_with_it():
    """Red team rt38 F1: a paid its nominee b, then eight more accounts KRW 500,000 one way
    (its own), so it was a payer hub, its payment to b linked nobody and a/b washed unseen.
    A payee that trades with its payer is not the payer's staff: a trade between the two after
    a payment lets the payment link past any hub status. Swept across the threshold: more of
    a's own payments never cut b from a's owner."""
    for others in range(11):
        desk = Desk(names=NAMES)
        desk.background()
        desk.pay("a", "b", 5_000_000)
        desk.step()
        for other in "cdefghijmno"[:others]:
            desk.pay("a", other, 500_000)
        desk.step()
        wash(desk, "a", "b")
        assert s1_on(desk, "a", "b"), f"a paid b and {others} others"


def test_a_payment_and_a_sale_into_the_payees_bid_hold_only_the_payer():
    """Red team rt38 F2: a paid a stranger b KRW 500,000, then sold into b's honest resting bid:
    a high S1 (a trading hold) named b, by a's acts alone. A payee whose resting order the
    payer took, linked by that one-way payment only, has not acted on the link: the S1 alert
    stays, at medium. Once b takes a's order, or pays a back, it is high."""
    desk = Desk(names=NAMES)
    desk.background()
    desk.pay("a", "b", 500_000)
    desk.step()
    trade(desk, "a", "b")  # a rests a sell, b lifts it: b acted
    trade(desk, "b", "a")
    severities = [a["severity"] for a in s1_on(desk, "a", "b")]
    assert severities and set(severities) == {"high"}
    desk = Desk(names=NAMES)
    desk.background()
    desk.pay("a", "b", 500_000)
    desk.step()
    desk.place("b", "buy", 10_000, 20)  # b's honest resting bid
    desk.step()
    desk.place("a", "sell", 10_000, 20)  # a hits it
    desk.step()
    assert [a["severity"] for a in s1_on(desk, "a", "b")] == ["medium"]
    desk.pay("b", "a", 500_000)  # b pays a back: now both acted
    desk.step()
    desk.place("b", "buy", 10_000, 20)
    desk.step()
    desk.place("a", "sell", 10_000, 20)
    desk.step()
    assert "high" in [a["severity"] for a in s1_on(desk, "a", "b")]


def test_a_restarted_graph_keeps_what_the_two_traded_on():
    """TRADED is stored with the link's directions: a graph loaded from the store joins the
    payer hub's payee as the live one does."""
    store = MemoryKV()
    live = graph(Limits())
    for payee in ("b", "c", "d", "e"):  # more than max_transfer_partners (2): a payer hub
        live.link(TRANSFER, "a", payee, NOW, f"tx-{payee}", 10)
    assert "b" not in live.owner("a", NOW + 1).accounts
    live.traded("b", "a")
    batch = Batch()
    live.staged.flush(batch)
    store.write(batch)
    restarted = graph(Limits(), store)
    assert restarted.links == live.links
    assert restarted.owner("a", NOW + 1).accounts == live.owner("a", NOW + 1).accounts == (
        "a", "b")
