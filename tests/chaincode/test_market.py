"""market: place checks in PROTOCOL order, role boundaries, escrow of units and cash, price-time
priority, DvP fills, the cancel-and-continue rule at fills, self-trade prevention, the fill cap,
reference price and band, KST sessions, halt, queries and their read access, key recovery."""

from __future__ import annotations

from typing import Any

import pytest

from chaincode import check_params
from chaincode.market import (
    MarketParamsError,
    check_market_params,
    compute_band,
    compute_session,
)
from chaincode.runtime import ChaincodeError
from tests.chaincode.helpers import DAY_MS, account_of
from tests.chaincode.market_helpers import (
    CASH,
    ORIGIN,
    UNIT_PRICE,
    UNITS,
    cash,
    kst_ms,
    market_chain,
    place,
    place_args,
    place_fails,
    place_outcome,
    raw,
    units,
)

# ---- parameters ------------------------------------------------------------------------------

WEEKLY = {"weekly": [{"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00",
                      "close": "15:30"}],
          "holidays": ["2026-01-01"]}


def test_market_params_defaults() -> None:
    assert check_params()["market"] == {"sessions": "always", "price_band_bps": 3000,
                                        "tick": 1, "trade_tax_bps": 0}
    assert check_market_params({"tick": 5})["price_band_bps"] == 3000
    assert check_market_params({"sessions": WEEKLY})["sessions"] == WEEKLY


@pytest.mark.parametrize(("value", "field"), [
    ([], ""),
    ({"colour": 1}, "colour"),
    ({"tick": 0}, "tick"),
    ({"tick": True}, "tick"),
    ({"price_band_bps": -1}, "price_band_bps"),
    ({"trade_tax_bps": 10_001}, "trade_tax_bps"),
    ({"sessions": "sometimes"}, "sessions"),
    ({"sessions": {"weekly": []}}, "sessions.weekly"),
    ({"sessions": {"weekly": [{"days": ["mon"], "open": "9:00", "close": "15:30"}]}},
     "sessions.weekly[0].open"),
    ({"sessions": {"weekly": [{"days": ["mon"], "open": "15:30", "close": "09:00"}]}},
     "sessions.weekly[0].close"),
    ({"sessions": {"weekly": [{"days": ["monday"], "open": "09:00", "close": "15:30"}]}},
     "sessions.weekly[0].days"),
    ({"sessions": {"weekly": [{"days": ["mon"], "open": "09:00", "close": "15:30"},
                              {"days": ["mon"], "open": "15:00", "close": "16:00"}]}},
     "sessions.weekly"),
    ({"sessions": dict(WEEKLY, holidays=["2026-02-30"])}, "sessions.holidays[0]"),
    ({"sessions": dict(WEEKLY, holidays=["2026-01-01", "2026-01-01"])}, "sessions.holidays"),
    ({"sessions": dict(WEEKLY, extra=1)}, "sessions.extra"),
])
def test_market_params_refused(value: Any, field: str) -> None:
    with pytest.raises(MarketParamsError) as caught:
        check_market_params(value)
    assert caught.value.field == field


def test_genesis_validates_params_market() -> None:
    import copy

    from genesis.builder import build_network
    from genesis.schema import GenesisError, parse_genesis

    document = build_network(1, base_port=20_000).genesis.document
    assert document["params"]["market"]["price_band_bps"] == 3000
    assert "market" in document["chaincode"]
    broken = copy.deepcopy(document)
    broken["params"]["market"]["sessions"] = {"weekly": [{"days": ["mon"], "open": "25:00",
                                                          "close": "26:00"}]}
    with pytest.raises(GenesisError) as caught:
        parse_genesis(broken)
    assert caught.value.field == "params.market.sessions.weekly[0].open"
    absent = copy.deepcopy(document)
    del absent["params"]["market"]  # an older genesis: the defaults apply
    assert "market" not in parse_genesis(absent).params


# ---- place: the checks in order --------------------------------------------------------------

def test_place_role_boundary() -> None:
    chain = market_chain()
    for caller in ("alice", "issuer-1", "ksd", "fss", "bank", "tax", "nobody"):
        chain.fail("UNAUTHORIZED", caller, "market", "place",
                   **place_args(chain, "alice", "sell", UNIT_PRICE, 1))


def test_place_bad_args() -> None:
    chain = market_chain()
    for bad in ({"symbol": "apt/1"}, {"account": "alice"}, {"side": "short"},
                {"media": "fax"}, {"origin": "not-a-hash"}, {"tif": "day"}):
        chain.fail("BAD_ARGS", "broker-a", "market", "place",
                   **dict(place_args(chain, "alice", "sell", UNIT_PRICE, 1), **bad))
    chain.fail("UNKNOWN_TOKEN", "broker-a", "market", "place",
               **dict(place_args(chain, "alice", "sell", UNIT_PRICE, 1), symbol="NONE"))


def test_place_checks_in_protocol_order() -> None:
    """Each step fixes the check that failed; the next one in PROTOCOL's order fails next."""
    chain = market_chain(lockup_ms=DAY_MS, allowed_countries=["KR"],
                         allowed_investor_types=["general", "corporate"])
    alice, bob = chain["alice"], chain["bob"]
    # a sell: units fresh from issuance, still locked; alice is AML high and her KYC expired
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=alice, amount=50)
    chain.ok("issuer-1", "token", "pause", symbol="APT1")
    chain.ok("ksd", "market", "halt", symbol="APT1", reason="news pending")
    args = ("alice", "sell", 14_000, UNITS + 60)  # off the band (+30% is 13,000), too many
    place_fails(chain, "MARKET_CLOSED", *args, broker="broker-b")
    chain.ok("ksd", "market", "resume", symbol="APT1")
    place_fails(chain, "NOT_YOUR_CLIENT", *args, broker="broker-b")
    place_fails(chain, "BAD_ORDER", "alice", "sell", 0, UNITS + 60)
    place_fails(chain, "PRICE_LIMIT", *args)
    args = ("alice", "sell", 13_000, UNITS + 60)
    place_fails(chain, "TOKEN_PAUSED", *args)
    chain.ok("issuer-1", "token", "unpause", symbol="APT1")
    place_fails(chain, "INSUFFICIENT_BALANCE", *args)
    chain.ok("broker-a", "identity", "update", account=alice,
             attrs={"kyc_expires": chain.time, "aml_risk": "high"})
    args = ("alice", "sell", 13_000, UNITS + 10)  # within 1,050 held, beyond 1,000 unlocked
    place_fails(chain, "SENDER_NOT_VERIFIED", *args)
    chain.ok("broker-a", "identity", "update", account=alice,
             attrs={"kyc_expires": chain.time + 10 * 365 * DAY_MS})
    place_fails(chain, "AML_BLOCKED", *args)
    chain.ok("broker-a", "identity", "update", account=alice, attrs={"aml_risk": "low"})
    place_fails(chain, "LOCKUP_ACTIVE", *args)
    assert place(chain, "alice", "sell", 13_000, UNITS)["status"] == "resting"

    # a buy: carol (professional, US) with too little cash
    chain.register("carol", investor_type="professional", country="US", aml_risk="high")
    carol = chain["carol"]
    chain.ok("bank", "cash", "mint", to=carol, amount=100)
    chain.ok("issuer-1", "token", "pause", symbol="APT1")
    place_fails(chain, "BAD_ORDER", "carol", "buy", 7_000, 0)
    place_fails(chain, "PRICE_LIMIT", "carol", "buy", 6_999, 1)  # -30% is 7,000
    place_fails(chain, "INSUFFICIENT_CASH", "carol", "buy", 7_000, 1)
    chain.ok("bank", "cash", "mint", to=carol, amount=7_000)
    place_fails(chain, "TOKEN_PAUSED", "carol", "buy", 7_000, 1)
    chain.ok("issuer-1", "token", "unpause", symbol="APT1")
    chain.ok("broker-a", "identity", "update", account=carol, attrs={"kyc_expires": 0})
    place_fails(chain, "RECIPIENT_NOT_VERIFIED", "carol", "buy", 7_000, 1)
    chain.ok("broker-a", "identity", "update", account=carol,
             attrs={"kyc_expires": chain.time + DAY_MS})
    place_fails(chain, "AML_BLOCKED", "carol", "buy", 7_000, 1)
    chain.ok("broker-a", "identity", "update", account=carol, attrs={"aml_risk": "low"})
    place_fails(chain, "INVESTOR_TYPE_NOT_ALLOWED", "carol", "buy", 7_000, 1)
    chain.ok("broker-a", "identity", "update", account=carol,
             attrs={"investor_type": "corporate"})
    place_fails(chain, "COUNTRY_NOT_ALLOWED", "carol", "buy", 7_000, 1)
    chain.ok("broker-a", "identity", "update", account=carol, attrs={"country": "KR"})
    assert place(chain, "carol", "buy", 7_000, 1)["status"] == "resting"
    assert bob  # bob holds units but takes no part


def test_bad_order_forms_and_tick() -> None:
    chain = market_chain(market={"tick": 50})
    for price, qty in ((0, 1), (-50, 1), (True, 1), (UNIT_PRICE, 0), (UNIT_PRICE, True),
                       (UNIT_PRICE, "1"), (UNIT_PRICE + 1, 1), (UNIT_PRICE, 2**62)):
        place_fails(chain, "BAD_ORDER", "alice", "sell", price, qty)  # type: ignore[arg-type]
    assert place(chain, "alice", "sell", UNIT_PRICE + 50, 1)["status"] == "resting"


def test_too_many_open_orders(monkeypatch: pytest.MonkeyPatch) -> None:
    import chaincode.market

    monkeypatch.setattr(chaincode.market, "MAX_OPEN_ORDERS", 2)
    chain = market_chain()
    place(chain, "alice", "sell", 11_000, 1)
    place(chain, "alice", "sell", 11_000, 1)
    place_fails(chain, "TOO_MANY_ORDERS", "alice", "sell", 11_000, 1)
    place(chain, "bob", "buy", 11_000, 1)  # fills one: alice has one open order again
    place(chain, "alice", "sell", 11_000, 1)


# ---- escrow ----------------------------------------------------------------------------------

def test_sell_escrow_is_not_available_and_can_transfer_agrees() -> None:
    chain = market_chain()
    result = place(chain, "alice", "sell", 11_000, 600)
    assert result == {"order_id": 1, "status": "resting", "filled": 0, "remaining": 600,
                      "trades": []}
    balance = units(chain, "alice")
    assert (balance["balance"], balance["on_order"], balance["available"]) == (UNITS, 600, 400)
    assert raw(chain, f"token/onorder/{chain['alice']}/APT1") == 600
    predicted = chain.query("ksd", "token", "can_transfer", symbol="APT1",
                            from_=chain["alice"], to=chain["bob"], amount=401)
    assert predicted["code"] == "INSUFFICIENT_BALANCE"
    chain.fail("INSUFFICIENT_BALANCE", "alice", "token", "transfer", symbol="APT1",
               to=chain["bob"], amount=401)
    place_fails(chain, "INSUFFICIENT_BALANCE", "alice", "sell", 11_000, 401)
    assert chain.query("ksd", "token", "can_transfer", symbol="APT1", from_=chain["alice"],
                       to=chain["bob"], amount=400)["ok"]
    chain.ok("alice", "token", "transfer", symbol="APT1", to=chain["bob"], amount=400)
    chain.fail("INSUFFICIENT_BALANCE", "issuer-1", "token", "redeem", symbol="APT1",
               from_=chain["alice"], amount=1)
    chain.ok("broker-a", "market", "cancel", order_id=1)
    balance = units(chain, "alice")
    assert (balance["balance"], balance["on_order"], balance["available"]) == (600, 0, 600)
    assert raw(chain, f"token/onorder/{chain['alice']}/APT1") is None


def test_buy_escrow_at_limit_price() -> None:
    chain = market_chain()
    place(chain, "gina", "buy", 9_000, 1_000)
    assert cash(chain, "gina") == {"account": chain["gina"], "balance": CASH,
                                   "escrowed": 9_000_000, "available": CASH - 9_000_000}
    chain.fail("INSUFFICIENT_BALANCE", "gina", "cash", "transfer", to=chain["bob"],
               amount=CASH - 9_000_000 + 1)
    chain.advance(3 * DAY_MS)  # past gina's withdrawal delay (chaincode.fds)
    chain.fail("INSUFFICIENT_BALANCE", "bank", "cash", "burn", from_=chain["gina"],
               amount=CASH - 9_000_000 + 1)
    place_fails(chain, "INSUFFICIENT_CASH", "gina", "buy", 13_000, 7_001)
    chain.ok("gina", "cash", "transfer", to=chain["bob"], amount=CASH - 9_000_000)
    chain.ok("ksd", "market", "cancel", order_id=1)
    assert cash(chain, "gina")["escrowed"] == 0 and cash(chain, "gina")["balance"] == 9_000_000


# ---- matching and settlement -----------------------------------------------------------------

def test_fill_is_delivery_versus_payment_at_the_resting_price() -> None:
    chain = market_chain(market={"trade_tax_bps": 18})  # 0.18%
    place(chain, "alice", "sell", 10_500, 100)
    tax_before = cash(chain, "tax")["balance"]
    outcome = place_outcome(chain, "gina", "buy", 11_000, 60)
    assert outcome.result == {"order_id": 2, "status": "filled", "filled": 60, "remaining": 0,
                              "trades": [1]}
    value, tax = 60 * 10_500, 60 * 10_500 * 18 // 10_000
    trade = next(event for event in outcome.events if event.name == "Trade")
    assert trade.data == {"trade_id": 1, "symbol": "APT1", "price": 10_500, "qty": 60,
                          "buy_order": 2, "sell_order": 1, "buyer": chain["gina"],
                          "seller": chain["alice"], "aggressor": "buy"}
    # an order that fills at once pays from its available cash: nothing escrowed, released
    assert [event.name for event in outcome.events] == [
        "OrderPlaced", "Transfer", "CashTransfer", "CashTransfer", "Trade"]
    assert units(chain, "gina")["balance"] == 60
    assert units(chain, "alice")["balance"] == UNITS - 60
    assert units(chain, "alice")["on_order"] == 40
    assert cash(chain, "gina") == {"account": chain["gina"], "balance": CASH - value,
                                   "escrowed": 0, "available": CASH - value}
    assert cash(chain, "alice")["balance"] == CASH + value - tax
    assert cash(chain, "tax")["balance"] == tax_before + tax
    sell = chain.query("ksd", "market", "order", order_id=1)
    assert (sell["status"], sell["filled"], sell["remaining"]) == ("resting", 60, 40)
    investment = chain.query("ksd", "token", "investment", account=chain["gina"])
    assert investment["net"] == value  # counted at the trade price, not unit_price


def test_price_time_priority_and_refund_below_limit() -> None:
    chain = market_chain()
    place(chain, "alice", "sell", 10_200, 10)  # 1
    place(chain, "bob", "sell", 10_100, 10)  # 2
    place(chain, "alice", "sell", 10_100, 10)  # 3: same price as 2, later
    place(chain, "bob", "sell", 10_300, 10)  # 4: beyond the buyer's limit
    result = place(chain, "gina", "buy", 10_200, 35)
    assert result["status"] == "resting" and result["filled"] == 30
    trades = chain.query("fss", "market", "trades", symbol="APT1")["trades"]
    assert [(t["sell_order"], t["price"], t["qty"]) for t in trades] == [
        (2, 10_100, 10), (3, 10_100, 10), (1, 10_200, 10)]
    paid = 20 * 10_100 + 10 * 10_200
    assert cash(chain, "gina") == {"account": chain["gina"], "balance": CASH - paid,
                                   "escrowed": 5 * 10_200,
                                   "available": CASH - paid - 5 * 10_200}
    book = chain.query("gina", "market", "book", symbol="APT1")
    assert book["bids"] == [{"price": 10_200, "qty": 5, "orders": 1}]
    assert book["asks"] == [{"price": 10_300, "qty": 10, "orders": 1}]
    place(chain, "alice", "sell", 10_400, 3)
    place(chain, "bob", "sell", 10_400, 4)
    book = chain.query("gina", "market", "book", symbol="APT1", depth=2)
    assert book["asks"] == [{"price": 10_300, "qty": 10, "orders": 1},
                            {"price": 10_400, "qty": 7, "orders": 2}]
    assert len(chain.query("gina", "market", "book", symbol="APT1", depth=1)["asks"]) == 1


def test_sell_aggressor_hits_best_bid_first() -> None:
    chain = market_chain()
    place(chain, "gina", "buy", 9_900, 10)
    place(chain, "dave", "buy", 10_000, 10)
    place(chain, "erin", "buy", 10_000, 10, broker="broker-b")
    result = place(chain, "alice", "sell", 9_900, 25)
    assert result["status"] == "filled"
    trades = chain.query("fss", "market", "trades", symbol="APT1")["trades"]
    assert [(t["buyer"], t["price"], t["qty"], t["aggressor"]) for t in trades] == [
        (chain["dave"], 10_000, 10, "sell"), (chain["erin"], 10_000, 10, "sell"),
        (chain["gina"], 9_900, 5, "sell")]
    assert cash(chain, "alice")["balance"] == CASH + 200_000 + 9_900 * 5


def test_ioc_remainder_is_cancelled() -> None:
    chain = market_chain()
    place(chain, "alice", "sell", 10_000, 10)
    outcome = place_outcome(chain, "gina", "buy", 10_000, 25, tif="ioc")
    assert outcome.result == {"order_id": 2, "status": "cancelled", "filled": 10,
                              "remaining": 15, "trades": [1]}
    cancelled = [e.data for e in outcome.events if e.name == "OrderCancelled"]
    assert cancelled == [{"order_id": 2, "symbol": "APT1", "account": chain["gina"],
                          "code": "IOC_UNFILLED", "filled": 10, "cancelled": 15}]
    assert cash(chain, "gina")["escrowed"] == 0
    assert chain.query("gina", "market", "book", symbol="APT1")["bids"] == []
    assert place(chain, "gina", "buy", 10_000, 5, tif="ioc")["status"] == "cancelled"


def test_self_trade_cancels_the_resting_order() -> None:
    chain = market_chain()
    place(chain, "alice", "sell", 10_000, 10)  # 1
    place(chain, "bob", "sell", 10_100, 10)  # 2
    outcome = place_outcome(chain, "alice", "buy", 10_100, 15)
    assert outcome.result["status"] == "resting" and outcome.result["filled"] == 10
    cancelled = [e.data for e in outcome.events if e.name == "OrderCancelled"]
    assert cancelled == [{"order_id": 1, "symbol": "APT1", "account": chain["alice"],
                          "code": "SELF_TRADE", "filled": 0, "cancelled": 10}]
    trades = chain.query("fss", "market", "trades", symbol="APT1")["trades"]
    assert [(t["seller"], t["buyer"]) for t in trades] == [(chain["bob"], chain["alice"])]
    assert units(chain, "alice")["on_order"] == 0


def test_resting_buyer_refused_at_fill_is_cancelled_and_matching_goes_on() -> None:
    chain = market_chain(max_holding_bps=10)  # 1,000 units of max_supply 1,000,000
    chain.ok("bob", "token", "transfer", symbol="APT1", to=chain["dave"], amount=995)
    place(chain, "dave", "buy", 10_100, 10)  # would hold 1,005 at the fill
    place(chain, "gina", "buy", 10_000, 10)
    outcome = place_outcome(chain, "alice", "sell", 10_000, 10)
    assert outcome.result["status"] == "filled"
    cancelled = [e.data for e in outcome.events if e.name == "OrderCancelled"]
    assert cancelled == [{"order_id": 1, "symbol": "APT1", "account": chain["dave"],
                          "code": "HOLDING_LIMIT_EXCEEDED", "filled": 0, "cancelled": 10}]
    assert cash(chain, "dave")["escrowed"] == 0
    assert units(chain, "gina")["balance"] == 10 and units(chain, "dave")["balance"] == 995
    order = chain.query("ksd", "market", "order", order_id=1)
    assert (order["status"], order["code"]) == ("cancelled", "HOLDING_LIMIT_EXCEEDED")


def test_incoming_buyer_refused_at_fill_cancels_its_remainder() -> None:
    # gina may buy 1,000,000 KRW a year: 100 units at unit_price, but 96 at 10,400
    chain = market_chain(limit=1_000_000, holders=("dave", "erin"))
    place(chain, "dave", "sell", 10_400, 90)
    place(chain, "erin", "sell", 10_400, 10, broker="broker-b")
    outcome = place_outcome(chain, "gina", "buy", 10_400, 100)
    assert outcome.result == {"order_id": 3, "status": "cancelled", "filled": 90,
                              "remaining": 10, "trades": [1]}
    cancelled = [e.data for e in outcome.events if e.name == "OrderCancelled"]
    assert [c["code"] for c in cancelled] == ["INVESTMENT_LIMIT_EXCEEDED"]
    assert cash(chain, "gina")["escrowed"] == 0
    assert cash(chain, "gina")["balance"] == CASH - 90 * 10_400
    assert chain.query("ksd", "market", "order", order_id=2)["status"] == "resting"


def test_investment_limit_counts_the_trade_price() -> None:
    # 97 units: 970,000 at unit_price, 1,008,800 at the trade price
    chain = market_chain(limit=1_000_000, holders=("dave",))
    place(chain, "dave", "sell", 10_400, 97)
    outcome = place_outcome(chain, "gina", "buy", 10_400, 97)
    assert outcome.result["status"] == "cancelled" and outcome.result["filled"] == 0
    assert [e.data["code"] for e in outcome.events if e.name == "OrderCancelled"] == [
        "INVESTMENT_LIMIT_EXCEEDED"]
    place(chain, "gina", "buy", 10_400, 96)  # 998,400 fits
    assert chain.query("ksd", "token", "investment", account=chain["gina"])["net"] == 998_400


def test_max_holders_checked_at_each_fill() -> None:
    chain = market_chain(max_holders=3)  # alice and bob hold; one more may join
    place(chain, "gina", "buy", 10_000, 5)
    place(chain, "dave", "buy", 10_000, 5)
    outcome = place_outcome(chain, "alice", "sell", 10_000, 10)
    assert outcome.result["filled"] == 5 and outcome.result["status"] == "resting"
    cancelled = [e.data for e in outcome.events if e.name == "OrderCancelled"]
    assert [(c["order_id"], c["code"]) for c in cancelled] == [(2, "MAX_HOLDERS_EXCEEDED")]


def test_seller_refused_at_fill_frozen_or_revoked() -> None:
    chain = market_chain()
    place(chain, "alice", "sell", 10_000, 10)  # 1
    place(chain, "bob", "sell", 10_000, 10)  # 2
    chain.ok("ksd", "token", "freeze", symbol="APT1", account=chain["alice"], amount=None)
    chain.ok("ksd", "identity", "revoke", account=chain["bob"], reason="fraud")
    balance = units(chain, "alice")
    assert balance["available"] == 0  # frozen and on order overlap: never negative
    outcome = place_outcome(chain, "gina", "buy", 10_000, 10)
    cancelled = [(e.data["order_id"], e.data["code"]) for e in outcome.events
                 if e.name == "OrderCancelled"]
    assert cancelled == [(1, "INSUFFICIENT_BALANCE"), (2, "SENDER_NOT_VERIFIED")]
    assert outcome.result["status"] == "resting" and outcome.result["filled"] == 0
    assert units(chain, "alice")["on_order"] == 0 and units(chain, "bob")["on_order"] == 0


def test_aml_high_party_is_the_one_cancelled() -> None:
    chain = market_chain()
    place(chain, "gina", "buy", 10_000, 10)
    chain.ok("broker-a", "identity", "update", account=chain["gina"],
             attrs={"aml_risk": "high"})
    outcome = place_outcome(chain, "alice", "sell", 10_000, 10)
    cancelled = [(e.data["order_id"], e.data["code"]) for e in outcome.events
                 if e.name == "OrderCancelled"]
    assert cancelled == [(1, "AML_BLOCKED")] and outcome.result["status"] == "resting"


def test_resting_buyer_no_longer_verified_is_cancelled() -> None:
    chain = market_chain()
    place(chain, "gina", "buy", 10_000, 10)  # 1: KYC expires before the fill
    place(chain, "dave", "buy", 10_000, 10)  # 2: revoked before the fill
    place(chain, "erin", "buy", 10_000, 10, broker="broker-b")  # 3: trades
    chain.ok("broker-a", "identity", "update", account=chain["gina"],
             attrs={"kyc_expires": chain.time + 1})
    chain.ok("broker-a", "identity", "revoke", account=chain["dave"], reason="closed")
    outcome = place_outcome(chain, "alice", "sell", 10_000, 10)
    cancelled = [(e.data["order_id"], e.data["code"]) for e in outcome.events
                 if e.name == "OrderCancelled"]
    assert cancelled == [(1, "RECIPIENT_NOT_VERIFIED"), (2, "RECIPIENT_NOT_VERIFIED")]
    assert outcome.result["status"] == "filled" and units(chain, "erin")["balance"] == 10
    assert cash(chain, "gina")["escrowed"] == 0 and cash(chain, "dave")["escrowed"] == 0


def test_at_most_64_fills_per_transaction() -> None:
    chain = market_chain()
    for _ in range(70):
        place(chain, "alice", "sell", 10_000, 1)
    result = place(chain, "gina", "buy", 10_000, 70)
    assert len(result["trades"]) == 64
    assert (result["status"], result["filled"], result["remaining"]) == ("resting", 64, 6)
    book = chain.query("gina", "market", "book", symbol="APT1")  # crossed, for now
    assert book["bids"] == [{"price": 10_000, "qty": 6, "orders": 1}]
    assert book["asks"] == [{"price": 10_000, "qty": 6, "orders": 6}]
    # the next place first lets gina's remainder go on matching, then takes its own turn
    outcome = place_outcome(chain, "dave", "buy", 10_000, 10, tif="ioc")
    trades = [e.data for e in outcome.events if e.name == "Trade"]
    assert [(t["buy_order"], t["aggressor"]) for t in trades] == [(71, "buy")] * 6
    assert outcome.result == {"order_id": 72, "status": "cancelled", "filled": 0,
                              "remaining": 10, "trades": []}
    assert chain.query("ksd", "market", "order", order_id=71)["status"] == "filled"
    book = chain.query("gina", "market", "book", symbol="APT1")
    assert book["bids"] == [] and book["asks"] == []
    assert units(chain, "gina")["balance"] == 70 and cash(chain, "gina")["escrowed"] == 0


# ---- cancel and halt -------------------------------------------------------------------------

def test_cancel_roles_and_codes() -> None:
    chain = market_chain()
    place(chain, "alice", "sell", 10_000, 10)
    for caller in ("alice", "fss", "issuer-1", "bank"):
        chain.fail("UNAUTHORIZED", caller, "market", "cancel", order_id=1)
    chain.fail("NOT_YOUR_CLIENT", "broker-b", "market", "cancel", order_id=1)
    chain.fail("UNKNOWN_ORDER", "broker-a", "market", "cancel", order_id=99)
    chain.fail("BAD_ARGS", "broker-a", "market", "cancel", order_id="1")
    outcome = chain.execute(chain["broker-a"], "market", "cancel", {"order_id": 1})
    assert outcome.ok and outcome.result["code"] == "CANCELLED"
    assert [e.name for e in outcome.events] == ["OrderCancelled"]
    chain.fail("ORDER_CLOSED", "ksd", "market", "cancel", order_id=1)
    place(chain, "erin", "buy", 9_000, 10, broker="broker-b")
    chain.ok("ksd", "market", "cancel", order_id=2)
    assert cash(chain, "erin")["escrowed"] == 0


def test_halt_keeps_resting_orders() -> None:
    chain = market_chain()
    place(chain, "alice", "sell", 10_000, 10)
    for caller in ("broker-a", "fss", "issuer-1"):
        chain.fail("UNAUTHORIZED", caller, "market", "halt", symbol="APT1", reason="x")
    chain.fail("UNKNOWN_TOKEN", "ksd", "market", "halt", symbol="NONE", reason="x")
    chain.fail("NOT_HALTED", "ksd", "market", "resume", symbol="APT1")
    chain.ok("ksd", "market", "halt", symbol="APT1", reason="disclosure")
    chain.fail("ALREADY_HALTED", "ksd", "market", "halt", symbol="APT1", reason="again")
    place_fails(chain, "MARKET_CLOSED", "gina", "buy", 10_000, 10)
    quote = chain.query("gina", "market", "quote", symbol="APT1")
    assert quote["halted"] and quote["best_ask"] == 10_000
    chain.fail("UNAUTHORIZED", "broker-a", "market", "resume", symbol="APT1")
    chain.ok("ksd", "market", "resume", symbol="APT1")
    assert place(chain, "gina", "buy", 10_000, 10)["status"] == "filled"


# ---- reference price, band, sessions ---------------------------------------------------------

def test_reference_price_is_the_previous_trading_days_last_trade() -> None:
    chain = market_chain()
    chain.time = kst_ms(2023, 11, 20, 10)  # a Monday
    quote = chain.query("gina", "market", "quote", symbol="APT1")
    assert (quote["reference_price"], quote["band"]) == (
        UNIT_PRICE, {"bps": 3000, "low": 7_000, "high": 13_000})
    place_fails(chain, "PRICE_LIMIT", "alice", "sell", 13_001, 1)
    place(chain, "alice", "sell", 13_000, 10)
    place(chain, "gina", "buy", 13_000, 5)
    place(chain, "gina", "buy", 12_000, 1)  # rests
    place(chain, "alice", "sell", 12_000, 1)  # last trade of Monday: 12,000
    quote = chain.query("gina", "market", "quote", symbol="APT1")
    assert (quote["last_price"], quote["reference_price"], quote["day_volume"]) == (
        12_000, UNIT_PRICE, 6)
    place_fails(chain, "PRICE_LIMIT", "gina", "buy", 13_001, 1)  # same day: same reference
    chain.time = kst_ms(2023, 11, 20, 23, 59, 59_000)
    assert chain.query("gina", "market", "quote", symbol="APT1")["reference_price"] == UNIT_PRICE
    chain.time = kst_ms(2023, 11, 21, 0)  # Tuesday in Seoul (still Monday in UTC)
    quote = chain.query("gina", "market", "quote", symbol="APT1")
    assert (quote["reference_price"], quote["day_volume"]) == (12_000, 0)
    assert quote["band"] == {"bps": 3000, "low": 8_400, "high": 15_600}
    place(chain, "gina", "buy", 15_600, 1)  # fills the rest of alice's 13,000 order
    assert chain.query("gina", "market", "quote", symbol="APT1")["reference_price"] == 12_000
    chain.time = kst_ms(2023, 11, 23, 12)  # no trade on Wednesday; Thursday
    assert chain.query("gina", "market", "quote", symbol="APT1")["reference_price"] == 13_000
    place_fails(chain, "PRICE_LIMIT", "gina", "buy", 16_901, 1)


def test_band_arithmetic() -> None:
    assert compute_band(10_000, 3000) == (7_000, 13_000)
    assert compute_band(10_001, 3000) == (7_001, 13_001)  # low rounds up, high down
    assert compute_band(3, 10_000) == (1, 6)
    assert compute_band(10_000, 0) is None
    chain = market_chain(market={"price_band_bps": 0})
    assert place(chain, "alice", "sell", 10**9, 1)["status"] == "resting"


def test_weekly_sessions_in_kst_on_both_sides_of_the_bell() -> None:
    sessions = dict(WEEKLY, holidays=["2023-11-23"])
    assert compute_session(sessions, kst_ms(2023, 11, 20, 8, 59, 59_999)) is None
    monday = kst_ms(2023, 11, 20, 9)
    assert compute_session(sessions, monday) == monday
    assert compute_session(sessions, kst_ms(2023, 11, 20, 15, 29, 59_999)) == monday
    assert compute_session(sessions, kst_ms(2023, 11, 20, 15, 30)) is None
    assert compute_session(sessions, kst_ms(2023, 11, 23, 10)) is None  # holiday
    assert compute_session(sessions, kst_ms(2023, 11, 25, 10)) is None  # Saturday
    assert compute_session("always", 0) == 0

    chain = market_chain(market={"sessions": sessions})
    chain.time = kst_ms(2023, 11, 20, 8, 59, 59_999)
    place_fails(chain, "MARKET_CLOSED", "alice", "sell", 10_000, 10)
    chain.time = monday
    place(chain, "alice", "sell", 10_000, 10)  # order 1, Monday's session
    chain.time = kst_ms(2023, 11, 20, 15, 29, 59_999)
    place(chain, "bob", "sell", 10_100, 10)  # order 2, the last millisecond
    assert units(chain, "alice")["on_order"] == 10
    chain.time = kst_ms(2023, 11, 20, 15, 30)  # the close: this block's hook expires both
    outcome = chain.execute(chain["broker-a"], "market", "place",
                            place_args(chain, "gina", "buy", 10_000, 10))
    assert outcome.error is not None and outcome.error["code"] == "MARKET_CLOSED"
    assert [(e.data["order_id"], e.data["code"]) for hook in chain.hook_outcomes
            for e in hook.events if e.name == "OrderCancelled"] == [(1, "EXPIRED"),
                                                                    (2, "EXPIRED")]
    assert chain.query("gina", "market", "book", symbol="APT1") == {
        "symbol": "APT1", "open": False, "halted": False, "bids": [], "asks": []}
    chain.fail("ORDER_CLOSED", "broker-a", "market", "cancel", order_id=2)
    chain.time = kst_ms(2023, 11, 23, 10)
    place_fails(chain, "MARKET_CLOSED", "gina", "buy", 10_000, 10)
    chain.time = kst_ms(2023, 11, 21, 9, 0, 1)  # Tuesday: a new book, Monday's orders gone
    outcome = place_outcome(chain, "gina", "buy", 10_000, 10)
    assert [e.name for e in outcome.events if e.name == "OrderCancelled"] == []
    assert outcome.result["status"] == "resting" and outcome.result["filled"] == 0
    assert units(chain, "alice")["on_order"] == 0


# ---- queries and read access -----------------------------------------------------------------

def test_public_queries_need_a_registered_reader() -> None:
    chain = market_chain()
    place(chain, "alice", "sell", 10_000, 10)
    place(chain, "gina", "buy", 10_000, 4)
    for method, args in (("book", {"symbol": "APT1"}), ("quote", {"symbol": "APT1"}),
                         ("trades", {"symbol": "APT1"})):
        with pytest.raises(ChaincodeError) as caught:
            chain.query("nobody", "market", method, **args)
        assert caught.value.code == "FORBIDDEN"
        chain.query("erin", "market", method, **args)
    public = chain.query("erin", "market", "trades", symbol="APT1")["trades"][0]
    assert "buyer" not in public and "seller" not in public
    assert set(public) == {"trade_id", "symbol", "price", "qty", "aggressor", "height", "time"}
    for reader in ("ksd", "fss"):
        full = chain.query(reader, "market", "trades", symbol="APT1")["trades"][0]
        assert (full["buyer"], full["seller"]) == (chain["gina"], chain["alice"])
    with pytest.raises(ChaincodeError) as caught:
        chain.query("erin", "market", "book", symbol="NONE")
    assert caught.value.code == "UNKNOWN_TOKEN"


def test_trades_paging() -> None:
    chain = market_chain()
    for _ in range(5):
        place(chain, "alice", "sell", 10_000, 1)
    place(chain, "gina", "buy", 10_000, 5)
    page = chain.query("gina", "market", "trades", symbol="APT1", limit=2)
    assert [t["trade_id"] for t in page["trades"]] == [1, 2] and page["next"] == 2
    page = chain.query("gina", "market", "trades", symbol="APT1", after=2, limit=3)
    assert [t["trade_id"] for t in page["trades"]] == [3, 4, 5] and page["next"] is None


def test_order_read_access() -> None:
    chain = market_chain()
    place(chain, "alice", "sell", 10_000, 10)
    for reader in ("alice", "broker-a", "ksd", "fss"):
        assert chain.query(reader, "market", "order", order_id=1)["origin"] == ORIGIN
        orders = chain.query(reader, "market", "orders", account=chain["alice"])
        assert [order["order_id"] for order in orders["orders"]] == [1]
    for reader in ("bob", "broker-b", "issuer-1", "bank", "nobody"):
        for method, args in (("order", {"order_id": 1}),
                             ("orders", {"account": chain["alice"]})):
            with pytest.raises(ChaincodeError) as caught:
                chain.query(reader, "market", method, **args)
            assert caught.value.code == "FORBIDDEN", (reader, method)


def test_state_keys_list_orders_and_trades_by_symbol_and_account() -> None:
    chain = market_chain()
    place(chain, "alice", "sell", 10_000, 10)
    place(chain, "gina", "buy", 10_000, 4)
    keys = sorted(key for key in chain.state.values if key.startswith("market/"))
    alice, gina = chain["alice"], chain["gina"]
    assert f"market/sym/APT1/{1:012d}" in keys and f"market/sym/APT1/{2:012d}" in keys
    assert f"market/acct/{alice}/{1:012d}" in keys and f"market/acct/{gina}/{2:012d}" in keys
    assert f"market/open/{alice}/{1:012d}" in keys
    assert f"market/open/{gina}/{2:012d}" not in keys  # filled
    assert f"market/tsym/APT1/{1:012d}" in keys
    assert f"market/tacct/{alice}/{1:012d}" in keys and f"market/tacct/{gina}/{1:012d}" in keys
    assert raw(chain, "market/trade/000000000001")["value"] == 40_000
    assert raw(chain, f"market/level/APT1/{0:016d}/s/{10_000:019d}") == {
        "price": 10_000, "qty": 6, "orders": 1}


# ---- key recovery ----------------------------------------------------------------------------

def test_recover_carries_open_orders_and_their_escrow() -> None:
    chain = market_chain()
    place(chain, "alice", "sell", 10_000, 10)  # 1
    place(chain, "alice", "buy", 9_000, 10)  # 2
    old, new = chain["alice"], account_of("alice-new")
    chain.ok("ksd", "token", "recover", old=old, new=new, reason="lost key")
    assert raw(chain, f"token/onorder/{new}/APT1") == 10
    assert raw(chain, f"token/onorder/{old}/APT1") is None
    assert raw(chain, f"cash/escrowed/{new}") == 90_000
    assert raw(chain, f"cash/escrowed/{old}") is None
    assert raw(chain, f"market/nopen/{new}") == 2
    assert chain.query("ksd", "market", "order", order_id=1)["account"] == new
    chain.accounts["alice"] = new
    place(chain, "gina", "buy", 10_000, 10)
    assert units(chain, "alice")["balance"] == UNITS - 10
    place(chain, "bob", "sell", 9_000, 10)
    assert units(chain, "alice")["balance"] == UNITS
    assert cash(chain, "alice")["escrowed"] == 0
