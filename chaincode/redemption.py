"""Redemption of every unit of a token (maturity, buy-back, sale of the underlying asset): the
`redeem_all`, `settle`, `release` and `redemption` methods of the offering contract.

A redemption goes through these states (`status`):

    pending      declared, `price x` the outstanding units escrowed from the issuer's cash; the
                 record height is not known yet (`record_time` is still ahead of every block)
    registering  the record height is fixed and the token paused for good; `settle` steps copy
                 the register (holders and units at the end of the record height, the issuer
                 left out) from the chain's history, a page at a time
    paying       `settle` steps burn each registered holder's units and pay `price x units`
                 from the escrow, withholding on the gain
    sweeping     `settle` steps burn whatever units are left: the issuer's own, and any that
                 reached another account after the record height (a forced transfer); no pay
    done         outstanding is 0; the escrow keeps only the held nets (the rest of it, the
                 issuer's own units' share, went back to the issuer)

The record height works exactly as a dividend's (chaincode.dividend, whose `check_record_time`,
`resolve_payee`, `find_entry`, `is_held_payee` and `compute_withholding` this module uses): the
last block before `record_time`, fixed by the begin-block hook of the first block whose time
reaches it (or the first `settle` after that). Unlike a dividend's, `record_time` is always
after the declaring block's time (default: that time + 1 ms, so the register is the end of the
declaring block): a register taken at an earlier block would miss units moved or issued after
it in the declaring block, and they would be burned unpaid (docs/redteam-offering.md R1).
Fixing it pauses the token (token.set_redemption) before any transaction of that block,
so the register equals `/v1/audit/captable?at=<record_height>` holder for holder and cannot
move afterwards. From `redeem_all` on, nothing more can be issued (TOKEN_REDEEMED), so the
escrow covers every registered unit.

Arithmetic, per registered holder (integers only):
    gross      = price x units
    gain       = max(0, price - unit_price) x units      (unit_price: the token's, at declare)
    income_tax = floor(gain x it_bps / 10000)            (it_bps by the holder's tax class at
    local_tax  = floor(income_tax / 10)                   the record height, as dividends)
    net        = gross - income_tax - local_tax
The net of a holder that is revoked, AML high-risk, holds frozen units of the token, or is
under a `withdrawals` or `all` hold (chaincode.fds) waits in the escrow (status `held`) until
the registrar's `release`; its withholding goes to `tax` when it is settled.

Bounded work: `settle(redemption_id, max_steps)` spends at most `max_steps` steps (1 to 1,000):
one per holder registered, one per holder paid, one per holding swept; repeat until `done`.

Key layout (inside `offering/`; ids 12 digits, indexes 9):

    next_redemption                        the last redemption id issued
    red/<id>                               the redemption, with its progress and totals
    rsym/<symbol>/<id>                     the token's redemptions -> id
    rpending/<record_time:016d>/<id>       1 while the record height is not fixed
    rent/<id>/<index>                      one register entry: account, units, class, it_bps,
                                           gross, gain, income_tax, local_tax, net, status
                                           (registered | paid | held), burned, paid_to,
                                           paid_height, released_height
    racc/<id>/<account>                    account -> index

Decisions where PROTOCOL.md is silent:
- `record_time` is optional (default: the declaring block's time + 1 ms) and must be after
  the declaring block's time (BAD_ARGS): see above.
- Checks of `redeem_all`, in order: BAD_ARGS, UNKNOWN_TOKEN, UNAUTHORIZED, TOKEN_REDEEMED
  (already declared), OFFERING_OPEN (an offering not yet allocated or cancelled: its units
  would escape the escrow), NO_ENTITLED_HOLDERS (nothing outstanding), INSUFFICIENT_CASH. The
  escrow covers the units outstanding at `redeem_all`: none can be issued after it, so the
  register holds at most those.
- The issuer's own units are burned without payment (they are not in the register, as for
  dividends); units that reached an account after the record height are burned without
  payment too: the register holder was paid for them. Both emit `Redeemed` with status
  `burned` and zero amounts, so every burn is in the events.
- `settle` after `done` is ALREADY_PAID; an unknown id is UNKNOWN_REDEMPTION.

Errors: UNAUTHORIZED, BAD_ARGS, UNKNOWN_TOKEN, TOKEN_REDEEMED, OFFERING_OPEN,
NO_ENTITLED_HOLDERS, INSUFFICIENT_CASH, UNKNOWN_REDEMPTION, RECORD_DATE_PENDING, ALREADY_PAID,
NO_TAX_ACCOUNT, NOT_ENTITLED, NOT_HELD, FORBIDDEN.
"""

from __future__ import annotations

from typing import Any

from chaincode.compliance import tax_class
from chaincode.dividend import (
    MAX_FIXED_PER_BLOCK,
    TIME_DIGITS,
    check_record_time,
    compute_withholding,
    find_entry,
    is_held_payee,
    resolve_payee,
)
from chaincode.fds import is_held
from chaincode.identity import caller_role, require_registered_reader, require_role
from chaincode.runtime import ChaincodeError, Context, require_account, require_int, time_text
from chaincode.token import MAX_AMOUNT, require_symbol

MAX_STEPS = 1_000  # steps of one settle call (as dividend.pay)
MAX_PAGE = 1_000  # register entries per `redemption` answer


def _id(redemption_id: int) -> str:
    return f"{redemption_id:012d}"


def escrow_ref(redemption_id: int) -> str:
    return f"redemption/{_id(redemption_id)}"


def _entry_key(redemption_id: int, index: int) -> str:
    return f"rent/{_id(redemption_id)}/{index:09d}"


def compute_payment(price: int, unit_price: int, units: int, it_bps: int
                    ) -> dict[str, int]:
    """gross, gain, income_tax, local_tax, net of one holder's units (the module docstring)."""
    gross = price * units
    gain = max(0, price - unit_price) * units
    income_tax, local_tax, _ = compute_withholding(gain, it_bps)
    return {"gross": gross, "gain": gain, "income_tax": income_tax, "local_tax": local_tax,
            "net": gross - income_tax - local_tax}


# ---- declare and fix -------------------------------------------------------------------------

def declare(ctx: Context, symbol: Any, price: Any, record_time: Any) -> dict[str, Any]:
    symbol = require_symbol(symbol)
    price = require_int("price", price, 1, MAX_AMOUNT)
    record_time = check_record_time(ctx, ctx.time + 1 if record_time is None else record_time)
    if record_time <= ctx.time:
        raise ChaincodeError("BAD_ARGS", "a redemption's record_time is after the declaring "
                             f"block's time ({time_text(ctx.time)}): the register is never a block "
                             "whose successors already moved units")
    token = _token(ctx, symbol)
    if caller_role(ctx) != "issuer" or token["issuer"] != ctx.caller:
        raise ChaincodeError("UNAUTHORIZED", f"only the issuer of {symbol} may redeem it")
    if token["redemption"] is not None:
        raise ChaincodeError("TOKEN_REDEEMED", f"{symbol} is already being redeemed "
                             f"(redemption {token['redemption']['redemption_id']})")
    live = ctx.state.get(f"live/{symbol}")
    if live is not None:
        raise ChaincodeError("OFFERING_OPEN", f"offering {live} of {symbol} is not yet "
                             "allocated or cancelled")
    units = token["outstanding"]  # no unit can be issued from here on (TOKEN_REDEEMED)
    if units == 0:
        raise ChaincodeError("NO_ENTITLED_HOLDERS", f"{symbol} has no units outstanding")
    escrowed = price * units
    if escrowed > MAX_AMOUNT:
        raise ChaincodeError("INSUFFICIENT_CASH", f"paying {price} KRW for each of {units} "
                             "units is more than any account can hold")
    redemption_id = int(ctx.state.get("next_redemption", 0)) + 1
    ctx.call("cash", "escrow", ref=escrow_ref(redemption_id), account=ctx.caller,
             amount=escrowed)  # INSUFFICIENT_CASH
    ctx.state.put("next_redemption", redemption_id)
    redemption = {
        "redemption_id": redemption_id, "symbol": symbol, "issuer": ctx.caller, "price": price,
        "unit_price": token["unit_price"], "record_time": record_time, "record_height": None,
        "status": "pending", "escrowed": escrowed, "entitled": None, "holders": None,
        "registered": 0, "register_after": "", "paid_count": 0, "paid_gross": 0,
        "income_tax": 0, "local_tax": 0, "paid_net": 0, "held_count": 0, "held_net": 0,
        "released_count": 0, "burned": 0, "returned": 0, "declared_height": ctx.height,
        "declared_time": ctx.time, "declared_tx": ctx.tx_id, "done": False}
    ctx.state.put(f"rsym/{symbol}/{_id(redemption_id)}", redemption_id)
    ctx.emit("RedemptionDeclared", {"redemption_id": redemption_id, "symbol": symbol,
                                    "price": price, "record_time": record_time,
                                    "units": units, "escrowed": escrowed})
    ctx.call("token", "set_redemption", symbol=symbol, redemption_id=redemption_id,
             record_height=None)
    ctx.state.put(f"rpending/{record_time:0{TIME_DIGITS}d}/{_id(redemption_id)}",
                  redemption_id)
    _store(ctx, redemption)
    return {"redemption_id": redemption_id, "record_height": redemption["record_height"],
            "escrowed": escrowed}


def _fix(ctx: Context, redemption: dict[str, Any], record_height: int,
         facts: dict[str, Any]) -> None:
    """Fix the record height into `redemption` and pause the token for good."""
    assert redemption["price"] * facts["entitled"] <= redemption["escrowed"], \
        "the register is worth more than the escrow"
    redemption.update(record_height=record_height, entitled=facts["entitled"],
                      holders=facts["holders"],
                      status="registering" if facts["holders"] else "sweeping")
    ctx.call("token", "set_redemption", symbol=redemption["symbol"],
             redemption_id=redemption["redemption_id"], record_height=record_height)


def _fix_due(ctx: Context, redemption: dict[str, Any]) -> None:
    assert redemption["status"] == "pending" and redemption["record_time"] <= ctx.time
    record_height = ctx.last_height_before(redemption["record_time"])
    facts = ctx.call_at(record_height, "token", "register_facts", symbol=redemption["symbol"])
    ctx.state.delete(f"rpending/{redemption['record_time']:0{TIME_DIGITS}d}/"
                     f"{_id(redemption['redemption_id'])}")
    _fix(ctx, redemption, record_height, facts)


def fix_due(ctx: Context) -> int:
    """The begin-block hook: fix every pending redemption whose `record_time` this block's
    time reached (at most MAX_FIXED_PER_BLOCK; the rest by the next block or `settle`)."""
    due: list[int] = []
    for key, redemption_id in ctx.state.range("rpending/"):
        if int(key.split("/")[1]) > ctx.time or len(due) == MAX_FIXED_PER_BLOCK:
            break
        due.append(redemption_id)
    for redemption_id in due:
        redemption = _redemption(ctx, redemption_id)
        _fix_due(ctx, redemption)
        _store(ctx, redemption)
    return len(due)


# ---- settle: register, pay, sweep ------------------------------------------------------------

def settle(ctx: Context, redemption_id: Any, max_steps: Any) -> dict[str, Any]:
    require_role(ctx, "issuer")
    redemption_id = require_int("redemption_id", redemption_id, 1)
    budget = require_int("max_steps", max_steps, 1, MAX_STEPS)
    redemption = _redemption(ctx, redemption_id)
    token = _token(ctx, redemption["symbol"])
    if token["issuer"] != ctx.caller:
        raise ChaincodeError("UNAUTHORIZED", "only the token's issuer may settle")
    if redemption["status"] == "pending" and redemption["record_time"] <= ctx.time:
        _fix_due(ctx, redemption)
    if redemption["status"] == "pending":
        raise ChaincodeError("RECORD_DATE_PENDING", f"the record date of redemption "
                             f"{redemption_id} is {time_text(redemption['record_time'])}; "
                             "no block has reached it yet")
    if redemption["done"]:
        raise ChaincodeError("ALREADY_PAID", f"redemption {redemption_id} is settled")
    registered = _register_step(ctx, redemption, budget)
    paid = _pay_step(ctx, redemption, budget - registered)
    swept = _sweep_step(ctx, redemption, token["issuer"],
                        budget - registered - paid["count"])
    _store(ctx, redemption)
    return {"redemption_id": redemption_id, "symbol": redemption["symbol"],
            "status": redemption["status"], "registered": registered,
            "paid": paid["count"], "held": paid["held"], "gross": paid["gross"],
            "withheld": paid["withheld"], "swept": swept,
            "paid_count": redemption["paid_count"], "holders": redemption["holders"],
            "done": redemption["done"]}


def _register_step(ctx: Context, redemption: dict[str, Any], budget: int) -> int:
    """Copy up to `budget` holders of the register from the record height."""
    if redemption["status"] != "registering" or budget <= 0:
        return 0
    redemption_id, height = redemption["redemption_id"], redemption["record_height"]
    rates = ctx.params["withholding_bps"]
    rows = ctx.call_at(height, "token", "register_page", symbol=redemption["symbol"],
                       after=redemption["register_after"], limit=budget)
    for account, units in rows:
        index = redemption["registered"]
        klass = tax_class(ctx.call_at(height, "identity", "record", account=account))
        it_bps = int(rates[klass])
        entry = {"index": index, "account": account, "units": units, "class": klass,
                 "it_bps": it_bps, "status": "registered", "burned": 0, "paid_to": None,
                 "paid_height": None, "released_height": None}
        entry.update(compute_payment(redemption["price"], redemption["unit_price"], units,
                                     it_bps))
        ctx.state.put(_entry_key(redemption_id, index), entry)
        ctx.state.put(f"racc/{_id(redemption_id)}/{account}", index)
        redemption["registered"] += 1
        redemption["register_after"] = account
    if redemption["registered"] == redemption["holders"]:
        redemption["status"] = "paying"
    else:
        assert len(rows) == budget, "the register ended before its holder count"
    return len(rows)


def _pay_step(ctx: Context, redemption: dict[str, Any], budget: int) -> dict[str, int]:
    """Burn and pay up to `budget` registered holders: net to the holder (or held), the
    withholding to `tax`."""
    done = {"count": 0, "gross": 0, "withheld": 0, "held": 0}
    if redemption["status"] != "paying" or budget <= 0:
        return done
    redemption_id, symbol = redemption["redemption_id"], redemption["symbol"]
    ref = escrow_ref(redemption_id)
    start = redemption["paid_count"]
    stop = min(redemption["holders"], start + budget)
    memo = f"redemption {redemption_id}"
    for index in range(start, stop):
        entry = ctx.state.get(_entry_key(redemption_id, index))
        payee = resolve_payee(ctx, entry["account"])
        held = is_held_payee(ctx, payee, symbol) or is_held(ctx, payee, "withdrawals")
        burned = int(ctx.call("token", "burn", symbol=symbol, account=payee,
                              units=entry["units"]))
        if entry["net"] and not held:
            ctx.call("cash", "escrow_pay", ref=ref, to=payee, amount=entry["net"], memo=memo)
        withheld = entry["income_tax"] + entry["local_tax"]
        entry.update(status="held" if held else "paid", burned=burned,
                     paid_to=None if held else payee, paid_height=ctx.height)
        ctx.state.put(_entry_key(redemption_id, index), entry)
        _emit_redeemed(ctx, redemption, entry["account"], entry["units"], entry["gross"],
                       withheld, entry["net"], entry["status"])
        redemption["paid_gross"] += entry["gross"]
        redemption["income_tax"] += entry["income_tax"]
        redemption["local_tax"] += entry["local_tax"]
        redemption["burned"] += burned
        if held:
            redemption["held_count"] += 1
            redemption["held_net"] += entry["net"]
            done["held"] += 1
        else:
            redemption["paid_net"] += entry["net"]
        done["count"] += 1
        done["gross"] += entry["gross"]
        done["withheld"] += withheld
    if done["withheld"]:
        tax_account = ctx.call("identity", "tax_account")
        if tax_account is None:
            raise ChaincodeError("NO_TAX_ACCOUNT", "no tax account is registered")
        ctx.call("cash", "escrow_pay", ref=ref, to=tax_account, amount=done["withheld"],
                 memo=f"{memo} withholding")
    redemption["paid_count"] = stop
    if stop == redemption["holders"]:
        redemption["status"] = "sweeping"
    return done


def _sweep_step(ctx: Context, redemption: dict[str, Any], issuer: str, budget: int) -> int:
    """Burn up to `budget` holdings left (the issuer's own first), without payment; once
    none is left the redemption is done and what the escrow holds beyond the held nets goes
    back to the issuer."""
    if redemption["status"] != "sweeping" or budget <= 0:
        return 0
    symbol = redemption["symbol"]
    used = 0
    own = int(ctx.call("token", "burn", symbol=symbol, account=issuer, units=None))
    if own:
        used += 1
        _emit_redeemed(ctx, redemption, issuer, own, 0, 0, 0, "burned")
    rows = ctx.call("token", "register_page", symbol=symbol, after="", limit=budget - used) \
        if budget > used else []
    for account, units in rows:
        used += 1
        burned = int(ctx.call("token", "burn", symbol=symbol, account=account, units=None))
        assert burned == units
        _emit_redeemed(ctx, redemption, account, units, 0, 0, 0, "burned")
    redemption["burned"] += own + sum(units for _, units in rows)
    if used < budget or (not rows and not own):
        _finish(ctx, redemption, issuer)
    return used


def _finish(ctx: Context, redemption: dict[str, Any], issuer: str) -> None:
    token = _token(ctx, redemption["symbol"])
    assert token["outstanding"] == 0, "a settled redemption left units outstanding"
    ref = escrow_ref(redemption["redemption_id"])
    left = int(ctx.call("cash", "escrow_amount", ref=ref)) - redemption["held_net"]
    assert left >= 0, "the escrow is short of the held nets"
    if left:
        ctx.call("cash", "escrow_release", ref=ref, amount=left)
    redemption.update(status="done", done=True, returned=left)


def _emit_redeemed(ctx: Context, redemption: dict[str, Any], account: str, units: int,
                   gross: int, withheld: int, net: int, status: str) -> None:
    ctx.emit("Redeemed", {"redemption_id": redemption["redemption_id"],
                          "symbol": redemption["symbol"], "account": account, "units": units,
                          "gross": gross, "withheld": withheld, "net": net, "status": status})


# ---- release and reads -----------------------------------------------------------------------

def release(ctx: Context, redemption_id: Any, account: Any) -> dict[str, Any]:
    """The registrar pays a held net from the escrow to the holder (or its successor)."""
    require_role(ctx, "registrar")
    redemption_id = require_int("redemption_id", redemption_id, 1)
    account = require_account("account", account)
    redemption = _redemption(ctx, redemption_id)
    entry = ctx.state.get(_entry_key(redemption_id, _entry_index(ctx, redemption_id,
                                                                 account)))
    if entry["status"] != "held":
        raise ChaincodeError("NOT_HELD", f"the redemption of {entry['account']}'s units is "
                             f"{entry['status']}, not held")
    payee = resolve_payee(ctx, entry["account"])
    if entry["net"]:
        ctx.call("cash", "escrow_pay", ref=escrow_ref(redemption_id), to=payee,
                 amount=entry["net"], memo=f"redemption {redemption_id} released")
    entry.update(status="paid", paid_to=payee, released_height=ctx.height)
    ctx.state.put(_entry_key(redemption_id, entry["index"]), entry)
    redemption["held_count"] -= 1
    redemption["held_net"] -= entry["net"]
    redemption["released_count"] += 1
    redemption["paid_net"] += entry["net"]
    _store(ctx, redemption)
    _emit_redeemed(ctx, redemption, entry["account"], entry["units"], entry["gross"],
                   entry["income_tax"] + entry["local_tax"], entry["net"], "released")
    return entry


def get(ctx: Context, redemption_id: Any, start: Any, limit: Any) -> dict[str, Any]:
    """The terms and progress (anyone registered); the register entries from index `start`
    for the issuer, the registrar and the regulator."""
    require_registered_reader(ctx)
    redemption_id = require_int("redemption_id", redemption_id, 1)
    start = require_int("start", start, 0)
    limit = require_int("limit", limit, 1, MAX_PAGE)
    redemption = dict(_redemption(ctx, redemption_id))
    issuer = _token(ctx, redemption["symbol"])["issuer"]
    if ctx.caller == issuer or caller_role(ctx) in ("registrar", "regulator"):
        stop = min(redemption["registered"], start + limit)
        redemption["entries"] = [ctx.state.get(_entry_key(redemption_id, index))
                                 for index in range(start, stop)]
        redemption["next"] = stop if stop < redemption["registered"] else None
    return redemption


def of_token(ctx: Context, symbol: Any) -> list[dict[str, Any]]:
    """Every redemption of a token (at most one is ever declared): anyone registered."""
    require_registered_reader(ctx)
    symbol = require_symbol(symbol)
    return [_redemption(ctx, redemption_id)
            for _, redemption_id in ctx.state.range(f"rsym/{symbol}/")]


def _entry_index(ctx: Context, redemption_id: int, account: str) -> int:
    found = find_entry(ctx, account, lambda holder: ctx.state.get(
        f"racc/{_id(redemption_id)}/{holder}"))
    if found is None:
        raise ChaincodeError("NOT_ENTITLED", f"{account} is not in the register of "
                             f"redemption {redemption_id}")
    return found[1]


def _redemption(ctx: Context, redemption_id: int) -> dict[str, Any]:
    redemption: dict[str, Any] | None = ctx.state.get(f"red/{_id(redemption_id)}")
    if redemption is None:
        raise ChaincodeError("UNKNOWN_REDEMPTION", f"no redemption {redemption_id}")
    return redemption


def _store(ctx: Context, redemption: dict[str, Any]) -> None:
    ctx.state.put(f"red/{_id(redemption['redemption_id'])}", redemption)


def _token(ctx: Context, symbol: str) -> dict[str, Any]:
    token: dict[str, Any] | None = ctx.call("token", "meta", symbol=symbol)
    if token is None:
        raise ChaincodeError("UNKNOWN_TOKEN", f"no token {symbol}")
    return token
