"""Surveillance on a real 4-operator cluster: orders placed over HTTP by two brokers make a wash
trade (two accounts on one device) and a matched-order pattern (two accounts of different
brokers trading the same size back and forth within seconds); the regulator reads both alerts
from `/v1/audit/alerts` on two different nodes and they are identical; the registrar may read
them, an investor and a broker get 403."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from chaincode.identity import sign_consent
from consensus.crypto import Signer
from node.tools import cluster as clustermod
from node.tools.client import ApiError
from tests.e2e.conftest import start_cluster, wait_until

pytestmark = pytest.mark.slow

SYMBOL = "MKT1"


def investor() -> dict[str, Any]:
    return {"investor_type": "professional", "legal_form": "individual", "country": "KR",
            "resident": True,
            "kyc_expires": 4_000_000_000_000, "aml_risk": "low"}


def origin(label: str) -> str:
    return hashlib.sha256(f"203.0.113.{label}|device".encode()).hexdigest()


def ok(receipt: Any) -> Any:
    assert receipt["status"] == "committed" and receipt["ok"], receipt
    return receipt


def test_wash_trade_and_matched_orders_alerts_on_two_nodes(tmp_path):
    directory = tmp_path / "net"
    try:
        net = start_cluster(directory, 4)
    except BaseException:
        clustermod.down(directory, progress=lambda line: None)
        raise
    try:
        people = {name: Signer.generate() for name in ("w1", "w2", "m1", "m2")}
        broker_of = {"w1": "broker-a", "w2": "broker-a", "m1": "broker-a", "m2": "broker-b"}
        for name, signer in people.items():
            broker = net.keys[broker_of[name]].account
            ok(net.client(broker_of[name]).submit("identity", "register", {
                "account": signer.account, "role": "investor", "attrs": investor(),
                "consent": sign_consent(signer, net.chain_id, broker, "investor")}))
        ok(net.client("issuer-1").submit("token", "create", {
            "symbol": SYMBOL, "name": "Market Tower", "asset_type": "real_estate",
            "unit_price": 10_000, "max_supply": 1_000_000, "rules": {}}))
        ok(net.client("ksd").submit("token", "approve", {"symbol": SYMBOL, "cap": 100_000}))
        for signer in people.values():
            ok(net.client("issuer-1").submit("token", "issue", {
                "symbol": SYMBOL, "to": signer.account, "amount": 1_000}))
            ok(net.client("bank").submit("cash", "mint", {"to": signer.account,
                                                          "amount": 100_000_000}))

        def place(name: str, side: str, price: int, qty: int, where: str) -> Any:
            return ok(net.client(broker_of[name]).submit("market", "place", {
                "symbol": SYMBOL, "account": people[name].account, "side": side,
                "price": price, "qty": qty, "media": "mts", "origin": origin(where)}))

        wash = [place("w1", "sell", 10_000, 30, "home"), place("w2", "buy", 10_000, 30, "home")]
        assert wash[1]["result"]["status"] == "filled"
        matched = []
        for price, (seller, buyer) in zip((10_010, 10_020, 10_030, 10_040),
                                          [("m1", "m2"), ("m2", "m1")] * 2, strict=True):
            matched += [place(seller, "sell", price, 100, seller),
                        place(buyer, "buy", price, 100, buyer)]
            assert matched[-1]["result"]["status"] == "filled"
        height = max(int(receipt["height"]) for receipt in matched)

        names = [node["name"] for node in net.info["nodes"]]
        answers = []
        for name in (names[0], names[2]):
            regulator = net.client("fss", node=name)
            wait_until(lambda regulator=regulator: regulator.status()["height"] >= height, 30,
                       f"{name} to reach height {height}")
            answers.append(regulator.get(f"/v1/audit/alerts?to={height}", signed=True))
        assert answers[0] == answers[1]
        alerts = {alert["rule"]: alert for alert in answers[0]["alerts"]}
        assert set(alerts) == {"S1", "S2"}, answers[0]["alerts"]
        listed = {rule: {tx for alert in answers[0]["alerts"] if alert["rule"] == rule
                         for tx in alert["evidence"]} for rule in alerts}  # every version's
        assert alerts["S1"]["accounts"] == sorted([people["w1"].account, people["w2"].account])
        assert {r["tx_id"] for r in wash} <= listed["S1"]
        assert alerts["S2"]["accounts"] == sorted([people["m1"].account, people["m2"].account])
        assert alerts["S2"]["metrics"]["matched_trades"] == 4
        assert {r["tx_id"] for r in matched} <= listed["S2"]
        assert answers[0]["as_of"]["height"] == height

        registrar = net.client("ksd").get("/v1/audit/alerts?rule=S2", signed=True)
        assert [a["alert_id"] for a in registrar["alerts"]] == [alerts["S2"]["alert_id"]]
        for client in (net.client(signer=people["w1"]), net.client("broker-a")):
            with pytest.raises(ApiError) as refused:
                client.get("/v1/audit/alerts", signed=True)
            assert refused.value.status == 403
    finally:
        net.down()
