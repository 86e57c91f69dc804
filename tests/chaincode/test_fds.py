"""Holds (chaincode.fds): who may place and release them, what each scope refuses, in
PROTOCOL.md's place in every check order, and what it never refuses (receiving, and the
settlement of a commitment made before the hold).

Each "order" test walks a world from one refusal to the next, fixing one rule at a time, so
that removing the hold check (or moving it) turns the expected code into another one."""

from __future__ import annotations

from typing import Any

import pytest

from chaincode.fds import MAX_CANCEL_ON_HOLD
from chaincode.runtime import ChaincodeError
from tests.chaincode.helpers import DAY_MS, Chain, world
from tests.chaincode.market_helpers import (
    CASH,
    UNITS,
    cash,
    market_chain,
    place,
    place_args,
    place_fails,
    place_outcome,
    units,
)

ALERT = "ab" * 32  # an alert id: 64 hex characters


def hold(chain: Chain, name: str, scope: str, by: str = "ksd", alert_id: str | None = None,
         reason: str = "suspicious") -> int:
    result = chain.ok(by, "fds", "hold", account=chain[name], scope=scope, reason=reason,
                      alert_id=alert_id)
    return int(result["hold_id"])


def cash_world() -> Chain:
    """alice and bob (general individuals) with 10M won each, past the withdrawal delay;
    dave (corporate) with 10M won."""
    chain = world()
    for name in ("alice", "bob", "dave"):
        chain.ok("bank", "cash", "mint", to=chain[name], amount=10_000_000)
    chain.advance(3 * DAY_MS)
    return chain


# ---- who may hold and release ----------------------------------------------------------------

def test_hold_and_release_roles_and_codes() -> None:
    chain = cash_world()
    alice = chain["alice"]
    for caller in ("fss", "issuer-1", "bank", "bob", "alice"):
        chain.fail("UNAUTHORIZED", caller, "fds", "hold", account=alice, scope="all",
                   reason="x")
    chain.fail("UNAUTHORIZED", "broker-b", "fds", "hold", account=alice, scope="all",
               reason="not its client")
    chain.fail("BAD_ARGS", "ksd", "fds", "hold", account=alice, scope="everything", reason="x")
    chain.fail("BAD_ARGS", "ksd", "fds", "hold", account=alice, scope="all", reason="")
    chain.fail("BAD_ARGS", "ksd", "fds", "hold", account=alice, scope="all", reason="x",
               alert_id="a" * 129)
    chain.fail("NOT_REGISTERED", "ksd", "fds", "hold", account=chain["ghost"], scope="all",
               reason="x")
    by_broker = hold(chain, "alice", "trading", by="broker-a", alert_id=ALERT)
    chain.fail("ALREADY_HELD", "ksd", "fds", "hold", account=alice, scope="trading",
               reason="again", alert_id=ALERT)
    by_registrar = hold(chain, "alice", "withdrawals", alert_id=ALERT)  # another scope
    plain = [hold(chain, "alice", "trading") for _ in range(2)]  # no alert: never conflicts
    assert len({by_broker, by_registrar, *plain}) == 4

    chain.fail("UNKNOWN_HOLD", "ksd", "fds", "release", hold_id=99, reason="x")
    chain.fail("BAD_ARGS", "ksd", "fds", "release", hold_id=0, reason="x")
    for caller in ("broker-b", "fss", "alice", "bank"):
        chain.fail("UNAUTHORIZED", caller, "fds", "release", hold_id=by_broker, reason="x")
    chain.fail("UNAUTHORIZED", "broker-a", "fds", "release", hold_id=by_registrar, reason="x")
    released = chain.ok("broker-a", "fds", "release", hold_id=by_broker, reason="checked")
    assert released["status"] == "released" and released["released_by"] == chain["broker-a"]
    chain.fail("NOT_HELD", "ksd", "fds", "release", hold_id=by_broker, reason="again")
    assert chain.ok("ksd", "fds", "release", hold_id=by_registrar, reason="ok")
    # once released, the alert may be acted on again
    assert hold(chain, "alice", "trading", alert_id=ALERT) > by_broker


def test_a_revoked_account_can_still_be_held() -> None:
    chain = cash_world()
    chain.ok("broker-a", "identity", "revoke", account=chain["alice"], reason="closed")
    assert hold(chain, "alice", "all") == 1


def test_too_many_active_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("chaincode.fds.MAX_ACTIVE_HOLDS", 3)
    chain = cash_world()
    ids = [hold(chain, "alice", "withdrawals") for _ in range(3)]
    chain.fail("TOO_MANY_HOLDS", "ksd", "fds", "hold", account=chain["alice"],
               scope="withdrawals", reason="one more")
    chain.ok("ksd", "fds", "release", hold_id=ids[0], reason="room")
    hold(chain, "alice", "withdrawals")
    hold(chain, "alice", "trading")  # past the bound, but it covers what none covered
    chain.fail("TOO_MANY_HOLDS", "ksd", "fds", "hold", account=chain["alice"],
               scope="trading", reason="nothing new")
    for _ in range(3):  # the broker's holds have room of their own
        hold(chain, "alice", "withdrawals", by="broker-a")


def test_events_queries_and_read_access() -> None:
    chain = cash_world()
    assert chain.events("ksd", "fds", "hold", account=chain["alice"], scope="withdrawals",
                        reason="S9 structuring", alert_id=ALERT) == ["Held"]
    outcome = chain.execute(chain["ksd"], "fds", "hold",
                            {"account": chain["alice"], "scope": "trading", "reason": "S1"})
    [held] = outcome.events
    assert held.data == {"hold_id": 2, "account": chain["alice"], "scope": "trading",
                         "reason": "S1", "alert_id": None, "by": chain["ksd"],
                         "orders_cancelled": 0}
    assert chain.events("ksd", "fds", "release", hold_id=1, reason="cleared") == ["Released"]
    for reader in ("alice", "broker-a", "ksd", "fss"):
        answer = chain.query(reader, "fds", "holds", account=chain["alice"])
        assert [row["hold_id"] for row in answer["holds"]] == [1, 2]
        assert [row["status"] for row in answer["holds"]] == ["released", "active"]
        assert answer["held"] == ["trading"] and answer["active"] == {"trading": 1}
    assert chain.query("fss", "fds", "get", hold_id=1)["released_reason"] == "cleared"
    page = chain.query("ksd", "fds", "holds", account=chain["alice"], limit=1)
    assert [row["hold_id"] for row in page["holds"]] == [1] and page["next"] == 1
    page = chain.query("ksd", "fds", "holds", account=chain["alice"], after=1)
    assert [row["hold_id"] for row in page["holds"]] == [2] and page["next"] is None
    for stranger in ("bob", "broker-b", "issuer-1", "bank"):
        with pytest.raises(ChaincodeError) as caught:
            chain.query(stranger, "fds", "holds", account=chain["alice"])
        assert caught.value.code == "FORBIDDEN"


# ---- what each scope refuses, and what it never refuses -------------------------------------

def scope_world(scope: str) -> Chain:
    """market_chain (alice and bob hold UNITS of APT1, everyone CASH won, withdrawals past the
    delay), with alice under a hold of `scope`."""
    chain = market_chain()
    chain.advance(3 * DAY_MS)
    hold(chain, "alice", scope)
    return chain


def refusals(chain: Chain) -> dict[str, str | None]:
    """What alice is refused now: a cash transfer, a burn, a token transfer, a sell and a
    buy order (None: allowed). Nothing is committed."""
    attempts = {
        "cash.transfer": ("alice", "cash", "transfer", {"to": chain["bob"], "amount": 1}),
        "cash.burn": ("bank", "cash", "burn", {"from": chain["alice"], "amount": 1}),
        "token.transfer": ("alice", "token", "transfer",
                           {"symbol": "APT1", "to": chain["bob"], "amount": 1}),
        "market.sell": ("broker-a", "market", "place", _order(chain, "sell")),
        "market.buy": ("broker-a", "market", "place", _order(chain, "buy")),
    }
    found: dict[str, str | None] = {}
    for name, (caller, contract, method, args) in attempts.items():
        outcome = _dry_run(chain, caller, contract, method, args)
        found[name] = None if outcome.ok else outcome.error["code"]  # type: ignore[index]
    return found


def _order(chain: Chain, side: str) -> dict[str, Any]:
    return {"symbol": "APT1", "account": chain["alice"], "side": side, "price": 10_000,
            "qty": 1, "media": "hts", "origin": "0" * 64}


def _dry_run(chain: Chain, caller: str, contract: str, method: str, args: dict[str, Any]
             ) -> Any:
    from chaincode.runtime import Overlay

    return chain.registry.execute(Overlay(chain.state), chain.accounts.get(caller, caller),
                                  "00" * 32, chain.height, chain.time, contract, method, args,
                                  "stoledger-test", chain.history)


@pytest.mark.parametrize("scope, refused", [
    ("withdrawals", {"cash.transfer", "cash.burn"}),
    ("trading", {"market.sell", "market.buy"}),
    ("all", {"cash.transfer", "cash.burn", "token.transfer", "market.sell", "market.buy"}),
])
def test_each_scope_refuses_exactly_what_protocol_says(scope: str, refused: set[str]) -> None:
    chain = scope_world(scope)
    found = refusals(chain)
    assert {name for name, code in found.items() if code is not None} == refused, found
    assert {found[name] for name in refused} == {"ACCOUNT_HELD"}


@pytest.mark.parametrize("scope", ["withdrawals", "trading", "all"])
def test_receiving_is_never_blocked(scope: str) -> None:
    chain = scope_world(scope)
    alice = chain["alice"]
    chain.ok("bob", "cash", "transfer", to=alice, amount=1_000)
    chain.ok("bob", "token", "transfer", symbol="APT1", to=alice, amount=5)
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=alice, amount=5)
    chain.ok("bank", "cash", "mint", to=alice, amount=1_000)
    assert units(chain, "alice")["balance"] == UNITS + 10
    assert cash(chain, "alice")["balance"] == CASH + 2_000
    verdict = chain.query("ksd", "token", "can_transfer", symbol="APT1", from_=chain["bob"],
                          to=alice, amount=1)
    assert verdict["ok"] is True


def test_can_transfer_predicts_an_all_hold() -> None:
    chain = scope_world("all")
    for reader in ("ksd", "alice"):  # the full answer, and the sender-side answer
        verdict = chain.query(reader, "token", "can_transfer", symbol="APT1",
                              from_=chain["alice"], to=chain["bob"], amount=1)
        assert verdict["ok"] is False and verdict["code"] == "ACCOUNT_HELD"


def test_a_withdrawals_hold_does_not_stop_a_commitment_made_before_it() -> None:
    """gina's resting buy escrowed her cash before the hold: it still fills and pays; her
    other cash cannot leave."""
    chain = market_chain()
    chain.advance(3 * DAY_MS)
    place(chain, "gina", "buy", 10_000, 10)
    hold(chain, "gina", "withdrawals")
    outcome = place_outcome(chain, "alice", "sell", 10_000, 10)
    assert outcome.result["status"] == "filled"
    assert units(chain, "gina")["balance"] == 10
    assert cash(chain, "alice")["balance"] == CASH + 100_000
    assert cash(chain, "gina")["balance"] == CASH - 100_000
    chain.fail("ACCOUNT_HELD", "gina", "cash", "transfer", to=chain["bob"], amount=1)


# ---- a trading hold and the account's resting orders -----------------------------------------

def test_a_trading_hold_cancels_resting_orders_and_releases_their_escrow() -> None:
    chain = market_chain()
    place(chain, "alice", "sell", 12_000, 100)
    place(chain, "alice", "buy", 9_000, 10)
    place(chain, "bob", "sell", 12_500, 5)
    outcome = chain.execute(chain["ksd"], "fds", "hold",
                            {"account": chain["alice"], "scope": "trading", "reason": "S1"})
    assert outcome.ok and outcome.result == {"hold_id": 1, "orders_cancelled": 2}
    cancelled = [(e.data["order_id"], e.data["code"]) for e in outcome.events
                 if e.name == "OrderCancelled"]
    assert cancelled == [(1, "ACCOUNT_HELD"), (2, "ACCOUNT_HELD")]
    assert units(chain, "alice")["available"] == UNITS
    assert cash(chain, "alice")["escrowed"] == 0
    assert chain.query("ksd", "market", "order", order_id=3)["status"] == "resting"


def test_a_withdrawals_hold_leaves_resting_orders_alone() -> None:
    chain = market_chain()
    place(chain, "alice", "sell", 12_000, 100)
    assert chain.ok("ksd", "fds", "hold", account=chain["alice"], scope="withdrawals",
                    reason="x")["orders_cancelled"] == 0
    assert chain.query("ksd", "market", "order", order_id=1)["status"] == "resting"


@pytest.mark.parametrize("side", ["sell", "buy"])
def test_orders_past_the_bound_are_cancelled_at_their_next_fill(side: str) -> None:
    """The hold cancels MAX_CANCEL_ON_HOLD resting orders, and the market's hook the rest at
    the next block; one a fill reaches first (in the hold's own block) is refused at its fill
    (ACCOUNT_HELD, the held side's order) and matching goes on to bob's."""
    chain = market_chain(holders=("alice", "bob", "gina"))
    chain.ok("bank", "cash", "mint", to=chain["alice"], amount=CASH)
    price = 11_000 if side == "sell" else 9_000
    for _ in range(MAX_CANCEL_ON_HOLD + 1):
        place(chain, "alice", side, price, 1)
    place(chain, "bob", side, price, 1)
    other = "buy" if side == "sell" else "sell"
    held, outcome = chain.block(
        chain.tx("ksd", "fds", "hold", account=chain["alice"], scope="trading", reason="S1"),
        ("broker-a", "market", "place", place_args(chain, "gina", other, price, 1)))
    assert held.ok and held.result["orders_cancelled"] == MAX_CANCEL_ON_HOLD
    last = MAX_CANCEL_ON_HOLD + 1
    assert outcome.ok, outcome.error
    cancelled = [(e.data["order_id"], e.data["code"]) for e in outcome.events
                 if e.name == "OrderCancelled"]
    assert cancelled == [(last, "ACCOUNT_HELD")]
    assert outcome.result["status"] == "filled"  # against bob's order
    assert chain.query("ksd", "market", "order", order_id=last)["code"] == "ACCOUNT_HELD"


def test_release_lets_the_account_trade_again() -> None:
    chain = market_chain()
    hold_id = hold(chain, "alice", "trading")
    place_fails(chain, "ACCOUNT_HELD", "alice", "sell", 10_000, 1)
    chain.ok("ksd", "fds", "release", hold_id=hold_id, reason="cleared")
    assert place(chain, "alice", "sell", 10_000, 1)["status"] == "resting"


# ---- ACCOUNT_HELD in PROTOCOL's check orders -------------------------------------------------

def test_place_checks_account_held_right_after_aml_blocked() -> None:
    """A sell: AML_BLOCKED, then ACCOUNT_HELD, then LOCKUP_ACTIVE. A buy: AML_BLOCKED, then
    ACCOUNT_HELD, then INVESTOR_TYPE_NOT_ALLOWED."""
    chain = market_chain(lockup_ms=DAY_MS, allowed_investor_types=["general"])
    alice, dave = chain["alice"], chain["dave"]
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=alice, amount=50)  # locked
    chain.ok("broker-a", "identity", "update", account=alice, attrs={"aml_risk": "high"})
    chain.ok("broker-a", "identity", "update", account=dave, attrs={"aml_risk": "high"})
    for name in ("alice", "dave"):
        hold(chain, name, "trading")
    place_fails(chain, "AML_BLOCKED", "alice", "sell", 10_000, UNITS + 10)
    place_fails(chain, "AML_BLOCKED", "dave", "buy", 10_000, 1)
    for name in ("alice", "dave"):
        chain.ok("broker-a", "identity", "update", account=chain[name],
                 attrs={"aml_risk": "low"})
    place_fails(chain, "ACCOUNT_HELD", "alice", "sell", 10_000, UNITS + 10)
    place_fails(chain, "ACCOUNT_HELD", "dave", "buy", 10_000, 1)
    for hold_id in (1, 2):
        chain.ok("ksd", "fds", "release", hold_id=hold_id, reason="cleared")
    place_fails(chain, "LOCKUP_ACTIVE", "alice", "sell", 10_000, UNITS + 10)
    place_fails(chain, "INVESTOR_TYPE_NOT_ALLOWED", "dave", "buy", 10_000, 1)


def test_cash_transfer_checks_in_protocol_order() -> None:
    """... RECIPIENT_NOT_VERIFIED, AML_BLOCKED, ACCOUNT_HELD, WITHDRAWAL_DELAYED,
    DAILY_LIMIT_EXCEEDED."""
    chain = Chain(params={"fds": {"daily_outflow_krw": 1_000}})
    alice, bob = chain.register("alice"), chain.register("bob")
    chain.ok("bank", "cash", "mint", to=alice, amount=5_000)
    chain.ok("broker-a", "identity", "update", account=alice, attrs={"aml_risk": "high"})
    chain.ok("broker-a", "identity", "revoke", account=bob, reason="closed")
    hold(chain, "alice", "withdrawals")
    args = {"to": bob, "amount": 1_001}  # over the daily limit
    chain.fail("RECIPIENT_NOT_VERIFIED", "alice", "cash", "transfer", **args)
    bob = chain.register("bob2")
    args["to"] = bob
    chain.fail("AML_BLOCKED", "alice", "cash", "transfer", **args)
    chain.ok("broker-a", "identity", "update", account=alice, attrs={"aml_risk": "low"})
    chain.fail("ACCOUNT_HELD", "alice", "cash", "transfer", **args)
    chain.ok("ksd", "fds", "release", hold_id=1, reason="cleared")
    chain.fail("WITHDRAWAL_DELAYED", "alice", "cash", "transfer", **args)
    chain.advance(3 * DAY_MS)
    chain.fail("DAILY_LIMIT_EXCEEDED", "alice", "cash", "transfer", **args)
    chain.ok("alice", "cash", "transfer", to=bob, amount=1_000)


def test_burn_checks_in_protocol_order() -> None:
    """ACCOUNT_HELD, WITHDRAWAL_DELAYED, DAILY_LIMIT_EXCEEDED, then INSUFFICIENT_BALANCE."""
    chain = Chain(params={"fds": {"daily_outflow_krw": 1_000}})
    alice = chain.register("alice")
    chain.ok("bank", "cash", "mint", to=alice, amount=500)
    hold(chain, "alice", "withdrawals")
    args = {"from_": alice, "amount": 1_001}  # over the limit and over the balance
    chain.fail("ACCOUNT_HELD", "bank", "cash", "burn", **args)
    chain.ok("ksd", "fds", "release", hold_id=1, reason="cleared")
    chain.fail("WITHDRAWAL_DELAYED", "bank", "cash", "burn", **args)
    chain.advance(3 * DAY_MS)
    chain.fail("DAILY_LIMIT_EXCEEDED", "bank", "cash", "burn", **args)
    chain.fail("INSUFFICIENT_BALANCE", "bank", "cash", "burn", from_=alice, amount=501)
    chain.ok("bank", "cash", "burn", from_=alice, amount=500)


# ---- key recovery ----------------------------------------------------------------------------

def test_recover_carries_active_holds_to_the_new_key() -> None:
    chain = cash_world()
    old = hold(chain, "alice", "withdrawals", alert_id=ALERT)
    released = hold(chain, "alice", "trading")
    chain.ok("ksd", "fds", "release", hold_id=released, reason="cleared")
    new = chain.accounts["alice-new"] = chain["alice-new"]
    chain.ok("ksd", "token", "recover", old=chain["alice"], new=new, reason="lost key")
    chain.fail("ACCOUNT_HELD", "alice-new", "cash", "transfer", to=chain["bob"], amount=1)
    assert chain.query("ksd", "fds", "holds", account=new)["held"] == ["withdrawals"]
    assert chain.query("ksd", "fds", "get", hold_id=old)["account"] == new
    assert chain.query("ksd", "fds", "get", hold_id=released)["account"] == chain["alice"]
    chain.fail("ALREADY_HELD", "ksd", "fds", "hold", account=new, scope="withdrawals",
               reason="again", alert_id=ALERT)
    chain.ok("ksd", "fds", "release", hold_id=old, reason="cleared")
    chain.ok("alice-new", "cash", "transfer", to=chain["bob"], amount=1)
