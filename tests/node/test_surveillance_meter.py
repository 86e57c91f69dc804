"""What surveillance costs a node (issue 16): the indexer's meter counts its CPU time and the
blocks, orders and trades it read, `/metrics` shows them (the market bench reads them there),
and the metering changes nothing the chain or the alerts hold. Never asserts on a timing
figure beyond "some CPU was spent"."""

from __future__ import annotations

import types

from node.metrics import Metrics
from node.storage import MemoryKV
from tests.node.surveillance_desk import Desk


def samples(metrics: Metrics) -> dict[str, float]:
    node = types.SimpleNamespace(
        status=lambda: {"height": 0, "view": 0, "stable_checkpoint": 0, "mempool_size": 0,
                        "peers": []},
        p2p=types.SimpleNamespace(stats={}))
    found = {}
    for line in metrics.render(node).splitlines():
        if line.startswith("stoledger_surveillance_"):
            name, value = line.split(" ")
            found[name.removeprefix("stoledger_surveillance_")] = float(value)
    return found


def test_the_meter_counts_the_orders_and_trades_of_committed_blocks():
    desk = Desk()
    meter = desk.world.surveillance.meter
    metrics = Metrics(meter)
    before = samples(metrics)
    assert set(before) == {"cpu_seconds_total", "blocks_total", "orders_total",
                           "trades_total"}
    for _ in range(3):
        desk.place("k", "sell", 10_000, 10)
        desk.place("l", "buy", 10_000, 10)
        desk.place("a", "buy", 9_000, 1)  # rests: an order without a trade
        desk.step(60_000)
    after = samples(metrics)
    assert after["blocks_total"] - before["blocks_total"] == 3
    assert after["orders_total"] - before["orders_total"] == 9
    assert after["trades_total"] - before["trades_total"] == 3
    assert after["cpu_seconds_total"] > before["cpu_seconds_total"]
    assert after["cpu_seconds_total"] == round(meter.cpu_ns / 1e9, 9)


def test_metrics_without_surveillance_show_no_surveillance_lines():
    assert samples(Metrics()) == {}


def test_metering_leaves_the_store_and_the_alerts_alone():
    """Two desks fed the same blocks hold the same bytes, though their meters differ (CPU time
    is never the same twice)."""
    stores = []
    for _ in range(2):
        desk = Desk()
        for _ in range(2):
            desk.place("a", "sell", 10_000, 50, where="home")
            desk.place("b", "buy", 10_000, 50, where="home")
            desk.step()
        assert desk.alerts("S1")
        store = desk.world.store
        assert isinstance(store, MemoryKV)
        stores.append(dict(store.iterate(b"")))
    assert stores[0] == stores[1]
