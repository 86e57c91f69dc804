"""The fds contract: holds that block a suspicious account, and real-time outflow limits.

Theory of operation. Detection without a response is a report, not protection (이상거래 탐지 후
자동 차단). A **hold** is a signed transaction by the account's broker or the registrar, kept
here with who placed it, when, why and on which alert, until someone releases it. The other
contracts ask `is_held(ctx, account, scope)` (or `check_hold`, which raises ACCOUNT_HELD) at
the place PROTOCOL.md's check orders name, right after AML_BLOCKED:

    scope asked    refused while the account has an active hold of scope
    withdrawals    withdrawals or all     cash.transfer from it, cash.burn of it
    trading        trading or all         market.place (either side), a fill of its resting
                                          order (the order is cancelled ACCOUNT_HELD), an
                                          offering subscription
    all            all                    token.transfer from it (and all of the above)

Receiving is never blocked (no check asks about the recipient of a transfer, an issuance or
a payment), and a `withdrawals` hold never blocks a commitment made before it: a fill's cash
leg and an allocation's payment come out of an escrow, which no hold check reads. A `trading`
(or `all`) hold cancels the account's resting orders in the hold transaction, at most
MAX_CANCEL_ON_HOLD of them (chaincode.market `cancel_held`); the market's begin-block hook
cancels the rest at the start of the next blocks (chaincode.market `unwind_held`), even if the
hold is released meanwhile, and one a fill reaches first is cancelled with code ACCOUNT_HELD
then, since every fill runs the transfer checks.

**Real-time limits** (genesis `params.fds`, FDS_DEFAULTS), for individuals (`legal_form`
`individual`) only, on block time: `cash.burn` and `cash.transfer` are refused
WITHDRAWAL_DELAYED until `new_account_hold_ms` after the account's first mint and
`deposit_hold_ms` after its latest (a transfer too: otherwise one hop to a second account
that burns at once makes the delay moot);
the account's `cash.transfer` amounts plus `burn` amounts within one KST calendar day may reach
`daily_outflow_krw` but not exceed it (DAILY_LIMIT_EXCEEDED). Nothing else moves cash through
`cash.transfer` or `cash.burn`: market settlement, escrows and their refunds, allocation
payments and dividends use the cash contract's escrow and internal moves, so they never count.

Key layout (inside the `fds/` namespace; ids are 12 digits, zero-padded):

    next_hold                        the last hold id issued
    hold/<hold_id>                   the hold record (below)
    acct/<account>/<hold_id>         1: every hold placed on the account (holds, audit)
    open/<account>/<hold_id>         scope: the account's active holds (at most
                                     MAX_CLASS_HOLDS per placer class; what a key
                                     recovery moves)
    alert/<alert_id>/<hold_id>       1: the holds placed on an alert's evidence (audit, console)
    active/<account>                 {"withdrawals": n, "trading": n, "all": n}: the account's
                                     active holds by scope (present while any is active); the
                                     one read every hold check costs
    placed/<account>/<class>         {scope: n}: the active holds placed by the account's
                                     brokers (`broker`) or the registrar (`registrar`): the
                                     room each class has (TOO_MANY_HOLDS)
    dup/<account>/<scope>/<alert_id> hold_id of the active hold with that alert (ALREADY_HELD)
    deposits/<account>               {"first", "latest"}: block times of its first and latest
                                     mint (WITHDRAWAL_DELAYED)
    outflow/<account>                {"day", "krw"}: an individual's outflow on KST day `day`

A hold record: {"hold_id", "account", "scope", "reason", "alert_id", "by", "height", "time",
"tx_id", "orders_cancelled", "placed_as" ("broker" | "registrar"), "status" ("active" |
"released"), "released_by",
"released_reason", "released_height", "released_time", "released_tx"}.

Decisions where PROTOCOL.md is silent:
- `hold` checks in order: UNAUTHORIZED (the caller is not a broker or the registrar), BAD_ARGS
  (an `alert_id` may not hold "/", the key separator: `alert/<id>/` names one alert),
  NOT_REGISTERED (no identity record: a revoked account can still be held), UNAUTHORIZED (a
  broker that is not the account's), ALREADY_HELD, TOO_MANY_HOLDS. A key recovered away is
  held at its successor (`current_key`: where the assets went). It returns {"hold_id",
  "orders_cancelled"}.
- TOO_MANY_HOLDS: the brokers' holds and the registrar's each have MAX_ACTIVE_HOLDS of room
  on an account, so a broker cannot use up the room of the registrar's holds; past it a hold
  is still placed if it covers a scope that none of its class's active holds covers (hard
  bound MAX_CLASS_HOLDS), so the strongest response is never the one refused.
- `release` checks: BAD_ARGS, UNKNOWN_HOLD, UNAUTHORIZED (the caller has no active broker or
  registrar role, as a revoked or recovered key; or it is neither the placer nor the
  registrar), NOT_HELD (already released).
- A forced transfer, a redemption by the issuer and a key recovery are not the holder's acts:
  holds do not block them. `token.recover` carries the active holds, the deposit times and
  today's outflow of the old key to the new one (`recover`), so a new key escapes nothing;
  released holds stay with the old account, as closed orders do.
- `daily_outflow_krw` 0 means no limit, as for the other limits of genesis.

Determinism: integers only, block time from the context, key-ordered ranges.

Errors: UNAUTHORIZED, BAD_ARGS, NOT_REGISTERED, ALREADY_HELD, TOO_MANY_HOLDS, UNKNOWN_HOLD,
NOT_HELD, FORBIDDEN (queries); and, raised for the other contracts, ACCOUNT_HELD,
WITHDRAWAL_DELAYED, DAILY_LIMIT_EXCEEDED.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from chaincode.compliance import attr
from chaincode.identity import caller_role, may_read_account, require_role
from chaincode.runtime import (
    ChaincodeError,
    Context,
    Contract,
    Forbidden,
    duration_text,
    internal,
    query,
    require_account,
    require_int,
    require_str,
    time_text,
    transaction,
)

SCOPES = ("withdrawals", "trading", "all")
MAX_ACTIVE_HOLDS = 64  # per account and placer class (the account's brokers; the registrar):
# bounds what token.recover carries to a new key; the responder places at most one per alert
# and scope, and a person releases them. Past it a hold is still placed if it covers a scope
# the class's active holds do not (at most len(SCOPES) of those: MAX_CLASS_HOLDS)
MAX_CLASS_HOLDS = MAX_ACTIVE_HOLDS + len(SCOPES)
PLACER_CLASSES = ("broker", "registrar")  # a broker cannot use up the registrar's room
MAX_RECOVERY_HOPS = 16  # successors followed from a recovered key (as chaincode.dividend)
MAX_CANCEL_ON_HOLD = 64  # resting orders a trading hold cancels at once (as MAX_FILLS bounds a
# place); the rest are cancelled at their next fill
MAX_ALERT_ID_CHARS = 128  # a surveillance alert id is 64 hex characters
KEY_SEPARATOR = "/"  # never inside an alert id: `alert/<alert_id>/` must name one alert
MAX_REASON_CHARS = 512
MAX_PAGE = 1_000  # holds per `holds` answer

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
KST_OFFSET_MS = 9 * HOUR_MS  # Korea Standard Time, UTC+9, no daylight saving
MAX_DELAY_MS = 366 * DAY_MS  # a withdrawal delay beyond a year would be a freeze, not a delay
MAX_KRW = 2**62

FDS_DEFAULTS: dict[str, Any] = {
    # 최초 입금 후 72시간, 추가 입금 후 24시간: Korean exchanges' delays against voice-phishing
    "new_account_hold_ms": 72 * HOUR_MS,
    "deposit_hold_ms": 24 * HOUR_MS,
    "daily_outflow_krw": 100_000_000,  # KRW per KST day; 0 = no limit
}

# `params.fds` of a network that studies something else (the consensus simulator, the market
# generator, the surveillance desk): its traders are funded and move cash within hours, so the
# withdrawal delay, which covers transfers too, would refuse most of what they do. The daily
# limit stays.
NO_WITHDRAWAL_DELAY: dict[str, Any] = {"new_account_hold_ms": 0, "deposit_hold_ms": 0}


# ---- genesis parameters ----------------------------------------------------------------------

class FdsParamsError(ValueError):
    """A bad `params.fds`; `field` is the name below it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"fds.{field}: {message}" if field else f"fds: {message}")
        self.field = field
        self.message = message


def check_fds_params(value: Any) -> dict[str, Any]:
    """`params.fds` with defaults for missing fields, validated (FdsParamsError)."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise FdsParamsError("", "must be an object")
    for name in value:
        if name not in FDS_DEFAULTS:
            raise FdsParamsError(str(name), f"unknown field (known: {', '.join(FDS_DEFAULTS)})")
    merged = dict(FDS_DEFAULTS)
    merged.update(value)
    for name, highest in (("new_account_hold_ms", MAX_DELAY_MS),
                          ("deposit_hold_ms", MAX_DELAY_MS), ("daily_outflow_krw", MAX_KRW)):
        number = merged[name]
        if isinstance(number, bool) or not isinstance(number, int):
            raise FdsParamsError(name, "must be an integer")
        if not 0 <= number <= highest:
            raise FdsParamsError(name, f"{number} is out of range [0, {highest}]")
    return merged


# ---- what the other contracts call -----------------------------------------------------------

def covers(hold_scope: str, scope: str) -> bool:
    """Whether a hold of `hold_scope` refuses what `scope` names (an `all` hold covers every
    scope; only an `all` hold covers `all`, the token transfers out)."""
    return hold_scope == scope or hold_scope == "all"


def is_held(ctx: Context, account: str, scope: str) -> bool:
    """Whether `account` has an active hold that covers `scope` (one state read)."""
    assert scope in SCOPES, scope
    return bool(ctx.call("fds", "held", account=account, scope=scope))


def check_hold(ctx: Context, account: str, scope: str) -> None:
    """Raise ACCOUNT_HELD if `account` has an active hold that covers `scope`."""
    if is_held(ctx, account, scope):
        raise ChaincodeError("ACCOUNT_HELD", held_message(account, scope))


def held_message(account: str, scope: str) -> str:
    return f"{account} is under a hold that covers {scope} (fds.holds names it)"


def is_individual(record: dict[str, Any] | None) -> bool:
    return attr(record, "legal_form") == "individual"


def kst_day(time_ms: int) -> int:
    """The KST calendar day (days since 1970-01-01) of a block time."""
    return (time_ms + KST_OFFSET_MS) // DAY_MS


def compute_delay_end(deposits: dict[str, int] | None, params: dict[str, Any]) -> int:
    """The block time from which an individual may withdraw (0: no deposit, no delay)."""
    if deposits is None:
        return 0
    return max(deposits["first"] + params["new_account_hold_ms"],
               deposits["latest"] + params["deposit_hold_ms"])


def compute_outflow_today(outflow: dict[str, int] | None, now: int) -> int:
    if outflow is None or outflow["day"] != kst_day(now):
        return 0
    return int(outflow["krw"])


def _hold_key(hold_id: int) -> str:
    return f"hold/{hold_id:012d}"


def _active_key(account: str) -> str:
    return f"active/{account}"


def _dup_key(account: str, scope: str, alert_id: str) -> str:
    return f"dup/{account}/{scope}/{alert_id}"


def _placed_key(account: str, placed_as: str) -> str:
    return f"placed/{account}/{placed_as}"


def widens(active: dict[str, int], scope: str) -> bool:
    """Whether a hold of `scope` refuses something no hold counted in `active` refuses."""
    return any(covers(scope, asked) and not any(covers(held, asked) for held in active)
               for asked in SCOPES)


def require_alert_id(value: Any) -> str:
    alert_id = require_str("alert_id", value, MAX_ALERT_ID_CHARS)
    if KEY_SEPARATOR in alert_id:
        raise ChaincodeError("BAD_ARGS", f"alert_id may not contain {KEY_SEPARATOR!r}")
    return alert_id


def current_key(ctx: Context, account: str, record: dict[str, Any]
                ) -> tuple[str, dict[str, Any]]:
    """The key that holds what `account` held: its `recovered_to` chain followed, so a hold
    named on a key recovered away lands where the assets went (token.recover)."""
    for _ in range(MAX_RECOVERY_HOPS):
        successor = record.get("recovered_to")
        if successor is None:
            return account, record
        following = ctx.identity(successor)
        assert following is not None, "a recovered key names an unregistered successor"
        account, record = successor, following
    raise ChaincodeError("ACCOUNT_REVOKED", f"{account} was recovered more than "
                         f"{MAX_RECOVERY_HOPS} times over; hold its current key")


def _per_account_keys() -> list[Callable[[str], str]]:
    """The keys of one account that token.recover carries to a new key (besides its holds)."""
    placed = [partial(_placed_key, placed_as=placed_as) for placed_as in PLACER_CLASSES]
    return [_active_key, _deposits_key, _outflow_key, *placed]


def _deposits_key(account: str) -> str:
    return f"deposits/{account}"


def _outflow_key(account: str) -> str:
    return f"outflow/{account}"


def _count_down(ctx: Context, key: str, scope: str) -> None:
    """One active hold of `scope` fewer in the counts at `key` (deleted when none is left)."""
    counts = dict(ctx.state.get(key) or {})
    assert counts.get(scope, 0) > 0, f"hold counts at {key} out of step"
    counts[scope] -= 1
    counts = {name: count for name, count in counts.items() if count}
    if counts:
        ctx.state.put(key, counts)
    else:
        ctx.state.delete(key)


class Fds(Contract):
    name = "fds"

    @transaction
    def hold(self, ctx: Context, account: Any, scope: Any, reason: Any, alert_id: Any = None
             ) -> dict[str, Any]:
        role = require_role(ctx, "broker", "registrar")
        account = require_account("account", account)
        if scope not in SCOPES:
            raise ChaincodeError("BAD_ARGS", f"scope must be one of {SCOPES}")
        reason = require_str("reason", reason, MAX_REASON_CHARS)
        if alert_id is not None:
            alert_id = require_alert_id(alert_id)
        record = ctx.identity(account)
        if record is None:
            raise ChaincodeError("NOT_REGISTERED", f"{account} is not registered")
        account, record = current_key(ctx, account, record)
        if role == "broker" and record.get("broker") != ctx.caller:
            raise ChaincodeError("UNAUTHORIZED", "only the account's own broker or the "
                                 "registrar may hold it")
        if alert_id is not None and ctx.state.get(_dup_key(account, scope, alert_id)):
            raise ChaincodeError("ALREADY_HELD", f"{account} already has an active {scope} "
                                 f"hold for alert {alert_id}")
        placed_as = "registrar" if role == "registrar" else "broker"
        placed = dict(ctx.state.get(_placed_key(account, placed_as)) or {})
        count = sum(placed.values())
        if count >= MAX_CLASS_HOLDS or (count >= MAX_ACTIVE_HOLDS
                                        and not widens(placed, scope)):
            raise ChaincodeError("TOO_MANY_HOLDS", f"{account} already has {count} active "
                                 f"holds by the {placed_as} covering {scope}; release one "
                                 "first")
        hold_id = int(ctx.state.get("next_hold", 0)) + 1
        ctx.state.put("next_hold", hold_id)
        placed[scope] = placed.get(scope, 0) + 1
        ctx.state.put(_placed_key(account, placed_as), placed)
        active = dict(ctx.state.get(_active_key(account)) or {})
        active[scope] = active.get(scope, 0) + 1
        ctx.state.put(_active_key(account), active)
        ctx.state.put(f"acct/{account}/{hold_id:012d}", 1)
        ctx.state.put(f"open/{account}/{hold_id:012d}", scope)
        if alert_id is not None:
            ctx.state.put(_dup_key(account, scope, alert_id), hold_id)
            ctx.state.put(f"alert/{alert_id}/{hold_id:012d}", 1)
        cancelled: list[int] = []
        if covers(scope, "trading"):
            cancelled = ctx.call("market", "cancel_held", account=account,
                                 limit=MAX_CANCEL_ON_HOLD)
        hold = {"hold_id": hold_id, "account": account, "scope": scope, "reason": reason,
                "alert_id": alert_id, "by": ctx.caller, "height": ctx.height,
                "time": ctx.time, "tx_id": ctx.tx_id, "orders_cancelled": len(cancelled),
                "placed_as": placed_as, "status": "active", "released_by": None,
                "released_reason": None, "released_height": None, "released_time": None,
                "released_tx": None}
        ctx.state.put(_hold_key(hold_id), hold)
        ctx.emit("Held", {"hold_id": hold_id, "account": account, "scope": scope,
                          "reason": reason, "alert_id": alert_id, "by": ctx.caller,
                          "orders_cancelled": len(cancelled)})
        return {"hold_id": hold_id, "orders_cancelled": len(cancelled)}

    @transaction
    def release(self, ctx: Context, hold_id: Any, reason: Any) -> dict[str, Any]:
        hold_id = require_int("hold_id", hold_id, 1)
        reason = require_str("reason", reason, MAX_REASON_CHARS)
        hold: dict[str, Any] | None = ctx.state.get(_hold_key(hold_id))
        if hold is None:
            raise ChaincodeError("UNKNOWN_HOLD", f"no hold {hold_id}")
        role = caller_role(ctx)  # active only: a revoked or recovered key writes nothing
        if role not in PLACER_CLASSES or (ctx.caller != hold["by"] and role != "registrar"):
            raise ChaincodeError("UNAUTHORIZED", "only whoever placed a hold, or the "
                                 "registrar, may release it")
        if hold["status"] != "active":
            raise ChaincodeError("NOT_HELD", f"hold {hold_id} was already released")
        account, scope = hold["account"], hold["scope"]
        _count_down(ctx, _active_key(account), scope)
        _count_down(ctx, _placed_key(account, hold["placed_as"]), scope)
        ctx.state.delete(f"open/{account}/{hold_id:012d}")
        if hold["alert_id"] is not None:
            ctx.state.delete(_dup_key(account, scope, hold["alert_id"]))
        hold.update(status="released", released_by=ctx.caller, released_reason=reason,
                    released_height=ctx.height, released_time=ctx.time, released_tx=ctx.tx_id)
        ctx.state.put(_hold_key(hold_id), hold)
        ctx.emit("Released", {"hold_id": hold_id, "account": account, "scope": scope,
                              "reason": reason, "by": ctx.caller})
        return hold

    # ---- queries -----------------------------------------------------------------------------

    @query
    def holds(self, ctx: Context, account: Any, after: Any = 0, limit: Any = 100
              ) -> dict[str, Any]:
        """The account's holds after hold id `after`, oldest first, and the scopes its active
        holds cover now. The account, its broker, the registrar, the regulator."""
        account = require_account("account", account)
        after = require_int("after", after, 0)
        limit = require_int("limit", limit, 1, MAX_PAGE)
        if not may_read_account(ctx, account, ctx.identity(account), "registrar"):
            raise Forbidden("only the account, its broker, the registrar and the regulator "
                            "may read its holds")
        rows: list[dict[str, Any]] = []
        following = None
        prefix = f"acct/{account}/"
        for key, _ in ctx.state.range(prefix, f"{prefix}{after + 1:012d}"):
            if len(rows) == limit:
                following = rows[-1]["hold_id"]
                break
            rows.append(ctx.state.get(_hold_key(int(key[len(prefix):]))))
        active = ctx.state.get(_active_key(account)) or {}
        held = [scope for scope in SCOPES
                if any(covers(hold_scope, scope) for hold_scope in active)]
        return {"account": account, "held": held, "active": dict(sorted(active.items())),
                "holds": rows, "next": following}

    @query
    def get(self, ctx: Context, hold_id: Any) -> dict[str, Any]:
        hold: dict[str, Any] | None = ctx.state.get(_hold_key(require_int("hold_id", hold_id,
                                                                          1)))
        if hold is None:
            raise ChaincodeError("UNKNOWN_HOLD", f"no hold {hold_id}")
        account = hold["account"]
        if not may_read_account(ctx, account, ctx.identity(account), "registrar",
                                extra_accounts=(hold["by"],)):
            raise Forbidden("only the account, its broker, the registrar and the regulator "
                            "may read a hold")
        return hold

    # ---- for other contracts -----------------------------------------------------------------

    @internal
    def held(self, ctx: Context, account: str, scope: str) -> bool:
        """Whether an active hold of the account covers `scope` (is_held)."""
        if not isinstance(account, str) or not account:
            return False
        active = ctx.state.get(_active_key(account))
        return active is not None and any(covers(hold_scope, scope) for hold_scope in active)

    @internal
    def outflow_verdict(self, ctx: Context, account: str, record: dict[str, Any] | None,
                        amount: int) -> list[str] | None:
        """[code, message] if an individual may not send `amount` out now (a burn, or a
        transfer: the money of a deposit must not leave by a hop to another account either):
        WITHDRAWAL_DELAYED then DAILY_LIMIT_EXCEEDED; else None."""
        if not is_individual(record):
            return None
        params = ctx.params["fds"]
        delay_end = compute_delay_end(ctx.state.get(_deposits_key(account)), params)
        if ctx.time < delay_end:
            return ["WITHDRAWAL_DELAYED", f"{account} may send cash out from "
                    f"{time_text(delay_end)} ({duration_text(params['new_account_hold_ms'])} "
                    f"after its first deposit, {duration_text(params['deposit_hold_ms'])} "
                    "after its latest)"]
        limit = params["daily_outflow_krw"]
        today = compute_outflow_today(ctx.state.get(_outflow_key(account)), ctx.time)
        if limit and today + amount > limit:
            return ["DAILY_LIMIT_EXCEEDED", f"{account} has sent {today} KRW out today (KST); "
                    f"{amount} more would exceed the daily limit of {limit} KRW"]
        return None

    @internal
    def record_outflow(self, ctx: Context, account: str, record: dict[str, Any] | None,
                       amount: int) -> None:
        """Count `amount` toward an individual's outflow today (after outflow_verdict)."""
        if not is_individual(record):
            return
        today = compute_outflow_today(ctx.state.get(_outflow_key(account)), ctx.time)
        ctx.state.put(_outflow_key(account), {"day": kst_day(ctx.time),
                                             "krw": min(MAX_KRW, today + amount)})

    @internal
    def record_deposit(self, ctx: Context, account: str) -> None:
        """A mint to `account` at this block time (the withdrawal delay's clock)."""
        deposits = ctx.state.get(_deposits_key(account))
        first = ctx.time if deposits is None else deposits["first"]
        ctx.state.put(_deposits_key(account), {"first": first, "latest": ctx.time})

    @internal
    def recover(self, ctx: Context, old: str, new: str) -> list[int]:
        """token.recover: `old`'s active holds, deposit times and today's outflow move to
        `new` (unregistered until now, so it has none of its own). Released holds stay."""
        moved = []
        for key, scope in list(ctx.state.range(f"open/{old}/")):
            hold_id = int(key.rsplit("/", 1)[1])
            hold = ctx.state.get(_hold_key(hold_id))
            assert hold["status"] == "active" and hold["scope"] == scope, "open holds out of step"
            hold["account"] = new
            ctx.state.put(_hold_key(hold_id), hold)
            for index in ("open", "acct"):
                ctx.state.delete(f"{index}/{old}/{hold_id:012d}")
            ctx.state.put(f"open/{new}/{hold_id:012d}", scope)
            ctx.state.put(f"acct/{new}/{hold_id:012d}", 1)
            if hold["alert_id"] is not None:
                ctx.state.delete(_dup_key(old, hold["scope"], hold["alert_id"]))
                ctx.state.put(_dup_key(new, hold["scope"], hold["alert_id"]), hold_id)
            moved.append(hold_id)
        for key_of in _per_account_keys():
            value = ctx.state.get(key_of(old))
            if value is not None:
                assert ctx.state.get(key_of(new)) is None, f"{new} already has {key_of(new)}"
                ctx.state.delete(key_of(old))
                ctx.state.put(key_of(new), value)
        return moved


__all__ = ["FDS_DEFAULTS", "SCOPES", "Fds", "FdsParamsError", "check_fds_params", "check_hold",
           "covers", "is_held"]
