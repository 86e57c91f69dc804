"""Surveillance rules S1-S14, the simple plant of each: it raises its alert with the right
accounts, severity, numbers, price effect and evidence, and nothing else on the desk is flagged
(tests/node/surveillance_desk.py: the real market contract in an in-memory executor). The
evasions of issue 30 are in test_surveillance_evasions.py."""

from __future__ import annotations

import pytest

from consensus import codec
from genesis.surveillance import SurveillanceParamsError, check_surveillance_params
from node.surveillance.episodes import compute_alert_id
from node.surveillance.rules.sessions import compute_session_close
from tests.node.surveillance_desk import DAY, HOUR, KST, MINUTE, SYMBOL, Desk, origin


def only(desk: Desk, rule: str) -> dict:
    found = desk.alerts(rule)
    assert len(found) == 1, found
    others = [a["rule"] for a in desk.alerts() if a["rule"] != rule]
    assert not others, others
    return found[0]


def tx_ids(*txs) -> set[str]:
    return {tx.tx_id.hex() for tx in txs}


def test_s1_wash_trade_same_origin():
    desk = Desk()
    desk.background()
    sell = desk.place("a", "sell", 10_000, 50, where="home")
    buy = desk.place("b", "buy", 10_000, 50, where="home")
    (receipt,) = [r for r in desk.step() if r.result["trades"]]
    alert = only(desk, "S1")
    assert alert["accounts"] == desk.accounts("a", "b") and alert["symbol"] == SYMBOL
    assert alert["metrics"]["same_origin_trades"] == 1 and alert["metrics"]["qty"] == 50
    assert tx_ids(sell, buy) <= set(alert["evidence"]) and alert["severity"] == "high"
    assert alert["version"] == 1 and alert["trades"] == receipt.result["trades"]
    assert set(alert["orders"]) == {receipt.result["order_id"], receipt.result["order_id"] - 1}
    assert alert["price_effect"] == {"from": 10_000, "to": 10_000, "bps": 0}
    assert [(link["kind"], link["via"]) for link in alert["links"]] == [("origin",
                                                                          origin("home"))]
    window = alert["window"]
    assert alert["alert_id"] == compute_alert_id("S1", SYMBOL, tuple(alert["accounts"]),
                                                 window["from_time"]).hex()


def test_s1_wash_trade_between_accounts_linked_by_an_origin():
    desk = Desk()
    desk.background()
    desk.place("a", "buy", 9_000, 1, where="laptop")  # a and b both use the laptop today
    desk.place("b", "buy", 9_001, 1, where="laptop")
    desk.step(HOUR)
    desk.place("l", "sell", 10_000, 30)  # b buys from an outsider: no wash
    desk.place("b", "buy", 10_000, 30)
    desk.step()
    desk.place("a", "sell", 10_000, 20)  # later, from their own phones
    trade = desk.place("b", "buy", 10_000, 20)
    desk.step()
    alert = only(desk, "S1")
    assert alert["accounts"] == desk.accounts("a", "b")
    assert alert["metrics"]["same_origin_trades"] == 0
    assert (alert["metrics"]["trades"], alert["metrics"]["qty"]) == (1, 20)
    first, second = desk.accounts("a", "b")
    assert alert["links"] == [{"a": first, "b": second, "kind": "origin",
                               "via": origin("laptop"), "time": desk.time - 2_000}]
    assert trade.tx_id.hex() in alert["evidence"]


def test_s2_matched_orders_back_and_forth():
    desk = Desk()
    desk.background()
    legs = []
    for round_ in range(2):
        for seller, buyer in (("c", "d"), ("d", "c")):
            legs += [desk.place(seller, "sell", 10_000 + round_, 200),
                     desk.place(buyer, "buy", 10_000 + round_, 200)]
            desk.step(120_000)
    alert = only(desk, "S2")
    assert alert["accounts"] == desk.accounts("c", "d") and alert["severity"] == "high"
    assert alert["metrics"]["matched_trades"] == 4 and alert["metrics"]["sells_each"] == [2, 2]
    assert tx_ids(*legs) <= set(alert["evidence"])


def test_s2_needs_both_directions():
    desk = Desk()
    desk.background()
    for _ in range(4):
        desk.place("c", "sell", 10_000, 200)
        desk.place("d", "buy", 10_000, 200)
        desk.step(120_000)
    assert desk.alerts("S2") == []


def test_s2_orders_further_apart_than_the_tolerance_are_not_matched():
    desk = Desk()
    desk.background()
    for seller, buyer in (("c", "d"), ("d", "c")) * 2:
        desk.place(seller, "sell", 10_000, 200)
        desk.step()
        desk.place(buyer, "buy", 10_000, 200)
        desk.step(31_000)  # the buyer's order 31 s after the seller's
    assert desk.alerts("S2") == []


def test_s3_spoofing_large_bids_cancelled_while_selling():
    desk = Desk()
    desk.background()
    desk.place("f", "buy", 9_990, 10)  # the best bid
    desk.step()
    bids = [desk.place("e", "buy", 9_950 - level, 500) for level in range(3)]
    receipts = desk.step()
    order_ids = [r.result["order_id"] for r in receipts]
    sell = desk.place("e", "sell", 9_990, 10, tif="ioc")
    desk.step()
    cancels = [desk.cancel(order_id) for order_id in order_ids]
    desk.step(2_000)
    alert = only(desk, "S3")
    assert alert["accounts"] == desk.accounts("e") and alert["severity"] == "medium"
    assert alert["metrics"]["side"] == "buy" and alert["metrics"]["layer_orders"] == 3
    assert alert["metrics"]["opposite_qty"] == 10 and alert["orders"] == order_ids
    assert alert["metrics"]["removed_by"] == ["CANCELLED"]
    assert tx_ids(*bids, sell) <= set(alert["evidence"])
    assert not tx_ids(*cancels) & set(alert["evidence"])


def test_s3_slow_cancels_are_not_spoofing():
    desk = Desk()
    desk.background()
    desk.place("f", "buy", 9_990, 10)
    desk.step()
    for level in range(3):
        desk.place("e", "buy", 9_950 - level, 500)
    order_ids = [r.result["order_id"] for r in desk.step()]
    desk.place("e", "sell", 9_990, 10, tif="ioc")
    desk.step()
    desk.step(59_000)
    for order_id in order_ids:
        desk.cancel(order_id)
    desk.step(1_000)  # 61 s after placing: longer than cancel_ms
    assert desk.alerts("S3") == []


def test_s3_bids_at_the_best_price_are_not_a_layer():
    desk = Desk()
    desk.background()
    desk.place("f", "buy", 9_990, 10)
    desk.step()
    for _ in range(3):
        desk.place("e", "buy", 9_990, 500)  # joining the best bid, not behind it
    order_ids = [r.result["order_id"] for r in desk.step()]
    desk.place("e", "sell", 10_020, 10)
    desk.place("g", "buy", 10_020, 10)
    desk.step()
    for order_id in order_ids:
        desk.cancel(order_id)
    desk.step(2_000)
    assert desk.alerts("S3") == []


def test_s4_repeated_high_bids():
    desk = Desk()
    desk.background()
    for step in range(1, 6):
        desk.place("f", "sell", 10_000 + 60 * step, 10)
    desk.step()
    buys = []
    for step in range(1, 6):
        buys.append(desk.place("g", "buy", 10_000 + 60 * step, 10, tif="ioc"))
        desk.step(30_000)
    alert = only(desk, "S4")
    assert alert["accounts"] == desk.accounts("g") and alert["severity"] == "medium"
    assert alert["metrics"]["uptick_orders"] == 5
    assert alert["metrics"]["from_price"] == 10_000 and alert["metrics"]["to_price"] == 10_300
    assert alert["metrics"]["rise_bps"] == 300
    assert tx_ids(*buys) <= set(alert["evidence"])


def test_s4_four_lifts_are_not_enough():
    desk = Desk()
    desk.background()
    for step in range(1, 5):
        desk.place("f", "sell", 10_000 + 75 * step, 10)
    desk.step()
    for step in range(1, 5):
        desk.place("g", "buy", 10_000 + 75 * step, 10, tif="ioc")
        desk.step(30_000)
    assert desk.alerts("S4") == []


def to_the_close(desk: Desk, before_ms: int) -> int:
    close = compute_session_close("always", desk.time)
    desk.step(close - desk.time - before_ms)
    return close


def test_s5_marking_the_close():
    desk = Desk()  # sessions `always`: the day closes at midnight KST
    desk.background()
    close = to_the_close(desk, 9 * MINUTE)
    for step in range(1, 4):
        desk.place("f", "sell", 10_000 + 100 * step, 20)
    desk.step()
    buys = []
    for step in range(1, 4):
        buys.append(desk.place("h", "buy", 10_000 + 100 * step, 20, tif="ioc"))
        desk.step(60_000)
    desk.step(close - desk.time)  # the first block at the close
    alert = only(desk, "S5")
    assert alert["accounts"] == desk.accounts("h") and alert["severity"] == "medium"
    assert alert["metrics"]["move_bps"] == 300 and alert["metrics"]["close_time"] == close
    assert alert["metrics"]["share_bps"] == 10_000 and alert["metrics"]["moving_orders"] == 3
    assert tx_ids(*buys) <= set(alert["evidence"])


def test_s5_another_accounts_trade_carries_the_close_over_the_threshold():
    desk = Desk()
    desk.background()
    close = to_the_close(desk, 9 * MINUTE)
    for price in (10_050, 10_100, 10_150, 10_210):
        desk.place("f", "sell", price, 20)
    desk.step()
    for price in (10_050, 10_100, 10_150):  # h pushes 150 bps: under min_move_bps
        desk.place("h", "buy", price, 20, tif="ioc")
        desk.step(60_000)
    desk.place("g", "buy", 10_210, 5, tif="ioc")  # g's one buy takes the move to 210 bps
    desk.step(60_000)
    assert desk.alerts("S5") == []  # judged at the close
    desk.step(close - desk.time + 1)
    alert = only(desk, "S5")
    assert alert["accounts"] == desk.accounts("h")  # g moved it 60 won of 210
    assert alert["metrics"]["move_bps"] == 210 and alert["metrics"]["moved_won"] == 150
    assert alert["metrics"]["moving_orders"] == 3 and alert["metrics"]["close_time"] == close


def test_s5_a_close_moved_less_than_min_move_is_not_marked():
    desk = Desk()
    desk.background()
    close = to_the_close(desk, 9 * MINUTE)
    for step in range(1, 4):
        desk.place("f", "sell", 10_000 + 50 * step, 20)
    desk.step()
    for step in range(1, 4):  # h alone, three lifts: 150 bps, under min_move_bps (200)
        desk.place("h", "buy", 10_000 + 50 * step, 20, tif="ioc")
        desk.step(60_000)
    desk.step(close - desk.time)
    assert desk.alerts("S5") == []


def test_session_close_of_a_weekly_schedule():
    sessions = {"weekly": [{"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00",
                            "close": "15:30"}], "holidays": ["2026-01-07"]}
    import datetime

    tuesday = int(datetime.datetime(2026, 1, 6, 15, 0, tzinfo=KST).timestamp()) * 1000
    assert compute_session_close(sessions, tuesday) == tuesday + 30 * 60_000
    assert compute_session_close(sessions, tuesday + 2 * HOUR) is None  # closed
    assert compute_session_close(sessions, tuesday + 24 * HOUR) is None  # a holiday


def test_s6_one_account_dominates_the_volume():
    desk = Desk({"S6": {"min_trades": 10, "top_share_bps": 9_000}})
    trades = []
    for step in range(10):
        desk.place("a", "sell", 10_000, 10)
        trades.append(desk.place("bcdefghijk"[step], "buy", 10_000, 10))
        desk.step(60_000)
    alert = only(desk, "S6")
    assert alert["accounts"] == desk.accounts("a") and alert["severity"] == "low"
    assert alert["metrics"]["share_bps"] == 5_000 and alert["metrics"]["trades"] == 10
    assert tx_ids(*trades) <= set(alert["evidence"])


def test_s6_the_top_accounts_together():
    desk = Desk({"S6": {"min_trades": 16, "group_min_trades": 16, "account_share_bps": 4_000,
                        "top_accounts": 3, "top_share_bps": 5_000}})
    for step in range(12):  # a, b and c among themselves
        desk.place("abc"[step % 3], "sell", 10_000, 10)
        desk.step()
        desk.step(40_000)  # taken 41 s later: no matched pair (S2)
        desk.place("abc"[(step + 1) % 3], "buy", 10_000, 10)
        desk.step(20_000)
    for seller, buyer in ("de", "fg", "hi", "jk"):  # the rest trade little
        desk.place(seller, "sell", 10_000, 5)
        desk.step()
        desk.step(40_000)
        desk.place(buyer, "buy", 10_000, 5)
        desk.step(20_000)
    alert = only(desk, "S6")  # the token's: it accuses no account, it names the top owners
    assert alert["accounts"] == [] and alert["symbol"] == SYMBOL
    top = [owner["accounts"] for owner in alert["metrics"]["top_owners"]]
    assert top == [[a] for a in desk.accounts("a", "b", "c")[:2]]  # a tie: lower ids first
    assert alert["metrics"]["owners"] == 2 and alert["metrics"]["share_bps"] == 5_714


def test_s7_pump_and_dump():
    desk = Desk()
    desk.background()
    for step in range(1, 6):
        desk.place("f", "sell", 10_000 + 120 * step, 50)
    desk.step()
    pumps = []
    for step in range(1, 6):
        pumps.append(desk.place("i", "buy", 10_000 + 120 * step, 50, tif="ioc"))
        desk.step(60_000)
    desk.place("j", "buy", 10_400, 200)
    desk.step(600_000)
    dump = desk.place("i", "sell", 10_400, 200, tif="ioc")
    desk.step()
    alerts = desk.alerts("S7")
    assert len(alerts) == 1 and alerts[0]["accounts"] == desk.accounts("i")
    metrics = alerts[0]["metrics"]
    assert metrics["bought"] == 250 and metrics["sold"] == 200 and metrics["rise_bps"] == 600
    assert metrics["buy_share_bps"] == 10_000 and metrics["avg_sell_price"] == 10_400
    assert tx_ids(*pumps, dump) <= set(alerts[0]["evidence"]) and alerts[0]["severity"] == "high"
    assert {a["rule"] for a in desk.alerts()} == {"S4", "S7"}  # the pump is also a ramp


def test_s7_selling_below_where_the_rise_began_is_no_dump():
    desk = Desk()
    desk.background()
    for step in range(1, 6):
        desk.place("f", "sell", 10_000 + 120 * step, 50)
    desk.step()
    for step in range(1, 6):
        desk.place("i", "buy", 10_000 + 120 * step, 50, tif="ioc")
        desk.step(60_000)
    desk.place("j", "buy", 10_000, 200)
    desk.step(600_000)
    desk.place("i", "sell", 10_000, 200, tif="ioc")
    desk.step()
    assert desk.alerts("S7") == []


def document(desk: Desk) -> object:
    return desk.world.send("issuer-1", "token", "set_document", symbol=SYMBOL, name="report",
                           uri="https://example.org/r", sha256=codec.sha256(b"r").hex())


def test_s8_unusual_buying_before_news_that_moved_the_price():
    desk = Desk()
    desk.background()
    buys = []
    for _ in range(3):
        desk.place("k", "sell", 10_000, 1_200)
        buys.append(desk.place("a", "buy", 10_000, 1_200))
        desk.step(HOUR)
    disclosure = document(desk)
    desk.step()
    desk.place("k", "sell", 10_200, 10)
    desk.place("l", "buy", 10_200, 10)
    desk.step(HOUR)
    assert desk.alerts("S8") == []  # 200 bps: under min_effect_bps
    desk.place("k", "sell", 10_400, 10)
    desk.place("l", "buy", 10_400, 10)
    desk.step(HOUR)
    alerts = desk.alerts("S8")
    assert [a["accounts"] for a in alerts] == [desk.accounts("a")]  # k sold: the other way
    mine = alerts[0]
    assert mine["metrics"]["net_qty"] == 3_600 and mine["metrics"]["insider"] is False
    assert mine["metrics"]["event_tx"] == disclosure.tx_id.hex()
    assert mine["price_effect"] == {"from": 10_000, "to": 10_400, "bps": 400}
    assert tx_ids(*buys, disclosure) <= set(mine["evidence"]) and mine["severity"] == "medium"


def test_s8_news_that_moves_the_price_only_after_the_effect_window_is_not_counted():
    desk = Desk({"S8": {"effect_ms": HOUR}})
    desk.background()
    for _ in range(3):
        desk.place("k", "sell", 10_000, 1_200)
        desk.place("a", "buy", 10_000, 1_200)
        desk.step(HOUR)
    document(desk)
    desk.step()
    desk.step(2 * HOUR)
    desk.place("k", "sell", 10_600, 10)
    desk.place("l", "buy", 10_600, 10)
    desk.step()
    assert desk.alerts("S8") == []


def test_s8_an_insider_trading_before_the_issuers_dividend():
    desk = Desk()
    desk.background()
    desk.make_insider("b")
    desk.step()
    desk.place("k", "sell", 10_000, 1_000)
    buy = desk.place("b", "buy", 10_000, 1_000)  # KRW 10M: S8's insider_min_value
    desk.step(HOUR)
    desk.world.send("bank", "cash", "mint", to=desk.world.account("issuer-1"), amount=10**9)
    desk.world.send("issuer-1", "dividend", "declare", symbol=SYMBOL, total=10**8)
    desk.step()
    alerts = desk.alerts("S8")
    assert [a["accounts"] for a in alerts] == [desk.accounts("b")]
    assert alerts[0]["metrics"]["insider"] is True and buy.tx_id.hex() in alerts[0]["evidence"]
    assert alerts[0]["metrics"]["event"] == "dividend" and alerts[0]["severity"] == "high"


def test_s8_looks_back_its_lookback_and_no_further():
    desk = Desk({"S8": {"lookback_ms": 2 * DAY}})
    desk.background()
    desk.make_insider("b")
    desk.step()
    desk.place("k", "sell", 10_000, 5)
    desk.place("b", "buy", 10_000, 5)
    desk.step()
    desk.step(2 * DAY + MINUTE)
    document(desk)
    desk.step()
    assert desk.alerts("S8") == []


def test_s9_cash_structuring_just_under_the_reporting_threshold():
    desk = Desk()
    transfers = []
    for amount, to in ((9_600_000, "b"), (9_990_000, "c"), (9_800_000, "d")):
        transfers.append(desk.pay("a", to, amount))
        desk.step(6 * HOUR)
    desk.pay("e", "f", 10_000_000)  # reported
    desk.pay("e", "f", 8_000_000)  # not near
    desk.step()
    alert = only(desk, "S9")
    assert alert["accounts"] == desk.accounts("a") and alert["symbol"] is None
    assert alert["metrics"]["units"] == 3 and alert["metrics"]["total"] == 29_390_000
    assert set(alert["evidence"]) == tx_ids(*transfers) and alert["severity"] == "medium"


def test_s9_two_near_amounts_are_not_enough():
    desk = Desk()
    for to in "bc":
        desk.pay("a", to, 9_600_000)
        desk.step(DAY)
    desk.pay("a", "d", 8_900_000)  # just under near_bps
    desk.step()
    assert desk.alerts("S9") == []


def test_s10_accounts_sharing_one_origin():
    desk = Desk()
    orders = [desk.place(name, "buy", 9_000 + i, 1, where="pc-bang")
              for i, name in enumerate("abc")]
    desk.step()
    alert = only(desk, "S10")
    assert alert["accounts"] == desk.accounts("a", "b", "c") and alert["severity"] == "medium"
    assert alert["metrics"]["origin"] == origin("pc-bang") and alert["metrics"]["orders"] == 3
    assert set(alert["evidence"]) == tx_ids(*orders)


def next_day(desk: Desk, at_ms: int = 10 * MINUTE) -> None:
    """Step to `at_ms` after the next KST midnight."""
    desk.step(compute_session_close("always", desk.time) - desk.time + at_ms)


def test_s11_a_price_far_from_its_recent_closes():
    desk = Desk()
    desk.background()
    next_day(desk)
    desk.background(rounds=2, price=11_200)
    alert = only(desk, "S11")
    assert alert["accounts"] == [] and alert["severity"] == "low"
    assert alert["metrics"]["kind"] == "price" and alert["metrics"]["move_bps"] == 1_200
    assert alert["price_effect"] == {"from": 10_000, "to": 11_200, "bps": 1_200}


def test_s11_a_day_volume_many_times_the_recent_mean():
    desk = Desk()
    desk.background()  # 50 units
    next_day(desk)
    for _ in range(20):
        desk.place("k", "sell", 10_000, 20)
        desk.step()
        desk.step(40_000)
        desk.place("l", "buy", 10_000, 20)
        desk.step(20_000)
    alert = only(desk, "S11")
    assert alert["metrics"]["kind"] == "volume" and alert["metrics"]["volume"] >= 250
    assert alert["metrics"]["mean_volume"] == 50


def pegging(desk: Desk) -> list:
    """a's bids hold 9,950 while k sells into them, one every five minutes."""
    bids = []
    for _ in range(6):
        bids.append(desk.place("a", "buy", 9_950, 100))
        desk.step()
        desk.place("k", "sell", 9_950, 100)
        desk.step(5 * MINUTE)
    return bids


def test_s12_pegging_before_a_record_date():
    desk = Desk()
    desk.background()
    desk.record_date_ahead()
    bids = pegging(desk)
    assert {a["rule"] for a in desk.alerts()} == {"S12"}
    alert = desk.alerts("S12")[-1]  # 5 bids, then 6: the same alert
    assert alert["accounts"] == desk.accounts("a") and alert["severity"] == "high"
    assert alert["metrics"]["event"] == "record date" and alert["metrics"]["share_bps"] == 10_000
    assert tx_ids(*bids[:5]) <= desk.listed(alert)


def test_s12_six_bids_without_a_date_are_not_pegging():
    desk = Desk()
    desk.background()
    pegging(desk)
    assert desk.alerts("S12") == []


def test_s13_orders_that_never_trade():
    desk = Desk()
    desk.background()
    orders = [desk.place("a", "buy", 9_000 + i, 1) for i in range(100)]
    desk.step()
    first, alert = desk.alerts("S13")  # 100 orders: two versions of one block, 64 and 36
    assert {a["rule"] for a in desk.alerts()} == {"S13"}
    assert (first["alert_id"], first["part"], alert["part"]) == (alert["alert_id"], [1, 2], [2, 2])
    assert alert["accounts"] == desk.accounts("a") and alert["severity"] == "low"
    assert alert["metrics"]["orders"] == 100 and alert["metrics"]["traded_orders"] == 0
    assert desk.listed(alert) == tx_ids(*orders)


def test_s14_moving_the_open():
    desk = Desk()
    desk.background()
    next_day(desk, at_ms=MINUTE)
    for step in range(1, 4):
        desk.place("f", "sell", 10_000 + 100 * step, 20)
    desk.step()
    buys = []
    for step in range(1, 4):
        buys.append(desk.place("h", "buy", 10_000 + 100 * step, 20, tif="ioc"))
        desk.step(MINUTE)
    assert desk.alerts("S14") == []  # judged once the opening minutes are over
    desk.step(30 * MINUTE)
    alert = only(desk, "S14")
    assert alert["accounts"] == desk.accounts("h") and alert["severity"] == "medium"
    assert alert["price_effect"] == {"from": 10_000, "to": 10_300, "bps": 300}
    assert tx_ids(*buys) <= set(alert["evidence"])


def test_more_of_the_same_activity_makes_versions_of_one_alert():
    desk = Desk()
    for _ in range(3):
        desk.place("a", "sell", 10_000, 5, where="home")
        desk.place("b", "buy", 10_000, 5, where="home")
        desk.step(60_000)
    alerts = desk.alerts("S1")
    assert [a["version"] for a in alerts] == [1, 2, 3]  # each wash is new evidence
    assert len({a["alert_id"] for a in alerts}) == 1
    assert [a["metrics"]["qty"] for a in alerts] == [5, 10, 15]


def test_activity_after_the_rules_window_is_a_new_alert():
    desk = Desk({"S1": {"window_ms": HOUR}})
    for _ in range(2):
        desk.place("a", "sell", 10_000, 5, where="home")
        desk.place("b", "buy", 10_000, 5, where="home")
        desk.step(2 * HOUR)
    alerts = desk.alerts("S1")
    assert [a["version"] for a in alerts] == [1, 1]
    assert len({a["alert_id"] for a in alerts}) == 2


def test_thresholds_come_from_genesis():
    desk = Desk({"S10": {"min_accounts": 4}, "S1": {"enabled": 0}})
    for name in "abc":
        desk.place(name, "buy", 9_000, 1, where="pc-bang")
    desk.place("d", "sell", 9_000, 1, where="pc-bang")
    desk.step()
    assert desk.alerts("S1") == []
    assert desk.alerts("S10")[0]["metrics"]["min_accounts"] == 4


def test_params_are_checked():
    assert check_surveillance_params(None)["S9"]["threshold"] == 10_000_000
    assert check_surveillance_params({"S4": {"min_upticks": 7}})["S4"]["min_upticks"] == 7
    assert check_surveillance_params(None)["owners"]["link_window_ms"] == 30 * DAY
    for bad, field in (({"S15": {}}, "S15"), ({"S4": {"upticks": 1}}, "S4.upticks"),
                       ({"S4": {"min_upticks": 0}}, "S4.min_upticks"),
                       ({"S5": {"min_share_bps": 10_001}}, "S5.min_share_bps"),
                       ({"owners": {"link_window_ms": 93 * DAY}}, "owners.link_window_ms"),
                       ({"S1": {"enabled": True}}, "S1.enabled"), ([], "")):
        with pytest.raises(SurveillanceParamsError) as error:
            check_surveillance_params(bad)
        assert error.value.field == field


def test_alert_events_go_to_the_regulator_and_the_registrar_only():
    import asyncio

    from node.rpc.events import EventHub

    desk = Desk()
    desk.world.keep_blocks = True
    desk.place("a", "sell", 10_000, 5, where="home")
    desk.place("b", "buy", 10_000, 5, where="home")
    desk.step()
    applied = desk.world.blocks[-1]
    assert [a["rule"] for a in applied.notes["alerts"]] == ["S1"]

    async def run() -> dict[str, list[str]]:
        hub = EventHub()
        subs = {role: hub.subscribe(desk[name], role) for role, name in
                (("regulator", "c"), ("registrar", "d"), ("broker", "e"), ("investor", "a"))}
        hub.publish(applied)
        seen = {}
        for role, sub in subs.items():
            items = []
            while not sub.queue.empty():
                items.append(sub.queue.get_nowait()["event"])
            seen[role] = items
        return seen

    seen = asyncio.run(run())
    assert "alert" in seen["regulator"] and "alert" in seen["registrar"]
    assert "alert" not in seen["broker"] and "alert" not in seen["investor"]
    assert "contract" in seen["investor"]  # its own trade's events, as before
