"""The regulator's audit on a real 4-operator cluster: a token's story (issue, transfer, a
refused transfer, a forced transfer, a dividend) read back at several heights, a block proof
checked offline by the CLI against genesis alone, 403s for everyone but the auditors, and the
access log that records every read."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chaincode.identity import sign_consent
from consensus.crypto import Signer
from node.tools import cluster as clustermod
from node.tools.client import Client
from tests.e2e.conftest import Cluster, start_cluster, wait_until

pytestmark = pytest.mark.slow

SYMBOL = "AUDIT1"
ROOT = Path(__file__).resolve().parents[2]


def investor() -> dict[str, Any]:
    return {"investor_type": "general", "legal_form": "individual", "country": "KR",
            "resident": True, "kyc_expires": 4_000_000_000_000, "aml_risk": "low"}


def committed(receipt: Any, ok: bool = True) -> int:
    assert receipt["status"] == "committed", receipt
    assert receipt["ok"] is ok, receipt
    return int(receipt["height"])


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Any:
    directory = tmp_path_factory.mktemp("audit") / "net"
    try:
        net = start_cluster(directory, 4)
    except BaseException:
        clustermod.down(directory, progress=lambda line: None)  # the nodes that did start
        raise
    try:
        yield net, *run_story(net)
    finally:
        net.down()


def run_story(net: Cluster) -> tuple[dict[str, Signer], dict[str, Any]]:
    people = {"alice": Signer.generate(), "bob": Signer.generate()}
    a, b = people["alice"].account, people["bob"].account
    as_ = {name: net.client(signer=signer) for name, signer in people.items()}
    marks: dict[str, Any] = {}
    broker = net.keys["broker-a"].account
    for signer in people.values():
        committed(net.client("broker-a").submit("identity", "register", {
            "account": signer.account, "role": "investor", "attrs": investor(),
            "consent": sign_consent(signer, net.chain_id, broker, "investor")}))
    committed(net.client("issuer-1").submit("token", "create", {
        "symbol": SYMBOL, "name": "Audit Tower", "asset_type": "real_estate",
        "unit_price": 1000, "max_supply": 1_000_000, "rules": {}}))
    committed(net.client("ksd").submit("token", "approve", {"symbol": SYMBOL, "cap": 10_000}))
    marks["issued"] = committed(net.client("issuer-1").submit(
        "token", "issue", {"symbol": SYMBOL, "to": a, "amount": 1000}))
    transfer = as_["alice"].submit("token", "transfer", {"symbol": SYMBOL, "to": b,
                                                         "amount": 100})
    marks["transfer"] = committed(transfer)
    refused = as_["bob"].submit("token", "transfer", {"symbol": SYMBOL, "to": a,
                                                      "amount": 5000})
    committed(refused, ok=False)
    assert refused["error"]["code"] == "INSUFFICIENT_BALANCE"
    marks["refused_tx"] = refused["tx_id"]
    forced = net.client("ksd").submit("token", "force_transfer", {
        "symbol": SYMBOL, "from": a, "to": b, "amount": 50, "reason": "court order 2026-7"})
    marks["forced"] = committed(forced)
    marks["forced_tx"] = forced["tx_id"]
    committed(net.client("bank").submit("cash", "mint", {
        "to": net.keys["issuer-1"].account, "amount": 1_000_000}))
    declared = net.client("issuer-1").submit("dividend", "declare", {"symbol": SYMBOL,
                                                                     "total": 10_000})
    committed(declared)
    committed(net.client("issuer-1").submit("dividend", "pay", {
        "dividend_id": declared["result"]["dividend_id"], "max_holders": 10}))
    return people, marks


def audit(net: Cluster, path: str, org: str = "fss") -> Any:
    return net.client(org).get(path, signed=True)


def test_holdings_and_captable_at_several_heights(story):
    net, people, marks = story
    bob = people["bob"].account
    before = audit(net, f"/v1/audit/holdings?account={bob}&at={marks['issued']}")
    assert before["as_of"]["height"] == marks["issued"]
    assert [r for r in before["holdings"] if r["kind"] == "token"] == []
    after = audit(net, f"/v1/audit/holdings?account={bob}&at={marks['forced']}")
    assert after["holdings"][0] == {"kind": "token", "asset": SYMBOL, "balance": 150,
                                    "frozen": 0, "locked": 0}
    table = audit(net, f"/v1/audit/captable?symbol={SYMBOL}&at={marks['transfer']}")
    assert {r["account"]: r["balance"] for r in table["holders"]} == {
        people["alice"].account: 900, bob: 100}
    supply = audit(net, f"/v1/audit/supply?symbol={SYMBOL}", org="ksd")
    assert supply["reconciles"] is True and supply["sum_of_balances"] == 1000


def test_history_shows_the_refused_and_the_forced_transfer(story):
    net, people, marks = story
    history = audit(net, f"/v1/audit/history?account={people['bob'].account}")
    by_id = {r["tx_id"]: r for r in history["transactions"]}
    assert by_id[marks["refused_tx"]]["error_code"] == "INSUFFICIENT_BALANCE"
    assert by_id[marks["forced_tx"]]["method"] == "force_transfer"
    assert by_id[marks["forced_tx"]]["args"]["reason"] == "court order 2026-7"
    rejected = audit(net, "/v1/audit/rejected?code=INSUFFICIENT_BALANCE")
    assert marks["refused_tx"] in [r["tx_id"] for r in rejected["transactions"]]
    dividends = audit(net, f"/v1/audit/dividends?symbol={SYMBOL}")
    assert dividends["totals"]["paid_gross"] == 10_000
    assert dividends["totals"]["paid_withheld"] > 0


def test_proof_checks_offline_with_the_cli(story, tmp_path):
    net, _, marks = story
    proof = audit(net, f"/v1/audit/proof?height={marks['forced']}")
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(proof))
    verify = [sys.executable, "-m", "node.cli", "audit", "verify", "--genesis",
              str(net.dir / "genesis.json"), "--proof", str(path)]
    good = subprocess.run(verify, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert good.returncode == 0, good.stdout + good.stderr
    assert f"valid: block {marks['forced']}" in good.stdout
    proof["certificate"]["votes"] = proof["certificate"]["votes"][:2]
    path.write_text(json.dumps(proof))
    bad = subprocess.run(verify, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "needs 3" in bad.stdout


def test_only_auditors_read_and_every_read_is_logged(story):
    net, people, _ = story
    path = f"/v1/audit/holdings?account={people['bob'].account}"
    for client in (net.client("issuer-1"), net.client("broker-a"),
                   net.client(signer=people["alice"])):
        status, value = client.request("GET", path, signed=True)
        assert (status, value["error"]["code"]) == (403, "forbidden")
    status, value = Client(net.url(), net.chain_id).request("GET", path)
    assert (status, value["error"]["code"]) == (401, "unauthorized")
    audit(net, path)
    log = wait_until(lambda: _logged(net, path), 10, "the read in the access log")
    assert log["role"] == "regulator" and log["account"] == net.keys["fss"].account


def _logged(net: Cluster, path: str) -> Any:
    entries, cursor = [], None
    while True:
        page = audit(net, "/v1/audit/access-log?limit=1000"
                     + (f"&cursor={cursor}" if cursor else ""), org="ksd")
        entries += page["entries"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    return next((e for e in reversed(entries) if e["path"] == path
                 and e["role"] == "regulator"), None)
