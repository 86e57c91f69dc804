"""What surveillance reads of orders other contracts and the close end: the market's
`OrderCancelled` is the market's event whichever transaction called it (fds.hold cancelling a
held account's orders, token.force_transfer a holder's sells), and an order the begin-block hook
expires (EXPIRED) ended at its session's close, not at the later block that expired it."""

from __future__ import annotations

import datetime

from tests.node.surveillance_desk import HOUR, KST, SYMBOL, Desk

SESSIONS = {"weekly": [{"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00",
                        "close": "15:30"}], "holidays": []}


def seen(desk: Desk, order_id: int):
    order = desk.world.surveillance.orders.get(order_id)
    assert order is not None, f"surveillance never saw order {order_id}"
    return order


def resting(desk: Desk, name: str, side: str, price: int, qty: int) -> int:
    desk.place(name, side, price, qty)
    (receipt,) = desk.step()
    assert receipt.result["status"] == "resting"
    return receipt.result["order_id"]


def test_orders_a_trading_hold_cancels_are_closed_in_surveillance():
    desk = Desk()
    desk.background()
    order_ids = [resting(desk, "e", "buy", 9_900 - i, 50) for i in range(3)]
    desk.world.send("ksd", "fds", "hold", account=desk["e"], scope="trading",
                    reason="examiner")
    desk.step()
    for order_id in order_ids:
        order = seen(desk, order_id)
        assert (order.code, order.closed_time) == ("ACCOUNT_HELD", desk.time)


def test_sells_a_forced_transfer_cancels_are_closed_in_surveillance():
    desk = Desk()
    desk.background()
    order_id = resting(desk, "c", "sell", 10_100, 99_000)
    desk.world.send("ksd", "token", "force_transfer", symbol=SYMBOL, from_=desk["c"],
                    to=desk["d"], amount=5_000, reason="court order")
    desk.step()
    order = seen(desk, order_id)
    assert (order.code, order.closed_time) == ("FORCED_TRANSFER", desk.time)


def test_an_order_expired_by_the_close_hook_ended_at_the_close():
    desk = Desk(market={"sessions": SESSIONS})  # Tuesday 10:00 KST
    desk.background(rounds=2)
    order_id = resting(desk, "e", "buy", 9_900, 50)
    close = int(datetime.datetime(2026, 1, 6, 15, 30, tzinfo=KST).timestamp()) * 1000
    assert close > desk.time
    desk.step(23 * HOUR)  # Wednesday 09:..: the hook expires Tuesday's orders
    order = seen(desk, order_id)
    assert order.code == "EXPIRED" and order.closed_time == close, (order, close)
