"""Every audit route, read on the demo's finished chain (its dividend paid and a held net
released, its trades, orders and alert): each answers 200 with the shape the reference gives,
as JSON and, where it is a table, as CSV; the registrar reads what it may, a broker nothing.

The routes come from the node's own OpenAPI document, so a route added tomorrow is read too:
its required parameters are filled from SAMPLES by name, and it must answer 200 with `as_of`.
(`/v1/audit/dividends` answered 500 here before: the release was taken for a pay step.)
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from node.tools.client import ApiError
from node.tools.demo import SYMBOL, story
from tests.e2e.conftest import start_cluster

pytestmark = pytest.mark.slow

HEX_64 = re.compile("[0-9a-f]{64}")
# The keys of each answer and of its rows (docs/reference.md, "Audit answers").
SHAPES: dict[str, tuple[set[str], str | None, set[str]]] = {
    "holdings": ({"account", "holdings"}, "holdings",
                 {"kind", "asset", "balance", "frozen", "locked"}),
    "captable": ({"symbol", "holder_count", "outstanding", "holders"}, "holders",
                 {"account", "balance", "frozen", "locked", "share_bps"}),
    "history": ({"from", "to", "transactions", "next_cursor"}, "transactions",
                {"height", "index", "time", "tx_id", "sender", "contract", "method", "args",
                 "ok", "error_code"}),
    "rejected": ({"from", "to", "by_code", "transactions"}, "transactions",
                 {"height", "time", "tx_id", "sender", "contract", "method", "ok",
                  "error_code"}),
    "supply": ({"symbol", "cap", "issued", "redeemed", "outstanding", "sum_of_balances",
                "reconciles", "checks"}, None, set()),
    "dividends": ({"symbol", "declarations", "totals"}, "declarations",
                  {"dividend_id", "record_height", "total", "holders", "paid_gross",
                   "withheld", "payments"}),
    "proof": ({"header", "header_bytes", "block_hash", "certificate"}, None, set()),
    "access-log": ({"entries", "next_cursor"}, "entries",
                   {"seq", "account", "role", "method", "path", "time", "height"}),
    "orders": ({"orders", "next_cursor"}, "orders",
               {"order_id", "account", "broker", "media", "origin", "status", "code"}),
    "trades": ({"trades", "next_cursor"}, "trades",
               {"trade_id", "price", "qty", "buyer", "seller", "buy_broker", "buy_media",
                "buy_origin", "sell_broker", "sell_media", "sell_origin"}),
    "alerts": ({"alerts", "next_cursor"}, "alerts",
               {"alert_id", "rule", "severity", "symbol", "accounts", "window", "heights",
                "metrics", "evidence", "explanation"}),
    "holds": ({"holds", "next_cursor"}, "holds",
              {"hold_id", "account", "scope", "reason", "alert_id", "by", "height", "time",
               "status", "released_by", "released_reason", "released_height"}),
    # the demo's offering is of BUSAN1, not SYMBOL: here the shape, with no rows to check
    "offerings": ({"symbol", "offerings", "subscriptions", "next_cursor"}, None, set()),
    "accounts": ({"name", "accounts", "complete"}, "accounts",
                 {"account", "role", "org", "broker", "status"}),
}
REGISTRAR_READS = {"captable", "supply", "access-log", "orders", "trades", "alerts", "holds",
                   "offerings", "accounts"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Any:
    net = start_cluster(tmp_path_factory.mktemp("audit-routes") / "net", 4)
    try:
        yield net, story(net.dir)
    finally:
        net.down()


def audit_routes(client: Any) -> dict[str, list[dict[str, Any]]]:
    """route name -> its query parameters, for every GET /v1/audit/... of the document."""
    document = client.get("/v1/openapi.json")
    return {path.removeprefix("/v1/audit/"): operations["get"].get("parameters", [])
            for path, operations in document["paths"].items()
            if path.startswith("/v1/audit/") and "get" in operations}


def paths_of(route: str, parameters: list[dict[str, Any]], samples: dict[str, str],
             extra: str = "") -> list[str]:
    """The route with its required parameters; then, for a route that wants one of several
    optional ones ("give exactly one of account or symbol", which a schema cannot say), with
    each optional parameter that has a sample."""
    wanted = [p["name"] for p in parameters if p.get("required")]
    unknown = [name for name in wanted if name not in samples]
    assert not unknown, f"/v1/audit/{route} needs {unknown}: give a sample value"
    optional = [[p["name"]] for p in parameters
                if not p.get("required") and p["name"] in samples]
    paths = []
    for names in [[], *optional]:
        query = "&".join(f"{name}={samples[name]}" for name in wanted + names)
        query = "&".join(q for q in (query, extra) if q)
        paths.append(f"/v1/audit/{route}" + (f"?{query}" if query else ""))
    return paths


def read(client: Any, route: str, parameters: list[dict[str, Any]], samples: dict[str, str]
         ) -> tuple[str, Any]:
    """(path, answer) of the first of paths_of that the route does not refuse 400."""
    refusals = []
    for path in paths_of(route, parameters, samples):
        try:
            return path, client.get(path, signed=True)  # any other error fails the test
        except ApiError as error:
            if error.status != 400:
                raise
            refusals.append(f"{path}: {error}")
    raise AssertionError(f"/v1/audit/{route} refused every way of asking: {refusals}")


def test_every_audit_route_answers_on_the_finished_demo_chain(demo, capsys) -> None:
    net, s = demo
    capsys.readouterr()
    fss, ksd, broker = net.client("fss"), net.client("ksd"), net.client("broker-a")
    samples = {"account": s.account("lee"), "symbol": SYMBOL, "name": "lee"}
    routes = audit_routes(fss)
    assert set(SHAPES) <= set(routes)
    height = fss.status()["height"]
    for route, parameters in routes.items():
        path, answer = read(fss, route, parameters, samples)
        assert isinstance(answer, dict), route
        as_of = answer["as_of"]
        assert as_of["height"] <= height and HEX_64.fullmatch(as_of["block_hash"]), route
        keys, rows_key, row_keys = SHAPES.get(route, (set(), None, set()))
        assert keys <= set(answer), (route, keys - set(answer))
        if rows_key is not None:
            assert answer[rows_key], f"{route}: no rows on the demo's chain"
            for row in answer[rows_key]:
                assert row_keys <= set(row), (route, row_keys - set(row))
        if any(p["name"] == "format" for p in parameters):
            csv = path + ("&" if "?" in path else "?") + "format=csv"
            status, text = fss.request("GET", csv, signed=True)
            assert status == 200 and isinstance(text, str) and text.count("\n") >= 1, route
        for reader, allowed in ((ksd, route in REGISTRAR_READS), (broker, False)):
            try:
                reader.get(path, signed=True)
            except ApiError as error:
                assert not allowed and error.status == 403, (route, error)
            else:
                assert allowed, f"{route}: read by a key PROTOCOL does not allow"


def test_the_dividend_answer_lists_the_release_after_the_pay_steps(demo) -> None:
    net, s = demo
    answer = net.client("fss").get(f"/v1/audit/dividends?symbol={SYMBOL}", signed=True)
    [declaration] = answer["declarations"]
    methods = [p["method"] for p in declaration["payments"]]
    assert methods[-1] == "release" and set(methods[:-1]) == {"pay"}
    release = declaration["payments"][-1]
    assert release["account"] == s.account("hanbit") and release["net"] > 0
    assert sum(p["gross"] for p in declaration["payments"][:-1]) == declaration["total"]


def test_the_demo_names_each_investor_as_its_identity_record_does(demo) -> None:
    """The demo's tables and the audit's agree on every holder's name: each investor the demo
    registers carries its name in its identity record (act 9's jung once did not: walkthrough
    red team F12)."""
    from node.cli.show import identity_name

    net, s = demo
    fss = net.client("fss")
    for name, signer in s.investors.items():
        record = fss.query("identity", "get", {"account": signer.account})
        assert identity_name(record) == name, (name, record)
    assert "jung" in s.investors
