"""Evasions by shape (issue 30, the red team's F3-F5, F10-F13): the same effect in another
shape of orders, which per-order or per-fill thresholds, or rules counting only aggressive
orders, let through; each on the desk (tests/node/surveillance_desk.py), with the honest
look-alike that must stay quiet where the fix could reach it."""

from __future__ import annotations

import pytest

from node.surveillance.rules.sessions import compute_session_close
from tests.node.surveillance_desk import MINUTE, Desk, to_the_close


def tx_ids(*txs) -> set[str]:
    return {tx.tx_id.hex() for tx in txs}


def the_one(desk: Desk, rule: str) -> dict:
    """The latest version of the one alert of `rule`."""
    found = desk.alerts(rule)
    assert found and len({a["alert_id"] for a in found}) == 1, found
    return max(found, key=lambda a: a["version"])



# ---- S5 / S14: a bid rested above the market and hit by an honest seller ---------------------

def test_s5_the_close_set_by_a_resting_bid_an_honest_seller_hit():
    desk = Desk()
    desk.background()
    close = to_the_close(desk, 20 * MINUTE)
    bid = desk.place("a", "buy", 10_500, 30)  # 5% over the last, resting: no offer under it
    (placed,) = desk.step(MINUTE)
    hit = desk.place("g", "sell", 10_400, 30)  # an honest seller hits it: 30 at 10,500
    desk.step(MINUTE)
    desk.step(close - desk.time + 1_000)
    alert = the_one(desk, "S5")
    assert alert["accounts"] == desk.accounts("a") and hit.tx_id.hex() in alert["evidence"]
    assert bid.tx_id.hex() not in alert["evidence"]  # the trade's transaction is the seller's
    assert placed.result["order_id"] in alert["orders"]  # named by its order id
    assert alert["price_effect"] == {"from": 10_000, "to": 10_500, "bps": 500}
    assert alert["metrics"]["moving_orders"] == 1


def test_s14_the_open_set_by_a_resting_bid_an_honest_seller_hit():
    desk = Desk()
    desk.background()
    to_the_close(desk, 0)
    desk.step(5 * MINUTE)  # the opening minutes of the next session
    desk.place("a", "buy", 10_500, 30)
    (placed,) = desk.step(MINUTE)
    hit = desk.place("g", "sell", 10_400, 30)
    desk.step(MINUTE)
    desk.step(30 * MINUTE)
    alert = the_one(desk, "S14")
    assert alert["accounts"] == desk.accounts("a") and hit.tx_id.hex() in alert["evidence"]
    assert placed.result["order_id"] in alert["orders"]
    assert alert["price_effect"] == {"from": 10_000, "to": 10_500, "bps": 500}


def test_s5_a_seller_hitting_a_high_bid_is_not_the_one_moving_the_close():
    """The honest seller of the test above sold into the rise: S5 names the buyer only."""
    desk = Desk()
    desk.background()
    close = to_the_close(desk, 20 * MINUTE)
    desk.place("a", "buy", 10_500, 30)
    desk.step(MINUTE)
    desk.place("g", "sell", 10_400, 30)
    desk.step(close - desk.time + 1_000)
    assert all(desk["g"] not in alert["accounts"] for alert in desk.alerts())


def test_s5_a_quoter_whose_bid_and_offer_are_hit_in_turn_is_not_marking_the_close():
    """j quotes 10,200 / 10,300 over a last of 10,000; a seller hits its bid, a buyer lifts
    its offer: the close moved 3%, two thirds of it at j's bid, but j sold what it bought."""
    desk = Desk()
    desk.background()
    close = to_the_close(desk, 20 * MINUTE)
    desk.place("j", "buy", 10_200, 30)
    desk.step(MINUTE)
    desk.place("g", "sell", 10_100, 30)
    desk.step(MINUTE)
    desk.place("j", "sell", 10_300, 30)
    desk.step(MINUTE)
    desk.place("h", "buy", 10_300, 30)
    desk.step(MINUTE)
    desk.step(close - desk.time + 1_000)
    assert desk.alerts("S5") == []

# ---- S2: matched quantity over the pair's orders, not order by order ------------------------

def back_and_forth(desk: Desk, takes) -> list:
    """Six rounds, a and b in turn: the seller rests 100, `takes(buyer)` buys it at once."""
    txs = []
    for number in range(6):
        seller, buyer = ("a", "b") if number % 2 == 0 else ("b", "a")
        txs.append(desk.place(seller, "sell", 10_000, 100))
        txs += takes(buyer)
        desk.step()
        desk.step(MINUTE)
    return txs


def test_s2_an_ioc_for_twice_the_offer_it_takes():
    desk = Desk()
    desk.background()
    txs = back_and_forth(desk, lambda b: [desk.place(b, "buy", 10_000, 200, tif="ioc")])
    alert = the_one(desk, "S2")
    assert alert["accounts"] == desk.accounts("a", "b")
    # its versions list all six rounds (a version for each block of new evidence)
    assert alert["metrics"]["matched_trades"] == 6 and tx_ids(*txs) <= desk.listed(alert)


def test_s2_an_offer_taken_by_four_bids_of_a_quarter():
    desk = Desk()
    desk.background()
    back_and_forth(desk, lambda b: [desk.place(b, "buy", 10_000, 25) for _ in range(4)])
    alert = the_one(desk, "S2")
    assert alert["accounts"] == desk.accounts("a", "b") and alert["metrics"]["qty"] == 600



# ---- S3: the layer's size, not each order's -------------------------------------------------

def layered(desk: Desk, orders: int, size: int) -> list:
    """Others quote 10s; a shows `orders` bids of `size` behind the best, sells into the best
    bid while they rest, and cancels them."""
    desk.background(qty=10)
    desk.place("k", "buy", 9_990, 10)
    desk.place("l", "sell", 10_010, 10)
    desk.step()
    bids = [desk.place("a", "buy", 9_950 - number, size) for number in range(orders)]
    order_ids = [r.result["order_id"] for r in desk.step(2_000)]
    sale = desk.place("a", "sell", 9_990, 10)
    desk.step(2_000)
    for order_id in order_ids:
        desk.cancel(order_id)
    desk.step(10_000)
    return [*bids, sale]


def test_s3_a_layer_of_twelve_orders_each_under_five_times_the_mean():
    desk = Desk()
    txs = layered(desk, 12, 45)  # 4.5x the mean of 10 each, 540 in all
    alert = the_one(desk, "S3")
    assert alert["accounts"] == desk.accounts("a") and tx_ids(*txs) <= set(alert["evidence"])
    assert alert["metrics"]["layer_orders"] == 12 and alert["metrics"]["layer_qty"] == 540


def test_s3_three_ordinary_orders_withdrawn_are_no_layer():
    """Three bids of twice the mean (60 in all, 6x) withdrawn while selling: too small a layer."""
    desk = Desk()
    layered(desk, 3, 20)
    assert desk.alerts("S3") == []


# ---- S11: a volume outlier in fewer trades than min_trades ----------------------------------

def day_of(desk: Desk, trades: int, qty: int) -> None:
    """A day of 50 units, then the next: `trades` trades of `qty` between k and l."""
    desk.background()  # 5 trades of 10
    desk.step(compute_session_close("always", desk.time) - desk.time + 10 * MINUTE)
    for _ in range(trades):
        desk.place("k", "sell", 10_000, qty)
        desk.step()
        desk.step(40_000)  # a resting offer taken 41 s later: no matched pair (S2)
        desk.place("l", "buy", 10_000, qty)
        desk.step(20_000)


def test_s11_nineteen_trades_of_a_hundred_times_the_days_mean():
    desk = Desk()
    day_of(desk, 19, 300)  # 5,700 units against a mean of 50 a day: 114x
    alert = the_one(desk, "S11")
    assert alert["metrics"]["kind"] == "volume" and alert["metrics"]["trades"] < 20


def test_s11_one_trade_of_six_times_the_mean_in_a_thin_token_is_no_outlier():
    desk = Desk()
    day_of(desk, 1, 300)  # 6x the mean, in one trade: under min_trades and under 20x
    assert desk.alerts("S11") == []


# ---- S12: the pegger's own print under its level -------------------------------------------

@pytest.mark.parametrize("breaker", ["a", "h"])
def test_s12_a_unit_sold_under_the_level_breaks_it_unless_the_pegger_sold_it(breaker):
    """a holds 10,000 with ten bids that sellers hit, two minutes apart; halfway, `breaker`
    sells one unit into an honest bid at 9,900: a's own print says nothing against its
    peg, anyone else's shows the level did not hold."""
    desk = Desk()
    desk.background()
    desk.place("k", "buy", 9_900, 50)  # an honest deep bid
    desk.step()
    for number in range(10):
        desk.place("a", "buy", 10_000, 20)
        desk.step()
        desk.place("cdefghij"[number % 8], "sell", 10_000, 20)
        desk.step(2 * MINUTE)
        if number == 5:
            desk.place(breaker, "sell", 9_900, 1, tif="ioc")
            desk.step()
    if breaker == "a":
        assert the_one(desk, "S12")["accounts"] == desk.accounts("a")
    else:
        assert desk.alerts("S12") == []


# ---- S13: a two-sided flood far from the market ---------------------------------------------

@pytest.mark.parametrize("shape", ["both_sides_far", "netted_by_one_far_order"])
def test_s13_an_order_flood_far_from_the_market_on_both_sides(shape):
    """200 orders 9-10% off the market, none traded: half bids and half offers, or all bids
    after one offer as large 10% over. Neither is a market maker's two-sided quote."""
    desk = Desk()
    desk.background()
    orders = []
    if shape == "netted_by_one_far_order":  # first, so that no block shows one side alone
        orders.append(desk.place("a", "sell", 11_000, 2_000))
    for number in range(200):
        buy = shape == "netted_by_one_far_order" or number % 2 == 0
        price = 9_000 - number % 50 if buy else 11_000 + number % 50
        orders.append(desk.place("a", "buy" if buy else "sell", price, 10))
        if number % 20 == 19:
            desk.step()
    desk.step()
    alert = the_one(desk, "S13")
    assert alert["accounts"] == desk.accounts("a") and alert["metrics"]["traded_orders"] == 0
