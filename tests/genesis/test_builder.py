"""genesis.builder: `init_network` writes the folder PROTOCOL.md ("The demo network") describes,
with the right contents and permissions, and the files read back into a working node setup."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import ssl
import stat
import tomllib
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from consensus.crypto import Signer
from genesis import certs
from genesis.builder import (
    ConfigError,
    NodeConfig,
    Placement,
    build_network,
    check_node,
    init_network,
    load_config,
    load_keyfile,
    load_node,
    operator_names,
)
from genesis.schema import Genesis, GenesisError, load_genesis
from tests.genesis.conftest import CHAINCODE_HASHES

ORGS = {"ksd": "registrar", "fss": "regulator", "broker-a": "broker", "broker-b": "broker",
        "bank": "bank", "issuer-1": "issuer", "tax": "tax"}
NODE_FILES = {"config.toml", "node_key.json", "tls.crt", "tls.key", "data"}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _init(directory: Path, n: int = 4, observer: bool = False, **options: Any) -> Genesis:
    return init_network(directory, n, observer, chaincode_hashes=CHAINCODE_HASHES, **options)


@pytest.mark.parametrize(("n", "observer", "operators"), [
    (1, False, ["ksd"]),
    (4, False, ["ksd", "broker-a", "broker-b", "bank"]),
    (4, True, ["ksd", "broker-a", "broker-b", "bank"]),
    (7, True, ["ksd", "broker-a", "broker-b", "bank", "op-4", "op-5", "op-6"]),
])
def test_network_folder(tmp_path: Path, n: int, observer: bool, operators: list[str]) -> None:
    directory = tmp_path / "net"
    genesis = _init(directory, n, observer)
    observers = ["fss"] if observer else []
    orgs = dict(ORGS, **{name: "operator" for name in operators if name not in ORGS})

    # Exactly the files PROTOCOL.md lists, and no more.
    assert {p.name for p in directory.iterdir()} == {"genesis.json", "ca.crt", "ca.key",
                                                     "nodes", "keys", "cluster.json"}
    assert {p.name for p in (directory / "nodes").iterdir()} == set(operators + observers)
    assert {p.name for p in (directory / "keys").iterdir()} == {f"{org}.json" for org in orgs}

    # genesis.json: operators in primary order, observers, organisations.
    assert load_genesis(directory / "genesis.json") == genesis
    document = json.loads((directory / "genesis.json").read_text())
    assert document == genesis.document
    assert [node["name"] for node in document["operators"]] == operators
    assert [node["name"] for node in document["observers"]] == observers
    assert {org["name"]: org["role"] for org in document["orgs"]} == orgs
    assert (genesis.n, genesis.f) == (n, (n - 1) // 3)
    assert document["genesis_time"] == 1_767_225_600_000
    assert document["chaincode"] == CHAINCODE_HASHES
    assert {node.name: node.org for node in genesis.operators} == {o: o for o in operators}

    # The CA.
    ca = certs.load_cert((directory / "ca.crt").read_text())
    assert (directory / "ca.crt").read_text() == genesis.ca_cert
    assert _mode(directory / "ca.key") == 0o600
    ca_key = certs.load_key((directory / "ca.key").read_bytes())
    assert ca_key.public_key() == ca.public_key()

    # One folder per node.
    for role, names in (("operator", operators), ("observer", observers)):
        for name in names:
            _check_node_folder(directory, genesis, ca, name, role)

    # One admin key per organisation, not shared with any node.
    node_keys = {node.public_key for node in genesis.operators + genesis.observers}
    for org in genesis.orgs:
        path = directory / "keys" / f"{org.name}.json"
        assert _mode(path) == 0o600
        content = json.loads(path.read_text())
        assert set(content) == {"account", "secret"}
        assert Signer(bytes.fromhex(content["secret"])).account == content["account"]
        assert content["account"] == org.account
        assert load_keyfile(path).account == org.account
        assert bytes.fromhex(org.account) not in node_keys

    # cluster.json
    cluster = json.loads((directory / "cluster.json").read_text())
    assert cluster == {"chain_id": "stoledger-local", "nodes": [
        {"name": node.name, "role": role, "rpc": f"http://127.0.0.1:{node.rpc_port}",
         "pid": None}
        for role, nodes in (("operator", genesis.operators), ("observer", genesis.observers))
        for node in nodes]}


def _check_node_folder(directory: Path, genesis: Genesis, ca: x509.Certificate, name: str,
                       role: str) -> None:
    folder = directory / "nodes" / name
    node = genesis.node(name)
    assert {p.name for p in folder.iterdir()} == NODE_FILES
    assert list((folder / "data").iterdir()) == []

    raw = tomllib.loads((folder / "config.toml").read_text())
    assert raw == {"name": name, "role": role, "genesis": "../../genesis.json",
                   "key": "node_key.json", "tls_cert": "tls.crt", "tls_key": "tls.key",
                   "ca_cert": "../../ca.crt", "data_dir": "data", "rpc_host": "127.0.0.1",
                   "rpc_port": node.rpc_port, "p2p_host": "127.0.0.1", "p2p_port": node.p2p_port}
    config = load_config(folder / "config.toml")
    assert config == NodeConfig(
        path=folder / "config.toml", name=name, role=role, genesis=directory / "genesis.json",
        key=folder / "node_key.json", tls_cert=folder / "tls.crt", tls_key=folder / "tls.key",
        ca_cert=directory / "ca.crt", data_dir=folder / "data", rpc_host="127.0.0.1",
        rpc_port=node.rpc_port, p2p_host="127.0.0.1", p2p_port=node.p2p_port)

    assert _mode(folder / "node_key.json") == 0o600
    key = json.loads((folder / "node_key.json").read_text())
    assert set(key) == {"name", "public_key", "secret"}
    assert key["name"] == name
    assert key["public_key"] == node.public_key.hex()
    assert Signer(bytes.fromhex(key["secret"])).public_key == node.public_key

    assert _mode(folder / "tls.key") == 0o600
    cert = certs.load_cert((folder / "tls.crt").read_text())
    assert (folder / "tls.crt").read_text() == node.tls_cert
    cert.verify_directly_issued_by(ca)
    assert certs.common_name(cert) == name
    assert certs.load_key((folder / "tls.key").read_bytes()).public_key() == cert.public_key()

    loaded_config, loaded_genesis, signer, info = load_node(folder / "config.toml")
    assert (loaded_config, loaded_genesis, info) == (config, genesis, node)
    assert signer.public_key == node.public_key


def test_n_must_be_3f_plus_1(tmp_path: Path) -> None:
    for n in (0, 2, 3, 5, -1):
        with pytest.raises(GenesisError, match=r"^n: .* is not 3f\+1 \(1, 4, 7, 10, \.\.\.\)"):
            _init(tmp_path / f"net{n}", n)
        assert not (tmp_path / f"net{n}").exists()
    with pytest.raises(GenesisError, match="more than the limit 100"):
        operator_names(103)
    assert operator_names(10)[4:] == ("op-4", "op-5", "op-6", "op-7", "op-8", "op-9")


def test_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(GenesisError, match="is not empty; refusing"):
        _init(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    with pytest.raises(GenesisError, match="exists and is not a folder"):
        _init(tmp_path / "notes.txt")
    (tmp_path / "empty").mkdir()
    _init(tmp_path / "empty", 1)  # an existing empty folder is fine
    with pytest.raises(GenesisError, match="is not empty"):
        _init(tmp_path / "empty", 1)  # and a second init over it is refused


def test_free_ports_are_distinct(tmp_path: Path) -> None:
    genesis = _init(tmp_path / "net", 7, observer=True)
    nodes = genesis.operators + genesis.observers
    ports = [port for node in nodes for port in (node.rpc_port, node.p2p_port)]
    assert len(ports) == 16
    assert len(set(ports)) == 16
    assert all(1 <= port <= 65_535 for port in ports)


def test_fixed_base_port(tmp_path: Path) -> None:
    genesis = _init(tmp_path / "net", 4, observer=True, base_port=30_000)
    nodes = genesis.operators + genesis.observers
    assert [(node.rpc_port, node.p2p_port) for node in nodes] == [
        (30_000 + 2 * i, 30_001 + 2 * i) for i in range(5)]
    with pytest.raises(GenesisError, match="base_port: 65530 leaves no room for 8 ports"):
        _init(tmp_path / "other", 4, base_port=65_530)


def test_options_reach_the_document(tmp_path: Path) -> None:
    genesis = _init(tmp_path / "net", 1, chain_id="stoledger-test", host="localhost",
                    genesis_time=1_700_000_000_000, base_port=40_000,
                    params={"general_investor_annual_limit": 5})
    assert genesis.chain_id == "stoledger-test"
    assert genesis.genesis_time == 1_700_000_000_000
    assert genesis.operators[0].host == "localhost"
    assert genesis.params["general_investor_annual_limit"] == 5
    assert genesis.params["withholding_bps"] == {
        "resident_individual": 1400, "non_resident_individual": 2000,
        "domestic_corporation": 0, "foreign_corporation": 2000}
    cluster = json.loads((tmp_path / "net" / "cluster.json").read_text())
    assert cluster["chain_id"] == "stoledger-test"
    assert cluster["nodes"][0]["rpc"] == "http://localhost:40000"


def test_placements_split_the_dialed_address_from_the_listening_one(tmp_path: Path) -> None:
    """A node placed behind a relay: genesis (what peers dial, what its certificate names)
    lists the relay's address, its config makes it listen on its own, and cluster.json sends
    clients to its own."""
    placements = [Placement(f"10.9.9.{100 + i}", f"10.9.9.{10 + i}", 7000, 7001)
                  for i in range(5)]
    genesis = _init(tmp_path / "net", 4, observer=True, placements=placements)
    nodes = genesis.operators + genesis.observers
    assert [(node.host, node.rpc_port, node.p2p_port) for node in nodes] == [
        (f"10.9.9.{100 + i}", 7000, 7001) for i in range(5)]
    cluster = json.loads((tmp_path / "net" / "cluster.json").read_text())
    for index, node in enumerate(nodes):
        config = load_config(tmp_path / "net" / "nodes" / node.name / "config.toml")
        assert (config.rpc_host, config.p2p_host) == (f"10.9.9.{10 + index}",) * 2
        assert (config.rpc_port, config.p2p_port) == (7000, 7001)
        assert cluster["nodes"][index]["rpc"] == f"http://10.9.9.{10 + index}:7000"
        names = certs.load_cert(node.tls_cert).extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value
        assert ipaddress.ip_address(node.host) in names.get_values_for_type(x509.IPAddress)
    with pytest.raises(GenesisError, match="placements: 2 placements for 4 nodes"):
        _init(tmp_path / "other", 4, placements=placements[:2])
    with pytest.raises(GenesisError, match="base_port"):
        _init(tmp_path / "third", 4, placements=placements[:4], base_port=9000)


def test_default_chaincode_hashes_come_from_the_registry(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    import chaincode

    seen = []

    class Registry:
        def source_hashes(self) -> dict[str, str]:
            return dict(CHAINCODE_HASHES, token="ab" * 32)

    def builtin_registry(params: dict[str, object]) -> Registry:
        seen.append(params)
        return Registry()

    monkeypatch.setattr(chaincode, "builtin_registry", builtin_registry)
    genesis = build_network(1, base_port=20_000, params={"general_investor_annual_limit": 7})
    assert genesis.genesis.chaincode["token"] == "ab" * 32
    assert seen == [genesis.genesis.params]
    assert seen[0]["general_investor_annual_limit"] == 7


def test_builds_are_reproducible_apart_from_keys() -> None:
    first = build_network(4, base_port=20_000, chaincode_hashes=CHAINCODE_HASHES).genesis
    second = build_network(4, base_port=20_000, chaincode_hashes=CHAINCODE_HASHES).genesis
    assert first.genesis_time == second.genesis_time
    assert first.operator_keys() != second.operator_keys()
    keys = ("public_key", "tls_cert")

    def strip(genesis: Genesis) -> list[dict[str, object]]:
        return [{k: v for k, v in node.to_json().items() if k not in keys}
                for node in genesis.operators]

    assert strip(first) == strip(second)


def _handshake(server: ssl.SSLObject, client: ssl.SSLObject, server_in: ssl.MemoryBIO,
               server_out: ssl.MemoryBIO, client_in: ssl.MemoryBIO,
               client_out: ssl.MemoryBIO) -> None:
    """Run a TLS handshake between two in-memory endpoints (no sockets, no waiting)."""
    done = {"server": False, "client": False}
    for _ in range(10):  # a TLS 1.3 handshake needs two or three rounds
        for side, endpoint in (("client", client), ("server", server)):
            if not done[side]:
                try:
                    endpoint.do_handshake()
                    done[side] = True
                except ssl.SSLWantReadError:
                    pass
        server_in.write(client_out.read())
        client_in.write(server_out.read())
        if all(done.values()):
            return
    raise AssertionError("handshake did not finish")


def _tls_pair(directory: Path, server: str, client: str, client_cert: Path | None = None,
              client_key: Path | None = None) -> tuple[ssl.SSLObject, ssl.SSLObject]:
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(directory / "nodes" / server / "tls.crt",
                                   directory / "nodes" / server / "tls.key")
    server_context.load_verify_locations(directory / "ca.crt")
    server_context.verify_mode = ssl.CERT_REQUIRED
    client_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_context.load_cert_chain(client_cert or directory / "nodes" / client / "tls.crt",
                                   client_key or directory / "nodes" / client / "tls.key")
    client_context.load_verify_locations(directory / "ca.crt")
    bios = [ssl.MemoryBIO() for _ in range(4)]
    server_end = server_context.wrap_bio(bios[0], bios[1], server_side=True)
    client_end = client_context.wrap_bio(bios[2], bios[3], server_hostname="127.0.0.1")
    _handshake(server_end, client_end, *bios)
    return server_end, client_end


def _peer_common_name(endpoint: ssl.SSLObject) -> str:
    peer = endpoint.getpeercert()
    assert peer is not None
    names = {str(pair[0]): str(pair[1]) for rdn in peer["subject"] for pair in rdn}
    return names["commonName"]


def test_mutual_tls_between_nodes(tmp_path: Path) -> None:
    directory = tmp_path / "net"
    _init(directory, 4, observer=True)
    server, client = _tls_pair(directory, "ksd", "fss")
    assert _peer_common_name(server) == "fss"
    assert _peer_common_name(client) == "ksd"

    # A client whose certificate another CA signed is turned away.
    ca_key, ca_cert = certs.make_ca("stoledger-local")
    key, cert = certs.make_node_cert(ca_key, ca_cert, "broker-a")
    (tmp_path / "intruder.crt").write_bytes(certs.cert_pem(cert))
    (tmp_path / "intruder.key").write_bytes(certs.key_pem(key))
    with pytest.raises(ssl.SSLError):
        _tls_pair(directory, "ksd", "broker-a", tmp_path / "intruder.crt",
                  tmp_path / "intruder.key")


@pytest.fixture
def node_folder(tmp_path: Path) -> Path:
    _init(tmp_path / "net", 1, observer=True)
    return tmp_path / "net" / "nodes" / "ksd"


def _rewrite(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize(("old", "new", "words"), [
    ('role = "operator"', 'role = "voter"', "role 'voter' is not 'operator' or 'observer'"),
    ('data_dir = "data"\n', "", "missing key 'data_dir'"),
    ('data_dir = "data"\n', 'data_dir = "data"\nlog = "x"\n', "unknown key 'log'"),
    ("rpc_port = ", "rpc_port = 70000 #", "rpc_port 70000 is out of range"),
    ("p2p_port = ", 'p2p_port = "1" #', "p2p_port must be an integer"),
    ('name = "ksd"', "name = ksd", "not valid TOML"),
])
def test_bad_config_is_refused(node_folder: Path, old: str, new: str, words: str) -> None:
    _rewrite(node_folder / "config.toml", old, new)
    with pytest.raises(ConfigError, match=r"config '.*config\.toml': ") as caught:
        load_config(node_folder / "config.toml")
    assert words in str(caught.value)


def test_config_paths_are_relative_to_the_config(node_folder: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(node_folder.parent)
    config = load_config(Path("ksd") / "config.toml")
    assert config.path == node_folder / "config.toml"
    assert config.genesis == node_folder.parent.parent / "genesis.json"
    assert config.data_dir == node_folder / "data"


@pytest.mark.parametrize(("content", "words"), [
    ({"account": "00" * 32, "secret": "11" * 32}, "'account' does not match the secret"),
    ({"name": "ksd", "public_key": "00" * 32, "secret": "11" * 32},
     "'public_key' does not match the secret"),
    ({"secret": "11" * 31}, "'secret' must be 64 hex characters"),
    ({"secret": "zz" * 32}, "'secret' is not hex"),
    ({"secret": "11" * 32, "seed": "x"}, "unknown key 'seed'"),
    (["11" * 32], "not a key file"),
])
def test_bad_keyfile_is_refused(tmp_path: Path, content: object, words: str) -> None:
    path = tmp_path / "key.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ConfigError, match=r"key file '.*key\.json': ") as caught:
        load_keyfile(path)
    assert words in str(caught.value)


def test_keyfile_without_public_part(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    path.write_text(json.dumps({"secret": "11" * 32}))
    assert load_keyfile(path).seed == bytes.fromhex("11" * 32)
    path.write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_keyfile(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_keyfile(tmp_path / "missing.json")


def test_check_node_matches_config_key_and_genesis(node_folder: Path) -> None:
    directory = node_folder.parent.parent
    config, genesis, signer, _ = load_node(node_folder / "config.toml")
    with pytest.raises(ConfigError, match="its public key is not the one genesis holds for 'ksd'"):
        check_node(config, genesis, Signer.generate())
    observer = load_config(directory / "nodes" / "fss" / "config.toml")
    with pytest.raises(ConfigError, match="role 'operator', but genesis lists 'fss' as an "
                                          "observer"):
        check_node(dataclasses.replace(observer, role="operator"), genesis, signer)
    with pytest.raises(ConfigError, match="node 'tax' is not in genesis"):
        check_node(dataclasses.replace(config, name="tax"), genesis, signer)
