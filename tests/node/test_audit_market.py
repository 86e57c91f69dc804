"""The market's audit routes (`/v1/audit/orders`, `/v1/audit/trades`) over a real ledger, in
process, with the stand-in node of tests/node/test_audit.py. The story, one block each:

    1  broker-a registers alice and bob (general); broker-b registers carol (professional)
    2  issuer-1 creates SEOUL1 (no lock-up, unit price 1000)
    3  ksd approves a cap of 100,000
    4  issuer-1 issues 1000 to alice and 500 to bob; bank mints 1,000,000 KRW to carol, 50,000
       to bob
    5  broker-a: alice sells 100 @ 1000 (mts, origin A), bob sells 50 @ 1010 (hts, origin B)
    6  broker-b: carol buys 120 @ 1010 (api, origin C): 100 @ 1000 from alice, 20 @ 1010 from bob
    7  broker-a cancels bob's remaining 30
    8  broker-a: bob buys 10 @ 900, then bob sells 10 @ 900 (the buy is cancelled SELF_TRADE)
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from node.rpc.server import make_app
from tests.node.test_audit import Api, Ledger, StandInNode, csv_rows, investor, register

SYMBOL = "SEOUL1"
ORIGIN = {"alice": "a1" * 32, "bob": "b0" * 32, "carol": "c3" * 32}


def place(led: Ledger, broker: str, who: str, side: str, price: int, qty: int, media: str
          ) -> Any:
    return led.tx(broker, "market", "place", symbol=SYMBOL, account=led.account(who),
                  side=side, price=price, qty=qty, media=media, origin=ORIGIN[who])


def build_market_story(led: Ledger | None = None) -> tuple[Ledger, dict[str, int]]:
    led = led or Ledger()
    heights: dict[str, int] = {}
    a, b, c = led.account("alice"), led.account("bob"), led.account("carol")
    led.commit(register(led, "alice", investor()), register(led, "bob", investor()),
               register(led, "carol", investor("professional"), broker="broker-b"))
    led.commit(led.tx("issuer-1", "token", "create", symbol=SYMBOL, name="Seoul Tower 1",
                      asset_type="real_estate", unit_price=1000, max_supply=1_000_000,
                      rules={"lockup_ms": 0}))
    led.commit(led.tx("ksd", "token", "approve", symbol=SYMBOL, cap=100_000))
    led.commit(led.tx("issuer-1", "token", "issue", symbol=SYMBOL, to=a, amount=1000),
               led.tx("issuer-1", "token", "issue", symbol=SYMBOL, to=b, amount=500),
               led.tx("bank", "cash", "mint", to=c, amount=1_000_000),
               led.tx("bank", "cash", "mint", to=b, amount=50_000))
    heights["asks"] = led.commit(place(led, "broker-a", "alice", "sell", 1000, 100, "mts"),
                                 place(led, "broker-a", "bob", "sell", 1010, 50, "hts"))
    heights["cross"] = led.commit(place(led, "broker-b", "carol", "buy", 1010, 120, "api"))
    heights["cancel"] = led.commit(led.tx("broker-a", "market", "cancel", order_id=2))
    heights["self_trade"] = led.commit(place(led, "broker-a", "bob", "buy", 900, 10, "hts"),
                                       place(led, "broker-a", "bob", "sell", 900, 10, "hts"))
    for receipt in led.receipts.values():
        assert receipt.ok, receipt.error
    return led, heights


@pytest.fixture(scope="module")
def market_story() -> tuple[Ledger, dict[str, int]]:
    return build_market_story()


@pytest.fixture
async def api(market_story):
    ledger, _ = market_story
    client = TestClient(TestServer(make_app(StandInNode(ledger))))
    await client.start_server()
    try:
        yield Api(client, ledger)
    finally:
        await client.close()


async def test_every_order_with_media_origin_broker_status_and_cancel_code(api, market_story):
    ledger, heights = market_story
    value = await api.ok("/v1/audit/orders")
    assert value["as_of"] == {"height": ledger.executor.height,
                              "block_hash": ledger.executor.last_block_hash.hex()}
    rows = {row["order_id"]: row for row in value["orders"]}
    assert sorted(rows) == [1, 2, 3, 4, 5]
    assert value["next_cursor"] is None
    alice, bob, carol = (ledger.account(n) for n in ("alice", "bob", "carol"))
    expected = {  # id: (account, broker, side, media, origin, status, code, filled, remaining)
        1: (alice, "broker-a", "sell", "mts", ORIGIN["alice"], "filled", None, 100, 0),
        2: (bob, "broker-a", "sell", "hts", ORIGIN["bob"], "cancelled", "CANCELLED", 20, 30),
        3: (carol, "broker-b", "buy", "api", ORIGIN["carol"], "filled", None, 120, 0),
        4: (bob, "broker-a", "buy", "hts", ORIGIN["bob"], "cancelled", "SELF_TRADE", 0, 10),
        5: (bob, "broker-a", "sell", "hts", ORIGIN["bob"], "resting", None, 0, 10),
    }
    for order_id, (account, broker, side, media, origin, status, code, filled,
                   remaining) in expected.items():
        row = rows[order_id]
        assert (row["account"], row["broker"], row["side"], row["media"], row["origin"],
                row["status"], row["code"], row["filled"], row["remaining"]) == (
            account, ledger.account(broker), side, media, origin, status, code, filled,
            remaining), order_id
        assert row["symbol"] == SYMBOL
    assert rows[3]["placed_height"] == heights["cross"]
    assert rows[2]["closed_height"] == heights["cancel"]


async def test_orders_by_account_symbol_and_heights(api, market_story):
    ledger, heights = market_story
    bob = ledger.account("bob")
    by_bob = await api.ok(f"/v1/audit/orders?account={bob}")
    assert [r["order_id"] for r in by_bob["orders"]] == [2, 4, 5]
    both = await api.ok(f"/v1/audit/orders?account={bob}&symbol={SYMBOL}")
    assert [r["order_id"] for r in both["orders"]] == [2, 4, 5]
    by_symbol = await api.ok(f"/v1/audit/orders?symbol={SYMBOL}&from={heights['cross']}")
    assert [r["order_id"] for r in by_symbol["orders"]] == [3, 4, 5]
    window = await api.ok(f"/v1/audit/orders?from={heights['cross']}&to={heights['cancel']}")
    assert [r["order_id"] for r in window["orders"]] == [3]
    assert window["as_of"]["height"] == heights["cancel"]
    nobody = await api.ok(f"/v1/audit/orders?account={'ab' * 32}")
    assert nobody["orders"] == []


async def test_orders_as_of_a_past_height_show_the_status_then(api, market_story):
    _, heights = market_story
    before = await api.ok(f"/v1/audit/orders?to={heights['asks']}")
    assert [(r["order_id"], r["status"], r["remaining"]) for r in before["orders"]] == [
        (1, "resting", 100), (2, "resting", 50)]
    after_cross = await api.ok(f"/v1/audit/orders?to={heights['cross']}")
    rows = {r["order_id"]: r for r in after_cross["orders"]}
    assert (rows[2]["status"], rows[2]["remaining"], rows[2]["code"]) == ("resting", 30, None)
    empty = await api.ok(f"/v1/audit/orders?to={heights['asks'] - 1}")
    assert empty["orders"] == []


async def test_trades_with_accounts_and_each_side_media_and_origin(api, market_story):
    ledger, heights = market_story
    value = await api.ok("/v1/audit/trades")
    alice, bob, carol = (ledger.account(n) for n in ("alice", "bob", "carol"))
    got = [(t["trade_id"], t["price"], t["qty"], t["buyer"], t["seller"], t["buy_media"],
            t["sell_media"], t["buy_origin"], t["sell_origin"], t["aggressor"], t["height"])
           for t in value["trades"]]
    assert got == [
        (1, 1000, 100, carol, alice, "api", "mts", ORIGIN["carol"], ORIGIN["alice"], "buy",
         heights["cross"]),
        (2, 1010, 20, carol, bob, "api", "hts", ORIGIN["carol"], ORIGIN["bob"], "buy",
         heights["cross"])]
    assert value["trades"][0]["buy_broker"] == ledger.account("broker-b")
    assert value["trades"][0]["sell_broker"] == ledger.account("broker-a")
    assert value["trades"][0]["value"] == 100_000
    by_alice = await api.ok(f"/v1/audit/trades?account={alice}")
    assert [t["trade_id"] for t in by_alice["trades"]] == [1]
    by_carol = await api.ok(f"/v1/audit/trades?account={carol}&symbol={SYMBOL}")
    assert [t["trade_id"] for t in by_carol["trades"]] == [1, 2]
    later = await api.ok(f"/v1/audit/trades?from={heights['cross'] + 1}")
    assert later["trades"] == []
    before = await api.ok(f"/v1/audit/trades?to={heights['asks']}")
    assert before["trades"] == []


async def test_pages_are_pinned_to_the_height_of_the_first(api, market_story):
    _, heights = market_story
    first = await api.ok(f"/v1/audit/orders?to={heights['cross']}&limit=2")
    assert [r["order_id"] for r in first["orders"]] == [1, 2]
    assert first["next_cursor"]
    second = await api.ok(f"/v1/audit/orders?limit=2&cursor={first['next_cursor']}")
    assert [r["order_id"] for r in second["orders"]] == [3]
    assert second["as_of"]["height"] == heights["cross"]
    assert second["next_cursor"] is None
    trades = await api.ok("/v1/audit/trades?limit=1")
    rest = await api.ok(f"/v1/audit/trades?limit=1&cursor={trades['next_cursor']}")
    assert [t["trade_id"] for t in trades["trades"] + rest["trades"]] == [1, 2]
    status, value = await api.get(f"/v1/audit/trades?cursor={first['next_cursor']}")
    assert (status, value["error"]["code"]) == (400, "bad_request")  # another route's cursor
    status, value = await api.get(f"/v1/audit/orders?symbol={SYMBOL}&cursor="
                                  f"{first['next_cursor']}")
    assert status == 400 and "other parameters" in value["error"]["message"]


async def test_csv_has_the_columns_and_the_as_of_headers(api, market_story):
    ledger, _ = market_story
    status, (text, headers) = await api.get("/v1/audit/trades?format=csv")
    assert status == 200
    rows = csv_rows(text)
    assert [(r["trade_id"], r["buy_media"], r["sell_origin"]) for r in rows] == [
        ("1", "api", ORIGIN["alice"]), ("2", "api", ORIGIN["bob"])]
    assert headers["X-As-Of-Height"] == str(ledger.executor.height)
    status, (text, headers) = await api.get("/v1/audit/orders?format=csv&limit=4")
    rows = csv_rows(text)
    assert [r["code"] for r in rows] == ["", "CANCELLED", "", "SELF_TRADE"]
    assert headers["X-Next-Cursor"]


@pytest.mark.parametrize("route", ["orders", "trades"])
async def test_regulator_and_registrar_only(api, route):
    path = f"/v1/audit/{route}"
    for who in ("fss", "ksd"):
        assert (await api.get(path, who))[0] == 200, who
    for who in ("alice", "carol", "broker-a", "broker-b", "issuer-1", "bank", "eve"):
        assert await api.code(path, who) == (403, "forbidden"), who
    operator = api.ledger.network.node_signers["ksd"]
    status, value = await api.get(path, signer=operator)
    assert (status, value["error"]["code"]) == (403, "forbidden")
    assert await api.code(path, None) == (401, "unauthorized")


@pytest.mark.parametrize("query, words", [
    ("symbol=NOPE", "unknown symbol"),
    ("symbol=bad/sym", "not a token symbol"),
    ("account=ABCD", "64 lowercase hex"),
    ("from=5&to=4", "after"),
    ("to=9999", "above the chain height"),
    ("limit=0", "limit"),
    ("cursor=garbage!", "not a cursor"),
    ("format=xml", "json or csv"),
])
@pytest.mark.parametrize("route", ["orders", "trades"])
async def test_bad_parameters_are_400(api, route, query, words):
    status, value = await api.get(f"/v1/audit/{route}?{query}")
    assert status == 400, value
    assert words in value["error"]["message"], value["error"]["message"]


async def test_a_chain_without_orders_answers_empty_lists():
    led = Ledger()
    client = TestClient(TestServer(make_app(StandInNode(led))))
    await client.start_server()
    try:
        api = Api(client, led)
        for route in ("orders", "trades"):
            value = await api.ok(f"/v1/audit/{route}")
            assert value[route] == [] and value["as_of"]["height"] == 0
    finally:
        await client.close()


async def test_a_page_reads_a_bounded_number_of_records(api, market_story, monkeypatch):
    import node.rpc.audit_market as audit_market

    ledger, _ = market_story
    monkeypatch.setattr(audit_market, "MAX_SCANNED", 2)
    bob = ledger.account("bob")
    ids: list[int] = []
    page = await api.ok(f"/v1/audit/orders?account={bob}&symbol={SYMBOL}&limit=100")
    while True:
        assert len(page["orders"]) <= 2
        ids += [row["order_id"] for row in page["orders"]]
        if page["next_cursor"] is None:
            break
        page = await api.ok(f"/v1/audit/orders?account={bob}&symbol={SYMBOL}&limit=100"
                            f"&cursor={page['next_cursor']}")
    assert ids == [2, 4, 5]
