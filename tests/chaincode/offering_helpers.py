"""A ready world for the offering tests: APT1 with a prospectus, investors with cash, and
helpers that run an allocation or a redemption's settlement to the end."""

from __future__ import annotations

from typing import Any

from chaincode.allocation import draw_key
from tests.chaincode.helpers import Chain, world

PRICE = 1_000  # KRW a unit in the offering (APT1's unit_price is 10,000)
WINDOW_MS = 60_000
CASH = 10**9  # KRW minted to each investor of offering_world


def with_prospectus(chain: Chain, symbol: str = "APT1", issuer: str = "issuer-1") -> None:
    chain.ok(issuer, "token", "set_document", symbol=symbol, name="prospectus",
             uri="https://example.invalid/prospectus.pdf", sha256="ab" * 32)


def offering_world(**rules: Any) -> Chain:
    """tests.chaincode.helpers.world (alice, bob, carol, dave with broker-a; erin with
    broker-b; APT1 approved), a prospectus, and CASH for every investor."""
    chain = world(**rules)
    with_prospectus(chain)
    for name in ("alice", "bob", "carol", "dave", "erin"):
        chain.ok("bank", "cash", "mint", to=chain[name], amount=CASH)
    return chain


def open_offering(chain: Chain, qty: int = 100, price: int = PRICE, min_qty: int = 1,
                  max_qty: int | None = None, equal_bps: int = 5_000, symbol: str = "APT1",
                  issuer: str = "issuer-1", start_time: int | None = None,
                  window_ms: int = WINDOW_MS) -> int:
    start = chain.time if start_time is None else start_time
    result = chain.ok(issuer, "offering", "open", symbol=symbol, price=price, qty=qty,
                      start_time=start, end_time=start + window_ms, min_qty=min_qty,
                      max_qty=qty if max_qty is None else max_qty, equal_bps=equal_bps)
    return int(result["offering_id"])


BROKERS = {"erin": "broker-b"}


def subscribe(chain: Chain, offering_id: int, name: str, qty: int) -> dict[str, Any]:
    return chain.ok(BROKERS.get(name, "broker-a"), "offering", "subscribe",  # type: ignore[no-any-return]
                    offering_id=offering_id, account=chain[name], qty=qty)


def close_window(chain: Chain, offering_id: int) -> None:
    """Move block time past the offering's end_time."""
    offering = chain.query("ksd", "offering", "get", offering_id=offering_id)
    chain.advance(max(0, offering["end_time"] - chain.time))


def allocate_all(chain: Chain, offering_id: int, steps: int = 1_000,
                 issuer: str = "issuer-1") -> list[dict[str, Any]]:
    results = []
    while True:
        result = chain.ok(issuer, "offering", "allocate", offering_id=offering_id,
                          max_steps=steps)
        results.append(result)
        if result["done"]:
            return results
        assert len(results) < 100_000, "allocation does not end"


def settle_all(chain: Chain, redemption_id: int, steps: int = 1_000,
               issuer: str = "issuer-1") -> list[dict[str, Any]]:
    results = []
    while True:
        result = chain.ok(issuer, "offering", "settle", redemption_id=redemption_id,
                          max_steps=steps)
        results.append(result)
        if result["done"]:
            return results
        assert len(results) < 100_000, "settlement does not end"


def book(chain: Chain, offering_id: int) -> dict[str, dict[str, Any]]:
    """account -> subscription, every page."""
    rows: dict[str, dict[str, Any]] = {}
    after = ""
    while True:
        page = chain.query("fss", "offering", "subscriptions", offering_id=offering_id,
                           after=after)
        rows.update({row["account"]: row for row in page["subscriptions"]})
        if page["next"] is None:
            return rows
        after = page["next"]


def in_draw_order(offering_id: int, accounts: list[str]) -> list[str]:
    return sorted(accounts, key=lambda account: draw_key(offering_id, account))
