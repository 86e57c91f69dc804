"""Surveillance rules S1-S10: each planted manipulation raises its alert with the right accounts,
numbers and evidence, and nothing else on the desk is flagged (tests/node/surveillance_desk.py:
the real market contract in an in-memory executor)."""

from __future__ import annotations

import pytest

from consensus import codec
from genesis.surveillance import SurveillanceParamsError, check_surveillance_params
from node.storage import Batch
from node.storage import schema as s
from node.surveillance.indexer import compute_alert_id
from node.surveillance.rules import compute_session_close
from tests.node.surveillance_desk import KST, SYMBOL, Desk, origin

HOUR = 3_600_000


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
    desk.step()
    alert = only(desk, "S1")
    assert alert["accounts"] == desk.accounts("a", "b") and alert["symbol"] == SYMBOL
    assert alert["metrics"]["same_origin_trades"] == 1 and alert["metrics"]["qty"] == 50
    assert tx_ids(sell, buy) <= set(alert["evidence"]) and alert["severity"] == "high"
    window = alert["window"]
    assert alert["alert_id"] == compute_alert_id("S1", SYMBOL, tuple(alert["accounts"]),
                                                 window["from_time"]).hex()


def test_s1_wash_trade_between_accounts_linked_by_an_origin():
    desk = Desk()
    desk.background()
    desk.place("a", "buy", 9_000, 1, where="laptop")  # a and b both use the laptop today
    desk.place("b", "buy", 9_001, 1, where="laptop")
    desk.step(HOUR)
    desk.place("a", "sell", 10_000, 20)  # later, from their own phones
    trade = desk.place("b", "buy", 10_000, 20)
    desk.step()
    alert = only(desk, "S1")
    assert alert["accounts"] == desk.accounts("a", "b")
    assert alert["metrics"]["same_origin_trades"] == 0
    assert alert["metrics"]["shared_origins"] == [origin("laptop")]
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
    assert alert["accounts"] == desk.accounts("c", "d")
    assert alert["metrics"]["matched_trades"] == 4 and alert["metrics"]["each_way"] == [2, 2]
    assert tx_ids(*legs) <= set(alert["evidence"])


def test_s2_needs_both_directions():
    desk = Desk()
    desk.background()
    for _ in range(4):
        desk.place("c", "sell", 10_000, 200)
        desk.place("d", "buy", 10_000, 200)
        desk.step(120_000)
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
    assert alert["accounts"] == desk.accounts("e")
    assert alert["metrics"]["side"] == "buy" and alert["metrics"]["cancelled_orders"] == 3
    assert alert["metrics"]["opposite_qty"] == 10
    assert tx_ids(*bids, sell) <= set(alert["evidence"])
    assert not tx_ids(*cancels) & set(alert["evidence"])


def test_s3_slow_cancels_are_not_spoofing():
    desk = Desk()
    desk.background()
    desk.place("f", "buy", 9_990, 10)
    desk.step()
    desk.place("e", "buy", 9_950, 500)
    desk.place("e", "buy", 9_949, 500)
    desk.place("e", "buy", 9_948, 500)
    order_ids = [r.result["order_id"] for r in desk.step()]
    desk.place("e", "sell", 9_990, 10, tif="ioc")
    desk.step()
    for order_id in order_ids:
        desk.cancel(order_id)
    desk.step(30_000)  # 31 s after placing: longer than cancel_ms
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
    assert alert["accounts"] == desk.accounts("g")
    assert alert["metrics"]["uptick_orders"] == 5
    assert alert["metrics"]["from_price"] == 10_000 and alert["metrics"]["to_price"] == 10_300
    assert alert["metrics"]["rise_bps"] == 300
    assert tx_ids(*buys) <= set(alert["evidence"])


def test_s5_marking_the_close():
    desk = Desk()  # sessions `always`: the day closes at midnight KST
    desk.background()
    close = compute_session_close("always", desk.time)
    desk.step(close - desk.time - 9 * 60_000)  # 23:51 KST
    for step in range(1, 4):
        desk.place("f", "sell", 10_000 + 100 * step, 20)
    desk.step()
    buys = []
    for step in range(1, 4):
        buys.append(desk.place("h", "buy", 10_000 + 100 * step, 20, tif="ioc"))
        desk.step(60_000)
    alert = only(desk, "S5")
    assert alert["accounts"] == desk.accounts("h")
    assert alert["metrics"]["move_bps"] == 300 and alert["metrics"]["close_time"] == close
    assert alert["metrics"]["share_bps"] == 5_000 and alert["metrics"]["aggressive_orders"] == 3
    assert tx_ids(*buys) <= set(alert["evidence"])


def test_s5_another_accounts_trade_carries_the_close_over_the_threshold():
    desk = Desk()
    desk.background()
    close = compute_session_close("always", desk.time)
    desk.step(close - desk.time - 9 * 60_000)
    for price in (10_050, 10_100, 10_150, 10_210):
        desk.place("f", "sell", price, 20)
    desk.step()
    for price in (10_050, 10_100, 10_150):  # h pushes 150 bps: under min_move_bps
        desk.place("h", "buy", price, 20, tif="ioc")
        desk.step(60_000)
    assert desk.alerts("S5") == []
    desk.place("g", "buy", 10_210, 5, tif="ioc")  # g's one buy takes the move to 210 bps
    desk.step(60_000)
    alert = only(desk, "S5")
    assert alert["accounts"] == desk.accounts("h")  # g made one push, not min_trades
    assert alert["metrics"]["move_bps"] == 210 and alert["metrics"]["moved_won"] == 150
    assert alert["metrics"]["aggressive_orders"] == 3 and alert["metrics"]["close_time"] == close


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
        trades.append(desk.place("a", "sell", 10_000, 10))
        desk.place("bcdefghijk"[step], "buy", 10_000, 10)
        desk.step(60_000)
    alert = only(desk, "S6")
    assert alert["accounts"] == desk.accounts("a")
    assert alert["metrics"]["share_bps"] == 5_000 and alert["metrics"]["trades"] == 10
    assert tx_ids(*trades) <= set(alert["evidence"]) or len(alert["evidence"]) == 10


def test_s6_the_top_accounts_together():
    desk = Desk({"S6": {"min_trades": 12, "account_share_bps": 4_000, "top_accounts": 3,
                        "top_share_bps": 6_000}})
    for step in range(12):
        seller, buyer = ("abc"[step % 3], "abc"[(step + 1) % 3])
        desk.place(seller, "sell", 10_000, 10)
        desk.place(buyer, "buy", 10_000 + 1, 10)
        desk.step(60_000)
    alert = only(desk, "S6")
    assert alert["accounts"] == desk.accounts("a", "b", "c")[:2]  # a tie: lower ids first
    assert alert["metrics"]["accounts"] == 2 and alert["metrics"]["share_bps"] == 6_666


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
    assert tx_ids(*pumps, dump) <= set(alerts[0]["evidence"])
    assert {a["rule"] for a in desk.alerts()} == {"S4", "S7"}  # the pump is also a ramp


def test_s8_unusual_buying_before_a_disclosure():
    desk = Desk()
    desk.background()
    buys = []
    for _ in range(3):
        desk.place("k", "sell", 10_000, 400)
        buys.append(desk.place("a", "buy", 10_000, 400))
        desk.step(HOUR)
    disclosure = desk.world.send("issuer-1", "token", "set_document", symbol=SYMBOL,
                                 name="report", uri="https://example.org/r",
                                 sha256=codec.sha256(b"r").hex())
    desk.step()
    alerts = desk.alerts("S8")
    assert [a["accounts"] for a in alerts] == [desk.accounts("a"), desk.accounts("k")]
    mine = alerts[0]
    assert mine["metrics"]["net_qty"] == 1_200 and mine["metrics"]["insider"] is False
    assert mine["metrics"]["disclosure_tx"] == disclosure.tx_id.hex()
    assert tx_ids(*buys, disclosure) <= set(mine["evidence"])


def test_s8_an_insider_trading_before_the_issuers_dividend():
    desk = Desk()
    desk.background()
    key = s.state_key(f"identity/account/{desk['b']}")
    record = codec.unpack(desk.world.store.get(key))
    record["attrs"]["insider_of"] = [desk.world.account("issuer-1")]  # an officer
    batch = Batch()
    batch.put(key, codec.pack(record))
    desk.world.store.write(batch)
    desk.place("k", "sell", 10_000, 5)
    buy = desk.place("b", "buy", 10_000, 5)
    desk.step(HOUR)
    desk.world.send("bank", "cash", "mint", to=desk.world.account("issuer-1"), amount=10**9)
    desk.world.send("issuer-1", "dividend", "declare", symbol=SYMBOL, total=10**8)
    desk.step()
    alerts = desk.alerts("S8")
    assert [a["accounts"] for a in alerts] == [desk.accounts("b")]
    assert alerts[0]["metrics"]["insider"] is True and buy.tx_id.hex() in alerts[0]["evidence"]
    assert alerts[0]["metrics"]["disclosure"] == "dividend"


def test_s9_cash_structuring_just_under_the_reporting_threshold():
    desk = Desk()
    transfers = []
    for amount, to in ((9_600_000, "b"), (9_990_000, "c"), (9_800_000, "d")):
        transfers.append(desk.world.send("a", "cash", "transfer", to=desk[to], amount=amount))
        desk.step(6 * HOUR)
    desk.world.send("e", "cash", "transfer", to=desk["f"], amount=10_000_000)  # reported
    desk.world.send("e", "cash", "transfer", to=desk["f"], amount=8_000_000)  # not near
    desk.step()
    alert = only(desk, "S9")
    assert alert["accounts"] == desk.accounts("a") and alert["symbol"] is None
    assert alert["metrics"]["count"] == 3 and alert["metrics"]["total"] == 29_390_000
    assert set(alert["evidence"]) == tx_ids(*transfers)


def test_s10_accounts_sharing_one_origin():
    desk = Desk()
    orders = [desk.place(name, "buy", 9_000 + i, 1, where="pc-bang")
              for i, name in enumerate("abc")]
    desk.step()
    alert = only(desk, "S10")
    assert alert["accounts"] == desk.accounts("a", "b", "c")
    assert alert["metrics"]["origin"] == origin("pc-bang") and alert["metrics"]["orders"] == 3
    assert set(alert["evidence"]) == tx_ids(*orders)


def test_an_alert_is_raised_once_per_subject_and_window():
    desk = Desk()
    for _ in range(3):
        desk.place("a", "sell", 10_000, 5, where="home")
        desk.place("b", "buy", 10_000, 5, where="home")
        desk.step(60_000)
    assert len(desk.alerts("S1")) == 1


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
    for bad, field in (({"S11": {}}, "S11"), ({"S4": {"upticks": 1}}, "S4.upticks"),
                       ({"S4": {"min_upticks": 0}}, "S4.min_upticks"),
                       ({"S5": {"min_share_bps": 10_001}}, "S5.min_share_bps"),
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
