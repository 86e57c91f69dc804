"""The offering contract: public subscription (공모 청약) through the brokers, equal and pro-rata
allocation with refunds, and the redemption of every unit at the end of a token's life.

Theory of operation. The issuer `open`s an offering of `qty` new units at `price` once its
token has a prospectus and a cap: the units are reserved against the cap at once (the token's
`reserved`, counted by every issuance's CAP_EXCEEDED) until allocation or cancellation. In the
window `start_time <= block time < end_time`, brokers `subscribe` their clients: the whole
price is escrowed from the client's cash (청약증거금 100%, the cash escrow
`offering/<id>/<account>`), one live subscription per account, which its broker may
`withdraw` inside the window. After the close the issuer calls `allocate` until `done`; each
call spends at most `max_steps` steps, in phases, each a pass over an index (the passes and
their arithmetic are chaincode.allocation's):

    eligibility  each subscription in draw order: the recipient-side checks again (the
                 investment limit counted on what it asked); a failing one is dropped, its
                 escrow refunded in full, its code recorded. Undersubscribed -> issuing.
    threshold    each distinct ask of the eligible (the `ask/` histogram, ascending): the equal
                 stage's threshold (chaincode.allocation)
    shares       each eligible subscription in draw order: its equal and pro-rata floor shares,
                 and its pro-rata remainder into the remainder index
    remainders   each leftover unit: +1 to the next subscription in remainder order
    issuing      each eligible subscription in draw order: its share issued under the
                 issuance checks (token.issue_offered, out of the offering's reservation;
                 a refusal drops it with a full refund and its code), `share x price` of its
                 escrow paid to the issuer, the rest refunded
    allocated    what was not issued goes back to the cap

so a call never reads more than `max_steps` subscriptions, asks or remainders, however many
there are; 100,000 subscribers take a few hundred calls. `cancel` (before the first
`allocate`) returns the reservation at once and refunds the subscriptions in the same bounded
steps, repeated until `done`. Redemption (`redeem_all`, `settle`, `release`) lives in
chaincode.redemption; this class only routes to it.

Draw order is ascending `sha256(offering_id as 8 bytes big-endian || account key)`: the
`draw/` index, which holds the subscriptions not yet settled (withdrawing or settling one
deletes its entry, so every pass that settles starts from the first key).

Key layout (inside `offering/`; ids are 12 digits, zero-padded):

    next_offering                         the last offering id issued
    off/<id>                              the offering (below)
    sym/<symbol>/<id>                     the token's offerings, oldest first   -> id
    live/<symbol>                         the token's offering not yet allocated or cancelled
    sub/<id>/<account>                    a subscription (below)
    draw/<id>/<draw>                      account: subscriptions still to settle, draw order
    ask/<id>/<asked:019d>                 how many eligible subscribers asked that many units
    rem/<id>/<remainder_key>              account: the pro-rata remainder order
    (redemptions: chaincode.redemption)

An offering: the terms (`symbol`, `issuer` who opened it, `price`, `qty`, `start_time`,
`end_time`, `min_qty`, `max_qty`, `equal_bps`), `phase` (subscribing | eligibility | threshold |
shares | remainders | issuing | allocated | cancelled), `subscribed_qty` and `subscribers`
(live subscriptions), `allocated_qty`, `settled` (subscriptions allocated or dropped),
`refunded` (won refunded at allocation or cancellation), `withdrawn` (won returned by
withdrawals), `cursor` (the last key a pass visited), `work` (the allocation's running
figures), `cancel_reason`, `opened_height`, `opened_time`. A subscription: `account`, `broker`,
`qty`, `escrowed`, `equal`, `pro_rata` (None unless rationed), `allocated`, `refunded`, `code`,
`status` (live | withdrawn | allocated | dropped), `draw`, `subscribed_height`,
`settled_height`, `withdrawn_before` (won returned by this account's earlier subscriptions to
the offering, each withdrawn before this one: the record keeps only the latest).

The book reconciles with the cash (docs/redteam-offering.md R2): per row, `qty x price =
escrowed + allocated x price + refunded`, and the account escrowed `qty x price +
withdrawn_before` in all; per offering, every won escrowed under its references is
`allocated_qty x price` (paid to the issuer) `+ refunded + withdrawn +` the rows' `escrowed`.

Events (PROTOCOL's names; every one carries `symbol`, so the audit and surveillance indexes file
it under the token; `offering_id` or `redemption_id` names the offering or redemption):

    OfferingOpened         offering_id, symbol, price, qty, start_time, end_time, min_qty,
                           max_qty, equal_bps
    Subscribed             offering_id, symbol, account, broker, qty, escrowed
    SubscriptionWithdrawn  offering_id, symbol, account, qty, refund
    Allocated              offering_id, symbol, account, qty (units allocated), refund (won),
                           code (null, why it was dropped, or CANCELLED)
    OfferingAllocated      offering_id, symbol, qty, allocated_qty, subscribers (settled),
                           refunded, returned_to_cap
    OfferingCancelled      offering_id, symbol, reason, by
    RedemptionDeclared     redemption_id, symbol, price, record_time, units, escrowed
    Redeemed               redemption_id, symbol, account, units, gross, withheld, net, status
                           (paid | held | released | burned: see chaincode.redemption)

Decisions where PROTOCOL.md is silent:
- Malformed ids and accounts are BAD_ARGS before every other check; `qty` is checked where
  PROTOCOL puts BAD_ARGS. The window may be at most 31 days long (`end_time - start_time`).
- `open` also refuses TOKEN_REDEEMED (after OFFERING_OPEN) once the token is being redeemed.
- A subscription's share is issued in draw order, so when `max_holders` runs out the
  subscribers later in draw order are the ones dropped; a share of 0 (oversubscribed past
  the pool) is `allocated` with 0 units and a full refund.
- `cancel` takes an optional `max_steps` (default and most 1,000): the first call cancels (the
  reservation returns, OfferingCancelled) and each call refunds up to `max_steps`
  subscriptions (`Allocated` with code CANCELLED); repeat until `done`, then
  ALREADY_CANCELLED. `allocate` on a cancelled offering is ALREADY_CANCELLED.
- A subscriber whose key is recovered during the offering is dropped at allocation
  (RECIPIENT_NOT_VERIFIED: the old key is revoked); its escrow moved with the key, so the
  refund reaches the new key.

Errors: UNAUTHORIZED, BAD_ARGS, UNKNOWN_TOKEN, NO_PROSPECTUS, NOT_APPROVED, CAP_EXCEEDED,
OFFERING_OPEN, TOKEN_REDEEMED, UNKNOWN_OFFERING, NOT_YOUR_CLIENT, SUBSCRIPTION_CLOSED,
ALREADY_SUBSCRIBED, the subscriber checks (RECIPIENT_NOT_VERIFIED, AML_BLOCKED, ACCOUNT_HELD,
INVESTOR_TYPE_NOT_ALLOWED, COUNTRY_NOT_ALLOWED, INVESTMENT_LIMIT_EXCEEDED), INSUFFICIENT_CASH,
NOT_SUBSCRIBED, SUBSCRIPTION_OPEN, ALREADY_ALLOCATED, ALREADY_ALLOCATING, ALREADY_CANCELLED,
FORBIDDEN; redemption's in chaincode.redemption.
"""

from __future__ import annotations

from typing import Any, ClassVar

from chaincode import allocation, redemption
from chaincode.allocation import (
    ALLOCATED,
    CANCELLED,
    SUBSCRIBING,
    draw_prefix,
    escrow_ref,
    id_key,
    read_after,
    subscription_key,
)
from chaincode.compliance import DAY_MS
from chaincode.identity import (
    active_role,
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
    require_str,
    time_text,
    transaction,
)
from chaincode.token import MAX_AMOUNT, require_symbol

MAX_STEPS = 1_000  # steps of one allocate or cancel call (as dividend.pay)
MAX_WINDOW_MS = 31 * DAY_MS  # the longest subscription window
MAX_TIME_MS = 10**16 - 1  # block-time ms fit 16 digits until the year 318857
MAX_PAGE = 1_000  # rows per subscriptions / offerings answer
PROSPECTUS = "prospectus"


# ---- keys and records ------------------------------------------------------------------------

def offering_key(offering_id: int) -> str:
    return f"off/{id_key(offering_id)}"


def compute_status(offering: dict[str, Any], now: int) -> str:
    """scheduled | open | closed | allocating | allocated | cancelled, at block time `now`."""
    phase = offering["phase"]
    if phase != SUBSCRIBING:
        return phase if phase in (ALLOCATED, CANCELLED) else "allocating"
    if now < offering["start_time"]:
        return "scheduled"
    return "open" if now < offering["end_time"] else "closed"


PUBLIC_FIELDS = ("offering_id", "symbol", "price", "qty", "start_time", "end_time", "min_qty",
                 "max_qty", "equal_bps", "subscribed_qty", "subscribers", "allocated_qty")


def public_view(offering: dict[str, Any], now: int) -> dict[str, Any]:
    """What `get` answers: PROTOCOL's fields, and `issuer`, `settled`, `refunded`,
    `withdrawn` and `cancel_reason` besides."""
    view = {name: offering[name] for name in PUBLIC_FIELDS}
    view.update(status=compute_status(offering, now), issuer=offering["issuer"],
                settled=offering["settled"], refunded=offering["refunded"],
                withdrawn=offering["withdrawn"], cancel_reason=offering["cancel_reason"])
    return view


class Offering(Contract):
    name = "offering"
    # hashed with it in genesis: allocation's arithmetic and passes, the redemptions
    parts: ClassVar[tuple[str, ...]] = ("chaincode.allocation", "chaincode.redemption")

    # ---- open --------------------------------------------------------------------------------

    @transaction
    def open(self, ctx: Context, symbol: Any, price: Any, qty: Any, start_time: Any,
             end_time: Any, min_qty: Any, max_qty: Any, equal_bps: Any) -> dict[str, Any]:
        terms = self._check_terms(ctx, symbol, price, qty, start_time, end_time, min_qty,
                                  max_qty, equal_bps)
        token = self._token(ctx, terms["symbol"])
        if active_role(ctx.identity(ctx.caller)) != "issuer" or token["issuer"] != ctx.caller:
            raise ChaincodeError("UNAUTHORIZED", f"only the issuer of {token['symbol']} may "
                                 "offer its units")
        symbol = token["symbol"]
        if not ctx.call("token", "has_document", symbol=symbol, name=PROSPECTUS):
            raise ChaincodeError("NO_PROSPECTUS", f"{symbol} has no document named "
                                 f"{PROSPECTUS!r} (증권신고서)")
        if token["cap"] is None:
            raise ChaincodeError("NOT_APPROVED", f"the registrar has not approved a cap for "
                                 f"{symbol}")
        if token["issued"] + token["reserved"] + terms["qty"] > token["cap"]:
            raise ChaincodeError("CAP_EXCEEDED", f"offering {terms['qty']} units would pass the "
                                 f"cap of {token['cap']} ({token['issued']} already issued, "
                                 f"{token['reserved']} reserved by open offerings)")
        if ctx.state.get(f"live/{symbol}") is not None:
            raise ChaincodeError("OFFERING_OPEN", f"{symbol} has offering "
                                 f"{ctx.state.get(f'live/{symbol}')} not yet allocated or "
                                 "cancelled")
        if token["redemption"] is not None:
            raise ChaincodeError("TOKEN_REDEEMED", f"{symbol} is being redeemed")
        offering_id = int(ctx.state.get("next_offering", 0)) + 1
        ctx.state.put("next_offering", offering_id)
        ctx.call("token", "reserve", symbol=symbol, units=terms["qty"])
        offering = dict(terms, offering_id=offering_id, issuer=ctx.caller, phase=SUBSCRIBING,
                        subscribed_qty=0, subscribers=0, allocated_qty=0, settled=0,
                        refunded=0, withdrawn=0, cursor="", work={}, cancel_reason=None,
                        opened_height=ctx.height, opened_time=ctx.time)
        ctx.state.put(offering_key(offering_id), offering)
        ctx.state.put(f"sym/{symbol}/{id_key(offering_id)}", offering_id)
        ctx.state.put(f"live/{symbol}", offering_id)
        ctx.emit("OfferingOpened", {name: offering[name] for name in (
            "offering_id", "symbol", "price", "qty", "start_time", "end_time", "min_qty",
            "max_qty", "equal_bps")})
        return {"offering_id": offering_id}

    def _check_terms(self, ctx: Context, symbol: Any, price: Any, qty: Any, start_time: Any,
                     end_time: Any, min_qty: Any, max_qty: Any, equal_bps: Any
                     ) -> dict[str, Any]:
        symbol = require_symbol(symbol)
        price = require_int("price", price, 1, MAX_AMOUNT)
        qty = require_int("qty", qty, 1, MAX_AMOUNT)
        if price * qty > MAX_AMOUNT:
            raise ChaincodeError("BAD_ARGS", f"the offering's value (price times qty) may be at "
                                 f"most {MAX_AMOUNT} KRW")
        start_time = require_int("start_time", start_time, 1, MAX_TIME_MS)
        end_time = require_int("end_time", end_time, 1, MAX_TIME_MS)
        if not start_time < end_time or end_time <= ctx.time:
            raise ChaincodeError("BAD_ARGS", "the window must start before it ends, and end "
                                 f"after this block's time ({time_text(ctx.time)})")
        if end_time - start_time > MAX_WINDOW_MS:
            raise ChaincodeError("BAD_ARGS", "the window may last at most "
                                 f"{duration_text(MAX_WINDOW_MS)}")
        min_qty = require_int("min_qty", min_qty, 1, qty)
        max_qty = require_int("max_qty", max_qty, min_qty, qty)
        equal_bps = require_int("equal_bps", equal_bps, 0, allocation.BPS)
        return {"symbol": symbol, "price": price, "qty": qty, "start_time": start_time,
                "end_time": end_time, "min_qty": min_qty, "max_qty": max_qty,
                "equal_bps": equal_bps}

    # ---- subscribe and withdraw --------------------------------------------------------------

    @transaction
    def subscribe(self, ctx: Context, offering_id: Any, account: Any, qty: Any
                  ) -> dict[str, Any]:
        offering, account = self._client_call(ctx, offering_id, account)
        qty = require_int("qty", qty, offering["min_qty"], offering["max_qty"])
        key = subscription_key(offering["offering_id"], account)
        previous = ctx.state.get(key)
        if previous is not None and previous["status"] == "live":
            raise ChaincodeError("ALREADY_SUBSCRIBED", f"{account} already subscribed "
                                 f"{previous['qty']} units of offering "
                                 f"{offering['offering_id']}")
        verdict = ctx.call("token", "subscriber_verdict", symbol=offering["symbol"],
                           account=account, qty=qty, price=offering["price"])
        if verdict is not None:
            raise ChaincodeError(*verdict)
        escrowed = qty * offering["price"]
        ctx.call("cash", "escrow", ref=escrow_ref(offering["offering_id"], account),
                 account=account, amount=escrowed)  # INSUFFICIENT_CASH
        draw = allocation.draw_key(offering["offering_id"], account)
        withdrawn_before = 0 if previous is None else (  # its earlier, withdrawn ones
            previous["withdrawn_before"] + previous["refunded"])
        ctx.state.put(key, {
            "account": account, "broker": ctx.caller, "qty": qty, "escrowed": escrowed,
            "equal": None, "pro_rata": None, "allocated": 0, "refunded": 0, "code": None,
            "status": "live", "draw": draw, "subscribed_height": ctx.height,
            "settled_height": None, "withdrawn_before": withdrawn_before})
        ctx.state.put(draw_prefix(offering["offering_id"]) + draw, account)
        offering["subscribed_qty"] += qty
        offering["subscribers"] += 1
        self._store(ctx, offering)
        ctx.emit("Subscribed", {"offering_id": offering["offering_id"],
                                "symbol": offering["symbol"], "account": account,
                                "broker": ctx.caller, "qty": qty, "escrowed": escrowed})
        return {"offering_id": offering["offering_id"], "account": account, "qty": qty,
                "escrowed": escrowed}

    @transaction
    def withdraw(self, ctx: Context, offering_id: Any, account: Any) -> dict[str, Any]:
        offering, account = self._client_call(ctx, offering_id, account)
        key = subscription_key(offering["offering_id"], account)
        subscription = ctx.state.get(key)
        if subscription is None or subscription["status"] != "live":
            raise ChaincodeError("NOT_SUBSCRIBED", f"{account} has no live subscription to "
                                 f"offering {offering['offering_id']}")
        refund = subscription["escrowed"]
        ctx.call("cash", "escrow_release", ref=escrow_ref(offering["offering_id"], account),
                 amount=refund)
        subscription.update(status="withdrawn", escrowed=0, refunded=refund,
                            settled_height=ctx.height)
        ctx.state.put(key, subscription)
        ctx.state.delete(draw_prefix(offering["offering_id"]) + subscription["draw"])
        offering["subscribed_qty"] -= subscription["qty"]
        offering["subscribers"] -= 1
        offering["withdrawn"] += refund
        self._store(ctx, offering)
        ctx.emit("SubscriptionWithdrawn", {"offering_id": offering["offering_id"],
                                           "symbol": offering["symbol"], "account": account,
                                           "qty": subscription["qty"], "refund": refund})
        return {"offering_id": offering["offering_id"], "account": account, "refund": refund}

    def _client_call(self, ctx: Context, offering_id: Any, account: Any
                     ) -> tuple[dict[str, Any], str]:
        """The checks `subscribe` and `withdraw` share, in PROTOCOL's order: UNKNOWN_OFFERING,
        UNAUTHORIZED (not a broker), NOT_YOUR_CLIENT, SUBSCRIPTION_CLOSED."""
        offering_id = require_int("offering_id", offering_id, 1)
        account = require_account("account", account)
        offering = self._offering(ctx, offering_id)
        require_role(ctx, "broker")
        record = ctx.identity(account)
        if record is None or record.get("broker") != ctx.caller:
            raise ChaincodeError("NOT_YOUR_CLIENT", f"{account} is not an investor this "
                                 "broker registered")
        status = compute_status(offering, ctx.time)
        if status != "open":
            raise ChaincodeError("SUBSCRIPTION_CLOSED", f"offering {offering_id} is {status}: "
                                 "it takes subscriptions from "
                                 f"{time_text(offering['start_time'])} until "
                                 f"{time_text(offering['end_time'])} (block time)")
        return offering, account

    # ---- allocate ----------------------------------------------------------------------------

    @transaction
    def allocate(self, ctx: Context, offering_id: Any, max_steps: Any) -> dict[str, Any]:
        offering_id = require_int("offering_id", offering_id, 1)
        budget = require_int("max_steps", max_steps, 1, MAX_STEPS)
        offering = self._offering(ctx, offering_id)
        token = self._managed_token(ctx, offering, registrar=False)
        if offering["phase"] == CANCELLED:
            raise ChaincodeError("ALREADY_CANCELLED", f"offering {offering_id} was cancelled")
        if ctx.time < offering["end_time"]:
            raise ChaincodeError("SUBSCRIPTION_OPEN", f"offering {offering_id} takes "
                                 f"subscriptions until {time_text(offering['end_time'])}")
        if offering["phase"] == ALLOCATED:
            raise ChaincodeError("ALREADY_ALLOCATED", f"offering {offering_id} is allocated")
        allocation.run(ctx, offering, token, budget)
        self._store(ctx, offering)
        return {"offering_id": offering_id, "status": compute_status(offering, ctx.time),
                "allocated_qty": offering["allocated_qty"], "subscribers": offering["settled"],
                "done": offering["phase"] == ALLOCATED}

    # ---- cancel ------------------------------------------------------------------------------

    @transaction
    def cancel(self, ctx: Context, offering_id: Any, reason: Any, max_steps: Any = MAX_STEPS
               ) -> dict[str, Any]:
        offering_id = require_int("offering_id", offering_id, 1)
        reason = require_str("reason", reason, 512)
        budget = require_int("max_steps", max_steps, 1, MAX_STEPS)
        offering = self._offering(ctx, offering_id)
        self._managed_token(ctx, offering, registrar=True)
        if offering["phase"] not in (SUBSCRIBING, CANCELLED):
            raise ChaincodeError("ALREADY_ALLOCATING", f"offering {offering_id} is being "
                                 "allocated; it can no longer be cancelled")
        if offering["phase"] == CANCELLED and offering["settled"] == offering["subscribers"]:
            raise ChaincodeError("ALREADY_CANCELLED", f"offering {offering_id} was cancelled "
                                 "and every subscription refunded")
        if offering["phase"] == SUBSCRIBING:
            offering.update(phase=CANCELLED, cancel_reason=reason)
            ctx.call("token", "reserve", symbol=offering["symbol"], units=-offering["qty"])
            ctx.state.delete(f"live/{offering['symbol']}")
            ctx.emit("OfferingCancelled", {"offering_id": offering_id,
                                           "symbol": offering["symbol"], "reason": reason,
                                           "by": ctx.caller})
        refunded = 0
        for draw, account in read_after(ctx, draw_prefix(offering_id), "", budget):
            ctx.state.delete(draw_prefix(offering_id) + draw)
            allocation.settle_subscription(
                ctx, offering, ctx.state.get(subscription_key(offering_id, account)), 0,
                "CANCELLED")
            refunded += 1
        self._store(ctx, offering)
        return {"offering_id": offering_id, "status": CANCELLED, "refunded": refunded,
                "subscribers": offering["settled"],
                "done": offering["settled"] == offering["subscribers"]}

    # ---- redemption (chaincode.redemption) ---------------------------------------------------

    @transaction
    def redeem_all(self, ctx: Context, symbol: Any, price: Any, record_time: Any = None
                   ) -> dict[str, Any]:
        return redemption.declare(ctx, symbol, price, record_time)

    @transaction
    def settle(self, ctx: Context, redemption_id: Any, max_steps: Any) -> dict[str, Any]:
        return redemption.settle(ctx, redemption_id, max_steps)

    @transaction
    def release(self, ctx: Context, redemption_id: Any, account: Any) -> dict[str, Any]:
        return redemption.release(ctx, redemption_id, account)

    @begin_block
    def fix_redemption_heights(self, ctx: Context) -> int:
        return redemption.fix_due(ctx)

    @query
    def redemption(self, ctx: Context, redemption_id: Any, start: Any = 0,
                   limit: Any = MAX_PAGE) -> dict[str, Any]:
        return redemption.get(ctx, redemption_id, start, limit)

    @query
    def redemptions(self, ctx: Context, symbol: Any) -> list[dict[str, Any]]:
        return redemption.of_token(ctx, symbol)

    # ---- queries -----------------------------------------------------------------------------

    @query
    def get(self, ctx: Context, offering_id: Any) -> dict[str, Any]:
        require_registered_reader(ctx)
        return public_view(self._offering(ctx, require_int("offering_id", offering_id, 1)),
                           ctx.time)

    @query
    def offerings(self, ctx: Context, symbol: Any, after: Any = 0, limit: Any = 100
                  ) -> dict[str, Any]:
        """The token's offerings, oldest first (anyone registered)."""
        require_registered_reader(ctx)
        symbol = require_symbol(symbol)
        after = require_int("after", after, 0)
        limit = require_int("limit", limit, 1, MAX_PAGE)
        rows: list[dict[str, Any]] = []
        following = None
        for _, offering_id in ctx.state.range(f"sym/{symbol}/", f"sym/{symbol}/"
                                              f"{id_key(after)}\x01" if after else ""):
            if len(rows) == limit:
                following = rows[-1]["offering_id"]
                break
            rows.append(public_view(self._offering(ctx, offering_id), ctx.time))
        return {"symbol": symbol, "offerings": rows, "next": following}

    @query
    def subscription(self, ctx: Context, offering_id: Any, account: Any) -> dict[str, Any]:
        offering_id = require_int("offering_id", offering_id, 1)
        account = require_account("account", account)
        offering = self._offering(ctx, offering_id)
        issuer = self._token(ctx, offering["symbol"])["issuer"]
        if not may_read_account(ctx, account, ctx.identity(account), "registrar",
                                extra_accounts=(issuer,)):
            raise Forbidden("only the account, its broker, the issuer, the registrar and the "
                            "regulator may read a subscription")
        subscription = ctx.state.get(subscription_key(offering_id, account))
        if subscription is None:
            raise ChaincodeError("NOT_SUBSCRIBED", f"{account} never subscribed to offering "
                                 f"{offering_id}")
        return subscription  # type: ignore[no-any-return]

    @query
    def subscriptions(self, ctx: Context, offering_id: Any, after: Any = "",
                      limit: Any = MAX_PAGE) -> dict[str, Any]:
        """Every subscription of an offering by account (the issuer, the registrar, the
        regulator): the book of subscriptions, with each one's shares once allocated."""
        offering_id = require_int("offering_id", offering_id, 1)
        if after != "":
            after = require_account("after", after)
        limit = require_int("limit", limit, 1, MAX_PAGE)
        offering = self._offering(ctx, offering_id)
        issuer = self._token(ctx, offering["symbol"])["issuer"]
        if ctx.caller != issuer and caller_role(ctx) not in ("registrar", "regulator"):
            raise Forbidden("only the issuer, the registrar and the regulator may read the "
                            "book of subscriptions")
        prefix = f"sub/{id_key(offering_id)}/"
        rows: list[dict[str, Any]] = []
        following = None
        for _, subscription in ctx.state.range(prefix, prefix + after + "\x01" if after
                                               else ""):
            if len(rows) == limit:
                following = rows[-1]["account"]
                break
            rows.append(subscription)
        return {"offering_id": offering_id, "subscriptions": rows, "next": following}

    # ---- helpers -----------------------------------------------------------------------------

    def _offering(self, ctx: Context, offering_id: int) -> dict[str, Any]:
        offering: dict[str, Any] | None = ctx.state.get(offering_key(offering_id))
        if offering is None:
            raise ChaincodeError("UNKNOWN_OFFERING", f"no offering {offering_id}")
        return offering

    def _store(self, ctx: Context, offering: dict[str, Any]) -> None:
        ctx.state.put(offering_key(offering["offering_id"]), offering)

    def _token(self, ctx: Context, symbol: str) -> dict[str, Any]:
        token: dict[str, Any] | None = ctx.call("token", "meta", symbol=symbol)
        if token is None:
            raise ChaincodeError("UNKNOWN_TOKEN", f"no token {symbol}")
        return token

    def _managed_token(self, ctx: Context, offering: dict[str, Any], *, registrar: bool
                       ) -> dict[str, Any]:
        """The offering's token, if the caller is its issuer (or, with `registrar`, the
        registrar); UNAUTHORIZED otherwise."""
        token = self._token(ctx, offering["symbol"])
        role = caller_role(ctx)
        if (role == "issuer" and token["issuer"] == ctx.caller) or (
                registrar and role == "registrar"):
            return token
        who = "its issuer or the registrar" if registrar else "its issuer"
        raise ChaincodeError("UNAUTHORIZED", f"only {who} may do this to offering "
                             f"{offering['offering_id']}")


__all__ = ["Offering", "compute_status", "public_view"]
