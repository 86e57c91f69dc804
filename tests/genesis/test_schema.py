"""genesis.schema: a valid document parses; each kind of mistake is refused with an error that
names the field. Each case mutates a valid document (pre), parses it (input) and checks the
error (post)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from genesis import certs
from genesis.builder import Network, build_network
from genesis.schema import (
    ConsensusParams,
    GenesisError,
    check_chaincode,
    load_genesis,
    parse_genesis,
)
from tests.genesis.conftest import BASE_PORT, CHAINCODE_HASHES

Doc = dict[str, Any]


def _cert(name: str, chain_id: str = "other-chain") -> str:
    """A node certificate for `name` from a CA that is not the genesis CA."""
    ca_key, ca_cert = certs.make_ca(chain_id)
    _, cert = certs.make_node_cert(ca_key, ca_cert, name)
    return certs.cert_pem(cert).decode()


def _parent(doc: Doc, path: str) -> tuple[Any, Any]:
    """The container that holds the dotted `path` (list indexes are numbers), and its key."""
    *parents, last = [int(part) if part.isdigit() else part for part in path.split(".")]
    target: Any = doc
    for part in parents:
        target = target[part]
    return target, last


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        target, key = _parent(doc, path)
        target[key] = value
    return mutate


def _delete(path: str) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        target, key = _parent(doc, path)
        del target[key]
    return mutate


def _swap_certs(doc: Doc) -> None:
    first, second = doc["operators"][0], doc["operators"][1]
    first["tls_cert"], second["tls_cert"] = second["tls_cert"], first["tls_cert"]


def _drop_tax(doc: Doc) -> None:
    doc["orgs"] = [org for org in doc["orgs"] if org["role"] != "tax"]


def _duplicate_node(doc: Doc) -> None:
    doc["observers"].append(copy.deepcopy(doc["operators"][0]))


def _copy_field(source: str, target: str) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        value: Any = doc
        for part in source.split("."):
            value = value[int(part) if part.isdigit() else part]
        _set(target, value)(doc)
    return mutate


def _ca_is_a_node_cert(doc: Doc) -> None:
    doc["ca_cert"] = doc["operators"][0]["tls_cert"]


# (case id, mutation, field the error names, words the message contains)
CASES: list[tuple[str, Callable[[Doc], None], str, str]] = [
    ("missing top field", _delete("orgs"), "orgs", "missing field"),
    ("unknown top field", _set("state", {}), "state", "unknown field"),
    ("chain id empty", _set("chain_id", ""), "chain_id", "is not valid"),
    ("chain id with a space", _set("chain_id", "a b"), "chain_id", "is not valid"),
    ("genesis time a string", _set("genesis_time", "2026"), "genesis_time", "must be an integer"),
    ("genesis time a boolean", _set("genesis_time", True), "genesis_time", "not a boolean"),
    ("genesis time negative", _set("genesis_time", -1), "genesis_time", "out of range"),
    ("consensus missing field", _delete("consensus.view_timeout_ms"),
     "consensus.view_timeout_ms", "missing field"),
    ("consensus unknown field", _set("consensus.batch", 1), "consensus.batch", "unknown field"),
    ("consensus zero", _set("consensus.checkpoint_interval", 0),
     "consensus.checkpoint_interval", "out of range"),
    ("consensus too large", _set("consensus.max_block_bytes", 2**40),
     "consensus.max_block_bytes", "out of range"),
    ("window below checkpoint interval", _set("consensus.watermark_window", 8),
     "consensus.watermark_window", "smaller than checkpoint_interval 16"),
    ("view timeout before a block", _set("consensus.view_timeout_ms", 50),
     "consensus.view_timeout_ms", "not longer than max_block_delay_ms"),
    ("ca cert not PEM", _set("ca_cert", "hello"), "ca_cert", "not a PEM certificate"),
    ("ca cert not a CA", _ca_is_a_node_cert, "ca_cert", "not a CA certificate"),
    ("no operators", _set("operators", []), "operators", "no operators"),
    ("n=2", lambda doc: doc["operators"].__delitem__(slice(2, 4)), "operators",
     "n=2 operators is not 3f+1; use 1 or 4"),
    ("operators not a list", _set("operators", {}), "operators", "must be a list"),
    ("node missing field", _delete("operators.1.host"), "operators[1].host", "missing field"),
    ("node unknown field", _set("operators.1.role", "operator"), "operators[1].role",
     "unknown field"),
    ("node name upper case", _set("operators.1.name", "Broker-A"), "operators[1].name",
     "is not valid"),
    ("node name a path", _set("operators.1.name", "../x"), "operators[1].name", "is not valid"),
    ("node org unknown", _set("operators.1.org", "nobody"), "operators[1].org",
     "'nobody' is not an organisation in orgs"),
    ("public key short", _set("operators.2.public_key", "ab" * 31), "operators[2].public_key",
     "64 lowercase hex"),
    ("public key upper case", lambda doc: _set(
        "operators.2.public_key", doc["operators"][2]["public_key"].upper())(doc),
     "operators[2].public_key", "64 lowercase hex"),
    ("public key not hex", _set("operators.2.public_key", "zz" * 32), "operators[2].public_key",
     "64 lowercase hex"),
    ("tls cert garbage", _set("operators.3.tls_cert", "-----BEGIN CERTIFICATE-----\nAAAA\n"
                              "-----END CERTIFICATE-----\n"), "operators[3].tls_cert",
     "not a PEM certificate"),
    ("tls cert not a string", _set("operators.3.tls_cert", 7), "operators[3].tls_cert",
     "must be a PEM string"),
    ("tls cert from another CA", _set("operators.0.tls_cert", _cert("ksd")),
     "operators[0].tls_cert", "the certificate of 'ksd' is not signed by ca_cert"),
    # Same CA name as the genesis CA, different key: the issuer matches, the signature not.
    ("tls cert from a look-alike CA", _set("operators.0.tls_cert",
                                           _cert("ksd", "stoledger-local")),
     "operators[0].tls_cert", "the certificate of 'ksd' is not signed by ca_cert"),
    ("tls cert of another node", _swap_certs, "operators[0].tls_cert",
     "common name 'broker-a' is not the node's name 'ksd'"),
    ("observer cert from another CA", _set("observers.0.tls_cert", _cert("fss")),
     "observers[0].tls_cert", "not signed by ca_cert"),
    ("host empty", _set("operators.1.host", ""), "operators[1].host", "is not valid"),
    ("port zero", _set("operators.1.p2p_port", 0), "operators[1].p2p_port", "out of range"),
    ("port too large", _set("operators.1.rpc_port", 65_536), "operators[1].rpc_port",
     "out of range"),
    ("port a boolean", _set("operators.1.rpc_port", True), "operators[1].rpc_port",
     "must be an integer"),
    ("duplicate node name", _duplicate_node, "observers[1].name",
     "'ksd' is already the name of operators[0]"),
    ("duplicate operator key", _copy_field("operators.0.public_key", "operators.1.public_key"),
     "operators[1].public_key", "already the key of operators[0] (ksd)"),
    ("observer reuses an operator key", _copy_field("operators.2.public_key",
                                                    "observers.0.public_key"),
     "observers[0].public_key", "already the key of operators[2] (broker-b)"),
    ("node key is an admin key", _copy_field("orgs.0.account", "operators.0.public_key"),
     "operators[0].public_key", "equals the admin account of organisation 'ksd'"),
    ("two nodes on one address", _copy_field("operators.0.p2p_port", "operators.1.rpc_port"),
     "operators[1].rpc_port", f"127.0.0.1:{BASE_PORT + 1} is already used by "
     "operators[0].p2p_port (ksd)"),
    ("orgs not a list", _set("orgs", "ksd"), "orgs", "must be a list"),
    ("org missing field", _delete("orgs.3.account"), "orgs[3].account", "missing field"),
    ("org unknown role", _set("orgs.5.role", "king"), "orgs[5].role", "unknown role 'king'"),
    ("org duplicate name", _copy_field("orgs.2.name", "orgs.3.name"), "orgs[3].name",
     "'broker-a' is already orgs[2]"),
    ("org duplicate account", _copy_field("orgs.2.account", "orgs.3.account"), "orgs[3].account",
     "already the account of orgs[2] (broker-a)"),
    ("org account bad hex", _set("orgs.3.account", "00"), "orgs[3].account", "64 lowercase hex"),
    ("no tax organisation", _drop_tax, "orgs", "no organisation has role 'tax'"),
    ("chaincode not an object", _set("chaincode", []), "chaincode", "must be an object"),
    ("chaincode without runtime", _delete("chaincode.runtime"), "chaincode.runtime",
     "missing field"),
    ("chaincode bad hash", _set("chaincode.token", "abc"), "chaincode.token", "sha256"),
    ("params missing limit", _delete("params.general_investor_annual_limit"),
     "params.general_investor_annual_limit", "missing field"),
    ("withholding over 100%", _set("params.withholding_bps.resident_individual", 10_001),
     "params.withholding_bps.resident_individual", "out of range"),
    ("withholding class missing", _delete("params.withholding_bps.foreign_corporation"),
     "params.withholding_bps.foreign_corporation", "missing field"),
    ("param with a float", _set("params.rate", 0.5), "params", "no canonical encoding"),
]


@pytest.mark.parametrize(("mutate", "field", "words"), [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_invalid_document_is_refused(document: Doc, mutate: Callable[[Doc], None],
                                     field: str, words: str) -> None:
    mutate(document)
    with pytest.raises(GenesisError) as caught:
        parse_genesis(document)
    assert caught.value.field == field
    assert words in caught.value.message
    assert str(caught.value).startswith(f"{field}: ")


def test_document_must_be_an_object() -> None:
    with pytest.raises(GenesisError, match="must be an object, not a list"):
        parse_genesis([])


def test_n_5_is_not_3f_plus_1() -> None:
    document = copy.deepcopy(build_network(7, base_port=BASE_PORT,
                                           chaincode_hashes=CHAINCODE_HASHES).genesis.document)
    del document["operators"][5:]
    with pytest.raises(GenesisError) as caught:
        parse_genesis(document)
    assert caught.value.field == "operators"
    assert "n=5 operators is not 3f+1; use 4 or 7" in caught.value.message


def test_valid_document_parses(network: Network) -> None:
    genesis = parse_genesis(network.genesis.document)
    assert genesis == network.genesis
    assert genesis.chain_id == "stoledger-local"
    assert genesis.consensus == ConsensusParams()
    assert genesis.chaincode == CHAINCODE_HASHES
    assert [org.name for org in genesis.orgs] == ["ksd", "fss", "broker-a", "broker-b", "bank",
                                                   "issuer-1", "tax"]


def test_quorum_arithmetic() -> None:
    for n, f in ((1, 0), (4, 1), (7, 2)):
        genesis = build_network(n, base_port=BASE_PORT, chaincode_hashes=CHAINCODE_HASHES).genesis
        assert (genesis.n, genesis.f, genesis.quorum) == (n, f, 2 * f + 1)


def test_lookups(network: Network) -> None:
    genesis = network.genesis
    names = ["ksd", "broker-a", "broker-b", "bank"]
    keys = [network.node_signers[name].public_key for name in names]
    assert list(genesis.operator_keys().items()) == list(zip(names, keys, strict=True))
    assert genesis.operator_tuples() == tuple(zip(names, keys, strict=True))
    assert [genesis.primary(view) for view in range(5)] == [*names, "ksd"]
    assert genesis.node("fss") is genesis.observers[0]
    assert genesis.node("bank") is genesis.operators[3]
    assert genesis.is_operator("bank") and not genesis.is_observer("bank")
    assert genesis.is_observer("fss") and not genesis.is_operator("fss")
    assert not genesis.is_operator("tax") and not genesis.is_observer("tax")
    assert genesis.org("tax").role == "tax"
    assert genesis.org("fss").account == network.org_signers["fss"].account
    assert [org.__dict__ for org in genesis.orgs] == genesis.org_records()  # used by node/
    assert genesis.observers[0].rpc_url == f"http://127.0.0.1:{BASE_PORT + 8}"
    with pytest.raises(GenesisError, match="'tax' is neither an operator nor an observer"):
        genesis.node("tax")
    with pytest.raises(GenesisError, match="'nobody' is not an organisation"):
        genesis.org("nobody")


def test_org_records_feed_the_chaincode(network: Network,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import chaincode

    calls = []

    def genesis_state(orgs: list[dict[str, str]], params: dict[str, Any]) -> dict[str, bytes]:
        calls.append((orgs, params))
        return {"k": b"v"}

    monkeypatch.setattr(chaincode, "genesis_state", genesis_state)
    assert network.genesis.initial_state() == {"k": b"v"}
    orgs, params = calls[0]
    assert orgs[0] == {"name": "ksd", "role": "registrar",
                       "account": network.org_signers["ksd"].account}
    assert len(orgs) == 7
    assert params == network.genesis.params


def test_parsed_genesis_does_not_share_the_input(document: Doc) -> None:
    genesis = parse_genesis(document)
    before = genesis.hash
    document["chain_id"] = "changed"
    document["params"]["general_investor_annual_limit"] = 1
    assert genesis.document["chain_id"] == "stoledger-local"
    assert genesis.params["general_investor_annual_limit"] != 1
    assert parse_genesis(genesis.document).hash == before


def test_hash_is_of_the_content_not_the_layout(document: Doc, tmp_path: Path) -> None:
    compact = tmp_path / "compact.json"
    compact.write_text(json.dumps(dict(reversed(list(document.items()))),
                                  separators=(",", ":")))
    assert load_genesis(compact).hash == parse_genesis(document).hash
    document["genesis_time"] += 1
    assert parse_genesis(document).hash != load_genesis(compact).hash


def test_load_genesis_refuses_floats_duplicates_and_garbage(document: Doc,
                                                            tmp_path: Path) -> None:
    path = tmp_path / "genesis.json"
    text = json.dumps(document)
    path.write_text(text.replace('"genesis_time": 1767225600000', '"genesis_time": 1.5'))
    with pytest.raises(GenesisError, match=r"number 1\.5 is not an integer"):
        load_genesis(path)
    path.write_text(text.replace('"genesis_time": 1767225600000',
                                 '"genesis_time": 1767225600000, "genesis_time": 0'))
    with pytest.raises(GenesisError, match="genesis_time: appears twice"):
        load_genesis(path)
    path.write_text(text[:-10])
    with pytest.raises(GenesisError, match="is not valid JSON"):
        load_genesis(path)
    with pytest.raises(GenesisError, match="cannot read genesis"):
        load_genesis(tmp_path / "missing.json")


def test_check_chaincode_names_each_difference(network: Network) -> None:
    genesis = network.genesis
    check_chaincode(genesis, dict(CHAINCODE_HASHES))  # the same code: no error
    local = dict(CHAINCODE_HASHES, token="ff" * 32, extra="ee" * 32)
    del local["dividend"]
    with pytest.raises(GenesisError) as caught:
        check_chaincode(genesis, local)
    assert caught.value.field == "chaincode"
    assert caught.value.message == (
        "this node's chaincode differs from genesis: "
        "dividend (genesis 050505050505..., local missing); "
        "extra (genesis missing, local eeeeeeeeeeee...); "
        "token (genesis 030303030303..., local ffffffffffff...)")
