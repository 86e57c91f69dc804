"""The HTTP API of a real node process (-n 1): admission error codes, signed requests,
receipts, and a transaction written by an independent encoder."""

from __future__ import annotations

import hashlib
import json
import re
import time
import urllib.request

import msgpack
import pytest
from nacl.signing import SigningKey

from consensus.crypto import Signer
from node.admission import tx as txmod
from node.tools.client import Client

pytestmark = pytest.mark.slow


def post(url, path, body, content_type="application/json", headers=None):
    request = urllib.request.Request(url + path, data=body, method="POST",
                                     headers={"Content-Type": content_type, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def envelope_json(tx):
    return json.dumps({"body": tx.body_bytes.hex(), "sig": tx.sig.hex()}).encode()


def now_ms():
    return int(time.time() * 1000)


def build(single, signer=None, chain=None, contract="cash", method="mint", args=None,
          expires=None, nonce=None):
    signer = signer or single.keys["bank"]
    args = {"to": single.keys["bank"].account, "amount": 1000} if args is None else args
    return txmod.build(signer, chain or single.chain_id, contract, method, args,
                       nonce if nonce is not None else time.time_ns(),
                       expires if expires is not None else now_ms() + 60_000)


def error_code(single, body, content_type="application/json", path="/v1/tx"):
    status, value = post(single.url(), path, body, content_type)
    assert "error" in value, value
    return status, value["error"]["code"]


def test_committed_receipt_for_a_good_transaction(single):
    tx = build(single)
    status, receipt = post(single.url(), "/v1/tx?wait=commit&timeout_ms=20000",
                           envelope_json(tx))
    assert status == 200, receipt
    assert receipt["status"] == "committed" and receipt["ok"] is True
    assert receipt["tx_id"] == tx.tx_id_hex and receipt["error"] is None
    assert receipt["height"] >= 1 and len(receipt["block_hash"]) == 64
    again = single.client().receipt(tx.tx_id_hex)
    assert again == receipt


def test_receipt_of_a_chaincode_refused_transaction(single):
    tx = build(single, signer=single.keys["broker-a"])  # only the bank may mint
    status, receipt = post(single.url(), "/v1/tx?wait=commit&timeout_ms=20000",
                           envelope_json(tx))
    assert status == 200
    assert receipt["status"] == "committed" and receipt["ok"] is False
    # unsigned: the code only (node.rpc.receipts); the sender's signed read has the message
    assert receipt["error"] == {"code": "UNAUTHORIZED", "message": None}
    mine = single.client("broker-a").receipt(tx.tx_id_hex)
    assert mine["error"]["code"] == "UNAUTHORIZED" and mine["error"]["message"]


def test_unknown_and_pending_receipts(single):
    status, value = single.client().request("GET", "/v1/tx/" + "ab" * 32)
    assert status == 404 and value["status"] == "unknown"
    status, value = single.client().request("GET", "/v1/tx/nothex")
    assert status == 400 and value["error"]["code"] == "bad_request"


@pytest.mark.parametrize("mangle, code, status", [
    (lambda s, tx: b"{not json", "bad_encoding", 400),
    (lambda s, tx: json.dumps({"body": "zz", "sig": tx.sig.hex()}).encode(), "bad_encoding", 400),
    (lambda s, tx: json.dumps({"body": tx.body_bytes.hex()}).encode(), "bad_encoding", 400),
    (lambda s, tx: json.dumps({"body": msgpack.packb({"z": 1, "a": 2}).hex(),
                               "sig": tx.sig.hex()}).encode(), "not_canonical", 400),
    (lambda s, tx: json.dumps({"body": tx.body_bytes.hex(),
                               "sig": (b"\x00" * 64).hex()}).encode(), "bad_signature", 400),
    (lambda s, tx: envelope_json(build(s, chain="another-chain")), "wrong_chain", 400),
    (lambda s, tx: envelope_json(build(s, expires=now_ms() - 1)), "expired", 400),
    (lambda s, tx: envelope_json(build(s, contract="casino")), "unknown_contract", 400),
    (lambda s, tx: envelope_json(build(s, method="print_money")), "unknown_method", 400),
    (lambda s, tx: envelope_json(build(s, method="balance", args={"account": "00" * 32})),
     "unknown_method", 400),
    (lambda s, tx: json.dumps({"body": "00" * (2 * 1024 * 1024), "sig": ""}).encode(),
     "too_large", 413),
])
def test_admission_error_codes(single, mangle, code, status):
    before = single.client().status()["mempool_size"]
    got_status, got_code = error_code(single, mangle(single, build(single)))
    assert (got_status, got_code) == (status, code)
    assert single.client().status()["mempool_size"] == before


def test_duplicate_is_409(single):
    tx = build(single)
    assert post(single.url(), "/v1/tx", envelope_json(tx))[0] in (200, 202)
    assert error_code(single, envelope_json(tx)) == (409, "duplicate")
    Client(single.url(), single.chain_id)
    # still a duplicate once committed
    single.client("bank").send(build(single), wait=True)
    assert error_code(single, envelope_json(tx)) == (409, "duplicate")


def test_batch_route_answers_per_item(single):
    good = build(single)
    items = [{"body": good.body_bytes.hex(), "sig": good.sig.hex()},
             {"body": good.body_bytes.hex(), "sig": good.sig.hex()},
             {"body": "00", "sig": "00"}]
    status, value = post(single.url(), "/v1/txs", json.dumps(items).encode())
    assert status == 200
    assert value[0] == {"tx_id": good.tx_id_hex, "status": "pending"}
    assert value[1]["error"]["code"] == "duplicate"
    assert value[2]["error"]["code"] == "bad_encoding"


def test_msgpack_envelope_accepted(single):
    tx = build(single)
    status, value = post(single.url(), "/v1/tx", tx.envelope(), "application/msgpack")
    assert status == 202 and value["tx_id"] == tx.tx_id_hex


def test_independent_encoder_gives_same_tx_id(single):
    """Plain msgpack with sorted keys and PyNaCl, nothing from stoledger."""
    seed = bytes.fromhex(json.loads((single.dir / "keys" / "bank.json").read_text())["secret"])
    key = SigningKey(seed)
    sender = bytes(key.verify_key)
    body = {"v": 1, "chain": single.chain_id, "sender": sender, "nonce": 424242,
            "expires": now_ms() + 60_000, "contract": "cash", "method": "mint",
            "args": {"amount": 7, "to": sender.hex()}}
    body_bytes = msgpack.packb(dict(sorted(body.items())), use_bin_type=True)
    sig = key.sign(b"stoledger:tx:v1\x00" + body_bytes).signature
    envelope = msgpack.packb({"body": body_bytes, "sig": sig}, use_bin_type=True)
    status, receipt = post(single.url(), "/v1/tx?wait=commit&timeout_ms=20000", envelope,
                           "application/msgpack")
    assert status == 200 and receipt["ok"] is True, receipt
    assert receipt["tx_id"] == hashlib.sha256(body_bytes).hexdigest()


def test_signed_requests_401_and_403(single):
    anonymous = Client(single.url(), single.chain_id)
    status, value = anonymous.request("GET", "/v1/blocks/latest")
    assert (status, value["error"]["code"]) == (401, "unauthorized")
    # a bad signature: signed for another path
    client = single.client("fss")
    from node.rpc.auth import sign_request

    header = sign_request(single.keys["fss"], single.chain_id, "GET", "/v1/blocks/1", now_ms())
    request = urllib.request.Request(single.url() + "/v1/blocks/latest",
                                     headers={"Authorization": header})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 401
    stale = sign_request(single.keys["fss"], single.chain_id, "GET", "/v1/blocks/latest",
                         now_ms() - 120_000)
    request = urllib.request.Request(single.url() + "/v1/blocks/latest",
                                     headers={"Authorization": stale})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 401
    # an unregistered key signs correctly but has no role: 403
    stranger = Client(single.url(), single.chain_id, Signer.generate())
    status, value = stranger.request("GET", "/v1/blocks/latest", signed=True)
    assert (status, value["error"]["code"]) == (403, "forbidden")
    # the regulator reads blocks, with certificates
    block = client.get("/v1/blocks/latest", signed=True)
    assert {"header", "header_bytes", "block_hash", "certificate"} <= set(block)


def test_query_read_access(single):
    bank = single.keys["bank"].account
    own = single.client("bank").query("cash", "balance", {"account": bank})
    assert own["account"] == bank and own["balance"] > 0
    assert single.client("fss").query("cash", "balance", {"account": bank}) == own
    with pytest.raises(Exception) as caught:
        single.client("broker-b").query("cash", "balance", {"account": bank})
    assert caught.value.status == 403 and caught.value.code == "forbidden"


def test_status_health_metrics_openapi(single):
    client = single.client()
    status = client.status()
    assert {"chain_id", "node", "role", "height", "last_block_hash", "app_hash", "view",
            "primary", "stable_checkpoint", "mempool_size", "peers"} <= set(status)
    assert client.get("/healthz") == {"ok": True}
    assert client.get("/readyz")["ready"] is True
    metrics = client.request("GET", "/metrics")[1]
    assert "stoledger_height" in metrics and "stoledger_txs_admitted_total" in metrics
    # the node process tuned its garbage collector at start-up (node.collector.tune), whose
    # first full collection the pause meter counted
    full_pause = re.search(r'stoledger_gc_pause_seconds_total\{generation="2"\} (\S+)', metrics)
    assert full_pause is not None and float(full_pause.group(1)) > 0, metrics
    openapi = client.get("/v1/openapi.json")
    for path in ("/v1/tx", "/v1/txs", "/v1/tx/{tx_id}", "/v1/query", "/v1/blocks",
                 "/v1/blocks/{height}", "/v1/status", "/v1/events", "/metrics", "/healthz",
                 "/readyz", "/v1/openapi.json"):
        assert path in openapi["paths"], path
