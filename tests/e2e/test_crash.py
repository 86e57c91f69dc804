"""SIGKILL a node while it commits blocks under load; it reopens consistent and loses no
acknowledged transaction."""

from __future__ import annotations

import json
import os
import threading

import pytest

from genesis.builder import load_config
from genesis.schema import load_genesis
from node.ledger.fsck import check_store
from node.storage import LevelDB
from tests.e2e.conftest import start_cluster, wait_until

pytestmark = pytest.mark.slow

BATCH = 50


def test_sigkill_under_load_then_restart(tmp_path):
    net = start_cluster(tmp_path / "net", 1)
    try:
        bank = net.client("bank")
        account = net.keys["bank"].account
        acknowledged: list[str] = []  # tx ids whose committed receipt a client saw
        submitted: list[str] = []
        stop = threading.Event()

        def load() -> None:
            while not stop.is_set():
                txs = [bank.build("cash", "mint", {"to": account, "amount": 1})
                       for _ in range(BATCH)]
                body = json.dumps([{"body": t.body_bytes.hex(), "sig": t.sig.hex()}
                                   for t in txs]).encode()
                try:
                    bank.call("POST", "/v1/txs", body)
                except OSError:
                    return  # the node is gone
                submitted.extend(t.tx_id_hex for t in txs)
                for tx in txs[-3:]:
                    try:
                        receipt = bank.receipt(tx.tx_id_hex)
                    except OSError:
                        return
                    if receipt.get("status") == "committed":
                        acknowledged.append(tx.tx_id_hex)

        worker = threading.Thread(target=load)
        worker.start()
        wait_until(lambda: net.client().status()["height"] >= 5 and len(acknowledged) >= 10,
                   60, "blocks to commit under load")
        net.kill("ksd")  # SIGKILL, mid-load
        stop.set()
        worker.join(30)
        assert acknowledged

        config = load_config(str(net.dir / "nodes" / "ksd" / "config.toml"))
        store = LevelDB(os.path.join(config.data_dir, "ledger"))
        try:
            problems = check_store(store, load_genesis(config.genesis))
        finally:
            store.close()
        assert problems == []

        net.up()
        client = net.client()
        for tx_id in acknowledged:
            receipt = client.receipt(tx_id)
            assert receipt["status"] == "committed" and receipt["ok"], tx_id
        height = client.status()["height"]
        # the node goes on committing after the restart
        after = bank.submit("cash", "mint", {"to": account, "amount": 1})
        assert after["ok"] and after["height"] > height
        committed = sum(1 for tx_id in submitted
                        if client.receipt(tx_id).get("status") == "committed")
        assert committed >= len(acknowledged)
    finally:
        net.down()
