"""The token contract: security tokens under the registrar's cap and the transfer rules.

Key layout (inside the `token/` namespace; symbols never contain "/"):

    meta/<symbol>                 the token (below)
    bal/<symbol>/<account>        holding {"balance", "frozen", "locks": [[until_ms, units]]};
                                  present only while balance > 0, so this range is the cap table
    held/<account>/<symbol>       1 while the account holds the token (recovery, holdings)
    issuer/<issuer>/<symbol>      1: the issuer's tokens (recovery of an issuer key)
    doc/<symbol>/<name>           document {"name", "uri", "sha256", "set_at", "set_by"}
    forced/<symbol>/<seq:012d>    forced transfer kept with its reason
    inv/<account>                 general investor's counted purchases per day [[day, krw]]
    invi/<account>/<issuer_id>    the same, for one issuer's tokens (`issuer_id`: the
                                  issuer's first key, unchanged by recovering its key)
    onorder/<account>/<symbol>    units escrowed for the account's open market sell orders
                                  (chaincode.market; present only while > 0). Kept apart from
                                  the holding record: load_holding attaches it as `on_order`,
                                  store_holding never writes it, and compliance.available
                                  subtracts it, so transfer and can_transfer see it alike.

The token record: `{"symbol", "name", "asset_type", "unit_price", "max_supply", "rules",
"issuer", "issuer_id", "cap" (None until approved), "issued", "redeemed", "outstanding",
"holders" (a counter kept on every balance change, the issuer's own holding included),
"paused", "documents", "forced", "created_height", "created_time", "reserved" (units open
offerings reserve against the cap, chaincode.offering), "redemption" (None, or
`{"redemption_id", "record_height"}` once the issuer called `offering.redeem_all`)}`.
Invariants: outstanding = issued - redeemed = sum of balances; issued + reserved <= cap <=
max_supply; frozen <= balance; locked <= balance.

Rules (all optional, defaults in brackets): `lockup_ms` [0], `max_holders` [0 = none],
`allowed_investor_types` [[] = all], `allowed_countries` [[] = all], `max_holding_bps`
[0 = none], `issuer_annual_limit` [0 = none].

Decisions where PROTOCOL.md is silent:
- `issue` to a general investor is checked against the limits and counts as a purchase; a
  transfer in counts as a purchase, a transfer out as a sale (offsetting counted purchases
  only, chaincode.compliance). Forced transfers and redemptions are neither checked nor counted.
- `force_transfer` checks INSUFFICIENT_BALANCE (whole balance, frozen and locked included) and
  RECIPIENT_NOT_VERIFIED only. It takes frozen units first and their freeze goes with them;
  the moved units arrive unlocked and unfrozen. Units on order are never left without their
  holding: when the balance left would be less than the units on order, the holder's sell
  orders of the token are cancelled first, in the same transaction, newest first, until it is
  not (chaincode.market `cancel_sells`, code FORCED_TRANSFER); orders the balance still
  covers rest on. The court order is never refused for an open order.
- `recover` needs `new` unregistered (ALREADY_REGISTERED), so it never merges two holdings;
  every holding, freeze, lock-up lot, investment window, cash balance and escrow of `old`
  moves to `new`, and so do its active fds holds, deposit times and today's outflow. The
  issuer's windows are keyed by `issuer_id`, so recovering an issuer's key leaves its
  investors' windows in force.
- Holds (chaincode.fds): an `all` hold on the sender refuses `transfer` (and `can_transfer`
  says so) with ACCOUNT_HELD right after AML_BLOCKED; a trading hold on either side refuses a
  market fill (`deliver`) and an order (`order_verdict`). Receiving is never held; forced
  transfers and redemptions ignore holds.
- `redeem` takes units that are not frozen (INSUFFICIENT_BALANCE otherwise) but ignores lock-up.
- `freeze` adds `amount` to the frozen units (null: freeze all); `unfreeze` subtracts it
  (null: unfreeze all).
- `can_transfer` is readable by whoever may read `from`'s balance, and reports every code
  `transfer` would (BAD_ARGS, UNKNOWN_TOKEN, UNAUTHORIZED included) as `{"ok", "code",
  "message"}`.
- A redemption (chaincode.offering) retires the token: from `redeem_all` on, `issue` is
  refused TOKEN_REDEEMED (right after UNAUTHORIZED: the escrow was counted on the units
  outstanding then), and once its record height is fixed the token is paused for good
  (`unpause` TOKEN_REDEEMED), so the register cannot move. `approve` may not lower the cap
  below issued + reserved (CAP_BELOW_ISSUED).

Errors: UNAUTHORIZED, BAD_ARGS, UNKNOWN_TOKEN, TOKEN_EXISTS, CAP_TOO_HIGH, CAP_BELOW_ISSUED,
the transfer and issuance codes (chaincode.compliance), NO_HOLDING, FROZEN_EXCEEDS_BALANCE,
UNFREEZE_EXCEEDS_FROZEN, ALREADY_PAUSED, NOT_PAUSED, UNKNOWN_DOCUMENT, TOO_MANY_DOCUMENTS,
TOKEN_REDEEMED, NOT_REGISTERED, ACCOUNT_REVOKED, ALREADY_REGISTERED (recover), FORBIDDEN (queries).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from chaincode import compliance
from chaincode.fds import is_held
from chaincode.identity import (
    INVESTOR_TYPES,
    active_role,
    is_country,
    may_read_account,
    require_registered_reader,
    require_role,
)
from chaincode.runtime import (
    ChaincodeError,
    Context,
    Contract,
    Forbidden,
    internal,
    is_account,
    query,
    require_account,
    require_int,
    require_str,
    transaction,
)

MAX_AMOUNT = 2**62  # units, KRW values: every stored sum stays inside msgpack's integers
MAX_LOCKUP_MS = 100 * 365 * compliance.DAY_MS
MAX_HOLDERS_LIMIT = 10**9
MAX_DOCUMENTS = 64
MAX_PAGE = 1000  # holders per `holders` answer
SYMBOL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
RULE_DEFAULTS: dict[str, Any] = {"lockup_ms": 0, "max_holders": 0, "allowed_investor_types": [],
                                 "allowed_countries": [], "max_holding_bps": 0,
                                 "issuer_annual_limit": 0}


def is_symbol(value: Any) -> bool:
    return (isinstance(value, str) and 1 <= len(value) <= 16
            and all(c in SYMBOL_CHARS for c in value) and value[0].isalnum())


def require_symbol(value: Any) -> str:
    if not is_symbol(value):
        raise ChaincodeError("BAD_ARGS", "symbol must be 1-16 characters of A-Z, 0-9, '-', "
                             "'_', '.', starting with a letter or digit")
    return value


def require_amount(name: str, value: Any) -> int:
    return require_int(name, value, 1, MAX_AMOUNT)


def check_rules(rules: Any) -> dict[str, Any]:
    if not isinstance(rules, dict):
        raise ChaincodeError("BAD_ARGS", "rules must be a map")
    unknown = sorted(set(rules) - set(RULE_DEFAULTS))
    if unknown:
        raise ChaincodeError("BAD_ARGS", f"unknown rules {unknown}")
    checked = dict(RULE_DEFAULTS)
    checked.update(rules)
    require_int("rules.lockup_ms", checked["lockup_ms"], 0, MAX_LOCKUP_MS)
    require_int("rules.max_holders", checked["max_holders"], 0, MAX_HOLDERS_LIMIT)
    require_int("rules.max_holding_bps", checked["max_holding_bps"], 0, 10_000)
    require_int("rules.issuer_annual_limit", checked["issuer_annual_limit"], 0, MAX_AMOUNT)
    types = checked["allowed_investor_types"]
    if not isinstance(types, list) or any(t not in INVESTOR_TYPES for t in types):
        raise ChaincodeError("BAD_ARGS", f"rules.allowed_investor_types: a list of "
                             f"{INVESTOR_TYPES}")
    countries = checked["allowed_countries"]
    if not isinstance(countries, list) or not all(is_country(c) for c in countries):
        raise ChaincodeError("BAD_ARGS", "rules.allowed_countries: a list of ISO 3166 alpha-2 "
                             "codes")
    checked["allowed_investor_types"] = sorted(set(types))
    checked["allowed_countries"] = sorted(set(countries))
    return checked


_SHA256_HEX = re.compile("[0-9a-f]{64}")


def require_sha256(value: Any) -> str:
    if isinstance(value, bytes) and len(value) == 32:
        return value.hex()
    if isinstance(value, str) and _SHA256_HEX.fullmatch(value) is not None:
        return value  # one C match, not a Python test per character: every order's origin
    raise ChaincodeError("BAD_ARGS", "sha256 must be 32 bytes or 64 lowercase hex")


# ---- state access ----------------------------------------------------------------------------

def meta_key(symbol: str) -> str:
    return f"meta/{symbol}"


def balance_key(symbol: str, account: str) -> str:
    return f"bal/{symbol}/{account}"


def load_token(ctx: Context, symbol: str) -> dict[str, Any]:
    token: dict[str, Any] | None = ctx.state.get(meta_key(symbol))
    if token is None:
        raise ChaincodeError("UNKNOWN_TOKEN", f"no token {symbol}")
    return token


def on_order_key(account: str, symbol: str) -> str:
    return f"onorder/{account}/{symbol}"


def load_holding(ctx: Context, symbol: str, account: str) -> compliance.Holding:
    holding = ctx.state.get(balance_key(symbol, account))
    if holding is None:
        holding = dict(compliance.EMPTY_HOLDING, locks=[])
    else:
        holding["locks"] = compliance.active_locks(holding["locks"], ctx.time)
    on_order = int(ctx.state.get(on_order_key(account, symbol), 0))
    if on_order:
        holding["on_order"] = on_order
    return holding  # type: ignore[no-any-return]


def set_on_order(ctx: Context, account: str, symbol: str, units: int) -> None:
    assert units >= 0, "negative units on order"
    if units:
        ctx.state.put(on_order_key(account, symbol), units)
    else:
        ctx.state.delete(on_order_key(account, symbol))


def store_holding(ctx: Context, token: dict[str, Any], account: str, before: int,
                  holding: compliance.Holding) -> None:
    """Write a holding and keep the holder counter and the held index in step."""
    symbol = token["symbol"]
    assert 0 <= holding["frozen"] <= holding["balance"], "frozen beyond balance"
    if holding["balance"] == 0:
        ctx.state.delete(balance_key(symbol, account))
        if before > 0:
            ctx.state.delete(f"held/{account}/{symbol}")
            token["holders"] -= 1
        return
    ctx.state.put(balance_key(symbol, account),
                  {name: value for name, value in holding.items() if name != "on_order"})
    if before == 0:
        ctx.state.put(f"held/{account}/{symbol}", 1)
        token["holders"] += 1


def move_units(ctx: Context, token: dict[str, Any], sender: str,
               sender_holding: compliance.Holding, recipient: str,
               recipient_holding: compliance.Holding, amount: int) -> None:
    """Move `amount` checked units between two holdings and store both; the token's record
    only when its holder count changed, the only field a move can change."""
    before_sender, before_recipient = sender_holding["balance"], recipient_holding["balance"]
    sender_holding["balance"] -= amount
    recipient_holding["balance"] += amount
    holders = token["holders"]
    store_holding(ctx, token, sender, before_sender, sender_holding)
    store_holding(ctx, token, recipient, before_recipient, recipient_holding)
    if token["holders"] != holders:
        ctx.state.put(meta_key(token["symbol"]), token)


def issuer_id(token: dict[str, Any]) -> str:
    """The key the issuer's investment windows are kept under (its first key)."""
    return str(token.get("issuer_id") or token["issuer"])


def record_purchase(ctx: Context, account: str, token: dict[str, Any], krw: int) -> None:
    """A general investor's counted purchase of `krw` in both windows."""
    _update_windows(ctx, account, token, compliance.window_add, krw)


def record_sale(ctx: Context, account: str, token: dict[str, Any], krw: int) -> None:
    """A general investor's sale: offsets counted purchases only (net never below zero)."""
    _update_windows(ctx, account, token, compliance.window_offset, krw)


def _update_windows(ctx: Context, account: str, token: dict[str, Any], update: Any,
                    krw: int) -> None:
    for key in (f"inv/{account}", f"invi/{account}/{issuer_id(token)}"):
        entries = update(ctx.state.get(key, []), ctx.time, krw)
        if entries:
            ctx.state.put(key, entries)
        else:
            ctx.state.delete(key)


def window_nets(ctx: Context, account: str, token: dict[str, Any]) -> tuple[int, int]:
    return (compliance.window_net(ctx.state.get(f"inv/{account}", []), ctx.time),
            compliance.window_net(ctx.state.get(f"invi/{account}/{issuer_id(token)}", []),
                                  ctx.time))


def identity_facts(ctx: Context, account: str) -> dict[str, Any] | None:
    """An identity record for compliance.check_transfer, which never reads its broker."""
    return ctx.call("identity", "facts", account=account)  # type: ignore[no-any-return]


def limit_nets(ctx: Context, account: str, record: dict[str, Any] | None,
               token: dict[str, Any]) -> tuple[int, int]:
    """`window_nets` for compliance.check_transfer, which reads them only for a general
    investor's purchase: (0, 0) for anyone else, without reading the windows."""
    if not compliance.is_general_investor(record):
        return 0, 0
    return window_nets(ctx, account, token)


def limited_investor_count(ctx: Context, token: dict[str, Any]) -> int:
    """`investor_count` for compliance.check_transfer, which reads it only when the token
    limits its holders: 0 otherwise, without reading the issuer's holding."""
    return investor_count(ctx, token) if token["rules"]["max_holders"] else 0


def investor_count(ctx: Context, token: dict[str, Any]) -> int:
    """Holders other than the issuer (what `max_holders` limits)."""
    issuer_holds = ctx.state.get(balance_key(token["symbol"], token["issuer"])) is not None
    return int(token["holders"]) - int(issuer_holds)


def require_token_manager(ctx: Context, token: dict[str, Any], *, registrar: bool) -> None:
    """The token's issuer (and the registrar if `registrar`); UNAUTHORIZED otherwise."""
    role = active_role(ctx.identity(ctx.caller))
    if role == "issuer" and token["issuer"] == ctx.caller:
        return
    if registrar and role == "registrar":
        return
    who = "its issuer or the registrar" if registrar else "its issuer"
    raise ChaincodeError("UNAUTHORIZED", f"only {who} may do this to {token['symbol']}")


# ---- the contract ----------------------------------------------------------------------------

class Token(Contract):
    name = "token"
    parts: ClassVar[tuple[str, ...]] = ("chaincode.compliance",)  # its rules: hashed with it

    @transaction
    def create(self, ctx: Context, symbol: Any, name: Any, asset_type: Any, unit_price: Any,
               max_supply: Any, rules: Any) -> dict[str, Any]:
        require_role(ctx, "issuer")
        symbol = require_symbol(symbol)
        name = require_str("name", name, 256)
        asset_type = require_str("asset_type", asset_type, 64)
        unit_price = require_amount("unit_price", unit_price)
        max_supply = require_amount("max_supply", max_supply)
        if unit_price * max_supply > MAX_AMOUNT:
            raise ChaincodeError("BAD_ARGS", f"unit_price x max_supply must be at most "
                                 f"{MAX_AMOUNT} KRW")
        checked = check_rules(rules)
        if ctx.state.get(meta_key(symbol)) is not None:
            raise ChaincodeError("TOKEN_EXISTS", f"{symbol} already exists")
        issuer_record = ctx.identity(ctx.caller) or {}
        token = {"symbol": symbol, "name": name, "asset_type": asset_type,
                 "unit_price": unit_price, "max_supply": max_supply, "rules": checked,
                 "issuer": ctx.caller, "issuer_id": issuer_record.get("origin") or ctx.caller,
                 "cap": None, "issued": 0, "redeemed": 0,
                 "outstanding": 0, "holders": 0, "paused": False, "documents": 0, "forced": 0,
                 "created_height": ctx.height, "created_time": ctx.time, "reserved": 0,
                 "redemption": None}
        ctx.state.put(meta_key(symbol), token)
        ctx.state.put(f"issuer/{ctx.caller}/{symbol}", 1)
        ctx.emit("TokenCreated", {"symbol": symbol, "issuer": ctx.caller, "name": name,
                                  "asset_type": asset_type, "unit_price": unit_price,
                                  "max_supply": max_supply})
        return token

    @transaction
    def approve(self, ctx: Context, symbol: Any, cap: Any) -> dict[str, Any]:
        require_role(ctx, "registrar")
        symbol = require_symbol(symbol)
        cap = require_amount("cap", cap)
        token = load_token(ctx, symbol)
        if cap > token["max_supply"]:
            raise ChaincodeError("CAP_TOO_HIGH", f"a cap of {cap} is more than the maximum "
                                 f"supply of {token['max_supply']}")
        if cap < token["issued"] + token["reserved"]:
            raise ChaincodeError("CAP_BELOW_ISSUED", f"a cap of {cap} is less than the "
                                 f"{token['issued']} already issued and the "
                                 f"{token['reserved']} reserved by open offerings")
        token["cap"] = cap
        ctx.state.put(meta_key(symbol), token)
        ctx.emit("CapApproved", {"symbol": symbol, "cap": cap})
        return token

    @transaction
    def issue(self, ctx: Context, symbol: Any, to: Any, amount: Any) -> dict[str, Any]:
        require_role(ctx, "issuer")
        symbol = require_symbol(symbol)
        to = require_account("to", to)
        amount = require_amount("amount", amount)
        token = load_token(ctx, symbol)
        require_token_manager(ctx, token, registrar=False)
        if token["redemption"] is not None:
            raise ChaincodeError("TOKEN_REDEEMED", f"{symbol} is being redeemed (redemption "
                                 f"{token['redemption']['redemption_id']}); nothing more is "
                                 "issued")
        verdict, result = self._issue(ctx, token, to, amount, price=token["unit_price"],
                                      reserved=token["reserved"])
        if verdict is not None:
            raise ChaincodeError(*verdict)
        return result

    def _issue(self, ctx: Context, token: dict[str, Any], to: str, amount: int, *, price: int,
               reserved: int) -> tuple[compliance.Verdict | None, dict[str, Any]]:
        """The issuance checks, then the units issued (a general investor's purchase counted
        at `price`): (None, result), or (verdict, {}) having written nothing. `reserved`:
        the units the cap check counts as reserved by open offerings."""
        symbol = token["symbol"]
        recipient = ctx.identity(to)
        holding = load_holding(ctx, symbol, to)
        net, issuer_net = window_nets(ctx, to, token)
        verdict = compliance.check_issue(
            token=token, amount=amount, now=ctx.time, recipient=recipient,
            recipient_holding=holding, recipient_net=net, recipient_issuer_net=issuer_net,
            general_limit=ctx.params["general_investor_annual_limit"],
            investors=investor_count(ctx, token), recipient_is_issuer=to == token["issuer"],
            reserved=reserved, price=price)
        if verdict is not None:
            return verdict, {}
        before = holding["balance"]
        holding["balance"] += amount
        locked_until = None
        if token["rules"]["lockup_ms"]:
            locked_until = ctx.time + token["rules"]["lockup_ms"]
            holding["locks"] = compliance.add_lock(holding["locks"], locked_until, amount,
                                                   ctx.time)
        store_holding(ctx, token, to, before, holding)
        token["issued"] += amount
        token["outstanding"] += amount
        ctx.state.put(meta_key(symbol), token)
        if compliance.is_general_investor(recipient):
            record_purchase(ctx, to, token, amount * price)
        ctx.emit("Issued", {"symbol": symbol, "to": to, "amount": amount,
                            "locked_until": locked_until})
        return None, {"symbol": symbol, "to": to, "amount": amount,
                      "balance": holding["balance"], "issued": token["issued"],
                      "locked_until": locked_until}

    def _plan_transfer(self, ctx: Context, symbol: Any, sender: str, to: Any, amount: Any
                       ) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None,
                                  compliance.Holding, compliance.Holding]:
        """Every check of a transfer; raises the first failure. Shared with can_transfer."""
        symbol = require_symbol(symbol)
        to = require_account("to", to)
        amount = require_amount("amount", amount)
        if sender == to:
            raise ChaincodeError("BAD_ARGS", "sender and recipient are the same account")
        token = load_token(ctx, symbol)
        sender_record = identity_facts(ctx, sender)
        if active_role(sender_record) == "regulator":
            raise ChaincodeError("UNAUTHORIZED", "the regulator writes nothing")
        recipient_record = identity_facts(ctx, to)
        sender_holding = load_holding(ctx, symbol, sender)
        recipient_holding = load_holding(ctx, symbol, to)
        net, issuer_net = limit_nets(ctx, to, recipient_record, token)
        verdict = compliance.check_transfer(
            token=token, amount=amount, now=ctx.time, sender=sender_record,
            recipient=recipient_record, sender_holding=sender_holding,
            recipient_holding=recipient_holding, recipient_net=net,
            recipient_issuer_net=issuer_net,
            general_limit=ctx.params["general_investor_annual_limit"],
            investors=limited_investor_count(ctx, token),
            sender_is_issuer=sender == token["issuer"],
            recipient_is_issuer=to == token["issuer"],
            sender_held=is_held(ctx, sender, "all"))  # receiving is never held
        if verdict is not None:
            raise ChaincodeError(*verdict)
        return token, sender_record, recipient_record, sender_holding, recipient_holding

    @transaction
    def transfer(self, ctx: Context, symbol: Any, to: Any, amount: Any) -> dict[str, Any]:
        token, sender, recipient, sender_holding, recipient_holding = self._plan_transfer(
            ctx, symbol, ctx.caller, to, amount)
        symbol = token["symbol"]
        move_units(ctx, token, ctx.caller, sender_holding, to, recipient_holding, amount)
        value = amount * token["unit_price"]
        if compliance.is_general_investor(sender):
            record_sale(ctx, ctx.caller, token, value)
        if compliance.is_general_investor(recipient):
            record_purchase(ctx, to, token, value)
        ctx.emit("Transfer", {"symbol": symbol, "from": ctx.caller, "to": to, "amount": amount})
        return {"symbol": symbol, "from": ctx.caller, "to": to, "amount": amount}

    @transaction
    def force_transfer(self, ctx: Context, symbol: Any, from_: Any, to: Any, amount: Any,
                       reason: Any) -> dict[str, Any]:
        require_role(ctx, "registrar")
        symbol = require_symbol(symbol)
        sender = require_account("from", from_)
        to = require_account("to", to)
        amount = require_amount("amount", amount)
        reason = require_str("reason", reason, 512)
        if sender == to:
            raise ChaincodeError("BAD_ARGS", "from and to are the same account")
        token = load_token(ctx, symbol)
        sender_holding = load_holding(ctx, symbol, sender)
        if amount > sender_holding["balance"]:
            raise ChaincodeError("INSUFFICIENT_BALANCE", f"the holder has "
                                 f"{sender_holding['balance']} units, fewer than the {amount} "
                                 "asked")
        if not compliance.is_verified(ctx.identity(to), ctx.time):
            raise ChaincodeError("RECIPIENT_NOT_VERIFIED", "the recipient is unregistered, "
                                 "revoked or its KYC expired")
        naked = sender_holding.get("on_order", 0) - (sender_holding["balance"] - amount)
        if naked > 0:  # sell orders would be left without their units: they go first
            ctx.call("market", "cancel_sells", symbol=symbol, account=sender, units=naked,
                     code="FORCED_TRANSFER")
        recipient_holding = load_holding(ctx, symbol, to)
        before_sender, before_recipient = sender_holding["balance"], recipient_holding["balance"]
        recipient_holding["balance"] += amount
        store_holding(ctx, token, sender, before_sender,
                      compliance.take_units(sender_holding, amount, ctx.time,
                                            frozen_first=True))
        store_holding(ctx, token, to, before_recipient, recipient_holding)
        token["forced"] += 1
        ctx.state.put(meta_key(symbol), token)
        kept = {"seq": token["forced"], "from": sender, "to": to, "amount": amount,
                "reason": reason, "by": ctx.caller, "tx_id": ctx.tx_id, "height": ctx.height,
                "time": ctx.time}
        ctx.state.put(f"forced/{symbol}/{token['forced']:012d}", kept)
        ctx.emit("ForcedTransfer", {"symbol": symbol, "from": sender, "to": to,
                                    "amount": amount, "reason": reason})
        return kept

    @transaction
    def recover(self, ctx: Context, old: Any, new: Any, reason: Any) -> dict[str, Any]:
        require_role(ctx, "registrar")
        old = require_account("old", old)
        new = require_account("new", new)
        reason = require_str("reason", reason, 512)
        if old == new:
            raise ChaincodeError("BAD_ARGS", "old and new are the same account")
        ctx.call("identity", "recover", old=old, new=new, reason=reason)
        symbols = []
        for key, _ in list(ctx.state.range(f"held/{old}/")):
            symbol = key.rsplit("/", 1)[1]
            symbols.append(symbol)
            token = load_token(ctx, symbol)
            moving = load_holding(ctx, symbol, old)
            assert load_holding(ctx, symbol, new)["balance"] == 0, "new was unregistered"
            store_holding(ctx, token, new, 0, moving)
            store_holding(ctx, token, old, moving["balance"], dict(compliance.EMPTY_HOLDING))
            ctx.state.put(meta_key(symbol), token)
        for key, _ in list(ctx.state.range(f"issuer/{old}/")):
            symbol = key.rsplit("/", 1)[1]
            token = load_token(ctx, symbol)
            token["issuer"] = new
            ctx.state.put(meta_key(symbol), token)
            ctx.state.delete(key)
            ctx.state.put(f"issuer/{new}/{symbol}", 1)
        self._move_windows(ctx, old, new)
        for key, units in list(ctx.state.range(f"onorder/{old}/")):  # market sell escrow
            symbol = key.rsplit("/", 1)[1]
            ctx.state.delete(key)
            set_on_order(ctx, new, symbol,
                         int(ctx.state.get(on_order_key(new, symbol), 0)) + units)
        cash = ctx.call("cash", "recover", old=old, new=new)
        ctx.call("market", "recover", old=old, new=new)  # open orders follow the key
        ctx.call("fds", "recover", old=old, new=new)  # and so do its active holds
        ctx.emit("Recovered", {"old": old, "new": new, "reason": reason, "symbols": symbols,
                               "cash": cash})
        return {"old": old, "new": new, "symbols": symbols, "cash": cash}

    def _move_windows(self, ctx: Context, old: str, new: str) -> None:
        moves = [(f"inv/{old}", f"inv/{new}")]
        moves += [(key, f"invi/{new}/{key.rsplit('/', 1)[1]}")
                  for key, _ in ctx.state.range(f"invi/{old}/")]
        for source, target in moves:
            entries = ctx.state.get(source)
            if entries is None:
                continue
            merged = compliance.merge_windows(ctx.state.get(target, []), entries)
            if merged:
                ctx.state.put(target, merged)
            ctx.state.delete(source)

    @transaction
    def freeze(self, ctx: Context, symbol: Any, account: Any, amount: Any = None
               ) -> dict[str, Any]:
        token, holding = self._managed_holding(ctx, symbol, account)
        if amount is None:
            frozen = holding["balance"]
        else:
            frozen = holding["frozen"] + require_amount("amount", amount)
        if frozen > holding["balance"]:
            raise ChaincodeError("FROZEN_EXCEEDS_BALANCE", f"frozen {frozen} would exceed "
                                 f"balance {holding['balance']}")
        return self._set_frozen(ctx, token, account, holding, frozen, "Frozen")

    @transaction
    def unfreeze(self, ctx: Context, symbol: Any, account: Any, amount: Any = None
                 ) -> dict[str, Any]:
        token, holding = self._managed_holding(ctx, symbol, account)
        if amount is None:
            frozen = 0
        else:
            frozen = holding["frozen"] - require_amount("amount", amount)
        if frozen < 0:
            raise ChaincodeError("UNFREEZE_EXCEEDS_FROZEN", f"only {holding['frozen']} units "
                                 "are frozen")
        return self._set_frozen(ctx, token, account, holding, frozen, "Unfrozen")

    def _managed_holding(self, ctx: Context, symbol: Any, account: Any
                         ) -> tuple[dict[str, Any], compliance.Holding]:
        require_role(ctx, "issuer", "registrar")
        symbol = require_symbol(symbol)
        account = require_account("account", account)
        token = load_token(ctx, symbol)
        require_token_manager(ctx, token, registrar=True)
        holding = load_holding(ctx, symbol, account)
        if holding["balance"] == 0:
            raise ChaincodeError("NO_HOLDING", f"{account} holds no {symbol}")
        return token, holding

    def _set_frozen(self, ctx: Context, token: dict[str, Any], account: str,
                    holding: compliance.Holding, frozen: int, event: str) -> dict[str, Any]:
        change = abs(frozen - holding["frozen"])
        holding["frozen"] = frozen
        store_holding(ctx, token, account, holding["balance"], holding)
        data = {"symbol": token["symbol"], "account": account, "amount": change,
                "frozen": frozen}
        ctx.emit(event, data)
        return data

    @transaction
    def pause(self, ctx: Context, symbol: Any) -> dict[str, Any]:
        return self._set_paused(ctx, symbol, True)

    @transaction
    def unpause(self, ctx: Context, symbol: Any) -> dict[str, Any]:
        return self._set_paused(ctx, symbol, False)

    def _set_paused(self, ctx: Context, symbol: Any, paused: bool) -> dict[str, Any]:
        require_role(ctx, "issuer", "registrar")
        token = load_token(ctx, require_symbol(symbol))
        require_token_manager(ctx, token, registrar=True)
        if token["paused"] == paused:
            raise ChaincodeError("ALREADY_PAUSED" if paused else "NOT_PAUSED",
                                 f"{token['symbol']} is {'already' if paused else 'not'} "
                                 "paused")
        redemption = token["redemption"]
        if not paused and redemption is not None and redemption["record_height"] is not None:
            raise ChaincodeError("TOKEN_REDEEMED", f"{token['symbol']} is paused for good: its "
                                 f"redemption's register was fixed at height "
                                 f"{redemption['record_height']}")
        token["paused"] = paused
        ctx.state.put(meta_key(token["symbol"]), token)
        ctx.emit("Paused" if paused else "Unpaused", {"symbol": token["symbol"],
                                                      "by": ctx.caller})
        return {"symbol": token["symbol"], "paused": paused}

    @transaction
    def redeem(self, ctx: Context, symbol: Any, from_: Any, amount: Any) -> dict[str, Any]:
        require_role(ctx, "issuer")
        symbol = require_symbol(symbol)
        holder = require_account("from", from_)
        amount = require_amount("amount", amount)
        token = load_token(ctx, symbol)
        require_token_manager(ctx, token, registrar=False)
        holding = load_holding(ctx, symbol, holder)
        if amount > compliance.available(holding):
            raise ChaincodeError("INSUFFICIENT_BALANCE", f"only {compliance.available(holding)} "
                                 f"units are available (not frozen), fewer than the {amount} "
                                 "asked")
        store_holding(ctx, token, holder, holding["balance"],
                      compliance.take_units(holding, amount, ctx.time, frozen_first=False))
        token["redeemed"] += amount
        token["outstanding"] -= amount
        ctx.state.put(meta_key(symbol), token)
        ctx.emit("Redeemed", {"symbol": symbol, "from": holder, "amount": amount})
        return {"symbol": symbol, "from": holder, "amount": amount,
                "outstanding": token["outstanding"]}

    @transaction
    def set_document(self, ctx: Context, symbol: Any, name: Any, uri: Any, sha256: Any
                     ) -> dict[str, Any]:
        require_role(ctx, "issuer")
        symbol = require_symbol(symbol)
        name = require_str("name", name, 128)
        uri = require_str("uri", uri, 1024)
        digest = require_sha256(sha256)
        token = load_token(ctx, symbol)
        require_token_manager(ctx, token, registrar=False)
        key = f"doc/{symbol}/{name}"
        if ctx.state.get(key) is None:
            if token["documents"] >= MAX_DOCUMENTS:
                raise ChaincodeError("TOO_MANY_DOCUMENTS", f"at most {MAX_DOCUMENTS} documents")
            token["documents"] += 1
            ctx.state.put(meta_key(symbol), token)
        document = {"name": name, "uri": uri, "sha256": digest, "set_at": ctx.time,
                    "set_by": ctx.caller}
        ctx.state.put(key, document)
        ctx.emit("DocumentSet", {"symbol": symbol, "name": name, "uri": uri, "sha256": digest})
        return document

    @transaction
    def remove_document(self, ctx: Context, symbol: Any, name: Any) -> dict[str, Any]:
        require_role(ctx, "issuer")
        symbol = require_symbol(symbol)
        name = require_str("name", name, 128)
        token = load_token(ctx, symbol)
        require_token_manager(ctx, token, registrar=False)
        key = f"doc/{symbol}/{name}"
        if ctx.state.get(key) is None:
            raise ChaincodeError("UNKNOWN_DOCUMENT", f"{symbol} has no document {name!r}")
        ctx.state.delete(key)
        token["documents"] -= 1
        ctx.state.put(meta_key(symbol), token)
        ctx.emit("DocumentRemoved", {"symbol": symbol, "name": name})
        return {"symbol": symbol, "name": name}

    # ---- queries -----------------------------------------------------------------------------

    @query
    def info(self, ctx: Context, symbol: Any) -> dict[str, Any]:
        require_registered_reader(ctx)
        return load_token(ctx, require_symbol(symbol))

    @query
    def documents(self, ctx: Context, symbol: Any) -> list[dict[str, Any]]:
        require_registered_reader(ctx)
        symbol = require_symbol(symbol)
        load_token(ctx, symbol)
        return [document for _, document in ctx.state.range(f"doc/{symbol}/")]

    @query
    def balance(self, ctx: Context, symbol: Any, account: Any) -> dict[str, Any]:
        symbol = require_symbol(symbol)
        account = require_account("account", account)
        token = load_token(ctx, symbol)
        self._require_balance_reader(ctx, account, token["issuer"])
        holding = load_holding(ctx, symbol, account)
        locked = compliance.locked_amount(holding, ctx.time)
        return {"symbol": symbol, "account": account, "balance": holding["balance"],
                "frozen": holding["frozen"], "locked": locked,
                "on_order": holding.get("on_order", 0),
                "available": compliance.available(holding),
                "transferable": compliance.transferable(holding, ctx.time),
                "locks": holding["locks"]}

    def _require_balance_reader(self, ctx: Context, account: str, issuer: str | None) -> None:
        extra = (issuer,) if issuer is not None else ()
        if not may_read_account(ctx, account, ctx.identity(account), "registrar",
                                extra_accounts=extra):
            raise Forbidden("only the account, its broker, the issuer, the registrar and the "
                            "regulator may read this balance")

    @query
    def holders(self, ctx: Context, symbol: Any, after: Any = "", limit: Any = MAX_PAGE
                ) -> dict[str, Any]:
        symbol = require_symbol(symbol)
        token = load_token(ctx, symbol)
        role = active_role(ctx.identity(ctx.caller))
        if ctx.caller != token["issuer"] and role not in ("registrar", "regulator"):
            raise Forbidden("only the issuer, the registrar and the regulator may list holders")
        if not isinstance(after, str):
            raise ChaincodeError("BAD_ARGS", "after must be an account id or empty")
        limit = require_int("limit", limit, 1, MAX_PAGE)
        prefix = f"bal/{symbol}/"
        rows: list[dict[str, Any]] = []
        following = None
        for key, holding in ctx.state.range(prefix):
            account = key[len(prefix):]
            if account <= after:
                continue
            if len(rows) == limit:
                following = rows[-1]["account"]
                break
            rows.append({"account": account, "balance": holding["balance"],
                         "frozen": holding["frozen"],
                         "locked": compliance.locked_amount(holding, ctx.time)})
        return {"symbol": symbol, "holders": rows, "count": token["holders"],
                "outstanding": token["outstanding"], "next": following}

    @query
    def can_transfer(self, ctx: Context, symbol: Any, from_: Any, to: Any, amount: Any
                     ) -> dict[str, Any]:
        """The exact outcome of `transfer` for those entitled to both parties' facts (each
        party's broker, the issuer, the registrar, the regulator); a caller entitled to the
        sender's only (the sender itself) learns the sender-side checks and nothing that
        depends on the recipient: `ok` null with RECIPIENT_UNDISCLOSED when those pass, or
        the recipient's balance, limits and AML status could be recovered by search."""
        sender = require_account("from", from_)
        token = ctx.state.get(meta_key(symbol)) if is_symbol(symbol) else None
        issuer = None if token is None else token["issuer"]
        self._require_balance_reader(ctx, sender, issuer)
        if token is not None and is_account(to) and not may_read_account(
                ctx, to, ctx.identity(to), "registrar",
                extra_accounts=(issuer,) if issuer else ()):
            return self._sender_side_only(ctx, token, sender, to, amount)
        try:
            self._plan_transfer(ctx, symbol, sender, to, amount)
        except ChaincodeError as error:
            return {"ok": False, "code": error.code, "message": error.message}
        return {"ok": True, "code": "OK", "message": ""}

    def _sender_side_only(self, ctx: Context, token: dict[str, Any], sender: str, to: str,
                          amount: Any) -> dict[str, Any]:
        try:
            amount = require_amount("amount", amount)
        except ChaincodeError as error:
            return {"ok": False, "code": error.code, "message": error.message}
        if sender == to:
            return {"ok": False, "code": "BAD_ARGS",
                    "message": "sender and recipient are the same account"}
        sender_record = ctx.identity(sender)
        if active_role(sender_record) == "regulator":
            return {"ok": False, "code": "UNAUTHORIZED", "message": "the regulator writes nothing"}
        verdict = compliance.check_sender_side(
            token=token, amount=amount, now=ctx.time, sender=sender_record,
            sender_holding=load_holding(ctx, token["symbol"], sender),
            sender_held=is_held(ctx, sender, "all"))
        if verdict is not None:
            return {"ok": False, "code": verdict[0], "message": verdict[1]}
        return {"ok": None, "code": "RECIPIENT_UNDISCLOSED",
                "message": "the sender-side checks pass; the recipient-side checks are "
                           "disclosed only to the recipient's broker, the issuer, the "
                           "registrar and the regulator"}

    @query
    def forced_transfers(self, ctx: Context, symbol: Any) -> list[dict[str, Any]]:
        symbol = require_symbol(symbol)
        token = load_token(ctx, symbol)
        role = active_role(ctx.identity(ctx.caller))
        if ctx.caller != token["issuer"] and role not in ("registrar", "regulator"):
            raise Forbidden("only the issuer, the registrar and the regulator may read this")
        return [kept for _, kept in ctx.state.range(f"forced/{symbol}/")]

    @query
    def holdings(self, ctx: Context, account: Any) -> list[dict[str, Any]]:
        """Every token balance of an account (the account, its broker, registrar, regulator)."""
        account = require_account("account", account)
        if not may_read_account(ctx, account, ctx.identity(account), "registrar"):
            raise Forbidden("only the account, its broker, the registrar and the regulator "
                            "may read its holdings")
        rows = []
        for key, _ in ctx.state.range(f"held/{account}/"):
            symbol = key.rsplit("/", 1)[1]
            holding = load_holding(ctx, symbol, account)
            rows.append({"symbol": symbol, "balance": holding["balance"],
                         "frozen": holding["frozen"],
                         "locked": compliance.locked_amount(holding, ctx.time)})
        return rows

    @query
    def investment(self, ctx: Context, account: Any) -> dict[str, Any]:
        """A general investor's net purchases in the current 365-day window."""
        account = require_account("account", account)
        if not may_read_account(ctx, account, ctx.identity(account), "registrar"):
            raise Forbidden("only the account, its broker, the registrar and the regulator "
                            "may read its investment record")
        prefix = f"invi/{account}/"
        by_issuer = {key[len(prefix):]: compliance.window_net(entries, ctx.time)
                     for key, entries in ctx.state.range(prefix)}
        return {"account": account,
                "net": compliance.window_net(ctx.state.get(f"inv/{account}", []), ctx.time),
                "limit": ctx.params["general_investor_annual_limit"],
                "by_issuer": by_issuer,
                "window_start_day": compliance.window_start_day(ctx.time)}

    # ---- for other contracts -----------------------------------------------------------------

    @internal
    def meta(self, ctx: Context, symbol: str) -> dict[str, Any] | None:
        if not is_symbol(symbol):
            return None
        return ctx.state.get(meta_key(symbol))  # type: ignore[no-any-return]

    @internal
    def frozen_units(self, ctx: Context, symbol: str, account: str) -> int:
        """Units of `symbol` frozen in `account`'s holding (0 when none)."""
        return int(load_holding(ctx, symbol, account)["frozen"]) if is_symbol(symbol) else 0

    @internal
    def register_facts(self, ctx: Context, symbol: str) -> dict[str, Any]:
        """What a dividend register needs before its first page (run at the record height):
        the issuer, the units entitled (outstanding less the issuer's own) and the count of
        entitled holders. A token not created yet has nothing entitled."""
        token = ctx.state.get(meta_key(symbol)) if is_symbol(symbol) else None
        if token is None:
            return {"issuer": None, "entitled": 0, "holders": 0}
        own = load_holding(ctx, symbol, token["issuer"])["balance"]
        return {"issuer": token["issuer"], "entitled": token["outstanding"] - own,
                "holders": investor_count(ctx, token)}

    @internal
    def register_page(self, ctx: Context, symbol: str, after: str, limit: int
                      ) -> list[list[Any]]:
        """[[account, balance], ...] of up to `limit` holders after account `after` (""
        from the first), in account order, the issuer left out: one bounded step of a
        dividend register (run at the record height)."""
        token = load_token(ctx, symbol)
        prefix = f"bal/{symbol}/"
        start = prefix + after + "\x01" if after else ""
        rows: list[list[Any]] = []
        for key, holding in ctx.state.range(prefix, start):
            account = key[len(prefix):]
            if account == token["issuer"] or holding["balance"] <= 0:
                continue
            rows.append([account, holding["balance"]])
            if len(rows) == limit:
                break
        return rows

    # ---- for the offering contract (chaincode.offering) ---------------------------------------

    @internal
    def has_document(self, ctx: Context, symbol: str, name: str) -> bool:
        """Whether the token has a document of this name (an offering needs its prospectus)."""
        return ctx.state.get(f"doc/{symbol}/{name}") is not None

    @internal
    def reserve(self, ctx: Context, symbol: str, units: int) -> None:
        """Reserve `units` more against the cap for an open offering (negative: give units
        back, at allocation's end or a cancellation). The offering checked CAP_EXCEEDED."""
        token = load_token(ctx, symbol)
        token["reserved"] += units
        assert token["reserved"] >= 0 and token["issued"] + token["reserved"] <= token["cap"], \
            "reservation beyond the cap"
        ctx.state.put(meta_key(symbol), token)

    @internal
    def subscriber_verdict(self, ctx: Context, symbol: str, account: str, qty: int,
                           price: int) -> list[str] | None:
        """compliance.check_subscriber for a subscription of `qty` at `price` ([code,
        message]), or None; a `trading` or `all` hold refuses it, as it refuses an order."""
        token = load_token(ctx, symbol)
        record = identity_facts(ctx, account)
        net, issuer_net = limit_nets(ctx, account, record, token)
        verdict = compliance.check_subscriber(
            token=token, now=ctx.time, recipient=record,
            held=is_held(ctx, account, "trading"), recipient_net=net,
            recipient_issuer_net=issuer_net,
            general_limit=ctx.params["general_investor_annual_limit"], qty=qty, price=price)
        return None if verdict is None else list(verdict)

    @internal
    def issue_offered(self, ctx: Context, symbol: str, to: str, amount: int, price: int
                      ) -> list[str] | None:
        """An allocation: `amount` units issued to `to` out of the offering's own reservation,
        under the issuance checks (a general investor's purchase counted at `price`). The
        verdict ([code, message]) having written nothing, or None once issued."""
        token = load_token(ctx, symbol)
        assert 0 < amount <= token["reserved"], "allocation beyond the offering's reservation"
        token["reserved"] -= amount
        verdict, _ = self._issue(ctx, token, to, amount, price=price,
                                 reserved=token["reserved"])
        return None if verdict is None else list(verdict)

    @internal
    def set_redemption(self, ctx: Context, symbol: str, redemption_id: int,
                       record_height: int | None) -> None:
        """chaincode.offering: the token is being redeemed; once the register's height is
        fixed it is paused for good (`unpause` refuses), so the register cannot move."""
        token = load_token(ctx, symbol)
        token["redemption"] = {"redemption_id": redemption_id, "record_height": record_height}
        if record_height is not None and not token["paused"]:
            token["paused"] = True
            ctx.emit("Paused", {"symbol": symbol, "by": token["issuer"],
                                "redemption_id": redemption_id})
        ctx.state.put(meta_key(symbol), token)

    @internal
    def burn(self, ctx: Context, symbol: str, account: str, units: int | None) -> int:
        """A redemption's burn: up to `units` of the account's units (None: all of them),
        frozen ones included (the freeze goes with them), lock-up ignored. The units burned
        count as redeemed; returns how many."""
        token = load_token(ctx, symbol)
        holding = load_holding(ctx, symbol, account)
        amount = holding["balance"] if units is None else min(units, holding["balance"])
        if amount == 0:
            return 0
        store_holding(ctx, token, account, holding["balance"],
                      compliance.take_units(holding, amount, ctx.time, frozen_first=True))
        token["redeemed"] += amount
        token["outstanding"] -= amount
        ctx.state.put(meta_key(symbol), token)
        return amount

    # ---- for the market contract (chaincode.market) -------------------------------------------

    @internal
    def order_verdict(self, ctx: Context, token: dict[str, Any], account: str,
                      record: dict[str, Any] | None, held: bool, side: str, amount: int
                      ) -> list[str] | None:
        """The first failing order-time check of a market order ([code, message]) or None:
        compliance.check_seller for a sell, compliance.check_buyer for a buy. `token`, the
        account's identity `record` and whether a trading hold covers it (`held`) as the
        market read them in this transaction."""
        if side == "sell":
            holding = load_holding(ctx, token["symbol"], account)
            verdict = compliance.check_seller(token=token, amount=amount, now=ctx.time,
                                              sender=record, sender_holding=holding,
                                              held=held)
        else:
            verdict = compliance.check_buyer(token=token, now=ctx.time, recipient=record,
                                             held=held)
        return None if verdict is None else list(verdict)

    @internal
    def hold(self, ctx: Context, symbol: str, account: str, amount: int) -> None:
        """Escrow `amount` units of `account` for a sell order (checked by order_verdict)."""
        holding = load_holding(ctx, symbol, account)
        assert 0 < amount <= compliance.available(holding), "hold beyond available units"
        set_on_order(ctx, account, symbol, holding.get("on_order", 0) + amount)

    @internal
    def release(self, ctx: Context, symbol: str, account: str, amount: int) -> None:
        """Give back `amount` escrowed units (a sell order cancelled or expired)."""
        on_order = int(ctx.state.get(on_order_key(account, symbol), 0))
        assert 0 < amount <= on_order, "release beyond units on order"
        set_on_order(ctx, account, symbol, on_order - amount)

    @internal
    def deliver(self, ctx: Context, token: dict[str, Any], seller: str, buyer: str, amount: int,
                price: int, trade_id: int, escrowed: bool, seller_record: dict[str, Any] | None,
                buyer_record: dict[str, Any] | None, seller_held: bool, buyer_held: bool
                ) -> list[Any] | None:
        """The units leg of a market fill: `amount` units of `seller` go to `buyer`, from the
        units escrowed for the seller's resting order (`escrowed`) or from its available units
        (an incoming order, escrowed only for what rests). `token` is the record the market
        loaded in this transaction; a change of holders is written to it and to state. The
        parties' identity facts (Identity.facts) and trading holds are what the market read of
        them in this transaction (chaincode.market_matching.Matching.party): a fill writes
        neither, so a place with many fills reads each party's once.

        Runs compliance.refuse_transfer (the rules of `transfer`, a trading hold on either side
        refusing it with ACCOUNT_HELD) with the escrowed units released and the purchase valued
        at `price`: the refusal ([code, message, party at fault]) comes back before anything
        is written. The investment windows count the fill at `price` on both sides."""
        symbol = token["symbol"]
        seller_holding = load_holding(ctx, symbol, seller)
        on_order = seller_holding.get("on_order", 0)
        if escrowed:
            assert 0 < amount <= on_order, "deliver beyond units on order"
            seller_holding["on_order"] = on_order - amount
        buyer_holding = load_holding(ctx, symbol, buyer)
        net, issuer_net = limit_nets(ctx, buyer, buyer_record, token)
        refusal = compliance.refuse_transfer(
            token=token, amount=amount, now=ctx.time, sender=seller_record,
            recipient=buyer_record, sender_holding=seller_holding,
            recipient_holding=buyer_holding, recipient_net=net, recipient_issuer_net=issuer_net,
            general_limit=ctx.params["general_investor_annual_limit"],
            investors=limited_investor_count(ctx, token),
            sender_is_issuer=seller == token["issuer"],
            recipient_is_issuer=buyer == token["issuer"], price=price,
            sender_held=seller_held, recipient_held=buyer_held)
        if refusal is not None:
            return list(refusal)
        if escrowed:
            set_on_order(ctx, seller, symbol, on_order - amount)
        move_units(ctx, token, seller, seller_holding, buyer, buyer_holding, amount)
        value = amount * price
        if compliance.is_general_investor(seller_record):
            record_sale(ctx, seller, token, value)
        if compliance.is_general_investor(buyer_record):
            record_purchase(ctx, buyer, token, value)
        ctx.emit("Transfer", {"symbol": symbol, "from": seller, "to": buyer, "amount": amount,
                              "trade_id": trade_id})
        return None
