"""`/v1/audit/holds` over a real ledger, in process, with the stand-in node of
tests/node/test_audit.py. The story, one block each:

    1  broker-a registers alice and bob (general)
    2  ksd holds alice's trading on alert A; broker-a holds bob's withdrawals (no alert)
    3  ksd holds bob's trading on alert A
    4  broker-a releases its hold on bob
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from node.rpc.server import make_app
from tests.node.test_audit import Api, Ledger, StandInNode, csv_rows, investor, register

ALERT = "a1" * 32


def build_holds_story() -> tuple[Ledger, dict[str, int]]:
    led = Ledger()
    heights: dict[str, int] = {}
    a, b = led.account("alice"), led.account("bob")
    led.commit(register(led, "alice", investor()), register(led, "bob", investor()))
    heights["held"] = led.commit(
        led.tx("ksd", "fds", "hold", account=a, scope="trading", reason=f"alert {ALERT}",
               alert_id=ALERT),
        led.tx("broker-a", "fds", "hold", account=b, scope="withdrawals", reason="call"))
    heights["second"] = led.commit(led.tx("ksd", "fds", "hold", account=b, scope="trading",
                                          reason=f"alert {ALERT}", alert_id=ALERT))
    heights["released"] = led.commit(led.tx("broker-a", "fds", "release", hold_id=2,
                                            reason="the client called back"))
    for receipt in led.receipts.values():
        assert receipt.ok, receipt.error
    return led, heights


@pytest.fixture(scope="module")
def holds_story() -> tuple[Ledger, dict[str, int]]:
    return build_holds_story()


@pytest.fixture
async def api(holds_story: tuple[Ledger, dict[str, int]]) -> Any:
    ledger, _ = holds_story
    client = TestClient(TestServer(make_app(StandInNode(ledger))))
    await client.start_server()
    try:
        yield Api(client, ledger)
    finally:
        await client.close()


async def test_every_hold_with_who_when_why_and_on_which_alert(api: Api, holds_story: Any
                                                               ) -> None:
    ledger, heights = holds_story
    value = await api.ok("/v1/audit/holds")
    assert value["as_of"]["height"] == ledger.executor.height
    rows = {row["hold_id"]: row for row in value["holds"]}
    alice, bob = ledger.account("alice"), ledger.account("bob")
    assert {hold_id: (row["account"], row["scope"], row["alert_id"], row["by"], row["status"])
            for hold_id, row in rows.items()} == {
        1: (alice, "trading", ALERT, ledger.account("ksd"), "active"),
        2: (bob, "withdrawals", None, ledger.account("broker-a"), "released"),
        3: (bob, "trading", ALERT, ledger.account("ksd"), "active")}
    assert rows[2]["released_by"] == ledger.account("broker-a")
    assert rows[2]["released_reason"] == "the client called back"
    assert rows[2]["released_height"] == heights["released"]
    assert rows[1]["height"] == heights["held"] and rows[1]["reason"] == f"alert {ALERT}"


async def test_by_account_by_alert_and_as_of_a_height(api: Api, holds_story: Any) -> None:
    ledger, heights = holds_story
    bob = ledger.account("bob")
    by_bob = await api.ok(f"/v1/audit/holds?account={bob}")
    assert [row["hold_id"] for row in by_bob["holds"]] == [2, 3]
    by_alert = await api.ok(f"/v1/audit/holds?alert={ALERT}")
    assert [row["hold_id"] for row in by_alert["holds"]] == [1, 3]
    both = await api.ok(f"/v1/audit/holds?alert={ALERT}&account={bob}")
    assert [row["hold_id"] for row in both["holds"]] == [3]
    then = await api.ok(f"/v1/audit/holds?at={heights['second']}")
    assert [(row["hold_id"], row["status"]) for row in then["holds"]] == [
        (1, "active"), (2, "active"), (3, "active")]
    assert (await api.ok(f"/v1/audit/holds?at={heights['held'] - 1}"))["holds"] == []
    assert (await api.ok(f"/v1/audit/holds?alert={'ff' * 32}"))["holds"] == []


async def test_pages_csv_and_bad_parameters(api: Api, holds_story: Any) -> None:
    ledger, heights = holds_story
    first = await api.ok(f"/v1/audit/holds?limit=2&at={heights['second']}")
    assert [row["hold_id"] for row in first["holds"]] == [1, 2]
    second = await api.ok(f"/v1/audit/holds?limit=2&cursor={first['next_cursor']}")
    assert [row["hold_id"] for row in second["holds"]] == [3]
    assert second["as_of"]["height"] == heights["second"] and second["next_cursor"] is None
    status, (text, headers) = await api.get("/v1/audit/holds?format=csv")
    assert status == 200 and headers["X-As-Of-Height"] == str(ledger.executor.height)
    assert [(row["hold_id"], row["status"]) for row in csv_rows(text)] == [
        ("1", "active"), ("2", "released"), ("3", "active")]
    assert await api.code("/v1/audit/holds?alert=xyz") == (400, "bad_request")
    assert await api.code("/v1/audit/holds?account=nope") == (400, "bad_request")
    status, value = await api.get(f"/v1/audit/holds?account={ledger.account('bob')}&cursor="
                                  f"{first['next_cursor']}")
    assert status == 400 and "other parameters" in value["error"]["message"]


async def test_regulator_and_registrar_only(api: Api) -> None:
    for who in ("fss", "ksd"):
        assert (await api.get("/v1/audit/holds", who))[0] == 200, who
    for who in ("alice", "broker-a", "issuer-1", "bank", "eve"):
        assert await api.code("/v1/audit/holds", who) == (403, "forbidden"), who
    assert await api.code("/v1/audit/holds", None) == (401, "unauthorized")
