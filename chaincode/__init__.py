"""Python chaincode: the runtime (chaincode.runtime) and the built-in contracts.

Public entry points used by the node and genesis:
- `DEFAULT_PARAMS`: chain parameters the contracts read through `ctx.params` (fixed in genesis).
- `builtin_registry(params)`: a Registry holding identity, token, cash, dividend, market, fds
  and offering.
- `genesis_state(orgs, params)`: the initial state (full key -> canonical bytes) that registers
  each organisation admin `{"name", "role", "account"}` in the identity contract.
- `check_params(params)`: the merged parameters, or ValueError naming the one at fault.

The contracts (each module's docstring has its key layout, methods and error codes):
- `chaincode.identity`   accounts, roles, KYC attributes; verified / revoked; the tax account
- `chaincode.token`      issuance under the registrar's cap, restricted transfers, freeze,
                         pause, forced transfer, key recovery, redemption, documents
- `chaincode.compliance` the transfer and issuance rules as pure functions (no state)
- `chaincode.cash`       the KRW deposit token of the settlement bank
- `chaincode.dividend`   escrowed declarations, the register at the record height (from the
                         chain's history), exact pro-rata shares, withholding, bounded steps
- `chaincode.market`     order book per token, fills settled delivery versus payment in cash;
                         its parts: market_book (keys, the book), market_matching (matching,
                         settlement), market_sessions (calendar, band, tax)
- `chaincode.fds`        holds that block an account's withdrawals or trading, and the
                         real-time outflow limits of individuals (withdrawal delay, daily cap)
- `chaincode.offering`   public subscription through the brokers, equal and pro-rata allocation
                         (the arithmetic: `chaincode.allocation`) in bounded steps, refunds,
                         and redemption of every unit (`chaincode.redemption`)

Error codes (stable; receipts carry them):

| code | raised by |
|---|---|
| UNAUTHORIZED | any transaction whose caller lacks the role (the regulator always) |
| BAD_ARGS | malformed arguments (runtime and contracts) |
| UNKNOWN_METHOD, READ_ONLY, INTERNAL | the runtime |
| FORBIDDEN | a query the caller may not read (RPC 403) |
| ALREADY_REGISTERED, NOT_REGISTERED, ACCOUNT_REVOKED | identity (and token.recover) |
| BAD_CONSENT | identity.register |
| UNKNOWN_TOKEN, TOKEN_EXISTS, CAP_TOO_HIGH, CAP_BELOW_ISSUED | token |
| TOKEN_PAUSED, INSUFFICIENT_BALANCE, SENDER_NOT_VERIFIED, RECIPIENT_NOT_VERIFIED, |  |
| AML_BLOCKED, LOCKUP_ACTIVE, INVESTOR_TYPE_NOT_ALLOWED, COUNTRY_NOT_ALLOWED, |  |
| MAX_HOLDERS_EXCEEDED, HOLDING_LIMIT_EXCEEDED, INVESTMENT_LIMIT_EXCEEDED | token.transfer and |
|  | can_transfer, in this order (INSUFFICIENT_BALANCE also cash, redeem, force_transfer) |
| NOT_APPROVED, CAP_EXCEEDED, LOCKUP_LOTS_EXCEEDED (+ the recipient codes above) | token.issue |
| NO_HOLDING, FROZEN_EXCEEDS_BALANCE, UNFREEZE_EXCEEDS_FROZEN | token.freeze / unfreeze |
| ALREADY_PAUSED, NOT_PAUSED | token.pause / unpause |
| UNKNOWN_DOCUMENT, TOO_MANY_DOCUMENTS | token documents |
| SUPPLY_OVERFLOW | cash.mint |
| AML_BLOCKED | also cash.transfer |
| INSUFFICIENT_CASH | cash escrow (dividend.declare, market.place, offering.subscribe, redeem_all) |
| NO_ENTITLED_HOLDERS, UNKNOWN_DIVIDEND, RECORD_DATE_PENDING, ALREADY_PAID, | dividend |
| NO_TAX_ACCOUNT, NOT_ENTITLED, NOT_HELD | dividend |
| MARKET_CLOSED, NOT_YOUR_CLIENT, BAD_ORDER, PRICE_LIMIT, INSUFFICIENT_CASH, | market |
| TOO_MANY_ORDERS, UNKNOWN_ORDER, ORDER_CLOSED, ALREADY_HALTED, NOT_HALTED | (+ transfer codes) |
| ACCOUNT_HELD | token.transfer, cash.transfer and burn, market.place and fills (after |
|  | AML_BLOCKED; first for burn), offering.subscribe: an fds hold covers the act |
| WITHDRAWAL_DELAYED, DAILY_LIMIT_EXCEEDED | cash.burn and cash.transfer (an individual's) |
| ALREADY_HELD, TOO_MANY_HOLDS, UNKNOWN_HOLD, NOT_HELD, NOT_REGISTERED | fds.hold / release |
| NO_PROSPECTUS, OFFERING_OPEN, UNKNOWN_OFFERING, SUBSCRIPTION_CLOSED, | offering |
| ALREADY_SUBSCRIBED, NOT_SUBSCRIBED, SUBSCRIPTION_OPEN, ALREADY_ALLOCATED, | |
| ALREADY_ALLOCATING, ALREADY_CANCELLED, UNKNOWN_REDEMPTION | (+ subscriber, cap, cash and |
|  | dividend codes) |
| TOKEN_REDEEMED | token.issue, token.unpause, offering.open, offering.redeem_all |
"""

from __future__ import annotations

from typing import Any

from chaincode.runtime import ChaincodeError, Contract, Registry

DEFAULT_PARAMS: dict[str, Any] = {
    # KRW a general investor may buy (net, valued at unit_price) across all tokens in 365 days.
    "general_investor_annual_limit": 100_000_000,
    # Income-tax withholding in basis points by tax class (chaincode.compliance.tax_class, from
    # `legal_form` and `resident`); local tax is 10% of income tax on top.
    "withholding_bps": {"resident_individual": 1400, "non_resident_individual": 2000,
                        "domestic_corporation": 0, "foreign_corporation": 2000},
    # The market contract: sessions, price band, tick, securities transaction tax
    # (chaincode.market.check_market_params has the rules and the defaults).
    "market": {"sessions": "always", "price_band_bps": 3000, "tick": 1, "trade_tax_bps": 0},
    # The real-time limits of individuals (chaincode.fds.check_fds_params has the rules):
    # withdrawals 72 h after the first deposit and 24 h after the latest, 100M KRW out a day.
    "fds": {"new_account_hold_ms": 259_200_000, "deposit_hold_ms": 86_400_000,
            "daily_outflow_krw": 100_000_000},
}


HOLDER_CLASSES = ("resident_individual", "non_resident_individual", "domestic_corporation",
                  "foreign_corporation")


def check_params(params: dict[str, Any] | None = None) -> dict[str, Any]:
    """DEFAULT_PARAMS overridden by `params`, validated (ValueError names the bad one)."""
    merged = dict(DEFAULT_PARAMS)
    merged.update(params or {})
    limit = merged["general_investor_annual_limit"]
    if not isinstance(limit, int) or isinstance(limit, bool) or not 0 <= limit <= 2**62:
        raise ValueError("general_investor_annual_limit must be an integer in 0..2^62 "
                         "(0 = no limit)")
    rates = merged["withholding_bps"]
    if not isinstance(rates, dict) or set(rates) != set(HOLDER_CLASSES):
        raise ValueError(f"withholding_bps must map exactly {HOLDER_CLASSES} to basis points")
    for klass in HOLDER_CLASSES:
        bps = rates[klass]
        if not isinstance(bps, int) or isinstance(bps, bool) or not 0 <= bps <= 9_090:
            # above 9090 bps income tax plus its 10% local tax would exceed the gross
            raise ValueError(f"withholding_bps.{klass} must be an integer in 0..9090")
    from chaincode.market_sessions import check_market_params

    merged["market"] = check_market_params(merged.get("market"))  # MarketParamsError
    from chaincode.fds import check_fds_params

    merged["fds"] = check_fds_params(merged.get("fds"))  # FdsParamsError
    return merged


def builtin_registry(params: dict[str, Any] | None = None) -> Registry:
    from chaincode.cash import Cash
    from chaincode.dividend import Dividend
    from chaincode.fds import Fds
    from chaincode.identity import Identity
    from chaincode.market import Market
    from chaincode.offering import Offering
    from chaincode.token import Token

    checked = check_params(params)
    return Registry([Identity(), Token(), Cash(), Dividend(), Market(checked["market"]), Fds(),
                     Offering()], checked)


def genesis_state(orgs: list[dict[str, str]], params: dict[str, Any] | None = None
                  ) -> dict[str, bytes]:
    """The identity records of the organisation admins (params are checked, not stored)."""
    from chaincode.identity import genesis_records

    check_params(params)
    return genesis_records(orgs)


__all__ = ["DEFAULT_PARAMS", "ChaincodeError", "Contract", "Registry", "builtin_registry",
           "check_params", "genesis_state"]
