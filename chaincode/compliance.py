"""Transfer and issuance restriction rules as pure functions.

`token.transfer` and `token.can_transfer` both load the same facts from state and ask
`check_transfer`, so they can never disagree; `token.issue` asks `check_issue`. Nothing here
reads state, a clock or the caller: every fact is an argument, every answer is `None` (allowed)
or a `(code, message)` verdict. Integers only.

Transfer checks, in PROTOCOL.md's order (the first that fails is the result):
TOKEN_PAUSED, INSUFFICIENT_BALANCE (amount > balance - frozen), SENDER_NOT_VERIFIED,
RECIPIENT_NOT_VERIFIED, AML_BLOCKED (either side aml_risk high), LOCKUP_ACTIVE
(amount > balance - frozen - locked; frozen and locked units are counted separately),
INVESTOR_TYPE_NOT_ALLOWED, COUNTRY_NOT_ALLOWED (recipient), MAX_HOLDERS_EXCEEDED (only when the
transfer raises the holder count above the limit), HOLDING_LIMIT_EXCEEDED (recipient's balance
after > max_supply * max_holding_bps / 10000), INVESTMENT_LIMIT_EXCEEDED (recipient is a general
investor and its net purchases in the window plus this one exceed the network or the issuer
limit).

Issuance checks, in order: NOT_APPROVED, RECIPIENT_NOT_VERIFIED, AML_BLOCKED,
INVESTOR_TYPE_NOT_ALLOWED, COUNTRY_NOT_ALLOWED, MAX_HOLDERS_EXCEEDED, HOLDING_LIMIT_EXCEEDED,
CAP_EXCEEDED.

Investment window: purchases and sales of a general investor are kept per UTC day of block time
(`day = time // DAY_MS`) as `[[day, net_krw], ...]`, ascending. The window at block time `now`
is the 365 days `today - 364 .. today`; older days are pruned whenever a list is written, so a
list never holds more than 365 entries. Net = purchases minus sales in the window (may be
negative), valued at the token's `unit_price` at the time of each trade.
"""

from __future__ import annotations

from typing import Any

Verdict = tuple[str, str]
Holding = dict[str, Any]  # {"balance", "frozen", "locks": [[until_ms, amount], ...]}

DAY_MS = 86_400_000
WINDOW_DAYS = 365
MAX_LOCKS = 32  # lock-up entries per holding; beyond it the two earliest merge (later expiry)
KRW_SATURATION = 2**62  # stored window sums are clamped to +-this so they always encode

EMPTY_HOLDING: Holding = {"balance": 0, "frozen": 0, "locks": []}


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


def holder_class(record: dict[str, Any] | None) -> str:
    """Withholding class: corporate investors, else resident / non-resident individuals."""
    if attr(record, "investor_type") == "corporate":
        return "corporate"
    return "resident" if attr(record, "resident") is True else "non_resident"


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


def add_lock(locks: list[list[int]], until: int, amount: int, now: int) -> list[list[int]]:
    """Locks (active only, sorted by expiry) with `amount` more locked until `until`."""
    merged: dict[int, int] = {}
    for lock_until, lock_amount in [*active_locks(locks, now), [until, amount]]:
        merged[lock_until] = merged.get(lock_until, 0) + lock_amount
    result = [[lock_until, merged[lock_until]] for lock_until in sorted(merged)]
    while len(result) > MAX_LOCKS:  # keep the list bounded, never unlocking anything early
        (_, first), (second_until, second) = result[0], result[1]
        result[0:2] = [[second_until, first + second]]
    return result


def take_units(holding: Holding, amount: int, now: int) -> Holding:
    """The holding after `amount` units leave it regardless of freeze and lock-up (forced
    transfer, redemption): unlocked units go first, then the earliest-expiring locks; frozen
    is clamped to the new balance."""
    balance = holding["balance"] - amount
    assert balance >= 0, "take_units: more than the balance"
    locks = active_locks(holding["locks"], now)
    excess = sum(lock_amount for _, lock_amount in locks) - balance
    trimmed: list[list[int]] = []
    for until, lock_amount in locks:
        cut = min(lock_amount, max(0, excess))
        excess -= cut
        if lock_amount - cut > 0:
            trimmed.append([until, lock_amount - cut])
    return {"balance": balance, "frozen": min(holding["frozen"], balance), "locks": trimmed}


def merge_holdings(first: Holding, second: Holding, now: int) -> Holding:
    """Both holdings in one account (key recovery)."""
    locks = active_locks(first["locks"], now)
    for until, amount in active_locks(second["locks"], now):
        locks = add_lock(locks, until, amount, now)
    return {"balance": first["balance"] + second["balance"],
            "frozen": first["frozen"] + second["frozen"], "locks": locks}


# ---- investment window -----------------------------------------------------------------------

def window_start_day(now: int) -> int:
    return now // DAY_MS - (WINDOW_DAYS - 1)


def window_net(entries: list[list[int]], now: int) -> int:
    start = window_start_day(now)
    return sum(krw for day, krw in entries if day >= start)


def window_add(entries: list[list[int]], now: int, krw: int) -> list[list[int]]:
    """Entries pruned to the window at `now`, with `krw` added to today's entry."""
    start, today = window_start_day(now), now // DAY_MS
    kept = [[day, value] for day, value in entries if day >= start]
    if kept and kept[-1][0] == today:
        kept[-1][1] = _saturate(kept[-1][1] + krw)
    else:
        kept.append([today, _saturate(krw)])
    return [entry for entry in kept if entry[1] != 0]


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
                   general_limit: int, price: int | None = None) -> Verdict | None:
    """Why `amount` units of `token` may not move from sender to recipient, or None.
    `price` (KRW per unit) values the purchase for the investment limits: a market fill's
    trade price; `unit_price` when None."""
    rules = token["rules"]
    if token["paused"]:
        return "TOKEN_PAUSED", f"{token['symbol']} is paused"
    if amount > available(sender_holding):
        return ("INSUFFICIENT_BALANCE", f"available {available(sender_holding)} "
                f"(balance {sender_holding['balance']} - frozen {sender_holding['frozen']}) "
                f"< {amount}")
    if not is_verified(sender, now):
        return "SENDER_NOT_VERIFIED", "the sender is unregistered, revoked or its KYC expired"
    if not is_verified(recipient, now):
        return ("RECIPIENT_NOT_VERIFIED",
                "the recipient is unregistered, revoked or its KYC expired")
    if is_aml_blocked(sender) or is_aml_blocked(recipient):
        return "AML_BLOCKED", "an AML high-risk account is party to the transfer"
    if amount > transferable(sender_holding, now):
        return ("LOCKUP_ACTIVE", f"only {transferable(sender_holding, now)} units are out of "
                f"lock-up ({locked_amount(sender_holding, now)} locked)")
    verdict = _check_recipient_rules(token, rules, recipient)
    if verdict is not None:
        return verdict
    leaves = sender_holding["balance"] == amount
    joins = recipient_holding["balance"] == 0
    holders_after = token["holders"] + int(joins) - int(leaves)
    if rules["max_holders"] and holders_after > rules["max_holders"] and joins and not leaves:
        return ("MAX_HOLDERS_EXCEEDED", f"{token['symbol']} allows at most "
                f"{rules['max_holders']} holders")
    if _over_holding_limit(token, recipient_holding["balance"] + amount):
        return "HOLDING_LIMIT_EXCEEDED", _holding_limit_message(token)
    if is_general_investor(recipient):
        value = amount * (token["unit_price"] if price is None else price)
        if limit_exceeded(recipient_net, value, general_limit):
            return ("INVESTMENT_LIMIT_EXCEEDED", f"a general investor's net purchases in 365 "
                    f"days may not exceed {general_limit} KRW (now {recipient_net}, this "
                    f"{value})")
        if limit_exceeded(recipient_issuer_net, value, rules["issuer_annual_limit"]):
            return ("INVESTMENT_LIMIT_EXCEEDED", f"a general investor may buy at most "
                    f"{rules['issuer_annual_limit']} KRW of this issuer's tokens in 365 days "
                    f"(now {recipient_issuer_net}, this {value})")
    return None


def check_issue(*, token: dict[str, Any], amount: int, now: int,
                recipient: dict[str, Any] | None, recipient_holding: Holding) -> Verdict | None:
    """Why `amount` units of `token` may not be issued to the recipient, or None."""
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
    if (rules["max_holders"] and recipient_holding["balance"] == 0
            and token["holders"] + 1 > rules["max_holders"]):
        return ("MAX_HOLDERS_EXCEEDED", f"{token['symbol']} allows at most "
                f"{rules['max_holders']} holders")
    if _over_holding_limit(token, recipient_holding["balance"] + amount):
        return "HOLDING_LIMIT_EXCEEDED", _holding_limit_message(token)
    if token["issued"] + amount > token["cap"]:
        return ("CAP_EXCEEDED", f"issued {token['issued']} + {amount} > cap {token['cap']}")
    return None


# ---- market orders (chaincode.market): the transfer checks that can be known at order time --

def check_seller(*, token: dict[str, Any], amount: int, now: int,
                 sender: dict[str, Any] | None, sender_holding: Holding) -> Verdict | None:
    """A sell order's seller-side checks, in check_transfer's order: TOKEN_PAUSED,
    INSUFFICIENT_BALANCE, SENDER_NOT_VERIFIED, AML_BLOCKED (the seller), LOCKUP_ACTIVE."""
    if token["paused"]:
        return "TOKEN_PAUSED", f"{token['symbol']} is paused"
    if amount > available(sender_holding):
        return ("INSUFFICIENT_BALANCE", f"available {available(sender_holding)} "
                f"(balance {sender_holding['balance']} - frozen {sender_holding['frozen']} - "
                f"on order {sender_holding.get('on_order', 0)}) < {amount}")
    if not is_verified(sender, now):
        return "SENDER_NOT_VERIFIED", "the sender is unregistered, revoked or its KYC expired"
    if is_aml_blocked(sender):
        return "AML_BLOCKED", "the seller is AML high-risk"
    if amount > transferable(sender_holding, now):
        return ("LOCKUP_ACTIVE", f"only {transferable(sender_holding, now)} units are out of "
                f"lock-up ({locked_amount(sender_holding, now)} locked)")
    return None


def check_buyer(*, token: dict[str, Any], now: int,
                recipient: dict[str, Any] | None) -> Verdict | None:
    """A buy order's recipient-side checks, in check_transfer's order: TOKEN_PAUSED (no fill
    could settle), RECIPIENT_NOT_VERIFIED, AML_BLOCKED (the buyer), INVESTOR_TYPE_NOT_ALLOWED,
    COUNTRY_NOT_ALLOWED. The holding checks run at each fill (check_transfer)."""
    if token["paused"]:
        return "TOKEN_PAUSED", f"{token['symbol']} is paused"
    if not is_verified(recipient, now):
        return ("RECIPIENT_NOT_VERIFIED",
                "the recipient is unregistered, revoked or its KYC expired")
    if is_aml_blocked(recipient):
        return "AML_BLOCKED", "the buyer is AML high-risk"
    return _check_recipient_rules(token, token["rules"], recipient)


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
