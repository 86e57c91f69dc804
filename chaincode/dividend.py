"""The dividend contract: escrowed declarations, a register at the record height, exact pro-rata
shares, withholding by tax class, bounded steps.

A dividend goes through these states (`status`):

    pending      declared, `total` escrowed from the issuer's cash; the record height is not
                 known yet (`record_time` is still ahead of every block)
    registering  the record height is fixed; `pay` steps copy the register from the state as of
                 the end of that block (the chain's history), a page at a time
    allocating   every holder has its floor share; `pay` steps hand the remaining won out one
                 each in remainder order
    paying       `pay` steps settle entitlements in register order
    done         every entitlement settled (held nets stay in the escrow until released)
    cancelled    nobody was entitled at the record height; the escrow went back to the issuer

Record height (PROTOCOL.md): the last block whose time is before `record_time`; the register is
the state at the end of that block, so it equals `/v1/audit/captable?at=<record_height>` holder
for holder (both read the same history). `record_time` defaults to the declaring block's time
(then the record height is already in the past and is fixed by `declare`); a later
`record_time` announces the record date ahead, and the record height is fixed by the begin-block
hook of the first block whose time reaches it (its previous block is the record height), or by
the first `pay` after that, whichever comes first. `get` reports `record_height` once fixed;
`pay` before that answers RECORD_DATE_PENDING.

Arithmetic (integers only, PROTOCOL.md), with entitled = the units at the record height less
the issuer's own:
    gross_i      = floor(total * balance_i / entitled), then the `total - sum(floor)` remaining
                   won go one each to the largest remainders `total * balance_i mod entitled`
                   (ties: lower account id), so sum(gross) == total
    income_tax_i = floor(gross_i * it_bps / 10000)   it_bps = params.withholding_bps[class],
                   class from the holder's identity record at the record height
                   (chaincode.compliance.tax_class)
    local_tax_i  = floor(income_tax_i / 10)
    net_i        = gross_i - income_tax_i - local_tax_i

Bounded work: `declare` does a constant amount of work. Each `pay(dividend_id, max_holders)`
spends at most `max_holders` steps, in order: registering holders (one step each), handing out
remaining won (one step each), settling entitlements (one step each); a call may finish one
phase and go on with the next. The remainder order comes from an index whose keys sort by
(-remainder, account), so no step ever sorts the whole register.

Cash: the whole `total` is escrowed at `declare` (cash escrow `dividend/<id>`, INSUFFICIENT_CASH
otherwise), so every declared dividend can be paid. Settling an entitlement pays the net from
the escrow to the holder (to its successor when its key was recovered since) and the
withholding to the `tax` account. The net of a holder that is revoked, AML high-risk, or whose
units of this token are frozen is held in the escrow (entitlement status `held`) until the
registrar `release(dividend_id, account)`s it.

Decisions where PROTOCOL.md is silent:
- `record_time` is at most MAX_RECORD_AHEAD_MS after the declaring block (BAD_ARGS).
- A dividend whose record height has nobody entitled is `cancelled` and its escrow released;
  `pay` on it answers NO_ENTITLED_HOLDERS (as `declare` does when the record height is known).
- The declaration's `income_tax`, `local_tax` and `net` are those of the entitlements settled
  so far (final once `done`); `paid_count` counts settled entitlements (paid or held),
  `paid_gross` their gross, `paid_net` the net actually paid to holders (released nets
  included), `held_net` the net still held.
- The withholding of a held entitlement is paid to `tax` when it is settled; only its net waits.

Key layout (inside the `dividend/` namespace; ids are 12-digit, indexes 9-digit, zero-padded):

    next_id                              the last dividend id issued
    div/<id>                             the declaration, with its progress and running totals
    sym/<symbol>/<id>                    the token's dividends, in declaration order
    pending/<record_time:016d>/<id>      1 while the record height is not fixed
    ent/<id>/<index>                     one entitlement: account, balance, class, it_bps, gross,
                                         income_tax, local_tax, net, status (registered | paid |
                                         held), paid, paid_to, paid_height, released_height
    acc/<id>/<account>                   account -> index
    rem/<id>/<entitled-1-remainder:020d>/<account>   1: the remainder order (remainder > 0)

Errors: UNAUTHORIZED, BAD_ARGS, UNKNOWN_TOKEN, NO_ENTITLED_HOLDERS, INSUFFICIENT_CASH,
UNKNOWN_DIVIDEND, RECORD_DATE_PENDING, ALREADY_PAID, NO_TAX_ACCOUNT, NOT_ENTITLED, NOT_HELD,
FORBIDDEN.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chaincode.compliance import DAY_MS, is_aml_blocked, tax_class
from chaincode.identity import (
    caller_role,
    may_read_account,
    require_registered_reader,
    require_role,
)
from chaincode.runtime import (
    ChaincodeError,
    Context,
    Contract,
    Forbidden,
    begin_block,
    duration_text,
    query,
    require_account,
    require_int,
    time_text,
    transaction,
)
from chaincode.token import MAX_AMOUNT, require_symbol

MAX_PAY_PAGE = 1000  # steps (holders registered, won handed out, entitlements settled) per pay
MAX_RECOVERY_HOPS = 16  # successors followed when a holder's key was recovered
MAX_FIXED_PER_BLOCK = 64  # record heights the begin-block hook fixes per block (pay does too)
MAX_RECORD_AHEAD_MS = 366 * DAY_MS
TIME_DIGITS = 16


def compute_gross_shares(total: int, holdings: list[tuple[str, int]]) -> list[int]:
    """Largest-remainder split of `total` won by balance; sums to `total` exactly. (The
    contract computes the same in bounded steps; this is the reference for the tests.)"""
    entitled = sum(balance for _, balance in holdings)
    assert entitled > 0 and all(balance > 0 for _, balance in holdings)
    shares = [total * balance // entitled for _, balance in holdings]
    remainders = [total * balance % entitled for _, balance in holdings]
    left = total - sum(shares)
    assert 0 <= left < len(holdings), "remainders sum to fewer won than holders"
    order = sorted(range(len(holdings)), key=lambda i: (-remainders[i], holdings[i][0]))
    for i in order[:left]:
        shares[i] += 1
    return shares


def compute_withholding(gross: int, it_bps: int) -> tuple[int, int, int]:
    """(income_tax, local_tax, net) of one gross payment."""
    income_tax = gross * it_bps // 10_000
    local_tax = income_tax // 10
    return income_tax, local_tax, gross - income_tax - local_tax


def check_record_time(ctx: Context, record_time: Any) -> int:
    """A record time (None: this block's), never before this block's time nor more than
    MAX_RECORD_AHEAD_MS after it (BAD_ARGS). Shared with the offering's redemptions."""
    if record_time is None:
        record_time = ctx.time
    record_time = require_int("record_time", record_time, 0, 10**TIME_DIGITS - 1)
    if not ctx.time <= record_time <= ctx.time + MAX_RECORD_AHEAD_MS:
        raise ChaincodeError("BAD_ARGS", "record_time is never before the declaring "
                             f"block's time ({time_text(ctx.time)}) nor more than "
                             f"{duration_text(MAX_RECORD_AHEAD_MS)} after it")
    return record_time


def resolve_payee(ctx: Context, account: str) -> str:
    """The holder, or the account that took over its key (token.recover)."""
    for _ in range(MAX_RECOVERY_HOPS):
        record = ctx.identity(account)
        successor = None if record is None else record.get("recovered_to")
        if successor is None:
            return account
        account = successor
    return account


def find_entry(ctx: Context, account: str, lookup: Callable[[str], int | None]
               ) -> tuple[str, int] | None:
    """(account, index) of the register entry of `account`, or of the key it recovered
    (entitlements follow a key recovery); `lookup` reads one account's index."""
    for _ in range(MAX_RECOVERY_HOPS):
        index = lookup(account)
        if index is not None:
            return account, int(index)
        record = ctx.identity(account)
        previous = None if record is None else record.get("recovered_from")
        if previous is None:
            return None
        account = previous
    return None


def is_held_payee(ctx: Context, payee: str, symbol: str) -> bool:
    """Revoked, AML high-risk, or holding frozen units of this token: the net waits."""
    record = ctx.identity(payee)
    if record is None or record.get("status") != "active" or is_aml_blocked(record):
        return True
    return int(ctx.call("token", "frozen_units", symbol=symbol, account=payee)) > 0


def _id_key(dividend_id: int) -> str:
    return f"{dividend_id:012d}"


def _escrow_ref(dividend_id: int) -> str:
    return f"dividend/{_id_key(dividend_id)}"


def _entry_key(key: str, index: int) -> str:
    return f"ent/{key}/{index:09d}"


class Dividend(Contract):
    name = "dividend"

    # ---- declare -----------------------------------------------------------------------------

    @transaction
    def declare(self, ctx: Context, symbol: Any, total: Any, record_time: Any = None
                ) -> dict[str, Any]:
        require_role(ctx, "issuer")
        symbol = require_symbol(symbol)
        total = require_int("total", total, 1, MAX_AMOUNT)
        record_time = check_record_time(ctx, record_time)
        token = self._token(ctx, symbol)
        if token["issuer"] != ctx.caller:
            raise ChaincodeError("UNAUTHORIZED", f"only the issuer of {symbol} may declare")
        record_height, facts = None, None
        if record_time <= ctx.time:  # the record height is already in the past
            record_height = ctx.last_height_before(record_time)
            facts = ctx.call_at(record_height, "token", "register_facts", symbol=symbol)
            if facts["entitled"] <= 0:
                raise ChaincodeError("NO_ENTITLED_HOLDERS", f"{symbol} has no entitled holders "
                                     f"at the record height {record_height}")
        dividend_id = int(ctx.state.get("next_id", 0)) + 1
        ctx.call("cash", "escrow", ref=_escrow_ref(dividend_id), account=ctx.caller,
                 amount=total)  # INSUFFICIENT_CASH
        ctx.state.put("next_id", dividend_id)
        key = _id_key(dividend_id)
        declaration = {
            "dividend_id": dividend_id, "symbol": symbol, "issuer": ctx.caller, "total": total,
            "record_time": record_time, "record_height": None, "status": "pending",
            "entitled": None, "holders": None, "registered": 0, "register_after": "",
            "floor_sum": 0, "left": None, "allocated": 0, "allocate_after": "",
            "declared_height": ctx.height, "declared_time": ctx.time, "declared_tx": ctx.tx_id,
            "income_tax": 0, "local_tax": 0, "net": 0, "paid_count": 0, "paid_gross": 0,
            "paid_income_tax": 0, "paid_local_tax": 0, "paid_net": 0, "held_count": 0,
            "held_net": 0, "released_count": 0, "done": False}
        ctx.state.put(f"sym/{symbol}/{key}", dividend_id)
        ctx.emit("DividendDeclared", {"dividend_id": dividend_id, "symbol": symbol,
                                      "total": total, "record_time": record_time})
        if record_height is not None and facts is not None:
            self._fix(ctx, declaration, record_height, facts)
        else:
            ctx.state.put(f"pending/{record_time:0{TIME_DIGITS}d}/{key}", dividend_id)
        ctx.state.put(f"div/{key}", declaration)
        return declaration

    def _fix(self, ctx: Context, declaration: dict[str, Any], record_height: int,
             facts: dict[str, Any]) -> None:
        """Fix the record height (and what the register needs) into `declaration`."""
        declaration["record_height"] = record_height
        dividend_id = declaration["dividend_id"]
        if facts["entitled"] <= 0:
            declaration["status"] = "cancelled"
            ctx.call("cash", "escrow_release", ref=_escrow_ref(dividend_id),
                     amount=declaration["total"])
            ctx.emit("DividendCancelled", {"dividend_id": dividend_id,
                                           "symbol": declaration["symbol"],
                                           "record_height": record_height,
                                           "reason": "nobody entitled at the record height"})
            return
        declaration.update(status="registering", entitled=facts["entitled"],
                           holders=facts["holders"])
        ctx.emit("RecordDateFixed", {"dividend_id": dividend_id,
                                     "symbol": declaration["symbol"],
                                     "record_height": record_height,
                                     "entitled": facts["entitled"],
                                     "holders": facts["holders"]})

    def _fix_due(self, ctx: Context, declaration: dict[str, Any]) -> None:
        """Fix a pending declaration whose record time this block has reached."""
        assert declaration["status"] == "pending" and declaration["record_time"] <= ctx.time
        record_height = ctx.last_height_before(declaration["record_time"])
        facts = ctx.call_at(record_height, "token", "register_facts",
                            symbol=declaration["symbol"])
        ctx.state.delete(f"pending/{declaration['record_time']:0{TIME_DIGITS}d}/"
                         f"{_id_key(declaration['dividend_id'])}")
        self._fix(ctx, declaration, record_height, facts)

    @begin_block
    def fix_record_heights(self, ctx: Context) -> int:
        """At the start of a block: fix the record height of every pending dividend whose
        `record_time` this block's time reached (at most MAX_FIXED_PER_BLOCK; any left over
        are fixed by the next block or by `pay`, to the same height)."""
        due: list[int] = []
        for key, dividend_id in ctx.state.range("pending/"):
            if int(key.split("/")[1]) > ctx.time or len(due) == MAX_FIXED_PER_BLOCK:
                break
            due.append(dividend_id)
        for dividend_id in due:
            declaration = self._declaration(ctx, dividend_id)
            self._fix_due(ctx, declaration)
            ctx.state.put(f"div/{_id_key(dividend_id)}", declaration)
        return len(due)

    # ---- pay: register, allocate, settle -----------------------------------------------------

    @transaction
    def pay(self, ctx: Context, dividend_id: Any, max_holders: Any) -> dict[str, Any]:
        require_role(ctx, "issuer")
        dividend_id = require_int("dividend_id", dividend_id, 1)
        budget = require_int("max_holders", max_holders, 1, MAX_PAY_PAGE)
        declaration = self._declaration(ctx, dividend_id)
        token = self._token(ctx, declaration["symbol"])
        if token["issuer"] != ctx.caller:
            raise ChaincodeError("UNAUTHORIZED", "only the token's issuer may pay")
        was_cancelled = declaration["status"] == "cancelled"
        if declaration["status"] == "pending" and declaration["record_time"] <= ctx.time:
            self._fix_due(ctx, declaration)  # may cancel it: then this call commits that
        status = declaration["status"]
        if status == "pending":
            raise ChaincodeError("RECORD_DATE_PENDING", f"the record date of dividend "
                                 f"{dividend_id} is {time_text(declaration['record_time'])}; "
                                 "no block has reached it yet")
        if was_cancelled:
            raise ChaincodeError("NO_ENTITLED_HOLDERS", f"nobody was entitled to dividend "
                                 f"{dividend_id} at its record height; it was cancelled")
        if status == "done":
            raise ChaincodeError("ALREADY_PAID", f"dividend {dividend_id} is fully paid")
        registered = self._register_step(ctx, declaration, budget)
        allocated = self._allocate_step(ctx, declaration, budget - registered)
        settled = self._settle_step(ctx, declaration, budget - registered - allocated)
        ctx.state.put(f"div/{_id_key(dividend_id)}", declaration)
        return {"dividend_id": dividend_id, "symbol": declaration["symbol"],
                "status": declaration["status"], "registered": registered,
                "allocated": allocated, "paid": settled["count"],
                "paid_count": declaration["paid_count"], "holders": declaration["holders"],
                "gross": settled["gross"], "withheld": settled["withheld"],
                "held": settled["held"], "done": declaration["done"]}

    def _register_step(self, ctx: Context, declaration: dict[str, Any], budget: int) -> int:
        """Copy up to `budget` holders of the register from the record height."""
        if declaration["status"] != "registering" or budget <= 0:
            return 0
        key = _id_key(declaration["dividend_id"])
        height, total, entitled = (declaration["record_height"], declaration["total"],
                                   declaration["entitled"])
        rates = ctx.params["withholding_bps"]
        rows = ctx.call_at(height, "token", "register_page", symbol=declaration["symbol"],
                           after=declaration["register_after"], limit=budget)
        for account, balance in rows:
            index = declaration["registered"]
            floor, remainder = divmod(total * balance, entitled)
            klass = tax_class(ctx.call_at(height, "identity", "record", account=account))
            ctx.state.put(_entry_key(key, index), {
                "index": index, "account": account, "balance": balance, "class": klass,
                "it_bps": int(rates[klass]), "gross": floor, "income_tax": None,
                "local_tax": None, "net": None, "status": "registered", "paid": False,
                "paid_to": None, "paid_height": None, "released_height": None})
            ctx.state.put(f"acc/{key}/{account}", index)
            if remainder:
                ctx.state.put(f"rem/{key}/{entitled - 1 - remainder:020d}/{account}", 1)
            declaration["floor_sum"] += floor
            declaration["registered"] += 1
            declaration["register_after"] = account
        if declaration["registered"] == declaration["holders"]:
            left = total - declaration["floor_sum"]
            assert 0 <= left < declaration["holders"], "remainders do not add up"
            declaration.update(left=left, status="allocating" if left else "paying")
        else:
            assert len(rows) == budget, "the register ended before its holder count"
        return len(rows)

    def _allocate_step(self, ctx: Context, declaration: dict[str, Any], budget: int) -> int:
        """Hand out up to `budget` of the remaining won, largest remainders first."""
        if declaration["status"] != "allocating" or budget <= 0:
            return 0
        key = _id_key(declaration["dividend_id"])
        prefix = f"rem/{key}/"
        after = declaration["allocate_after"]
        done = 0
        for rem_key, _ in ctx.state.range(prefix, after + "\x01" if after else ""):
            if done == budget or declaration["allocated"] == declaration["left"]:
                break
            index = ctx.state.get(f"acc/{key}/{rem_key.rsplit('/', 1)[1]}")
            entry = ctx.state.get(_entry_key(key, index))
            entry["gross"] += 1
            ctx.state.put(_entry_key(key, index), entry)
            declaration["allocated"] += 1
            declaration["allocate_after"] = rem_key
            done += 1
        else:  # the index ran out: the remainders must have covered every won left
            assert declaration["allocated"] == declaration["left"], "remainder index short"
        if declaration["allocated"] == declaration["left"]:
            declaration["status"] = "paying"
        return done

    def _settle_step(self, ctx: Context, declaration: dict[str, Any], budget: int
                     ) -> dict[str, int]:
        """Settle up to `budget` entitlements: net to the holder (or held), tax to `tax`."""
        settled = {"count": 0, "gross": 0, "withheld": 0, "held": 0}
        if declaration["status"] != "paying" or budget <= 0:
            return settled
        dividend_id = declaration["dividend_id"]
        key, ref = _id_key(dividend_id), _escrow_ref(dividend_id)
        start = declaration["paid_count"]
        stop = min(declaration["holders"], start + budget)
        tax_account = ctx.call("identity", "tax_account")
        memo = f"dividend {dividend_id}"
        for index in range(start, stop):
            entry = ctx.state.get(_entry_key(key, index))
            income_tax, local_tax, net = compute_withholding(entry["gross"], entry["it_bps"])
            payee = resolve_payee(ctx, entry["account"])
            held = is_held_payee(ctx, payee, declaration["symbol"])
            if net and not held:
                ctx.call("cash", "escrow_pay", ref=ref, to=payee, amount=net, memo=memo)
            entry.update(income_tax=income_tax, local_tax=local_tax, net=net,
                         status="held" if held else "paid", paid=not held,
                         paid_to=None if held else payee, paid_height=ctx.height)
            ctx.state.put(_entry_key(key, index), entry)
            ctx.emit("DividendPaid", {
                "dividend_id": dividend_id, "symbol": declaration["symbol"],
                "account": entry["account"], "paid_to": entry["paid_to"],
                "gross": entry["gross"], "income_tax": income_tax, "local_tax": local_tax,
                "net": net, "held": held})
            for name, value in (("income_tax", income_tax), ("local_tax", local_tax),
                                ("net", net)):
                declaration[name] += value
            declaration["paid_gross"] += entry["gross"]
            declaration["paid_income_tax"] += income_tax
            declaration["paid_local_tax"] += local_tax
            if held:
                declaration["held_count"] += 1
                declaration["held_net"] += net
                settled["held"] += 1
            else:
                declaration["paid_net"] += net
            settled["count"] += 1
            settled["gross"] += entry["gross"]
            settled["withheld"] += income_tax + local_tax
        if settled["withheld"]:
            if tax_account is None:
                raise ChaincodeError("NO_TAX_ACCOUNT", "no tax account is registered")
            ctx.call("cash", "escrow_pay", ref=ref, to=tax_account, amount=settled["withheld"],
                     memo=f"{memo} withholding")
        declaration["paid_count"] = stop
        if stop == declaration["holders"]:
            declaration.update(status="done", done=True)
            assert ctx.call("cash", "escrow_amount", ref=ref) == declaration["held_net"], \
                "the escrow left over is not the held nets"
        return settled

    @transaction
    def release(self, ctx: Context, dividend_id: Any, account: Any) -> dict[str, Any]:
        """The registrar pays a held net from the escrow to the holder (or its successor)."""
        require_role(ctx, "registrar")
        dividend_id = require_int("dividend_id", dividend_id, 1)
        account = require_account("account", account)
        declaration = self._declaration(ctx, dividend_id)
        key = _id_key(dividend_id)
        entry = ctx.state.get(_entry_key(key, self._entry_index(ctx, key, account,
                                                                dividend_id)))
        if entry["status"] != "held":
            raise ChaincodeError("NOT_HELD", f"the entitlement of {entry['account']} to "
                                 f"dividend {dividend_id} is {entry['status']}, not held")
        payee = resolve_payee(ctx, entry["account"])
        if entry["net"]:
            ctx.call("cash", "escrow_pay", ref=_escrow_ref(dividend_id), to=payee,
                     amount=entry["net"], memo=f"dividend {dividend_id} released")
        entry.update(status="paid", paid=True, paid_to=payee, released_height=ctx.height)
        ctx.state.put(_entry_key(key, entry["index"]), entry)
        declaration["held_count"] -= 1
        declaration["held_net"] -= entry["net"]
        declaration["released_count"] += 1
        declaration["paid_net"] += entry["net"]
        ctx.state.put(f"div/{key}", declaration)
        ctx.emit("DividendReleased", {"dividend_id": dividend_id,
                                      "symbol": declaration["symbol"],
                                      "account": entry["account"], "paid_to": payee,
                                      "net": entry["net"]})
        return entry

    # ---- helpers -----------------------------------------------------------------------------

    def _entry_index(self, ctx: Context, key: str, account: str, dividend_id: int) -> int:
        """The entitlement of `account`, or of the key it recovered."""
        found = find_entry(ctx, account, lambda holder: ctx.state.get(f"acc/{key}/{holder}"))
        if found is None:
            raise ChaincodeError("NOT_ENTITLED", f"{account} is not entitled to dividend "
                                 f"{dividend_id}")
        return found[1]

    def _token(self, ctx: Context, symbol: str) -> dict[str, Any]:
        token: dict[str, Any] | None = ctx.call("token", "meta", symbol=symbol)
        if token is None:
            raise ChaincodeError("UNKNOWN_TOKEN", f"no token {symbol}")
        return token

    def _declaration(self, ctx: Context, dividend_id: int) -> dict[str, Any]:
        declaration: dict[str, Any] | None = ctx.state.get(f"div/{_id_key(dividend_id)}")
        if declaration is None:
            raise ChaincodeError("UNKNOWN_DIVIDEND", f"no dividend {dividend_id}")
        return declaration

    # ---- queries -----------------------------------------------------------------------------

    @query
    def get(self, ctx: Context, dividend_id: Any) -> dict[str, Any]:
        """A declaration with its progress: anyone registered (a public notice)."""
        require_registered_reader(ctx)
        return self._declaration(ctx, require_int("dividend_id", dividend_id, 1))

    @query
    def declarations(self, ctx: Context, symbol: Any) -> list[dict[str, Any]]:
        """Every declaration of a token, oldest first: anyone registered."""
        require_registered_reader(ctx)
        symbol = require_symbol(symbol)
        return [self._declaration(ctx, dividend_id)
                for _, dividend_id in ctx.state.range(f"sym/{symbol}/")]

    @query
    def entitlement(self, ctx: Context, dividend_id: Any, account: Any) -> dict[str, Any]:
        """The account, its broker, the token's issuer, the registrar, the regulator."""
        dividend_id = require_int("dividend_id", dividend_id, 1)
        account = require_account("account", account)
        declaration = self._declaration(ctx, dividend_id)
        token = self._token(ctx, declaration["symbol"])
        if not may_read_account(ctx, account, ctx.identity(account), "registrar",
                                extra_accounts=(token["issuer"],)):
            raise Forbidden("only the account, its broker, the issuer, the registrar and the "
                            "regulator may read an entitlement")
        key = _id_key(dividend_id)
        index = self._entry_index(ctx, key, account, dividend_id)
        return ctx.state.get(_entry_key(key, index))  # type: ignore[no-any-return]

    @query
    def payments(self, ctx: Context, dividend_id: Any, start: Any = 0,
                 limit: Any = MAX_PAY_PAGE) -> dict[str, Any]:
        """Entitlements and their payment (the issuer, the registrar, the regulator)."""
        dividend_id = require_int("dividend_id", dividend_id, 1)
        start = require_int("start", start, 0)
        limit = require_int("limit", limit, 1, MAX_PAY_PAGE)
        declaration = self._declaration(ctx, dividend_id)
        token = self._token(ctx, declaration["symbol"])
        if ctx.caller != token["issuer"] and caller_role(ctx) not in ("registrar", "regulator"):
            raise Forbidden("only the issuer, the registrar and the regulator may list payments")
        key = _id_key(dividend_id)
        registered = declaration["registered"]
        stop = min(registered, start + limit)
        rows = [ctx.state.get(_entry_key(key, index)) for index in range(start, stop)]
        return {"dividend_id": dividend_id, "entitlements": rows,
                "next": stop if stop < registered else None}
