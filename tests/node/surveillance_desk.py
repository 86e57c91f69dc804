"""A small trading desk on an in-memory chain for the surveillance tests.

`Desk` is a `MarketWorld` (the real executor, contracts and surveillance indexer) with token
APT1 (unit price 10,000, tick 1, sessions `always`) and investors a..l registered by broker-a,
each holding 100,000 units and KRW 10,000,000,000. Each investor has an origin of its own unless
a test gives one. `step(ms)` commits what is queued in one block `ms` after the last.
"""

from __future__ import annotations

import datetime
from typing import Any

from chaincode.fds import NO_WITHDRAWAL_DELAY
from consensus import codec
from node.ledger.executor import Receipt
from node.surveillance.alerts import all_alerts
from node.surveillance.world import MarketWorld

KST = datetime.timezone(datetime.timedelta(hours=9))
T0 = int(datetime.datetime(2026, 1, 6, 10, 0, tzinfo=KST).timestamp()) * 1000
NAMES = tuple("abcdefghijkl")
SYMBOL = "APT1"


def origin(label: str) -> str:
    return codec.sha256(f"desk-origin:{label}".encode()).hex()


class Desk:
    def __init__(self, surveillance: dict[str, Any] | None = None, start: int = T0) -> None:
        params: dict[str, Any] = {"general_investor_annual_limit": 0,
                                  "fds": NO_WITHDRAWAL_DELAY}  # funded, then moving cash
        if surveillance is not None:
            params["surveillance"] = surveillance
        self.params = params
        self.world = MarketWorld(params, start - 60_000)
        self.time = start - 50_000
        self.world.create_token(SYMBOL, "issuer-1", 10_000, 10**8, self.time)
        self.world.register(list(NAMES), "broker-a", self.time)
        self.world.fund(list(NAMES), {SYMBOL: "issuer-1"}, 100_000, 10**10, self.time)
        self.time = start

    def __getitem__(self, name: str) -> str:
        return self.world.account(name)

    def place(self, name: str, side: str, price: int, qty: int, *, where: str | None = None,
              tif: str = "gtc", media: str = "hts") -> Any:
        return self.world.send("broker-a", "market", "place", symbol=SYMBOL,
                               account=self[name], side=side, price=price, qty=qty,
                               media=media, origin=origin(where or name), tif=tif)

    def cancel(self, order_id: int) -> Any:
        return self.world.send("broker-a", "market", "cancel", order_id=order_id)

    def step(self, ms: int = 1_000) -> list[Receipt]:
        self.time += ms
        receipts = self.world.commit(self.time)
        for receipt in receipts:
            assert receipt.ok, receipt.error
        return receipts

    def alerts(self, rule: str | None = None) -> list[dict[str, Any]]:
        return [a for a in all_alerts(self.world.store) if rule is None or a["rule"] == rule]

    def accounts(self, *names: str) -> list[str]:
        return sorted(self[name] for name in names)

    def background(self, rounds: int = 5, price: int = 10_000, qty: int = 10) -> None:
        """Ordinary trading between k and l (their own origins): a last price and sizes."""
        for _ in range(rounds):
            self.place("k", "sell", price, qty)
            self.place("l", "buy", price, qty)
            self.step(60_000)
