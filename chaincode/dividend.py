"""The dividend contract: record-date snapshot, exact pro-rata shares, withholding, paged pay.

`declare(symbol, total)` snapshots the token's holders as of the declaring block (the record
date; the issuer and zero balances are not entitled), computes every holder's gross share with
the largest-remainder rule and its withholding by the holder class at the record date, and
stores one entitlement per holder. `pay(dividend_id, max_holders)` pays the next `max_holders`
entitlements in snapshot order (account order) from the issuer's cash: net to the holder
(to its successor when its key was recovered since), income + local tax to the `tax` account.

Arithmetic (integers only, PROTOCOL.md):
    gross_i      = floor(total * balance_i / entitled), then the `total - sum(gross)` remaining
                   won go one each to the largest remainders `total * balance_i mod entitled`
                   (ties: lower account id), so sum(gross) == total
    income_tax_i = floor(gross_i * it_bps / 10000)   it_bps = params.withholding_bps[class]
    local_tax_i  = floor(income_tax_i / 10)
    net_i        = gross_i - income_tax_i - local_tax_i

Cash: `declare` requires the issuer's cash to cover the whole total (INSUFFICIENT_CASH), and
every `pay` page checks again that it covers the page's gross before moving anything, so a page
is paid whole or not at all.

Key layout (inside the `dividend/` namespace; ids are 12-digit, indexes 9-digit, zero-padded):

    next_id                          the last dividend id issued
    div/<id>                         the declaration, with running payment totals
    sym/<symbol>/<id>                the token's dividends, in declaration order
    ent/<id>/<index>                 one entitlement: account, balance, class, it_bps, gross,
                                     income_tax, local_tax, net, paid, paid_to, paid_height
    acc/<id>/<account>               account -> index

Errors: UNAUTHORIZED, BAD_ARGS, UNKNOWN_TOKEN, NO_ENTITLED_HOLDERS, INSUFFICIENT_CASH,
UNKNOWN_DIVIDEND, ALREADY_PAID, NO_TAX_ACCOUNT, NOT_ENTITLED, FORBIDDEN.
"""

from __future__ import annotations

from typing import Any

from chaincode.compliance import holder_class
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
    query,
    require_account,
    require_int,
    transaction,
)
from chaincode.token import MAX_AMOUNT, require_symbol

MAX_PAY_PAGE = 1000  # entitlements paid by one transaction
MAX_RECOVERY_HOPS = 16  # successors followed when a holder's key was recovered


def compute_gross_shares(total: int, holdings: list[tuple[str, int]]) -> list[int]:
    """Largest-remainder split of `total` won by balance; sums to `total` exactly."""
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


def _id_key(dividend_id: int) -> str:
    return f"{dividend_id:012d}"


class Dividend(Contract):
    name = "dividend"

    @transaction
    def declare(self, ctx: Context, symbol: Any, total: Any) -> dict[str, Any]:
        require_role(ctx, "issuer")
        symbol = require_symbol(symbol)
        total = require_int("total", total, 1, MAX_AMOUNT)
        token = self._token(ctx, symbol)
        if token["issuer"] != ctx.caller:
            raise ChaincodeError("UNAUTHORIZED", f"only the issuer of {symbol} may declare")
        holdings = [(account, balance)
                    for account, balance in ctx.call("token", "snapshot", symbol=symbol)]
        if not holdings:
            raise ChaincodeError("NO_ENTITLED_HOLDERS", f"{symbol} has no entitled holders")
        cash = ctx.call("cash", "balance_of", account=ctx.caller)
        if cash < total:
            raise ChaincodeError("INSUFFICIENT_CASH", f"the issuer has {cash} KRW < {total}")
        dividend_id = int(ctx.state.get("next_id", 0)) + 1
        ctx.state.put("next_id", dividend_id)
        key = _id_key(dividend_id)
        rates = ctx.params["withholding_bps"]
        totals = {"gross": 0, "income_tax": 0, "local_tax": 0, "net": 0}
        shares = compute_gross_shares(total, holdings)
        for index, ((account, balance), gross) in enumerate(zip(holdings, shares, strict=True)):
            klass = holder_class(ctx.identity(account))
            it_bps = int(rates[klass])
            income_tax, local_tax, net = compute_withholding(gross, it_bps)
            ctx.state.put(f"ent/{key}/{index:09d}", {
                "index": index, "account": account, "balance": balance, "class": klass,
                "it_bps": it_bps, "gross": gross, "income_tax": income_tax,
                "local_tax": local_tax, "net": net, "paid": False, "paid_to": None,
                "paid_height": None})
            ctx.state.put(f"acc/{key}/{account}", index)
            for name, value in (("gross", gross), ("income_tax", income_tax),
                                ("local_tax", local_tax), ("net", net)):
                totals[name] += value
        assert totals["gross"] == total
        declaration = {
            "dividend_id": dividend_id, "symbol": symbol, "issuer": ctx.caller, "total": total,
            "entitled": sum(balance for _, balance in holdings), "holders": len(holdings),
            "record_height": ctx.height, "record_time": ctx.time, "declared_tx": ctx.tx_id,
            "income_tax": totals["income_tax"], "local_tax": totals["local_tax"],
            "net": totals["net"], "paid_count": 0, "paid_gross": 0, "paid_income_tax": 0,
            "paid_local_tax": 0, "paid_net": 0, "done": False}
        ctx.state.put(f"div/{key}", declaration)
        ctx.state.put(f"sym/{symbol}/{key}", dividend_id)
        ctx.emit("DividendDeclared", {
            "dividend_id": dividend_id, "symbol": symbol, "total": total,
            "entitled": declaration["entitled"], "holders": len(holdings),
            "record_height": ctx.height})
        return declaration

    @transaction
    def pay(self, ctx: Context, dividend_id: Any, max_holders: Any) -> dict[str, Any]:
        require_role(ctx, "issuer")
        dividend_id = require_int("dividend_id", dividend_id, 1)
        page = require_int("max_holders", max_holders, 1, MAX_PAY_PAGE)
        declaration = self._declaration(ctx, dividend_id)
        token = self._token(ctx, declaration["symbol"])
        if token["issuer"] != ctx.caller:
            raise ChaincodeError("UNAUTHORIZED", "only the token's issuer may pay")
        if declaration["done"]:
            raise ChaincodeError("ALREADY_PAID", f"dividend {dividend_id} is fully paid")
        key = _id_key(dividend_id)
        start = declaration["paid_count"]
        stop = min(declaration["holders"], start + page)
        entries = [ctx.state.get(f"ent/{key}/{index:09d}") for index in range(start, stop)]
        page_gross = sum(entry["gross"] for entry in entries)
        withheld = sum(entry["income_tax"] + entry["local_tax"] for entry in entries)
        cash = ctx.call("cash", "balance_of", account=ctx.caller)
        if cash < page_gross:
            raise ChaincodeError("INSUFFICIENT_CASH", f"the issuer has {cash} KRW < "
                                 f"{page_gross} for this page")
        tax_account = ctx.call("identity", "tax_account")
        if withheld and tax_account is None:
            raise ChaincodeError("NO_TAX_ACCOUNT", "no tax account is registered")
        memo = f"dividend {dividend_id}"
        for entry in entries:
            payee = self._payee(ctx, entry["account"])
            if entry["net"]:
                ctx.call("cash", "move", from_=ctx.caller, to=payee, amount=entry["net"],
                         memo=memo)
            entry.update(paid=True, paid_to=payee, paid_height=ctx.height)
            ctx.state.put(f"ent/{key}/{entry['index']:09d}", entry)
            ctx.emit("DividendPaid", {
                "dividend_id": dividend_id, "symbol": declaration["symbol"],
                "account": entry["account"], "paid_to": payee, "gross": entry["gross"],
                "income_tax": entry["income_tax"], "local_tax": entry["local_tax"],
                "net": entry["net"]})
            declaration["paid_gross"] += entry["gross"]
            declaration["paid_income_tax"] += entry["income_tax"]
            declaration["paid_local_tax"] += entry["local_tax"]
            declaration["paid_net"] += entry["net"]
        if withheld:
            ctx.call("cash", "move", from_=ctx.caller, to=tax_account, amount=withheld,
                     memo=f"{memo} withholding")
        declaration["paid_count"] = stop
        declaration["done"] = stop == declaration["holders"]
        ctx.state.put(f"div/{key}", declaration)
        return {"dividend_id": dividend_id, "paid": stop - start, "paid_count": stop,
                "holders": declaration["holders"], "gross": page_gross, "withheld": withheld,
                "done": declaration["done"]}

    def _payee(self, ctx: Context, account: str) -> str:
        """The holder, or the account that took over its key (token.recover)."""
        for _ in range(MAX_RECOVERY_HOPS):
            record = ctx.identity(account)
            successor = None if record is None else record.get("recovered_to")
            if successor is None:
                return account
            account = successor
        return account

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
        """A declaration with its payment progress: anyone registered (a public notice)."""
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
        index = ctx.state.get(f"acc/{key}/{account}")
        if index is None:
            raise ChaincodeError("NOT_ENTITLED", f"{account} is not entitled to dividend "
                                 f"{dividend_id}")
        return ctx.state.get(f"ent/{key}/{index:09d}")  # type: ignore[no-any-return]

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
        stop = min(declaration["holders"], start + limit)
        rows = [ctx.state.get(f"ent/{key}/{index:09d}") for index in range(start, stop)]
        return {"dividend_id": dividend_id, "entitlements": rows,
                "next": stop if stop < declaration["holders"] else None}

