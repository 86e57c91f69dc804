"""identity: genesis records, register / update / revoke by role, read access, KYC expiry."""

from __future__ import annotations

import pytest

from chaincode import genesis_state
from chaincode.compliance import is_verified
from chaincode.identity import lookup_record
from chaincode.runtime import ChaincodeError
from consensus import codec
from tests.chaincode.helpers import T0, Chain, account_of, investor


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
        genesis_state([], {"withholding_bps": {"resident": 1400}})


def test_broker_registers_investors_only_and_is_recorded() -> None:
    chain = Chain()
    alice = account_of("alice")
    record = chain.ok("broker-a", "identity", "register", account=alice, role="investor",
                      attrs=investor())
    assert record["broker"] == chain["broker-a"] and record["role"] == "investor"
    chain.fail("UNAUTHORIZED", "broker-a", "identity", "register", account=account_of("x"),
               role="issuer", attrs={})
    chain.fail("ALREADY_REGISTERED", "broker-b", "identity", "register", account=alice,
               role="investor", attrs=investor())


def test_registrar_registers_any_role() -> None:
    chain = Chain()
    issuer = account_of("issuer-9")
    record = chain.ok("ksd", "identity", "register", account=issuer, role="issuer", attrs={})
    assert record["broker"] is None and record["role"] == "issuer"
    events = chain.events("ksd", "identity", "register", account=account_of("inv"),
                          role="investor", attrs=investor())
    assert events == ["Registered"]


@pytest.mark.parametrize("caller", ["fss", "bank", "issuer-1", "tax", "nobody"])
def test_others_may_not_register(caller: str) -> None:
    chain = Chain()
    chain.fail("UNAUTHORIZED", caller, "identity", "register", account=account_of("z"),
               role="investor", attrs=investor())


@pytest.mark.parametrize("attrs", [
    {"investor_type": "general"},  # missing fields
    investor(investor_type="whale"),
    investor(country="Korea"),
    investor(aml_risk="none"),
    dict(investor(), resident="yes"),
    dict(investor(), kyc_expires=-1),
    dict(investor(), favourite_color="red"),
    "not a map",
])
def test_register_rejects_bad_attrs(attrs: object) -> None:
    chain = Chain()
    chain.fail("BAD_ARGS", "broker-a", "identity", "register", account=account_of("z"),
               role="investor", attrs=attrs)


def test_register_rejects_bad_account_and_role() -> None:
    chain = Chain()
    chain.fail("BAD_ARGS", "broker-a", "identity", "register", account="ABC", role="investor",
               attrs=investor())
    chain.fail("BAD_ARGS", "ksd", "identity", "register", account=account_of("z"),
               role="king", attrs={})
    chain.fail("BAD_ARGS", "ksd", "identity", "register", account=account_of("z"))


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
               role="investor", attrs=investor())
    bob = chain.register("bob")
    chain.fail("BAD_ARGS", "ksd", "identity", "revoke", account=bob, reason="")


def test_revoked_broker_loses_its_role() -> None:
    chain = Chain()
    chain.ok("ksd", "identity", "revoke", account=chain["broker-b"], reason="licence lost")
    chain.fail("UNAUTHORIZED", "broker-b", "identity", "register", account=account_of("z"),
               role="investor", attrs=investor())


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
