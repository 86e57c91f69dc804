"""A node whose state disagrees with a stable checkpoint stops serving it, and a restart
rebuilds its state from its certified blocks and rejoins (node.ledger.recover)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

import pytest

from consensus import codec
from genesis.builder import load_config
from node.storage import Batch, LevelDB
from node.storage import schema as s
from tests.e2e.conftest import start_cluster, wait_until

pytestmark = pytest.mark.slow


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_diverged_node_halts_then_rebuilds_and_rejoins(tmp_path):
    net = start_cluster(tmp_path / "net", 4)
    try:
        bank = net.client("bank", node="ksd")
        account = net.keys["bank"].account
        for _ in range(3):
            assert bank.submit("cash", "mint", {"to": account, "amount": 10})["ok"]
        wait_until(lambda: net.client(node="bank").status()["height"]
                   == net.client(node="ksd").status()["height"], 30, "bank to catch up")

        net.kill("bank")  # then corrupt its copy of the bank's cash balance, by hand
        config = load_config(str(net.dir / "nodes" / "bank" / "config.toml"))
        store = LevelDB(f"{config.data_dir}/ledger")
        keys = [key for key, _ in store.iterate(s.STATE) if key.endswith(
            f"bal/{account}".encode())]
        assert len(keys) == 1
        batch = Batch()
        batch.put(keys[0], codec.pack(999_999))
        store.write(batch, sync=True)
        store.close()
        net.up()

        bank_node = net.client(node="bank")
        status: dict = {}

        def halted() -> bool:
            nonlocal status
            bank.submit("cash", "mint", {"to": account, "amount": 1})
            status = bank_node.status()
            return bool(status.get("halted"))

        wait_until(halted, 90, "the corrupted node to halt at a stable checkpoint", 0.0)
        assert "state diverged" in status["halted"]
        assert http_status(net.url("bank") + "/readyz") == 503
        query = net.client("fss", node="bank")
        body = json.dumps({"contract": "cash", "method": "balance",
                           "args": {"account": account}}).encode()
        code, answer = query.request("POST", "/v1/query", body, signed=True)
        assert code == 503 and answer["error"]["code"] == "not_ready"
        assert os.path.exists(f"{config.data_dir}/HALTED")

        net.kill("bank")
        net.up()  # rebuilds from genesis before it serves, then catches up
        assert os.path.isdir(f"{config.data_dir}/ledger.diverged-1")
        assert not os.path.exists(f"{config.data_dir}/HALTED")
        bank_mint = bank.submit("cash", "mint", {"to": account, "amount": 1})
        assert bank_mint["ok"]
        wait_until(lambda: bank_node.status()["height"] >= bank_mint["height"], 60,
                   "the rebuilt node to catch up")
        mine = query.query("cash", "balance", {"account": account})
        reference = net.client("fss", node="ksd").query("cash", "balance", {"account": account})
        assert mine == reference
        assert bank_node.status()["halted"] is None
        assert http_status(net.url("bank") + "/readyz") == 200
    finally:
        net.down()


def test_a_store_in_the_older_key_layout_is_rebuilt_before_the_node_serves(tmp_path):
    """Layout 1 kept receipts under `r/<tx id>` and tx ids in the audit indexes; a node started
    on such a store rebuilds it from its certified blocks into the current layout."""
    net = start_cluster(tmp_path / "net", 4)
    try:
        bank = net.client("bank", node="bank")
        account = net.keys["bank"].account
        mints = [bank.submit("cash", "mint", {"to": account, "amount": 10}) for _ in range(3)]
        assert all(mint["ok"] for mint in mints)
        wait_until(lambda: net.client(node="bank").status()["height"] >= mints[-1]["height"],
                   30, "bank to hold its mints")
        receipts = [bank.receipt(mint["tx_id"]) for mint in mints]

        net.kill("bank")  # then write its store back into layout 1, as the older code did
        config = load_config(str(net.dir / "nodes" / "bank" / "config.toml"))
        store = LevelDB(f"{config.data_dir}/ledger")
        batch = Batch()
        for key, value in store.iterate(s.RECEIPT):
            batch.delete(key)
            batch.put(s.RECEIPT + codec.unpack_trusted(value)[0], value)
        batch.delete(s.META_LAYOUT)
        store.write(batch, sync=True)
        store.close()
        net.up()

        assert [bank.receipt(mint["tx_id"]) for mint in mints] == receipts
        assert os.path.isdir(f"{config.data_dir}/ledger.diverged-1")  # the old store, kept
        old = LevelDB(f"{config.data_dir}/ledger.diverged-1")
        old_keys = [key for key, _ in old.iterate(s.RECEIPT)]
        old.close()
        assert len(old_keys) >= 3
        assert all(len(key) == len(s.RECEIPT) + 32 for key in old_keys)  # it was layout 1
    finally:
        net.down()
