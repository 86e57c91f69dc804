"""The market on a real 4-node cluster: two brokers send orders for their clients over HTTP (one
placed and one cancelled through `stoledger market`), trades settle delivery versus payment,
and balances and escrows reconcile through the audit routes (supply, holdings, orders,
trades) on every node, which all end with the same app hash."""

from __future__ import annotations

import http.client
import itertools
import json
import threading
import time
import urllib.parse
from typing import Any

import pytest

from chaincode.identity import sign_consent
from consensus.crypto import Signer
from node.cli import main
from node.rpc.auth import sign_request
from node.tools.client import market_origin
from tests.e2e.conftest import Cluster, start_cluster, wait_until

pytestmark = pytest.mark.slow

SYMBOL = "MKT1"
NAMES = ("ksd", "broker-a", "broker-b", "bank")
CLIENTS = {"a_seller": "broker-a", "a_buyer": "broker-a", "b_seller": "broker-b",
           "b_buyer": "broker-b"}
ISSUED = {"a_seller": 5_000, "b_seller": 4_000}
MINTED = {"a_buyer": 3_000_000, "b_buyer": 2_000_000}


class Market:
    def __init__(self, net: Cluster) -> None:
        self.net = net
        self.investors = {name: Signer.generate() for name in CLIENTS}
        self.turn = itertools.count()

    def account(self, name: str) -> str:
        return self.investors[name].account

    def client(self, who: str) -> Any:
        node = NAMES[next(self.turn) % len(NAMES)]  # every node admits transactions
        return self.net.client(who, node=node)

    def tx(self, who: str, contract: str, method: str, args: dict[str, Any]) -> Any:
        receipt = self.client(who).submit(contract, method, args)
        assert receipt["ok"], (contract, method, receipt["error"])
        return receipt

    def place(self, name: str, side: str, price: int, qty: int) -> Any:
        return self.tx(CLIENTS[name], "market", "place", {
            "symbol": SYMBOL, "account": self.account(name), "side": side, "price": price,
            "qty": qty, "media": "api", "origin": market_origin("198.51.100.1", name)})

    def audit(self, path: str, node: str = "ksd") -> Any:
        return self.net.client("fss", node=node).get(path, signed=True)


def setup_market(net: Cluster) -> Market:
    m = Market(net)
    chain = net.chain_id
    for name, broker in CLIENTS.items():
        signer = m.investors[name]
        m.tx(broker, "identity", "register", {
            "account": signer.account, "role": "investor",
            "attrs": {"investor_type": "professional", "legal_form": "individual",
                      "country": "KR", "resident": True, "kyc_expires": 2**42,
                      "aml_risk": "low"},
            "consent": sign_consent(signer, chain, net.keys[broker].account, "investor")})
    m.tx("issuer-1", "token", "create", {
        "symbol": SYMBOL, "name": "Market test units", "asset_type": "real_estate",
        "unit_price": 1_000, "max_supply": 1_000_000, "rules": {"lockup_ms": 0}})
    m.tx("ksd", "token", "approve", {"symbol": SYMBOL, "cap": 100_000})
    for name, amount in ISSUED.items():
        m.tx("issuer-1", "token", "issue", {"symbol": SYMBOL, "to": m.account(name),
                                            "amount": amount})
    for name, amount in MINTED.items():
        m.tx("bank", "cash", "mint", {"to": m.account(name), "amount": amount})
    return m


class EventReader(threading.Thread):
    """Reads `GET /v1/events` of one node as `signer`; keeps the contract events."""

    def __init__(self, url: str, chain_id: str, signer: Any) -> None:
        super().__init__(daemon=True)
        parsed = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
        auth = sign_request(signer, chain_id, "GET", "/v1/events", int(time.time() * 1000))
        self.conn.request("GET", "/v1/events", headers={"Authorization": auth})
        self.response = self.conn.getresponse()
        assert self.response.status == 200
        self.events: list[dict[str, Any]] = []

    def run(self) -> None:
        kind = ""
        try:
            while line := self.response.readline():
                if line.startswith(b"event: "):
                    kind = line[7:].strip().decode()
                elif line.startswith(b"data: ") and kind == "contract":
                    self.events.append(json.loads(line[6:]))
        except (OSError, ValueError, AttributeError):  # closed under it (http.client: fp None)
            return

    def named(self, name: str) -> list[dict[str, Any]]:
        return [e for e in list(self.events) if e["name"] == name]

    def close(self) -> None:
        self.conn.close()


def run_cli(*argv: str) -> None:
    try:
        main(list(argv))
    except SystemExit as stop:
        assert stop.code in (None, 0), stop.code


def test_orders_from_two_brokers_settle_and_reconcile(tmp_path, capsys):
    net = start_cluster(tmp_path / "net", 4)
    try:
        m = setup_market(net)
        readers = {who: EventReader(net.url(node), net.chain_id, signer) for who, node, signer
                   in (("a_seller", "bank", m.investors["a_seller"]),
                       ("broker-b", "broker-a", net.keys["broker-b"]),
                       ("fss", "ksd", net.keys["fss"]))}
        for reader in readers.values():
            reader.start()
        m.place("a_seller", "sell", 1_000, 1_000)  # 1 rests
        m.place("b_seller", "sell", 1_010, 1_500)  # 2 rests
        cross = m.place("b_buyer", "buy", 1_010, 1_200)["result"]  # 3: 1000 @ 1000, 200 @ 1010
        assert (cross["status"], cross["filled"], len(cross["trades"])) == ("filled", 1_200, 2)
        # 4, through the CLI: a_buyer buys 2,000 at 1,010: 1,300 from b_seller, 700 rest
        run_cli("market", "place", "--dir", str(net.dir), "--key", "broker-a", "--symbol",
                SYMBOL, "--account", m.account("a_buyer"), "--side", "buy", "--price", "1010",
                "--qty", "2000", "--media", "hts", "--ip", "198.51.100.1", "--device",
                "a_buyer")
        assert "order 4 resting" in capsys.readouterr().out
        m.place("a_seller", "sell", 1_020, 800)  # 5 rests above the bid
        m.place("b_seller", "sell", 1_030, 100)  # 6 rests
        run_cli("market", "cancel", "--dir", str(net.dir), "--key", "broker-b", "6")
        assert "order 6 cancelled" in capsys.readouterr().out
        run_cli("market", "book", "--dir", str(net.dir), "--key", "broker-a", "--symbol",
                SYMBOL)
        ladder = [line.split() for line in capsys.readouterr().out.splitlines()]
        assert ["ask", "1,020", "800", "1"] in ladder and ["bid", "1,010", "700", "1"] in ladder

        # events: the investor sees its own orders and every trade without accounts; broker-b
        # its clients' orders (placed, and cancelled through the CLI); the regulator all
        wait_until(lambda: len(readers["fss"].named("Trade")) == 3, 30, "3 trades on SSE")
        wait_until(lambda: readers["broker-b"].named("OrderCancelled"), 30, "a cancellation")
        seller = readers["a_seller"]
        wait_until(lambda: len(seller.named("Trade")) == 3, 30, "the seller's 3 trades")
        assert [e["data"]["order_id"] for e in seller.named("OrderPlaced")] == [1, 5]
        assert all("buyer" not in e["data"] and "seller" not in e["data"]
                   for e in seller.named("Trade"))
        assert all(e["data"]["buyer"] for e in readers["fss"].named("Trade"))
        for other in ("a_buyer", "b_seller", "b_buyer"):
            assert m.account(other) not in json.dumps(seller.events), other
        assert [e["data"]["order_id"] for e in readers["broker-b"].named("OrderPlaced")] == [
            2, 3, 6]
        assert [e["data"]["order_id"] for e in readers["broker-b"].named("OrderCancelled")] == [6]
        for reader in readers.values():
            reader.close()

        # every node reaches the same height, app hash and audit answers
        final = m.client("ksd").status()["height"]

        def converged() -> Any:
            statuses = [net.client(node=n).status() for n in NAMES]
            heights = {st["height"] for st in statuses}
            if heights != {final}:
                return None
            return {(st["last_block_hash"], st["app_hash"]) for st in statuses}

        hashes = wait_until(converged, 30, "all four nodes at the same height")
        assert len(hashes) == 1, hashes
        answers = [m.audit(f"/v1/audit/trades?symbol={SYMBOL}&to={final}", node)
                   for node in NAMES]
        assert all(answer == answers[0] for answer in answers[1:])
        trades = answers[0]["trades"]
        assert [(t["price"], t["qty"]) for t in trades] == [(1_000, 1_000), (1_010, 200),
                                                            (1_010, 1_300)]

        # units: issued + bought - sold = the holding; on order = resting sells' remaining
        orders = m.audit(f"/v1/audit/orders?symbol={SYMBOL}&to={final}")["orders"]
        assert [(o["order_id"], o["status"], o["code"]) for o in orders] == [
            (1, "filled", None), (2, "filled", None), (3, "filled", None),
            (4, "resting", None), (5, "resting", None), (6, "cancelled", "CANCELLED")]
        brokers = {o["order_id"]: o["broker"] for o in orders}
        assert brokers[1] == net.keys["broker-a"].account
        assert brokers[2] == net.keys["broker-b"].account
        for name in CLIENTS:
            account = m.account(name)
            bought = sum(t["qty"] for t in trades if t["buyer"] == account)
            sold = sum(t["qty"] for t in trades if t["seller"] == account)
            paid = sum(t["value"] for t in trades if t["buyer"] == account)
            received = sum(t["value"] - t["tax"] for t in trades if t["seller"] == account)
            holdings = m.audit(f"/v1/audit/holdings?account={account}&at={final}")
            units = {row["asset"]: row["balance"] for row in holdings["holdings"]}
            assert units.get(SYMBOL, 0) == ISSUED.get(name, 0) + bought - sold, name
            assert holdings["cash"] == MINTED.get(name, 0) - paid + received, name
            resting = [o for o in orders if o["account"] == account and o["status"] == "resting"]
            token = m.net.client("fss").query("token", "balance", {"symbol": SYMBOL,
                                                                   "account": account})
            cash = m.net.client("fss").query("cash", "balance", {"account": account})
            assert token["on_order"] == sum(o["remaining"] for o in resting
                                            if o["side"] == "sell"), name
            assert cash["escrowed"] == sum(o["remaining"] * o["price"] for o in resting
                                           if o["side"] == "buy"), name
        supply = m.audit(f"/v1/audit/supply?symbol={SYMBOL}&at={final}")
        assert supply["reconciles"] and supply["sum_of_balances"] == sum(ISSUED.values())
        total_cash = sum(m.audit(f"/v1/audit/holdings?account={m.account(n)}")["cash"]
                         for n in CLIENTS)
        assert total_cash == sum(MINTED.values())  # cash moved, none made or lost (no tax)
    finally:
        net.down()
