"""The market workload of the bench: the order stream crosses and never self-trades, its orders
are real signed `market.place` transactions of each investor's broker (both brokers send), and
a short real run on a 1-node cluster checks every receipt and counts trades (never asserting on
a timing figure)."""

from __future__ import annotations

import pytest

from consensus.crypto import Signer
from node import bench
from node.admission.tx import decode_body
from node.bench.market import order_args, sign_orders
from node.bench.setup import registrar


def test_the_stream_alternates_sells_and_buys_of_disjoint_halves():
    accounts = [Signer.generate().account for _ in range(5)]
    orders = [order_args(accounts, index) for index in range(40)]
    sells = [o for o in orders[0::2]]
    buys = [o for o in orders[1::2]]
    assert {o["side"] for o in sells} == {"sell"} and {o["side"] for o in buys} == {"buy"}
    assert {o["account"] for o in sells} == set(accounts[:2])
    assert {o["account"] for o in buys} == set(accounts[2:])
    assert all(o["price"] == 1 and o["qty"] == 1 and len(o["origin"]) == 64 for o in orders)


def test_orders_are_signed_by_the_broker_with_fresh_nonces():
    broker = Signer.generate()
    accounts = [Signer.generate().account for _ in range(4)]
    signed = sign_orders(("chain-x", [broker.seed] * 4, accounts, 1_000, 6, 3, 2**40))
    assert len({tx_id for tx_id, _ in signed}) == 3
    import msgpack

    for offset, (tx_id, raw) in enumerate(signed):
        env = msgpack.unpackb(raw, raw=False)
        tx = decode_body(env["body"], env["sig"])
        assert tx.tx_id == tx_id and tx.sender_hex == broker.account
        assert (tx.contract, tx.method, tx.nonce) == ("market", "place", 1_006 + offset)
        assert tx.args == order_args(accounts, 6 + offset)


def test_each_order_is_sent_by_its_investors_broker_and_both_brokers_send():
    """The market's shape: brokers send for their clients, the setup's two brokers alike, in
    each half of the stream (sells and buys) and in every batch of the load."""
    import msgpack

    brokers = {org: Signer.generate() for org in ("broker-a", "broker-b")}
    accounts = [Signer.generate().account for _ in range(8)]
    registrars = [registrar(i) for i in range(len(accounts))]
    seeds = [brokers[org].seed for org in registrars]
    signed = sign_orders(("chain-x", seeds, accounts, 0, 0, 40, 2**40))
    senders: dict[str, list[str]] = {"sell": [], "buy": []}
    for _, raw in signed:
        env = msgpack.unpackb(raw, raw=False)
        tx = decode_body(env["body"], env["sig"])
        org = registrars[accounts.index(tx.args["account"])]
        assert tx.sender_hex == brokers[org].account  # the investor's own broker
        senders[tx.args["side"]].append(org)
    for side in ("sell", "buy"):
        assert senders[side].count("broker-a") == senders[side].count("broker-b") == 10


def test_cli_takes_the_workload_switch():
    from node.cli import build_parser

    args = build_parser().parse_args(["bench", "--workload", "market", "--rate", "0"])
    assert args.workload == "market"
    assert build_parser().parse_args(["bench"]).workload == "transfer"
    assert build_parser().parse_args(["bench", "--workload", "both"]).workload == "both"


def test_both_refuses_a_knee_multiple(capsys):
    from node.cli import build_parser

    args = build_parser().parse_args(["bench", "--workload", "both", "--rate", "2x"])
    assert bench.main(args) == 2
    assert "fixed rates" in capsys.readouterr().err


def test_a_market_point_is_compared_with_the_transfer_point_before_it():
    from node.bench.config import Point
    from node.bench.market import MarketPoint, compare_to_transfers

    common = {"nodes": 4, "latency_ms": {}, "cpu_s_per_tx": 0.0, "verify_us": 50.0, "lost": 0,
              "duplicated": 0, "block_txs_avg": 0.0, "duration_s": 30.0}
    transfers = Point(offered_tps=0, committed_tps=800.0, cpu_us_per_tx_node=400.0, **common)
    orders = MarketPoint(offered_tps=0, committed_tps=500.0, cpu_us_per_tx_node=700.0, **common)
    compared = compare_to_transfers(orders, transfers).to_json()
    assert (compared["transfer_tps"], compared["orders_per_transfer"],
            compared["order_cost_in_transfers"]) == (800.0, 0.625, 1.75)


@pytest.mark.slow
def test_two_second_market_run_on_one_node():
    points = []
    options = bench.Options(nodes=(1,), rates=(100,), duration_s=2.0, accounts=6,
                            drain_s=20.0, workload="market")
    bench.run(options, points.append, lambda line: None)
    assert len(points) == 1
    point = points[0].to_json()
    for key in ("nodes", "offered_tps", "committed_tps", "latency_ms", "cpu_s_per_tx",
                "verify_us", "lost", "duplicated", "block_txs_avg", "duration_s",
                "trades_tps", "trades"):
        assert key in point
    assert point["workload"] == "market"
    assert point["admitted"] > 0
    assert point["lost"] == 0 and point["duplicated"] == 0 and point["failed"] == 0
    assert point["problems"] == []
    # sells and buys alternate: every committed buy met a sell, or one rests (a few at most)
    assert point["committed"] // 2 - 2 <= point["trades"] <= point["committed"] // 2 + 1
    # what surveillance cost, from the node's /metrics (issue 16); no bound on a timing here
    assert point["cpu_us_per_order_node"] == point["cpu_us_per_tx_node"] > 0
    assert point["surveillance_cpu_us_per_order"] > 0
    assert 0 < point["surveillance_share"] < 1
