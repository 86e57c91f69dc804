"""Issue 27, item 7: the document (node.rpc.openapi) and the answers agree where schemathesis
found them apart, each case pinned here so that it holds whatever the fuzzer draws:

1. an object inside the one envelope of `/v1/tx` is a bad encoding (400), not "more than 1
   envelopes" (413);
2. a `/v1/txs` body whose items are not envelope objects (`[true, true, true]`, or msgpack
   scalars) is a 400, not a 200 with an error per item;
3. more than 10,000 envelopes, and a transaction body over its byte limit, are 413 `too_large`,
   and the document no longer declares them invalid shapes (no maxItems, no maxLength), which
   a checker expects answered 400;
4. query parameters are checked against the document: one given twice, an empty integer, a
   value off its enum or pattern is 400 (handlers took the first value and an empty one for
   none); the alert rules the document lists are the surveillance rules (S1-S14, not S1-S10).
"""

from __future__ import annotations

import json
import time

import msgpack
import pytest
from aiohttp.test_utils import TestClient, TestServer

from node.admission.tx import MAX_TX_BYTES
from node.rpc.auth import sign_request
from node.rpc.openapi import document
from node.rpc.server import make_app
from node.surveillance.rules import NAMES
from tests.node.test_audit import build_story
from tests.node.test_schemathesis import FuzzNode

SIG = "ab" * 64


@pytest.fixture(scope="module")
def story():
    return build_story()


@pytest.fixture
async def client(story):
    ledger, _ = story
    client = TestClient(TestServer(make_app(FuzzNode(ledger))))
    await client.start_server()
    try:
        yield client, ledger
    finally:
        await client.close()


async def code_of(response) -> tuple[int, str]:
    return response.status, (await response.json())["error"]["code"]


async def test_an_object_inside_the_one_envelope_is_a_bad_encoding(client):
    client, _ = client
    body = json.dumps({"body": {"a": {"b": 1}}, "sig": SIG}).encode()
    assert await code_of(await client.post("/v1/tx", data=body)) == (400, "bad_encoding")


@pytest.mark.parametrize("content_type, body", [
    ("application/json", b"[true, true, true]"),
    ("application/json", b'[{"body": "00", "sig": "00"}, 7]'),
    ("application/msgpack", msgpack.packb([True, True, True])),
    ("application/msgpack", msgpack.packb([1, "x", None])),
])
async def test_a_batch_whose_items_are_not_envelopes_is_a_400(client, content_type, body):
    client, _ = client
    response = await client.post("/v1/txs", data=body, headers={"Content-Type": content_type})
    assert await code_of(response) == (400, "bad_encoding")


async def test_a_batch_item_with_wrong_fields_still_gets_its_own_error(client):
    client, _ = client
    response = await client.post("/v1/txs", data=b'[{"body": "zz", "sig": "00"}]')
    assert response.status == 200
    [item] = await response.json()
    assert item["error"]["code"] == "bad_encoding"


async def test_sizes_are_413_and_the_document_does_not_call_them_shapes(client):
    client, _ = client
    many = json.dumps([{"body": "00", "sig": SIG}] * 10_001).encode()
    assert await code_of(await client.post("/v1/txs", data=many)) == (413, "too_large")
    big = json.dumps({"body": "00" * (MAX_TX_BYTES + 1), "sig": SIG}).encode()
    assert await code_of(await client.post("/v1/tx", data=big)) == (413, "too_large")
    paths = document()["paths"]
    batch = paths["/v1/txs"]["post"]
    schema = batch["requestBody"]["content"]["application/json"]["schema"]
    assert "maxItems" not in schema and "413" in batch["responses"]
    assert "10,000" in batch["summary"]
    envelope = paths["/v1/tx"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "maxLength" not in envelope["properties"]["body"]
    assert "413" in paths["/v1/tx"]["post"]["responses"]


@pytest.mark.parametrize("path, query", [
    ("/v1/events", "only=blocks"),
    ("/v1/audit/orders", "from=&limit=5"),
    ("/v1/audit/orders", "from=1&from=2"),
    ("/v1/audit/alerts", "symbol="),
    ("/v1/audit/alerts", "rule=S99"),
    ("/v1/audit/history", "account=AB&limit=5"),
    ("/v1/blocks", "from=%2B5"),
])
async def test_query_parameters_are_checked_against_the_document(client, path, query):
    client, ledger = client
    target = f"{path}?{query}"
    headers = {"Authorization": sign_request(ledger.signers["fss"], ledger.genesis.chain_id,
                                             "GET", target, int(time.time() * 1000))}
    response = await client.get(target, headers=headers)
    assert await code_of(response) == (400, "bad_request"), target


async def test_every_surveillance_rule_is_a_documented_filter(client):
    client, ledger = client
    parameter = next(p for p in document()["paths"]["/v1/audit/alerts"]["get"]["parameters"]
                     if p["name"] == "rule")
    assert parameter["schema"]["enum"] == list(NAMES)
    target = f"/v1/audit/alerts?rule={list(NAMES)[-1]}"
    headers = {"Authorization": sign_request(ledger.signers["fss"], ledger.genesis.chain_id,
                                             "GET", target, int(time.time() * 1000))}
    assert (await client.get(target, headers=headers)).status == 200
