"""cash: mint / burn by the bank, transfers between verified accounts, read access."""

from __future__ import annotations

import pytest

from chaincode.runtime import ChaincodeError
from tests.chaincode.helpers import DAY_MS, T0, Chain, account_of


def test_mint_burn_by_bank_only() -> None:
    chain = Chain()
    alice = chain.register("alice")
    for caller in ("ksd", "fss", "issuer-1", "broker-a", "alice"):
        chain.fail("UNAUTHORIZED", caller, "cash", "mint", to=alice, amount=1)
        chain.fail("UNAUTHORIZED", caller, "cash", "burn", from_=alice, amount=1)
    chain.fail("RECIPIENT_NOT_VERIFIED", "bank", "cash", "mint", to=account_of("ghost"),
               amount=1)
    chain.fail("BAD_ARGS", "bank", "cash", "mint", to=alice, amount=0)
    assert chain.events("bank", "cash", "mint", to=alice, amount=1000) == ["Minted"]
    chain.advance(3 * DAY_MS)  # past the new account's withdrawal delay (chaincode.fds)
    chain.fail("INSUFFICIENT_BALANCE", "bank", "cash", "burn", from_=alice, amount=1001)
    assert chain.events("bank", "cash", "burn", from_=alice, amount=400) == ["Burned"]
    assert chain.cash("alice") == 600
    assert chain.query("bank", "cash", "supply") == {"supply": 600}
    with pytest.raises(ChaincodeError) as caught:
        chain.query("alice", "cash", "supply")
    assert caught.value.code == "FORBIDDEN"


def test_transfer_between_verified_accounts() -> None:
    chain = Chain(params={"fds": {"new_account_hold_ms": 0, "deposit_hold_ms": 0}})
    alice = chain.register("alice", kyc_expires=T0 + DAY_MS)
    bob = chain.register("bob")
    chain.ok("bank", "cash", "mint", to=alice, amount=100)
    chain.fail("INSUFFICIENT_BALANCE", "alice", "cash", "transfer", to=bob, amount=101)
    chain.fail("RECIPIENT_NOT_VERIFIED", "alice", "cash", "transfer", to=account_of("x"),
               amount=1)
    chain.fail("BAD_ARGS", "alice", "cash", "transfer", to=alice, amount=1)
    outcome = chain.execute(alice, "cash", "transfer", {"to": bob, "amount": 40})
    assert outcome.ok and outcome.events[0].name == "CashTransfer"
    assert (chain.cash("alice"), chain.cash("bob")) == (60, 40)
    chain.advance(DAY_MS)
    chain.fail("SENDER_NOT_VERIFIED", "alice", "cash", "transfer", to=bob, amount=1)
    chain.fail("RECIPIENT_NOT_VERIFIED", "bob", "cash", "transfer", to=alice, amount=1)
    chain.ok("bank", "cash", "mint", to=chain["fss"], amount=5)
    chain.fail("UNAUTHORIZED", "fss", "cash", "transfer", to=bob, amount=1)


def test_balance_read_access() -> None:
    chain = Chain()
    alice = chain.register("alice")
    chain.register("erin", broker="broker-b")
    for reader in ("alice", "broker-a", "bank", "fss"):
        assert chain.query(reader, "cash", "balance", account=alice)["balance"] == 0
    for reader in ("broker-b", "erin", "issuer-1", "ksd", "tax", "nobody"):
        with pytest.raises(ChaincodeError) as caught:
            chain.query(reader, "cash", "balance", account=alice)
        assert caught.value.code == "FORBIDDEN"


def test_internal_methods_are_not_transactions() -> None:
    chain = Chain()
    alice = chain.register("alice")
    chain.ok("bank", "cash", "mint", to=alice, amount=10)
    chain.fail("UNKNOWN_METHOD", "alice", "cash", "move", from_=alice, to=chain["bank"],
               amount=10, memo="x")
