"""`--account NAME` (walkthrough red team F7): the names the tables print can be typed back.
`/v1/audit/accounts?name=` over a real ledger in process (the stand-in node of
tests/node/test_audit.py) lists every account a name is given to; the CLI takes a name that
one account has and refuses a shared one, listing the accounts."""

from __future__ import annotations

import argparse
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from node.cli import show
from node.rpc.server import make_app
from tests.node.test_audit import Api, Ledger, StandInNode, investor, register


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    led = Ledger()
    led.commit(register(led, "alice", {**investor(), "name": "alice"}),
               register(led, "bob", {**investor(), "name": "lee"}),
               register(led, "carol", {**investor(), "name": "lee"}, broker="broker-b"),
               register(led, "eve", {**investor(), "name": "ksd"}))
    assert all(receipt.ok for receipt in led.receipts.values())
    return led


@pytest.fixture
async def api(ledger: Ledger) -> Any:
    client = TestClient(TestServer(make_app(StandInNode(ledger))))
    await client.start_server()
    try:
        yield Api(client, ledger)
    finally:
        await client.close()


async def test_a_name_lists_every_account_that_has_it(api: Api, ledger: Ledger) -> None:
    def accounts(value: dict[str, Any]) -> set[str]:
        assert value["complete"] is True and value["as_of"]["height"] == ledger.executor.height
        return {row["account"] for row in value["accounts"]}

    assert accounts(await api.ok("/v1/audit/accounts?name=alice")) == {ledger.account("alice")}
    assert accounts(await api.ok("/v1/audit/accounts?name=lee", who="ksd")) == {
        ledger.account("bob"), ledger.account("carol")}
    assert accounts(await api.ok("/v1/audit/accounts?name=ksd")) == {  # the org and its echo
        ledger.account("ksd"), ledger.account("eve")}
    assert accounts(await api.ok("/v1/audit/accounts?name=nobody")) == set()
    assert await api.code("/v1/audit/accounts?name=lee", who="broker-a") == (403, "forbidden")
    assert (await api.code("/v1/audit/accounts?name="))[0] == 400


class Answers:
    """A client whose node answers the name look-up with `accounts`."""

    signer = object()

    def __init__(self, accounts: list[dict[str, Any]]) -> None:
        self.accounts = accounts

    def get(self, path: str, signed: bool) -> Any:
        assert path.startswith("/v1/audit/accounts?name=") and signed
        return {"accounts": self.accounts, "complete": True}


def test_account_takes_a_unique_name_and_refuses_a_shared_one(monkeypatch, tmp_path) -> None:
    args = argparse.Namespace(dir=str(tmp_path), node=None, key="fss")
    kim = {"account": "a1" * 32, "role": "investor", "status": "active"}
    lee = [{"account": f"{i}" * 64, "role": "investor", "status": "active"} for i in (2, 3)]
    monkeypatch.setattr("node.cli.common.client", lambda args: Answers([kim]))
    assert show.account_arg(args, "kim") == kim["account"]
    monkeypatch.setattr("node.cli.common.client", lambda args: Answers(lee))
    with pytest.raises(SystemExit) as refused:
        show.account_arg(args, "lee")
    said = str(refused.value.code)
    assert "'lee' is the name of 2 accounts" in said and lee[0]["account"] in said
    assert lee[1]["account"] in said and "give the account id" in said
    monkeypatch.setattr("node.cli.common.client", lambda args: Answers([]))
    with pytest.raises(SystemExit) as refused:
        show.account_arg(args, "nobody")
    assert "nor a name in the identity records" in str(refused.value.code)
