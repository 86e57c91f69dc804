"""Red team (docs/redteam-security.md, lead 1): no receipt names to a reader an account that
reader's own event stream would not name, on any route, for any transaction it did not send.

The lead: a hold's receipt carries the held account's cancelled orders (fds.hold with scope
`trading` cancels them in the same transaction), so a receipt answered whole would name the
held account to anyone holding the transaction id. The instrument runs every receipt of a
story that has every kind the lead names (fills, a cancel, holds cancelling orders, a release,
a forced transfer, transfers and cash payments between investors) past every reader (the
supervisors, both brokers, three investors, tax, bank, the issuer, an unregistered key and no
signature at all) through `GET /v1/tx/{id}` and `POST /v1/tx?wait=commit`, and checks:

- the events are exactly what that reader's `/v1/events` stream carries of the transaction,
  but for its sender, who also sees whole each of its events that names no account but its
  own and those it named in its arguments;
- every account the answer names (result, error, events, anywhere) is the reader's own, or
  named by those stream events, or, for the transaction's sender, named in its own arguments;
- `result` and the error's message go to the sender and the supervisors alone."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from consensus.crypto import Signer
from node.admission.tx import decode_body, to_json
from node.ledger.audit import accounts_named
from node.rpc.auth import sign_request
from node.rpc.events import (
    SEES_EVERYTHING,
    Subscriber,
    Viewer,
    registering_broker,
    replay,
    visible,
)
from node.rpc.server import make_app
from tests.node.test_audit_market import SYMBOL, build_market_story, place
from tests.node.test_receipts import CommittedNode

ROLES = {"fss": "regulator", "ksd": "registrar", "broker-a": "broker", "broker-b": "broker",
         "tax": "tax", "bank": "bank", "issuer-1": "issuer", "alice": "investor",
         "bob": "investor", "carol": "investor", "eve": None}
READERS = (*ROLES, "stranger", None)


def build_hold_story():  # type: ignore[no-untyped-def]
    """The market story, then: alice rests a sell and a buy; ksd holds alice (trading: both
    cancelled); broker-a holds bob (all: his resting sell cancelled); ksd force-transfers
    bob's units to carol and releases alice; alice sells again and carol buys from her;
    carol pays alice units and cash outside the market."""
    led, _ = build_market_story()
    led.signers["stranger"] = Signer.generate()
    alice, bob, carol = (led.account(name) for name in ("alice", "bob", "carol"))
    led.commit(place(led, "broker-a", "alice", "sell", 1000, 10, "mts"),
               place(led, "broker-a", "alice", "buy", 950, 5, "mts"))
    led.commit(led.tx("ksd", "fds", "hold", account=alice, scope="trading", reason="alert x"))
    led.commit(led.tx("broker-a", "fds", "hold", account=bob, scope="all", reason="call"))
    led.commit(led.tx("ksd", "token", "force_transfer", symbol=SYMBOL, from_=bob, to=carol,
                      amount=5, reason="court order"))
    led.commit(led.tx("ksd", "fds", "release", hold_id=1, reason="cleared"))
    led.commit(place(led, "broker-a", "alice", "sell", 1000, 10, "mts"))
    led.commit(place(led, "broker-b", "carol", "buy", 1000, 3, "api"))
    led.commit(led.tx("carol", "token", "transfer", symbol=SYMBOL, to=alice, amount=1))
    led.commit(led.tx("carol", "cash", "transfer", to=alice, amount=100),
               advance_ms=72 * 3_600_000)  # past the withdrawal delay of carol's deposit
    for receipt in led.receipts.values():
        assert receipt.ok, receipt.error
    names = [event["name"] for receipt in led.receipts.values() for event in receipt.events]
    for kind in ("Held", "OrderCancelled", "Released", "ForcedTransfer", "Trade",
                 "CashTransfer"):
        assert kind in names, kind
    return led


@pytest.fixture(scope="module")
def story():
    return build_hold_story()


@pytest.fixture
async def client(story):
    client = TestClient(TestServer(make_app(CommittedNode(story))))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


def names(value: Any) -> set[str]:
    found: set[str] = set()
    accounts_named(value, found)
    return found


def may_learn(led, account: str, role: str | None, receipt) -> set[str]:  # type: ignore[no-untyped-def]
    """The accounts PROTOCOL ("Events") lets a reader that sees not everything learn from a
    transaction's events, written from the page, not from node.rpc.events: itself, those
    named beside it in an event that is neither a `Trade` nor a trade's settlement leg (each
    party sees its own side only), and for a broker, its own clients."""
    may = {account}
    for event in receipt.events:
        data = event["data"]
        leg = data.get("trade_id") is not None or str(data.get("memo")).startswith("trade ")
        if event["name"] != "Trade" and not leg and account in names(data):
            may |= names(data)
    if role == "broker":
        may |= {other for other in names([e["data"] for e in receipt.events])
                if (led.executor.identity(other) or {}).get("broker") == account}
    return may


def stream_events(led, who: str, receipt) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    sub = Subscriber(led.account(who), ROLES.get(who), None)  # type: ignore[arg-type]
    items = replay(led.executor, sub, (receipt.height - 1, 10**6), receipt.height,
                   registering_broker(led.executor))
    return [to_json({key: item["data"][key] for key in ("contract", "name", "data")})
            for item in items if item["event"] == "contract"
            and item["data"]["tx_id"] == receipt.tx_id.hex()]


def sender_events(led, who: str, tx, receipt) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """What the sender of a transaction sees of its events: whole, each event that names no
    account but its own and those its arguments name (it wrote them); the others as its
    stream shows them (node.rpc.receipts, walkthrough red team F9)."""
    viewer = Viewer(led.account(who), ROLES.get(who))
    written = names(tx.args) | {led.account(who)}
    seen = [event if names(event["data"]) <= written
            else visible(viewer, event, registering_broker(led.executor))
            for event in receipt.events]
    return [to_json(event) for event in seen if event is not None]


def headers(led, who: str | None, method: str, path: str, body: bytes = b""
            ) -> dict[str, str]:  # type: ignore[no-untyped-def]
    if who is None:
        return {}
    return {"Authorization": sign_request(led.signers[who], led.genesis.chain_id, method, path,
                                          int(time.time() * 1000), body)}


async def answers(client, led, receipt) -> dict[str, list[tuple[str, dict[str, Any]]]]:  # type: ignore[no-untyped-def]
    """Each reader's receipt of `receipt`'s transaction, by route."""
    block = led.executor.block(receipt.height)
    body, sig = block.txs[receipt.index]
    envelope = json.dumps({"body": body.hex(), "sig": sig.hex()}).encode()
    shown: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for who in READERS:
        got = []
        path = f"/v1/tx/{receipt.tx_id.hex()}"
        response = await client.get(path, headers=headers(led, who, "GET", path))
        assert response.status == 200, await response.text()
        got.append(("get", await response.json()))
        path = "/v1/tx?wait=commit&timeout_ms=1000"
        response = await client.post(path, data=envelope,
                                     headers=headers(led, who, "POST", path, envelope))
        assert response.status == 200, await response.text()
        got.append(("wait", await response.json()))
        shown[str(who)] = got
    return shown


async def test_no_reader_learns_an_account_its_stream_does_not_name(client, story):
    led = story
    checked = 0
    for receipt in led.receipts.values():
        body, sig = led.executor.block(receipt.height).txs[receipt.index]
        tx = decode_body(body, sig)
        for who, routes in (await answers(client, led, receipt)).items():
            account = led.account(who) if who in led.signers else None
            role = ROLES.get(who) if account else None
            sender = account == tx.sender_hex
            for route, shown in routes:
                where = (who, route, receipt.height, tx.contract, tx.method)
                assert shown["ok"] is True and shown["tx_id"] == receipt.tx_id.hex(), where
                if account is None:
                    assert shown["events"] == [] and shown["result"] is None, where
                    assert names(shown) == set(), where
                    continue
                stream = stream_events(led, who, receipt)
                if sender and role not in SEES_EVERYTHING:
                    assert shown["events"] == sender_events(led, who, tx, receipt), where
                else:
                    assert shown["events"] == stream, where
                if role in SEES_EVERYTHING:  # the whole receipt, as its block shows it
                    assert stream == to_json(receipt.events), where
                    assert shown["result"] == to_json(receipt.result), where
                    continue
                allowed = names(stream) | {account} | (names(tx.args) if sender else set())
                assert names(shown) <= allowed, (where, names(shown) - allowed)
                may = may_learn(led, account, role, receipt) | (
                    names(tx.args) if sender else set())
                assert names(shown) <= may, (where, names(shown) - may)
                if not (sender or role in SEES_EVERYTHING):
                    assert shown["result"] is None, where
                checked += 1
    outsiders = [who for who in READERS
                 if who is not None and ROLES.get(who) not in SEES_EVERYTHING]
    assert checked == len(led.receipts) * 2 * len(outsiders)


async def test_the_sender_sees_the_events_of_its_own_call(client, story):
    """The bank's mint shows it its `Minted` (walkthrough red team F9: `events: []`); a fill's
    receipt still hides the counterparty from the broker that placed the order."""
    led = story
    mints = [r for r in led.receipts.values() if any(
        e["contract"] == "cash" and e["name"] == "Minted" for e in r.events)]
    assert mints
    for receipt in mints:
        path = f"/v1/tx/{receipt.tx_id.hex()}"
        response = await client.get(path, headers=headers(led, "bank", "GET", path))
        shown = await response.json()
        assert [e["name"] for e in shown["events"]] == ["Minted"], shown
    fills = [r for r in led.receipts.values() if any(e["name"] == "Trade" for e in r.events)]
    assert fills
    for receipt in fills:
        body, sig = led.executor.block(receipt.height).txs[receipt.index]
        tx = decode_body(body, sig)
        broker = next(who for who in ROLES if who in led.signers
                      and led.account(who) == tx.sender_hex)
        path = f"/v1/tx/{receipt.tx_id.hex()}"
        response = await client.get(path, headers=headers(led, broker, "GET", path))
        shown = await response.json()
        counterparties = {e["data"][side] for e in receipt.events if e["name"] == "Trade"
                          for side in ("buyer", "seller")} - names(tx.args)
        assert counterparties and not counterparties & names(shown), (broker, shown)
