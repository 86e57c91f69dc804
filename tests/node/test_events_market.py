"""Who sees which market events on `GET /v1/events` (node.rpc.events.visible), over the real
blocks of the market story of tests/node/test_audit_market.py, published to an EventHub as
they apply: alice and bob (broker-a) sell, carol (broker-b) buys from both, broker-a cancels
bob's rest, bob's own buy is cancelled SELF_TRADE by his sell."""

from __future__ import annotations

import json
from typing import Any

import pytest

from node.admission.tx import to_json
from node.ledger.audit import accounts_named
from node.rpc.events import EventHub, Subscriber
from tests.node.test_audit import Api, Ledger, StandInNode
from tests.node.test_audit_market import ORIGIN, build_market_story

WATCHERS = ("fss", "ksd", "alice", "bob", "carol", "broker-a", "broker-b", "tax", "eve")


class PublishingLedger(Ledger):
    """The story's ledger, each applied block published to an EventHub with subscribers."""

    def __init__(self) -> None:
        super().__init__()
        self.hub = EventHub(broker_of=lambda a: (self.executor.identity(a) or {}).get("broker"))
        self.subs = {name: self.hub.subscribe(self.account(name), _role(name))
                     for name in WATCHERS}
        self.subs["origin"] = self.hub.subscribe(ORIGIN["alice"], None)
        apply = self.executor.apply

        def apply_and_publish(block: Any, certificate: Any) -> Any:
            applied = apply(block, certificate)
            self.hub.publish(applied)
            return applied

        self.executor.apply = apply_and_publish  # type: ignore[method-assign]


@pytest.fixture(scope="module")
def seen() -> tuple[Any, dict[str, list[dict[str, Any]]]]:
    """Every contract event each watcher (and one key equal to alice's origin) received."""
    ledger, _ = build_market_story(PublishingLedger())
    assert isinstance(ledger, PublishingLedger)
    received: dict[str, list[dict[str, Any]]] = {}
    for name, sub in ledger.subs.items():
        items = []
        while not sub.queue.empty():
            item = sub.queue.get_nowait()
            if item is not None and item["event"] == "contract":
                items.append(to_json(item["data"]))
        received[name] = items
    return ledger, received


def _role(name: str) -> str | None:
    roles = {"fss": "regulator", "ksd": "registrar", "broker-a": "broker", "broker-b": "broker",
             "tax": "tax", "alice": "investor", "bob": "investor", "carol": "investor"}
    return roles.get(name)


def named(events: list[dict[str, Any]], contract: str, name: str) -> list[dict[str, Any]]:
    return [e for e in events if e["contract"] == contract and e["name"] == name]


def test_regulator_and_registrar_see_trades_with_accounts(seen):
    ledger, received = seen
    for who in ("fss", "ksd"):
        trades = named(received[who], "market", "Trade")
        assert [(t["data"]["buyer"], t["data"]["seller"]) for t in trades] == [
            (ledger.account("carol"), ledger.account("alice")),
            (ledger.account("carol"), ledger.account("bob"))]


def test_everyone_registered_sees_trades_without_accounts(seen):
    _, received = seen
    for who in ("alice", "bob", "carol", "broker-a", "broker-b", "tax"):
        trades = named(received[who], "market", "Trade")
        assert [(t["data"]["trade_id"], t["data"]["price"], t["data"]["qty"]) for t in trades] \
            == [(1, 1000, 100), (2, 1010, 20)], who
        for trade in trades:
            assert "buyer" not in trade["data"] and "seller" not in trade["data"], who
    assert named(received["eve"], "market", "Trade") == []  # not registered


def test_an_investor_sees_its_own_orders_only(seen):
    _, received = seen
    placed = {who: [e["data"]["order_id"] for e in named(received[who], "market",
                                                         "OrderPlaced")]
              for who in ("alice", "bob", "carol")}
    assert placed == {"alice": [1], "bob": [2, 4, 5], "carol": [3]}
    cancelled = [(e["data"]["order_id"], e["data"]["code"])
                 for e in named(received["bob"], "market", "OrderCancelled")]
    assert cancelled == [(2, "CANCELLED"), (4, "SELF_TRADE")]
    assert named(received["alice"], "market", "OrderCancelled") == []


def test_a_broker_sees_its_clients_orders_and_not_the_others(seen):
    _, received = seen
    for broker, orders, cancels in (("broker-a", [1, 2, 4, 5], [2, 4]),
                                    ("broker-b", [3], [])):
        events = received[broker]
        assert [e["data"]["order_id"] for e in named(events, "market", "OrderPlaced")] == orders
        assert [e["data"]["order_id"]
                for e in named(events, "market", "OrderCancelled")] == cancels


def test_a_party_never_learns_its_counterparty(seen):
    ledger, received = seen
    for who, others in (("alice", ("carol", "bob")), ("carol", ("alice", "bob")),
                        ("bob", ("alice", "carol"))):
        text = json.dumps(received[who])
        for other in others:
            assert ledger.account(other) not in text, (who, other)
    legs = named(received["alice"], "token", "Transfer")
    assert [(e["data"]["from"], e["data"]["to"], e["data"]["amount"]) for e in legs] == [
        (ledger.account("alice"), None, 100)]
    paid = named(received["alice"], "cash", "CashTransfer")
    assert [(e["data"]["from"], e["data"]["to"], e["data"]["amount"]) for e in paid] == [
        (None, ledger.account("alice"), 100_000)]


def test_an_origin_is_never_an_account(seen):
    _, received = seen
    assert received["origin"] == []  # a key equal to alice's origin hears nothing of hers
    found: set[str] = set()
    accounts_named({"origin": ORIGIN["alice"], "account": "ab" * 32,
                    "nested": [{"sell_origin": ORIGIN["bob"]}]}, found)
    assert found == {"ab" * 32}


async def test_an_origin_has_no_audit_history(seen):
    from aiohttp.test_utils import TestClient, TestServer

    from node.rpc.server import make_app

    ledger, _ = seen
    client = TestClient(TestServer(make_app(StandInNode(ledger))))
    await client.start_server()
    try:
        api = Api(client, ledger)
        value = await api.ok(f"/v1/audit/history?account={ORIGIN['alice']}")
        assert value["transactions"] == []
        alice = await api.ok(f"/v1/audit/history?account={ledger.account('alice')}")
        assert any(row["method"] == "place" for row in alice["transactions"])
    finally:
        await client.close()


def test_unregistered_and_none_roles_see_nothing_market_wide():
    sub = Subscriber("ab" * 32, None, None)  # type: ignore[arg-type]
    from node.rpc.events import visible

    trade = {"contract": "market", "name": "Trade", "data": {"trade_id": 1, "buyer": "cd" * 32,
                                                             "seller": "ef" * 32}}
    assert visible(sub, trade) is None
    halted = {"contract": "market", "name": "MarketHalted", "data": {"symbol": "S"}}
    assert visible(Subscriber("ab" * 32, "issuer", None), halted) == halted  # type: ignore
