"""The automatic responder on a real 4-operator cluster: a planted wash trade (S1, two accounts
trading from one device) is held by `stoledger fds run` within 30 s of its alert; the
registrar releases one hold; killing the responder and the node it follows, the responder
restarted follows another node and holds the next planted pair; restarted once more from
height 1 with its position lost, it reads every alert again and places no hold twice, not
even the one a person released."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from chaincode.identity import sign_consent
from consensus.crypto import Signer
from node.tools import cluster as clustermod
from tests.e2e.conftest import Cluster, start_cluster, wait_until

pytestmark = pytest.mark.slow

SYMBOL = "WASH1"
ALERT_TO_HOLD_S = 30.0  # the bound from an alert to the responder's holds


def ok(receipt: Any) -> Any:
    assert receipt["status"] == "committed" and receipt["ok"], receipt
    return receipt


class ResponderProcess:
    """`stoledger fds run` as its own process, its output in DIR/fds-<n>.log; stopped by pid."""

    def __init__(self, net: Cluster) -> None:
        self.net = net
        self.process: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def start(self, *extra: str) -> None:
        self.runs += 1
        log = open(self.net.dir / f"fds-{self.runs}.log", "wb")  # noqa: SIM115 (kept open)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "node.cli", "fds", "run", "--dir", str(self.net.dir),
             "--key", "ksd", *extra], stdout=log, stderr=subprocess.STDOUT)
        wait_until(lambda: (self.net.dir / "fds" / "state.json").exists(), 30,
                   "the responder to take its position")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:  # never left running: killed, then the failure
                self.process.kill()
                self.process.wait()
                raise

    def log(self) -> str:
        return (self.net.dir / f"fds-{self.runs}.log").read_text(errors="replace")


def decisions(directory: Path) -> list[dict[str, Any]]:
    path = directory / "fds" / "decisions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def setup_market(net: Cluster, names: list[str]) -> dict[str, Signer]:  # on the first node
    people = {name: Signer.generate() for name in names}
    broker = net.keys["broker-a"].account
    attrs = {"investor_type": "professional", "legal_form": "individual", "country": "KR",
             "resident": True, "kyc_expires": 4_000_000_000_000, "aml_risk": "low"}
    for signer in people.values():
        ok(net.client("broker-a").submit("identity", "register", {
            "account": signer.account, "role": "investor", "attrs": attrs,
            "consent": sign_consent(signer, net.chain_id, broker, "investor")}))
    ok(net.client("issuer-1").submit("token", "create", {
        "symbol": SYMBOL, "name": "Wash Tower", "asset_type": "real_estate",
        "unit_price": 10_000, "max_supply": 1_000_000, "rules": {}}))
    ok(net.client("ksd").submit("token", "approve", {"symbol": SYMBOL, "cap": 100_000}))
    for signer in people.values():
        ok(net.client("issuer-1").submit("token", "issue", {
            "symbol": SYMBOL, "to": signer.account, "amount": 1_000}))
        ok(net.client("bank").submit("cash", "mint", {"to": signer.account,
                                                      "amount": 50_000_000}))
    return people


def plant_wash(net: Cluster, seller: Signer, buyer: Signer, device: str,
               node: str | None = None) -> int:
    """Two accounts cross from one device: an S1 wash trade; the height of the fill."""
    origin = hashlib.sha256(f"203.0.113.9\n{device}".encode()).hexdigest()
    for signer, side in ((seller, "sell"), (buyer, "buy")):
        receipt = ok(net.client("broker-a", node=node).submit("market", "place", {
            "symbol": SYMBOL, "account": signer.account, "side": side, "price": 10_000,
            "qty": 25, "media": "mts", "origin": origin}))
    assert receipt["result"]["status"] == "filled"
    return int(receipt["height"])


def s1_alert(net: Cluster, accounts: set[str], node: str | None = None) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        alerts = net.client("fss", node=node).get("/v1/audit/alerts?rule=S1",
                                                  signed=True)["alerts"]
        return next((a for a in alerts if set(a["accounts"]) == accounts), None)

    alert: dict[str, Any] = wait_until(find, 30, "the S1 alert")
    return alert


def holds_on(net: Cluster, alert_id: str, node: str | None = None) -> list[dict[str, Any]]:
    holds: list[dict[str, Any]] = net.client("fss", node=node).get(
        f"/v1/audit/holds?alert={alert_id}", signed=True)["holds"]
    return holds


def test_the_responder_holds_a_wash_pair_once_across_restarts(tmp_path: Path) -> None:
    directory = tmp_path / "net"
    try:
        net = start_cluster(directory, 4)
    except BaseException:
        clustermod.down(directory, progress=lambda line: None)
        raise
    responder = ResponderProcess(net)
    try:
        people = setup_market(net, ["w1", "w2", "w3", "w4"])
        responder.start()

        # 1. a planted pair, held within 30 s of its alert
        plant_wash(net, people["w1"], people["w2"], "pc-1")
        first = s1_alert(net, {people["w1"].account, people["w2"].account})
        seen = time.monotonic()
        held = wait_until(lambda: len(holds_on(net, first["alert_id"])) == 2
                          and holds_on(net, first["alert_id"]), ALERT_TO_HOLD_S,
                          "the responder's two holds")
        assert time.monotonic() - seen < ALERT_TO_HOLD_S
        assert {(h["account"], h["scope"], h["by"], h["reason"]) for h in held} == {
            (people[name].account, "trading", net.keys["ksd"].account,
             f"alert {first['alert_id']}") for name in ("w1", "w2")}
        refused = net.client("broker-a").submit("market", "place", {
            "symbol": SYMBOL, "account": people["w1"].account, "side": "sell",
            "price": 10_000, "qty": 1, "media": "mts", "origin": "0" * 64})
        assert refused["error"]["code"] == "ACCOUNT_HELD"
        w1_hold = next(h for h in held if h["account"] == people["w1"].account)
        ok(net.client("ksd").submit("fds", "release", {"hold_id": w1_hold["hold_id"],
                                                       "reason": "examiner: not a wash"}))

        # 2. the responder and the node it follows die; restarted, it follows another node
        followed = json.loads((directory / "fds" / "state.json").read_text())["node"]
        responder.stop(signal.SIGKILL)
        net.kill(followed)
        responder.start()
        wait_until(lambda: "following" in responder.log(), 60, "the responder to connect")
        alive = next(node["name"] for node in net.info["nodes"] if node["name"] != followed)
        plant_wash(net, people["w3"], people["w4"], "pc-2", node=alive)
        second = s1_alert(net, {people["w3"].account, people["w4"].account}, node=alive)
        wait_until(lambda: len(holds_on(net, second["alert_id"], alive)) == 2,
                   ALERT_TO_HOLD_S, "the holds on the second pair")
        now_following = json.loads((directory / "fds" / "state.json").read_text())["node"]
        assert now_following != followed
        net.up()  # the killed node comes back and catches up

        # 3. its position lost, the responder reads every alert again: no hold twice
        responder.stop()
        (directory / "fds" / "state.json").unlink()
        responder.start("--from-height", "1")
        wait_until(lambda: "caught up from height 1" in responder.log(), 60,
                   "the responder to read every alert again")
        assert sorted(h["status"] for h in holds_on(net, first["alert_id"], alive)) == [
            "active", "released"]  # the released hold was not placed again
        assert len(holds_on(net, second["alert_id"], alive)) == 2
        rows = decisions(directory)
        keys = [(d["alert_id"], d["account"], d["scope"]) for d in rows]
        assert len(keys) == len(set(keys)), rows  # one decision per alert, account and scope
        assert sum(d["outcome"] == "held" for d in rows) == 4
        status = subprocess.run([sys.executable, "-m", "node.cli", "fds", "status", "--dir",
                                 str(directory)], capture_output=True, text=True, check=True)
        assert "responder: running" in status.stdout and "held 4" in status.stdout
    finally:
        responder.stop()
        net.down()
