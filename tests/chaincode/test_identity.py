"""identity: genesis records, register / update / revoke by role, read access, KYC expiry."""

from __future__ import annotations

import pytest

from chaincode import genesis_state
from chaincode.compliance import is_verified
from chaincode.identity import CONSENT_DOMAIN, consent_message, lookup_record
from chaincode.runtime import ChaincodeError
from consensus import codec
from tests.chaincode.helpers import (
    CHAIN_ID,
    T0,
    Chain,
    account_of,
    consent,
    investor,
    signer_of,
)


def test_genesis_registers_each_org_admin_verified_with_its_org() -> None:
    chain = Chain()
    record = lookup_record(chain.state, chain["ksd"])
    assert record is not None
    assert (record["role"], record["org"], record["status"]) == ("registrar", "ksd", "active")
    assert record["attrs"] == {}
    assert is_verified(record, T0 + 10**12)  # no KYC expiry for org admins
    tax = codec.unpack(chain.state.values["identity/tax_account"])
    assert tax == chain["tax"]


def test_genesis_rejects_bad_orgs() -> None:
    with pytest.raises(ValueError, match="unknown role"):
        genesis_state([{"name": "x", "role": "king", "account": account_of("x")}])
    with pytest.raises(ValueError, match="account id"):
        genesis_state([{"name": "x", "role": "bank", "account": "ABC"}])
    twice = {"name": "x", "role": "bank", "account": account_of("x")}
    with pytest.raises(ValueError, match="twice"):
        genesis_state([twice, dict(twice, name="y")])
    with pytest.raises(ValueError, match="withholding_bps"):
        genesis_state([], {"withholding_bps": {"resident": 1400, "non_resident": 2000,
                                               "corporate": 0}})  # the old classes


def test_broker_registers_investors_only_and_is_recorded() -> None:
    chain = Chain()
    alice = account_of("alice")
    record = chain.ok("broker-a", "identity", "register", account=alice, role="investor",
                      attrs=investor(), consent=consent("alice", chain["broker-a"]))
    assert record["broker"] == chain["broker-a"] and record["role"] == "investor"
    chain.fail("UNAUTHORIZED", "broker-a", "identity", "register", account=account_of("x"),
               role="issuer", attrs={}, consent=consent("x", chain["broker-a"], "issuer"))
    chain.fail("ALREADY_REGISTERED", "broker-b", "identity", "register", account=alice,
               role="investor", attrs=investor(), consent=consent("alice", chain["broker-b"]))


def test_registrar_registers_any_role() -> None:
    chain = Chain()
    issuer = account_of("issuer-9")
    record = chain.ok("ksd", "identity", "register", account=issuer, role="issuer", attrs={},
                      consent=consent("issuer-9", chain["ksd"], "issuer"))
    assert record["broker"] is None and record["role"] == "issuer"
    events = chain.events("ksd", "identity", "register", account=account_of("inv"),
                          role="investor", attrs=investor(), consent=consent("inv", chain["ksd"]))
    assert events == ["Registered"]


@pytest.mark.parametrize("caller", ["fss", "bank", "issuer-1", "tax", "nobody"])
def test_others_may_not_register(caller: str) -> None:
    chain = Chain()
    chain.fail("UNAUTHORIZED", caller, "identity", "register", account=account_of("z"),
               role="investor", attrs=investor(), consent=consent("z", chain[caller]))


@pytest.mark.parametrize("attrs", [
    {"investor_type": "general"},  # missing fields
    investor(investor_type="whale"),
    investor(country="Korea"),
    investor(aml_risk="none"),
    investor(legal_form="trust"),
    {k: v for k, v in investor().items() if k != "legal_form"},
    dict(investor(), insider_of=["not an account"]),
    dict(investor(), resident="yes"),
    dict(investor(), kyc_expires=-1),
    dict(investor(), favourite_color="red"),
    "not a map",
])
def test_register_rejects_bad_attrs(attrs: object) -> None:
    chain = Chain()
    chain.fail("BAD_ARGS", "broker-a", "identity", "register", account=account_of("z"),
               role="investor", attrs=attrs, consent=consent("z", chain["broker-a"]))


def test_register_rejects_bad_account_and_role() -> None:
    chain = Chain()
    chain.fail("BAD_ARGS", "broker-a", "identity", "register", account="ABC", role="investor",
               attrs=investor(), consent=bytes(64))
    chain.fail("BAD_ARGS", "ksd", "identity", "register", account=account_of("z"),
               role="king", attrs={}, consent=consent("z", chain["ksd"], "king"))
    chain.fail("BAD_ARGS", "ksd", "identity", "register", account=account_of("z"))
    chain.fail("BAD_ARGS", "ksd", "identity", "register", account=account_of("z"),
               role="investor", attrs=investor())  # no consent at all
    chain.fail("BAD_ARGS", "ksd", "identity", "register", account=account_of("z"),
               role="investor", attrs=investor(), consent=consent("z", chain["ksd"]).hex())


def test_register_needs_the_accounts_own_consent() -> None:
    """#13 item 7 (broker squatting). Pre: alice asked broker-a to register her, and
    broker-b, which saw that consent, tries to register alice's key itself. Tx: every
    consent that is not alice's signature of (chain, alice, this sender, this role).
    Post: BAD_CONSENT each time and no record; broker-a's registration with alice's consent
    succeeds."""
    chain = Chain()
    alice, broker_a, broker_b = account_of("alice"), chain["broker-a"], chain["broker-b"]
    for_broker_a = consent("alice", broker_a)
    bad = {
        "seen and replayed by another broker": ("broker-b", for_broker_a),
        "signed by the broker, not the account": (
            "broker-b", sign_as("broker-b", alice, broker_b, "investor")),
        "another chain": ("broker-a", signer_of("alice").sign(
            CONSENT_DOMAIN, consent_message("other-chain", alice, broker_a, "investor"))),
        "another role": ("broker-a", consent("alice", broker_a, "issuer")),
        "no domain prefix": ("broker-a", signer_of("alice").sign(
            b"", consent_message(CHAIN_ID, alice, broker_a, "investor"))),
        "zeros": ("broker-a", bytes(64)),
    }
    for why, (broker, signature) in bad.items():
        outcome = chain.fail("BAD_CONSENT", broker, "identity", "register", account=alice,
                             role="investor", attrs=investor(), consent=signature)
        assert outcome.error is not None, why
        assert lookup_record(chain.state, alice) is None, why
    record = chain.ok("broker-a", "identity", "register", account=alice, role="investor",
                      attrs=investor(), consent=for_broker_a)
    assert record["broker"] == broker_a


def sign_as(name: str, account: str, by: str, role: str) -> bytes:
    return signer_of(name).sign(CONSENT_DOMAIN, consent_message(CHAIN_ID, account, by, role))


def test_investors_follow_their_brokers_key_recovery() -> None:
    """#12 item 4. Pre: broker-b registered erin. Tx: the registrar recovers broker-b's key to
    a new key. Post: the new key reads and updates erin (it was UNAUTHORIZED / FORBIDDEN), the
    old key can do neither, and erin's record names the new key as its broker."""
    chain = Chain()
    erin = chain.register("erin", broker="broker-b")
    new_key = account_of("broker-b-2")
    chain.ok("ksd", "token", "recover", old=chain["broker-b"], new=new_key, reason="lost HSM")
    chain.accounts["broker-b-2"] = new_key
    assert chain.query("broker-b-2", "identity", "get", account=erin)["broker"] == new_key
    record = chain.ok("broker-b-2", "identity", "update", account=erin,
                      attrs={"aml_risk": "medium"})
    assert record["attrs"]["aml_risk"] == "medium" and record["broker"] == new_key
    chain.fail("UNAUTHORIZED", "broker-b", "identity", "update", account=erin,
               attrs={"aml_risk": "low"})
    with pytest.raises(ChaincodeError) as caught:
        chain.query("broker-b", "identity", "get", account=erin)
    assert caught.value.code == "FORBIDDEN"
    # and the new key registers new investors as the broker
    chain.register("fay", broker="broker-b-2")


def test_update_by_own_broker_or_registrar_merges_attrs() -> None:
    chain = Chain()
    alice = chain.register("alice")
    record = chain.ok("broker-a", "identity", "update", account=alice,
                      attrs={"aml_risk": "medium"})
    assert record["attrs"]["aml_risk"] == "medium" and record["attrs"]["country"] == "KR"
    assert chain.events("ksd", "identity", "update", account=alice,
                        attrs={"country": "JP"}) == ["Updated"]
    chain.fail("UNAUTHORIZED", "broker-b", "identity", "update", account=alice,
               attrs={"aml_risk": "low"})
    chain.fail("UNAUTHORIZED", "fss", "identity", "update", account=alice,
               attrs={"aml_risk": "low"})
    chain.fail("NOT_REGISTERED", "ksd", "identity", "update", account=account_of("ghost"),
               attrs={})
    chain.fail("BAD_ARGS", "ksd", "identity", "update", account=alice,
               attrs={"aml_risk": "extreme"})


def test_revoke_then_no_more_changes() -> None:
    chain = Chain()
    alice = chain.register("alice")
    chain.fail("UNAUTHORIZED", "broker-b", "identity", "revoke", account=alice, reason="x")
    record = chain.ok("broker-a", "identity", "revoke", account=alice, reason="closed")
    assert record["status"] == "revoked" and record["revoked_reason"] == "closed"
    chain.fail("ACCOUNT_REVOKED", "ksd", "identity", "revoke", account=alice, reason="again")
    chain.fail("ACCOUNT_REVOKED", "ksd", "identity", "update", account=alice, attrs={})
    chain.fail("ALREADY_REGISTERED", "broker-a", "identity", "register", account=alice,
               role="investor", attrs=investor(), consent=consent("alice", chain["broker-a"]))
    bob = chain.register("bob")
    chain.fail("BAD_ARGS", "ksd", "identity", "revoke", account=bob, reason="")


def test_revoked_broker_loses_its_role() -> None:
    chain = Chain()
    chain.ok("ksd", "identity", "revoke", account=chain["broker-b"], reason="licence lost")
    chain.fail("UNAUTHORIZED", "broker-b", "identity", "register", account=account_of("z"),
               role="investor", attrs=investor(), consent=consent("z", chain["broker-b"]))


def test_get_read_access() -> None:
    chain = Chain()
    alice = chain.register("alice")
    erin = chain.register("erin", broker="broker-b")
    for reader in ("alice", "broker-a", "ksd", "fss"):
        assert chain.query(reader, "identity", "get", account=alice)["account"] == alice
    for reader in ("broker-b", "bank", "issuer-1", "tax", "erin", "nobody"):
        with pytest.raises(ChaincodeError) as caught:
            chain.query(reader, "identity", "get", account=alice)
        assert caught.value.code == "FORBIDDEN"
    assert chain.query("broker-b", "identity", "get", account=erin)["broker"] == chain["broker-b"]
    with pytest.raises(ChaincodeError) as caught:
        chain.query("ksd", "identity", "get", account=account_of("ghost"))
    assert caught.value.code == "NOT_REGISTERED"


def test_record_is_internal_only() -> None:
    chain = Chain()
    with pytest.raises(ChaincodeError) as caught:
        chain.query("ksd", "identity", "record", account=chain["ksd"])
    assert caught.value.code == "UNKNOWN_METHOD"
    chain.fail("UNKNOWN_METHOD", "ksd", "identity", "record", account=chain["ksd"])


def test_kyc_expiry_makes_an_investor_unverified() -> None:
    chain = Chain()
    chain.register("alice", kyc_expires=T0 + 5_000)
    record = lookup_record(chain.state, chain["alice"])
    assert is_verified(record, T0 + 4_999)
    assert not is_verified(record, T0 + 5_000)
