"""The market's state: its key layout, the order book of each session, and an order's way in
and out of it. Used by chaincode.market (its docstring has the layout, the record shapes and
the invariants); every function takes the market's Context.

The book. A resting order has a key under `book/<symbol>/<session>/<b|s>/` whose order is
price-time priority, a share of its price level (`level/...`, what `book` shows) and its
escrow: units on order for a sell (chaincode.token), a cash escrow for a buy (chaincode.cash).
The best order of a side is its `head/` entry, [the smallest book key of the side, the side's
number of orders], present exactly while the side has an order. Matching reads the head (one
read) instead of ranging the book, and only the best order leaving a side that still has others
looks for the next: the first book key after its own (`first_after`, one read, not a range
merged through the transaction's and the block's overlays). A LevelDB range visits every
deleted key in its way until a compaction drops them, and the keys before the head are all
deleted ones (filled or cancelled orders), thousands at saturation.

What it may not do: match, settle or decide why an order ends; chaincode.market_matching and
chaincode.market do. Everything here keeps the book, its levels, heads and the open-order
indexes in step, and asserts when they are not.
"""

from __future__ import annotations

from typing import Any

from chaincode.runtime import Context

PRICE_DIGITS = 19  # prices as 19 digits: MAX_AMOUNT = 2^62 < 10^19, so key order = numeric
BID_KEY_BASE = 10**PRICE_DIGITS - 1  # a bid's price key: best (highest) first
ID_DIGITS = 12  # order and trade ids
SESSION_DIGITS = 16  # session ids (UTC ms)


# ---- keys (one function per layout) ----------------------------------------------------------

def price_key(side: str, price: int) -> str:
    return f"{BID_KEY_BASE - price if side == 'buy' else price:0{PRICE_DIGITS}d}"


def side_letter(side: str) -> str:
    return "b" if side == "buy" else "s"


def opposite(side: str) -> str:
    return "sell" if side == "buy" else "buy"


def order_key(order_id: int) -> str:
    return f"order/{order_id:0{ID_DIGITS}d}"


def symbol_order_key(symbol: str, order_id: int) -> str:
    return f"sym/{symbol}/{order_id:0{ID_DIGITS}d}"


def account_orders_prefix(account: str) -> str:
    return f"acct/{account}/"


def account_order_key(account: str, order_id: int) -> str:
    return f"{account_orders_prefix(account)}{order_id:0{ID_DIGITS}d}"


def open_orders_prefix(account: str) -> str:
    return f"open/{account}/"


def open_order_key(account: str, order_id: int) -> str:
    return f"{open_orders_prefix(account)}{order_id:0{ID_DIGITS}d}"


def open_count_key(account: str) -> str:
    return f"nopen/{account}"


def trade_key(trade_id: int) -> str:
    return f"trade/{trade_id:0{ID_DIGITS}d}"


def symbol_trades_prefix(symbol: str) -> str:
    return f"tsym/{symbol}/"


def symbol_trade_key(symbol: str, trade_id: int) -> str:
    return f"{symbol_trades_prefix(symbol)}{trade_id:0{ID_DIGITS}d}"


def account_trade_key(account: str, trade_id: int) -> str:
    return f"tacct/{account}/{trade_id:0{ID_DIGITS}d}"


def stats_key(symbol: str) -> str:
    return f"stats/{symbol}"


def halt_key(symbol: str) -> str:
    return f"halt/{symbol}"


def crossed_key(symbol: str) -> str:
    return f"crossed/{symbol}"


def booked_prefix() -> str:
    return "booked/"


def booked_key(session: int, symbol: str) -> str:
    return f"{booked_prefix()}{session:0{SESSION_DIGITS}d}/{symbol}"


def unwind_prefix() -> str:
    return "unwind/"


def unwind_key(account: str) -> str:
    return f"{unwind_prefix()}{account}"


def session_book_prefix(symbol: str, session: int) -> str:
    return f"book/{symbol}/{session:0{SESSION_DIGITS}d}/"


def book_prefix(symbol: str, session: int, side: str) -> str:
    return f"{session_book_prefix(symbol, session)}{side_letter(side)}/"


def book_key(order: dict[str, Any]) -> str:
    return (book_prefix(order["symbol"], order["session"], order["side"])
            + f"{price_key(order['side'], order['price'])}/{order['order_id']:0{ID_DIGITS}d}")


def order_id_of(book_key_text: str) -> int:
    return int(book_key_text[-ID_DIGITS:])


def level_prefix(symbol: str, session: int, side: str) -> str:
    return f"level/{symbol}/{session:0{SESSION_DIGITS}d}/{side_letter(side)}/"


def level_key(order: dict[str, Any]) -> str:
    return (level_prefix(order["symbol"], order["session"], order["side"])
            + price_key(order["side"], order["price"]))


def head_key(symbol: str, session: int, side: str) -> str:
    return f"head/{symbol}/{session:0{SESSION_DIGITS}d}/{side_letter(side)}"


def escrow_ref(order_id: int) -> str:
    """The cash escrow of a buy order (chaincode.cash `escrow/<ref>`)."""
    return f"market/{order_id:0{ID_DIGITS}d}"


# ---- reads -----------------------------------------------------------------------------------

def load_order(ctx: Context, order_id: int) -> dict[str, Any] | None:
    return ctx.state.get(order_key(order_id))  # type: ignore[no-any-return]


def best_order_id(ctx: Context, symbol: str, session: int, side: str) -> int | None:
    """The best resting order of one side of a session's book (price, then time)."""
    head = ctx.state.get(head_key(symbol, session, side))
    return None if head is None else order_id_of(head[0])


def open_count(ctx: Context, account: str) -> int:
    return int(ctx.state.get(open_count_key(account), 0))


# ---- into the book and out of it -------------------------------------------------------------

def rest(ctx: Context, order: dict[str, Any]) -> None:
    """An accepted order's remainder joins the book: escrow, book key, level, head, the
    account's open orders, the session's `booked/` mark (its close expires it)."""
    symbol, account, order_id = order["symbol"], order["account"], order["order_id"]
    if order["side"] == "sell":
        ctx.call("token", "hold", symbol=symbol, account=account, amount=order["remaining"])
    else:
        ctx.call("cash", "escrow", ref=escrow_ref(order_id), account=account,
                 amount=order["remaining"] * order["price"])
    order["status"] = "resting"
    key = book_key(order)
    ctx.state.put(key, order_id)
    head = head_key(symbol, order["session"], order["side"])
    best, count = ctx.state.get(head) or (key, 0)
    ctx.state.put(head, [min(key, best), count + 1])
    level = ctx.state.get(level_key(order)) or {"orders": 0, "price": order["price"], "qty": 0}
    level["qty"] += order["remaining"]
    level["orders"] += 1
    ctx.state.put(level_key(order), level)
    ctx.state.put(open_order_key(account, order_id), symbol)
    ctx.state.put(open_count_key(account), open_count(ctx, account) + 1)
    booked = booked_key(order["session"], symbol)
    if ctx.state.get(booked) is None:
        ctx.state.put(booked, 1)


def take_from_level(ctx: Context, order: dict[str, Any], qty: int) -> None:
    """`qty` of a resting order traded; it stays in the book (a partial fill)."""
    level = ctx.state.get(level_key(order))
    assert level is not None and level["qty"] > qty, "price level out of step"
    level["qty"] -= qty
    ctx.state.put(level_key(order), level)


def unbook(ctx: Context, order: dict[str, Any], qty: int) -> None:
    """A resting order leaves the book with the `qty` units it still had on its level (what a
    cancel gives back, or what its last fill traded): its key, its share of the level, the
    head when it was the best, the account's open orders."""
    key = book_key(order)
    ctx.state.delete(key)
    symbol, session, side = order["symbol"], order["session"], order["side"]
    head = head_key(symbol, session, side)
    best, count = ctx.state.get(head)
    if count == 1:
        assert best == key, "the head is not the last order of its side"
        ctx.state.delete(head)
    elif best == key:  # the next best, the first key after this one: nothing before it lives
        following = ctx.state.first_after(book_prefix(symbol, session, side), key)
        assert following is not None, "a side's order count out of step"
        ctx.state.put(head, [following[0], count - 1])
    else:
        ctx.state.put(head, [best, count - 1])
    level = ctx.state.get(level_key(order))
    assert level is not None and level["qty"] >= qty, "price level out of step"
    level["qty"] -= qty
    level["orders"] -= 1
    if level["orders"] == 0:
        assert level["qty"] == 0, "empty price level with quantity"
        ctx.state.delete(level_key(order))
    else:
        ctx.state.put(level_key(order), level)
    account = order["account"]
    ctx.state.delete(open_order_key(account, order["order_id"]))
    count = open_count(ctx, account) - 1
    assert count >= 0, "open order count out of step"
    if count:
        ctx.state.put(open_count_key(account), count)
    else:
        ctx.state.delete(open_count_key(account))


def close(ctx: Context, order: dict[str, Any], status: str, code: str | None,
          closed_time: int | None = None) -> None:
    """The order is done (filled or cancelled): its record says when (`closed_time`: the
    block's, unless it ended earlier, as an order expired at its session's close)."""
    order.update(status=status, code=code, closed_height=ctx.height,
                 closed_time=ctx.time if closed_time is None else closed_time)
    ctx.state.put(order_key(order["order_id"]), order)


def cancel(ctx: Context, order: dict[str, Any], code: str, closed_time: int | None = None
           ) -> None:
    """Cancel what is left of an order, give back its escrow (a resting order's), and say so
    (OrderCancelled). An incoming order that never rested holds no escrow."""
    remaining = order["remaining"]
    if order["status"] == "resting":
        unbook(ctx, order, remaining)
        if order["side"] == "sell":
            ctx.call("token", "release", symbol=order["symbol"], account=order["account"],
                     amount=remaining)
        else:
            ctx.call("cash", "escrow_release", ref=escrow_ref(order["order_id"]),
                     amount=remaining * order["price"])
    close(ctx, order, "cancelled", code, closed_time)
    ctx.emit("OrderCancelled", {"order_id": order["order_id"], "symbol": order["symbol"],
                                "account": order["account"], "code": code,
                                "filled": order["filled"], "cancelled": remaining})
