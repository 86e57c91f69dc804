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
