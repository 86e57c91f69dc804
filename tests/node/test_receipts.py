"""Issue 27, item 1: a receipt shows each caller what the events route shows it.

Over the market story of tests/node/test_audit_market.py (carol, broker-b's client, buys 100
from alice and 20 from bob, both broker-a's), plus one order broker-b may not place (alice is
not its client), served by the real aiohttp app. Before, `GET /v1/tx/{id}` answered anyone the
whole receipt: both parties of every fill and the error's message naming alice."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from node.admission.tx import to_json
from node.ledger.audit import accounts_named
from node.rpc.auth import sign_request
from node.rpc.events import Subscriber, registering_broker, replay
from node.rpc.receipts import receipt_json
from node.rpc.server import make_app
from tests.node.test_audit import StandInNode
from tests.node.test_audit_market import ORIGIN, SYMBOL, build_market_story
from tests.node.test_events_market import _role

VIEWERS = ("fss", "ksd", "broker-a", "broker-b", "alice", "bob", "carol", "tax", "eve")


class CommittedNode(StandInNode):
    """Serves `POST /v1/tx?wait=commit` for transactions the story committed already: submit
    admits nothing and the wait is over at once, so the route answers the stored receipt."""

    def submit(self, tx: Any) -> None:
        pass

    def wait_for(self, tx_id: bytes) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future

    def stop_waiting(self, tx_id: bytes, future: Any) -> None:
        pass


@pytest.fixture(scope="module")
def story():
    ledger, heights = build_market_story()
    heights["refused"] = ledger.commit(ledger.tx(
        "broker-b", "market", "place", symbol=SYMBOL, account=ledger.account("alice"),
        side="sell", price=1000, qty=1, media="hts", origin=ORIGIN["alice"]))
    return ledger, heights


@pytest.fixture
async def client(story):
    ledger, _ = story
    client = TestClient(TestServer(make_app(CommittedNode(ledger))))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


def only_tx(ledger, height: int):
    """The one transaction of block `height`: its receipt and its envelope (JSON)."""
    (receipt,) = ledger.executor.receipts_at(height)
    ((body, sig),) = ledger.executor.block(height).txs
    return receipt, json.dumps({"body": body.hex(), "sig": sig.hex()}).encode()


def signed(ledger, who: str, method: str, path: str, body: bytes = b"") -> dict[str, str]:
    return {"Authorization": sign_request(ledger.signers[who], ledger.genesis.chain_id, method,
                                          path, int(time.time() * 1000), body)}


async def get_receipt(client, ledger, tx_id: str, who: str | None) -> dict[str, Any]:
    path = f"/v1/tx/{tx_id}"
    response = await client.get(path, headers=signed(ledger, who, "GET", path) if who else {})
    assert response.status == 200, await response.text()
    return await response.json()


def accounts_in(value: Any) -> set[str]:
    found: set[str] = set()
    accounts_named(value, found)
    return found


def stream_events(ledger, who: str, receipt) -> list[dict[str, Any]]:
    """The contract events of `receipt`'s transaction that `who`'s /v1/events stream carries
    (replayed from the store, through the stream's own filter)."""
    sub = Subscriber(ledger.account(who), _role(who), None)  # type: ignore[arg-type]
    items = replay(ledger.executor, sub, (receipt.height - 1, 10**6), receipt.height,
                   registering_broker(ledger.executor))
    return [to_json({key: item["data"][key] for key in ("contract", "name", "data")})
            for item in items if item["event"] == "contract"
            and item["data"]["tx_id"] == receipt.tx_id.hex()]


async def test_an_unsigned_receipt_shows_the_place_and_the_outcome_only(client, story):
    ledger, heights = story
    for height in (heights["cross"], heights["refused"]):
        receipt, _ = only_tx(ledger, height)
        shown = await get_receipt(client, ledger, receipt.tx_id.hex(), None)
        assert shown == {"tx_id": receipt.tx_id.hex(), "status": "committed",
                         "height": height, "index": 0, "ok": receipt.ok, "result": None,
                         "error": None if receipt.ok else {"code": "NOT_YOUR_CLIENT",
                                                           "message": None},
                         "events": [], "block_hash": receipt.block_hash.hex()}


async def test_each_signed_caller_sees_the_events_its_stream_shows_it(client, story):
    ledger, heights = story
    receipt, _ = only_tx(ledger, heights["cross"])
    for who in VIEWERS:
        shown = await get_receipt(client, ledger, receipt.tx_id.hex(), who)
        assert shown["events"] == stream_events(ledger, who, receipt), who
        assert shown["status"] == "committed" and shown["ok"] is True, who


async def test_no_one_but_the_supervisors_learns_both_sides_of_a_trade(client, story):
    ledger, heights = story
    receipt, _ = only_tx(ledger, heights["cross"])
    alice, bob, carol = (ledger.account(name) for name in ("alice", "bob", "carol"))
    counterparties = {"broker-b": {alice, bob}, "broker-a": {carol}, "carol": {alice, bob},
                      "alice": {carol, bob}, "bob": {carol, alice}, "tax": {alice, bob, carol},
                      "eve": {alice, bob, carol}}
    for who, hidden in counterparties.items():
        shown = await get_receipt(client, ledger, receipt.tx_id.hex(), who)
        assert accounts_in(shown) & hidden == set(), who
    broker = await get_receipt(client, ledger, receipt.tx_id.hex(), "broker-b")
    assert broker["result"]["trades"] == [1, 2]  # the sender's own answer
    assert [e["name"] for e in broker["events"]].count("Trade") == 2
    assert await get_receipt(client, ledger, receipt.tx_id.hex(), "fss") == to_json(
        receipt_json(receipt))


async def test_the_error_message_is_the_senders(client, story):
    ledger, heights = story
    receipt, _ = only_tx(ledger, heights["refused"])
    assert ledger.account("alice") in receipt.error["message"]  # what an outsider must not see
    mine = await get_receipt(client, ledger, receipt.tx_id.hex(), "broker-b")
    assert mine["error"] == receipt.error and mine["result"] is None
    other = await get_receipt(client, ledger, receipt.tx_id.hex(), "broker-a")
    assert other["error"] == {"code": "NOT_YOUR_CLIENT", "message": None}


async def test_the_wait_for_commit_receipt_is_filtered_like_the_get(client, story):
    ledger, heights = story
    receipt, envelope = only_tx(ledger, heights["cross"])
    path = "/v1/tx?wait=commit&timeout_ms=1000"
    response = await client.post(path, data=envelope)
    assert response.status == 200
    anonymous = await response.json()
    assert anonymous["events"] == [] and anonymous["result"] is None
    response = await client.post(path, data=envelope,
                                 headers=signed(ledger, "broker-b", "POST", path, envelope))
    assert response.status == 200
    sender = await response.json()
    assert sender == await get_receipt(client, ledger, receipt.tx_id.hex(), "broker-b")
    assert sender["result"] is not None
    response = await client.post(path, data=envelope,
                                 headers=signed(ledger, "broker-b", "POST", "/v1/tx", envelope))
    assert response.status == 401  # a signature over another request is refused, not ignored
