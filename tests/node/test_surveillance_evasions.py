"""The evasions of issue 30, one desk test each: the one-step variation a manipulator would try
first on every rule, and the honest look-alikes that must stay quiet (tests/node/
surveillance_desk.py: the real market contract in an in-memory executor).

Owners (accounts linked by a common origin over weeks, by transfers outside the market, by key
recovery, transitively, staff terminals excluded), effects rather than exact shapes, no
suppression, and every material event for S8."""

from __future__ import annotations

import pytest

from consensus import codec
from tests.node.surveillance_desk import DAY, HOUR, MINUTE, SYMBOL, Desk, origin, to_the_close


def tx_ids(*txs) -> set[str]:
    return {tx.tx_id.hex() for tx in txs}


def rules_of(desk: Desk) -> set[str]:
    return {a["rule"] for a in desk.alerts()}


def one(desk: Desk, rule: str) -> dict:
    """The latest version of the one alert of `rule`."""
    found = desk.alerts(rule)
    assert found and len({a["alert_id"] for a in found}) == 1, found
    return max(found, key=lambda a: a["version"])


def link_kinds(alert: dict) -> set[tuple[str, str]]:
    return {(link["kind"], link["via"]) for link in alert["links"]}


def share_a_device(desk: Desk, first: str, second: str, device: str, gap_ms: int = 0) -> None:
    """`first` then `second` place a small resting bid from one device, `gap_ms` apart."""
    desk.place(first, "buy", 9_000, 1, where=device)
    desk.step()
    if gap_ms:
        desk.step(gap_ms)
    desk.place(second, "buy", 9_001, 1, where=device)
    desk.step()


def trade(desk: Desk, seller: str, buyer: str, qty: int = 20, price: int = 10_000):
    """`seller` rests a sell and `buyer` lifts it, each from its own device."""
    sell = desk.place(seller, "sell", price, qty)
    buy = desk.place(buyer, "buy", price, qty)
    desk.step()
    return sell, buy


# ---- owners: S1 ------------------------------------------------------------------------------

def test_s1_links_a_device_shared_25_hours_apart():
    desk = Desk()
    desk.background()
    share_a_device(desk, "a", "b", "laptop", gap_ms=25 * HOUR)
    sell, buy = trade(desk, "a", "b")
    alert = one(desk, "S1")
    assert alert["accounts"] == desk.accounts("a", "b") and alert["severity"] == "high"
    assert ("origin", origin("laptop")) in link_kinds(alert)
    assert tx_ids(sell, buy) <= set(alert["evidence"])


def test_s1_forgets_a_device_shared_longer_ago_than_the_link_window():
    desk = Desk({"owners": {"link_window_ms": 2 * DAY}})
    desk.background()
    share_a_device(desk, "a", "b", "laptop", gap_ms=2 * DAY + MINUTE)
    trade(desk, "a", "b")
    assert desk.alerts("S1") == []


def test_s1_links_are_transitive():
    desk = Desk()
    desk.background()
    share_a_device(desk, "a", "c", "laptop")
    share_a_device(desk, "c", "b", "phone")
    trade(desk, "a", "b")
    alert = one(desk, "S1")
    assert alert["accounts"] == desk.accounts("a", "b")  # c did not trade
    assert link_kinds(alert) == {("origin", origin("laptop")), ("origin", origin("phone"))}


@pytest.mark.parametrize("move", ["cash", "units"])
def test_s1_links_accounts_that_moved_cash_or_units_between_them(move):
    desk = Desk()
    desk.background()
    moved = desk.pay("a", "b", 1_000_000) if move == "cash" else desk.give("a", "b", 50)
    desk.step()
    trade(desk, "b", "a")
    alert = one(desk, "S1")
    assert alert["accounts"] == desk.accounts("a", "b")
    assert link_kinds(alert) == {("transfer", moved.tx_id.hex())}


def test_s1_a_recovered_key_keeps_its_links():
    desk = Desk()
    desk.background()
    share_a_device(desk, "a", "b", "laptop")
    new = desk.recover("a", "a2")
    desk.step()
    sell = desk.world.send("broker-a", "market", "place", symbol=SYMBOL, account=new,
                           side="sell", price=10_000, qty=20, media="mts", origin=origin("a2"))
    desk.place("b", "buy", 10_000, 20)
    desk.step()
    alert = one(desk, "S1")
    assert alert["accounts"] == sorted([new, desk["b"]])
    kinds = {link["kind"] for link in alert["links"]}
    assert kinds == {"origin", "recover"} and sell.tx_id.hex() in alert["evidence"]


def test_branch_clients_on_one_terminal_are_not_one_owner():
    desk = Desk()
    desk.background()
    for name in "abc":
        desk.place(name, "buy", 9_000, 1, where="branch-1", media="branch")
    desk.step()
    desk.place("a", "sell", 10_000, 20, where="branch-1", media="branch")
    desk.place("b", "buy", 10_000, 20, where="branch-1", media="phone")
    desk.step()
    assert desk.alerts() == []


def test_s3_layer_in_one_account_and_the_sale_in_a_linked_one():
    desk = Desk()
    desk.background()
    share_a_device(desk, "e", "d", "tablet")
    desk.place("f", "buy", 9_990, 10)  # the best bid
    desk.step()
    bids = [desk.place("e", "buy", 9_950 - level, 500) for level in range(3)]
    order_ids = [r.result["order_id"] for r in desk.step()]
    sale = desk.place("d", "sell", 9_990, 10, tif="ioc")
    desk.step()
    for order_id in order_ids:
        desk.cancel(order_id)
    desk.step(2_000)
    alert = one(desk, "S3")
    assert alert["accounts"] == desk.accounts("d", "e")
    assert tx_ids(*bids, sale) <= set(alert["evidence"])


def test_s4_ramp_split_across_two_accounts_on_one_device():
    desk = Desk()
    desk.background()
    for step in range(1, 6):
        desk.place("f", "sell", 10_000 + 60 * step, 10)
    desk.step()
    for step in range(1, 6):
        desk.place("ab"[step % 2], "buy", 10_000 + 60 * step, 10, tif="ioc", where="desk-pc")
        desk.step(30_000)
    alert = one(desk, "S4")
    assert alert["accounts"] == desk.accounts("a", "b")
    assert alert["price_effect"] == {"from": 10_000, "to": 10_300, "bps": 300}


def test_s7_pump_in_one_account_and_dump_in_a_linked_one():
    desk = Desk()
    desk.background()
    share_a_device(desk, "i", "h", "tablet")
    for step in range(1, 6):
        desk.place("f", "sell", 10_000 + 120 * step, 50)
    desk.step()
    for step in range(1, 6):
        desk.place("i", "buy", 10_000 + 120 * step, 50, tif="ioc")
        desk.step(60_000)
    desk.place("j", "buy", 10_400, 200)
    desk.step(600_000)
    dump = desk.place("h", "sell", 10_400, 200, tif="ioc")
    desk.step()
    alert = one(desk, "S7")
    assert alert["accounts"] == desk.accounts("h", "i")
    assert dump.tx_id.hex() in alert["evidence"] and alert["metrics"]["sold"] == 200


# ---- exact shapes: S2 ------------------------------------------------------------------------

def matched(desk: Desk, legs, sizes=(200, 200), gap_ms: int = 0):
    """Each leg (seller, buyer) at its own price: the seller's order, then the buyer's,
    `gap_ms` later (in the same block without a gap), two minutes between legs."""
    txs = []
    for number, (seller, buyer) in enumerate(legs):
        txs.append(desk.place(seller, "sell", 10_000 + number, sizes[0]))
        if gap_ms:
            desk.step()
        txs.append(desk.place(buyer, "buy", 10_000 + number, sizes[1]))
        desk.step(gap_ms or 1_000)
        desk.step(120_000)
    return txs


def test_s2_sizes_off_by_one():
    desk = Desk()
    desk.background()
    txs = matched(desk, [("c", "d"), ("d", "c")] * 2, sizes=(200, 201))
    alert = one(desk, "S2")
    assert alert["accounts"] == desk.accounts("c", "d") and alert["metrics"]["matched_trades"] == 4
    assert tx_ids(*txs) <= set(alert["evidence"])


def test_s2_a_ring_of_three():
    desk = Desk()
    desk.background()
    matched(desk, [("a", "b"), ("b", "c"), ("c", "a")] * 2, sizes=(300, 300))
    alert = one(desk, "S2")
    assert alert["accounts"] == desk.accounts("a", "b", "c")


def test_s2_orders_six_seconds_apart():
    desk = Desk()
    desk.background()
    matched(desk, [("c", "d"), ("d", "c")] * 2, gap_ms=6_000)
    assert one(desk, "S2")["accounts"] == desk.accounts("c", "d")


# ---- exact shapes: S3 ------------------------------------------------------------------------

def layer(desk: Desk, name: str = "e", size: int = 500, levels: int = 3):
    desk.place("f", "buy", 9_990, 10)
    desk.step()
    bids = [desk.place(name, "buy", 9_950 - level, size) for level in range(levels)]
    return bids, [r.result["order_id"] for r in desk.step()]


def test_s3_the_sale_one_block_after_the_layer_is_gone():
    desk = Desk()
    desk.background()
    bids, order_ids = layer(desk)
    for order_id in order_ids:
        desk.cancel(order_id)
    desk.step(2_000)
    sale = desk.place("e", "sell", 9_990, 10, tif="ioc")
    desk.step()
    alert = one(desk, "S3")
    assert tx_ids(*bids, sale) <= set(alert["evidence"])


def test_s3_a_layer_removed_by_a_self_trade():
    desk = Desk()
    desk.background()
    bids, _ = layer(desk)
    sweep = desk.place("e", "sell", 9_948, 1_510, tif="ioc")  # f's 10, then its own bids
    desk.step()
    alert = one(desk, "S3")
    assert tx_ids(*bids, sweep) <= set(alert["evidence"])
    assert alert["metrics"]["removed_by"] == ["SELF_TRADE"]


def test_s3_one_spoof_order_every_35_seconds():
    desk = Desk()
    desk.background()
    desk.place("f", "buy", 9_990, 10)
    desk.step()
    for number in range(3):
        desk.place("e", "buy", 9_950 - number, 500)
        (receipt,) = desk.step()
        if number == 0:
            desk.place("e", "sell", 9_990, 10, tif="ioc")
        desk.cancel(receipt.result["order_id"])
        desk.step(3_000)
        desk.step(31_000)
    assert one(desk, "S3")["accounts"] == desk.accounts("e")


def test_a_market_maker_quoting_at_the_touch_is_not_spoofing():
    desk = Desk()
    desk.background()
    desk.place("f", "buy", 9_990, 10)
    desk.place("f", "sell", 10_010, 10)
    desk.step()
    quotes: list[int] = []
    for cycle in range(6):
        for order_id in quotes:
            desk.cancel(order_id)
        desk.place("g", "buy", 9_995 + cycle % 2, 500)
        desk.place("g", "sell", 10_005 - cycle % 2, 500)
        receipts = desk.step(5_000)
        quotes = [r.result["order_id"] for r in receipts if r.result
                  and isinstance(r.result, dict) and r.result.get("status") == "resting"]
        side = "sell" if cycle % 2 else "buy"
        desk.place("k" if cycle % 2 else "l", side, 9_995 if side == "sell" else 10_005, 5,
                   tif="ioc")
        desk.step(5_000)
    assert desk.alerts("S3") == []


@pytest.mark.parametrize("quoter", [True, False])
def test_s13_a_two_sided_quoter_with_few_fills_is_not_an_order_flood(quoter):
    """A hundred orders of a's in a day and none traded: bids and offers both (a market
    maker's quotes, replaced every minute or two) are not the order flood the order-to-trade
    ratio looks for; a hundred bids are."""
    desk = Desk()
    desk.background()
    for name in "cdefghij":
        desk.place(name, "buy", 9_000, 2_000)
        desk.place(name, "sell", 11_000, 2_000)
    for number in range(100):
        side = "sell" if quoter and number % 2 else "buy"
        desk.place("a", side, 10_100 if side == "sell" else 9_900, 10)
    desk.step()
    alerts = [a for a in desk.alerts("S13") if a["part"][0] == 1]  # a block's first version
    assert [a["accounts"] for a in alerts] == ([] if quoter else [desk.accounts("a")])


@pytest.mark.parametrize("quoter", [True, False])
def test_s13_order_involvement_is_one_sided(quoter):
    """Sixty orders of 100 among ten small traders: bids and offers both (a market maker's
    quotes, no demand shown) are not order involvement; sixty bids are."""
    desk = Desk()
    for name in "cdefghijkl":
        desk.place(name, "buy", 9_000, 10)
        desk.place(name, "sell", 11_000, 10)
    for number in range(60):
        side = "sell" if quoter and number % 2 else "buy"
        desk.place("a", side, 10_100 if side == "sell" else 9_900, 100)
    desk.step()
    alerts = desk.alerts("S13")
    assert alerts == [] if quoter else [a["accounts"] for a in alerts] == [desk.accounts("a")]


@pytest.mark.parametrize("offer", [None, 10_040, 10_050, 13_000])
def test_s12_a_quoter_offering_what_it_buys_is_not_pegging(offer):
    """a's bids hold 9,950 before a record date while k sells into them; a market maker
    offering as much within `quote_bps` (100) above (its asks cap the price) is not holding
    it up, a decoy offer further above caps nothing and is pegging all the same."""
    desk = Desk()
    desk.background()
    desk.record_date_ahead()
    for _ in range(6):
        desk.place("a", "buy", 9_950, 100)
        if offer:
            desk.place("a", "sell", offer, 100)
        desk.step()
        desk.place("k", "sell", 9_950, 100)
        desk.step(5 * MINUTE)
    capped = offer is not None and offer <= 9_950 + 9_950 * 100 // 10_000  # 10,049
    alerts = {a["alert_id"]: a["accounts"] for a in desk.alerts("S12")}  # latest versions
    assert list(alerts.values()) == ([] if capped else [desk.accounts("a")])


def test_s12_a_level_above_where_the_price_was_and_let_go_after():
    """a's bids hold 9,950 before a record date; the price was 9,900 half an hour before it
    began and falls back there once a lets go: neither breaks the level it held."""
    desk = Desk()
    desk.background()
    desk.place("k", "sell", 9_900, 10)
    desk.place("l", "buy", 9_900, 10)
    desk.step(30 * MINUTE)
    desk.record_date_ahead()
    bids = []
    for _ in range(6):
        bids.append(desk.place("a", "buy", 9_950, 100))
        desk.step()
        desk.place("k", "sell", 9_950, 100)
        desk.step(MINUTE)
    desk.place("k", "sell", 9_900, 10)
    desk.place("l", "buy", 9_900, 10)
    desk.step()
    alert = one(desk, "S12")
    assert alert["accounts"] == desk.accounts("a") and tx_ids(*bids[:5]) <= desk.listed(alert)


def test_s12_one_sale_through_the_bids_does_not_break_the_level():
    """a holds 9,950 before a record date; one sale of k's takes a's bid and goes on to l's
    bid at 9,900 in the same order, and a bids at its level again: held all the same."""
    desk = Desk()
    desk.background()
    desk.world.send("bank", "cash", "mint", to=desk.world.account("issuer-1"), amount=10**9)
    desk.world.send("issuer-1", "dividend", "declare", symbol=SYMBOL, total=10**8,
                    record_time=desk.time + 2 * DAY)
    desk.place("l", "buy", 9_900, 50)
    desk.step()
    for number in range(6):
        desk.place("a", "buy", 9_950, 100)
        desk.step()
        desk.place("k", "sell", 9_900 if number == 2 else 9_950, 150 if number == 2 else 100)
        desk.step(MINUTE)
    assert [a["accounts"] for a in desk.alerts("S12")][-1:] == [desk.accounts("a")]


# ---- exact shapes: S5 ------------------------------------------------------------------------


def test_s5_one_order_sweeping_the_asks_before_the_close():
    desk = Desk()
    desk.background()
    close = to_the_close(desk, 9 * MINUTE)
    for step in range(1, 4):
        desk.place("f", "sell", 10_000 + 100 * step, 20)
    desk.step()
    sweep = desk.place("h", "buy", 10_300, 60, tif="ioc")
    desk.step(MINUTE)
    assert desk.alerts("S5") == []  # the close is not known yet
    desk.step(close - desk.time + 1_000)  # the first block after the close
    alert = one(desk, "S5")
    assert alert["accounts"] == desk.accounts("h") and sweep.tx_id.hex() in alert["evidence"]
    assert alert["metrics"]["moving_orders"] == 1
    assert alert["metrics"]["share_bps"] == 10_000  # it bought every unit of the window
    assert alert["price_effect"] == {"from": 10_000, "to": 10_300, "bps": 300}


def test_s5_a_close_set_twelve_minutes_before_the_end():
    desk = Desk()
    desk.background()
    close = to_the_close(desk, 13 * MINUTE)
    for step in range(1, 4):
        desk.place("f", "sell", 10_000 + 100 * step, 20)
    desk.step()
    for step in range(1, 4):
        desk.place("h", "buy", 10_000 + 100 * step, 20, tif="ioc")
        desk.step(20_000)
    desk.step(close - desk.time + 1_000)
    assert one(desk, "S5")["accounts"] == desk.accounts("h")


# ---- S6: thin tokens -------------------------------------------------------------------------

def test_s6_twenty_equal_traders_are_not_concentration():
    names = tuple(f"t{i:02d}" for i in range(20))
    desk = Desk(names=names)
    for round_ in range(3):
        for i in range(0, 20, 2):
            desk.place(names[(i + round_) % 20], "sell", 10_000, 10)
            desk.step()
            desk.step(40_000)  # a resting offer taken 41 s later: no matched pair (S2)
            desk.place(names[(i + round_ + 1) % 20], "buy", 10_000, 10)
            desk.step(20_000)
    assert desk.alerts("S6") == []


def test_s6_four_equal_traders_are_not_concentration():
    """Each of four equal traders has a quarter of the volume, over account_share_bps (20%)
    but not fair_multiple (3) times an equal share: no one dominates."""
    names = ("c", "d", "e", "f")
    desk = Desk({"S6": {"min_trades": 10}})
    for round_ in range(10):
        for i in range(0, 4, 2):
            desk.place(names[(i + round_) % 4], "sell", 10_000, 10)
            desk.step()
            desk.step(40_000)  # a resting offer taken 41 s later: no matched pair (S2)
            desk.place(names[(i + round_ + 1) % 4], "buy", 10_000, 10)
            desk.step(20_000)
    assert desk.alerts("S6") == []


def test_s6_one_trader_dominating_a_thin_token():
    desk = Desk()
    for step in range(40):
        desk.place("a", "sell", 10_000, 10)
        desk.place("bcdefghijk"[step % 10], "buy", 10_000, 10)
        desk.step(10 * MINUTE)
    alert = one(desk, "S6")
    assert alert["accounts"] == desk.accounts("a") and alert["metrics"]["trades"] >= 30


# ---- S7 --------------------------------------------------------------------------------------

def pump(desk: Desk, name: str = "i", sweeps: int = 4) -> list:
    for step in range(1, 2 * sweeps + 1):
        desk.place("f", "sell", 10_000 + 75 * step, 25)
    desk.step()
    txs = []
    for step in range(1, sweeps + 1):
        txs.append(desk.place(name, "buy", 10_000 + 150 * step, 50, tif="ioc"))
        desk.step(60_000)
    return txs


def test_s7_a_pump_in_four_sweeping_orders():
    desk = Desk()
    desk.background()
    pumps = pump(desk)
    desk.place("j", "buy", 10_500, 150)
    desk.step(10 * MINUTE)
    dump = desk.place("i", "sell", 10_500, 150, tif="ioc")
    desk.step()
    alert = one(desk, "S7")
    assert tx_ids(*pumps, dump) <= set(alert["evidence"])
    assert alert["price_effect"] == {"from": 10_000, "to": 10_600, "bps": 600}


def test_s7_the_peak_is_what_the_buying_reached():
    desk = Desk()
    desk.background()
    pump(desk)
    desk.place("k", "sell", 11_000, 5)  # later, others trade higher
    desk.place("l", "buy", 11_000, 5)
    desk.step(MINUTE)
    desk.place("j", "buy", 10_500, 150)
    desk.step(10 * MINUTE)
    desk.place("i", "sell", 10_500, 150, tif="ioc")
    desk.step()
    alert = one(desk, "S7")
    assert alert["metrics"]["peak_price"] == 10_600 and alert["metrics"]["rise_bps"] == 600
    assert "11000" not in alert["explanation"].replace(",", "")


# ---- S8: lookback and every material event ---------------------------------------------------

def buy_quietly(desk: Desk, name: str, qty: int = 1_200, rounds: int = 3) -> list:
    buys = []
    for _ in range(rounds):
        desk.place("k", "sell", 10_000, qty)
        buys.append(desk.place(name, "buy", 10_000, qty))
        desk.step(HOUR)
    return buys


def news_moves_the_price(desk: Desk, price: int = 10_600) -> None:
    for _ in range(3):
        desk.place("k", "sell", price, 10)
        desk.place("l", "buy", price, 10)
        desk.step(HOUR)


def document(desk: Desk, name: str = "report") -> object:
    return desk.world.send("issuer-1", "token", "set_document", symbol=SYMBOL, name=name,
                           uri="https://example.org/r", sha256=codec.sha256(b"r").hex())


def test_s8_buying_25_hours_before_the_news():
    desk = Desk()
    desk.background()
    buys = buy_quietly(desk, "a")
    desk.step(25 * HOUR)
    news = document(desk)
    desk.step()
    assert desk.alerts("S8") == []  # an unusual position is judged by the news's effect
    news_moves_the_price(desk)
    alert = one(desk, "S8")
    assert alert["accounts"] == desk.accounts("a") and alert["metrics"]["insider"] is False
    assert tx_ids(*buys, news) <= set(alert["evidence"])
    assert alert["price_effect"]["from"] == 10_000 and alert["price_effect"]["to"] == 10_600


def test_s8_a_leak_that_moved_the_price_before_the_news():
    """a's buying lifts the price 3% in the hours before the news, which then moves it little
    (the information leaked): the effect counts from the price a day before (`run_up_ms`),
    not only from the last price before the news."""
    desk = Desk()
    desk.background()
    buys = []
    for price in (10_100, 10_200, 10_300):
        desk.place("k", "sell", price, 1_200)
        buys.append(desk.place("a", "buy", price, 1_200))
        desk.step(HOUR)
    news = document(desk)
    desk.step()
    news_moves_the_price(desk, 10_350)  # 48 bps from the last price before the news
    assert desk.alerts("S8") == []  # judged from the run-up once the news had its day
    desk.step(DAY)
    alert = one(desk, "S8")
    assert alert["accounts"] == desk.accounts("a") and tx_ids(*buys, news) <= set(
        alert["evidence"])
    assert alert["price_effect"] == {"from": 10_000, "to": 10_350, "bps": 350}


def test_s8_a_drift_before_good_news_is_not_its_effect():
    """The price drifts 3.5% down (others trading) after a bought, then good news lifts it
    3.6%: the effect is the news's (up, a's way), not the drift's."""
    desk = Desk()
    desk.background()
    buys = buy_quietly(desk, "a")
    news_moves_the_price(desk, 9_650)
    news = document(desk)
    desk.step()
    news_moves_the_price(desk, 9_650)
    assert desk.alerts("S8") == []
    news_moves_the_price(desk, 10_000)
    alert = one(desk, "S8")
    assert alert["accounts"] == desk.accounts("a") and tx_ids(*buys, news) <= set(
        alert["evidence"])


def material(desk: Desk, kind: str, insider: str) -> object:
    """One material event of `kind` for APT1, in the next block."""
    issuer = desk.world.account("issuer-1")
    if kind == "cap_approval":
        return desk.world.send("ksd", "token", "approve", symbol=SYMBOL, cap=10**8 - 1)
    if kind == "halt":
        return desk.world.send("ksd", "market", "halt", symbol=SYMBOL, reason="news pending")
    if kind == "forced_transfer":
        return desk.world.send("ksd", "token", "force_transfer", symbol=SYMBOL,
                               from_=desk["c"], to=desk["d"], amount=5, reason="court")
    if kind == "freeze":
        return desk.world.send("issuer-1", "token", "freeze", symbol=SYMBOL,
                               account=desk[insider], amount=1)
    if kind == "hold":
        return desk.world.send("ksd", "fds", "hold", account=desk[insider], scope="all",
                               reason="investigation")
    if kind == "dividend":
        desk.world.send("bank", "cash", "mint", to=issuer, amount=10**9)
        return desk.world.send("issuer-1", "dividend", "declare", symbol=SYMBOL, total=10**8)
    events = {
        "offering_opened": ("offering", "OfferingOpened", {
            "offering_id": 7, "symbol": SYMBOL, "price": 10_000, "qty": 1_000,
            "start_time": desk.time, "end_time": desk.time + DAY}),
        "offering_allocated": ("offering", "OfferingAllocated", {
            "offering_id": 7, "symbol": SYMBOL, "allocated_qty": 1_000, "subscribers": 3}),
        "redemption": ("offering", "RedemptionDeclared", {
            "redemption_id": 3, "symbol": SYMBOL, "price": 12_000,
            "record_time": desk.time + DAY}),
    }
    contract, name, data = events[kind]
    return desk.inject(contract, name.lower(), "issuer-1" if contract == "offering" else "ksd",
                       [(name, data)])


MATERIAL = ["document", "dividend", "offering_opened", "offering_allocated", "cap_approval",
            "redemption", "halt", "forced_transfer", "freeze", "hold"]


@pytest.mark.parametrize("kind", MATERIAL)
def test_s8_an_insider_trading_before_any_material_event(kind):
    desk = Desk()
    desk.background()
    desk.make_insider("b")
    desk.step()
    desk.place("k", "sell", 10_000, 5)
    buy = desk.place("b", "buy", 10_000, 5)
    desk.step(3 * DAY)
    event = document(desk) if kind == "document" else material(desk, kind, "b")
    desk.step()
    alert = one(desk, "S8")
    assert alert["accounts"] == desk.accounts("b") and alert["metrics"]["insider"] is True
    assert alert["metrics"]["event"] == kind
    assert tx_ids(buy, event) <= set(alert["evidence"])


def test_s8_an_insiders_nominee_account():
    desk = Desk()
    desk.background()
    desk.make_insider("b")
    desk.step()
    share_a_device(desk, "b", "c", "home-pc")
    desk.place("k", "sell", 10_000, 5)
    buy = desk.place("c", "buy", 10_000, 5)
    desk.step(HOUR)
    document(desk)
    desk.step()
    alert = one(desk, "S8")
    assert alert["accounts"] == desk.accounts("c") and buy.tx_id.hex() in alert["evidence"]
    assert alert["metrics"]["insider"] is True


# ---- S9: totals, fan-in, withdrawals ---------------------------------------------------------

def test_s9_each_days_total_split_in_two():
    desk = Desk()
    transfers = []
    for day in range(3):
        for _ in range(2):
            transfers.append(desk.pay("a", "bcd"[day], 4_900_000))
            desk.step(HOUR)
        desk.step(DAY - 2 * HOUR)
    alert = one(desk, "S9")
    assert alert["accounts"] == desk.accounts("a") and alert["metrics"]["units"] == 3
    assert set(alert["evidence"]) == tx_ids(*transfers)


def test_s9_the_collector_of_a_fan_in():
    desk = Desk()
    transfers = [desk.pay(name, "a", 9_600_000 + 1_000 * number)
                 for number, name in enumerate("bcde")]
    desk.step()
    alert = one(desk, "S9")
    assert alert["accounts"] == desk.accounts("a") and alert["metrics"]["direction"] == "in"
    assert tx_ids(*transfers) <= set(alert["evidence"])


def test_s9_withdrawals_just_under_the_threshold():
    desk = Desk()
    desk.step(3 * DAY)  # the FDS delay of a new account's first withdrawal (chaincode.fds)
    burns = []
    for _ in range(3):
        burns.append(desk.withdraw("a", 9_700_000))
        desk.step(DAY)
    alert = one(desk, "S9")
    assert alert["accounts"] == desk.accounts("a") and set(alert["evidence"]) == tx_ids(*burns)


# ---- no suppression --------------------------------------------------------------------------

def test_a_decoy_wash_does_not_hide_the_wash_after_it():
    desk = Desk()
    desk.background()
    desk.place("a", "sell", 10_000, 1, where="home")
    desk.place("b", "buy", 10_000, 1, where="home")
    desk.step()
    assert one(desk, "S1")["metrics"]["qty"] == 1
    desk.step(10 * MINUTE)
    sell = desk.place("a", "sell", 10_000, 10_000, where="home")
    buy = desk.place("b", "buy", 10_000, 10_000, where="home")
    desk.step()
    alert = one(desk, "S1")
    assert alert["version"] == 2 and alert["metrics"]["qty"] == 10_001
    assert tx_ids(sell, buy) <= set(alert["evidence"])


def test_structuring_after_an_alert_is_reported_again():
    desk = Desk()
    first = []
    for name in "bcd":
        first.append(desk.pay("a", name, 9_600_000))
        desk.step(DAY)
    assert set(one(desk, "S9")["evidence"]) == tx_ids(*first)
    later = []
    for name in "efg":
        later.append(desk.pay("a", name, 9_700_000))
        desk.step(DAY)
    latest = max(desk.alerts("S9"), key=lambda a: (a["height"], a["version"]))
    assert tx_ids(*later) <= desk.listed(latest)
