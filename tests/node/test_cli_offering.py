"""`stoledger offering status` and `stoledger audit offerings|supply` against the offering
story's ledger (tests/node/test_audit_offering.py) served in process; the writing commands run
against a real node in tests/e2e/test_offering.py."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp.test_utils import TestClient, TestServer

from node.cli import main
from node.rpc.server import make_app
from tests.node.test_audit import StandInNode
from tests.node.test_audit_offering import ASKS, SYMBOL, build


@pytest.fixture(scope="module")
def offering_story():
    return build()


@pytest.fixture
async def cli(offering_story, tmp_path, capsys):
    ledger, _ = offering_story
    keys = tmp_path / "keys"
    keys.mkdir()
    for org in ("fss", "broker-a", "issuer-1"):
        (keys / f"{org}.json").write_text(json.dumps({
            "account": ledger.signers[org].account, "secret": ledger.signers[org].seed.hex()}))
    client = TestClient(TestServer(make_app(StandInNode(ledger))))
    await client.start_server()
    url = str(client.make_url("/"))

    async def run(*argv: str, key: str = "fss") -> tuple[int, str]:
        common = ["--dir", str(tmp_path), "--node", url, "--key", key]
        try:
            await asyncio.to_thread(main, [argv[0], argv[1], *common, *argv[2:]])
            code = 0
        except SystemExit as stop:
            code = 0 if stop.code is None else (1 if isinstance(stop.code, str) else stop.code)
        return code, capsys.readouterr().out

    try:
        yield run
    finally:
        await client.close()


async def test_status_prints_the_allocation_table_to_those_who_may_read_it(cli):
    for key in ("fss", "issuer-1"):
        code, out = await cli("offering", "status", "--offering", "1", key=key)
        assert code == 0
        assert "offering 1 of BUSAN1: 100 units at 1,200 KRW" in out and "redeemed" not in out
        total = next(line.split() for line in out.splitlines()
                     if line.strip().startswith("total"))
        # asked counts the live subscriptions; refunded, every won given back (bob withdrew)
        assert total[1:6] == [f"{sum(ASKS.values()) - ASKS['bob']:,}", "50", "50", "100",
                              f"{(sum(ASKS.values()) - 100) * 1_200:,}"]
        assert "withdrawn" in out  # bob's row
    code, out = await cli("offering", "status", "--offering", "1", key="broker-a")
    assert code == 0 and "for the issuer, the registrar and the regulator" in out


async def test_audit_offerings_and_supply(cli, offering_story):
    _, marks = offering_story
    code, out = await cli("audit", "offerings", "--symbol", SYMBOL, "--at",
                          str(marks["allocated_height"]))
    assert code == 0
    assert "offering 1: 100 units at 1,200 KRW, allocated, 3 subscribers" in out
    assert out.count("\n1 ") == 4  # one row per subscription
    code, out = await cli("audit", "supply", "--symbol", SYMBOL, "--at",
                          str(marks["subscribed_height"]))
    assert code == 0 and "reserved         100" in out and "reconciles       True" in out


def test_the_redemption_table_writes_tax_classes_as_the_demo_does() -> None:
    """`offering redeem` printed `resident_individual` where the demo prints `resident
    individual 15.4%` (walkthrough red team, smaller findings)."""
    from node.tools.offering_view import redemption_rows

    entry = {"account": "ab" * 32, "class": "resident_individual", "units": 1, "gross": 2,
             "gain": 1, "income_tax": 0, "local_tax": 0, "net": 2, "status": "paid"}
    assert redemption_rows([entry], str)[0][1] == "resident individual 15.4%"
