"""`stoledger market` and `stoledger audit orders|trades` against the market story's ledger
(tests/node/test_audit_market.py) served in process; `place` and `cancel` against a real
cluster are in tests/e2e/test_market.py."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from node.cli import main
from node.cli.market import ladder
from node.rpc.server import make_app
from node.tools.client import market_origin
from tests.node.test_audit import StandInNode
from tests.node.test_audit_market import ORIGIN, SYMBOL, build_market_story


@pytest.fixture(scope="module")
def market_story():
    return build_market_story()


@pytest.fixture
async def cli(market_story, tmp_path, capsys):
    ledger, _ = market_story
    keys = tmp_path / "keys"
    keys.mkdir()
    for org in ("fss", "ksd", "alice", "broker-a"):
        (keys / f"{org}.json").write_text(json.dumps({
            "account": ledger.signers[org].account, "secret": ledger.signers[org].seed.hex()}))
    client = TestClient(TestServer(make_app(StandInNode(ledger))))
    await client.start_server()
    url = str(client.make_url("/"))

    async def run(*argv: str, key: str = "broker-a") -> tuple[int, str]:
        common = ["--dir", str(tmp_path), "--node", url, "--key", key]
        try:
            await asyncio.to_thread(main, [argv[0], argv[1], *common, *argv[2:]])
            code = 0
        except SystemExit as stop:
            code = 0 if stop.code is None else (1 if isinstance(stop.code, str) else stop.code)
            if isinstance(stop.code, str):
                print(stop.code)
        return code, capsys.readouterr().out

    try:
        yield run
    finally:
        await client.close()


def test_the_ladder_puts_asks_above_bids_below():
    book = {"symbol": "SEOUL1", "open": True, "halted": False,
            "asks": [{"price": 1010, "qty": 30, "orders": 1},
                     {"price": 1020, "qty": 1200, "orders": 3}],
            "bids": [{"price": 1000, "qty": 50, "orders": 2},
                     {"price": 990, "qty": 5, "orders": 1}]}
    lines = ladder(book).splitlines()
    assert lines[0] == "SEOUL1  open"
    body = [line.split() for line in lines[2:]]
    assert body[0] == ["ask", "1,020", "1,200", "3"]  # the highest ask on top
    assert body[1] == ["ask", "1,010", "30", "1"]  # the best ask just above the rule
    assert "spread 10" in lines[4]
    assert body[3] == ["bid", "1,000", "50", "2"]  # the best bid just below
    assert body[4] == ["bid", "990", "5", "1"]
    assert "no bids" in ladder(dict(book, bids=[]))
    assert ladder(dict(book, halted=True)).startswith("SEOUL1  halted")
    assert ladder(book, paused=True).startswith("SEOUL1  paused (orders are refused TOKEN_PAUSED)")


async def test_book_prints_the_ladder_with_the_quote(cli):
    code, out = await cli("market", "book", "--symbol", SYMBOL)
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith(f"{SYMBOL}  open  last 1,010  reference 1,000  band 700..1,300")
    assert ["ask", "900", "10", "1"] in [line.split() for line in lines]  # bob's resting sell
    assert "no bids" in out
    code, out = await cli("market", "book", "--symbol", SYMBOL, "--json")
    assert json.loads(out)["asks"] == [{"price": 900, "qty": 10, "orders": 1}]


async def test_quote_and_trades(cli, market_story):
    ledger, _ = market_story
    code, out = await cli("market", "quote", "--symbol", SYMBOL)
    assert code == 0 and "last price" in out and "1,010" in out and "120 / 120,200" in out
    code, out = await cli("market", "trades", "--symbol", SYMBOL, key="alice")
    assert code == 0 and "buyer" not in out  # an investor sees trades without accounts
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["1", "2"]
    code, out = await cli("market", "trades", "--symbol", SYMBOL, key="fss")
    assert "buyer" in out and f"{ledger.account('carol')[:12]}…" in out
    assert " KST " in out  # a time with its zone, as in the console
    code, out = await cli("market", "trades", "--symbol", SYMBOL, "--hex", key="fss")
    assert ledger.account("carol") in out
    code, out = await cli("market", "trades", "--symbol", SYMBOL, "--limit", "1", key="fss")
    assert "more: --after 1" in out


async def test_audit_orders_and_trades_commands(cli, market_story):
    ledger, _ = market_story
    code, out = await cli("audit", "orders", "--account", ledger.account("bob"), key="ksd")
    assert code == 0 and "3 orders" in out and "SELF_TRADE" in out and "CANCELLED" in out
    head, *rows = out.splitlines()[1:]
    columns = head.split()
    assert columns[columns.index("status") + 1] == "code"  # a state, then why it ended
    cells = [row.split() for row in rows]
    assert {(c[columns.index("status")], c[columns.index("code")]) for c in cells
            if "cancelled" in c} == {("cancelled", "SELF_TRADE"), ("cancelled", "CANCELLED")}
    code, out = await cli("audit", "orders", "--account", "alice", key="ksd")  # a key name
    assert code == 0 and "\nalice " not in out and " alice " in out
    code, out = await cli("audit", "trades", "--csv", key="fss")
    assert code == 0 and out.startswith("trade_id,symbol,price")
    assert ORIGIN["carol"] in out
    code, out = await cli("audit", "trades", key="fss")
    assert code == 0 and "2 trades" in out and f"api {ORIGIN['carol'][:8]}" in out
    code, out = await cli("audit", "orders", key="alice")
    assert code == 1 and "403 forbidden" in out


@pytest.mark.parametrize("extra, words", [
    (["--account", "nobody"], "is not an account id"),
    (["--origin", "xyz"], "64 lowercase hex"),
    ([], "--origin HEX, or --ip and --device"),
    (["--origin", "ab" * 32, "--ip", "1.2.3.4"], "not both"),
    (["--ip", "not-an-ip", "--device", "d"], "--ip 'not-an-ip' is not an IP address"),
])
async def test_place_explains_bad_arguments_before_sending(cli, extra: list[str], words: str):
    argv = ["market", "place", "--symbol", SYMBOL, "--side", "buy", "--price", "1000",
            "--qty", "1"]
    if "--account" not in extra:
        argv += ["--account", "cd" * 32]
    code, out = await cli(*argv, *extra)
    assert code == 1 and words in out, out


def test_an_origin_is_the_same_for_the_same_client():
    first: Any = market_origin("203.0.113.7", "iphone-1")
    assert first == market_origin("203.0.113.7", "iphone-1")
    assert first != market_origin("203.0.113.7", "iphone-2")
    assert len(first) == 64 and int(first, 16) >= 0
