"""The benchmark's pieces: percentile math, batch encoding, the receipt check, CPU reading,
and one short real run on a 1-node cluster (never asserting on a timing figure)."""

import os
import types

import msgpack
import pytest

from node import bench
from node.bench import load, measure


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))  # 1..100
    assert measure.percentile(values, 50) == 50
    assert measure.percentile(values, 95) == 95
    assert measure.percentile(values, 99) == 99
    assert measure.percentile(values, 100) == 100
    assert measure.percentile([7.0], 99) == 7.0
    assert measure.percentile([], 50) == 0.0


def test_latency_summary_in_milliseconds():
    summary = measure.latency_summary([0.3, 0.1, 0.2, 0.4])
    assert summary == {"p50": 200.0, "p95": 400.0, "p99": 400.0}


def test_pack_batch_is_a_msgpack_array_of_envelopes():
    for count in (0, 1, 15, 16, 300):
        envelopes = [load.envelope(bytes([i % 256]) * 10, b"s" * 64) for i in range(count)]
        decoded = msgpack.unpackb(load.pack_batch(envelopes), raw=False)
        assert decoded == [msgpack.unpackb(e, raw=False) for e in envelopes]


def test_check_receipts_counts_lost_duplicated_failed_and_reordered():
    a, b, c, d, e = (bytes([i]) * 32 for i in range(5))
    blocks = [
        (10, [a, b], [(a, True), (b, False)]),  # b committed but refused by chaincode
        (11, [c, a], [(c, True)]),  # a carried again, dropped by the executor
        (12, [e], [(e, True)]),
        (13, [e], [(e, True)]),  # e executed twice: a safety bug the check must catch
    ]
    check = measure.check_receipts([a, b, c, d, e], blocks)
    assert check.lost == 1  # d
    assert check.failed == 1  # b
    assert check.duplicated == 1  # e
    assert check.reordered == 2  # a and e carried by two blocks
    assert check.committed == 4
    assert check.heights[a] == 10 and check.heights[c] == 11


def test_cpu_seconds_of_this_process():
    assert measure.cpu_seconds(os.getpid()) > 0


def test_a_wake_up_is_measured_as_the_cpu_the_loop_spends_not_the_time_it_sleeps():
    wake_us = measure.measure_wake_us(samples=50, gap_s=0.002)
    assert 0 < wake_us < 2_000  # µs of CPU for a 2,000 µs sleep: never the sleep itself


def test_parse_metrics_reads_samples_with_their_labels():
    text = ("# HELP stoledger_height Last executed block height.\n# TYPE stoledger_height gauge\n"
            "stoledger_height 12\nstoledger_txs_rejected_total{code=\"mempool_full\"} 3\n"
            "stoledger_surveillance_cpu_seconds_total 1.5e-05\n")
    assert measure.parse_metrics(text) == {
        "stoledger_height": 12.0, 'stoledger_txs_rejected_total{code="mempool_full"}': 3.0,
        "stoledger_surveillance_cpu_seconds_total": 1.5e-05}


def test_surveillance_cost_per_order_and_share_of_the_node_cpu():
    cpu, orders = measure.SURVEILLANCE_CPU, measure.SURVEILLANCE_ORDERS
    before = {"a": {cpu: 1.0, orders: 100}, "b": {cpu: 2.0, orders: 100}}
    after = {"a": {cpu: 1.2, orders: 1_100}, "b": {cpu: 2.4, orders: 1_100}}
    cost = measure.surveillance_cost({"a": 4.0, "b": 4.0}, before, after)
    assert cost.cpu_us_per_order == 300.0  # mean of 200 and 400 us
    assert cost.share == 0.075  # mean of 0.2/4 and 0.4/4
    # nodes without the counters (older code) give no figure rather than a wrong one
    assert measure.surveillance_cost({"a": 4.0}, {"a": {}}, {"a": {}}) == \
        measure.SurveillanceCost(None, None)


def test_parse_ints():
    assert bench.parse_ints("4,7,10") == [4, 7, 10]
    with pytest.raises(ValueError):
        bench.parse_ints("-1")


def test_parse_rates_takes_multiples_of_the_knee():
    assert bench.parse_rates("2x,0,500") == ["2x", 0, 500]
    for bad in ("-1", "0x", ""):
        with pytest.raises(ValueError):
            bench.parse_rates(bad)


def _point(offered, committed, p99=500.0, lost=0):
    return bench.Point(nodes=4, offered_tps=offered, committed_tps=committed,
                       latency_ms={"p50": 1.0, "p95": 1.0, "p99": p99}, cpu_s_per_tx=0.0,
                       verify_us=100.0, lost=lost, duplicated=0, block_txs_avg=0.0,
                       duration_s=1.0)


def test_knee_is_the_last_probe_that_keeps_up():
    # a cluster that commits up to 600 tx/s: probes at 480, 528, 581 keep up, 639 does not
    asked = []

    def measure(rate, duration_s=None):
        asked.append(rate)
        if rate == 0:
            return _point(2000, 600)
        return _point(rate, min(rate, 600), p99=300.0 if rate <= 600 else 2500.0)

    emitted = []
    knee = bench.find_knee(measure, 5.0, emitted.append, lambda line: None)
    assert asked == [0, 480, 528, 581, 639]
    assert knee == 581 and all(point.probe for point in emitted)
    assert bench.keeps_up(_point(100, 96)) and not bench.keeps_up(_point(100, 90))
    assert not bench.keeps_up(_point(100, 100, lost=1))


@pytest.mark.slow
def test_two_second_run_on_one_node(tmp_path):
    points = []
    options = bench.Options(nodes=(1,), rates=(100,), duration_s=2.0, accounts=4,
                            drain_s=20.0)
    bench.run(options, points.append, lambda line: None)
    assert len(points) == 1
    point = points[0].to_json()
    for key in ("nodes", "offered_tps", "committed_tps", "latency_ms", "cpu_s_per_tx",
                "verify_us", "lost", "duplicated", "block_txs_avg", "duration_s"):
        assert key in point
    assert point["wake_us"] > 0 and point["verify_us"] > 0
    assert set(point["latency_ms"]) == {"p50", "p95", "p99"}
    assert point["nodes"] == 1
    assert point["admitted"] > 0
    assert point["lost"] == 0 and point["duplicated"] == 0 and point["failed"] == 0
    assert point["refused"] == 0 and point["cpu_verify_ratio"] > 0


def test_cli_registers_bench():
    from node.cli import build_parser

    args = build_parser().parse_args(["bench", "--nodes", "4", "--rate", "500,1000",
                                      "--duration", "5", "--json"])
    assert isinstance(args, types.SimpleNamespace) or hasattr(args, "func")
    assert args.rate == "500,1000" and args.json



def test_as_fast_as_taken_offers_the_refused_again_and_a_fixed_rate_does_not():
    """At --rate 0 the load must not run dry on refusals: each mempool_full item (and a whole
    503) goes back in the queue until admitted; at a fixed rate the refused excess is dropped."""
    import asyncio
    import threading

    from aiohttp import web

    async def scenario(rate: int) -> tuple[dict, list[int]]:
        offered: list[int] = []
        calls = [0]

        async def post_txs(request: web.Request) -> web.Response:
            items = msgpack.unpackb(await request.read(), raw=False)
            calls[0] += 1
            if calls[0] == 2:
                return web.Response(status=503)
            answers = []
            for item in items:
                index = msgpack.unpackb(item["body"])
                offered.append(index)
                refuse = index % 3 == 0 and offered.count(index) == 1
                answers.append({"error": {"code": "mempool_full"}} if refuse else {"tx_id": "x"})
            return web.Response(body=msgpack.packb(answers), content_type="application/msgpack")

        app = web.Application()
        app.router.add_post("/v1/txs", post_txs)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        signed = [(bytes([i]), msgpack.packb({"body": msgpack.packb(i), "sig": b""}))
                  for i in range(40)]
        go = threading.Event()
        go.set()
        try:
            result = await _drive_once([f"http://127.0.0.1:{port}"], signed, rate, go)
        finally:
            await runner.cleanup()
        return result, offered

    async def _drive_once(urls, signed, rate, go):
        return await load._drive(urls, load.cut_batches(signed, 5), rate, 20,
                                 1.0 if rate else 3.0, 10_000, types.SimpleNamespace(value=0),
                                 threading.Event(), go)

    result, offered = asyncio.run(scenario(0))
    admitted = {index for _, indices, codes in result["records"] if not isinstance(codes, str)
                for index, code in zip(indices, codes, strict=True) if code == load.ADMITTED}
    assert admitted == set(range(40))  # every refusal was offered again until admitted
    assert [codes for _, _, codes in result["records"] if codes == "http:503"] == ["http:503"]
    assert result["sent"] == 40 + 5 + 14  # the batch 503 refused, and 0, 3, ..., 39 once each
    result, offered = asyncio.run(scenario(400))
    assert result["sent"] == 40 and len(result["records"]) == 8  # nothing offered again
    assert len(offered) == 35 and len(set(offered)) == 35
