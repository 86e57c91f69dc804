"""The red team's instrument (docs/redteam-offering.md): random sequences of offering,
subscription, withdrawal, hold, AML change, transfer, allocation, cancellation, redemption,
settlement and release, packed several to a block in random order, with random time between
blocks; after every block the books are held to conservation as an examiner would:

- cash: the supply never moves; each investor's balance is what it had, less `allocated x
  price` of every offering, plus the nets its redemptions paid it; its escrowed cash is the sum
  of its live subscriptions' `escrowed` (the issuer's: its redemption's escrow);
- each offering's book: per row `qty x price = escrowed + allocated x price + refunded` and
  `allocated <= qty`; every won escrowed under the offering (the cash events) is
  `allocated_qty x price + refunded + withdrawn + Σ escrowed` (R2); `allocated_qty <= qty`;
- units: outstanding = issued - redeemed = Σ balances; `reserved` is what the offerings not yet
  allocated or cancelled still hold (`qty - allocated_qty`); issued + reserved <= cap;
- redemption: a unit burned unpaid (`Redeemed` status `burned`) is the issuer's own (R1: no
  forced transfer or recovery runs here, so no other account may lose units unpaid); once
  `done`, the escrow is the nets paid + withheld + held + returned.

A failing example names the block sequence; hypothesis shrinks it.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from chaincode.runtime import Outcome
from tests.chaincode.helpers import Chain
from tests.chaincode.offering_helpers import CASH, with_prospectus

NAMES = [f"inv{i}" for i in range(5)]
PRICE = 1_000
CAP = 400
SYMBOL = "RTK"
KINDS = (["subscribe"] * 5 + ["allocate"] * 4 + ["settle"] * 3 + ["redeem_all"] * 3
         + ["transfer"] * 3 + ["withdraw"] * 2
         + ["open"] * 2 + ["cancel", "hold", "unhold", "aml", "release"])


def broker_of(name: str) -> str:
    return "broker-a" if int(name[3:]) % 2 else "broker-b"


class World:
    """The chain and what the test knows of it (offering and redemption ids, the events)."""

    def __init__(self) -> None:
        self.chain = Chain()
        for name in NAMES:
            self.chain.register(name, broker=broker_of(name))
            self.chain.ok("bank", "cash", "mint", to=self.chain[name], amount=CASH)
        self.chain.create_token(SYMBOL, unit_price=800, max_supply=1_000, cap=CAP)
        with_prospectus(self.chain, SYMBOL)
        self.chain.ok("bank", "cash", "mint", to=self.chain["issuer-1"], amount=CASH)
        for name in NAMES[:2]:
            self.chain.ok("issuer-1", "token", "issue", symbol=SYMBOL, to=self.chain[name],
                          amount=3)
        self.chain.ok("issuer-1", "token", "issue", symbol=SYMBOL,
                      to=self.chain["issuer-1"], amount=2)
        self.supply = self.chain.query("fss", "cash", "supply")["supply"]
        self.offerings: list[int] = []
        self.redemption: int | None = None
        self.outcomes: list[Outcome] = []
        self.holds: dict[str, int] = {}

    # ---- the operations ----------------------------------------------------------------------

    def tx(self, kind: str, who: int, a: int, b: int) -> tuple[str, str, str, dict[str, Any]]:
        chain, name = self.chain, NAMES[who % len(NAMES)]
        offering_id = self.offerings[-1] if self.offerings else 1
        redemption_id = self.redemption or 1
        if kind == "open":
            return chain.tx("issuer-1", "offering", "open", symbol=SYMBOL, price=PRICE,
                            qty=1 + a % 40, start_time=chain.time,
                            end_time=chain.time + 5_000 + 1_000 * (b % 10), min_qty=1,
                            max_qty=1 + a % 40, equal_bps=[0, 2_500, 5_000, 10_000][b % 4])
        if kind == "subscribe":
            return chain.tx(broker_of(name), "offering", "subscribe", offering_id=offering_id,
                            account=chain[name], qty=1 + a % 25)
        if kind == "withdraw":
            return chain.tx(broker_of(name), "offering", "withdraw", offering_id=offering_id,
                            account=chain[name])
        if kind == "allocate":
            return chain.tx("issuer-1", "offering", "allocate", offering_id=offering_id,
                            max_steps=[1, 2, 1_000][a % 3])
        if kind == "cancel":
            return chain.tx("issuer-1" if a % 2 else "ksd", "offering", "cancel",
                            offering_id=offering_id, reason="red team", max_steps=1 + b % 3)
        if kind == "transfer":
            other = NAMES[(who + 1 + a % (len(NAMES) - 1)) % len(NAMES)]
            return chain.tx(name, "token", "transfer", symbol=SYMBOL, to=chain[other],
                            amount=1 + b % 2)
        if kind == "hold":
            return chain.tx(broker_of(name), "fds", "hold", account=chain[name],
                            scope=["trading", "withdrawals", "all"][a % 3], reason="red team")
        if kind == "unhold":
            return chain.tx(broker_of(name), "fds", "release", hold_id=self.holds.get(name, 1),
                            reason="cleared")
        if kind == "aml":
            return chain.tx(broker_of(name), "identity", "update", account=chain[name],
                            attrs={"aml_risk": "high" if a % 2 else "low"})
        if kind == "redeem_all":
            return chain.tx("issuer-1", "offering", "redeem_all", symbol=SYMBOL,
                            price=[500, PRICE, 1_700][a % 3])
        if kind == "settle":
            return chain.tx("issuer-1", "offering", "settle", redemption_id=redemption_id,
                            max_steps=1 + a % 4)
        assert kind == "release"
        return chain.tx("ksd", "offering", "release", redemption_id=redemption_id,
                        account=chain[name])

    def play(self, block: list[tuple[str, int, int, int]], advance: int) -> None:
        txs = [self.tx(*op) for op in block]
        outcomes = self.chain.block(*txs)
        self.outcomes += self.chain.hook_outcomes + outcomes
        for (kind, who, _, _), outcome in zip(block, outcomes, strict=True):
            if not outcome.ok:
                continue
            if kind == "open":
                self.offerings.append(int(outcome.result["offering_id"]))
            elif kind == "redeem_all":
                self.redemption = int(outcome.result["redemption_id"])
            elif kind == "hold":
                self.holds[NAMES[who % len(NAMES)]] = int(outcome.result["hold_id"])
        self.chain.advance(advance)

    # ---- the examiner ------------------------------------------------------------------------

    def events(self, name: str) -> list[dict[str, Any]]:
        return [event.data for outcome in self.outcomes for event in outcome.events
                if event.name == name]

    def book(self, offering_id: int) -> list[dict[str, Any]]:
        return list(self.chain.query("fss", "offering", "subscriptions",
                                     offering_id=offering_id)["subscriptions"])

    def check(self) -> None:
        chain = self.chain
        assert chain.query("fss", "cash", "supply")["supply"] == self.supply
        offerings = [chain.query("fss", "offering", "get", offering_id=offering_id)
                     for offering_id in self.offerings]
        books = {o["offering_id"]: self.book(o["offering_id"]) for o in offerings}
        for offering in offerings:
            self.check_offering(offering, books[offering["offering_id"]])
        self.check_cash(offerings, books)
        self.check_units(offerings)
        self.check_redemption()

    def check_offering(self, offering: dict[str, Any], rows: list[dict[str, Any]]) -> None:
        price = offering["price"]
        for row in rows:
            assert row["qty"] * price == (row["escrowed"] + row["allocated"] * price
                                          + row["refunded"]), row
            assert 0 <= row["allocated"] <= row["qty"], row
        prefix = f"offering/{offering['offering_id']:012d}/"
        escrowed = sum(e["amount"] for e in self.events("CashEscrowed")
                       if e["ref"].startswith(prefix))
        assert escrowed == (offering["allocated_qty"] * price + offering["refunded"]
                            + offering["withdrawn"] + sum(row["escrowed"] for row in rows)), \
            offering
        assert sum(row["allocated"] for row in rows) == offering["allocated_qty"] \
            <= offering["qty"]

    def check_cash(self, offerings: list[dict[str, Any]],
                   books: dict[int, list[dict[str, Any]]]) -> None:
        chain = self.chain
        net_paid: dict[str, int] = {}
        for entry in self.redemption_entries():
            if entry["paid_to"] is not None:
                net_paid[entry["paid_to"]] = net_paid.get(entry["paid_to"], 0) + entry["net"]
        for name in NAMES:
            account = chain[name]
            spent = sum(row["allocated"] * offering["price"] for offering in offerings
                        for row in books[offering["offering_id"]] if row["account"] == account)
            live = sum(row["escrowed"] for rows in books.values() for row in rows
                       if row["account"] == account)
            balance = chain.query("fss", "cash", "balance", account=account)
            assert balance["balance"] == CASH - spent + net_paid.get(account, 0), name
            assert balance["escrowed"] == live, name

    def check_units(self, offerings: list[dict[str, Any]]) -> None:
        info = self.chain.query("ksd", "token", "info", symbol=SYMBOL)
        balances = sum(row["balance"] for row in self.chain.query(
            "fss", "token", "holders", symbol=SYMBOL)["holders"])
        assert info["outstanding"] == info["issued"] - info["redeemed"] == balances, info
        pending = sum(o["qty"] - o["allocated_qty"] for o in offerings
                      if o["status"] not in ("allocated", "cancelled"))
        assert info["reserved"] == pending, (info, offerings)
        assert info["issued"] + info["reserved"] <= CAP

    def redemption_entries(self) -> list[dict[str, Any]]:
        if self.redemption is None:
            return []
        redemption = self.chain.query("fss", "offering", "redemption",
                                      redemption_id=self.redemption)
        return list(redemption.get("entries", []))

    def check_redemption(self) -> None:
        issuer = self.chain["issuer-1"]
        for redeemed in self.events("Redeemed"):
            if redeemed["status"] == "burned" and redeemed["units"]:
                assert redeemed["account"] == issuer, f"burned unpaid: {redeemed}"
        if self.redemption is None:
            return
        redemption = self.chain.query("fss", "offering", "redemption",
                                      redemption_id=self.redemption)
        if redemption["record_height"] is not None:
            self.check_register_frozen(redemption["record_height"])
        if redemption["done"]:
            assert redemption["escrowed"] == (
                redemption["paid_net"] + redemption["income_tax"] + redemption["local_tax"]
                + redemption["held_net"] + redemption["returned"]), redemption


    def check_register_frozen(self, record_height: int) -> None:
        """From the record height on, a non-issuer's units only leave by the redemption's
        burns: holdings now + burned = the cap table at the record height (R1)."""
        chain, issuer = self.chain, self.chain["issuer-1"]

        def table(rows: list[dict[str, Any]]) -> dict[str, int]:
            return {row["account"]: row["balance"] for row in rows if row["account"] != issuer}

        at_record = table(chain.query_at(record_height, "fss", "token", "holders",
                                         symbol=SYMBOL)["holders"])
        now = table(chain.query("fss", "token", "holders", symbol=SYMBOL)["holders"])
        burned: dict[str, int] = {}
        for redeemed in self.events("Redeemed"):
            if redeemed["status"] != "released" and redeemed["account"] != issuer:
                burned[redeemed["account"]] = burned.get(redeemed["account"], 0) + \
                    redeemed["units"]
        for account in set(at_record) | set(now) | set(burned):
            assert now.get(account, 0) + burned.get(account, 0) == at_record.get(account, 0), \
                f"units moved after the record height {record_height}: {account}"


operation = st.tuples(st.sampled_from(KINDS), st.integers(0, 4), st.integers(0, 99),
                      st.integers(0, 99))
blocks = st.lists(st.tuples(st.lists(operation, min_size=1, max_size=4),
                            st.sampled_from([0, 1_000, 4_000, 12_000])),
                  min_size=4, max_size=30)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks)
def test_random_blocks_conserve_every_won_and_unit(plan: list[Any]) -> None:
    world = World()
    for block, advance in plan:
        world.play(block, advance)
        world.check()
    for kind in ("Subscribed", "Allocated", "OfferingAllocated", "OfferingCancelled",
                 "RedemptionDeclared", "Redeemed", "SubscriptionWithdrawn"):
        if world.events(kind):
            event(f"saw {kind}")
