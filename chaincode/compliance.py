"""Transfer and issuance restriction rules as pure functions.

`token.transfer` and `token.can_transfer` both load the same facts from state and ask
`check_transfer`, so they can never disagree; `token.issue` asks `check_issue`. Nothing here
reads state, a clock or the caller: every fact is an argument, every answer is `None` (allowed)
or a `(code, message)` verdict. Integers only.

Transfer checks, in PROTOCOL.md's order (the first that fails is the result, a `Refusal` that
names the party it is about, `SENDER` or `RECIPIENT`: a market fill cancels that party's order):
TOKEN_PAUSED, INSUFFICIENT_BALANCE (amount > balance - frozen), SENDER_NOT_VERIFIED,
RECIPIENT_NOT_VERIFIED, AML_BLOCKED (either side aml_risk high), ACCOUNT_HELD (a party under
an fds hold that covers the act: the caller decides which party and scope), LOCKUP_ACTIVE
(amount > balance - frozen - locked; frozen and locked units are counted separately),
INVESTOR_TYPE_NOT_ALLOWED, COUNTRY_NOT_ALLOWED (recipient), MAX_HOLDERS_EXCEEDED (only when the
transfer raises the holder count above the limit), HOLDING_LIMIT_EXCEEDED (recipient's balance
after > max_supply * max_holding_bps / 10000), INVESTMENT_LIMIT_EXCEEDED (recipient is a general
investor and its net purchases in the window plus this one exceed the network or the issuer
limit).

Issuance checks, in order: NOT_APPROVED, RECIPIENT_NOT_VERIFIED, AML_BLOCKED,
INVESTOR_TYPE_NOT_ALLOWED, COUNTRY_NOT_ALLOWED, MAX_HOLDERS_EXCEEDED, HOLDING_LIMIT_EXCEEDED,
INVESTMENT_LIMIT_EXCEEDED, CAP_EXCEEDED (issued + the units open offerings reserve + amount >
cap), then LOCKUP_LOTS_EXCEEDED (the bound on lock-up lots below; PROTOCOL.md is silent on it).

Holders: `max_holders` counts investors, not the issuer's own holding: the token's holder
counter includes the issuer, so the checks take `investors` (holders other than the issuer)
and whether each side is the issuer.

Lock-ups: each issuance to a holder starts a lot `[until_ms, units]` that ends exactly
`lockup_ms` after the units arrived. Lots with the same expiry are one lot; lots are never
merged otherwise (merging would move some units' expiry). At most MAX_LOCKS lots with different
expiries are active per holding: an issuance that would need one more is refused
(LOCKUP_LOTS_EXCEEDED) until the earliest lot expires. Units leaving a holding under a forced
transfer or a redemption take the unlocked units first, then the earliest-expiring lots.

Investment window: a general investor's counted purchases are kept per UTC day of block time
(`day = time // DAY_MS`) as `[[day, krw], ...]`, ascending, every `krw` > 0. The window at block
time `now` is the 365 days `today - 364 .. today`; older days are pruned whenever a list is
written, so a list never holds more than 365 entries. Net = the sum in the window. A sale of
value `v` offsets counted purchases only: it removes up to `v` from the entries, oldest first
(first in, first out), so net never goes below zero and units that never counted (bought while
professional, received by forced transfer) cannot make room for new purchases.
"""

from __future__ import annotations

from typing import Any, NamedTuple

Verdict = tuple[str, str]
Holding = dict[str, Any]  # {"balance", "frozen", "locks": [[until_ms, amount], ...]}

DAY_MS = 86_400_000
WINDOW_DAYS = 365
MAX_LOCKS = 256  # lock-up lots (distinct expiries) per holding: a daily issuance under a
# lock-up of most of a year fits; a holding record stays under ~6 KB
KRW_SATURATION = 2**62  # stored window sums are clamped to +-this so they always encode

EMPTY_HOLDING: Holding = {"balance": 0, "frozen": 0, "locks": []}

SENDER = "sender"
RECIPIENT = "recipient"


class Refusal(NamedTuple):
    """A failed transfer check and the party it is about: SENDER, RECIPIENT, or None when it is
    about neither (the token is paused)."""

    code: str
    message: str
    party: str | None

    @property
    def verdict(self) -> Verdict:
        return self.code, self.message


def _blame(verdict: Verdict | None, party: str | None) -> Refusal | None:
    return None if verdict is None else Refusal(verdict[0], verdict[1], party)


# ---- identity facts --------------------------------------------------------------------------

def is_verified(record: dict[str, Any] | None, now: int) -> bool:
    """Registered, not revoked, and KYC not expired at block time `now`."""
    if record is None or record.get("status") != "active":
        return False
    expires = record.get("attrs", {}).get("kyc_expires")
    return expires is None or now < expires


def attr(record: dict[str, Any] | None, name: str) -> Any:
    return None if record is None else record.get("attrs", {}).get(name)


def is_aml_blocked(record: dict[str, Any] | None) -> bool:
    return attr(record, "aml_risk") == "high"


def is_general_investor(record: dict[str, Any] | None) -> bool:
    return attr(record, "investor_type") == "general"


TAX_CLASSES = ("resident_individual", "non_resident_individual", "domestic_corporation",
               "foreign_corporation")


def tax_class(record: dict[str, Any] | None) -> str:
    """Withholding class by what the tax law sees: `legal_form` and `resident` (for a
    corporation: domestic). Organisation accounts (no `legal_form`: brokers, the bank, issuers,
    ...) are domestic corporations. `investor_type` (the protection category) plays no part."""
    if record is None:
        return "non_resident_individual"  # unreachable for a holder; the highest rate
    if record.get("role") != "investor" and attr(record, "legal_form") is None:
        return "domestic_corporation"
    corporation = attr(record, "legal_form") == "corporation"
    resident = attr(record, "resident") is True
    if corporation:
        return "domestic_corporation" if resident else "foreign_corporation"
    return "resident_individual" if resident else "non_resident_individual"


# ---- holdings --------------------------------------------------------------------------------

def active_locks(locks: list[list[int]], now: int) -> list[list[int]]:
    return [[until, amount] for until, amount in locks if until > now and amount > 0]


def locked_amount(holding: Holding, now: int) -> int:
    return sum(amount for until, amount in holding["locks"] if until > now)


def available(holding: Holding) -> int:
    """Units free to move: balance - frozen - units escrowed for open sell orders (`on_order`,
    attached by token.load_holding, never stored in the holding record)."""
    return max(0, int(holding["balance"] - holding["frozen"] - holding.get("on_order", 0)))


def transferable(holding: Holding, now: int) -> int:
    return max(0, available(holding) - locked_amount(holding, now))


def can_add_lock(locks: list[list[int]], until: int, now: int) -> bool:
    """Whether a lot ending at `until` fits (same expiry as an active lot, or room for one)."""
    active = active_locks(locks, now)
    return any(lock_until == until for lock_until, _ in active) or len(active) < MAX_LOCKS


def add_lock(locks: list[list[int]], until: int, amount: int, now: int) -> list[list[int]]:
    """Locks (active only, sorted by expiry) with `amount` more locked until `until`. Only a
    lot with the same expiry is merged; the caller checked `can_add_lock`."""
    merged: dict[int, int] = {}
    for lock_until, lock_amount in [*active_locks(locks, now), [until, amount]]:
        merged[lock_until] = merged.get(lock_until, 0) + lock_amount
    result = [[lock_until, merged[lock_until]] for lock_until in sorted(merged)]
    assert len(result) <= MAX_LOCKS, "add_lock beyond MAX_LOCKS (check can_add_lock first)"
    return result


def take_units(holding: Holding, amount: int, now: int, *, frozen_first: bool) -> Holding:
    """The holding after `amount` units leave it regardless of lock-up: unlocked units go
    first, then the earliest-expiring locks. A forced transfer (`frozen_first`) takes frozen
    units first and the freeze goes with them; a redemption takes only unfrozen units, so
    the freeze stays."""
    balance = holding["balance"] - amount
    assert balance >= 0, "take_units: more than the balance"
    frozen = holding["frozen"]
    if frozen_first:
        frozen = max(0, frozen - amount)
    else:
        assert amount <= holding["balance"] - frozen, "take_units: frozen units taken"
    locks = active_locks(holding["locks"], now)
    excess = sum(lock_amount for _, lock_amount in locks) - balance
    trimmed: list[list[int]] = []
    for until, lock_amount in locks:
        cut = min(lock_amount, max(0, excess))
        excess -= cut
        if lock_amount - cut > 0:
            trimmed.append([until, lock_amount - cut])
    return {"balance": balance, "frozen": frozen, "locks": trimmed}


# ---- investment window -----------------------------------------------------------------------

def window_start_day(now: int) -> int:
    return now // DAY_MS - (WINDOW_DAYS - 1)


def window_net(entries: list[list[int]], now: int) -> int:
    start = window_start_day(now)
    return sum(krw for day, krw in entries if day >= start)


def window_add(entries: list[list[int]], now: int, krw: int) -> list[list[int]]:
    """Entries pruned to the window at `now`, with a counted purchase of `krw` >= 0 added to
    today's entry."""
    assert krw >= 0, "window_add takes purchases; sales go through window_offset"
    start, today = window_start_day(now), now // DAY_MS
    kept = [[day, value] for day, value in entries if day >= start]
    if kept and kept[-1][0] == today:
        kept[-1][1] = _saturate(kept[-1][1] + krw)
    else:
        kept.append([today, _saturate(krw)])
    return [entry for entry in kept if entry[1] > 0]


def window_offset(entries: list[list[int]], now: int, krw: int) -> list[list[int]]:
    """Entries pruned to the window at `now`, with a sale of `krw` offsetting counted
    purchases oldest first; what the window does not hold is not offset (net stays >= 0)."""
    assert krw >= 0
    kept = [[day, value] for day, value in entries if day >= window_start_day(now)]
    for entry in kept:
        cut = min(entry[1], krw)
        entry[1] -= cut
        krw -= cut
    return [entry for entry in kept if entry[1] > 0]


def merge_windows(first: list[list[int]], second: list[list[int]]) -> list[list[int]]:
    """Both windows day by day (key recovery)."""
    merged: dict[int, int] = {}
    for day, krw in [*first, *second]:
        merged[day] = _saturate(merged.get(day, 0) + krw)
    return [[day, merged[day]] for day in sorted(merged) if merged[day] > 0]


def _saturate(value: int) -> int:
    return max(-KRW_SATURATION, min(KRW_SATURATION, value))


def limit_exceeded(net: int, value: int, limit: int) -> bool:
    """A limit of 0 means none."""
    return limit > 0 and net + value > limit


# ---- the checks ------------------------------------------------------------------------------

def check_transfer(*, token: dict[str, Any], amount: int, now: int,
                   sender: dict[str, Any] | None, recipient: dict[str, Any] | None,
                   sender_holding: Holding, recipient_holding: Holding,
                   recipient_net: int, recipient_issuer_net: int,
                   general_limit: int, investors: int, sender_is_issuer: bool,
                   recipient_is_issuer: bool, price: int | None = None,
                   sender_held: bool = False, recipient_held: bool = False) -> Verdict | None:
    """Why `amount` units of `token` may not move from sender to recipient, or None (the
    verdict of `refuse_transfer`, without the party)."""
    refusal = refuse_transfer(
        token=token, amount=amount, now=now, sender=sender, recipient=recipient,
        sender_holding=sender_holding, recipient_holding=recipient_holding,
        recipient_net=recipient_net, recipient_issuer_net=recipient_issuer_net,
        general_limit=general_limit, investors=investors, sender_is_issuer=sender_is_issuer,
        recipient_is_issuer=recipient_is_issuer, price=price, sender_held=sender_held,
        recipient_held=recipient_held)
    return None if refusal is None else refusal.verdict


def refuse_transfer(*, token: dict[str, Any], amount: int, now: int,
                    sender: dict[str, Any] | None, recipient: dict[str, Any] | None,
                    sender_holding: Holding, recipient_holding: Holding,
                    recipient_net: int, recipient_issuer_net: int,
                    general_limit: int, investors: int, sender_is_issuer: bool,
                    recipient_is_issuer: bool, price: int | None = None,
                    sender_held: bool = False, recipient_held: bool = False
                    ) -> Refusal | None:
    """The first transfer check that fails, with the party it is about, or None.
    `investors`: holders other than the issuer. `price` (KRW per unit) values the purchase
    for the investment limits: a market fill's trade price; `unit_price` when None.
    `sender_held`, `recipient_held`: a hold (chaincode.fds) refuses this party the act (a
    transfer out: an `all` hold on the sender; a fill: a trading hold on either side). One
    check a line, in PROTOCOL's order: a new check is one more line where it belongs."""
    return (_blame(_check_paused(token), None)
            or _blame(_check_balance(amount, sender_holding), SENDER)
            or _blame(_check_verified(sender, now, "SENDER_NOT_VERIFIED", "sender"), SENDER)
            or _blame(_check_verified(recipient, now, "RECIPIENT_NOT_VERIFIED", "recipient"),
                      RECIPIENT)
            or _blame(_check_aml(sender), SENDER)
            or _blame(_check_aml(recipient), RECIPIENT)
            or _blame(_check_held(sender_held, False), SENDER)
            or _blame(_check_held(False, recipient_held), RECIPIENT)
            or _blame(_check_lockup(sender_holding, amount, now), SENDER)
            or _blame(_check_recipient_rules(token, token["rules"], recipient), RECIPIENT)
            or _blame(_check_max_holders(token, amount, sender_holding, recipient_holding,
                                         investors, sender_is_issuer, recipient_is_issuer),
                      RECIPIENT)
            or _blame(_check_holding_limit(token, recipient_holding["balance"] + amount),
                      RECIPIENT)
            or _blame(_check_investment_limits(token, amount, recipient, recipient_net,
                                               recipient_issuer_net, general_limit, price),
                      RECIPIENT))


def check_sender_side(*, token: dict[str, Any], amount: int, now: int,
                      sender: dict[str, Any] | None, sender_holding: Holding,
                      sender_held: bool = False) -> Verdict | None:
    """The transfer checks that read the token and the sender's facts only, in
    `check_transfer`'s order: what `can_transfer` tells a caller who may not see the
    recipient's facts (any of these failing means the transfer fails, whoever the recipient)."""
    return (_check_paused(token)
            or _check_balance(amount, sender_holding)
            or _check_verified(sender, now, "SENDER_NOT_VERIFIED", "sender")
            or _check_aml(sender)
            or _check_held(sender_held, False)
            or _check_lockup(sender_holding, amount, now))


def _check_paused(token: dict[str, Any]) -> Verdict | None:
    if token["paused"]:
        return "TOKEN_PAUSED", f"{token['symbol']} is paused"
    return None


def _check_balance(amount: int, sender_holding: Holding) -> Verdict | None:
    if amount > available(sender_holding):
        return ("INSUFFICIENT_BALANCE", f"only {available(sender_holding)} units are "
                f"available, fewer than the {amount} asked (balance "
                f"{sender_holding['balance']}, {sender_holding['frozen']} frozen, "
                f"{sender_holding.get('on_order', 0)} on order)")
    return None


def _check_verified(party: dict[str, Any] | None, now: int, code: str,
                    who: str) -> Verdict | None:
    if is_verified(party, now):
        return None
    return code, f"the {who} is unregistered, revoked or its KYC expired"


def _check_aml(party: dict[str, Any] | None) -> Verdict | None:
    if is_aml_blocked(party):
        return "AML_BLOCKED", "an AML high-risk account is party to the transfer"
    return None


def _check_held(sender_held: bool, recipient_held: bool) -> Verdict | None:
    if sender_held or recipient_held:
        who = "sender" if sender_held else "recipient"
        return "ACCOUNT_HELD", f"the {who} is under an fds hold that covers this (fds.holds)"
    return None


def _check_lockup(sender_holding: Holding, amount: int, now: int) -> Verdict | None:
    if amount > transferable(sender_holding, now):
        return ("LOCKUP_ACTIVE", f"only {transferable(sender_holding, now)} units are out of "
                f"lock-up ({locked_amount(sender_holding, now)} locked)")
    return None


def check_issue(*, token: dict[str, Any], amount: int, now: int,
                recipient: dict[str, Any] | None, recipient_holding: Holding,
                recipient_net: int, recipient_issuer_net: int, general_limit: int,
                investors: int, recipient_is_issuer: bool, reserved: int,
                price: int | None = None) -> Verdict | None:
    """Why `amount` units of `token` may not be issued to the recipient, or None.
    `investors`: holders other than the issuer. The cap counts `reserved`, the units open
    offerings reserve (the token's, less an allocation's own units while it issues them);
    `price` values the purchase for the investment limits (an offering's price; `unit_price`
    when None)."""
    rules = token["rules"]
    if token["cap"] is None:
        return "NOT_APPROVED", f"the registrar has not approved an issuance cap for " \
            f"{token['symbol']}"
    if not is_verified(recipient, now):
        return ("RECIPIENT_NOT_VERIFIED",
                "the recipient is unregistered, revoked or its KYC expired")
    if is_aml_blocked(recipient):
        return "AML_BLOCKED", "the recipient is AML high-risk"
    verdict = _check_recipient_rules(token, rules, recipient)
    if verdict is not None:
        return verdict
    if (rules["max_holders"] and recipient_holding["balance"] == 0 and not recipient_is_issuer
            and investors + 1 > rules["max_holders"]):
        return _max_holders_verdict(token)
    if _over_holding_limit(token, recipient_holding["balance"] + amount):
        return "HOLDING_LIMIT_EXCEEDED", _holding_limit_message(token)
    verdict = _check_investment_limits(token, amount, recipient, recipient_net,
                                       recipient_issuer_net, general_limit, price)
    if verdict is not None:
        return verdict
    if token["issued"] + reserved + amount > token["cap"]:
        return ("CAP_EXCEEDED", f"issuing {amount} more would pass the cap of {token['cap']} "
                f"({token['issued']} already issued, {reserved} reserved by open offerings)")
    until = now + rules["lockup_ms"]
    if rules["lockup_ms"] and not can_add_lock(recipient_holding["locks"], until, now):
        return ("LOCKUP_LOTS_EXCEEDED", f"the recipient already has {MAX_LOCKS} lock-up lots "
                f"of {token['symbol']} with other expiries; issue again once the earliest "
                "ends")
    return None


def _check_max_holders(token: dict[str, Any], amount: int, sender_holding: Holding,
                       recipient_holding: Holding, investors: int, sender_is_issuer: bool,
                       recipient_is_issuer: bool) -> Verdict | None:
    """Only a transfer that raises the investor count above the limit is refused."""
    max_holders = token["rules"]["max_holders"]
    leaves = sender_holding["balance"] == amount and not sender_is_issuer
    joins = recipient_holding["balance"] == 0 and not recipient_is_issuer
    investors_after = investors + int(joins) - int(leaves)
    if max_holders and investors_after > max_holders and joins and not leaves:
        return _max_holders_verdict(token)
    return None


def _check_holding_limit(token: dict[str, Any], balance_after: int) -> Verdict | None:
    if _over_holding_limit(token, balance_after):
        return "HOLDING_LIMIT_EXCEEDED", _holding_limit_message(token)
    return None


def _max_holders_verdict(token: dict[str, Any]) -> Verdict:
    return ("MAX_HOLDERS_EXCEEDED", f"{token['symbol']} allows at most "
            f"{token['rules']['max_holders']} investors (the issuer's own holding aside)")


def _check_investment_limits(token: dict[str, Any], amount: int,
                             recipient: dict[str, Any] | None, recipient_net: int,
                             recipient_issuer_net: int, general_limit: int,
                             price: int | None = None) -> Verdict | None:
    """A general investor's purchase, valued at unit_price (a market fill: at `price`),
    against both 365-day limits."""
    if not is_general_investor(recipient):
        return None
    value = amount * (token["unit_price"] if price is None else price)
    if limit_exceeded(recipient_net, value, general_limit):
        return ("INVESTMENT_LIMIT_EXCEEDED", f"a general investor's net purchases in 365 "
                f"days may not exceed {general_limit} KRW (now {recipient_net}, this "
                f"{value})")
    issuer_limit = token["rules"]["issuer_annual_limit"]
    if limit_exceeded(recipient_issuer_net, value, issuer_limit):
        return ("INVESTMENT_LIMIT_EXCEEDED", f"a general investor may buy at most "
                f"{issuer_limit} KRW of this issuer's tokens in 365 days "
                f"(now {recipient_issuer_net}, this {value})")
    return None


# ---- market orders (chaincode.market): the transfer checks that can be known at order time --

def check_seller(*, token: dict[str, Any], amount: int, now: int,
                 sender: dict[str, Any] | None, sender_holding: Holding,
                 held: bool = False) -> Verdict | None:
    """A sell order's seller-side checks, in check_transfer's order: TOKEN_PAUSED,
    INSUFFICIENT_BALANCE, SENDER_NOT_VERIFIED, AML_BLOCKED (the seller), ACCOUNT_HELD (a
    trading hold on the seller), LOCKUP_ACTIVE. The same checks as `check_sender_side`."""
    return check_sender_side(token=token, amount=amount, now=now, sender=sender,
                             sender_holding=sender_holding, sender_held=held)


def check_buyer(*, token: dict[str, Any], now: int, recipient: dict[str, Any] | None,
                held: bool = False) -> Verdict | None:
    """A buy order's recipient-side checks, in check_transfer's order: TOKEN_PAUSED (no fill
    could settle), RECIPIENT_NOT_VERIFIED, AML_BLOCKED (the buyer), ACCOUNT_HELD (a trading
    hold on the buyer), INVESTOR_TYPE_NOT_ALLOWED, COUNTRY_NOT_ALLOWED. The holding checks run
    at each fill (check_transfer)."""
    return _check_paused(token) or _check_recipient_side(token, now, recipient, held)


def check_subscriber(*, token: dict[str, Any], now: int, recipient: dict[str, Any] | None,
                     held: bool, recipient_net: int, recipient_issuer_net: int,
                     general_limit: int, qty: int, price: int) -> Verdict | None:
    """An offering subscriber's recipient-side checks (chaincode.offering, at `subscribe` and
    again at allocation), in PROTOCOL's order: a buyer's (RECIPIENT_NOT_VERIFIED,
    AML_BLOCKED, ACCOUNT_HELD for a `trading` or `all` hold, INVESTOR_TYPE_NOT_ALLOWED,
    COUNTRY_NOT_ALLOWED; no TOKEN_PAUSED: units are issued, not moved), then
    INVESTMENT_LIMIT_EXCEEDED (a general investor, counting `qty x price`)."""
    return (_check_recipient_side(token, now, recipient, held)
            or _check_investment_limits(token, qty, recipient, recipient_net,
                                        recipient_issuer_net, general_limit, price))


def _check_recipient_side(token: dict[str, Any], now: int, recipient: dict[str, Any] | None,
                          held: bool) -> Verdict | None:
    """What a recipient's facts alone decide, in check_transfer's order: RECIPIENT_NOT_VERIFIED,
    AML_BLOCKED, ACCOUNT_HELD, INVESTOR_TYPE_NOT_ALLOWED, COUNTRY_NOT_ALLOWED."""
    return (_check_verified(recipient, now, "RECIPIENT_NOT_VERIFIED", "recipient")
            or _check_aml(recipient)
            or _check_held(False, held)
            or _check_recipient_rules(token, token["rules"], recipient))


def _check_recipient_rules(token: dict[str, Any], rules: dict[str, Any],
                           recipient: dict[str, Any] | None) -> Verdict | None:
    allowed_types = rules["allowed_investor_types"]
    if allowed_types and attr(recipient, "investor_type") not in allowed_types:
        return ("INVESTOR_TYPE_NOT_ALLOWED", f"{token['symbol']} may be held only by "
                f"{', '.join(allowed_types)} investors")
    allowed_countries = rules["allowed_countries"]
    if allowed_countries and attr(recipient, "country") not in allowed_countries:
        return ("COUNTRY_NOT_ALLOWED", f"{token['symbol']} may be held only in "
                f"{', '.join(allowed_countries)}")
    return None


def _over_holding_limit(token: dict[str, Any], balance_after: int) -> bool:
    bps = token["rules"]["max_holding_bps"]
    return bool(bps) and balance_after * 10_000 > token["max_supply"] * bps


def _holding_limit_message(token: dict[str, Any]) -> str:
    bps = token["rules"]["max_holding_bps"]
    return (f"one holder may hold at most {bps} bps of max_supply "
            f"({token['max_supply'] * bps // 10_000} units)")
