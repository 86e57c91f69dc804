"""The RPC connection caps and the throttled log (node.rpc.connections), without sockets."""

from __future__ import annotations

import logging

from node.rpc.connections import (
    LIGHT_CLIENT,
    LIGHT_CLIENT_RESERVE,
    RESERVED_DESCRIPTORS,
    ConnectionLimiter,
    ThrottledLog,
    descriptor_budget,
)


def test_caps_per_address_and_per_node_with_a_reserve_for_light_clients():
    limiter = ConnectionLimiter(max_total=10, max_per_address=6)
    assert all(limiter.admit("a") for _ in range(6))
    assert not limiter.admit("a")  # per address
    assert all(limiter.admit("b") for _ in range(4))
    assert limiter.total == 10
    assert not limiter.admit("b")  # b is heavy now: the node cap applies to it
    for _ in range(LIGHT_CLIENT):  # a light client gets in through the reserve
        assert limiter.admit("c")
    assert not limiter.admit("c")
    for _ in range(LIGHT_CLIENT + 1):
        limiter.release("a")
    assert limiter.total == 9 and limiter.admit("b")  # back under the node cap
    for address in ["a"] + ["b"] * 5 + ["c"] * LIGHT_CLIENT:
        limiter.release(address)
    assert limiter.total == 0 and limiter.by_address == {}


def test_the_node_never_holds_more_than_cap_plus_reserve():
    limiter = ConnectionLimiter(max_total=5, max_per_address=5)
    admitted = sum(limiter.admit(f"10.0.{i // 256}.{i % 256}") for i in range(1000))
    assert admitted == 5 + LIGHT_CLIENT_RESERVE


def test_the_budget_keeps_descriptors_for_the_store_and_p2p():
    assert descriptor_budget(1024) == 16  # the floor: a tiny limit still serves someone
    assert descriptor_budget(20_000) == 1024
    budget = descriptor_budget(RESERVED_DESCRIPTORS + 500)
    assert budget + LIGHT_CLIENT_RESERVE + RESERVED_DESCRIPTORS <= RESERVED_DESCRIPTORS + 500


def test_each_cause_is_logged_once_per_interval(caplog):
    throttled = ThrottledLog(interval_s=3600)
    with caplog.at_level(logging.WARNING, logger="stoledger.rpc"):
        for _ in range(500):
            throttled.note("address_cap", "refused")
            throttled.note("node_cap", "refused")
    assert len(caplog.records) == 2
    assert throttled.totals == {"address_cap": 500, "node_cap": 500}
