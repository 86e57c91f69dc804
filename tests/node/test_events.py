"""Issue 13, finding 5: event streams that end say why, and resume without a gap.

Over the audit test's ledger (12 blocks with contract events), served by the real aiohttp app:
a subscriber whose queue overflows gets a final `closed` event and its stream ends (before, it
was dropped from the hub's list and its stream hung open forever); `Last-Event-ID` resumes
after any event with exactly the events a live subscriber saw after it."""

from __future__ import annotations

import asyncio
import json
import time
from types import SimpleNamespace

import pytest
from aiohttp.test_utils import TestClient, TestServer

from node.rpc import events as eventsmod
from node.rpc.auth import sign_request
from node.rpc.events import EventHub
from node.rpc.server import make_app
from tests.node.test_audit import StandInNode, build_story


@pytest.fixture(scope="module")
def story():
    return build_story()


class EventNode(StandInNode):
    def __init__(self, ledger) -> None:
        super().__init__(ledger)
        self.events = EventHub()


@pytest.fixture
async def served(story):
    ledger, _ = story
    node = EventNode(ledger)
    client = TestClient(TestServer(make_app(node)))
    await client.start_server()
    try:
        yield node, client, ledger
    finally:
        await client.close()


def applied_at(executor, height):
    """What the node publishes after applying block `height`, rebuilt from the store."""
    block = executor.block(height)
    receipts = {}
    for tx_id in block.tx_ids():
        receipt = executor.receipt(tx_id)
        if receipt is not None and receipt.height == height:
            receipts[tx_id] = receipt
    return SimpleNamespace(block=block,
                           receipts=sorted(receipts.values(), key=lambda r: r.index), notes={},
                           hook_events=executor.hook_events_at(height))


async def subscribe(client, ledger, who="fss", last_event_id=None):
    headers = {"Authorization": sign_request(ledger.signers[who], ledger.genesis.chain_id,
                                             "GET", "/v1/events", int(time.time() * 1000))}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    response = await client.get("/v1/events", headers=headers)
    assert response.status == 200, await response.text()
    assert await response.content.readline() == b": connected\n"
    return response


async def read_events(response, count=None, timeout_s=5.0):
    """(id, event, data) until `count` events or the end of the stream."""
    found = []
    current: dict = {}
    async with asyncio.timeout(timeout_s):
        while count is None or len(found) < count:
            line = await response.content.readline()
            if not line:
                break
            text = line.decode().rstrip("\n")
            if text == "":
                if current:
                    found.append((current.get("id"), current["event"], current["data"]))
                current = {}
            elif text.startswith("id: "):
                current["id"] = text[4:]
            elif text.startswith("event: "):
                current["event"] = text[7:]
            elif text.startswith("data: "):
                current["data"] = json.loads(text[6:])
    return found


async def test_an_overflowing_subscriber_gets_a_final_event_and_its_stream_closes(
        served, monkeypatch):
    node, client, ledger = served
    monkeypatch.setattr(eventsmod, "EVENT_QUEUE", 3)
    response = await subscribe(client, ledger)
    for height in range(1, node.executor.height + 1):  # nobody reads meanwhile
        node.events.publish(applied_at(node.executor, height))
    found = await read_events(response)  # ends: the stream is closed, not left hanging
    assert found[-1][1] == "closed" and found[-1][2]["reason"] == "overflow"
    assert found[-1][2]["last_event_id"] is None  # nothing reached the client before
    assert node.events.subscribers == []


async def test_last_event_id_resumes_without_a_gap(served):
    node, client, ledger = served
    live = await subscribe(client, ledger)
    total = 0
    for height in range(1, node.executor.height + 1):
        applied = applied_at(node.executor, height)
        node.events.publish(applied)
        total += len(eventsmod.block_items(height, applied.block.hash, applied.receipts))
    everything = await read_events(live, count=total)  # the regulator sees every event
    live.close()
    ids = [event_id for event_id, _, _ in everything]
    assert len(ids) == len(set(ids)) and any(kind == "contract" for _, kind, _ in everything)
    for cut in (0, 5, len(everything) // 2, len(everything) - 1):
        resumed = await subscribe(client, ledger, last_event_id=ids[cut])
        tail = await read_events(resumed, count=len(everything) - cut - 1)
        assert tail == everything[cut + 1:], ids[cut]
        resumed.close()


async def test_an_investor_resumes_with_only_what_it_may_see(served):
    node, client, ledger = served
    resumed = await subscribe(client, ledger, who="alice", last_event_id="0.0")
    found = await read_events(resumed, count=node.executor.height, timeout_s=5.0)
    assert [kind for _, kind, _ in found].count("block") >= 1
    alice = ledger.account("alice")
    for _, kind, data in found:
        if kind == "contract":
            assert alice in json.dumps(data)
    resumed.close()


async def test_bad_or_unknown_last_event_ids(served):
    node, client, ledger = served
    headers = {"Authorization": sign_request(ledger.signers["fss"], ledger.genesis.chain_id,
                                             "GET", "/v1/events", int(time.time() * 1000)),
               "Last-Event-ID": "x.1"}
    response = await client.get("/v1/events", headers=headers)
    assert response.status == 400
    ahead = await subscribe(client, ledger, last_event_id=f"{node.executor.height + 5}.0")
    found = await read_events(ahead)
    assert found[-1][1] == "closed" and found[-1][2]["reason"] == "unknown_id"


# ---- issue 27, item 3: who may hold an event stream ------------------------------------------

async def test_an_unregistered_key_may_not_subscribe(served):
    node, client, ledger = served
    headers = {"Authorization": sign_request(ledger.signers["eve"], ledger.genesis.chain_id,
                                             "GET", "/v1/events", int(time.time() * 1000))}
    response = await client.get("/v1/events", headers=headers)
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "forbidden"
    assert node.events.subscribers == []


async def test_investors_streams_cannot_refuse_the_regulator(served, monkeypatch):
    """Every slot but the supervisors' taken by investors' streams (from many addresses):
    the next investor stream is refused 503, the regulator's still opens."""
    node, client, ledger = served
    monkeypatch.setattr(eventsmod, "MAX_EVENT_SUBSCRIBERS", 6)
    monkeypatch.setattr(eventsmod, "SUPERVISOR_STREAMS", 2)
    for number in range(4):
        node.events.subscribe(f"{number:064x}", "investor", address=f"10.0.0.{number}")
    headers = {"Authorization": sign_request(ledger.signers["alice"], ledger.genesis.chain_id,
                                             "GET", "/v1/events", int(time.time() * 1000))}
    refused = await client.get("/v1/events", headers=headers)
    assert refused.status == 503 and (await refused.json())["error"]["code"] == "busy"
    regulator = await subscribe(client, ledger, "fss")
    assert [sub.role for sub in node.events.subscribers].count("regulator") == 1
    regulator.close()


def test_streams_are_capped_per_account_and_per_address():
    hub = EventHub()
    alice, bob = "a1" * 32, "b2" * 32
    for _ in range(eventsmod.MAX_STREAMS_PER_ACCOUNT):
        assert hub.refusal(alice, "investor", "10.0.0.1") is None
        hub.subscribe(alice, "investor", address="10.0.0.1")
    assert "account" in (hub.refusal(alice, "investor", "10.0.0.2") or "")
    assert hub.refusal(bob, "investor", "10.0.0.1") is None  # the address has room left
    for number in range(eventsmod.MAX_STREAMS_PER_ADDRESS - eventsmod.MAX_STREAMS_PER_ACCOUNT):
        hub.subscribe(f"{number:064x}", "investor", address="10.0.0.1")
    assert "address" in (hub.refusal(bob, "investor", "10.0.0.1") or "")
    assert hub.refusal(bob, "investor", "10.0.0.2") is None
    assert hub.refusal("f5" * 32, "regulator", "10.0.0.1") is None  # supervisors: per account
