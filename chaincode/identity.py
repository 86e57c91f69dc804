"""The identity contract: who is who on the chain, with role and KYC attributes.

Every account the other contracts deal with has a record here, written by a broker (its
investors) or the registrar (any role); organisation admins are registered in genesis.

Key layout (inside the `identity/` namespace):

    account/<account>   the record (below)
    tax_account         the account id of the withholding-tax collection account (role `tax`)

A record is `{"account", "role", "org", "broker", "attrs", "status", "registered_by",
"registered_at", "updated_at", "revoked_reason", "recovered_from", "recovered_to", "origin"}`:
`org` is the organisation name of a genesis admin (else None), `broker` the registering broker
(None when the registrar registered it), `status` is `active` or `revoked`, times are block ms
(0 for genesis), `origin` the account's first key (kept through key recoveries, so records
keyed by it, like an issuer's investment windows, survive a recovery). Investor `attrs` hold
exactly `investor_type`, `legal_form`, `country`, `resident`, `kyc_expires`, `aml_risk` (and
optionally `insider_of` and a display `name`); other roles may carry any subset.

Verified (chaincode.compliance.is_verified) = registered, active and, if the record has
`kyc_expires`, block time before it. Genesis admins have no expiry.

Consent: `register` carries the account's own Ed25519 signature over
`CONSENT_DOMAIN + canonical({"chain", "account", "by", "role"})` (hex account ids), so nobody
can register a key without its holder's say (a broker cannot squat another broker's client).

A broker's key recovery: the investors keep the broker key they were registered with, and
`record` (what every contract sees) resolves it along the broker's `recovered_to` chain to the
broker's current key, so the investors follow the broker at once, however many there are.

Methods:
- `register(account, role, attrs, consent)` — a broker (role `investor` only) or the registrar
  (any role).
- `update(account, attrs)` — the account's broker or the registrar; attrs are merged. Only the
  registrar may change `legal_form` (UNAUTHORIZED): it decides the tax class and whether the
  real-time limits of chaincode.fds apply, so a broker cannot lift its client's limits.
- `revoke(account, reason)` — the account's broker or the registrar.
- query `get(account)` — the account itself, its broker, the registrar, the regulator.
- internal `record(account)`, `tax_account()`, `recover(old, new, reason)` (token.recover:
  works on a revoked account too, not on one already recovered).

Errors: UNAUTHORIZED, BAD_ARGS, BAD_CONSENT, ALREADY_REGISTERED, NOT_REGISTERED,
ACCOUNT_REVOKED, FORBIDDEN (query read access).
"""

from __future__ import annotations

from typing import Any

from chaincode.runtime import (
    ChaincodeError,
    Context,
    Contract,
    Forbidden,
    StateReader,
    internal,
    query,
    require_account,
    require_str,
    transaction,
)
from consensus import codec
from consensus.crypto import verify

ROLES = ("operator", "registrar", "regulator", "broker", "bank", "issuer", "investor", "tax")
INVESTOR_TYPES = ("general", "qualified", "professional", "corporate")
AML_RISKS = ("low", "medium", "high")
LEGAL_FORMS = ("individual", "corporation")
INVESTOR_ATTRS = ("investor_type", "legal_form", "country", "resident", "kyc_expires",
                  "aml_risk")
OPTIONAL_ATTRS = ("name", "insider_of")
MAX_INSIDER_OF = 16
MAX_TIME_MS = 2**62
MAX_REASON_CHARS = 512
MAX_BROKER_HOPS = 16  # broker key recoveries followed when resolving an investor's broker
CONSENT_DOMAIN = b"stoledger:consent:v1\x00"

NAMESPACE = "identity/"
TAX_ACCOUNT_KEY = "tax_account"


def account_key(account: str) -> str:
    return "account/" + account


def consent_message(chain: str, account: str, by: str, role: str) -> bytes:
    """The bytes an account signs (after CONSENT_DOMAIN) to agree to be registered."""
    return codec.pack({"chain": chain, "account": account, "by": by, "role": role})


def sign_consent(signer: Any, chain: str, by: str, role: str) -> bytes:
    """`consent` for `register`, made with the account's own key (a consensus.crypto.Signer)."""
    return bytes(signer.sign(CONSENT_DOMAIN, consent_message(chain, signer.account, by, role)))


def is_consent(chain: str, account: str, by: str, role: str, consent: Any) -> bool:
    return isinstance(consent, bytes) and verify(
        bytes.fromhex(account), CONSENT_DOMAIN, consent_message(chain, account, by, role),
        consent)


# ---- helpers other contracts use -------------------------------------------------------------

def is_active(record: dict[str, Any] | None) -> bool:
    return record is not None and record.get("status") == "active"


def active_role(record: dict[str, Any] | None) -> str | None:
    """The role an account may act with: None when unregistered or revoked."""
    if record is None or not is_active(record):
        return None
    role = record.get("role")
    return role if isinstance(role, str) else None


def caller_role(ctx: Context) -> str | None:
    return active_role(ctx.identity(ctx.caller))


def require_role(ctx: Context, *roles: str) -> str:
    """The caller's active role if it is one of `roles`; UNAUTHORIZED otherwise.

    The regulator is never among the writing roles: it reads everything and writes nothing.
    """
    role = caller_role(ctx)
    if role is None or role not in roles or role == "regulator":
        raise ChaincodeError("UNAUTHORIZED", f"{ctx.contract}: the caller's role "
                             f"({role or 'none'}) may not do this (needs {' or '.join(roles)})")
    return role


def may_read_account(ctx: Context, account: str, record: dict[str, Any] | None,
                     *extra_roles: str, extra_accounts: tuple[str, ...] = ()) -> bool:
    """The account itself, its broker, the regulator, and the given roles or accounts."""
    if ctx.caller == account or ctx.caller in extra_accounts:
        return True
    role = caller_role(ctx)
    if role == "regulator" or (role is not None and role in extra_roles):
        return True
    return role == "broker" and record is not None and record.get("broker") == ctx.caller


def require_registered_reader(ctx: Context) -> str:
    """Anyone with an active identity record may read (e.g. token info, documents)."""
    role = caller_role(ctx)
    if role is None:
        raise Forbidden("only registered accounts may read this")
    return role


def lookup_record(reader: StateReader, account: str) -> dict[str, Any] | None:
    """The record of `account` straight from committed state (node-internal, no access check)."""
    raw = reader.get(NAMESPACE + account_key(account))
    return None if raw is None else codec.unpack(raw)  # type: ignore[no-any-return]


# ---- attributes ------------------------------------------------------------------------------

def check_attrs(role: str, attrs: Any, *, complete: bool) -> dict[str, Any]:
    """Validate attrs; `complete` requires every investor attribute for an investor."""
    if not isinstance(attrs, dict):
        raise ChaincodeError("BAD_ARGS", "attrs must be a map")
    unknown = sorted(set(attrs) - set(INVESTOR_ATTRS) - set(OPTIONAL_ATTRS))
    if unknown:
        raise ChaincodeError("BAD_ARGS", f"unknown attrs {unknown}")
    if complete and role == "investor":
        missing = [name for name in INVESTOR_ATTRS if name not in attrs]
        if missing:
            raise ChaincodeError("BAD_ARGS", f"an investor needs attrs {missing}")
    checked: dict[str, Any] = {}
    for name in sorted(attrs):
        value = attrs[name]
        if name == "investor_type" and value not in INVESTOR_TYPES:
            raise ChaincodeError("BAD_ARGS", f"investor_type must be one of {INVESTOR_TYPES}")
        if name == "aml_risk" and value not in AML_RISKS:
            raise ChaincodeError("BAD_ARGS", f"aml_risk must be one of {AML_RISKS}")
        if name == "country" and not is_country(value):
            raise ChaincodeError("BAD_ARGS", "country must be an ISO 3166 alpha-2 code (KR)")
        if name == "legal_form" and value not in LEGAL_FORMS:
            raise ChaincodeError("BAD_ARGS", f"legal_form must be one of {LEGAL_FORMS}")
        if name == "insider_of" and (
                not isinstance(value, list) or len(value) > MAX_INSIDER_OF
                or not all(isinstance(item, str) and len(item) == 64
                           and all(c in "0123456789abcdef" for c in item) for item in value)):
            raise ChaincodeError("BAD_ARGS", f"insider_of must be a list of at most "
                                 f"{MAX_INSIDER_OF} account ids")
        if name == "resident" and not isinstance(value, bool):
            raise ChaincodeError("BAD_ARGS", "resident must be true or false")
        if name == "kyc_expires" and (not isinstance(value, int) or isinstance(value, bool)
                                      or not 0 <= value <= MAX_TIME_MS):
            raise ChaincodeError("BAD_ARGS", "kyc_expires must be a time in ms")
        if name == "name":
            require_str("name", value, 128)
        checked[name] = sorted(set(value)) if name == "insider_of" else value
    return checked


def is_country(value: Any) -> bool:
    return (isinstance(value, str) and len(value) == 2
            and all("A" <= c <= "Z" for c in value))


def _require_reason(value: Any) -> str:
    return require_str("reason", value, MAX_REASON_CHARS)


# ---- genesis ---------------------------------------------------------------------------------

def genesis_records(orgs: list[dict[str, str]]) -> dict[str, bytes]:
    """Full state keys -> canonical bytes registering each organisation admin (verified, no
    KYC expiry, `org` = its name). The first org with role `tax` becomes the tax account."""
    state: dict[str, bytes] = {}
    tax: str | None = None
    for org in orgs:
        name, role, account = org.get("name"), org.get("role"), org.get("account")
        if not isinstance(name, str) or not name:
            raise ValueError(f"organisation without a name: {org!r}")
        if role not in ROLES:
            raise ValueError(f"organisation {name}: unknown role {role!r}")
        try:
            require_account("account", account)
        except ChaincodeError as error:
            raise ValueError(f"organisation {name}: {error.message}") from None
        assert isinstance(account, str)
        key = NAMESPACE + account_key(account)
        if key in state:
            raise ValueError(f"organisation {name}: account {account} is listed twice")
        record = new_record(account, role, {}, org=name, broker=None, by="", at=0)
        state[key] = codec.pack(record)
        if role == "tax" and tax is None:
            tax = account
            state[NAMESPACE + TAX_ACCOUNT_KEY] = codec.pack(account)
    return state


def new_record(account: str, role: str, attrs: dict[str, Any], *, org: str | None,
               broker: str | None, by: str, at: int) -> dict[str, Any]:
    return {"account": account, "role": role, "org": org, "broker": broker, "attrs": attrs,
            "status": "active", "registered_by": by, "registered_at": at, "updated_at": at,
            "revoked_reason": None, "recovered_from": None, "recovered_to": None,
            "origin": account}


# ---- the contract ----------------------------------------------------------------------------

class Identity(Contract):
    name = "identity"

    @transaction
    def register(self, ctx: Context, account: Any, role: Any, attrs: Any, consent: Any
                 ) -> dict[str, Any]:
        caller = require_role(ctx, "broker", "registrar")
        account = require_account("account", account)
        if role not in ROLES:
            raise ChaincodeError("BAD_ARGS", f"role must be one of {ROLES}")
        if caller == "broker" and role != "investor":
            raise ChaincodeError("UNAUTHORIZED", "a broker registers investors only")
        checked = check_attrs(role, attrs, complete=True)
        if not isinstance(consent, bytes) or len(consent) != 64:
            raise ChaincodeError("BAD_ARGS", "consent must be 64 bytes (an Ed25519 signature)")
        if not is_consent(ctx.chain_id, account, ctx.caller, role, consent):
            raise ChaincodeError("BAD_CONSENT", "consent is not the account's signature of "
                                 "its registration by this sender in this role on this chain")
        if ctx.state.get(account_key(account)) is not None:
            raise ChaincodeError("ALREADY_REGISTERED", f"{account} is already registered")
        broker = ctx.caller if caller == "broker" else None
        record = new_record(account, role, checked, org=None, broker=broker, by=ctx.caller,
                            at=ctx.time)
        ctx.state.put(account_key(account), record)
        if role == "tax" and ctx.state.get(TAX_ACCOUNT_KEY) is None:
            ctx.state.put(TAX_ACCOUNT_KEY, account)
        ctx.emit("Registered", {"account": account, "role": role, "broker": broker,
                                "by": ctx.caller})
        return record

    @transaction
    def update(self, ctx: Context, account: Any, attrs: Any) -> dict[str, Any]:
        caller = require_role(ctx, "broker", "registrar")
        record = self._managed(ctx, caller, account)
        merged = dict(record["attrs"])
        changes = check_attrs(record["role"], attrs, complete=False)
        if (caller == "broker" and "legal_form" in changes
                and changes["legal_form"] != merged.get("legal_form")):
            raise ChaincodeError("UNAUTHORIZED", "only the registrar may change legal_form: "
                                 "it decides the tax class and the limits of chaincode.fds")
        merged.update(changes)
        record["attrs"] = check_attrs(record["role"], merged, complete=True)
        record["updated_at"] = ctx.time
        ctx.state.put(account_key(record["account"]), record)
        ctx.emit("Updated", {"account": record["account"], "fields": sorted(attrs),
                             "by": ctx.caller})
        return record

    @transaction
    def revoke(self, ctx: Context, account: Any, reason: Any) -> dict[str, Any]:
        caller = require_role(ctx, "broker", "registrar")
        record = self._managed(ctx, caller, account)
        reason = _require_reason(reason)
        record["status"] = "revoked"
        record["revoked_reason"] = reason
        record["updated_at"] = ctx.time
        ctx.state.put(account_key(record["account"]), record)
        ctx.emit("Revoked", {"account": record["account"], "reason": reason, "by": ctx.caller})
        return record

    def _managed(self, ctx: Context, caller: str, account: Any) -> dict[str, Any]:
        """An active record the caller may change (its broker, or the registrar)."""
        account = require_account("account", account)
        record: dict[str, Any] | None = ctx.state.get(account_key(account))
        if record is None:
            raise ChaincodeError("NOT_REGISTERED", f"{account} is not registered")
        if record.get("broker") is not None:  # written back resolved: the record heals
            record["broker"] = _current_broker(ctx, record)
        if caller == "broker" and record.get("broker") != ctx.caller:
            raise ChaincodeError("UNAUTHORIZED", "only the account's own broker may change it")
        if record["status"] != "active":
            raise ChaincodeError("ACCOUNT_REVOKED", f"{account} is revoked")
        return record

    @query
    def get(self, ctx: Context, account: Any) -> dict[str, Any]:
        account = require_account("account", account)
        record = self.record(ctx, account)
        if not may_read_account(ctx, account, record, "registrar"):
            raise Forbidden("only the account, its broker, the registrar and the regulator "
                            "may read an identity record")
        if record is None:
            raise ChaincodeError("NOT_REGISTERED", f"{account} is not registered")
        return record

    @internal
    def record(self, ctx: Context, account: str) -> dict[str, Any] | None:
        """The record, with `broker` resolved to the broker's current key."""
        record = self.facts(ctx, account)
        if record is not None and record.get("broker") is not None:
            record["broker"] = _current_broker(ctx, record)
        return record

    @internal
    def facts(self, ctx: Context, account: str) -> dict[str, Any] | None:
        """The record as stored, `broker` not resolved: for the transfer checks, which never
        read the broker (one state read instead of two)."""
        if not isinstance(account, str) or not account:
            return None
        return ctx.state.get(account_key(account))  # type: ignore[no-any-return]

    @internal
    def is_active_broker(self, ctx: Context, account: str) -> bool:
        """Whether `account`, its key recoveries followed, is a broker that is not revoked (a
        market order placed by a broker that no longer is one does not trade)."""
        return active_role(_current_key(ctx, account)[1]) == "broker"

    @internal
    def tax_account(self, ctx: Context) -> str | None:
        return ctx.state.get(TAX_ACCOUNT_KEY)  # type: ignore[no-any-return]

    @internal
    def recover(self, ctx: Context, old: str, new: str, reason: str) -> dict[str, Any]:
        """`new` takes over `old`'s record; `old` is revoked and points at `new`."""
        record: dict[str, Any] | None = ctx.state.get(account_key(old))
        if record is None:
            raise ChaincodeError("NOT_REGISTERED", f"{old} is not registered")
        if record.get("recovered_to") is not None:
            raise ChaincodeError("ACCOUNT_REVOKED", f"{old} was already recovered to "
                                 f"{record['recovered_to']}")
        if ctx.state.get(account_key(new)) is not None:
            raise ChaincodeError("ALREADY_REGISTERED", f"{new} is already registered")
        # a revoked key is recovered too (revoking a lost key first is the usual practice):
        # the successor is active again, under the registrar's responsibility
        successor = dict(record, account=new, recovered_from=old, updated_at=ctx.time,
                         status="active", revoked_reason=None,
                         origin=record.get("origin") or old)
        ctx.state.put(account_key(new), successor)
        record.update(status="revoked", revoked_reason=reason, recovered_to=new,
                      updated_at=ctx.time)
        ctx.state.put(account_key(old), record)
        if ctx.state.get(TAX_ACCOUNT_KEY) == old:
            ctx.state.put(TAX_ACCOUNT_KEY, new)
        ctx.emit("Revoked", {"account": old, "reason": reason, "by": ctx.caller})
        ctx.emit("Registered", {"account": new, "role": record["role"],
                                "broker": record.get("broker"), "by": ctx.caller,
                                "recovered_from": old})
        return successor


def _current_broker(ctx: Context, record: dict[str, Any]) -> str | None:
    """The registering broker's current key: its `recovered_to` chain followed (bounded)."""
    broker = record.get("broker")
    return None if broker is None else _current_key(ctx, broker)[0]


def _current_key(ctx: Context, account: str) -> tuple[str, dict[str, Any] | None]:
    """(the account's current key, its record): the `recovered_to` chain followed, at most
    MAX_BROKER_HOPS steps."""
    record: dict[str, Any] | None = ctx.state.get(account_key(account))
    for _ in range(MAX_BROKER_HOPS):
        successor = None if record is None else record.get("recovered_to")
        if successor is None:
            return account, record
        account = successor
        record = ctx.state.get(account_key(account))
    return account, record
