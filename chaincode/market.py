"""The market contract: an order book per token, every fill settled delivery versus payment.

Theory of operation. Investors trade through their broker (위탁매매): `place` is sent by the
broker that registered the investor, with the broker-attested `media` and `origin`. An accepted
order first escrows what it offers: a sell's units (`token/onorder/...`, subtracted from the
available units by compliance.available, so `transfer` and `can_transfer` see it alike) or a
buy's cash at its limit price (the cash escrow `market/<order_id>` of chaincode.cash). It is
then matched at once against the other side of the book, best price first and, at one
price, the oldest order first; each fill trades at the resting order's price. A fill is
delivery versus payment inside this transaction: the token contract moves the units under
the same rules as `token.transfer` (compliance.check_transfer, the purchase valued at the
trade price) or refuses before writing anything, and only then does the cash move (buyer
-> seller, less the securities transaction tax to `tax`; a buy filled below its limit gets
the difference back). Both legs or neither.

A fill the transfer rules refuse cancels the order on the side at fault (the buyer for the
holding and recipient checks, the seller for balance, verification and lock-up, the AML-high
party for AML_BLOCKED): a resting order is cancelled with that code and matching goes on; the
incoming order has its remainder cancelled with it. An order never trades with an order of the
same account: the resting one is cancelled (SELF_TRADE). One transaction makes at most
MAX_FILLS fills and MAX_CANCELS cancellations while matching; then a `gtc` remainder rests and
an `ioc` remainder is cancelled (IOC_UNFILLED). A `gtc` remainder that rests across the book
that way goes on matching at the start of the next `place` on the token (`_uncross`), within
the same per-transaction limits, before the new order is accepted.

Sessions. Genesis `params.market.sessions` is `"always"` (one endless session, id 0) or a weekly
KST schedule with holidays (see check_market_params). A session's id is the UTC ms of its
opening bell; the book lives under the session id, so orders of a closed session can never
trade or show in `book`. Their escrow is released (OrderCancelled, code EXPIRED) by the next
`place` on the token (up to MAX_EXPIRE per transaction, oldest first) or by `cancel`.

Reference price and band. The trading day is the KST calendar day of block time. The reference
price of a day is the last trade price of the previous day that had a trade (`unit_price`
before any trade); an order's price must lie within +-`price_band_bps` of it (0 = no band).

Determinism: integers only, block time from the context, every iteration is a key-ordered
range. An invalid call raises before it writes (the runtime drops a failed transaction's
writes in any case).

Key layout (inside the `market/` namespace; ids are 12 digits, sessions 16 digits, prices 19
digits, zero-padded so that key order is numeric order):

    next_order                         the last order id issued
    next_trade                         the last trade id issued
    order/<order_id>                   the order (below)
    sym/<symbol>/<order_id>            every order of a token, oldest first   -> account
    acct/<account>/<order_id>          every order of an account              -> symbol
    open/<account>/<order_id>          the account's open orders              -> symbol
    nopen/<account>                    how many open orders the account has (MAX_OPEN_ORDERS)
    book/<symbol>/<session>/<b|s>/<price_key>/<order_id>   a resting order    -> order_id
                                       price_key: the price for asks, 10^19-1-price for bids,
                                       so a range over .../b/ or .../s/ is price-time priority
    level/<symbol>/<session>/<b|s>/<price_key>   {"price", "qty", "orders"} of one price level
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
the remaining qty of its open sell orders; the cash escrow of an open buy order = its
remaining x price; the book of the open session is never crossed after a `place` that stayed
within MAX_FILLS and MAX_CANCELS.

Errors: UNAUTHORIZED, BAD_ARGS, UNKNOWN_TOKEN, MARKET_CLOSED, NOT_YOUR_CLIENT, BAD_ORDER,
PRICE_LIMIT, the seller-side and buyer-side transfer codes (chaincode.compliance),
INSUFFICIENT_CASH, TOO_MANY_ORDERS, UNKNOWN_ORDER, ORDER_CLOSED, ALREADY_HALTED, NOT_HALTED,
FORBIDDEN. Cancel codes in OrderCancelled and orders: CANCELLED, IOC_UNFILLED, SELF_TRADE,
EXPIRED, and the transfer codes a fill was refused with.
"""

from __future__ import annotations

import datetime
import itertools
import re
from typing import Any

from chaincode.fds import is_held
from chaincode.identity import (
    caller_role,
    require_registered_reader,
    require_role,
)
from chaincode.runtime import (
    ChaincodeError,
    Context,
    Contract,
    Forbidden,
    internal,
    query,
    require_account,
    require_int,
    require_str,
    transaction,
)
from chaincode.token import MAX_AMOUNT, require_sha256, require_symbol
from consensus import codec

MAX_FILLS = 64  # fills per transaction (PROTOCOL.md)
MAX_CANCELS = 64  # resting orders cancelled while matching one order (self-trade, refused)
MAX_EXPIRE = 64  # orders of closed sessions released by one place
MAX_OPEN_ORDERS = 1_000  # per account: bounds token.recover, which carries them to a new key
MAX_PAGE = 1_000  # rows per trades / orders answer
MAX_DEPTH = 100  # price levels per side in a book answer
MEDIA = ("hts", "mts", "api", "branch", "phone")
SIDES = ("buy", "sell")
TIFS = ("gtc", "ioc")
PRICE_DIGITS = 19  # MAX_AMOUNT = 2^62 < 10^19
BID_KEY_BASE = 10**PRICE_DIGITS - 1

KST_OFFSET_MS = 9 * 3_600_000  # Korea Standard Time, UTC+9, no daylight saving
DAY_MS = 86_400_000
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_WINDOWS = 64
MAX_HOLIDAYS = 10_000
HHMM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])|24:00")
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

MARKET_DEFAULTS: dict[str, Any] = {
    "sessions": "always",  # or {"weekly": [...], "holidays": [...]} in KST
    "price_band_bps": 3_000,  # Korea's daily price limit, +-30%; 0 = no band
    "tick": 1,  # won
    "trade_tax_bps": 0,  # securities transaction tax, paid out of the seller's proceeds
}


# ---- genesis parameters ----------------------------------------------------------------------

class MarketParamsError(ValueError):
    """A bad `params.market`; `field` is the path below it (`sessions.weekly[0].open`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"market.{field}: {message}" if field else f"market: {message}")
        self.field = field
        self.message = message


def check_market_params(value: Any) -> dict[str, Any]:
    """`params.market` with defaults for missing fields, validated (MarketParamsError).

    sessions: `"always"`, or `{"weekly": [{"days": ["mon", ...], "open": "09:00",
    "close": "15:30"}, ...], "holidays": ["2026-01-01", ...]}` with times and dates in KST;
    a window is open from `open` (inclusive) to `close` (exclusive) on each of its days,
    windows of one day may not overlap, and nothing is open on a holiday."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise MarketParamsError("", "must be an object")
    for name in value:
        if name not in MARKET_DEFAULTS:
            raise MarketParamsError(str(name), "unknown field")
    merged = dict(MARKET_DEFAULTS)
    merged.update(value)
    _param_int("price_band_bps", merged["price_band_bps"], 0, 1_000_000)
    _param_int("tick", merged["tick"], 1, MAX_AMOUNT)
    _param_int("trade_tax_bps", merged["trade_tax_bps"], 0, 10_000)
    compile_sessions(merged["sessions"])
    return merged


def _param_int(field: str, value: Any, lowest: int, highest: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MarketParamsError(field, "must be an integer")
    if not lowest <= value <= highest:
        raise MarketParamsError(field, f"{value} is out of range [{lowest}, {highest}]")
    return value


# (windows of each weekday, holiday day numbers); None: always open
Schedule = tuple[tuple[tuple[tuple[int, int], ...], ...], frozenset[int]] | None
_SCHEDULES: dict[bytes, Schedule] = {}  # compiled schedules by canonical bytes (one a chain)


def compile_sessions(sessions: Any) -> Schedule:
    """(windows per weekday as (open_ms, close_ms) of the KST day, holiday day numbers), or
    None for `always`. Raises MarketParamsError for a bad schedule."""
    if sessions == "always":
        return None
    key = codec.pack(sessions) if isinstance(sessions, dict) else b""
    if key in _SCHEDULES:
        return _SCHEDULES[key]
    if not isinstance(sessions, dict):
        raise MarketParamsError("sessions", 'must be "always" or {"weekly", "holidays"}')
    for name in sessions:
        if name not in ("weekly", "holidays"):
            raise MarketParamsError(f"sessions.{name}", "unknown field")
    weekly = sessions.get("weekly")
    if not isinstance(weekly, list) or not 1 <= len(weekly) <= MAX_WINDOWS:
        raise MarketParamsError("sessions.weekly", f"must be a list of 1..{MAX_WINDOWS} "
                                "windows")
    days: list[list[tuple[int, int]]] = [[] for _ in WEEKDAYS]
    for index, window in enumerate(weekly):
        where = f"sessions.weekly[{index}]"
        if not isinstance(window, dict) or set(window) != {"days", "open", "close"}:
            raise MarketParamsError(where, 'must be {"days", "open", "close"}')
        open_ms, close_ms = (_hhmm(f"{where}.{name}", window[name]) for name in ("open", "close"))
        if open_ms >= close_ms:
            raise MarketParamsError(f"{where}.close", "must be after open (same KST day)")
        names = window["days"]
        if (not isinstance(names, list) or not names or len(set(names)) != len(names)
                or any(name not in WEEKDAYS for name in names)):
            raise MarketParamsError(f"{where}.days", f"must be distinct days of {WEEKDAYS}")
        for name in names:
            days[WEEKDAYS.index(name)].append((open_ms, close_ms))
    for weekday, windows in enumerate(days):
        windows.sort()
        for (_, first_close), (second_open, _) in itertools.pairwise(windows):
            if second_open < first_close:
                raise MarketParamsError("sessions.weekly", f"windows overlap on "
                                        f"{WEEKDAYS[weekday]}")
    holidays = sessions.get("holidays", [])
    if not isinstance(holidays, list) or len(holidays) > MAX_HOLIDAYS:
        raise MarketParamsError("sessions.holidays", f"must be a list of at most "
                                f"{MAX_HOLIDAYS} dates")
    holiday_days = frozenset(_day_number(f"sessions.holidays[{index}]", text)
                             for index, text in enumerate(holidays))
    if len(holiday_days) != len(holidays):
        raise MarketParamsError("sessions.holidays", "a date appears twice")
    schedule = (tuple(tuple(windows) for windows in days), holiday_days)
    _SCHEDULES[key] = schedule
    return schedule


def _hhmm(field: str, value: Any) -> int:
    if not isinstance(value, str) or not HHMM.fullmatch(value):
        raise MarketParamsError(field, 'must be a KST time "HH:MM" (00:00..24:00)')
    hours, minutes = value.split(":")
    return (int(hours) * 60 + int(minutes)) * 60_000


def _day_number(field: str, value: Any) -> int:
    """Days since 1970-01-01 of a "YYYY-MM-DD" date (pure calendar arithmetic, no clock)."""
    if not isinstance(value, str) or not DATE.fullmatch(value):
        raise MarketParamsError(field, 'must be a date "YYYY-MM-DD"')
    try:
        date = datetime.date.fromisoformat(value)
    except ValueError:
        raise MarketParamsError(field, f"{value} is not a calendar date") from None
    return date.toordinal() - datetime.date(1970, 1, 1).toordinal()


def kst_day(time_ms: int) -> int:
    """The KST calendar day (days since 1970-01-01) of a block time: the trading day."""
    return (time_ms + KST_OFFSET_MS) // DAY_MS


def compute_session(sessions: Any, time_ms: int) -> int | None:
    """The id of the session open at `time_ms` (UTC ms of its opening bell; 0 for `always`),
    or None when the market is closed."""
    schedule = compile_sessions(sessions)
    if schedule is None:
        return 0
    windows, holidays = schedule
    local = time_ms + KST_OFFSET_MS
    day, ms_of_day = divmod(local, DAY_MS)
    if day in holidays:
        return None
    for open_ms, close_ms in windows[(day + 3) % 7]:  # 1970-01-01 was a Thursday
        if open_ms <= ms_of_day < close_ms:
            return day * DAY_MS + open_ms - KST_OFFSET_MS
    return None


# ---- pure helpers ----------------------------------------------------------------------------

def compute_reference_price(stats: dict[str, Any] | None, unit_price: int, day: int) -> int:
    """The last trade price of the latest earlier day with a trade; unit_price before any."""
    if stats is None:
        return unit_price
    return int(stats["last_price"] if stats["day"] < day else stats["prev_close"])


def compute_band(reference: int, bps: int) -> tuple[int, int] | None:
    """(lowest, highest) price allowed around `reference` (None: no band)."""
    if bps == 0:
        return None
    lowest = max(1, -(-reference * (10_000 - bps) // 10_000))  # ceiling
    return lowest, reference * (10_000 + bps) // 10_000


def compute_tax(value: int, bps: int) -> int:
    return value * bps // 10_000


def is_crossing(side: str, limit: int, resting_price: int) -> bool:
    """Whether an incoming order at `limit` trades with a resting order at `resting_price`."""
    return resting_price <= limit if side == "buy" else resting_price >= limit


def price_key(side: str, price: int) -> str:
    return f"{BID_KEY_BASE - price if side == 'buy' else price:0{PRICE_DIGITS}d}"


def side_letter(side: str) -> str:
    return "b" if side == "buy" else "s"


def escrow_ref(order_id: int) -> str:
    """The cash escrow of a buy order (chaincode.cash `escrow/<ref>`)."""
    return f"market/{order_id:012d}"


def order_key(order_id: int) -> str:
    return f"order/{order_id:012d}"


def book_prefix(symbol: str, session: int, side: str) -> str:
    return f"book/{symbol}/{session:016d}/{side_letter(side)}/"


def book_key(order: dict[str, Any]) -> str:
    return (book_prefix(order["symbol"], order["session"], order["side"])
            + f"{price_key(order['side'], order['price'])}/{order['order_id']:012d}")


def level_key(order: dict[str, Any]) -> str:
    return (f"level/{order['symbol']}/{order['session']:016d}/{side_letter(order['side'])}/"
            f"{price_key(order['side'], order['price'])}")


SELLER_CODES = frozenset({"INSUFFICIENT_BALANCE", "SENDER_NOT_VERIFIED", "LOCKUP_ACTIVE"})


# ---- the contract ----------------------------------------------------------------------------

class Market(Contract):
    name = "market"

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
        session = compute_session(market["sessions"], ctx.time)
        if session is None:
            raise ChaincodeError("MARKET_CLOSED", "outside the market's sessions")
        if ctx.state.get(f"halt/{symbol}") is not None:
            raise ChaincodeError("MARKET_CLOSED", f"trading in {symbol} is halted")
        record = ctx.identity(account)
        if record is None or record.get("broker") != ctx.caller:
            raise ChaincodeError("NOT_YOUR_CLIENT", f"{account} is not an investor this "
                                 "broker registered")
        self._check_order(price, qty, market["tick"])
        self._check_band(ctx, token, price, market["price_band_bps"])
        self._expire(ctx, symbol, session)
        if side == "buy":
            cash = ctx.call("cash", "balance_of", account=account)  # available cash
            if cash < price * qty:
                raise ChaincodeError("INSUFFICIENT_CASH", f"only {cash} KRW is available, "
                                     f"less than the {price} x {qty} KRW the order needs")
        # the transfer rules that can be known now (chaincode.compliance, via the token)
        verdict = ctx.call("token", "order_verdict", symbol=symbol, account=account,
                           side=side, amount=qty)
        if verdict is not None:
            raise ChaincodeError(*verdict)
        open_orders = int(ctx.state.get(f"nopen/{account}", 0))
        if open_orders >= MAX_OPEN_ORDERS:
            raise ChaincodeError("TOO_MANY_ORDERS", f"an account may have at most "
                                 f"{MAX_OPEN_ORDERS} open orders")
        fills, cancels = self._uncross(ctx, token, session)
        order = self._accept(ctx, symbol, account, side, price, qty, tif, media, origin,
                             session)
        trade_ids = self._match(ctx, token, order, MAX_FILLS - fills, MAX_CANCELS - cancels)
        if order["status"] == "open":
            if order["remaining"] == 0:
                self._finish(ctx, order, "filled", None)
            elif tif == "ioc":
                self._cancel(ctx, order, "IOC_UNFILLED")
            else:
                self._rest(ctx, order)
        return {"order_id": order["order_id"], "status": order["status"],
                "filled": order["filled"], "remaining": order["remaining"],
                "trades": trade_ids}

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
        self._cancel(ctx, order, "CANCELLED")
        return order

    @transaction
    def halt(self, ctx: Context, symbol: Any, reason: Any) -> dict[str, Any]:
        require_role(ctx, "registrar")
        symbol = require_symbol(symbol)
        reason = require_str("reason", reason, 512)
        self._token(ctx, symbol)
        if ctx.state.get(f"halt/{symbol}") is not None:
            raise ChaincodeError("ALREADY_HALTED", f"{symbol} is already halted")
        halt = {"reason": reason, "by": ctx.caller, "height": ctx.height, "time": ctx.time}
        ctx.state.put(f"halt/{symbol}", halt)
        ctx.emit("MarketHalted", {"symbol": symbol, "reason": reason})
        return dict(halt, symbol=symbol)

    @transaction
    def resume(self, ctx: Context, symbol: Any) -> dict[str, Any]:
        require_role(ctx, "registrar")
        symbol = require_symbol(symbol)
        self._token(ctx, symbol)
        if ctx.state.get(f"halt/{symbol}") is None:
            raise ChaincodeError("NOT_HALTED", f"{symbol} is not halted")
        ctx.state.delete(f"halt/{symbol}")
        ctx.emit("MarketResumed", {"symbol": symbol})
        return {"symbol": symbol, "halted": False}

    # ---- place, step by step -----------------------------------------------------------------

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

    def _check_band(self, ctx: Context, token: dict[str, Any], price: int, bps: int) -> None:
        reference = compute_reference_price(ctx.state.get(f"stats/{token['symbol']}"),
                                            token["unit_price"], kst_day(ctx.time))
        band = compute_band(reference, bps)
        if band is not None and not band[0] <= price <= band[1]:
            raise ChaincodeError("PRICE_LIMIT", f"price {price} is outside {band[0]}..{band[1]} "
                                 f"(reference {reference} +-{bps} bps)")

    def _accept(self, ctx: Context, symbol: str, account: str, side: str, price: int,
                qty: int, tif: str, media: str, origin: str, session: int) -> dict[str, Any]:
        """Number the order, escrow what it offers, index it, announce it."""
        order_id = int(ctx.state.get("next_order", 0)) + 1
        ctx.state.put("next_order", order_id)
        if side == "sell":
            ctx.call("token", "hold", symbol=symbol, account=account, amount=qty)
        else:
            ctx.call("cash", "escrow", ref=escrow_ref(order_id), account=account,
                     amount=price * qty)
        order = {"order_id": order_id, "symbol": symbol, "account": account,
                 "broker": ctx.caller, "side": side, "price": price, "qty": qty, "filled": 0,
                 "remaining": qty, "value": 0, "fills": 0, "tif": tif, "media": media,
                 "origin": origin, "status": "open", "code": None, "session": session,
                 "placed_height": ctx.height, "placed_time": ctx.time, "placed_tx": ctx.tx_id,
                 "closed_height": None, "closed_time": None}
        key = f"{order_id:012d}"
        ctx.state.put(f"sym/{symbol}/{key}", account)
        ctx.state.put(f"acct/{account}/{key}", symbol)
        ctx.state.put(f"open/{account}/{key}", symbol)
        # read again: uncrossing may have closed some of this account's orders
        ctx.state.put(f"nopen/{account}", int(ctx.state.get(f"nopen/{account}", 0)) + 1)
        ctx.state.put(order_key(order_id), order)
        ctx.emit("OrderPlaced", {"order_id": order_id, "symbol": symbol, "account": account,
                                 "broker": ctx.caller, "side": side, "price": price, "qty": qty,
                                 "tif": tif, "media": media})
        return order

    def _uncross(self, ctx: Context, token: dict[str, Any], session: int) -> tuple[int, int]:
        """(fills, cancellations) of continuing an earlier order's matching. A `gtc` order
        whose matching stopped at MAX_FILLS or MAX_CANCELS rests across the book; before the
        next order is accepted, the newer of the two crossing orders at the top goes on
        matching as the aggressor, at the older one's price, under the same rules."""
        symbol = token["symbol"]
        trade_ids: list[int] = []
        cancels = 0
        while len(trade_ids) < MAX_FILLS and cancels < MAX_CANCELS:
            best_bid = next(ctx.state.range(book_prefix(symbol, session, "buy")), None)
            best_ask = next(ctx.state.range(book_prefix(symbol, session, "sell")), None)
            if best_bid is None or best_ask is None:
                break
            buy, sell = self._order(ctx, best_bid[1]), self._order(ctx, best_ask[1])
            if buy["price"] < sell["price"]:
                break
            order, resting = (buy, sell) if buy["order_id"] > sell["order_id"] else (sell, buy)
            if order["account"] == resting["account"]:
                self._cancel(ctx, resting, "SELF_TRADE")
                cancels += 1
                continue
            refused = self._fill(ctx, token, order, resting, trade_ids)
            if refused is not None:
                code, at_fault = refused
                self._cancel(ctx, at_fault, code)
                cancels += 1
        return len(trade_ids), cancels

    def _match(self, ctx: Context, token: dict[str, Any], order: dict[str, Any],
               max_fills: int, max_cancels: int) -> list[int]:
        """Fill `order` against the other side until it is filled, stops crossing, is
        cancelled by a refused fill, or the transaction's limits are reached."""
        opposite = "sell" if order["side"] == "buy" else "buy"
        prefix = book_prefix(order["symbol"], order["session"], opposite)
        trade_ids: list[int] = []
        cancels = 0
        while order["remaining"] > 0 and len(trade_ids) < max_fills:
            top = next(ctx.state.range(prefix), None)
            if top is None:
                break
            resting = self._order(ctx, top[1])
            if not is_crossing(order["side"], order["price"], resting["price"]):
                break
            if cancels >= max_cancels:
                break
            if resting["account"] == order["account"]:
                self._cancel(ctx, resting, "SELF_TRADE")
                cancels += 1
                continue
            refused = self._fill(ctx, token, order, resting, trade_ids)
            if refused is None:
                continue
            code, at_fault = refused
            if at_fault is order:
                self._cancel(ctx, order, code)
                break
            self._cancel(ctx, resting, code)
            cancels += 1
        return trade_ids

    def _fill(self, ctx: Context, token: dict[str, Any], order: dict[str, Any],
              resting: dict[str, Any], trade_ids: list[int]
              ) -> tuple[str, dict[str, Any]] | None:
        """One fill, both legs or neither; (code, the order at fault) when the rules refuse."""
        symbol = token["symbol"]
        buy, sell = (order, resting) if order["side"] == "buy" else (resting, order)
        qty = min(order["remaining"], resting["remaining"])
        price = resting["price"]
        trade_id = int(ctx.state.get("next_trade", 0)) + 1
        try:
            ctx.call("token", "deliver", symbol=symbol, seller=sell["account"],
                     buyer=buy["account"], amount=qty, price=price, trade_id=trade_id)
        except ChaincodeError as error:
            return error.code, self._at_fault(ctx, error.code, buy, sell)
        value = qty * price
        tax = compute_tax(value, ctx.params["market"]["trade_tax_bps"])
        memo = f"trade {trade_id}"
        ref = escrow_ref(buy["order_id"])
        if value - tax:
            ctx.call("cash", "escrow_pay", ref=ref, to=sell["account"], amount=value - tax,
                     memo=memo)
        if tax:
            tax_account = ctx.call("identity", "tax_account")
            assert tax_account is not None, "genesis registers a tax account"
            ctx.call("cash", "escrow_pay", ref=ref, to=tax_account, amount=tax,
                     memo=f"{memo} securities transaction tax")
        if buy["price"] > price:  # filled below its limit: the difference goes back
            ctx.call("cash", "escrow_release", ref=ref, amount=qty * (buy["price"] - price))
        ctx.state.put("next_trade", trade_id)
        trade = {"trade_id": trade_id, "symbol": symbol, "price": price, "qty": qty,
                 "value": value, "tax": tax, "buy_order": buy["order_id"],
                 "sell_order": sell["order_id"], "buyer": buy["account"],
                 "seller": sell["account"], "aggressor": order["side"], "height": ctx.height,
                 "time": ctx.time, "tx_id": ctx.tx_id}
        key = f"{trade_id:012d}"
        ctx.state.put(f"trade/{key}", trade)
        ctx.state.put(f"tsym/{symbol}/{key}", trade_id)
        ctx.state.put(f"tacct/{buy['account']}/{key}", trade_id)
        ctx.state.put(f"tacct/{sell['account']}/{key}", trade_id)
        self._record_stats(ctx, token, price, qty, value)
        for filled in (order, resting):
            filled["filled"] += qty
            filled["remaining"] -= qty
            filled["value"] += value
            filled["fills"] += 1
        for filled in (resting, order):  # the aggressor rests too when it is uncrossing
            if filled["status"] == "resting":
                self._take_from_level(ctx, filled, qty, leaves=filled["remaining"] == 0)
                if filled["remaining"] == 0:
                    ctx.state.delete(book_key(filled))
                    self._finish(ctx, filled, "filled", None)
                    continue
            ctx.state.put(order_key(filled["order_id"]), filled)
        ctx.emit("Trade", {"trade_id": trade_id, "symbol": symbol, "price": price, "qty": qty,
                           "buy_order": buy["order_id"], "sell_order": sell["order_id"],
                           "buyer": buy["account"], "seller": sell["account"],
                           "aggressor": order["side"]})
        trade_ids.append(trade_id)
        return None

    def _at_fault(self, ctx: Context, code: str, buy: dict[str, Any], sell: dict[str, Any]
                  ) -> dict[str, Any]:
        """The order whose side a refused fill's code is about."""
        if code in SELLER_CODES:
            return sell
        if code == "ACCOUNT_HELD":  # a trading hold (chaincode.fds) on either side
            return sell if is_held(ctx, sell["account"], "trading") else buy
        if code == "AML_BLOCKED":
            record = ctx.identity(sell["account"])
            seller_high = record is not None and record.get("attrs", {}).get("aml_risk") == "high"
            return sell if seller_high else buy
        return buy  # recipient and holding checks (TOKEN_PAUSED cannot happen: place checks it)

    def _record_stats(self, ctx: Context, token: dict[str, Any], price: int, qty: int,
                      value: int) -> None:
        symbol, day = token["symbol"], kst_day(ctx.time)
        stats = ctx.state.get(f"stats/{symbol}")
        if stats is None:
            stats = {"last_price": token["unit_price"], "day": day,
                     "prev_close": token["unit_price"], "day_volume": 0, "day_value": 0,
                     "trades": 0, "last_time": ctx.time}
        if stats["day"] < day:  # the first trade of a new trading day
            stats.update(prev_close=stats["last_price"], day=day, day_volume=0, day_value=0)
        stats["last_price"] = price
        stats["day_volume"] = min(MAX_AMOUNT, stats["day_volume"] + qty)  # saturate: the sums
        stats["day_value"] = min(MAX_AMOUNT, stats["day_value"] + value)  # must stay encodable
        stats["trades"] += 1
        stats["last_time"] = ctx.time
        ctx.state.put(f"stats/{symbol}", stats)

    def _rest(self, ctx: Context, order: dict[str, Any]) -> None:
        order["status"] = "resting"
        ctx.state.put(book_key(order), order["order_id"])
        level = ctx.state.get(level_key(order)) or {"price": order["price"], "qty": 0,
                                                    "orders": 0}
        level["qty"] += order["remaining"]
        level["orders"] += 1
        ctx.state.put(level_key(order), level)
        ctx.state.put(order_key(order["order_id"]), order)

    def _take_from_level(self, ctx: Context, order: dict[str, Any], qty: int, leaves: bool
                         ) -> None:
        """`qty` of a resting order leaves its price level; `leaves`: the order too."""
        level = ctx.state.get(level_key(order))
        assert level is not None and level["qty"] >= qty, "price level out of step"
        level["qty"] -= qty
        if leaves:
            level["orders"] -= 1
        if level["orders"] == 0:
            assert level["qty"] == 0, "empty price level with quantity"
            ctx.state.delete(level_key(order))
        else:
            ctx.state.put(level_key(order), level)

    def _cancel(self, ctx: Context, order: dict[str, Any], code: str) -> None:
        """Cancel what is left of an order and give back its escrow."""
        remaining = order["remaining"]
        if order["status"] == "resting":
            ctx.state.delete(book_key(order))
            self._take_from_level(ctx, order, remaining, leaves=True)
        if remaining:
            if order["side"] == "sell":
                ctx.call("token", "release", symbol=order["symbol"], account=order["account"],
                         amount=remaining)
            else:
                ctx.call("cash", "escrow_release", ref=escrow_ref(order["order_id"]),
                         amount=remaining * order["price"])
        self._finish(ctx, order, "cancelled", code)
        ctx.emit("OrderCancelled", {"order_id": order["order_id"], "symbol": order["symbol"],
                                    "account": order["account"], "code": code,
                                    "filled": order["filled"], "cancelled": remaining})

    def _finish(self, ctx: Context, order: dict[str, Any], status: str, code: str | None
                ) -> None:
        """The order leaves the open set (filled or cancelled)."""
        order.update(status=status, code=code, closed_height=ctx.height, closed_time=ctx.time)
        account = order["account"]
        ctx.state.delete(f"open/{account}/{order['order_id']:012d}")
        open_orders = int(ctx.state.get(f"nopen/{account}", 0)) - 1
        assert open_orders >= 0, "open order count out of step"
        if open_orders:
            ctx.state.put(f"nopen/{account}", open_orders)
        else:
            ctx.state.delete(f"nopen/{account}")
        ctx.state.put(order_key(order["order_id"]), order)

    def _expire(self, ctx: Context, symbol: str, session: int) -> None:
        """Cancel (EXPIRED) up to MAX_EXPIRE resting orders of closed sessions, oldest first."""
        stale: list[int] = []
        for key, order_id in ctx.state.range(f"book/{symbol}/"):
            if int(key.split("/")[2]) >= session or len(stale) == MAX_EXPIRE:
                break
            stale.append(order_id)
        for order_id in stale:
            self._cancel(ctx, self._order(ctx, order_id), "EXPIRED")

    # ---- reads -------------------------------------------------------------------------------

    def _token(self, ctx: Context, symbol: str) -> dict[str, Any]:
        token: dict[str, Any] | None = ctx.call("token", "meta", symbol=symbol)
        if token is None:
            raise ChaincodeError("UNKNOWN_TOKEN", f"no token {symbol}")
        return token

    def _order(self, ctx: Context, order_id: int) -> dict[str, Any]:
        order: dict[str, Any] | None = ctx.state.get(order_key(order_id))
        if order is None:
            raise ChaincodeError("UNKNOWN_ORDER", f"no order {order_id}")
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
        session = compute_session(ctx.params["market"]["sessions"], ctx.time)
        sides: dict[str, list[dict[str, int]]] = {"bids": [], "asks": []}
        if session is not None:
            for name, letter in (("bids", "b"), ("asks", "s")):
                for _, level in ctx.state.range(f"level/{symbol}/{session:016d}/{letter}/"):
                    if len(sides[name]) == depth:
                        break
                    sides[name].append(level)
        return {"symbol": symbol, "open": session is not None,
                "halted": ctx.state.get(f"halt/{symbol}") is not None, **sides}

    @query
    def quote(self, ctx: Context, symbol: Any) -> dict[str, Any]:
        require_registered_reader(ctx)
        symbol = require_symbol(symbol)
        token = self._token(ctx, symbol)
        market = ctx.params["market"]
        stats = ctx.state.get(f"stats/{symbol}")
        day = kst_day(ctx.time)
        reference = compute_reference_price(stats, token["unit_price"], day)
        band = compute_band(reference, market["price_band_bps"])
        today = stats is not None and stats["day"] == day
        book = self.book(ctx, symbol=symbol, depth=1)
        return {"symbol": symbol, "last_price": None if stats is None else stats["last_price"],
                "reference_price": reference,
                "band": {"bps": market["price_band_bps"],
                         "low": None if band is None else band[0],
                         "high": None if band is None else band[1]},
                "day_volume": stats["day_volume"] if today else 0,
                "day_value": stats["day_value"] if today else 0,
                "trades": 0 if stats is None else stats["trades"],
                "best_bid": book["bids"][0]["price"] if book["bids"] else None,
                "best_ask": book["asks"][0]["price"] if book["asks"] else None,
                "open": book["open"], "halted": book["halted"],
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
        for _, trade_id in ctx.state.range(f"tsym/{symbol}/"):
            if trade_id <= after:
                continue
            if len(rows) == limit:
                following = rows[-1]["trade_id"]
                break
            trade = ctx.state.get(f"trade/{trade_id:012d}")
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
        for key, _ in ctx.state.range(f"acct/{account}/"):
            order_id = int(key.rsplit("/", 1)[1])
            if order_id <= after:
                continue
            if len(rows) == limit:
                following = rows[-1]["order_id"]
                break
            order = self._order(ctx, order_id)
            brokers.add(order["broker"])
            rows.append(order)
        self._require_account_reader(ctx, account, tuple(sorted(brokers)))
        return {"account": account, "orders": rows, "next": following}

    # ---- for other contracts -----------------------------------------------------------------

    @internal
    def cancel_held(self, ctx: Context, account: str, limit: int) -> list[int]:
        """fds.hold (trading): cancel up to `limit` of the account's open orders, oldest
        first, with code ACCOUNT_HELD; the ids cancelled. The rest are refused at their next
        fill (token.deliver runs the hold check) and cancelled then."""
        order_ids: list[int] = []
        for key, _ in ctx.state.range(f"open/{account}/"):
            if len(order_ids) == limit:
                break
            order_ids.append(int(key.rsplit("/", 1)[1]))
        for order_id in order_ids:
            self._cancel(ctx, self._order(ctx, order_id), "ACCOUNT_HELD")
        return order_ids

    @internal
    def recover(self, ctx: Context, old: str, new: str) -> list[int]:
        """token.recover: `old`'s open orders become `new`'s (their escrows were moved by the
        token and cash contracts). Closed orders and trades keep the account they had."""
        moved = []
        for key, symbol in list(ctx.state.range(f"open/{old}/")):
            order_id = int(key.rsplit("/", 1)[1])
            order = self._order(ctx, order_id)
            order["account"] = new
            ctx.state.put(order_key(order_id), order)
            for index in ("open", "acct"):
                ctx.state.delete(f"{index}/{old}/{order_id:012d}")
                ctx.state.put(f"{index}/{new}/{order_id:012d}", symbol)
            ctx.state.put(f"sym/{symbol}/{order_id:012d}", new)
            moved.append(order_id)
        if moved:
            count = int(ctx.state.get(f"nopen/{new}", 0)) + len(moved)
            ctx.state.delete(f"nopen/{old}")
            ctx.state.put(f"nopen/{new}", count)
        return moved


__all__ = ["MARKET_DEFAULTS", "Market", "MarketParamsError", "check_market_params",
           "compute_session"]
