"""Matching and settlement: one order against the other side of the book, each fill delivery
versus payment. Used by chaincode.market's `place` (its docstring states the rules); every
function takes the market's Context and the transaction's `Matching`.

How a step goes. The aggressor (the incoming order, or while uncrossing the newer of two
crossing resting orders) meets the best order of the other side, if its price crosses. Before
any fill, the resting order must still be able to trade: an order of the same account is
cancelled (SELF_TRADE), one whose price is outside the day's band (PRICE_LIMIT: the trade
would print outside it) or whose broker is no longer a broker (BROKER_REVOKED) is cancelled,
and matching goes on. Then the fill: the token contract delivers the units under the transfer
rules or refuses, naming the party at fault (chaincode.compliance.refuse_transfer), before
anything is written; only then does the cash move (chaincode.cash `settle`). A refusal cancels
the order of the party at fault with its code: a resting one and matching goes on, the
aggressor and matching ends. Each fill trades at the resting order's price.

Bounds: a transaction makes at most `fills_left` fills and `cancels_left` cancellations of
resting orders (chaincode.market's MAX_FILLS and MAX_CANCELS); `match` says which one stopped
it (`Stop`), so that an `ioc` cut short by the cancellation bound can say so.

What it may not do: accept, rest or end the incoming order (chaincode.market does), or read a
clock: block time and height come from the Context.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from chaincode.compliance import SENDER
from chaincode.fds import is_held
from chaincode.market_book import (
    account_trade_key,
    best_order_id,
    cancel,
    close,
    crossed_key,
    escrow_ref,
    load_order,
    opposite,
    order_key,
    stats_key,
    symbol_trade_key,
    take_from_level,
    trade_key,
    unbook,
)
from chaincode.market_sessions import MAX_AMOUNT, compute_tax, is_in_band, kst_day
from chaincode.runtime import Context


class Stop(Enum):
    """Why matching one order stopped."""

    DONE = "done"  # filled, or nothing left on the other side crosses it
    FILL_LIMIT = "fill_limit"  # the transaction's fills are spent, and the book still crosses
    CANCEL_LIMIT = "cancel_limit"  # its cancellations are spent, with a crossing order next
    CANCELLED = "cancelled"  # the aggressor itself was cancelled (a refused fill's fault)


@dataclass(slots=True)
class Matching:
    """What one transaction's matching may still do, what it did, and the facts it reads once:
    the token record (kept current by the token contract), the session, the day's band, the
    tax rate, the token's market stats (`place` read them for the reference price; only
    `record_stats` writes them, and keeps this copy current), the brokers found active, the
    tax account, the last trade id, and each party's identity facts and trading hold
    (`party`). Nothing a `place` does writes an identity record or a hold (it calls token,
    cash and reads of identity and fds only), so what one fill read of a party holds for
    every later fill of the same transaction."""

    token: dict[str, Any]
    session: int
    band: tuple[int, int] | None
    tax_bps: int
    fills_left: int
    cancels_left: int
    stats: dict[str, Any] | None  # stats/<symbol> as stored (None before the first trade)
    trade_ids: list[int] = field(default_factory=list)
    active_brokers: dict[str, bool] = field(default_factory=dict)
    tax_account: str | None = None
    last_trade_id: int | None = None
    parties: dict[str, tuple[dict[str, Any] | None, bool]] = field(default_factory=dict)

    def know(self, account: str, record: dict[str, Any] | None, held: bool) -> None:
        """What `place` read of its own account: its identity record and trading hold."""
        self.parties[account] = (record, held)

    def party(self, ctx: Context, account: str) -> tuple[dict[str, Any] | None, bool]:
        """(identity record as stored, under a trading hold) of `account`, read once per
        transaction."""
        known = self.parties.get(account)
        if known is None:
            known = self.parties[account] = (
                ctx.call("identity", "facts", account=account),
                is_held(ctx, account, "trading"))
        return known

    def next_trade_id(self, ctx: Context) -> int:
        if self.last_trade_id is None:
            self.last_trade_id = int(ctx.state.get("next_trade", 0))
        return self.last_trade_id + 1

    def tax_account_of(self, ctx: Context) -> str:
        if self.tax_account is None:
            self.tax_account = ctx.call("identity", "tax_account")
            assert self.tax_account is not None, "genesis registers a tax account"
        return self.tax_account

    def is_active_broker(self, ctx: Context, broker: str) -> bool:
        """The broker that placed an order is still one (the caller of `place` is)."""
        if broker == ctx.caller:
            return True
        known = self.active_brokers.get(broker)
        if known is None:
            known = self.active_brokers[broker] = bool(
                ctx.call("identity", "is_active_broker", account=broker))
        return known

    def finish(self, ctx: Context) -> None:
        """Write back what was counted in memory (the last trade id)."""
        if self.trade_ids:
            ctx.state.put("next_trade", self.last_trade_id)


def is_crossing(side: str, limit: int, resting_price: int) -> bool:
    """Whether an order on `side` at `limit` trades with a resting order at `resting_price`."""
    return resting_price <= limit if side == "buy" else resting_price >= limit


def match(ctx: Context, m: Matching, order: dict[str, Any]) -> Stop:
    """Fill `order` against the other side, best first, until it is filled, nothing crosses,
    it is cancelled at fault, or the transaction's bounds are reached."""
    symbol, side = order["symbol"], order["side"]
    other = opposite(side)
    while order["remaining"] > 0:
        resting_id = best_order_id(ctx, symbol, m.session, other)
        if resting_id is None:
            return Stop.DONE
        resting = load_order(ctx, resting_id)
        assert resting is not None, "a book key without its order"
        if not is_crossing(side, order["price"], resting["price"]):
            return Stop.DONE
        if m.fills_left == 0:
            return Stop.FILL_LIMIT
        if m.cancels_left == 0:
            return Stop.CANCEL_LIMIT
        if step(ctx, m, order, resting) is Stop.CANCELLED:
            return Stop.CANCELLED
    return Stop.DONE


def uncross(ctx: Context, m: Matching, symbol: str) -> None:
    """Go on with an earlier order's matching. A `gtc` order whose matching stopped at a bound
    rests across the book (`crossed/<symbol>` says so); before the next order is accepted, the
    newer of the two crossing orders at the top goes on as the aggressor, at the older one's
    price, under the same rules and this transaction's bounds."""
    marker = crossed_key(symbol)
    crossed_session = ctx.state.get(marker)
    if crossed_session is None:
        return
    while crossed_session == m.session:
        bid_id = best_order_id(ctx, symbol, m.session, "buy")
        ask_id = best_order_id(ctx, symbol, m.session, "sell")
        if bid_id is None or ask_id is None:
            break
        buy, sell = load_order(ctx, bid_id), load_order(ctx, ask_id)
        assert buy is not None and sell is not None, "a book key without its order"
        if buy["price"] < sell["price"]:
            break
        if m.fills_left == 0 or m.cancels_left == 0:
            return  # still crossed: the next place goes on
        newer, older = (buy, sell) if buy["order_id"] > sell["order_id"] else (sell, buy)
        if not m.is_active_broker(ctx, newer["broker"]):
            cancel(ctx, newer, "BROKER_REVOKED")
            m.cancels_left -= 1
        elif step(ctx, m, newer, older) is Stop.CANCELLED:
            m.cancels_left -= 1
    ctx.state.delete(marker)


def step(ctx: Context, m: Matching, aggressor: dict[str, Any], resting: dict[str, Any]
         ) -> Stop | None:
    """One crossing pair: a fill, or the cancellation of the order that may not trade.
    Stop.CANCELLED when that is the aggressor."""
    code = stale_code(ctx, m, aggressor, resting)
    if code is None:
        refusal = fill(ctx, m, aggressor, resting)
        if refusal is None:
            return None
        code, _, party = refusal
        seller_at_fault = party == SENDER
        if party is None or (aggressor["side"] == "sell") == seller_at_fault:
            cancel(ctx, aggressor, code)
            return Stop.CANCELLED
    cancel(ctx, resting, code)
    m.cancels_left -= 1
    return None


def stale_code(ctx: Context, m: Matching, aggressor: dict[str, Any],
               resting: dict[str, Any]) -> str | None:
    """Why the resting order may not trade with the aggressor now, or None."""
    if resting["account"] == aggressor["account"]:
        return "SELF_TRADE"
    if not is_in_band(m.band, resting["price"]):
        return "PRICE_LIMIT"
    if not m.is_active_broker(ctx, resting["broker"]):
        return "BROKER_REVOKED"
    return None


def fill(ctx: Context, m: Matching, aggressor: dict[str, Any], resting: dict[str, Any]
         ) -> list[Any] | None:
    """One fill at the resting order's price, both legs or neither; the token contract's
    refusal ([code, message, party at fault]) when the transfer rules refuse it."""
    buy, sell = (aggressor, resting) if aggressor["side"] == "buy" else (resting, aggressor)
    qty = min(aggressor["remaining"], resting["remaining"])
    price = resting["price"]
    trade_id = m.next_trade_id(ctx)
    (seller_record, seller_held), (buyer_record, buyer_held) = (
        m.party(ctx, sell["account"]), m.party(ctx, buy["account"]))
    refusal: list[Any] | None = ctx.call(
        "token", "deliver", token=m.token, seller=sell["account"], buyer=buy["account"],
        amount=qty, price=price, trade_id=trade_id, escrowed=sell["status"] == "resting",
        seller_record=seller_record, buyer_record=buyer_record, seller_held=seller_held,
        buyer_held=buyer_held)
    if refusal is not None:
        return refusal
    value = qty * price
    tax = compute_tax(value, m.tax_bps)
    escrowed = buy["status"] == "resting"
    ctx.call("cash", "settle", buyer=buy["account"], seller=sell["account"], amount=value,
             tax=tax, tax_account=m.tax_account_of(ctx) if tax else None,
             memo=f"trade {trade_id}", ref=escrow_ref(buy["order_id"]) if escrowed else None,
             refund=qty * (buy["price"] - price) if escrowed else 0)
    m.last_trade_id = trade_id
    m.trade_ids.append(trade_id)
    m.fills_left -= 1
    record_trade(ctx, m, buy, sell, aggressor["side"], trade_id, qty, price, tax)
    for order in (resting, aggressor):
        order["filled"] += qty
        order["remaining"] -= qty
        order["value"] += value
        order["fills"] += 1
        if order["status"] != "resting":
            continue  # the incoming order: written once, when its place ends
        if order["remaining"] == 0:
            unbook(ctx, order, qty)
            close(ctx, order, "filled", None)
        else:
            take_from_level(ctx, order, qty)
            ctx.state.put(order_key(order["order_id"]), order)
    ctx.emit("Trade", {"trade_id": trade_id, "symbol": buy["symbol"], "price": price,
                       "qty": qty, "buy_order": buy["order_id"],
                       "sell_order": sell["order_id"], "buyer": buy["account"],
                       "seller": sell["account"], "aggressor": aggressor["side"]})
    return None


def record_trade(ctx: Context, m: Matching, buy: dict[str, Any], sell: dict[str, Any],
                 aggressor: str, trade_id: int, qty: int, price: int, tax: int) -> None:
    symbol, value = buy["symbol"], qty * price
    ctx.state.put(trade_key(trade_id), {  # in key order: codec.pack packs it as it is
        "aggressor": aggressor, "buy_order": buy["order_id"], "buyer": buy["account"],
        "height": ctx.height, "price": price, "qty": qty, "sell_order": sell["order_id"],
        "seller": sell["account"], "symbol": symbol, "tax": tax, "time": ctx.time,
        "trade_id": trade_id, "tx_id": ctx.tx_id, "value": value})
    ctx.state.put(symbol_trade_key(symbol, trade_id), trade_id)
    ctx.state.put(account_trade_key(buy["account"], trade_id), trade_id)
    ctx.state.put(account_trade_key(sell["account"], trade_id), trade_id)
    record_stats(ctx, m, price, qty, value)


def record_stats(ctx: Context, m: Matching, price: int, qty: int, value: int) -> None:
    """The token's market stats after a trade (`m.stats`, written back and kept)."""
    token = m.token
    symbol, day = token["symbol"], kst_day(ctx.time)
    stats = m.stats
    if stats is None:
        stats = {"day": day, "day_value": 0, "day_volume": 0, "last_price": token["unit_price"],
                 "last_time": ctx.time, "prev_close": token["unit_price"], "trades": 0}
    if stats["day"] < day:  # the first trade of a new trading day
        stats.update(prev_close=stats["last_price"], day=day, day_volume=0, day_value=0)
    stats["last_price"] = price
    stats["day_volume"] = min(MAX_AMOUNT, stats["day_volume"] + qty)  # saturate: the sums
    stats["day_value"] = min(MAX_AMOUNT, stats["day_value"] + value)  # must stay encodable
    stats["trades"] += 1
    stats["last_time"] = ctx.time
    ctx.state.put(stats_key(symbol), stats)
    m.stats = stats
