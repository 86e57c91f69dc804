"""The offerings' audit route, supply through an offering and a redemption, and the
redemption's register against the cap table at the record height, over a real ledger
history in process (tests/node/test_audit.py's Ledger: the real executor, real certificates).

The story, one block each (ksd, brokers, bank and issuers are genesis organisations):

    1  broker-a registers alice, bob (general), carol (professional, non-resident);
       broker-b registers dave (corporate)
    2  issuer-1 creates BUSAN1 (unit price 1,000), sets its prospectus;
       ksd approves a cap of 10,000; the bank mints cash to everyone
    3  issuer-1 opens offering 1: 100 units at 1,200 KRW, equal_bps 5,000
    4  alice 80, bob 50, carol 60, dave 40 subscribe (230 asked: oversubscribed); bob withdraws
    5  (after the close) allocate, 2 steps a call, until done
    6  issuer-1 issues 5 units to itself
    7  issuer-1 declares redemption at 1,500 KRW (record height 6), then settles it in steps
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from chaincode.allocation import compute_allocation, draw_key
from consensus.crypto import Signer
from node.rpc.server import make_app
from tests.node.test_audit import Api, Ledger, StandInNode, csv_rows, investor, register

SYMBOL = "BUSAN1"
PRICE = 1_200
ASKS = {"alice": 80, "bob": 50, "carol": 60, "dave": 40}


def build() -> tuple[Ledger, dict[str, Any]]:
    led = Ledger()
    led.signers["dave"] = Signer.generate()
    marks: dict[str, Any] = {}
    corporate = dict(investor("corporate"), legal_form="corporation")
    led.commit(register(led, "alice", investor()), register(led, "bob", investor()),
               register(led, "carol", investor("professional", "US", False)),
               register(led, "dave", corporate, broker="broker-b"))
    issuer = led.account("issuer-1")
    led.commit(led.tx("issuer-1", "token", "create", symbol=SYMBOL, name="Busan Harbour 1",
                      asset_type="real_estate", unit_price=1_000, max_supply=1_000_000,
                      rules={}),
               led.tx("issuer-1", "token", "set_document", symbol=SYMBOL, name="prospectus",
                      uri="https://example.invalid/busan1.pdf", sha256="cd" * 32),
               led.tx("ksd", "token", "approve", symbol=SYMBOL, cap=10_000),
               *[led.tx("bank", "cash", "mint", to=led.account(name), amount=10**7)
                 for name in ASKS], led.tx("bank", "cash", "mint", to=issuer, amount=10**6))
    opened = led.tx("issuer-1", "offering", "open", symbol=SYMBOL, price=PRICE, qty=100,
                    start_time=led.time, end_time=led.time + 10_000, min_qty=1, max_qty=100,
                    equal_bps=5_000)
    marks["open_height"] = led.commit(opened)
    assert led.receipts[opened.tx_id_hex].ok, led.receipts[opened.tx_id_hex].error
    subscribed = [led.tx("broker-b" if name == "dave" else "broker-a", "offering",
                         "subscribe", offering_id=1, account=led.account(name), qty=ask)
                  for name, ask in ASKS.items()]
    withdrawn = led.tx("broker-a", "offering", "withdraw", offering_id=1,
                       account=led.account("bob"))
    marks["subscribed_height"] = led.commit(*subscribed, withdrawn)
    for tx in (*subscribed, withdrawn):
        assert led.receipts[tx.tx_id_hex].ok, led.receipts[tx.tx_id_hex].error
    allocations = 0
    while True:
        tx = led.tx("issuer-1", "offering", "allocate", offering_id=1, max_steps=2)
        height = led.commit(tx, advance_ms=20_000 if allocations == 0 else 1000)
        receipt = led.receipts[tx.tx_id_hex]
        assert receipt.ok, receipt.error
        allocations += 1
        if receipt.result["done"]:
            marks["allocated_height"] = height
            break
    marks["allocations"] = allocations
    marks["own_height"] = led.commit(led.tx("issuer-1", "token", "issue", symbol=SYMBOL,
                                            to=issuer, amount=5))
    declared = led.tx("issuer-1", "offering", "redeem_all", symbol=SYMBOL, price=1_500)
    marks["declared_height"] = led.commit(declared)
    assert led.receipts[declared.tx_id_hex].ok, led.receipts[declared.tx_id_hex].error
    while True:
        tx = led.tx("issuer-1", "offering", "settle", redemption_id=1, max_steps=2)
        marks["settled_height"] = led.commit(tx)
        assert led.receipts[tx.tx_id_hex].ok, led.receipts[tx.tx_id_hex].error
        if led.receipts[tx.tx_id_hex].result["done"]:
            return led, marks


@pytest.fixture(scope="module")
def story() -> tuple[Ledger, dict[str, Any]]:
    return build()


@pytest.fixture
async def api(story):
    ledger, _ = story
    client = TestClient(TestServer(make_app(StandInNode(ledger))))
    await client.start_server()
    try:
        yield Api(client, ledger)
    finally:
        await client.close()


def expected_book(ledger: Ledger) -> dict[str, tuple[int, int, int]]:
    """account -> (equal, pro_rata, allocated) by the reference (bob withdrew)."""
    live = [name for name in ASKS if name != "bob"]
    order = sorted(live, key=lambda name: draw_key(1, ledger.account(name)))
    shares = compute_allocation(100, 5_000, [ASKS[name] for name in order])
    return {ledger.account(name): tuple(share) for name, share in zip(order, shares,
                                                                      strict=True)}


async def test_the_book_of_subscriptions_with_allocation_and_refunds(api, story):
    ledger, marks = story
    answer = await api.ok(f"/v1/audit/offerings?symbol={SYMBOL}&at={marks['allocated_height']}")
    [offering] = answer["offerings"]
    assert (offering["status"], offering["qty"], offering["allocated_qty"],
            offering["subscribers"]) == ("allocated", 100, 100, 3)
    rows = {row["account"]: row for row in answer["subscriptions"]}
    assert len(rows) == 4 and answer["next_cursor"] is None
    bob = rows.pop(ledger.account("bob"))
    assert (bob["status"], bob["refunded"], bob["allocated"]) == ("withdrawn", 50 * PRICE, 0)
    for account, (equal, pro_rata, allocated) in expected_book(ledger).items():
        row = rows[account]
        assert (row["equal"], row["pro_rata"], row["allocated"], row["status"]) == (
            equal, pro_rata, allocated, "allocated")
        assert row["refunded"] == (row["qty"] - allocated) * PRICE and row["escrowed"] == 0
        assert row["offering_id"] == 1
    during = await api.ok(f"/v1/audit/offerings?symbol={SYMBOL}&at={marks['subscribed_height']}")
    assert during["offerings"][0]["status"] == "open"
    assert {row["status"] for row in during["subscriptions"]} == {"live", "withdrawn"}


async def test_pages_csv_and_access(api, story):
    ledger, _ = story
    first = await api.ok(f"/v1/audit/offerings?symbol={SYMBOL}&limit=3")
    assert len(first["subscriptions"]) == 3 and first["next_cursor"]
    second = await api.ok(f"/v1/audit/offerings?symbol={SYMBOL}&limit=3"
                          f"&cursor={first['next_cursor']}")
    accounts = [r["account"] for r in first["subscriptions"] + second["subscriptions"]]
    assert sorted(accounts) == sorted(ledger.account(name) for name in ASKS)
    assert second["next_cursor"] is None
    status, (text, headers) = await api.get(f"/v1/audit/offerings?symbol={SYMBOL}&format=csv")
    assert status == 200 and headers["X-As-Of-Height"] == str(ledger.executor.height)
    assert {row["account"] for row in csv_rows(text)} == set(accounts)
    assert (await api.ok(f"/v1/audit/offerings?symbol={SYMBOL}", who="ksd"))["offerings"]
    for who in ("issuer-1", "broker-a", "bank"):
        assert await api.code(f"/v1/audit/offerings?symbol={SYMBOL}", who=who) == (
            403, "forbidden")
    assert (await api.code("/v1/audit/offerings"))[0] == 400
    assert (await api.code(f"/v1/audit/offerings?symbol={SYMBOL}&offering_id=9"))[0] == 400
    assert (await api.code(f"/v1/audit/offerings?symbol={SYMBOL}&cursor=AAAA"))[0] == 400


async def test_supply_reconciles_through_the_offering_and_the_redemption(api, story):
    _, marks = story
    during = await api.ok(f"/v1/audit/supply?symbol={SYMBOL}&at={marks['subscribed_height']}")
    assert (during["issued"], during["reserved"], during["reconciles"]) == (0, 100, True)
    after = await api.ok(f"/v1/audit/supply?symbol={SYMBOL}&at={marks['allocated_height']}")
    assert (after["issued"], after["reserved"], after["outstanding"],
            after["sum_of_balances"], after["reconciles"]) == (100, 0, 100, 100, True)
    redeemed = await api.ok(f"/v1/audit/supply?symbol={SYMBOL}&at={marks['settled_height']}")
    assert (redeemed["issued"], redeemed["redeemed"], redeemed["outstanding"],
            redeemed["sum_of_balances"], redeemed["holder_count"],
            redeemed["reconciles"]) == (105, 105, 0, 0, 0, True)


async def test_the_register_is_the_captable_at_the_record_height(api, story):
    ledger, marks = story
    redemption = ledger.executor.query(ledger.account("fss"), "offering", "redemption",
                                       {"redemption_id": 1})
    record_height = redemption["record_height"]
    assert record_height == marks["declared_height"]  # the register: the declaring block's end
    captable = await api.ok(f"/v1/audit/captable?symbol={SYMBOL}&at={record_height}")
    issuer = ledger.account("issuer-1")
    at_record = {row["account"]: row["balance"] for row in captable["holders"]
                 if row["account"] != issuer}
    register = {entry["account"]: entry["units"] for entry in redemption["entries"]}
    assert register == at_record and len(register) == 3
    assert redemption["status"] == "done" and redemption["returned"] == 5 * 1_500


async def test_the_history_of_the_token_has_every_step_of_its_offering_and_redemption(
        api, story):
    """Steps that carry an offering's or a redemption's id, not the symbol (allocate and
    settle passes that emit nothing among them), are the token's history too (walkthrough
    red team F5)."""
    ledger, _ = story
    value = await api.ok(f"/v1/audit/history?symbol={SYMBOL}&limit=1000")
    listed = {row["tx_id"] for row in value["transactions"]}
    steps = {tx_id for tx_id, receipt in ledger.receipts.items()
             if _call(ledger, receipt)[0] == "offering"}
    assert len(steps) >= 10 and steps <= listed, len(steps - listed)


def _call(ledger: Ledger, receipt: Any) -> tuple[str, str]:
    from node.admission.tx import decode_body

    body, sig = ledger.executor.block(receipt.height).txs[receipt.index]
    tx = decode_body(body, sig)
    return tx.contract, tx.method
