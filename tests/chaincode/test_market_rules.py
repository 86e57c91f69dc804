"""market: what may no longer trade does not trade. The day's band at every fill, a forced
transfer of units on order, the close of a session (its orders expire at the close, not at the
next order), the side a refused fill blames, a revoked broker's orders, the bound on the stale
orders one transaction cancels, self-trade while uncrossing, and the tax's rounding."""

from __future__ import annotations

from typing import Any

import pytest

from chaincode.runtime import Outcome
from tests.chaincode.helpers import DAY_MS, Chain
from tests.chaincode.market_helpers import (
    CASH,
    UNITS,
    cash,
    kst_ms,
    market_chain,
    place,
    place_outcome,
    units,
)

WEEKLY = {"weekly": [{"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00",
                      "close": "15:30"}]}
MONDAY_OPEN, MONDAY_CLOSE = kst_ms(2023, 11, 20, 9), kst_ms(2023, 11, 20, 15, 30)
TUESDAY = kst_ms(2023, 11, 21, 10)


def cancelled(outcome: Outcome) -> list[tuple[int, str]]:
    return [(e.data["order_id"], e.data["code"]) for e in outcome.events
            if e.name == "OrderCancelled"]


def trades(outcome: Outcome) -> list[tuple[int, int, int]]:
    """(buy order, sell order, price) of each Trade event."""
    return [(e.data["buy_order"], e.data["sell_order"], e.data["price"]) for e in outcome.events
            if e.name == "Trade"]


def order(chain: Chain, order_id: int) -> dict[str, Any]:
    result: dict[str, Any] = chain.query("ksd", "market", "order", order_id=order_id)
    return result


# ---- the day's band at every fill -------------------------------------------------------------

def monday_close_at_13000(chain: Chain) -> None:
    """Monday's last trade is at 13,000 (the top of the band around 10,000)."""
    chain.time = kst_ms(2023, 11, 20, 10)
    place(chain, "bob", "sell", 13_000, 1)
    place(chain, "gina", "buy", 13_000, 1)


def test_a_resting_order_below_todays_band_is_cancelled_not_traded() -> None:
    chain = market_chain()
    monday_close_at_13000(chain)
    ask = place(chain, "alice", "sell", 7_000, 10)["order_id"]  # Monday's band: 7,000..13,000
    chain.time = kst_ms(2023, 11, 21, 10)  # Tuesday: reference 13,000, band 9,100..16,900
    outcome = place_outcome(chain, "dave", "buy", 9_100, 10)
    assert trades(outcome) == []  # a print at 7,000 would be outside today's band
    assert cancelled(outcome) == [(ask, "PRICE_LIMIT")]
    assert outcome.result["status"] == "resting"
    assert units(chain, "alice")["on_order"] == 0
    assert (order(chain, ask)["status"], order(chain, ask)["code"]) == (
        "cancelled", "PRICE_LIMIT")
    quote = chain.query("gina", "market", "quote", symbol="APT1")
    assert (quote["last_price"], quote["best_ask"], quote["best_bid"]) == (13_000, None, 9_100)


def test_a_resting_bid_above_todays_band_is_cancelled_and_matching_goes_on() -> None:
    chain = market_chain()
    chain.time = kst_ms(2023, 11, 20, 10)
    place(chain, "bob", "sell", 7_000, 1)
    place(chain, "gina", "buy", 7_000, 1)  # Monday's last trade: 7,000
    stale = place(chain, "dave", "buy", 12_000, 10)["order_id"]  # Monday: 7,000..13,000
    chain.time = kst_ms(2023, 11, 21, 10)  # Tuesday: reference 7,000, band 4,900..9,100
    good = place(chain, "gina", "buy", 9_050, 10)["order_id"]
    outcome = place_outcome(chain, "alice", "sell", 9_000, 10)
    assert cancelled(outcome) == [(stale, "PRICE_LIMIT")]
    assert trades(outcome) == [(good, outcome.result["order_id"], 9_050)]
    assert outcome.result["status"] == "filled"
    assert cash(chain, "dave")["escrowed"] == 0


def test_uncrossing_does_not_trade_outside_todays_band(monkeypatch: pytest.MonkeyPatch) -> None:
    """A gtc order left crossed by the fill limit goes on matching at the next place; if the
    day changed in between, the older order's price may be outside the new band."""
    import chaincode.market as market

    monkeypatch.setattr(market, "MAX_FILLS", 1)
    chain = market_chain()
    monday_close_at_13000(chain)
    chain.time = kst_ms(2023, 11, 20, 11)
    first = place(chain, "alice", "sell", 7_000, 1)["order_id"]
    second = place(chain, "alice", "sell", 7_000, 1)["order_id"]
    buy = place(chain, "dave", "buy", 7_000, 2)["order_id"]  # one fill, then the limit
    assert order(chain, first)["status"] == "filled"
    assert order(chain, buy)["remaining"] == 1 and order(chain, second)["status"] == "resting"
    chain.time = kst_ms(2023, 11, 21, 10)  # reference 7,000 now: band 4,900..9,100
    # 7,000 is inside Tuesday's band: uncrossing trades it
    outcome = place_outcome(chain, "gina", "buy", 5_000, 1)
    assert trades(outcome) == [(buy, second, 7_000)]


def test_uncrossing_cancels_an_older_order_now_outside_the_band(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import chaincode.market as market

    monkeypatch.setattr(market, "MAX_FILLS", 1)
    chain = market_chain()
    chain.time = kst_ms(2023, 11, 20, 10)
    place(chain, "dave", "buy", 13_000, 1)
    older = place(chain, "gina", "buy", 7_500, 1)["order_id"]
    newer = place(chain, "alice", "sell", 7_000, 2)["order_id"]  # fills dave at 13,000
    assert order(chain, newer)["remaining"] == 1  # resting across gina's bid
    chain.time = kst_ms(2023, 11, 21, 10)  # reference 13,000: band 9,100..16,900
    outcome = place_outcome(chain, "erin", "buy", 9_100, 1, broker="broker-b")
    assert trades(outcome) == []
    assert cancelled(outcome) == [(older, "PRICE_LIMIT"), (newer, "PRICE_LIMIT")]
    assert outcome.result["status"] == "resting"


# ---- a forced transfer of units on order -------------------------------------------------------

def test_forced_transfer_of_units_on_order_cancels_the_sell_orders_in_the_same_transaction(
        ) -> None:
    chain = market_chain()
    first = place(chain, "alice", "sell", 10_000, 10)["order_id"]
    outcome = chain.execute(chain["ksd"], "token", "force_transfer", {
        "symbol": "APT1", "from": chain["alice"], "to": chain["bob"], "amount": UNITS,
        "reason": "court order"})
    assert outcome.ok, outcome.error
    assert cancelled(outcome) == [(first, "FORCED_TRANSFER")]
    balance = units(chain, "alice")
    assert (balance["balance"], balance["on_order"]) == (0, 0)
    assert chain.query("gina", "market", "quote", symbol="APT1")["best_ask"] is None
    # units that arrive later are alice's to sell, never captured by the old order
    chain.ok("bob", "token", "transfer", symbol="APT1", to=chain["alice"], amount=10)
    outcome = place_outcome(chain, "gina", "buy", 10_000, 10)
    assert trades(outcome) == [] and units(chain, "alice")["balance"] == 10


def test_forced_transfer_cancels_only_the_newest_orders_it_must() -> None:
    chain = market_chain()
    older = place(chain, "alice", "sell", 10_000, 10)["order_id"]
    newer = place(chain, "alice", "sell", 10_100, 20)["order_id"]
    # 980 of 1,000 go: 20 units stay, the 30 on order no longer fit, the 10 of `older` do
    outcome = chain.execute(chain["ksd"], "token", "force_transfer", {
        "symbol": "APT1", "from": chain["alice"], "to": chain["bob"], "amount": UNITS - 20,
        "reason": "court order"})
    assert outcome.ok, outcome.error
    assert cancelled(outcome) == [(newer, "FORCED_TRANSFER")]
    assert order(chain, older)["status"] == "resting"
    assert units(chain, "alice")["on_order"] == 10
    # a forced transfer of units that are not on order leaves every order alone
    outcome = chain.execute(chain["ksd"], "token", "force_transfer", {
        "symbol": "APT1", "from": chain["alice"], "to": chain["bob"], "amount": 10,
        "reason": "court order"})
    assert outcome.ok and cancelled(outcome) == []
    assert order(chain, older)["status"] == "resting"


# ---- the close of a session ---------------------------------------------------------------------

def test_orders_of_a_closed_session_release_their_escrow_at_the_close() -> None:
    chain = market_chain(market={"sessions": WEEKLY})
    chain.time = MONDAY_OPEN
    bid = place(chain, "gina", "buy", 10_000, 10)["order_id"]
    ask = place(chain, "alice", "sell", 10_500, UNITS)["order_id"]
    chain.time = TUESDAY  # the first block after Monday's close
    chain.ok("bank", "cash", "burn", from_=chain["gina"], amount=CASH)  # nothing locked
    expired = [(e.data["order_id"], e.data["code"]) for hook in chain.hook_outcomes
               for e in hook.events if e.name == "OrderCancelled"]
    assert expired == [(bid, "EXPIRED"), (ask, "EXPIRED")]
    chain.ok("alice", "token", "transfer", symbol="APT1", to=chain["bob"], amount=UNITS)
    for order_id in (bid, ask):
        closed = order(chain, order_id)
        assert (closed["status"], closed["code"], closed["closed_time"]) == (
            "cancelled", "EXPIRED", MONDAY_CLOSE)  # the close's time, not the block's
    assert cash(chain, "gina")["escrowed"] == 0 and units(chain, "alice")["on_order"] == 0


def test_expiry_at_the_close_is_bounded_per_block(monkeypatch: pytest.MonkeyPatch) -> None:
    import chaincode.market as market

    monkeypatch.setattr(market, "MAX_EXPIRE_PER_BLOCK", 2)
    chain = market_chain(market={"sessions": WEEKLY})
    chain.time = MONDAY_OPEN
    ids = [place(chain, "gina", "buy", 9_000 + step, 1)["order_id"] for step in range(3)]
    chain.time = TUESDAY
    chain.ok("bank", "cash", "mint", to=chain["bob"], amount=1)  # any block
    assert sum(order(chain, order_id)["status"] == "cancelled" for order_id in ids) == 2
    chain.ok("bank", "cash", "mint", to=chain["bob"], amount=1)  # the rest, next block
    assert all(order(chain, order_id)["status"] == "cancelled" for order_id in ids)
    assert {order(chain, order_id)["closed_time"] for order_id in ids} == {MONDAY_CLOSE}
    assert cash(chain, "gina")["escrowed"] == 0


def test_a_new_session_trades_while_the_old_one_expires() -> None:
    chain = market_chain(market={"sessions": WEEKLY})
    chain.time = MONDAY_OPEN
    old = place(chain, "gina", "buy", 10_000, 10)["order_id"]
    chain.time = kst_ms(2023, 11, 21, 9)  # Tuesday's opening bell
    outcome = place_outcome(chain, "alice", "sell", 10_000, 10)
    assert trades(outcome) == [] and outcome.result["status"] == "resting"
    assert order(chain, old)["code"] == "EXPIRED"


# ---- who a refused fill blames ----------------------------------------------------------------

def test_an_aml_high_seller_is_the_one_cancelled() -> None:
    chain = market_chain()
    ask = place(chain, "alice", "sell", 10_000, 10)["order_id"]
    chain.ok("broker-a", "identity", "update", account=chain["alice"],
             attrs={"aml_risk": "high"})
    outcome = place_outcome(chain, "gina", "buy", 10_000, 10)
    assert cancelled(outcome) == [(ask, "AML_BLOCKED")]
    assert outcome.result["status"] == "resting"  # the buyer is not at fault


def test_lockup_at_a_fill_cancels_the_seller() -> None:
    """A forced transfer takes the unlocked units first: the units left behind the sell order
    are locked, and the fill is refused LOCKUP_ACTIVE, the seller's fault."""
    chain = market_chain(lockup_ms=DAY_MS)
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["alice"], amount=50)
    ask = place(chain, "alice", "sell", 10_000, 30)["order_id"]
    chain.ok("ksd", "token", "force_transfer", symbol="APT1", from_=chain["alice"],
             to=chain["bob"], amount=UNITS - 10, reason="court order")
    balance = units(chain, "alice")
    assert (balance["balance"], balance["locked"], balance["on_order"]) == (60, 50, 30)
    outcome = place_outcome(chain, "gina", "buy", 10_000, 30)
    assert cancelled(outcome) == [(ask, "LOCKUP_ACTIVE")]
    assert outcome.result["status"] == "resting"


def test_a_revoked_brokers_resting_orders_no_longer_trade() -> None:
    chain = market_chain()
    bid = place(chain, "erin", "buy", 10_000, 10, broker="broker-b")["order_id"]
    chain.ok("ksd", "identity", "revoke", account=chain["broker-b"], reason="licence revoked")
    outcome = place_outcome(chain, "alice", "sell", 10_000, 10)
    assert trades(outcome) == [] and cancelled(outcome) == [(bid, "BROKER_REVOKED")]
    assert cash(chain, "erin")["escrowed"] == 0
    assert outcome.result["status"] == "resting"


# ---- the bound on stale orders, self-trade while uncrossing ------------------------------------

def test_an_ioc_cut_short_by_the_cancel_bound_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    import chaincode.market as market

    monkeypatch.setattr(market, "MAX_CANCELS", 2)
    chain = market_chain()
    stale = [place(chain, "alice", "sell", 10_000, 1)["order_id"] for _ in range(3)]
    live = place(chain, "bob", "sell", 10_000, 1)["order_id"]
    chain.ok("ksd", "token", "freeze", symbol="APT1", account=chain["alice"], amount=None)
    outcome = place_outcome(chain, "gina", "buy", 10_000, 1, tif="ioc")
    assert cancelled(outcome) == [(stale[0], "INSUFFICIENT_BALANCE"),
                                  (stale[1], "INSUFFICIENT_BALANCE"),
                                  (outcome.result["order_id"], "CANCEL_LIMIT")]
    assert order(chain, live)["status"] == "resting"
    # without the bound in the way an ioc that finds nothing is IOC_UNFILLED, as before
    chain.ok("broker-a", "market", "cancel", order_id=stale[2])
    chain.ok("broker-a", "market", "cancel", order_id=live)
    outcome = place_outcome(chain, "gina", "buy", 10_000, 1, tif="ioc")
    assert cancelled(outcome) == [(outcome.result["order_id"], "IOC_UNFILLED")]


def test_self_trade_while_uncrossing_cancels_the_older_order(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import chaincode.market as market

    monkeypatch.setattr(market, "MAX_FILLS", 1)
    chain = market_chain()
    place(chain, "bob", "sell", 10_000, 1)
    own_ask = place(chain, "alice", "sell", 10_000, 1)["order_id"]
    own_bid = place(chain, "alice", "buy", 10_000, 2)["order_id"]  # one fill, then the limit
    assert order(chain, own_bid)["remaining"] == 1  # resting across alice's own ask
    outcome = place_outcome(chain, "dave", "buy", 9_000, 1)  # uncrossing runs first
    assert trades(outcome) == []
    assert cancelled(outcome) == [(own_ask, "SELF_TRADE")]
    assert order(chain, own_bid)["status"] == "resting"
    assert units(chain, "alice")["on_order"] == 0


def test_a_resting_buy_uncrossed_below_its_limit_gets_the_difference_back(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import chaincode.market as market

    monkeypatch.setattr(market, "MAX_FILLS", 1)
    chain = market_chain()
    place(chain, "alice", "sell", 9_000, 1)
    ask = place(chain, "bob", "sell", 9_500, 1)["order_id"]
    bid = place(chain, "gina", "buy", 10_000, 2)["order_id"]  # fills 9,000, then the limit
    assert cash(chain, "gina")["escrowed"] == 10_000  # the rest, at its limit
    outcome = place_outcome(chain, "dave", "buy", 8_000, 1)
    assert trades(outcome) == [(bid, ask, 9_500)]
    assert cash(chain, "gina") == {"account": chain["gina"], "balance": CASH - 9_000 - 9_500,
                                   "escrowed": 0, "available": CASH - 9_000 - 9_500}


# ---- the securities transaction tax -----------------------------------------------------------

def test_the_tax_is_rounded_down_to_the_won() -> None:
    chain = market_chain(market={"trade_tax_bps": 18})
    tax_before = cash(chain, "tax")["balance"]
    place(chain, "alice", "sell", 10_300, 1)
    place(chain, "gina", "buy", 10_300, 1)  # 10,300 x 0.18 % = 18.54 won
    assert cash(chain, "tax")["balance"] - tax_before == 18
    assert cash(chain, "alice")["balance"] == CASH + 10_300 - 18
    trade = chain.query("fss", "market", "trades", symbol="APT1")["trades"][0]
    assert (trade["value"], trade["tax"]) == (10_300, 18)
