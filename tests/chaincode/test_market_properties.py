"""Property tests of the market over random order streams (with cancels, freezes, AML flags,
KYC revoked or lapsed, a broker revoked, direct and forced transfers, issuance, halts, holds
and time passing in between):

- units and cash are conserved: outstanding = sum of balances, cash supply = sum of balances,
  and the escrow (units and cash on order) is exactly what the open orders offer;
- no trade violates a transfer rule, checked by an oracle written here, apart from
  chaincode.compliance;
- the book is never crossed after a transaction, its price levels add up, and each side's
  head is its best order;
- every trade's price is inside its day's band (worked out here from the last prices);
- with two sessions a day, no order of a closed session rests after the next block;
- every fill's buyer received exactly the units and its seller exactly the cash less tax;
- can_transfer keeps predicting transfer with units on order;
- the same stream on two fresh chains gives byte-identical state and receipts;
- a held account's balances never move out (chaincode.fds): no trade names an account under a
  trading or all hold, no unit leaves one under an all hold but by a forced transfer, and no
  won leaves one under a withdrawals hold but by a fill's cash leg; once a block has begun
  after a trading (or all) hold, no order the account placed before it still rests.
"""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from chaincode import fds, market
from chaincode.runtime import Outcome
from consensus import codec
from tests.chaincode.helpers import DAY_MS, Chain
from tests.chaincode.market_helpers import ORIGIN

NAMES = ["alice", "bob", "carol", "dave", "erin", "gina"]
BROKER = {"erin": "broker-b"}
MAX_SUPPLY = 1_000
HOLDING_BPS = 1_500  # 150 units
MAX_HOLDERS = 4  # alice, bob, dave and erin hold at the start; gina joins when one leaves
GENERAL_LIMIT = 1_600_000  # KRW a general investor may buy in 365 days
LOCKUP_MS = DAY_MS // 2
TAX_BPS = 25

name = st.sampled_from(NAMES)
price = st.sampled_from([8_000, 9_000, 9_500, 10_000, 10_500, 11_000, 12_500])
qty = st.integers(min_value=1, max_value=30)

OPERATIONS = [  # (weight in percent, strategy)
    (48, st.tuples(st.just("place"), name, st.sampled_from(["buy", "sell"]), price, qty,
                   st.sampled_from(["gtc", "gtc", "ioc"]))),
    (1, st.tuples(st.just("revoke"), name)),  # KYC revoked by the investor's broker
    (1, st.tuples(st.just("kyc_lapse"), name)),  # KYC expires now
    (1, st.tuples(st.just("revoke_broker"))),  # broker-b (erin's) is no longer a broker
    (9, st.tuples(st.just("cancel"), st.integers(min_value=1, max_value=60))),
    (3, st.tuples(st.just("force"), name, name, qty)),
    (1, st.tuples(st.just("halt"))),
    (1, st.tuples(st.just("resume"))),
    (6, st.tuples(st.just("advance"), st.integers(min_value=0, max_value=2 * DAY_MS))),
    (5, st.tuples(st.just("freeze"), name, st.one_of(st.none(), qty))),
    (4, st.tuples(st.just("unfreeze"), name)),
    (4, st.tuples(st.just("aml"), name, st.sampled_from(["low", "high"]))),
    (5, st.tuples(st.just("transfer"), name, name, qty)),
    (4, st.tuples(st.just("issue"), name, qty)),
    (4, st.tuples(st.just("hold"), name, st.sampled_from(["withdrawals", "trading", "all"]))),
    (2, st.tuples(st.just("release"), st.integers(min_value=1, max_value=6))),
    (1, st.tuples(st.just("pay"), name, name, st.integers(min_value=1, max_value=50_000))),
]


def _pick(draw: int) -> st.SearchStrategy[tuple[Any, ...]]:
    for weight, strategy in OPERATIONS:
        if draw < weight:
            return strategy
        draw -= weight
    raise AssertionError("weights sum to 100")


operation = st.integers(min_value=0, max_value=99).flatmap(_pick)


EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
TWO_SESSIONS = {"weekly": [{"days": EVERY_DAY, "open": "00:00", "close": "12:00"},
                           {"days": EVERY_DAY, "open": "13:00", "close": "24:00"}]}


def fresh_chain(sessions: Any = "always") -> Chain:
    chain = Chain({"general_investor_annual_limit": GENERAL_LIMIT,
                   "market": {"trade_tax_bps": TAX_BPS, "sessions": sessions}})
    for person in ("alice", "bob", "gina"):
        chain.register(person)
    chain.register("carol", investor_type="professional", country="US", resident=False)
    chain.register("dave", investor_type="corporate")
    chain.register("erin", broker="broker-b", investor_type="qualified")
    chain.create_token(unit_price=10_000, max_supply=MAX_SUPPLY, max_holders=MAX_HOLDERS,
                       max_holding_bps=HOLDING_BPS, allowed_countries=["KR"],
                       lockup_ms=LOCKUP_MS)
    for person, amount in (("alice", 100), ("bob", 100), ("dave", 120), ("erin", 80)):
        chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain[person], amount=amount)
    for person in NAMES:
        chain.ok("bank", "cash", "mint", to=chain[person], amount=3_000_000)
    chain.advance(LOCKUP_MS)
    return chain


def run(chain: Chain, op: tuple[Any, ...]) -> Outcome | None:
    kind = op[0]
    if kind == "place":
        _, person, side, limit, units, tif = op
        return chain.execute(chain[BROKER.get(person, "broker-a")], "market", "place", {
            "symbol": "APT1", "account": chain[person], "side": side, "price": limit,
            "qty": units, "media": "mts", "origin": ORIGIN, "tif": tif})
    if kind == "cancel":
        return chain.execute(chain["ksd"], "market", "cancel", {"order_id": op[1]})
    if kind == "advance":
        chain.advance(op[1])
        return None
    if kind == "freeze":
        return chain.execute(chain["ksd"], "token", "freeze",
                             {"symbol": "APT1", "account": chain[op[1]], "amount": op[2]})
    if kind == "unfreeze":
        return chain.execute(chain["ksd"], "token", "unfreeze",
                             {"symbol": "APT1", "account": chain[op[1]], "amount": None})
    if kind == "aml":
        return chain.execute(chain[BROKER.get(op[1], "broker-a")], "identity", "update",
                             {"account": chain[op[1]], "attrs": {"aml_risk": op[2]}})
    if kind == "revoke":
        return chain.execute(chain[BROKER.get(op[1], "broker-a")], "identity", "revoke",
                             {"account": chain[op[1]], "reason": "KYC revoked"})
    if kind == "kyc_lapse":
        return chain.execute(chain[BROKER.get(op[1], "broker-a")], "identity", "update",
                             {"account": chain[op[1]], "attrs": {"kyc_expires": chain.time}})
    if kind == "revoke_broker":
        return chain.execute(chain["ksd"], "identity", "revoke",
                             {"account": chain["broker-b"], "reason": "licence withdrawn"})
    if kind == "transfer":
        sender, to, units = chain[op[1]], chain[op[2]], op[3]
        predicted = chain.query("ksd", "token", "can_transfer", symbol="APT1", from_=sender,
                                to=to, amount=units)
        outcome = chain.execute(sender, "token", "transfer",
                                {"symbol": "APT1", "to": to, "amount": units})
        assert predicted["code"] == ("OK" if outcome.ok else outcome.error["code"]), (  # type: ignore[index]
            predicted, outcome.error)
        return outcome
    if kind == "force":
        return chain.execute(chain["ksd"], "token", "force_transfer", {
            "symbol": "APT1", "from": chain[op[1]], "to": chain[op[2]], "amount": op[3],
            "reason": "court order"})
    if kind == "halt":
        return chain.execute(chain["ksd"], "market", "halt", {"symbol": "APT1", "reason": "t"})
    if kind == "resume":
        return chain.execute(chain["ksd"], "market", "resume", {"symbol": "APT1"})
    if kind == "issue":
        return chain.execute(chain["issuer-1"], "token", "issue",
                             {"symbol": "APT1", "to": chain[op[1]], "amount": op[2]})
    if kind == "hold":
        return chain.execute(chain["ksd"], "fds", "hold",
                             {"account": chain[op[1]], "scope": op[2], "reason": "alert"})
    if kind == "release":
        return chain.execute(chain["ksd"], "fds", "release",
                             {"hold_id": op[1], "reason": "cleared"})
    if kind == "pay":
        return chain.execute(chain[op[1]], "cash", "transfer",
                             {"to": chain[op[2]], "amount": op[3]})
    raise AssertionError(kind)


def check_holds_unwound(chain: Chain) -> None:
    """A trading (or all) hold takes the account's orders off the book: once a block has
    begun after the hold's, no order placed before it still rests (MAX_UNWIND_PER_BLOCK
    exceeds what a stream can place, so one block is enough here)."""
    resting = [order for order in values(chain, "market/order/").values()
               if order["status"] == "resting"]
    for hold in values(chain, "fds/hold/").values():
        if hold["status"] != "active" or hold["scope"] == "withdrawals":
            continue
        if hold["height"] >= chain.height - 1:
            continue  # the hold's own block is the last one: the hook has not run since
        assert not [order["order_id"] for order in resting
                    if order["account"] == hold["account"]
                    and order["placed_height"] <= hold["height"]], hold


def held_scopes(chain: Chain) -> dict[str, set[str]]:
    """Each account's active hold scopes, read from the hold records."""
    scopes: dict[str, set[str]] = {}
    for hold in values(chain, "fds/hold/").values():
        if hold["status"] == "active":
            scopes.setdefault(hold["account"], set()).add(hold["scope"])
    return scopes


def check_holds(held: dict[str, set[str]], before: dict[str, Any], after: dict[str, Any],
                op: tuple[Any, ...], outcome: Outcome | None) -> None:
    """A held account's balances never move out (the accounts held before the operation)."""
    trades = [] if outcome is None or not outcome.ok else [
        item.data for item in outcome.events if item.name == "Trade"]
    for account, scopes in held.items():
        if scopes & {"trading", "all"}:
            assert all(account not in (trade["buyer"], trade["seller"]) for trade in trades)
        units_out = before["units"].get(account, 0) - after["units"].get(account, 0)
        if "all" in scopes and not (op[0] == "force" and outcome is not None and outcome.ok):
            assert units_out <= 0, (op, scopes)
        paid = sum(trade["price"] * trade["qty"] for trade in trades if trade["buyer"] == account)
        cash_out = before["cash"].get(account, 0) - after["cash"].get(account, 0)
        if scopes & {"withdrawals", "all"}:
            assert cash_out <= paid, (op, scopes)


# ---- reading state directly (the test's own view, not the contracts') ------------------------

def values(chain: Chain, prefix: str) -> dict[str, Any]:
    return {key[len(prefix):]: codec.unpack(raw) for key, raw in chain.state.values.items()
            if key.startswith(prefix)}


def snapshot(chain: Chain) -> dict[str, Any]:
    return {"units": {account: holding["balance"] for account, holding
                      in values(chain, "token/bal/APT1/").items()},
            "cash": values(chain, "cash/bal/"),
            "token": codec.unpack(chain.state.values["token/meta/APT1"]),
            "stats": values(chain, "market/stats/").get("APT1")}


def band_of(before: dict[str, Any], time: int) -> tuple[int, int]:
    """The day's band (+-30 %) worked out from the last prices before a transaction."""
    day = (time + 9 * 3_600_000) // DAY_MS  # the KST day
    stats = before["stats"]
    if stats is None:
        reference = before["token"]["unit_price"]
    else:
        reference = stats["last_price"] if stats["day"] < day else stats["prev_close"]
    return -(-reference * 7 // 10), reference * 13 // 10


def check_conservation_and_escrow(chain: Chain) -> None:
    token = codec.unpack(chain.state.values["token/meta/APT1"])
    holdings = values(chain, "token/bal/APT1/")
    assert sum(holding["balance"] for holding in holdings.values()) == token["outstanding"]
    assert token["holders"] == len(holdings)
    balances = values(chain, "cash/bal/")
    assert sum(balances.values()) == values(chain, "cash/").get("supply", 0)
    orders = [order for order in values(chain, "market/order/").values()
              if order["status"] == "resting"]
    units_on_order: dict[str, int] = {}
    cash_on_order: dict[str, int] = {}
    for order in orders:
        assert order["remaining"] > 0 and order["filled"] + order["remaining"] == order["qty"]
        if order["side"] == "sell":
            units_on_order[order["account"]] = (units_on_order.get(order["account"], 0)
                                                + order["remaining"])
        else:
            cash_on_order[order["account"]] = (cash_on_order.get(order["account"], 0)
                                               + order["remaining"] * order["price"])
    assert {key.split("/")[0]: units for key, units
            in values(chain, "token/onorder/").items()} == units_on_order
    assert values(chain, "cash/escrowed/") == cash_on_order  # no dividends in these streams
    assert {ref: escrow["amount"] for ref, escrow in values(chain, "cash/escrow/").items()} == {
        f"market/{order['order_id']:012d}": order["remaining"] * order["price"]
        for order in orders if order["side"] == "buy"}
    for account, held in cash_on_order.items():
        assert held <= balances.get(account, 0)
    open_count: dict[str, int] = {}
    for order in orders:
        open_count[order["account"]] = open_count.get(order["account"], 0) + 1
    assert values(chain, "market/nopen/") == open_count


def check_book(chain: Chain, may_be_crossed: bool = False) -> bool:
    """Book entries, price levels and open orders agree; the book is not crossed unless
    `may_be_crossed`. Returns whether it is crossed."""
    book = values(chain, "market/book/APT1/")
    levels = values(chain, "market/level/APT1/")
    resting = {order["order_id"]: order for order in values(chain, "market/order/").values()
               if order["status"] == "resting"}
    assert sorted(book.values()) == sorted(resting)
    summed: dict[str, dict[str, int]] = {}
    for key, order_id in book.items():
        level = key.rsplit("/", 1)[0]
        order = resting[order_id]
        entry = summed.setdefault(level, {"price": order["price"], "qty": 0, "orders": 0})
        entry["qty"] += order["remaining"]
        entry["orders"] += 1
    assert levels == summed
    heads = values(chain, "market/head/APT1/")
    best: dict[str, list[Any]] = {}
    for key in sorted(book):  # price-time order within each (session, side)
        best.setdefault(key.rsplit("/", 2)[0], [f"book/APT1/{key}", 0])[1] += 1
    assert heads == best, "a head is not its side's best order and count"
    bids = [order["price"] for order in resting.values() if order["side"] == "buy"]
    asks = [order["price"] for order in resting.values() if order["side"] == "sell"]
    crossed = bool(bids and asks and max(bids) >= min(asks))
    assert may_be_crossed or not crossed, "crossed book"
    return crossed


MATCHING_CANCELS = frozenset({"EXPIRED", "IOC_UNFILLED", "CANCELLED"})  # not matching's


def hit_a_limit(outcome: Outcome, max_fills: int, max_cancels: int) -> bool:
    """Whether a place stopped at the per-transaction fill or cancellation limit."""
    fills = sum(1 for item in outcome.events if item.name == "Trade")
    cancels = sum(1 for item in outcome.events if item.name == "OrderCancelled"
                  and item.data["code"] not in MATCHING_CANCELS
                  and item.data["order_id"] != outcome.result["order_id"])
    return fills >= max_fills or cancels >= max_cancels


def check_fills(chain: Chain, before: dict[str, Any], after: dict[str, Any],
                outcome: Outcome, time: int) -> None:
    """Balances moved exactly as the trades say, and each trade obeys the transfer rules."""
    trades = [event.data for event in outcome.events if event.name == "Trade"]
    records = [codec.unpack(chain.state.values[f"market/trade/{trade['trade_id']:012d}"])
               for trade in trades]
    tax_account = codec.unpack(chain.state.values["identity/tax_account"])
    units_delta: dict[str, int] = {}
    cash_delta: dict[str, int] = {}
    for trade, record in zip(trades, records, strict=True):
        assert {name: record[name] for name in trade} == trade
        assert record["value"] == record["price"] * record["qty"]
        assert record["tax"] == record["value"] * TAX_BPS // 10_000
        low, high = band_of(before, time)
        assert low <= record["price"] <= high, "a trade outside the day's band"
        buyer, seller = trade["buyer"], trade["seller"]
        assert buyer != seller
        units_delta[buyer] = units_delta.get(buyer, 0) + trade["qty"]
        units_delta[seller] = units_delta.get(seller, 0) - trade["qty"]
        cash_delta[buyer] = cash_delta.get(buyer, 0) - record["value"]
        cash_delta[seller] = cash_delta.get(seller, 0) + record["value"] - record["tax"]
        cash_delta[tax_account] = cash_delta.get(tax_account, 0) + record["tax"]
        check_transfer_rules(chain, before, after, record, time)
    for account in set(before["units"]) | set(after["units"]):
        moved = after["units"].get(account, 0) - before["units"].get(account, 0)
        assert moved == units_delta.get(account, 0), account
    for account in set(before["cash"]) | set(after["cash"]):
        moved = after["cash"].get(account, 0) - before["cash"].get(account, 0)
        assert moved == cash_delta.get(account, 0), account


def check_transfer_rules(chain: Chain, before: dict[str, Any], after: dict[str, Any],
                         trade: dict[str, Any], time: int) -> None:
    """An oracle of the rules (not chaincode.compliance): the parties may trade at all."""
    token = after["token"]
    assert not token["paused"]
    for account in (trade["buyer"], trade["seller"]):
        record = codec.unpack(chain.state.values[f"identity/account/{account}"])
        assert record["status"] == "active" and time < record["attrs"]["kyc_expires"]
        assert record["attrs"]["aml_risk"] != "high"
    buyer = codec.unpack(chain.state.values[f"identity/account/{trade['buyer']}"])
    assert buyer["attrs"]["country"] == "KR"
    assert after["units"][trade["buyer"]] * 10_000 <= MAX_SUPPLY * HOLDING_BPS
    assert token["holders"] <= max(MAX_HOLDERS, before["token"]["holders"])
    if buyer["attrs"]["investor_type"] == "general":
        investment = chain.query("ksd", "token", "investment", account=trade["buyer"])
        assert investment["net"] <= GENERAL_LIMIT
    seller_holding = codec.unpack(chain.state.values.get(
        f"token/bal/APT1/{trade['seller']}") or codec.pack(
        {"balance": 0, "frozen": 0, "locks": []}))
    locked = sum(amount for until, amount in seller_holding["locks"] if until > time)
    on_order = codec.unpack(chain.state.values.get(f"token/onorder/{trade['seller']}/APT1")
                            or codec.pack(0))
    # the seller delivered only units that were free: not frozen, locked or on other orders
    assert seller_holding["balance"] >= seller_holding["frozen"] + locked + on_order


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(operation, min_size=10, max_size=45))
def test_random_order_streams_keep_the_market_sound(ops: list[tuple[Any, ...]]) -> None:
    run_stream(ops, market.MAX_FILLS, market.MAX_CANCELS)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(operation, min_size=10, max_size=45),
       limits=st.sampled_from([(1, 1), (2, 1), (2, 3), (3, 2)]))
@example(ops=[("place", "alice", "buy", 8_000, 1, "gtc")] * 5  # found: the open-order count
         + [("place", "alice", "buy", 9_000, 1, "gtc"),   # was read before uncrossing
            ("place", "bob", "buy", 9_000, 1, "gtc"),
            ("place", "alice", "sell", 8_000, 1, "gtc"),
            ("place", "alice", "sell", 8_000, 1, "gtc")], limits=(2, 1))
@example(ops=[("place", "alice", "sell", 10_000, 10, "gtc"),  # a held seller's resting order
              ("hold", "alice", "trading"),                    # the hold cancels none of them
              ("place", "bob", "buy", 10_000, 10, "gtc")], limits=(2, 1))
@example(ops=[("place", "bob", "buy", 10_000, 10, "gtc"),      # a held buyer's resting order
              ("hold", "bob", "all"),
              ("place", "alice", "sell", 10_000, 10, "gtc")], limits=(2, 1))
def test_random_order_streams_with_tiny_transaction_limits(
        ops: list[tuple[Any, ...]], limits: tuple[int, int]) -> None:
    """The same, with MAX_FILLS and MAX_CANCELS small enough to be hit: a book left crossed by
    a place that hit a limit is uncrossed by the next place that stays within them. A trading
    hold cancels at most limits[1] - 1 resting orders here, so held accounts keep resting
    orders that fills then reach (and must refuse)."""
    with patch.object(market, "MAX_FILLS", limits[0]), \
            patch.object(market, "MAX_CANCELS", limits[1]), \
            patch.object(fds, "MAX_CANCEL_ON_HOLD", limits[1] - 1):
        run_stream(ops, *limits)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(operation, min_size=10, max_size=45))
def test_random_order_streams_over_sessions_that_close(ops: list[tuple[Any, ...]]) -> None:
    """The same, with two sessions a day (closed 12:00-13:00 KST): the close's hook releases
    the escrow of every order of a closed session at the next block."""
    run_stream(ops, market.MAX_FILLS, market.MAX_CANCELS, TWO_SESSIONS)


def check_no_order_outlives_its_session(chain: Chain, time: int) -> None:
    """After a block at `time`, every resting order belongs to the session open then."""
    session = market.compute_session(TWO_SESSIONS, time)
    for order in values(chain, "market/order/").values():
        if order["status"] == "resting":
            assert order["session"] == session, "an order of a closed session rests"


def run_stream(ops: list[tuple[Any, ...]], max_fills: int, max_cancels: int,
               sessions: Any = "always") -> None:
    chain = fresh_chain(sessions)
    check_conservation_and_escrow(chain)
    crossed = False
    for op in ops:
        before, time, held = snapshot(chain), chain.time, held_scopes(chain)
        outcome = run(chain, op)
        check_conservation_and_escrow(chain)
        check_holds(held, before, snapshot(chain), op, outcome)
        if outcome is not None:
            check_holds_unwound(chain)
        if sessions != "always" and outcome is not None:
            check_no_order_outlives_its_session(chain, time)
            if any(item.name == "OrderCancelled" for hook in chain.hook_outcomes
                   for item in hook.events):
                event("expired at a close")
        may_be_crossed = crossed
        if outcome is not None and outcome.ok and op[0] == "place":
            may_be_crossed = hit_a_limit(outcome, max_fills, max_cancels)
            if may_be_crossed:
                event("hit a limit")
        crossed = check_book(chain, may_be_crossed)
        if outcome is not None and op[0] == "place" and not outcome.ok:
            event(f"refused {outcome.error['code']}")  # type: ignore[index]
        if outcome is not None and outcome.ok and op[0] == "place":
            check_fills(chain, before, snapshot(chain), outcome, time)
            for item in outcome.events:
                if item.name == "Trade":
                    event("trade")
                if item.name == "OrderCancelled":
                    event(f"cancelled {item.data['code']}")
            fills = sum(1 for item in outcome.events if item.name == "Trade")
            assert fills <= max_fills


def receipt(outcome: Outcome | None) -> bytes:
    if outcome is None:
        return b""
    return codec.pack({"ok": outcome.ok, "result": outcome.result, "error": outcome.error,
                       "events": [event.to_map() for event in outcome.events]})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(operation, min_size=1, max_size=40))
def test_same_stream_same_state_and_receipts(ops: list[tuple[Any, ...]]) -> None:
    first, second = fresh_chain(), fresh_chain()
    first_receipts = [receipt(run(first, op)) for op in ops]
    second_receipts = [receipt(run(second, op)) for op in ops]
    assert first_receipts == second_receipts
    assert sorted(first.state.values.items()) == sorted(second.state.values.items())
