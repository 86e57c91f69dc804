"""The market contract: an order book per token, every fill settled delivery versus payment.

Theory of operation. Investors trade through their broker (위탁매매): `place` is sent by the
broker that registered the investor, with the broker-attested `media` and `origin`. An accepted
order is matched at once against the other side of the book, best price first and, at one
price, the oldest order first; each fill trades at the resting order's price. A fill is
delivery versus payment inside this transaction: the token contract moves the units under the
same rules as `token.transfer` (compliance.refuse_transfer, the purchase valued at the trade
price) or refuses before writing anything, and only then does the cash move (buyer -> seller,
less the securities transaction tax to `tax`). Both legs or neither. What is left of a `gtc`
order then rests, escrowing what it offers: a sell's units (`token/onorder/...`, subtracted
from the available units by compliance.available, so `transfer` and `can_transfer` see it
alike) or a buy's cash at its limit price (the cash escrow `market/<order_id>`); a resting buy
filled below its limit gets the difference back. While it is matched, an incoming order pays
from what `place` found available for the whole of it (nothing in the transaction can lower
that but its own fills), so an order that fills at once never escrows and releases anything.

What may no longer trade does not trade (chaincode.market_matching). Before a fill, the resting
order is cancelled, and matching goes on, if it is the aggressor's own (SELF_TRADE), if its
price is outside today's band (PRICE_LIMIT), or if the broker that placed it is no longer a
broker (BROKER_REVOKED). A fill the transfer rules refuse cancels the order of the party the
refusal names (compliance: the seller for balance, verification, AML and lock-up of the seller,
the buyer for its own): a resting order with that code, and matching goes on; the incoming
order has its remainder cancelled with it.

Decisions where PROTOCOL.md is silent or was wrong (issue 29):
- The band binds trades, not only orders. A resting order whose price is outside the day's
  band (a `gtc` order of an earlier day, the reference having moved) is cancelled PRICE_LIMIT
  when matching reaches it; until then it rests, and no order placed today can cross it
  without reaching it, so no fill ever prints outside the band. We cancel rather than let it
  rest untradeable: an untradeable best order would stop matching at the top of the book
  (price-time priority) and keep its escrow locked for days.
- A forced transfer (token.force_transfer) that would leave units on order without their
  holding cancels the holder's sell orders of the token first, newest first, until it does not
  (`cancel_sells`, code FORCED_TRANSFER); a court order is never refused for an open order.
- A revoked broker's clients' resting orders no longer trade: each is cancelled
  BROKER_REVOKED when matching reaches it, or expires at its session's close. An order whose
  broker's key was recovered (`recovered_to`) still trades: the broker is the same.
- The bounds: one transaction makes at most MAX_FILLS (64) fills and MAX_CANCELS (64)
  cancellations of resting orders while matching. Then a `gtc` remainder rests across the book
  (`crossed/<symbol>`) and goes on matching at the start of the next `place` on the token
  (`uncross`), within that transaction's bounds, before the new order is accepted; an `ioc`
  remainder is cancelled IOC_UNFILLED when fills stopped it and CANCEL_LIMIT when the 64
  cancellations did (stale orders in the way, not a lack of orders).

Sessions (chaincode.market_sessions). The trading day is the KST calendar day of block time;
a session's id is the UTC ms of its opening bell, and the book lives under the session id, so
an order of a closed session can never trade or show in `book`. Its escrow is released at the
close: the begin-block hook `close_sessions` cancels them (EXPIRED) at the start of the first
block after the close, at most MAX_EXPIRE_PER_BLOCK a block and the rest at the next blocks,
each recorded with the close's time as `closed_time` (and the block's height); a book visited
with no order left counts as one expiry against that bound. Blocks come only
with transactions, so a close is acted on by the next transaction of any kind, whose own checks
then already see the cash and units free (up to that bound). `cancel` works after the close
too. With `always` (one session, id 0) nothing expires.

Reference price and band. The reference price of a day is the last trade price of the previous
day that had a trade (`unit_price` before any trade); an order's price, and every fill's,
must lie within +-`price_band_bps` of it (0 = no band).

Determinism: integers only, block time from the context, every iteration a key-ordered range.
An invalid call raises before it writes (the runtime drops a failed transaction's writes in any
case). The calendar is compiled once, when the contract is made (`Market(params)`).

Key layout (inside the `market/` namespace, one function each in chaincode.market_book; ids are
12 digits, sessions 16 digits, prices 19 digits, zero-padded so that key order is numeric):

    next_order                         the last order id issued
    next_trade                         the last trade id issued
    order/<order_id>                   the order (below)
    sym/<symbol>/<order_id>            every order of a token, oldest first   -> account
    acct/<account>/<order_id>          every order of an account              -> symbol
    open/<account>/<order_id>          the account's resting orders           -> symbol
    nopen/<account>                    how many resting orders the account has (MAX_OPEN_ORDERS)
    book/<symbol>/<session>/<b|s>/<price_key>/<order_id>   a resting order    -> order_id
                                       price_key: the price for asks, 10^19-1-price for bids,
                                       so a range over .../b/ or .../s/ is price-time priority
    head/<symbol>/<session>/<b|s>      [the smallest book key of that side (its best order),
                                       the side's number of orders]; only while it has one
    level/<symbol>/<session>/<b|s>/<price_key>   {"price", "qty", "orders"} of one price level
    booked/<session>/<symbol>          1: the session's book of the token had orders (the close
                                       hook walks these, oldest session first)
    crossed/<symbol>                   session id: a gtc order rests across the book (uncross)
    unwind/<account>                   the last order id issued when a trading hold left the
                                       account's orders resting: the hook `unwind_held`
                                       cancels those (ids up to it) at the next blocks
    trade/<trade_id>                   the trade (below)
    tsym/<symbol>/<trade_id>           every trade of a token                 -> trade_id
    tacct/<account>/<trade_id>         every trade of an account (buyer and seller) -> trade_id
    stats/<symbol>                     {"last_price", "day", "prev_close", "day_volume",
                                       "day_value", "trades", "last_time"}; day = KST day number
    halt/<symbol>                      {"reason", "by", "height", "time"} while halted

An order: {"order_id", "symbol", "account", "broker", "side", "price", "qty", "filled",
"remaining", "value" (KRW traded), "fills", "tif", "media", "origin", "status" ("resting" |
"filled" | "cancelled"), "code" (why cancelled), "session", "placed_height", "placed_time",
"placed_tx", "closed_height", "closed_time"}. A trade: {"trade_id", "symbol", "price", "qty",
"value", "tax", "buy_order", "sell_order", "buyer", "seller", "aggressor" ("buy" | "sell"),
"height", "time", "tx_id"}.

Invariants (tests/chaincode/test_market_properties.py): units on order of (account, symbol) =
the remaining qty of its resting sell orders; the cash escrow of a resting buy order = its
remaining x price; the book of the open session is never crossed after a `place` that stayed
within MAX_FILLS and MAX_CANCELS; every trade's price is inside its day's band.

Errors: UNAUTHORIZED, BAD_ARGS, UNKNOWN_TOKEN, MARKET_CLOSED, NOT_YOUR_CLIENT, BAD_ORDER,
PRICE_LIMIT, the seller-side and buyer-side transfer codes (chaincode.compliance),
INSUFFICIENT_CASH, TOO_MANY_ORDERS, UNKNOWN_ORDER, ORDER_CLOSED, ALREADY_HALTED, NOT_HALTED,
FORBIDDEN. Cancel codes in OrderCancelled and orders: CANCELLED, IOC_UNFILLED, CANCEL_LIMIT,
SELF_TRADE, EXPIRED, PRICE_LIMIT, BROKER_REVOKED, FORCED_TRANSFER, and the transfer codes a
fill was refused with.
"""

from __future__ import annotations

from typing import Any, ClassVar

from chaincode import market_book as book
from chaincode.fds import is_held
from chaincode.identity import caller_role, require_registered_reader, require_role
from chaincode.market_matching import Matching, Stop, match, uncross
from chaincode.market_sessions import (
    KST_OFFSET_MS,
    MARKET_DEFAULTS,
    MAX_AMOUNT,
    MarketParamsError,
    Schedule,
    check_market_params,
    compile_sessions,
    compute_band,
    compute_reference_price,
    compute_session,
    compute_session_close,
    is_in_band,
    kst_day,
    session_bounds,
)
from chaincode.runtime import (
    ChaincodeError,
    Context,
    Contract,
    Forbidden,
    begin_block,
    internal,
    query,
    require_account,
    require_int,
    require_str,
    transaction,
)
from chaincode.token import require_sha256, require_symbol

MAX_FILLS = 64  # fills per transaction (PROTOCOL.md)
MAX_CANCELS = 64  # resting orders cancelled while matching one transaction (stale, refused)
MAX_EXPIRE_PER_BLOCK = 256  # orders the close hook expires per block: a few dozen orders'
# work (an expiry costs about a fifth of an order), so a busy close spreads over a few blocks
MAX_UNWIND_PER_BLOCK = 64  # orders a block's hook cancels after a trading hold: no more
# than the hold's own transaction cancels (fds.MAX_CANCEL_ON_HOLD)
MAX_OPEN_ORDERS = 1_000  # per account: bounds token.recover, which carries them to a new key,
# and token.force_transfer, which may cancel them
MAX_PAGE = 1_000  # rows per trades / orders answer
MAX_DEPTH = 100  # price levels per side in a book answer
MEDIA = ("hts", "mts", "api", "branch", "phone")
SIDES = ("buy", "sell")
TIFS = ("gtc", "ioc")


class Market(Contract):
    name = "market"
    parts: ClassVar[tuple[str, ...]] = ("chaincode.market_book", "chaincode.market_matching",
                                        "chaincode.market_sessions")

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        """`params`: genesis `params.market` (chaincode.market_sessions.check_market_params)."""
        self.schedule: Schedule = compile_sessions(
            check_market_params(params)["sessions"])

    def _session(self, ctx: Context) -> int | None:
        session = session_bounds(self.schedule, ctx.time)
        return None if session is None else session.session_id

    @transaction
    def place(self, ctx: Context, symbol: Any, account: Any, side: Any, price: Any, qty: Any,
              media: Any, origin: Any, tif: Any = "gtc") -> dict[str, Any]:
        require_role(ctx, "broker")
        symbol = require_symbol(symbol)
        account = require_account("account", account)
        if side not in SIDES:
            raise ChaincodeError("BAD_ARGS", f"side must be one of {SIDES}")
        if media not in MEDIA:
            raise ChaincodeError("BAD_ARGS", f"media must be one of {MEDIA}")
        origin = require_sha256(origin)
        if tif not in TIFS:
            raise ChaincodeError("BAD_ARGS", f"tif must be one of {TIFS}")
        token = self._token(ctx, symbol)
        market = ctx.params["market"]
        session = self._session(ctx)
        if session is None:
            raise ChaincodeError("MARKET_CLOSED", "outside the market's sessions")
        if ctx.state.get(book.halt_key(symbol)) is not None:
            raise ChaincodeError("MARKET_CLOSED", f"trading in {symbol} is halted")
        record = self._client(ctx, account)
        self._check_order(price, qty, market["tick"])
        stats = ctx.state.get(book.stats_key(symbol))
        reference = compute_reference_price(stats, token["unit_price"], kst_day(ctx.time))
        band = compute_band(reference, market["price_band_bps"])
        if not is_in_band(band, price):
            assert band is not None
            raise ChaincodeError("PRICE_LIMIT", f"price {price} is outside {band[0]}..{band[1]}"
                                 f" (reference {reference} +-{market['price_band_bps']} bps)")
        if side == "buy":
            cash = ctx.call("cash", "balance_of", account=account)  # available cash
            if cash < price * qty:
                raise ChaincodeError("INSUFFICIENT_CASH", f"only {cash} KRW is available, "
                                     f"less than the {price} x {qty} KRW the order needs")
        # the transfer rules that can be known now (chaincode.compliance, via the token)
        held = is_held(ctx, account, "trading")
        verdict = ctx.call("token", "order_verdict", token=token, account=account,
                           record=record, held=held, side=side, amount=qty)
        if verdict is not None:
            raise ChaincodeError(*verdict)
        if book.open_count(ctx, account) >= MAX_OPEN_ORDERS:
            raise ChaincodeError("TOO_MANY_ORDERS", f"an account may have at most "
                                 f"{MAX_OPEN_ORDERS} open orders")
        m = Matching(token, session, band, market["trade_tax_bps"], MAX_FILLS, MAX_CANCELS,
                     stats)
        m.know(account, record, held)
        uncross(ctx, m, symbol)
        order = self._accept(ctx, symbol, account, side, price, qty, tif, media, origin,
                             session)
        uncrossed = len(m.trade_ids)  # the trades of earlier orders, not this one's
        self._end(ctx, order, match(ctx, m, order))
        m.finish(ctx)
        return {"order_id": order["order_id"], "status": order["status"],
                "filled": order["filled"], "remaining": order["remaining"],
                "trades": m.trade_ids[uncrossed:]}

    @transaction
    def cancel(self, ctx: Context, order_id: Any) -> dict[str, Any]:
        role = require_role(ctx, "broker", "registrar")
        order = self._order(ctx, require_int("order_id", order_id, 1))
        if role == "broker" and ctx.caller not in (order["broker"],
                                                   self._broker_of(ctx, order["account"])):
            raise ChaincodeError("NOT_YOUR_CLIENT", f"order {order['order_id']} is not an "
                                 "order of this broker's client")
        if order["status"] != "resting":
            raise ChaincodeError("ORDER_CLOSED", f"order {order['order_id']} is "
                                 f"{order['status']}")
        book.cancel(ctx, order, "CANCELLED")
        return order

    @transaction
    def halt(self, ctx: Context, symbol: Any, reason: Any) -> dict[str, Any]:
        require_role(ctx, "registrar")
        symbol = require_symbol(symbol)
        reason = require_str("reason", reason, 512)
        self._token(ctx, symbol)
        if ctx.state.get(book.halt_key(symbol)) is not None:
            raise ChaincodeError("ALREADY_HALTED", f"{symbol} is already halted")
        halt = {"reason": reason, "by": ctx.caller, "height": ctx.height, "time": ctx.time}
        ctx.state.put(book.halt_key(symbol), halt)
        ctx.emit("MarketHalted", {"symbol": symbol, "reason": reason})
        return dict(halt, symbol=symbol)

    @transaction
    def resume(self, ctx: Context, symbol: Any) -> dict[str, Any]:
        require_role(ctx, "registrar")
        symbol = require_symbol(symbol)
        self._token(ctx, symbol)
        if ctx.state.get(book.halt_key(symbol)) is None:
            raise ChaincodeError("NOT_HALTED", f"{symbol} is not halted")
        ctx.state.delete(book.halt_key(symbol))
        ctx.emit("MarketResumed", {"symbol": symbol})
        return {"symbol": symbol, "halted": False}

    # ---- place, step by step -----------------------------------------------------------------

    def _client(self, ctx: Context, account: str) -> dict[str, Any]:
        """The identity record of an investor the caller registered (NOT_YOUR_CLIENT). Its
        stored `broker` is resolved (a recovered broker key) only when it is not the caller."""
        record: dict[str, Any] | None = ctx.call("identity", "facts", account=account)
        if record is not None and record.get("broker") != ctx.caller:
            record = ctx.identity(account)
        if record is None or record.get("broker") != ctx.caller:
            raise ChaincodeError("NOT_YOUR_CLIENT", f"{account} is not an investor this "
                                 "broker registered")
        return record

    def _check_order(self, price: Any, qty: Any, tick: int) -> None:
        for name, value in (("price", price), ("qty", qty)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_AMOUNT:
                raise ChaincodeError("BAD_ORDER", f"{name} must be a positive integer (at most "
                                     f"{MAX_AMOUNT})")
        if price % tick:
            raise ChaincodeError("BAD_ORDER", f"price {price} is not a multiple of the tick "
                                 f"{tick} KRW")
        if price * qty > MAX_AMOUNT:
            raise ChaincodeError("BAD_ORDER", f"price x qty must be at most {MAX_AMOUNT} KRW")

    def _accept(self, ctx: Context, symbol: str, account: str, side: str, price: int,
                qty: int, tif: str, media: str, origin: str, session: int) -> dict[str, Any]:
        """Number the order, index it, announce it (it escrows only what rests, `_end`)."""
        order_id = int(ctx.state.get("next_order", 0)) + 1
        ctx.state.put("next_order", order_id)
        order = {  # in key order, as it is stored: codec.pack then packs it as it is
            "account": account, "broker": ctx.caller, "closed_height": None,
            "closed_time": None, "code": None, "filled": 0, "fills": 0, "media": media,
            "order_id": order_id, "origin": origin, "placed_height": ctx.height,
            "placed_time": ctx.time, "placed_tx": ctx.tx_id, "price": price, "qty": qty,
            "remaining": qty, "session": session, "side": side, "status": "open",
            "symbol": symbol, "tif": tif, "value": 0}
        ctx.state.put(book.symbol_order_key(symbol, order_id), account)
        ctx.state.put(book.account_order_key(account, order_id), symbol)
        ctx.emit("OrderPlaced", {"order_id": order_id, "symbol": symbol, "account": account,
                                 "broker": ctx.caller, "side": side, "price": price, "qty": qty,
                                 "tif": tif, "media": media})
        return order

    def _end(self, ctx: Context, order: dict[str, Any], stop: Stop) -> None:
        """The incoming order after its matching: filled, cancelled or resting; its record
        written once."""
        if stop is Stop.CANCELLED:
            return  # cancelled at fault, its record written
        if order["remaining"] == 0:
            book.close(ctx, order, "filled", None)
        elif order["tif"] == "ioc":
            book.cancel(ctx, order, "CANCEL_LIMIT" if stop is Stop.CANCEL_LIMIT
                        else "IOC_UNFILLED")
        else:
            book.rest(ctx, order)
            ctx.state.put(book.order_key(order["order_id"]), order)
            if stop is not Stop.DONE:  # a bound stopped it with the book still crossed
                ctx.state.put(book.crossed_key(order["symbol"]), order["session"])

    # ---- the close of a session --------------------------------------------------------------

    @begin_block
    def close_sessions(self, ctx: Context) -> int:
        """At the start of a block: cancel (EXPIRED) the resting orders of sessions that have
        closed, with the close's time, oldest session first, within MAX_EXPIRE_PER_BLOCK units
        of work (the rest at the next blocks): an order expired is one unit, and so is a book
        visited that had none left (its orders all filled or cancelled during the session),
        else a close after a session of many tokens each traded empty would visit every one of
        their books in one block. The units of work spent."""
        current = self._session(ctx)
        work = 0
        while work < MAX_EXPIRE_PER_BLOCK:
            due = next(ctx.state.range(book.booked_prefix()), None)
            if due is None:
                return work
            session_text, symbol = due[0][len(book.booked_prefix()):].split("/")
            session = int(session_text)
            if session == current:
                return work  # `booked/` sorts by session: every later one is open too
            work += max(1, self._expire_book(ctx, symbol, session,
                                             MAX_EXPIRE_PER_BLOCK - work))
        return work

    def _expire_book(self, ctx: Context, symbol: str, session: int, budget: int) -> int:
        """Expire up to `budget` orders of one closed session's book of `symbol`; once it is
        empty, forget the session's marks."""
        close_ms = compute_session_close(self.schedule, session)
        prefix = book.session_book_prefix(symbol, session)
        stale = [order_id for _, order_id in _first(ctx.state.range(prefix), budget)]
        for order_id in stale:
            book.cancel(ctx, self._indexed(ctx, order_id), "EXPIRED", close_ms)
        if len(stale) < budget:
            ctx.state.delete(book.booked_key(session, symbol))
            if ctx.state.get(book.crossed_key(symbol)) == session:
                ctx.state.delete(book.crossed_key(symbol))
        return len(stale)

    # ---- reads -------------------------------------------------------------------------------

    def _token(self, ctx: Context, symbol: str) -> dict[str, Any]:
        token: dict[str, Any] | None = ctx.call("token", "meta", symbol=symbol)
        if token is None:
            raise ChaincodeError("UNKNOWN_TOKEN", f"no token {symbol}")
        return token

    def _order(self, ctx: Context, order_id: int) -> dict[str, Any]:
        order = book.load_order(ctx, order_id)
        if order is None:
            raise ChaincodeError("UNKNOWN_ORDER", f"no order {order_id}")
        return order

    def _indexed(self, ctx: Context, order_id: int) -> dict[str, Any]:
        """An order an index of this contract names (its record always exists)."""
        order = book.load_order(ctx, order_id)
        assert order is not None, f"an index names order {order_id}, which has no record"
        return order

    def _broker_of(self, ctx: Context, account: str) -> str | None:
        record = ctx.identity(account)
        return None if record is None else record.get("broker")

    def _require_account_reader(self, ctx: Context, account: str, brokers: tuple[str, ...]
                                ) -> None:
        """The account, its broker (now, or the one that placed the order), the registrar,
        the regulator."""
        if ctx.caller == account:
            return
        role = caller_role(ctx)
        if role in ("registrar", "regulator"):
            return
        if role == "broker" and ctx.caller in (*brokers, self._broker_of(ctx, account)):
            return
        raise Forbidden("only the account, its broker, the registrar and the regulator may "
                        "read its orders")

    # ---- queries -----------------------------------------------------------------------------

    @query
    def book(self, ctx: Context, symbol: Any, depth: Any = 10) -> dict[str, Any]:
        """Price levels of the open session, best first, with total qty; no accounts."""
        require_registered_reader(ctx)
        symbol = require_symbol(symbol)
        depth = require_int("depth", depth, 1, MAX_DEPTH)
        self._token(ctx, symbol)
        session = self._session(ctx)
        sides: dict[str, list[dict[str, int]]] = {"bids": [], "asks": []}
        if session is not None:
            for name, side in (("bids", "buy"), ("asks", "sell")):
                prefix = book.level_prefix(symbol, session, side)
                sides[name] = [level for _, level in _first(ctx.state.range(prefix), depth)]
        return {"symbol": symbol, "open": session is not None,
                "halted": ctx.state.get(book.halt_key(symbol)) is not None, **sides}

    @query
    def quote(self, ctx: Context, symbol: Any) -> dict[str, Any]:
        require_registered_reader(ctx)
        symbol = require_symbol(symbol)
        token = self._token(ctx, symbol)
        market = ctx.params["market"]
        stats = ctx.state.get(book.stats_key(symbol))
        day = kst_day(ctx.time)
        reference = compute_reference_price(stats, token["unit_price"], day)
        band = compute_band(reference, market["price_band_bps"])
        today = stats is not None and stats["day"] == day
        top = self.book(ctx, symbol=symbol, depth=1)
        return {"symbol": symbol, "last_price": None if stats is None else stats["last_price"],
                "reference_price": reference,
                "band": {"bps": market["price_band_bps"],
                         "low": None if band is None else band[0],
                         "high": None if band is None else band[1]},
                "day_volume": stats["day_volume"] if today else 0,
                "day_value": stats["day_value"] if today else 0,
                "trades": 0 if stats is None else stats["trades"],
                "best_bid": top["bids"][0]["price"] if top["bids"] else None,
                "best_ask": top["asks"][0]["price"] if top["asks"] else None,
                "open": top["open"], "halted": top["halted"],
                "tick": market["tick"], "trade_tax_bps": market["trade_tax_bps"]}

    @query
    def trades(self, ctx: Context, symbol: Any, after: Any = 0, limit: Any = 100
               ) -> dict[str, Any]:
        """Trades after trade id `after`, oldest first; buyer and seller only for the
        registrar and the regulator."""
        role = require_registered_reader(ctx)
        symbol = require_symbol(symbol)
        after = require_int("after", after, 0)
        limit = require_int("limit", limit, 1, MAX_PAGE)
        self._token(ctx, symbol)
        full = role in ("registrar", "regulator")
        rows: list[dict[str, Any]] = []
        following = None
        start = book.symbol_trade_key(symbol, after + 1)
        for _, trade_id in ctx.state.range(book.symbol_trades_prefix(symbol), start):
            if len(rows) == limit:
                following = rows[-1]["trade_id"]
                break
            trade = ctx.state.get(book.trade_key(trade_id))
            if not full:
                trade = {name: trade[name] for name in ("trade_id", "symbol", "price", "qty",
                                                        "aggressor", "height", "time")}
            rows.append(trade)
        return {"symbol": symbol, "trades": rows, "next": following}

    @query
    def order(self, ctx: Context, order_id: Any) -> dict[str, Any]:
        order = self._order(ctx, require_int("order_id", order_id, 1))
        self._require_account_reader(ctx, order["account"], (order["broker"],))
        return order

    @query
    def orders(self, ctx: Context, account: Any, after: Any = 0, limit: Any = 100
               ) -> dict[str, Any]:
        """The account's orders after order id `after`, oldest first."""
        account = require_account("account", account)
        after = require_int("after", after, 0)
        limit = require_int("limit", limit, 1, MAX_PAGE)
        rows: list[dict[str, Any]] = []
        following = None
        brokers: set[str] = set()
        start = book.account_order_key(account, after + 1)
        for key, _ in ctx.state.range(book.account_orders_prefix(account), start):
            if len(rows) == limit:
                following = rows[-1]["order_id"]
                break
            order = self._order(ctx, int(key.rsplit("/", 1)[1]))
            brokers.add(order["broker"])
            rows.append(order)
        self._require_account_reader(ctx, account, tuple(sorted(brokers)))
        return {"account": account, "orders": rows, "next": following}

    # ---- for other contracts -----------------------------------------------------------------

    @internal
    def cancel_held(self, ctx: Context, account: str, limit: int) -> list[int]:
        """fds.hold (trading): cancel up to `limit` of the account's open orders, oldest
        first, with code ACCOUNT_HELD; the ids cancelled. When more are left, the account is
        marked (`unwind/<account>` = the last order id issued) and the hook `unwind_held`
        cancels the rest at the start of the next blocks, whether or not the hold is still
        active then; one reached by a fill first is refused (token.deliver runs the hold
        check) and cancelled then."""
        order_ids = self._cancel_open(ctx, account, limit, int(ctx.state.get("next_order", 0)))
        if len(order_ids) == limit and book.open_count(ctx, account):
            ctx.state.put(book.unwind_key(account), int(ctx.state.get("next_order", 0)))
        return order_ids

    def _cancel_open(self, ctx: Context, account: str, limit: int, last_id: int) -> list[int]:
        """Cancel (ACCOUNT_HELD) up to `limit` of the account's open orders with ids up to
        `last_id`, oldest first; the ids cancelled."""
        order_ids: list[int] = []
        for key, _ in _first(ctx.state.range(book.open_orders_prefix(account)), limit):
            order_id = int(key.rsplit("/", 1)[1])
            if order_id > last_id:
                break
            order_ids.append(order_id)
        for order_id in order_ids:
            book.cancel(ctx, self._indexed(ctx, order_id), "ACCOUNT_HELD")
        return order_ids

    @begin_block
    def unwind_held(self, ctx: Context) -> int:
        """At the start of a block: go on cancelling the orders a trading hold left resting
        (`cancel_held`), at most MAX_UNWIND_PER_BLOCK units of work (an order cancelled, or an
        account found with none left, whose mark goes), accounts in key order. The units of
        work spent."""
        work = 0
        while work < MAX_UNWIND_PER_BLOCK:
            marked = next(ctx.state.range(book.unwind_prefix()), None)
            if marked is None:
                return work
            account, last_id = marked[0][len(book.unwind_prefix()):], int(marked[1])
            budget = MAX_UNWIND_PER_BLOCK - work
            cancelled = self._cancel_open(ctx, account, budget, last_id)
            if len(cancelled) < budget:
                ctx.state.delete(book.unwind_key(account))
            work += max(1, len(cancelled))
        return work

    @internal
    def recover(self, ctx: Context, old: str, new: str) -> list[int]:
        """token.recover: `old`'s open orders become `new`'s (their escrows were moved by the
        token and cash contracts). Closed orders and trades keep the account they had."""
        moved = []
        for key, symbol in list(ctx.state.range(book.open_orders_prefix(old))):
            order_id = int(key.rsplit("/", 1)[1])
            order = self._indexed(ctx, order_id)
            order["account"] = new
            ctx.state.put(book.order_key(order_id), order)
            ctx.state.delete(book.open_order_key(old, order_id))
            ctx.state.put(book.open_order_key(new, order_id), symbol)
            ctx.state.delete(book.account_order_key(old, order_id))
            ctx.state.put(book.account_order_key(new, order_id), symbol)
            ctx.state.put(book.symbol_order_key(symbol, order_id), new)
            moved.append(order_id)
        if moved:
            ctx.state.delete(book.open_count_key(old))
            ctx.state.put(book.open_count_key(new), book.open_count(ctx, new) + len(moved))
        unwinding = ctx.state.get(book.unwind_key(old))
        if unwinding is not None:  # a trading hold's orders still to cancel follow the key
            ctx.state.delete(book.unwind_key(old))
            ctx.state.put(book.unwind_key(new), unwinding)
        return moved

    @internal
    def cancel_sells(self, ctx: Context, symbol: str, account: str, units: int, code: str
                     ) -> int:
        """token.force_transfer: cancel `account`'s resting sell orders of `symbol`, newest
        first, until at least `units` units on order are released (or none is left); the
        units released. At most MAX_OPEN_ORDERS orders are read."""
        released = 0
        resting = list(ctx.state.range(book.open_orders_prefix(account)))
        for key, order_symbol in reversed(resting):
            if released >= units:
                break
            if order_symbol != symbol:
                continue
            order = self._indexed(ctx, int(key.rsplit("/", 1)[1]))
            if order["side"] == "sell":
                released += order["remaining"]
                book.cancel(ctx, order, code)
        return released


def _first(items: Any, count: int) -> list[Any]:
    """The first `count` items of an iterator (a range: it stops reading there)."""
    taken: list[Any] = []
    for item in items:
        if len(taken) == count:
            break
        taken.append(item)
    return taken


__all__ = ["KST_OFFSET_MS", "MARKET_DEFAULTS", "Market", "MarketParamsError", "Schedule",
           "check_market_params", "compile_sessions", "compute_band", "compute_session",
           "kst_day", "session_bounds"]
