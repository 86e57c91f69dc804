"""The cash contract: the KRW deposit token, minted and burned by the settlement bank.

Key layout (inside the `cash/` namespace):

    bal/<account>            balance in won, escrowed won included (present only while > 0)
    escrowed/<account>       won of the balance held in open escrows (present only while > 0)
    escrow/<ref>             one open escrow {"account", "amount"} (present only while > 0)
    escrow_of/<account>/<ref>  1: the account's open escrows (key recovery moves them)
    supply                   minted - burned

Escrow: another contract sets cash aside under its own reference (`dividend/<id>`, an order
id): the won stay in the account's balance but are not available (available = balance -
escrowed) until the escrow pays them out (`escrow_pay`) or gives them back (`escrow_release`).
Invariant: escrowed/<account> = the sum of the account's open escrows <= its balance.

Methods:
- `mint(to, amount)` — the bank; `to` must be verified (RECIPIENT_NOT_VERIFIED). The mint
  starts the withdrawal delay of chaincode.fds (a deposit from a bank account).
- `burn(from, amount)` — the bank; checks in order: ACCOUNT_HELD (a withdrawals or all hold),
  WITHDRAWAL_DELAYED, DAILY_LIMIT_EXCEEDED (the real-time limits of an individual,
  chaincode.fds), INSUFFICIENT_BALANCE (available cash).
- `transfer(to, amount)` — between verified accounts; checks in the token contract's order:
  BAD_ARGS, UNAUTHORIZED (the regulator), INSUFFICIENT_BALANCE (available cash),
  SENDER_NOT_VERIFIED, RECIPIENT_NOT_VERIFIED, AML_BLOCKED (either side `aml_risk: high`),
  ACCOUNT_HELD (a withdrawals or all hold on the sender), WITHDRAWAL_DELAYED (an individual's
  deposit may not leave by a transfer either before its delay), DAILY_LIMIT_EXCEEDED.
  `transfer` and `burn` are the only outflows the daily limit counts: escrows, their payments
  and refunds (market settlement, dividends, allocations) and `move` never count.
- query `balance(account)` -> {balance, escrowed, available} — the account, its broker, the
  bank, the regulator.
- query `supply()` — the bank, the registrar, the regulator.
- internal `move(from, to, amount, memo)` (from available cash; no verification, the calling
  contract has checked), `balance_of(account)` (available cash), `escrow(ref, account,
  amount)` (INSUFFICIENT_CASH), `escrow_pay(ref, to, amount, memo)`, `escrow_release(ref,
  amount)`, `escrow_amount(ref)`, `settle(...)` (a market fill's cash leg, from an escrow or
  from available cash, tax and refund included), `recover(old, new)` (token.recover: balance
  and escrows).

Errors: UNAUTHORIZED, BAD_ARGS, INSUFFICIENT_BALANCE, SENDER_NOT_VERIFIED,
RECIPIENT_NOT_VERIFIED, AML_BLOCKED, ACCOUNT_HELD, WITHDRAWAL_DELAYED, DAILY_LIMIT_EXCEEDED,
INSUFFICIENT_CASH, SUPPLY_OVERFLOW, FORBIDDEN.
"""

from __future__ import annotations

from typing import Any

from chaincode.compliance import is_aml_blocked, is_verified
from chaincode.fds import check_hold
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


def _escrowed(ctx: Context, account: str) -> int:
    return int(ctx.state.get(f"escrowed/{account}", 0))


def _available(ctx: Context, account: str) -> int:
    return _balance(ctx, account) - _escrowed(ctx, account)


def _short_message(ctx: Context, account: str, amount: int) -> str:
    """Why `amount` KRW cannot leave `account`, as a sentence."""
    return (f"only {_available(ctx, account)} KRW is available, less than the {amount} KRW "
            f"asked (balance {_balance(ctx, account)} KRW, {_escrowed(ctx, account)} KRW of "
            "it escrowed)")


def _set_balance(ctx: Context, account: str, value: int) -> None:
    assert value >= _escrowed(ctx, account), "cash balance below its escrows"
    _put_positive(ctx, f"bal/{account}", value)


def _put_positive(ctx: Context, key: str, value: int) -> None:
    assert value >= 0, f"negative {key}"
    if value == 0:
        ctx.state.delete(key)
    else:
        ctx.state.put(key, value)


def _credit(ctx: Context, account: str, amount: int) -> None:
    """A balance that rises still covers its escrows: no escrow read."""
    _put_positive(ctx, f"bal/{account}", _balance(ctx, account) + amount)


def _move(ctx: Context, sender: str, to: str, amount: int) -> None:
    _set_balance(ctx, sender, _balance(ctx, sender) - amount)
    _credit(ctx, to, amount)


def _check_outflow(ctx: Context, account: str, record: dict[str, Any] | None, amount: int
                   ) -> None:
    """The real-time limits of chaincode.fds (an individual's withdrawal delay and daily
    outflow); raises the first that refuses."""
    verdict = ctx.call("fds", "outflow_verdict", account=account, record=record,
                       amount=amount)
    if verdict is not None:
        raise ChaincodeError(*verdict)


def _require_ref(ref: Any) -> str:
    return require_str("ref", ref, 128)


def _open_escrow(ctx: Context, ref: str) -> dict[str, Any]:
    escrow: dict[str, Any] | None = ctx.state.get(f"escrow/{ref}")
    assert escrow is not None, f"no open escrow {ref}"
    return escrow


def _take_from_escrow(ctx: Context, ref: str, amount: int) -> str:
    """Reduce escrow `ref` by `amount` (the won become available again); its account."""
    escrow = _open_escrow(ctx, ref)
    account: str = escrow["account"]
    assert 0 < amount <= escrow["amount"], "more than the escrow holds"
    escrow["amount"] -= amount
    if escrow["amount"] == 0:
        ctx.state.delete(f"escrow/{ref}")
        ctx.state.delete(f"escrow_of/{account}/{ref}")
    else:
        ctx.state.put(f"escrow/{ref}", escrow)
    _put_positive(ctx, f"escrowed/{account}", _escrowed(ctx, account) - amount)
    return account


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
        _credit(ctx, to, amount)
        ctx.call("fds", "record_deposit", account=to)
        ctx.emit("Minted", {"to": to, "amount": amount})
        return {"to": to, "amount": amount, "balance": _balance(ctx, to), "supply": supply}

    @transaction
    def burn(self, ctx: Context, from_: Any, amount: Any) -> dict[str, Any]:
        require_role(ctx, "bank")
        holder = require_account("from", from_)
        amount = require_int("amount", amount, 1, MAX_AMOUNT)
        check_hold(ctx, holder, "withdrawals")
        record = ctx.identity(holder)
        _check_outflow(ctx, holder, record, amount)
        balance = _balance(ctx, holder)
        if amount > _available(ctx, holder):
            raise ChaincodeError("INSUFFICIENT_BALANCE", _short_message(ctx, holder, amount))
        supply = int(ctx.state.get("supply", 0)) - amount
        ctx.state.put("supply", supply)
        _set_balance(ctx, holder, balance - amount)
        ctx.call("fds", "record_outflow", account=holder, record=record, amount=amount)
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
        available = _available(ctx, ctx.caller)
        if amount > available:
            raise ChaincodeError("INSUFFICIENT_BALANCE", _short_message(ctx, ctx.caller,
                                                                        amount))
        if not is_verified(sender, ctx.time):
            raise ChaincodeError("SENDER_NOT_VERIFIED", "the sender is unregistered, revoked "
                                 "or its KYC expired")
        recipient = ctx.identity(to)
        if not is_verified(recipient, ctx.time):
            raise ChaincodeError("RECIPIENT_NOT_VERIFIED", "the recipient is unregistered, "
                                 "revoked or its KYC expired")
        if is_aml_blocked(sender) or is_aml_blocked(recipient):
            raise ChaincodeError("AML_BLOCKED", "an AML high-risk account is party to the "
                                 "transfer")
        check_hold(ctx, ctx.caller, "withdrawals")
        _check_outflow(ctx, ctx.caller, sender, amount)
        _move(ctx, ctx.caller, to, amount)
        ctx.call("fds", "record_outflow", account=ctx.caller, record=sender, amount=amount)
        ctx.emit("CashTransfer", {"from": ctx.caller, "to": to, "amount": amount, "memo": None})
        return {"from": ctx.caller, "to": to, "amount": amount}

    @query
    def balance(self, ctx: Context, account: Any) -> dict[str, Any]:
        account = require_account("account", account)
        if not may_read_account(ctx, account, ctx.identity(account), "bank"):
            raise Forbidden("only the account, its broker, the bank and the regulator may read "
                            "a cash balance")
        return {"account": account, "balance": _balance(ctx, account),
                "escrowed": _escrowed(ctx, account), "available": _available(ctx, account)}

    @query
    def supply(self, ctx: Context) -> dict[str, Any]:
        if caller_role(ctx) not in ("bank", "registrar", "regulator"):
            raise Forbidden("only the bank, the registrar and the regulator may read the supply")
        return {"supply": int(ctx.state.get("supply", 0))}

    # ---- for other contracts -----------------------------------------------------------------

    @internal
    def balance_of(self, ctx: Context, account: str) -> int:
        """Available cash (balance less escrows)."""
        return _available(ctx, account)

    @internal
    def move(self, ctx: Context, from_: str, to: str, amount: int, memo: str) -> None:
        amount = require_int("amount", amount, 1, MAX_AMOUNT)
        memo = require_str("memo", memo, 256)
        if amount > _available(ctx, from_):
            raise ChaincodeError("INSUFFICIENT_BALANCE", _short_message(ctx, from_, amount))
        _move(ctx, from_, to, amount)
        ctx.emit("CashTransfer", {"from": from_, "to": to, "amount": amount, "memo": memo})

    @internal
    def escrow(self, ctx: Context, ref: str, account: str, amount: int) -> dict[str, Any]:
        """Set `amount` of `account`'s available cash aside under `ref` (a new reference)."""
        ref = _require_ref(ref)
        amount = require_int("amount", amount, 1, MAX_AMOUNT)
        assert ctx.state.get(f"escrow/{ref}") is None, f"escrow {ref} is already open"
        available = _available(ctx, account)
        if amount > available:
            raise ChaincodeError("INSUFFICIENT_CASH", _short_message(ctx, account, amount))
        ctx.state.put(f"escrow/{ref}", {"account": account, "amount": amount})
        ctx.state.put(f"escrow_of/{account}/{ref}", 1)
        ctx.state.put(f"escrowed/{account}", _escrowed(ctx, account) + amount)
        ctx.emit("CashEscrowed", {"ref": ref, "account": account, "amount": amount})
        return {"ref": ref, "account": account, "amount": amount}

    @internal
    def escrow_pay(self, ctx: Context, ref: str, to: str, amount: int, memo: str) -> None:
        """Pay `amount` out of escrow `ref` to `to` (no verification: the caller checked)."""
        amount = require_int("amount", amount, 1, MAX_AMOUNT)
        memo = require_str("memo", memo, 256)
        account = _take_from_escrow(ctx, _require_ref(ref), amount)
        _move(ctx, account, to, amount)
        ctx.emit("CashTransfer", {"from": account, "to": to, "amount": amount, "memo": memo})

    @internal
    def escrow_release(self, ctx: Context, ref: str, amount: int) -> None:
        """Give `amount` of escrow `ref` back to its account's available cash."""
        amount = require_int("amount", amount, 1, MAX_AMOUNT)
        account = _take_from_escrow(ctx, _require_ref(ref), amount)
        ctx.emit("CashReleased", {"ref": ref, "account": account, "amount": amount})

    @internal
    def settle(self, ctx: Context, buyer: str, seller: str, amount: int, tax: int,
               tax_account: str | None, memo: str, ref: str | None = None,
               refund: int = 0) -> None:
        """The cash leg of a market fill (chaincode.market; no verification, the token leg
        checked both parties): `amount - tax` to the seller and `tax` to `tax_account`, paid
        out of escrow `ref` (a resting buy order's) or, with no `ref`, out of the buyer's
        available cash (an incoming order, checked for the whole of it when it was placed);
        then `refund` of the escrow goes back to the buyer (a fill below the order's limit)."""
        assert 0 <= tax <= amount and (tax == 0 or tax_account is not None), "bad tax"
        if ref is None:
            assert refund == 0, "a refund comes out of an escrow"
        else:
            assert _take_from_escrow(ctx, ref, amount) == buyer, "escrow of another account"
        # the whole amount leaves the buyer at once; `_set_balance` asserts that what is left
        # still covers its escrows (with no `ref`: that `amount` was available)
        _set_balance(ctx, buyer, _balance(ctx, buyer) - amount)
        for to, paid, note in ((seller, amount - tax, memo),
                               (tax_account, tax, f"{memo} securities transaction tax")):
            if paid:
                assert to is not None
                _credit(ctx, to, paid)
                ctx.emit("CashTransfer", {"from": buyer, "to": to, "amount": paid,
                                          "memo": note})
        if refund:
            assert ref is not None
            _take_from_escrow(ctx, ref, refund)
            ctx.emit("CashReleased", {"ref": ref, "account": buyer, "amount": refund})

    @internal
    def escrow_amount(self, ctx: Context, ref: str) -> int:
        escrow = ctx.state.get(f"escrow/{ref}")
        return 0 if escrow is None else int(escrow["amount"])

    @internal
    def recover(self, ctx: Context, old: str, new: str) -> int:
        """Every won of `old`, and its open escrows, to `new`."""
        escrowed = _escrowed(ctx, old)
        for key, _ in list(ctx.state.range(f"escrow_of/{old}/")):
            ref = key[len(f"escrow_of/{old}/"):]
            ctx.state.put(f"escrow/{ref}", dict(_open_escrow(ctx, ref), account=new))
            ctx.state.delete(key)
            ctx.state.put(f"escrow_of/{new}/{ref}", 1)
        if escrowed:
            ctx.state.delete(f"escrowed/{old}")
            ctx.state.put(f"escrowed/{new}", _escrowed(ctx, new) + escrowed)
        amount = _balance(ctx, old)
        if amount:
            ctx.state.delete(f"bal/{old}")
            _set_balance(ctx, new, _balance(ctx, new) + amount)  # covers the moved escrows
            ctx.emit("CashTransfer", {"from": old, "to": new, "amount": amount,
                                      "memo": "key recovery"})
        return amount
