"""Red-team findings against the offering and redemption (docs/redteam-offering.md): each test
reproduces one attack that worked on the offering branch and holds the fix."""

from __future__ import annotations

from tests.chaincode.helpers import Chain
from tests.chaincode.offering_helpers import (
    CASH,
    PRICE,
    close_window,
    offering_world,
    open_offering,
    settle_all,
)


def total_cash(chain: Chain) -> int:
    return int(chain.query("fss", "cash", "supply")["supply"])


# ---- R1: a redemption declared in the block that moved units burns them unpaid ------------

def test_units_issued_in_the_declaring_block_are_paid_not_swept() -> None:
    """The issuer finishes an allocation and declares the redemption in the same block: the
    register was the block before, so the subscribers' new units were burned without pay and
    the issuer kept both their subscription money and the escrow for their units."""
    chain = offering_world()
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["dave"], amount=1)
    offering_id = open_offering(chain, qty=10)
    for name in ("alice", "bob"):
        chain.ok("broker-a", "offering", "subscribe", offering_id=offering_id,
                 account=chain[name], qty=5)
    close_window(chain, offering_id)
    chain.ok("bank", "cash", "mint", to=chain["issuer-1"], amount=10**6)
    alice_before = chain.cash("alice")
    allocate, declare = chain.block(
        chain.tx("issuer-1", "offering", "allocate", offering_id=offering_id, max_steps=100),
        chain.tx("issuer-1", "offering", "redeem_all", symbol="APT1", price=PRICE))
    assert allocate.ok and allocate.result["done"], allocate.error
    assert declare.ok, declare.error
    assert chain.balance("APT1", "alice") == 5
    redemption_id = declare.result["redemption_id"]
    chain.advance(1_000)
    settle_all(chain, redemption_id)
    # alice paid 5 x PRICE for her units; the redemption pays them back at PRICE (no gain)
    assert chain.cash("alice") == alice_before, "alice's allocated units were burned unpaid"
    redemption = chain.query("fss", "offering", "redemption", redemption_id=redemption_id)
    assert {e["account"]: e["units"] for e in redemption["entries"]} == {
        chain["alice"]: 5, chain["bob"]: 5, chain["dave"]: 1}
    assert CASH  # the world's cash per investor


# ---- R2: a withdrawal erased from the book by the account's next subscription --------------

def escrows_of(outcomes: list, offering_id: int) -> int:
    """Every won put in escrow under the offering's references, as the cash events say."""
    prefix = f"offering/{offering_id:012d}/"
    return sum(event.data["amount"] for outcome in outcomes for event in outcome.events
               if event.name == "CashEscrowed" and event.data["ref"].startswith(prefix))


def test_the_book_accounts_for_every_won_escrowed_after_a_resubscription() -> None:
    """An examiner reconciles the book (the audit route's rows) with the cash events: every
    won escrowed under the offering is paid to the issuer, refunded at allocation, returned
    by a withdrawal, or still escrowed. alice subscribed 8, withdrew and subscribed 5: her
    book row held only the second subscription, and the offering's `refunded` counted no
    withdrawal, so 8,000 KRW escrowed and returned appeared nowhere in the book."""
    chain = offering_world()
    offering_id = open_offering(chain, qty=10)
    outcomes = []
    for name, method, args in (("alice", "subscribe", {"qty": 8}), ("alice", "withdraw", {}),
                               ("alice", "subscribe", {"qty": 5}),
                               ("bob", "subscribe", {"qty": 7})):
        outcomes.append(chain.execute(chain["broker-a"], "offering", method, dict(
            args, offering_id=offering_id, account=chain[name])))
        assert outcomes[-1].ok, outcomes[-1].error
    close_window(chain, offering_id)
    outcomes.append(chain.execute(chain["issuer-1"], "offering", "allocate",
                                  {"offering_id": offering_id, "max_steps": 100}))
    offering = chain.query("fss", "offering", "get", offering_id=offering_id)
    rows = chain.query("fss", "offering", "subscriptions",
                       offering_id=offering_id)["subscriptions"]
    escrowed = escrows_of(outcomes, offering_id)
    assert escrowed == (8 + 5 + 7) * PRICE
    # row by row: what the account ever escrowed = its subscription plus earlier withdrawals
    assert sum(row["qty"] * PRICE + row.get("withdrawn_before", 0) for row in rows) == escrowed
    # the offering's totals: paid to the issuer + refunded + withdrawn + still escrowed
    assert (offering["allocated_qty"] * PRICE + offering["refunded"]
            + offering.get("withdrawn", 0)
            + sum(row["escrowed"] for row in rows)) == escrowed
