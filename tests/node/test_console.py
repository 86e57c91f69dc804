"""The console's node side, without a browser: the static files and the public genesis summary
are served, token symbols only to registered accounts, the public status routes carry CORS and
the signed ones (and /metrics) do not, the console's files carry a strict CSP and may not be
framed, the page has no inline script or style and loads nothing from outside the node, every
file is packaged, and a block-only event subscriber gets no per-transaction events."""

from __future__ import annotations

import re
import time
import tomllib
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from consensus.block import make_block
from consensus.crypto import Signer
from node.console import STATIC_DIR
from node.rpc.auth import sign_request
from node.rpc.events import EventHub
from node.rpc.server import make_app
from tests.node.test_audit import SYMBOL, Ledger, StandInNode, build_story, investor, register

ROOT = Path(__file__).resolve().parents[2]


class ConsoleNode(StandInNode):
    """The audit tests' stand-in, with what /metrics and /readyz also read."""

    class P2p:
        stats: dict[str, int] = {}  # noqa: RUF012 (a read-only stand-in)

    p2p = P2p()

    def status(self) -> dict[str, Any]:
        return {"chain_id": self.genesis.chain_id, "height": self.executor.height, "view": 0,
                "stable_checkpoint": 0, "mempool_size": 0, "peers": []}

    def is_ready(self) -> bool:
        return True


async def client_for(led: Ledger) -> TestClient:
    client = TestClient(TestServer(make_app(ConsoleNode(led))))
    await client.start_server()
    return client


async def test_static_files_and_genesis_summary_are_served():
    led = Ledger()
    client = await client_for(led)
    try:
        page = await client.get("/console/")
        assert page.status == 200 and 'src="/console/app.js"' in await page.text()
        script = await client.get("/console/pages/blocks.js")
        assert script.status == 200 and "javascript" in script.headers["Content-Type"]
        moved = await client.get("/console", allow_redirects=False)
        assert moved.status == 302 and moved.headers["Location"] == "/console/"
        summary = await (await client.get("/console/genesis.json")).json()
        assert summary["chain_id"] == led.genesis.chain_id
        assert summary["quorum"] == 3
        assert [o["public_key"] for o in summary["operators"]] == [
            node.public_key.hex() for node in led.genesis.operators]
        assert {o["name"]: o["role"] for o in summary["orgs"]}["fss"] == "regulator"
        assert "secret" not in str(summary) and "tls_cert" not in str(summary)
        outside = await client.get("/console/../pyproject.toml")
        assert outside.status in (403, 404)
    finally:
        await client.close()


async def test_public_routes_carry_cors_and_signed_ones_do_not():
    led = Ledger()
    client = await client_for(led)
    try:
        for path in ("/v1/status", "/readyz", "/console/genesis.json"):
            response = await client.get(path)
            assert response.headers.get("Access-Control-Allow-Origin") == "*", path
        # /metrics too is read by no other origin (issue 27, item 6)
        for path in ("/v1/audit/proof?height=1", "/v1/blocks/latest", "/console/", "/metrics"):
            response = await client.get(path)
            assert "Access-Control-Allow-Origin" not in response.headers, path
    finally:
        await client.close()


def test_the_page_loads_nothing_from_outside_the_node():
    outside = re.compile(r"""(src|href)\s*=\s*["'](https?:)?//|@import\s+url\(\s*["']?https?:|"""
                         r"""import\s[^;]*from\s+["']https?:""")
    for path in STATIC_DIR.rglob("*"):
        if path.is_file():
            assert not outside.search(path.read_text(encoding="utf-8")), path


def test_every_static_file_is_packaged():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["node.console"]
    for path in STATIC_DIR.rglob("*"):
        if path.is_file():
            relative = path.relative_to(STATIC_DIR.parent).as_posix()
            assert any(fnmatch(relative, p) and relative.count("/") == p.count("/")
                       for p in patterns), relative


async def test_a_block_only_subscriber_gets_no_contract_events():
    led = Ledger()
    hub = EventHub()
    everything = hub.subscribe("f" * 64, "regulator")
    blocks = hub.subscribe("e" * 64, "regulator", blocks_only=True)
    tx = register(led, "alice", investor())
    block = make_block(led.genesis.chain_id, 1, led.executor.last_block_hash, led.time + 1000,
                       0, "ksd", [(tx.body_bytes, tx.sig)])
    hub.publish(led.executor.apply(block, led.certificate(block)))
    got_all = [everything.queue.get_nowait()["event"] for _ in range(everything.queue.qsize())]
    got_blocks = [blocks.queue.get_nowait()["event"] for _ in range(blocks.queue.qsize())]
    assert got_blocks == ["block"]
    assert got_all[0] == "block" and "contract" in got_all


async def test_symbols_are_listed_for_registered_accounts_only():
    led, _ = build_story()
    client = await client_for(led)

    def signed(signer: Signer) -> dict[str, str]:
        return {"Authorization": sign_request(signer, led.genesis.chain_id, "GET",
                                              "/console/symbols.json", int(time.time() * 1000))}

    try:
        for who in ("fss", "alice"):  # the regulator, and an investor
            response = await client.get("/console/symbols.json", headers=signed(led.signers[who]))
            assert response.status == 200, await response.text()
            value = await response.json()
            assert value["symbols"] == [{"symbol": SYMBOL, "name": "Seoul Tower 1",
                                         "issuer": led.account("issuer-1")}]
            assert value["height"] == led.executor.height
        stranger = await client.get("/console/symbols.json", headers=signed(Signer.generate()))
        assert stranger.status == 403
        unsigned = await client.get("/console/symbols.json")
        assert unsigned.status == 401
    finally:
        await client.close()


CONSOLE_PATHS = ("/console/", "/console/app.js", "/console/pages/blocks.js", "/console/style.css",
                 "/console/genesis.json", "/console/no-such-file.js")


async def test_the_console_runs_only_its_own_code_and_may_not_be_framed():
    """Issue 27, item 6: another origin framed the console (clickjacking), and its files were
    sent with no policy and no nosniff."""
    led = Ledger()
    client = await client_for(led)
    try:
        for path in CONSOLE_PATHS:
            response = await client.get(path)
            policy = dict(part.strip().split(" ", 1) for part in
                          response.headers.get("Content-Security-Policy", "").split(";")
                          if part.strip())
            assert policy.get("default-src") == "'self'", path
            assert policy.get("script-src") == "'self'" and policy.get("style-src") == "'self'"
            assert policy.get("frame-ancestors") == "'none'", path
            assert "unsafe" not in str(policy), path
            assert set(policy["connect-src"].split()) == {"'self'"} | {
                node.rpc_url for node in led.genesis.operators}
            assert response.headers.get("X-Frame-Options") == "DENY", path
            assert response.headers.get("X-Content-Type-Options") == "nosniff", path
        api = await client.get("/v1/status")
        assert "Content-Security-Policy" not in api.headers  # the API answers JSON, not pages
    finally:
        await client.close()


def test_the_page_has_no_inline_script_or_style():
    """What the policy forbids, the files must not need: no <script> with a body, no style
    attribute, no inline event handler, no javascript: URL."""
    inline = re.compile(r"""<script(?![^>]*\bsrc=)[^>]*>|\sstyle\s*=|\son[a-z]+\s*=\s*["']"""
                        r"""|javascript:""", re.IGNORECASE)
    for path in STATIC_DIR.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".js"):
            assert not inline.search(path.read_text(encoding="utf-8")), path
