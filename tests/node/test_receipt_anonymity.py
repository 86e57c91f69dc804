"""A receipt never tells a reader more about the market than `/v1/events` does (red-team M1,
docs/redteam-market.md), over random order streams: the streams of
tests/chaincode/test_market_properties.py (fills, cancels at fault, self-trades, holds,
revocations, expiry), each committed transaction's events shown as
node.rpc.receipts.shown_receipt shows them (node.rpc.events.visible, the events route's rules)
to every reader. An investor reading any receipt finds no other investor's account in it; a
broker finds only its own clients'; an unsigned reader finds no market event at all; the
regulator finds every event as it was emitted."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.rpc.events import Viewer, is_settlement_leg, visible
from tests.chaincode.test_market_properties import BROKER, NAMES, fresh_chain, operation, run

MARKET_EVENTS = ("Trade", "OrderPlaced", "OrderCancelled")


def is_market_disclosure(event: dict[str, Any]) -> bool:
    """An event of the market: one whose other party a reader must not learn."""
    return (event.get("contract") == "market" and event.get("name") in MARKET_EVENTS) \
        or is_settlement_leg(event)


def receipt_events(events: list[dict[str, Any]], viewer: Viewer | None,
                   broker_of: Any) -> list[dict[str, Any]]:
    """The events of a receipt as `viewer` (None: unsigned) is shown them."""
    if viewer is None:
        return []
    return [seen for seen in (visible(viewer, event, broker_of) for event in events)
            if seen is not None]


def readers(chain: Any) -> dict[str, tuple[Viewer, set[str]]]:
    """Each reader and the investor accounts it may find: itself, or a broker's clients."""
    investors = {person: chain[person] for person in NAMES}
    views: dict[str, tuple[Viewer, set[str]]] = {
        person: (Viewer(account, "investor"), {account})
        for person, account in investors.items()}
    for broker in ("broker-a", "broker-b"):
        clients = {account for person, account in investors.items()
                   if BROKER.get(person, "broker-a") == broker}
        views[broker] = (Viewer(chain[broker], "broker"), clients)
    return views


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(operation, min_size=10, max_size=40))
def test_no_receipt_names_a_counterparty(ops: list[tuple[Any, ...]]) -> None:
    chain = fresh_chain()
    views = readers(chain)
    investors = {chain[person] for person in NAMES}
    broker_of = {chain[person]: chain[BROKER.get(person, "broker-a")] for person in NAMES}
    for op in ops:
        outcome = run(chain, op)
        if outcome is None or not outcome.ok:
            continue
        events = [event.to_map() for event in outcome.events]
        regulator = receipt_events(events, Viewer(chain["fss"], "regulator"), broker_of.get)
        assert regulator == events
        anonymous = receipt_events(events, None, broker_of.get)
        assert not any(is_market_disclosure(event) for event in anonymous)
        for who, (viewer, allowed) in views.items():
            text = json.dumps(receipt_events(events, viewer, broker_of.get))
            leaked = [account for account in investors - allowed
                      if account in text and any(is_market_disclosure(event)
                                                 for event in events)]
            assert not leaked, (who, op, leaked)
