"""The regulator's audit routes over a real ledger history, in process.

The ledger: a 4-operator genesis, the real chaincode, and blocks applied straight to an
`Executor` with real commit certificates (3 of 4 operators sign). The story, one block each:

    1  broker-a registers alice (general), bob (general), carol (professional, non-resident)
    2  issuer-1 creates SEOUL1 (lock-up 10 s)
    3  ksd approves a cap of 100,000
    4  issuer-1 issues 1000 to alice and 500 to bob
    5  alice -> bob 100 refused LOCKUP_ACTIVE; bob -> alice 10,000 refused INSUFFICIENT_BALANCE
    6  (30 s later) alice -> bob 200, alice -> carol 100
    7  issuer-1 freezes 300 of bob's; bob -> carol 500 refused INSUFFICIENT_BALANCE
    8  ksd force-transfers 300 from bob to carol (court order; the freeze goes with them)
    9  bank mints 1,000,000 KRW to issuer-1 and 5,000 to alice
   10  issuer-1 declares a 100,000 KRW dividend on SEOUL1
   11  issuer-1 pays (5 steps: registers the 3 holders, hands out the 2 remaining won)
   12  issuer-1 pays 2 holders;  13  issuer-1 pays the last one

The routes are served by the real aiohttp app (`make_app`) over a small stand-in node that has
what the routes use: executor, store, genesis, registry, metrics and the access log.
"""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

import chaincode
from chaincode.identity import sign_consent
from consensus import codec
from consensus.block import CommitCertificate, Vote, commit_vote_bytes, make_block
from consensus.crypto import COMMIT_DOMAIN, Signer
from genesis.builder import build_network
from node.admission import tx as txmod
from node.ledger.audit import audit_indexer
from node.ledger.executor import Executor
from node.metrics import Metrics
from node.rpc.access import AccessLog
from node.rpc.auth import sign_request
from node.rpc.server import make_app
from node.storage import Batch, MemoryKV
from node.storage import schema as s

SYMBOL = "SEOUL1"
LOCKUP_MS = 10_000
EXPIRES = 2**62


class Ledger:
    """A network, an executor over it, and helpers to commit blocks with real certificates."""

    def __init__(self) -> None:
        self.network = build_network(n=4)
        self.genesis = self.network.genesis
        self.registry = chaincode.builtin_registry(self.genesis.params)
        self.store = MemoryKV()
        self.executor = Executor(self.store, self.registry, self.genesis.chain_id,
                                 indexers=[audit_indexer])
        self.executor.init_genesis(self.genesis.hash, self.genesis.genesis_time,
                                   self.genesis.initial_state())
        self.signers: dict[str, Signer] = dict(self.network.org_signers)
        for name in ("alice", "bob", "carol", "eve"):
            self.signers[name] = Signer.generate()
        self.time = self.genesis.genesis_time
        self.nonce = 0
        self.receipts: dict[str, Any] = {}

    def account(self, name: str) -> str:
        return self.signers[name].account

    def tx(self, who: str, contract: str, method: str, **args: Any) -> txmod.Transaction:
        self.nonce += 1
        wire = {(k[:-1] if k.endswith("_") else k): v for k, v in args.items()}
        return txmod.build(self.signers[who], self.genesis.chain_id, contract, method, wire,
                           self.nonce, EXPIRES)

    def certificate(self, block: Any, voters: tuple[str, ...] = ("ksd", "broker-a", "bank"),
                    view: int = 0) -> CommitCertificate:
        message = commit_vote_bytes(self.genesis.chain_id, view, block.height, block.hash)
        votes = tuple(Vote(name, self.network.node_signers[name].public_key,
                           self.network.node_signers[name].sign(COMMIT_DOMAIN, message))
                      for name in voters)
        return CommitCertificate(view, block.height, block.hash, votes)

    def commit(self, *txs: txmod.Transaction, advance_ms: int = 1000) -> int:
        self.time += advance_ms
        block = make_block(self.genesis.chain_id, self.executor.height + 1,
                           self.executor.last_block_hash, self.time, 0, "ksd",
                           [(t.body_bytes, t.sig) for t in txs])
        applied = self.executor.apply(block, self.certificate(block))
        for receipt in applied.receipts:
            self.receipts[receipt.tx_id.hex()] = receipt
        return block.height


def investor(investor_type: str = "general", country: str = "KR",
             resident: bool = True) -> dict[str, Any]:
    return {"investor_type": investor_type, "legal_form": "individual", "country": country,
            "resident": resident, "kyc_expires": 4_000_000_000_000, "aml_risk": "low"}


def register(led: Ledger, name: str, attrs: dict[str, Any], broker: str = "broker-a"
             ) -> txmod.Transaction:
    """`broker` registers `name`'s key, with `name`'s consent."""
    consent = sign_consent(led.signers[name], led.genesis.chain_id, led.account(broker),
                           "investor")
    return led.tx(broker, "identity", "register", account=led.account(name), role="investor",
                  attrs=attrs, consent=consent)


def build_story() -> tuple[Ledger, dict[str, Any]]:
    """The ledger of the module docstring, and the tx ids worth checking."""
    led = Ledger()
    a, b, c = led.account("alice"), led.account("bob"), led.account("carol")
    marks: dict[str, Any] = {}
    led.commit(register(led, "alice", investor()), register(led, "bob", investor()),
               register(led, "carol", investor("professional", "US", False)))
    led.commit(led.tx("issuer-1", "token", "create", symbol=SYMBOL, name="Seoul Tower 1",
                      asset_type="real_estate", unit_price=1000, max_supply=1_000_000,
                      rules={"lockup_ms": LOCKUP_MS}))
    led.commit(led.tx("ksd", "token", "approve", symbol=SYMBOL, cap=100_000))
    led.commit(led.tx("issuer-1", "token", "issue", symbol=SYMBOL, to=a, amount=1000),
               led.tx("issuer-1", "token", "issue", symbol=SYMBOL, to=b, amount=500))
    locked = led.tx("alice", "token", "transfer", symbol=SYMBOL, to=b, amount=100)
    short = led.tx("bob", "token", "transfer", symbol=SYMBOL, to=a, amount=10_000)
    marks["refused_height"] = led.commit(locked, short)
    marks["locked"], marks["short"] = locked.tx_id_hex, short.tx_id_hex
    first = led.tx("alice", "token", "transfer", symbol=SYMBOL, to=b, amount=200)
    marks["transfers_height"] = led.commit(
        first, led.tx("alice", "token", "transfer", symbol=SYMBOL, to=c, amount=100),
        advance_ms=3 * LOCKUP_MS)
    marks["transfer"] = first.tx_id_hex
    frozen_out = led.tx("bob", "token", "transfer", symbol=SYMBOL, to=c, amount=500)
    led.commit(led.tx("issuer-1", "token", "freeze", symbol=SYMBOL, account=b, amount=300),
               frozen_out)
    marks["frozen_out"] = frozen_out.tx_id_hex
    forced = led.tx("ksd", "token", "force_transfer", symbol=SYMBOL, from_=b, to=c, amount=300,
                    reason="Seoul Central District Court order 2026-123")
    marks["forced_height"] = led.commit(forced)
    marks["forced"] = forced.tx_id_hex
    led.commit(led.tx("bank", "cash", "mint", to=led.account("issuer-1"), amount=1_000_000),
               led.tx("bank", "cash", "mint", to=a, amount=5000))
    marks["declare_height"] = led.commit(led.tx("issuer-1", "dividend", "declare",
                                                symbol=SYMBOL, total=100_000))
    led.commit(led.tx("issuer-1", "dividend", "pay", dividend_id=1, max_holders=5))
    led.commit(led.tx("issuer-1", "dividend", "pay", dividend_id=1, max_holders=2))
    led.commit(led.tx("issuer-1", "dividend", "pay", dividend_id=1, max_holders=2))
    for tx_id in (marks["transfer"], marks["forced"]):
        assert led.receipts[tx_id].ok, led.receipts[tx_id].error
    return led, marks


class StandInNode:
    """What the RPC routes use of `node.app.Node`, without consensus or p2p."""

    def __init__(self, ledger: Ledger) -> None:
        self.executor = ledger.executor
        self.store = ledger.store
        self.genesis = ledger.genesis
        self.registry = ledger.registry
        self.metrics = Metrics()
        self.access = AccessLog(self.store, lambda: self.executor.height)
        self.halted: str | None = None

    def status(self) -> dict[str, Any]:
        return {"chain_id": self.genesis.chain_id, "height": self.executor.height}


@pytest.fixture(scope="module")
def story() -> tuple[Ledger, dict[str, Any]]:
    return build_story()


class Api:
    def __init__(self, client: TestClient, ledger: Ledger) -> None:
        self.client = client
        self.ledger = ledger

    async def get(self, path: str, who: str | None = "fss", signer: Signer | None = None
                  ) -> tuple[int, Any]:
        headers = {}
        signer = signer or (self.ledger.signers[who] if who else None)
        if signer is not None:
            headers["Authorization"] = sign_request(signer, self.ledger.genesis.chain_id, "GET",
                                                    path, int(time.time() * 1000))
        response = await self.client.get(path, headers=headers)
        if response.content_type == "text/csv":
            return response.status, (await response.text(), response.headers)
        return response.status, await response.json()

    async def ok(self, path: str, who: str = "fss") -> Any:
        status, value = await self.get(path, who)
        assert status == 200, value
        return value

    async def code(self, path: str, who: str | None = "fss") -> tuple[int, str]:
        status, value = await self.get(path, who)
        return status, value["error"]["code"]


@pytest.fixture
async def api(story):
    ledger, _ = story
    node = StandInNode(ledger)
    client = TestClient(TestServer(make_app(node)))
    await client.start_server()
    try:
        yield Api(client, ledger)
    finally:
        await client.close()


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# ---- holdings ------------------------------------------------------------------------------

async def test_holdings_at_several_heights(api, story):
    ledger, marks = story
    carol = ledger.account("carol")
    latest = await api.ok(f"/v1/audit/holdings?account={carol}")
    assert latest["as_of"] == {"height": ledger.executor.height,
                               "block_hash": ledger.executor.last_block_hash.hex()}
    tokens = [r for r in latest["holdings"] if r["kind"] == "token"]
    assert tokens == [{"kind": "token", "asset": SYMBOL, "balance": 400, "frozen": 0,
                       "locked": 0}]
    assert latest["cash"] > 0 and latest["identity"]["attrs"]["country"] == "US"
    before = await api.ok(f"/v1/audit/holdings?account={carol}&at={marks['refused_height']}")
    assert before["as_of"]["height"] == marks["refused_height"]
    assert [r for r in before["holdings"] if r["kind"] == "token"] == []
    assert before["cash"] == 0
    after_transfers = await api.ok(
        f"/v1/audit/holdings?account={ledger.account('alice')}&at={marks['transfers_height']}")
    assert after_transfers["holdings"][0]["balance"] == 700
    issued = await api.ok(f"/v1/audit/holdings?account={ledger.account('alice')}&at=4")
    assert issued["holdings"][0] == {"kind": "token", "asset": SYMBOL, "balance": 1000,
                                     "frozen": 0, "locked": 1000}  # locked as of block 4
    genesis = await api.ok(f"/v1/audit/holdings?account={carol}&at=0")
    assert genesis["as_of"] == {"height": 0, "block_hash": "00" * 32}


async def test_holdings_csv(api, story):
    ledger, _ = story
    status, (text, headers) = await api.get(
        f"/v1/audit/holdings?account={ledger.account('bob')}&format=csv")
    assert status == 200
    rows = csv_rows(text)
    # bob's cash is his dividend, net of withholding: read from state, not from the answer
    cash = codec.unpack(ledger.executor.state.get(f"cash/bal/{ledger.account('bob')}"))
    assert cash > 0
    assert rows == [{"kind": "token", "asset": SYMBOL, "balance": "400", "frozen": "0",
                     "locked": "0"},
                    {"kind": "cash", "asset": "KRW", "balance": str(cash),
                     "frozen": "0", "locked": "0"}]
    assert headers["X-As-Of-Height"] == str(ledger.executor.height)


# ---- captable and supply -------------------------------------------------------------------

async def test_captable_before_and_after_the_latest_transfers(api, story):
    ledger, marks = story
    a, b, c = (ledger.account(n) for n in ("alice", "bob", "carol"))
    before = await api.ok(f"/v1/audit/captable?symbol={SYMBOL}&at={marks['refused_height']}")
    assert {r["account"]: r["balance"] for r in before["holders"]} == {a: 1000, b: 500}
    assert before["holder_count"] == 2 and before["outstanding"] == 1500
    assert before["next_cursor"] is None
    after = await api.ok(f"/v1/audit/captable?symbol={SYMBOL}")
    assert {r["account"]: r["balance"] for r in after["holders"]} == {a: 700, b: 400, c: 400}
    assert sum(r["share_bps"] for r in after["holders"]) <= 10_000
    assert after["issuer"] == ledger.account("issuer-1")


async def test_captable_pages_with_a_cursor_pinned_to_its_height(api, story):
    first = await api.ok(f"/v1/audit/captable?symbol={SYMBOL}&limit=2")
    assert len(first["holders"]) == 2 and first["next_cursor"]
    second = await api.ok(f"/v1/audit/captable?symbol={SYMBOL}&limit=2"
                          f"&cursor={first['next_cursor']}")
    assert len(second["holders"]) == 1 and second["next_cursor"] is None
    accounts = [r["account"] for r in first["holders"] + second["holders"]]
    assert accounts == sorted(accounts) and len(set(accounts)) == 3
    assert second["as_of"] == first["as_of"]
    status, (text, headers) = await api.get(f"/v1/audit/captable?symbol={SYMBOL}&limit=2"
                                            "&format=csv")
    assert status == 200
    assert len(csv_rows(text)) == 2 and headers["X-Next-Cursor"] == first["next_cursor"]


async def test_supply_reconciles_at_every_height(api, story):
    ledger, marks = story
    for height in (3, 4, marks["transfers_height"], marks["forced_height"],
                   ledger.executor.height):
        supply = await api.ok(f"/v1/audit/supply?symbol={SYMBOL}&at={height}")
        assert supply["reconciles"] is True, supply
        assert supply["sum_of_balances"] == supply["outstanding"]
    assert supply["cap"] == 100_000 and supply["issued"] == 1500
    assert supply["redeemed"] == 0 and supply["outstanding"] == 1500
    assert supply["holder_count"] == supply["holders_counted"] == 3
    before_cap = await api.ok(f"/v1/audit/supply?symbol={SYMBOL}&at=2")
    assert before_cap["cap"] is None and before_cap["issued"] == 0


async def test_supply_notices_counters_that_do_not_match_the_balances(story):
    from node.rpc.audit import sum_balances

    ledger, _ = story
    from chaincode.runtime import MemoryState

    values = dict(ledger.executor.state.range(f"token/bal/{SYMBOL}/"))
    assert sum_balances(MemoryState(values), SYMBOL) == (1500, 3)
    key = next(iter(values))
    values[key] = codec.pack(dict(codec.unpack(values[key]), balance=1))
    assert sum_balances(MemoryState(values), SYMBOL)[0] != 1500



def _rewrite_state(ledger: Ledger, key: str, change: dict[str, Any]) -> None:
    """Overwrite one record of the latest state in place: a store whose counters disagree."""
    value = dict(codec.unpack(ledger.store.get(s.state_key(key))), **change)
    batch = Batch()
    batch.put(s.state_key(key), codec.pack(value))
    ledger.store.write(batch, sync=False)
    ledger.executor.state.cache.clear()  # as after a restart: the disk is what it says


@pytest.mark.parametrize("corrupt, failing", [
    (lambda led: _rewrite_state(led, f"token/bal/{SYMBOL}/{led.account('carol')}",
                                {"balance": 401}), "sum_of_balances_is_outstanding"),
    (lambda led: _rewrite_state(led, f"token/meta/{SYMBOL}", {"holders": 4}),
     "holders_counter_matches"),
    (lambda led: _rewrite_state(led, f"token/meta/{SYMBOL}", {"redeemed": 1}),
     "outstanding_is_issued_minus_redeemed"),
    (lambda led: _rewrite_state(led, f"token/meta/{SYMBOL}", {"cap": 1000}),
     "issued_and_reserved_in_cap"),
])
async def test_supply_route_says_it_does_not_reconcile_when_the_counters_disagree(
        corrupt, failing):
    ledger, _ = build_story()  # a ledger of its own: this test breaks it
    client = TestClient(TestServer(make_app(StandInNode(ledger))))
    await client.start_server()
    try:
        api = Api(client, ledger)
        path = f"/v1/audit/supply?symbol={SYMBOL}"
        assert (await api.ok(path))["reconciles"] is True
        corrupt(ledger)
        supply = await api.ok(path)
        assert supply["reconciles"] is False, supply
        assert [name for name, ok in supply["checks"].items() if not ok] == [failing]
    finally:
        await client.close()

# ---- history and rejected -------------------------------------------------------------------

async def test_history_of_an_account(api, story):
    ledger, marks = story
    bob = ledger.account("bob")
    history = await api.ok(f"/v1/audit/history?account={bob}")
    rows = history["transactions"]
    by_id = {r["tx_id"]: r for r in rows}
    assert set(by_id) >= {marks["locked"], marks["short"], marks["transfer"],
                          marks["frozen_out"], marks["forced"]}
    refused = by_id[marks["short"]]
    assert refused["ok"] is False and refused["error_code"] == "INSUFFICIENT_BALANCE"
    assert refused["sender"] == bob and refused["contract"] == "token"
    assert refused["method"] == "transfer" and refused["args"]["amount"] == 10_000
    assert refused["height"] == marks["refused_height"]
    assert refused["time"] == ledger.executor.block(refused["height"]).header.time
    forced = by_id[marks["forced"]]
    assert forced["ok"] and forced["args"]["reason"].startswith("Seoul Central")
    assert forced["sender"] == ledger.account("ksd")
    positions = [(r["height"], r["index"]) for r in rows]
    assert positions == sorted(positions)
    window = await api.ok(f"/v1/audit/history?account={bob}&from=5&to=6")
    assert {r["height"] for r in window["transactions"]} == {5, 6}
    assert window["as_of"]["height"] == 6


async def test_history_of_a_symbol_pages_without_gaps(api, story):
    full = await api.ok(f"/v1/audit/history?symbol={SYMBOL}&limit=1000")
    assert full["next_cursor"] is None
    seen, cursor = [], None
    while True:
        path = f"/v1/audit/history?symbol={SYMBOL}&limit=3"
        page = await api.ok(path + (f"&cursor={cursor}" if cursor else ""))
        seen += [r["tx_id"] for r in page["transactions"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [r["tx_id"] for r in full["transactions"]]
    methods = {(r["contract"], r["method"]) for r in full["transactions"]}
    assert {("token", "create"), ("token", "force_transfer"), ("dividend", "pay")} <= methods
    status, (text, _) = await api.get(f"/v1/audit/history?symbol={SYMBOL}&format=csv")
    assert status == 200
    assert status == 200 and len(csv_rows(text)) == len(full["transactions"])
    assert csv_rows(text)[0]["contract"] == "token"


async def test_rejected_by_code_and_range(api, story):
    _, marks = story
    every = await api.ok("/v1/audit/rejected")
    assert every["by_code"] == {"INSUFFICIENT_BALANCE": 2, "LOCKUP_ACTIVE": 1}
    assert [r["tx_id"] for r in every["transactions"]] == [marks["locked"], marks["short"],
                                                           marks["frozen_out"]]
    lockup = await api.ok("/v1/audit/rejected?code=LOCKUP_ACTIVE")
    assert [r["tx_id"] for r in lockup["transactions"]] == [marks["locked"]]
    assert lockup["transactions"][0]["error_code"] == "LOCKUP_ACTIVE"
    later = await api.ok(f"/v1/audit/rejected?from={marks['refused_height'] + 1}")
    assert [r["tx_id"] for r in later["transactions"]] == [marks["frozen_out"]]
    assert later["by_code"] == {"INSUFFICIENT_BALANCE": 1}
    earlier = await api.ok("/v1/audit/rejected?to=4")
    assert earlier["transactions"] == [] and earlier["as_of"]["height"] == 4
    status, (text, _) = await api.get("/v1/audit/rejected?format=csv")
    assert status == 200
    assert [r["error_code"] for r in csv_rows(text)] == ["LOCKUP_ACTIVE",
                                                         "INSUFFICIENT_BALANCE",
                                                         "INSUFFICIENT_BALANCE"]


# ---- dividends, proof, access log ------------------------------------------------------------

async def test_dividends_with_payments_and_withholding(api, story):
    ledger, marks = story
    answer = await api.ok(f"/v1/audit/dividends?symbol={SYMBOL}")
    [declaration] = answer["declarations"]
    assert declaration["record_height"] == marks["declare_height"] - 1
    assert declaration["total"] == 100_000 and declaration["holders"] == 3
    assert declaration["done"] is True and declaration["paid_count"] == 3
    assert [p["paid"] for p in declaration["payments"]] == [0, 2, 1]
    assert sum(p["gross"] for p in declaration["payments"]) == 100_000
    totals = answer["totals"]
    assert totals["declared"] == totals["paid_gross"] == 100_000
    assert totals["paid_withheld"] == totals["paid_income_tax"] + totals["paid_local_tax"] > 0
    assert totals["paid_net"] + totals["paid_withheld"] == 100_000
    assert totals["unpaid_gross"] == 0
    assert sum(p["withheld"] for p in declaration["payments"]) == totals["paid_withheld"]
    # the tax account received exactly the withholding
    tax = await api.ok(f"/v1/audit/holdings?account={ledger.account('tax')}")
    assert tax["cash"] == totals["paid_withheld"]
    status, (text, _) = await api.get(f"/v1/audit/dividends?symbol={SYMBOL}&format=csv")
    assert status == 200
    assert csv_rows(text)[0]["paid_gross"] == "100000"


async def test_dividend_register_is_the_audit_captable_at_the_record_height():
    """Issue #12 item 2. Pre: alice 1000, bob 500, carol 0. Tx: ONE block carrying alice ->
    bob 300, the declaration, then bob -> carol 100; later blocks pay. Post: the register
    equals GET /v1/audit/captable?at=<record_height> holder for holder (the state at the end
    of the block before the declaring one), and differs from the state at the declaration's
    own position (alice 700, bob 800)."""
    led = Ledger()
    a, b, c = led.account("alice"), led.account("bob"), led.account("carol")
    led.commit(register(led, "alice", investor()), register(led, "bob", investor()),
               register(led, "carol", investor()))
    led.commit(led.tx("issuer-1", "token", "create", symbol=SYMBOL, name="Seoul Tower 1",
                      asset_type="real_estate", unit_price=1000, max_supply=1_000_000,
                      rules={}))
    led.commit(led.tx("ksd", "token", "approve", symbol=SYMBOL, cap=100_000))
    led.commit(led.tx("issuer-1", "token", "issue", symbol=SYMBOL, to=a, amount=1000),
               led.tx("issuer-1", "token", "issue", symbol=SYMBOL, to=b, amount=500),
               led.tx("bank", "cash", "mint", to=led.account("issuer-1"), amount=90_000))
    declare = led.tx("issuer-1", "dividend", "declare", symbol=SYMBOL, total=90_000)
    declare_height = led.commit(
        led.tx("alice", "token", "transfer", symbol=SYMBOL, to=b, amount=300), declare,
        led.tx("bob", "token", "transfer", symbol=SYMBOL, to=c, amount=100))
    receipt = led.receipts[declare.tx_id_hex]
    assert receipt.ok, receipt.error
    record_height = receipt.result["record_height"]
    assert record_height == declare_height - 1
    for _ in range(3):
        led.commit(led.tx("issuer-1", "dividend", "pay", dividend_id=1, max_holders=1000))
    fss = led.account("fss")
    register_rows = led.executor.query(fss, "dividend", "payments", {"dividend_id": 1})
    entitled = {row["account"]: row["balance"] for row in register_rows["entitlements"]}
    node = StandInNode(led)
    client = TestClient(TestServer(make_app(node)))
    await client.start_server()
    try:
        api = Api(client, led)
        captable = await api.ok(f"/v1/audit/captable?symbol={SYMBOL}&at={record_height}")
    finally:
        await client.close()
    assert captable["as_of"]["height"] == record_height
    assert entitled == {row["account"]: row["balance"] for row in captable["holders"]}
    assert entitled == {a: 1000, b: 500}
    assert led.executor.query(fss, "dividend", "get", {"dividend_id": 1})["done"]


async def test_proof_verifies_offline(api, story):
    from node.ledger.proof import verify_proof

    ledger, marks = story
    proof = await api.ok(f"/v1/audit/proof?height={marks['forced_height']}")
    assert proof["as_of"]["height"] == marks["forced_height"]
    assert proof["header"]["height"] == marks["forced_height"]
    assert marks["forced"] in proof["tx_ids"]
    ok, reason = verify_proof(ledger.genesis, proof)
    assert ok, reason
    assert f"valid: block {marks['forced_height']}" in reason
    assert "committed by ksd, broker-a, bank" in reason
    latest = await api.ok("/v1/audit/proof")
    assert latest["height"] == ledger.executor.height


async def test_every_audit_read_is_in_the_access_log(api, story):
    ledger, _ = story
    fss = ledger.account("fss")
    await api.ok(f"/v1/audit/supply?symbol={SYMBOL}")
    await api.ok(f"/v1/audit/captable?symbol={SYMBOL}", who="ksd")
    await api.get(f"/v1/audit/holdings?account={fss}", who="alice")  # refused, still logged
    log = await api.ok("/v1/audit/access-log", who="ksd")
    entries = log["entries"]
    assert [(e["role"], e["path"]) for e in entries[-4:]] == [
        ("regulator", f"/v1/audit/supply?symbol={SYMBOL}"),
        ("registrar", f"/v1/audit/captable?symbol={SYMBOL}"),
        ("investor", f"/v1/audit/holdings?account={fss}"),
        ("registrar", "/v1/audit/access-log")]
    assert entries[-4]["account"] == fss and entries[-4]["method"] == "GET"
    assert entries[-1]["height"] == ledger.executor.height
    first = await api.ok("/v1/audit/access-log?limit=2")
    assert [e["seq"] for e in first["entries"]] == [1, 2] and first["next_cursor"]
    rest = await api.ok(f"/v1/audit/access-log?limit=1000&cursor={first['next_cursor']}")
    assert rest["entries"][0]["seq"] == 3 and rest["next_cursor"] is None
    seqs = [e["seq"] for e in first["entries"] + rest["entries"]]
    assert seqs == list(range(1, len(seqs) + 1))
    status, said = await api.get("/v1/audit/access-log?from=0")  # a sequence number
    assert status == 400 and "not an access-log sequence number" in said["error"]["message"]
    status, (text, _) = await api.get("/v1/audit/access-log?from=2&format=csv")
    assert status == 200
    assert csv_rows(text)[0]["seq"] == "2"


async def test_a_query_in_the_access_log_says_what_it_read_and_about_whom(api, story):
    """`POST /v1/query`'s path says nothing: its entry names the query and the account its
    arguments name (walkthrough red team F11: the log could not tell "read kim's identity
    record" from "read the cash supply")."""
    import json

    ledger, _ = story
    alice = ledger.account("alice")
    for args in ({"contract": "identity", "method": "get", "args": {"account": alice}},
                 {"contract": "cash", "method": "supply", "args": {}}, [1, 2]):
        body = json.dumps(args).encode()
        headers = {"Authorization": sign_request(ledger.signers["fss"], ledger.genesis.chain_id,
                                                 "POST", "/v1/query", int(time.time() * 1000),
                                                 body), "Content-Type": "application/json"}
        await api.client.post("/v1/query", data=body, headers=headers)
    log = await api.ok("/v1/audit/access-log?limit=1000", who="ksd")
    assert [(e["path"], e["read"], e["subject"]) for e in log["entries"][-4:-1]] == [
        ("/v1/query", "identity.get", alice), ("/v1/query", "cash.supply", None),
        ("/v1/query", None, None)]  # a bad body is written too, reading nothing


# ---- access and bad parameters ---------------------------------------------------------------

ROUTES = [f"/v1/audit/holdings?account={'ab' * 32}", f"/v1/audit/captable?symbol={SYMBOL}",
          f"/v1/audit/history?symbol={SYMBOL}", "/v1/audit/rejected",
          f"/v1/audit/supply?symbol={SYMBOL}", f"/v1/audit/dividends?symbol={SYMBOL}",
          "/v1/audit/proof?height=1", "/v1/audit/access-log"]
REGISTRAR_ROUTES = {"captable", "supply", "access-log"}


def _route_name(path: str) -> str:
    return path.split("?")[0].rsplit("/", 1)[1]


async def test_who_may_read_what(api, story):
    for path in ROUTES:
        assert (await api.get(path, "fss"))[0] == 200, path
        status = (await api.get(path, "ksd"))[0]
        assert status == (200 if _route_name(path) in REGISTRAR_ROUTES else 403), path
        for who in ("alice", "issuer-1", "broker-a", "bank", "eve"):
            assert await api.code(path, who) == (403, "forbidden"), (path, who)
        operator = api.ledger.network.node_signers["ksd"]
        status, value = await api.get(path, signer=operator)
        assert (status, value["error"]["code"]) == (403, "forbidden"), path
        assert await api.code(path, None) == (401, "unauthorized"), path


async def test_bad_signature_is_401(api, story):
    ledger, _ = story
    path = "/v1/audit/rejected"
    header = sign_request(ledger.signers["fss"], ledger.genesis.chain_id, "GET",
                          "/v1/audit/rejected?to=1", int(time.time() * 1000))
    response = await api.client.get(path, headers={"Authorization": header})
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("path, words", [
    ("/v1/audit/holdings", "account is required"),
    ("/v1/audit/holdings?account=ABCD", "64 lowercase hex"),
    (f"/v1/audit/holdings?account={'AB' * 32}", "64 lowercase hex"),
    (f"/v1/audit/holdings?account={'ab' * 32}&at=9999", "above the chain height"),
    (f"/v1/audit/holdings?account={'ab' * 32}&at=-1", "non-negative integer"),
    ("/v1/audit/captable?symbol=NOPE", "unknown symbol"),
    (f"/v1/audit/captable?symbol={SYMBOL}&at=1", "unknown symbol"),  # not created yet
    ("/v1/audit/captable?symbol=bad/sym", "not a token symbol"),
    (f"/v1/audit/captable?symbol={SYMBOL}&cursor=garbage!", "not a cursor"),
    (f"/v1/audit/captable?symbol={SYMBOL}&limit=0", "limit"),
    (f"/v1/audit/captable?symbol={SYMBOL}&limit=1001", "limit"),
    ("/v1/audit/history", "exactly one of account or symbol"),
    (f"/v1/audit/history?symbol={SYMBOL}&account={'ab' * 32}", "exactly one"),
    (f"/v1/audit/history?symbol={SYMBOL}&from=6&to=5", "after"),
    (f"/v1/audit/history?symbol={SYMBOL}&to=9999", "above the chain height"),
    ("/v1/audit/rejected?code=A;B", "error code"),
    (f"/v1/audit/supply?symbol={SYMBOL}&format=csv", "not a table"),
    (f"/v1/audit/supply?symbol={SYMBOL}&format=xml", "json or csv"),
    ("/v1/audit/proof?height=0", "genesis"),
    ("/v1/audit/proof?height=9999", "above the chain height"),
    ("/v1/audit/access-log?from=x", "integer"),
])
async def test_bad_parameters_are_400(api, path, words):
    status, value = await api.get(path)
    assert status == 400, value
    assert value["error"]["code"] == "bad_request"
    assert words in value["error"]["message"], value["error"]["message"]


async def test_a_cursor_only_works_for_its_own_route_and_parameters(api, story):
    ledger, _ = story
    page = await api.ok(f"/v1/audit/captable?symbol={SYMBOL}&limit=1")
    cursor = page["next_cursor"]
    for path in (f"/v1/audit/history?symbol={SYMBOL}&cursor={cursor}",
                 f"/v1/audit/captable?symbol={SYMBOL}&at=4&cursor={cursor}"):
        status, value = await api.get(path)
        assert status == 400 and value["error"]["code"] == "bad_request", path
    history = await api.ok(f"/v1/audit/history?symbol={SYMBOL}&limit=1")
    status, value = await api.get(
        f"/v1/audit/history?account={ledger.account('bob')}&cursor={history['next_cursor']}")
    assert status == 400 and "other parameters" in value["error"]["message"]


async def test_msgpack_answers_carry_the_same_structure(api, story):
    import msgpack

    ledger, _ = story
    path = f"/v1/audit/supply?symbol={SYMBOL}"
    header = sign_request(ledger.signers["fss"], ledger.genesis.chain_id, "GET", path,
                          int(time.time() * 1000))
    response = await api.client.get(path, headers={"Authorization": header,
                                                   "Accept": "application/msgpack"})
    value = msgpack.unpackb(await response.read(), raw=False)
    assert value["reconciles"] is True and value["as_of"]["height"] == ledger.executor.height


def test_openapi_lists_the_audit_routes_with_their_parameters():
    from node.rpc.openapi import ROUTES as DOCUMENTED

    app = make_app(StandInNode.__new__(StandInNode))
    registered = {r.resource.canonical for r in app.router.routes()
                  if r.resource is not None and r.resource.canonical.startswith("/v1/audit/")}
    documented = {path for _, path, *_ in DOCUMENTED if path.startswith("/v1/audit/")}
    assert registered == documented


# ---- the CLI against the same routes -------------------------------------------------------

async def test_cli_audit_commands(api, story, tmp_path, capsys):
    import asyncio
    import json

    from node.cli import main

    ledger, marks = story
    keys = tmp_path / "keys"
    keys.mkdir()
    for org in ("fss", "alice"):
        (keys / f"{org}.json").write_text(json.dumps({
            "account": ledger.signers[org].account,
            "secret": ledger.signers[org].seed.hex()}))
    url = str(api.client.make_url("/"))

    async def run(*argv: str) -> tuple[int, str]:
        common = ["--dir", str(tmp_path), "--node", url]
        try:
            await asyncio.to_thread(main, [argv[0], argv[1], *common, *argv[2:]])
            code = 0
        except SystemExit as stop:
            code = 0 if stop.code is None else (1 if isinstance(stop.code, str) else stop.code)
            if isinstance(stop.code, str):
                print(stop.code)
        return code, capsys.readouterr().out

    code, out = await run("audit", "captable", "--symbol", SYMBOL,
                          "--at", str(marks["refused_height"]))
    assert code == 0 and "2 holders, 1500 outstanding" in out
    # alice by her key's label in DIR/keys (her record has no name), bob by 12 hex
    bob = ledger.account("bob")
    assert "\nalice " in out and f"\n{bob[:12]}… " in out and "share_bps" in out
    assert ledger.account("alice") not in out
    code, out = await run("audit", "captable", "--symbol", SYMBOL, "--hex")
    assert ledger.account("alice") in out and bob in out
    code, out = await run("audit", "rejected", "--code", "LOCKUP_ACTIVE")
    assert code == 0 and "token.transfer" in out and "LOCKUP_ACTIVE" in out
    assert "1 transaction," in out and " KST " in out  # singular; times in KST
    code, out = await run("audit", "history", "--account", str(keys / "alice.json"))
    assert code == 0 and "token.issue" in out  # --account takes a key file
    code, out = await run("audit", "history", "--account", "alice", "--hex")
    assert code == 0 and ledger.account("issuer-1") in out  # or a key's name in DIR/keys
    code, out = await run("audit", "supply", "--symbol", SYMBOL, "--json")
    assert code == 0 and json.loads(out)["reconciles"] is True
    code, out = await run("audit", "history", "--symbol", SYMBOL, "--csv")
    assert code == 0 and out.startswith("height,index,time,tx_id")
    code, out = await run("audit", "history", "--symbol", SYMBOL, "--limit", "2", "--all")
    assert code == 0 and marks["forced"][:16] in out
    proof_path = tmp_path / "proof.json"
    code, out = await run("audit", "proof", "--height", str(marks["forced_height"]),
                          "--out", str(proof_path))
    assert code == 0 and "commit votes: ksd, broker-a, bank" in out
    assert f"wrote {proof_path}" in out and f"--proof {proof_path}" in out
    from genesis.schema import genesis_json

    (tmp_path / "genesis.json").write_text(genesis_json(ledger.genesis.document))
    with pytest.raises(SystemExit) as caught:
        main(["audit", "verify", "--genesis", str(tmp_path / "genesis.json"),
              "--proof", str(proof_path)])
    assert caught.value.code == 0
    assert "committed by ksd, broker-a, bank" in capsys.readouterr().out
    for route in ("dividends", "access-log"):
        extra = ["--symbol", SYMBOL] if route == "dividends" else []
        code, out = await run("audit", route, *extra)
        assert code == 0 and out.strip(), route
    code, out = await run("audit", "holdings", "--account", ledger.account("bob"), "--key",
                          "alice")
    assert code == 1 and "403 forbidden" in out


async def test_a_chain_without_blocks_answers_empty_lists():
    ledger = Ledger()
    node = StandInNode(ledger)
    client = TestClient(TestServer(make_app(node)))
    await client.start_server()
    try:
        api = Api(client, ledger)
        for path in ("/v1/audit/rejected", f"/v1/audit/history?account={'ab' * 32}"):
            value = await api.ok(path)
            assert value["transactions"] == [] and value["as_of"] == {"height": 0,
                                                                     "block_hash": "00" * 32}
        holdings = await api.ok(f"/v1/audit/holdings?account={ledger.account('alice')}")
        assert holdings["holdings"] == [{"kind": "cash", "asset": "KRW", "balance": 0,
                                         "frozen": 0, "locked": 0}]
        assert holdings["identity"] is None
    finally:
        await client.close()


async def test_dividends_after_a_release_lists_it_with_the_payments():
    """A held net released by the registrar (the demo's act 6) is a payment of its own.
    Pre: alice 1000 and bob 500 (300 of them frozen), a 90,000 KRW dividend declared.
    Tx: pay until done (bob's net is held: his units are frozen), then ksd releases it.
    Post: /v1/audit/dividends answers 200 with the pay steps and the release, in order (it
    answered 500 before: the release's result was taken for a pay step's)."""
    led = Ledger()
    a, b = led.account("alice"), led.account("bob")
    led.commit(register(led, "alice", investor()), register(led, "bob", investor()))
    led.commit(led.tx("issuer-1", "token", "create", symbol=SYMBOL, name="Seoul Tower 1",
                      asset_type="real_estate", unit_price=1000, max_supply=1_000_000,
                      rules={}))
    led.commit(led.tx("ksd", "token", "approve", symbol=SYMBOL, cap=100_000))
    led.commit(led.tx("issuer-1", "token", "issue", symbol=SYMBOL, to=a, amount=1000),
               led.tx("issuer-1", "token", "issue", symbol=SYMBOL, to=b, amount=500),
               led.tx("bank", "cash", "mint", to=led.account("issuer-1"), amount=90_000))
    led.commit(led.tx("ksd", "token", "freeze", symbol=SYMBOL, account=b, amount=300))
    led.commit(led.tx("issuer-1", "dividend", "declare", symbol=SYMBOL, total=90_000))
    for _ in range(3):
        led.commit(led.tx("issuer-1", "dividend", "pay", dividend_id=1, max_holders=1000))
    release = led.tx("ksd", "dividend", "release", dividend_id=1, account=b)
    led.commit(release)
    assert led.receipts[release.tx_id_hex].ok, led.receipts[release.tx_id_hex].error
    client = TestClient(TestServer(make_app(StandInNode(led))))
    await client.start_server()
    try:
        answer = await Api(client, led).ok(f"/v1/audit/dividends?symbol={SYMBOL}")
    finally:
        await client.close()
    [declaration] = answer["declarations"]
    payments = declaration["payments"]
    assert [p["method"] for p in payments] == ["pay"] * (len(payments) - 1) + ["release"]
    assert payments[-1]["tx_id"] == release.tx_id_hex
    assert payments[-1]["account"] == payments[-1]["paid_to"] == b
    entitlement = led.executor.query(led.account("fss"), "dividend", "entitlement",
                                     {"dividend_id": 1, "account": b})
    assert payments[-1]["net"] == entitlement["net"] > 0
    assert sum(p["gross"] for p in payments[:-1]) == 90_000
