"""The cash contract: the KRW deposit token, minted and burned by the settlement bank.

Key layout (inside the `cash/` namespace):

    bal/<account>   balance in won (present only while > 0)
    order/<account> won of that balance escrowed for open market buy orders (chaincode.market;
                    present only while > 0); not available to transfer, burn or move
    supply          minted - burned

Methods:
- `mint(to, amount)` — the bank; `to` must be verified (RECIPIENT_NOT_VERIFIED).
- `burn(from, amount)` — the bank (INSUFFICIENT_BALANCE).
- `transfer(to, amount)` — between verified accounts; checks in the token contract's order:
  INSUFFICIENT_BALANCE, SENDER_NOT_VERIFIED, RECIPIENT_NOT_VERIFIED.
- query `balance(account)` — the account, its broker, the bank, the regulator.
- query `supply()` — the bank, the registrar, the regulator.
- internal `move(from, to, amount, memo)` (dividend payments: no verification, the paying
  contract has checked), `balance_of(account)`, `recover(old, new)` (token.recover).
- internal `available_of(account)`, `hold(account, amount)`, `release(account, amount)`: the
  market's escrow of buy orders at their limit price (available = balance - on order).

Errors: UNAUTHORIZED, BAD_ARGS, INSUFFICIENT_BALANCE, SENDER_NOT_VERIFIED,
RECIPIENT_NOT_VERIFIED, SUPPLY_OVERFLOW, FORBIDDEN.
"""

from __future__ import annotations

from typing import Any

from chaincode.compliance import is_verified
from chaincode.identity import caller_role, may_read_account, require_role
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

MAX_AMOUNT = 2**62
MAX_SUPPLY = 2**63 - 1


def _balance(ctx: Context, account: str) -> int:
    return int(ctx.state.get(f"bal/{account}", 0))


def _set_balance(ctx: Context, account: str, value: int) -> None:
    assert value >= 0, "negative cash balance"
    if value == 0:
        ctx.state.delete(f"bal/{account}")
    else:
        ctx.state.put(f"bal/{account}", value)


def _on_order(ctx: Context, account: str) -> int:
    return int(ctx.state.get(f"order/{account}", 0))


def _available(ctx: Context, account: str) -> int:
    return _balance(ctx, account) - _on_order(ctx, account)


def _set_on_order(ctx: Context, account: str, value: int) -> None:
    assert value >= 0, "negative cash on order"
    if value == 0:
        ctx.state.delete(f"order/{account}")
    else:
        ctx.state.put(f"order/{account}", value)


def _move(ctx: Context, sender: str, to: str, amount: int) -> None:
    _set_balance(ctx, sender, _balance(ctx, sender) - amount)
    _set_balance(ctx, to, _balance(ctx, to) + amount)


class Cash(Contract):
    name = "cash"

    @transaction
    def mint(self, ctx: Context, to: Any, amount: Any) -> dict[str, Any]:
        require_role(ctx, "bank")
        to = require_account("to", to)
        amount = require_int("amount", amount, 1, MAX_AMOUNT)
        if not is_verified(ctx.identity(to), ctx.time):
            raise ChaincodeError("RECIPIENT_NOT_VERIFIED", "the recipient is unregistered, "
                                 "revoked or its KYC expired")
        supply = int(ctx.state.get("supply", 0)) + amount
        if supply > MAX_SUPPLY:
            raise ChaincodeError("SUPPLY_OVERFLOW", "the KRW supply would overflow")
        ctx.state.put("supply", supply)
        _set_balance(ctx, to, _balance(ctx, to) + amount)
        ctx.emit("Minted", {"to": to, "amount": amount})
        return {"to": to, "amount": amount, "balance": _balance(ctx, to), "supply": supply}

    @transaction
    def burn(self, ctx: Context, from_: Any, amount: Any) -> dict[str, Any]:
        require_role(ctx, "bank")
        holder = require_account("from", from_)
        amount = require_int("amount", amount, 1, MAX_AMOUNT)
        balance = _balance(ctx, holder)
        if amount > _available(ctx, holder):
            raise ChaincodeError("INSUFFICIENT_BALANCE", f"available {_available(ctx, holder)} "
                                 f"(balance {balance} - on order) < {amount}")
        supply = int(ctx.state.get("supply", 0)) - amount
        ctx.state.put("supply", supply)
        _set_balance(ctx, holder, balance - amount)
        ctx.emit("Burned", {"from": holder, "amount": amount})
        return {"from": holder, "amount": amount, "balance": balance - amount, "supply": supply}

    @transaction
    def transfer(self, ctx: Context, to: Any, amount: Any) -> dict[str, Any]:
        to = require_account("to", to)
        amount = require_int("amount", amount, 1, MAX_AMOUNT)
        if to == ctx.caller:
            raise ChaincodeError("BAD_ARGS", "sender and recipient are the same account")
        sender = ctx.identity(ctx.caller)
        if sender is not None and sender.get("status") == "active" \
                and sender.get("role") == "regulator":
            raise ChaincodeError("UNAUTHORIZED", "the regulator writes nothing")
        balance = _available(ctx, ctx.caller)
        if amount > balance:
            raise ChaincodeError("INSUFFICIENT_BALANCE", f"available {balance} < {amount}")
        if not is_verified(sender, ctx.time):
            raise ChaincodeError("SENDER_NOT_VERIFIED", "the sender is unregistered, revoked "
                                 "or its KYC expired")
        if not is_verified(ctx.identity(to), ctx.time):
            raise ChaincodeError("RECIPIENT_NOT_VERIFIED", "the recipient is unregistered, "
                                 "revoked or its KYC expired")
        _move(ctx, ctx.caller, to, amount)
        ctx.emit("CashTransfer", {"from": ctx.caller, "to": to, "amount": amount, "memo": None})
        return {"from": ctx.caller, "to": to, "amount": amount}

    @query
    def balance(self, ctx: Context, account: Any) -> dict[str, Any]:
        account = require_account("account", account)
        if not may_read_account(ctx, account, ctx.identity(account), "bank"):
            raise Forbidden("only the account, its broker, the bank and the regulator may read "
                            "a cash balance")
        return {"account": account, "balance": _balance(ctx, account),
                "on_order": _on_order(ctx, account), "available": _available(ctx, account)}

    @query
    def supply(self, ctx: Context) -> dict[str, Any]:
        if caller_role(ctx) not in ("bank", "registrar", "regulator"):
            raise Forbidden("only the bank, the registrar and the regulator may read the supply")
        return {"supply": int(ctx.state.get("supply", 0))}

    # ---- for other contracts -----------------------------------------------------------------

    @internal
    def balance_of(self, ctx: Context, account: str) -> int:
        return _balance(ctx, account)

    @internal
    def move(self, ctx: Context, from_: str, to: str, amount: int, memo: str) -> None:
        amount = require_int("amount", amount, 1, MAX_AMOUNT)
        memo = require_str("memo", memo, 256)
        if amount > _available(ctx, from_):
            raise ChaincodeError("INSUFFICIENT_BALANCE", f"{from_} has {_available(ctx, from_)} "
                                 f"KRW available < {amount}")
        _move(ctx, from_, to, amount)
        ctx.emit("CashTransfer", {"from": from_, "to": to, "amount": amount, "memo": memo})

    @internal
    def recover(self, ctx: Context, old: str, new: str) -> int:
        amount = _balance(ctx, old)
        if amount:
            _move(ctx, old, new, amount)
            ctx.emit("CashTransfer", {"from": old, "to": new, "amount": amount,
                                      "memo": "key recovery"})
        on_order = _on_order(ctx, old)
        if on_order:  # the escrow of old's buy orders follows them (market.recover)
            _set_on_order(ctx, old, 0)
            _set_on_order(ctx, new, _on_order(ctx, new) + on_order)
        return amount

    @internal
    def available_of(self, ctx: Context, account: str) -> int:
        return _available(ctx, account)

    @internal
    def hold(self, ctx: Context, account: str, amount: int) -> None:
        """Escrow `amount` won of `account` for a buy order (the market checked available)."""
        assert 0 < amount <= _available(ctx, account), "hold beyond available cash"
        _set_on_order(ctx, account, _on_order(ctx, account) + amount)

    @internal
    def release(self, ctx: Context, account: str, amount: int) -> None:
        """Give back `amount` escrowed won (a buy order filled, cancelled or expired)."""
        _set_on_order(ctx, account, _on_order(ctx, account) - amount)
