"""Admission under pressure on real node processes: a flood from one key leaves room for
another account, an unregistered key gets nothing in, what an observer admits reaches the
operators, and the transactions pending when the primary dies are all committed after."""

from __future__ import annotations

import json
import os
import signal
import urllib.error
import urllib.request

import pytest

from consensus.crypto import Signer
from tests.e2e.conftest import start_cluster, wait_until

pytestmark = pytest.mark.slow

FLOOD = 1_500


def _post_txs(url: str, txs) -> tuple[int, dict[str, str], list[dict]]:
    """POST /v1/txs (JSON); (status, headers, items)."""
    body = json.dumps([{"body": t.body_bytes.hex(), "sig": t.sig.hex()} for t in txs]).encode()
    request = urllib.request.Request(url + "/v1/txs", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def _all_committed(client, tx_ids) -> bool:
    return all(client.receipt(tx_id).get("status") == "committed" for tx_id in tx_ids)


def test_flood_from_one_key_is_refused_and_another_account_still_commits(tmp_path):
    net = start_cluster(tmp_path / "net", 4)
    try:
        url = net.url("broker-a")
        flooder = net.client("broker-b", node="broker-a")
        bank_account = net.keys["bank"].account
        flood = [flooder.build("cash", "transfer", {"to": bank_account, "amount": 1})
                 for _ in range(FLOOD)]
        status, headers, items = _post_txs(url, flood)
        assert status == 200
        admitted = [tx.tx_id_hex for tx, item in zip(flood, items, strict=True)
                    if "error" not in item]
        refused = [item["error"]["code"] for item in items if "error" in item]
        assert admitted and refused, "one key must neither be shut out nor fill the pool"
        assert set(refused) == {"mempool_full"}
        assert int(headers["Retry-After"]) >= 1
        assert len(admitted) < FLOOD // 2

        # another account's transaction is admitted and committed meanwhile
        bank = net.client("bank", node="broker-a")
        receipt = bank.submit("cash", "mint", {"to": bank_account, "amount": 7})
        assert receipt["status"] == "committed" and receipt["ok"]

        # a key that is no registered identity gets nothing in, one by one or in a batch
        stranger = net.client(node="broker-a", signer=Signer.generate())
        junk = [stranger.build("cash", "transfer", {"to": bank_account, "amount": 1})
                for _ in range(20)]
        status, _, items = _post_txs(url, junk)
        assert status == 200 and {i["error"]["code"] for i in items} == {"unknown_sender"}
        code, _, answer = _post_txs(url, [])
        assert code == 200 and answer == []
        one = stranger.build("cash", "transfer", {"to": bank_account, "amount": 1})
        status, value = stranger.request(
            "POST", "/v1/tx", json.dumps({"body": one.body_bytes.hex(),
                                          "sig": one.sig.hex()}).encode())
        assert status == 403 and value["error"]["code"] == "unknown_sender"

        # everything admitted commits; nothing of the stranger's is in any block
        client = net.client(node="ksd")
        wait_until(lambda: _all_committed(client, admitted), 120,
                   "every admitted flood transaction to commit")
        for tx in [*junk, one]:
            assert client.receipt(tx.tx_id_hex)["status"] == "unknown"
    finally:
        net.down()


def test_observer_relays_what_it_admits_to_the_operators(tmp_path):
    net = start_cluster(tmp_path / "net", 4, observer=True)
    try:
        bank = net.client("bank", node="fss")
        tx = bank.build("cash", "mint", {"to": net.keys["bank"].account, "amount": 3})
        answer = bank.send(tx, wait=False)
        assert answer["status"] == "pending"
        operator = net.client(node="ksd")
        wait_until(lambda: operator.receipt(tx.tx_id_hex).get("status") == "committed", 30,
                   "the observer's transaction to commit at an operator")
        wait_until(lambda: bank.receipt(tx.tx_id_hex).get("status") == "committed", 30,
                   "the observer to see its commit")
    finally:
        net.down()


def test_primary_killed_while_every_pool_holds_admitted_txs(tmp_path):
    """No quorum (two backups stopped) while transactions are admitted at the primary and the
    other backup; the primary dies; the two come back. Every admitted transaction commits
    (through the dead primary's prepared blocks or re-proposed by the new primary), and one
    that expired meanwhile is reported expired."""
    net = start_cluster(tmp_path / "net", 4)
    stopped: list[int] = []
    try:
        # view 0: ksd is the primary, broker-a the next one
        for name in ("broker-a", "bank"):
            pid = net.pid(name)
            os.kill(pid, signal.SIGSTOP)
            stopped.append(pid)
        admitted: list[str] = []
        senders = ("ksd", "broker-a", "broker-b", "issuer-1", "bank", "tax")
        for node in ("ksd", "broker-b"):
            for org in senders:
                client = net.client(org, node=node)
                txs = [client.build("cash", "transfer", {"to": net.keys["fss"].account,
                                                         "amount": 1})
                       for _ in range(15)]
                status, _, items = _post_txs(net.url(node), txs)
                assert status == 200
                admitted += [t.tx_id_hex for t, i in zip(txs, items, strict=True)
                             if "error" not in i]
        assert len(admitted) >= 80
        pending = net.client(node="broker-b")
        wait_until(lambda: all(pending.receipt(t).get("status") == "pending"
                               for t in admitted), 10, "broker-b to hold every admitted tx")
        assert net.client(node="ksd").status()["mempool_size"] >= len(admitted)
        # one that expires while nothing can commit: reported expired, never "unknown"
        short = net.client("fss", node="broker-b")  # a sender with nothing pending
        brief = short.build("cash", "transfer", {"to": net.keys["tax"].account, "amount": 1},
                            expires_in_ms=1_500)
        assert short.send(brief, wait=False)["status"] == "pending"
        wait_until(lambda: short.receipt(brief.tx_id_hex).get("status") != "pending", 20,
                   "the short-lived tx to leave the pool")
        assert short.receipt(brief.tx_id_hex)["status"] == "expired"
        net.kill("ksd")
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
        stopped.clear()
        client = net.client(node="broker-a")
        wait_until(lambda: _all_committed(client, admitted), 90,
                   "every admitted transaction to commit after the primary died")
        # committed if the dead primary had proposed it in time, else still expired
        assert short.receipt(brief.tx_id_hex)["status"] in ("expired", "committed")
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
        net.down()
