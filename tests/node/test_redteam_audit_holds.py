"""Red-team finding F3 (docs/redteam-fds.md) over a real ledger and the real route: a broker's
hold whose alert id carries a "/" must not show up among another alert's holds in
`/v1/audit/holds?alert=`, where an examiner reconciles holds against alerts."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from node.rpc.server import make_app
from tests.node.test_audit import Api, Ledger, StandInNode, investor, register

ALERT = "a1" * 32


async def test_an_alert_lists_only_the_holds_placed_on_it() -> None:
    led = Ledger()
    alice, bob = led.account("alice"), led.account("bob")
    led.commit(register(led, "alice", investor()), register(led, "bob", investor()))
    led.commit(led.tx("ksd", "fds", "hold", account=alice, scope="trading",
                      reason=f"alert {ALERT}", alert_id=ALERT))
    # broker-a plants a hold on its own client under the registrar's alert
    led.commit(led.tx("broker-a", "fds", "hold", account=bob, scope="withdrawals",
                      reason="planted", alert_id=f"{ALERT}/000000000001"))
    client = TestClient(TestServer(make_app(StandInNode(led))))
    await client.start_server()
    try:
        api = Api(client, led)
        listed = await api.ok(f"/v1/audit/holds?alert={ALERT}")
        assert [(row["account"], row["alert_id"]) for row in listed["holds"]] == [
            (alice, ALERT)]
        seen: list[Any] = []  # page by page: each hold once, in id order
        page = await api.ok(f"/v1/audit/holds?alert={ALERT}&limit=1")
        while True:
            seen += [row["hold_id"] for row in page["holds"]]
            if page["next_cursor"] is None or len(seen) > 5:
                break
            page = await api.ok(f"/v1/audit/holds?limit=1&cursor={page['next_cursor']}")
        assert seen == [1]
    finally:
        await client.close()
