"""A small trading desk on an in-memory chain for the surveillance tests.

`Desk` is a `MarketWorld` (the real executor, contracts and surveillance indexer) with token
APT1 (unit price 10,000, tick 1, sessions `always`) and investors a..l registered by broker-a,
each holding 100,000 units and KRW 10,000,000,000. Each investor has an origin of its own unless
a test gives one. `step(ms)` commits what is queued in one block `ms` after the last.

Events of a contract this chain does not run (the offering contract) are consumed by the names
and shapes PROTOCOL.md gives them: `inject` queues a transaction and the receipt events it
would have had, and the `Injector` indexer (run before surveillance) adds them to the next
block, as that contract's receipt would be. FDS holds are the real contract's (chaincode.fds).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from chaincode.fds import NO_WITHDRAWAL_DELAY
from consensus import codec
from node.admission.tx import build
from node.ledger.executor import AppliedBlock, Receipt
from node.storage import Batch
from node.surveillance.alerts import all_alerts
from node.surveillance.records import Limits
from node.surveillance.rules.sessions import compute_session_close
from node.surveillance.world import CHAIN, MarketWorld

KST = datetime.timezone(datetime.timedelta(hours=9))
T0 = int(datetime.datetime(2026, 1, 6, 10, 0, tzinfo=KST).timestamp()) * 1000
MINUTE = 60_000
HOUR = 3_600_000
DAY = 86_400_000
NAMES = tuple("abcdefghijkl")
SYMBOL = "APT1"


def origin(label: str) -> str:
    return codec.sha256(f"desk-origin:{label}".encode()).hex()


@dataclass
class Injector:
    """An indexer that appends constructed receipts to the block before surveillance reads
    it (the executor has written the block's own receipts already)."""

    pending: list[tuple[Any, list[dict[str, Any]]]] = field(default_factory=list)

    def __call__(self, applied: AppliedBlock, batch: Batch) -> None:
        for tx, events in self.pending:
            index = len(applied.receipts)
            applied.txs.append(tx)
            applied.receipts.append(Receipt(tx.tx_id, applied.block.height, index, True, None,
                                            None, events, applied.block.hash))
        self.pending.clear()


class Desk:
    def __init__(self, surveillance: dict[str, Any] | None = None, start: int = T0,
                 names: tuple[str, ...] = NAMES, limits: Limits | None = None,
                 market: dict[str, Any] | None = None) -> None:
        params: dict[str, Any] = {"general_investor_annual_limit": 0,
                                  "fds": NO_WITHDRAWAL_DELAY}  # funded, then moving cash
        if surveillance is not None:
            params["surveillance"] = surveillance
        if market is not None:
            params["market"] = market
        self.params = params
        self.injector = Injector()
        self.world = MarketWorld(params, start - 60_000, indexers=[self.injector],
                                 limits=limits)
        self.time = start - 50_000
        self.world.create_token(SYMBOL, "issuer-1", 10_000, 10**8, self.time)
        self.world.register(list(names), "broker-a", self.time)
        self.world.fund(list(names), {SYMBOL: "issuer-1"}, 100_000, 10**10, self.time)
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

    def pay(self, name: str, to: str, amount: int) -> Any:
        """A cash transfer between two investors (outside the market)."""
        return self.world.send(name, "cash", "transfer", to=self[to], amount=amount)

    def give(self, name: str, to: str, units: int) -> Any:
        """A token transfer between two investors (outside the market)."""
        return self.world.send(name, "token", "transfer", symbol=SYMBOL, to=self[to],
                               amount=units)

    def withdraw(self, name: str, amount: int) -> Any:
        return self.world.send("bank", "cash", "burn", from_=self[name], amount=amount)

    def recover(self, old: str, new: str) -> str:
        """The registrar recovers `old`'s lost key to a new key named `new`."""
        account = self.world.add_investor(new)
        self.world.send("ksd", "token", "recover", old=self[old], new=account,
                        reason="lost key")
        return account

    def make_insider(self, name: str) -> Any:
        """The account's broker records it as an insider (officer) of issuer-1."""
        return self.world.send("broker-a", "identity", "update", account=self[name],
                               attrs={"insider_of": [self.world.account("issuer-1")]})

    def inject(self, contract: str, method: str, sender: str, events: list[tuple[str, dict]]
               ) -> Any:
        """A transaction of a contract this chain does not run, with the events PROTOCOL.md
        gives it, in the next block."""
        nonce = self.world.nonces.get(sender, 0) + 1
        self.world.nonces[sender] = nonce
        tx = build(self.world.signers[sender], CHAIN, contract, method, {}, nonce,
                   self.time + HOUR)
        self.injector.pending.append(
            (tx, [{"contract": contract, "name": name, "data": data}
                  for name, data in events]))
        return tx

    def step(self, ms: int = 1_000) -> list[Receipt]:
        self.time += ms
        receipts = self.world.commit(self.time)
        for receipt in receipts:
            assert receipt.ok, receipt.error
        return receipts

    def alerts(self, rule: str | None = None) -> list[dict[str, Any]]:
        return [a for a in all_alerts(self.world.store) if rule is None or a["rule"] == rule]

    def listed(self, alert: dict[str, Any]) -> set[str]:
        """Every transaction the versions of `alert` up to it list (a version lists only what
        no earlier one did: node.surveillance.episodes)."""
        return {tx for version in self.alerts(alert["rule"])
                if version["alert_id"] == alert["alert_id"]
                and version["version"] <= alert["version"] for tx in version["evidence"]}

    def accounts(self, *names: str) -> list[str]:
        return sorted(self[name] for name in names)

    def record_date_ahead(self, days: int = 2) -> None:
        """The issuer declares a dividend with its record date `days` ahead (a material event
        S12's pegging is judged against), then a block."""
        self.world.send("bank", "cash", "mint", to=self.world.account("issuer-1"), amount=10**9)
        self.world.send("issuer-1", "dividend", "declare", symbol=SYMBOL, total=10**8,
                        record_time=self.time + days * DAY)
        self.step()

    def background(self, rounds: int = 5, price: int = 10_000, qty: int = 10) -> None:
        """Ordinary trading between k and l (their own origins): a last price and sizes."""
        for _ in range(rounds):
            self.place("k", "sell", price, qty)
            self.place("l", "buy", price, qty)
            self.step(60_000)


def to_the_close(desk: Desk, before_ms: int) -> int:
    """Step to `before_ms` before the session's close (KST midnight: sessions `always`); the
    close's time."""
    close = compute_session_close("always", desk.time)
    assert close is not None
    desk.step(close - desk.time - before_ms)
    return close
