"""The close of a market session through the real executor: the begin-block hook's events
(orders expired at the close) are kept with the block, numbered on the event stream after the
block event and before the transactions' events, replayed from the store on a resume, and read
by surveillance, which closes the orders in its windows."""

from __future__ import annotations

import datetime

from node.rpc.events import EventHub, block_items, replay
from node.surveillance.world import MarketWorld

KST = datetime.timezone(datetime.timedelta(hours=9))
MONDAY = int(datetime.datetime(2026, 1, 5, 10, 0, tzinfo=KST).timestamp()) * 1000
TUESDAY = MONDAY + 86_400_000
CLOSE = MONDAY + (15 * 60 + 30 - 10 * 60) * 60_000  # 15:30 KST
SESSIONS = {"weekly": [{"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00",
                        "close": "15:30"}]}
ORIGIN = "ab" * 32


def market_world() -> MarketWorld:
    world = MarketWorld({"market": {"sessions": SESSIONS}}, MONDAY - 60_000)
    world.create_token("APT1", "issuer-1", 10_000, 10**6, MONDAY - 50_000)
    world.register(["alice", "bob"], "broker-a", MONDAY - 40_000)
    world.fund(["alice", "bob"], {"APT1": "issuer-1"}, 1_000, 10**8, MONDAY - 30_000)
    return world


def place(world: MarketWorld, name: str, side: str, price: int) -> None:
    world.send("broker-a", "market", "place", symbol="APT1", account=world.account(name),
               side=side, price=price, qty=10, media="hts", origin=ORIGIN)


def test_orders_expired_at_the_close_are_events_of_the_next_block() -> None:
    world = market_world()
    place(world, "alice", "sell", 10_500)
    place(world, "bob", "buy", 9_500)
    world.check(world.commit(MONDAY))
    assert all(world.surveillance.orders.get(i) is not None for i in (1, 2))
    world.send("bank", "cash", "mint", to=world.account("bob"), amount=1)  # any transaction
    receipts = world.commit(TUESDAY)
    executor = world.executor
    height = executor.height
    expired = executor.hook_events_at(height)
    assert [(e["contract"], e["name"]) for e in expired] == [
        ("cash", "CashReleased"), ("market", "OrderCancelled"), ("market", "OrderCancelled")]
    cancelled = [e["data"] for e in expired if e["name"] == "OrderCancelled"]
    assert [(c["order_id"], c["code"]) for c in cancelled] == [(2, "EXPIRED"), (1, "EXPIRED")]
    order = executor.query(world.account("fss"), "market", "order", {"order_id": 1})
    assert (order["code"], order["closed_time"], order["closed_height"]) == (
        "EXPIRED", CLOSE, height)

    block = executor.block(height)
    assert block is not None
    items = block_items(height, block.hash, receipts, hook_events=expired)
    assert [item["id"] for item in items] == [f"{height}.{index}" for index in range(len(items))]
    assert items[0]["event"] == "block"
    hooks = items[1:1 + len(expired)]
    assert all(item["data"]["tx_id"] is None for item in hooks)
    assert [item["data"]["name"] for item in hooks] == [e["name"] for e in expired]
    assert all(item["data"]["tx_id"] == receipts[0].tx_id.hex()
               for item in items[1 + len(expired):])  # the mint's events come after

    sub = EventHub().subscribe(world.account("fss"), "regulator")
    assert list(replay(executor, sub, (height, 0), height)) == items[1:]

    seen = [world.surveillance.orders.get(i) for i in (1, 2)]  # ended at the close itself
    assert [(o.is_open, o.code, o.closed_time) for o in seen if o is not None] == [
        (False, "EXPIRED", CLOSE), (False, "EXPIRED", CLOSE)]
