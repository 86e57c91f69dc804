"""Build a network: keys, the consortium CA, certificates, genesis, node configs.

`init_network(DIR)` writes (PROTOCOL.md, "The demo network"):

    DIR/genesis.json                 the document (genesis.schema)
    DIR/ca.crt, DIR/ca.key (0600)    the consortium CA
    DIR/nodes/<name>/config.toml     the node's config; paths relative to its own folder
    DIR/nodes/<name>/node_key.json   {"name", "public_key", "secret"} (0600): the signing key
    DIR/nodes/<name>/tls.crt, tls.key (0600)
    DIR/nodes/<name>/data/           empty; the node's store
    DIR/keys/<org>.json              {"account", "secret"} (0600) for each organisation admin
    DIR/cluster.json                 {"chain_id", "nodes": [{"name", "role", "rpc", "pid"}]}

The CA key is written next to the network only because this builds a local or test network in
one place. A real consortium keeps the CA key offline, each operator generates its own node key
and TLS key and sends only the public key and a certificate request, and each organisation
keeps its admin key to itself.

Where each node is: by default every node is on one host (`host`, 127.0.0.1) at ports from
`base_port` (or free ports). `placements` instead gives each node its own `Placement`: the
address genesis lists (what peers dial, and the host name its TLS certificate names) and the
address it listens on (its config's rpc_host and p2p_host; cluster.json's RPC URL). They differ
when something stands between the nodes: node.tools.netns puts each node in its own network
namespace, listening on its own address, while peers dial it through a relay at the address
genesis lists.

`build_network` does all of it in memory and writes nothing (the simulator uses it); nothing
here binds a port except `pick_free_ports`, which `init_network` calls when `base_port` is 0.
`load_config`, `load_keyfile` and `check_node` read a node's files back for `node run`.
"""

from __future__ import annotations

import json
import os
import socket
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from consensus.crypto import Signer
from genesis import certs
from genesis.schema import (
    MAX_OPERATORS,
    ConsensusParams,
    Genesis,
    GenesisError,
    NodeInfo,
    genesis_json,
    load_genesis,
    parse_genesis,
)

DEFAULT_CHAIN_ID = "stoledger-local"
DEFAULT_GENESIS_TIME_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z; a constant, so builds repeat
DEFAULT_OPERATORS = ("ksd", "broker-a", "broker-b", "bank")  # primary order
OBSERVER_NAME = "fss"  # the regulator's non-voting node
# The organisations of the demo network and their roles; extra operators (op-4, ...) are added
# as organisations of role "operator".
DEMO_ORGS = (("ksd", "registrar"), ("fss", "regulator"), ("broker-a", "broker"),
             ("broker-b", "broker"), ("bank", "bank"), ("issuer-1", "issuer"), ("tax", "tax"))
SECRET_FILE_MODE = 0o600
NODE_ROLES = ("operator", "observer")
CONFIG_FIELDS = ("name", "role", "genesis", "key", "tls_cert", "tls_key", "ca_cert",
                 "data_dir", "rpc_host", "rpc_port", "p2p_host", "p2p_port")
PATH_FIELDS = ("genesis", "key", "tls_cert", "tls_key", "ca_cert", "data_dir")
MAX_CONFIG_BYTES = 64 * 1024
MAX_KEYFILE_BYTES = 4 * 1024


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one node is reached (`host`, listed in genesis, dialed by peers and named by its
    TLS certificate) and where it listens (`listen_host`, in its config), with its two ports
    (the same on both addresses)."""

    host: str
    listen_host: str
    rpc_port: int
    p2p_port: int


class ConfigError(ValueError):
    """A node config or key file that cannot be used; the message names the file."""


@dataclass(frozen=True)
class Network:
    """A built network with all of its secrets, before (or instead of) writing it to disk."""

    genesis: Genesis
    ca_key: ed25519.Ed25519PrivateKey
    node_signers: dict[str, Signer]  # node name -> signing key (operators and observers)
    tls_keys: dict[str, ed25519.Ed25519PrivateKey]  # node name -> TLS private key
    org_signers: dict[str, Signer]  # organisation name -> admin key
    listen_hosts: dict[str, str]  # node name -> the address its config makes it listen on


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """A node's config.toml, with every path made absolute against the config's folder."""

    path: Path  # the config file itself
    name: str
    role: str  # "operator" or "observer"
    genesis: Path
    key: Path  # node_key.json
    tls_cert: Path
    tls_key: Path
    ca_cert: Path
    data_dir: Path
    rpc_host: str
    rpc_port: int
    p2p_host: str
    p2p_port: int


def operator_names(n: int) -> tuple[str, ...]:
    """The operators of an n-operator demo network, in primary order."""
    check_operator_count(n)
    extra = tuple(f"op-{index}" for index in range(len(DEFAULT_OPERATORS), n))
    return (DEFAULT_OPERATORS + extra)[:n]


def check_operator_count(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1 or (n - 1) % 3:
        raise GenesisError("n", f"{n!r} operators is not 3f+1 (1, 4, 7, 10, ...)")
    if n > MAX_OPERATORS:
        raise GenesisError("n", f"{n} operators is more than the limit {MAX_OPERATORS}")


def pick_free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct ports the OS says are free on `host` now. All sockets stay bound until
    every port is picked, so the ports differ; another process may still take one later."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind((host, 0))
        ports = [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
    assert len(set(ports)) == count, "the OS handed out one port twice"
    return ports


def build_network(n: int = 4, observer: bool = False, chain_id: str = DEFAULT_CHAIN_ID,
                  base_port: int = 0, host: str = "127.0.0.1", genesis_time: int | None = None,
                  chaincode_hashes: dict[str, str] | None = None,
                  params: dict[str, Any] | None = None,
                  consensus: ConsensusParams | None = None,
                  placements: list[Placement] | None = None) -> Network:
    """Generate every key and certificate and the genesis document, in memory.

    Node i (operators in primary order, then the observer) listens for RPC on base_port + 2i
    and for p2p on base_port + 2i + 1; base_port 0 picks free ports from the OS instead.
    `placements` (one per node, in that order) overrides `host` and the ports.
    """
    names = operator_names(n)
    observers = (OBSERVER_NAME,) if observer else ()
    node_names = names + observers
    placements = _placements(len(node_names), base_port, host, placements)
    import chaincode  # here, not at the top: parsing genesis does not need the contracts

    merged_params = dict(chaincode.DEFAULT_PARAMS)
    merged_params.update(params or {})  # shallow, as builtin_registry merges them
    if chaincode_hashes is None:
        chaincode_hashes = chaincode.builtin_registry(merged_params).source_hashes()
    org_roles = list(DEMO_ORGS) + [(name, "operator") for name in names
                                   if name not in dict(DEMO_ORGS)]
    org_signers = {name: Signer.generate() for name, _ in org_roles}
    node_signers = {name: Signer.generate() for name in node_names}
    ca_key, ca_cert = certs.make_ca(chain_id)
    tls_keys: dict[str, ed25519.Ed25519PrivateKey] = {}
    nodes: list[dict[str, Any]] = []
    for name, place in zip(node_names, placements, strict=True):
        cert_hosts = tuple(dict.fromkeys(("127.0.0.1", "localhost", place.host)))
        tls_key, tls_cert = certs.make_node_cert(ca_key, ca_cert, name, cert_hosts)
        tls_keys[name] = tls_key
        nodes.append({"name": name, "org": name, "public_key": node_signers[name].account,
                      "tls_cert": certs.cert_pem(tls_cert).decode(), "host": place.host,
                      "p2p_port": place.p2p_port, "rpc_port": place.rpc_port})
    document = {
        "chain_id": chain_id,
        "genesis_time": DEFAULT_GENESIS_TIME_MS if genesis_time is None else genesis_time,
        "consensus": (consensus or ConsensusParams()).to_json(),
        "ca_cert": certs.cert_pem(ca_cert).decode(),
        "operators": nodes[:n],
        "observers": nodes[n:],
        "orgs": [{"name": name, "role": role, "account": org_signers[name].account}
                 for name, role in org_roles],
        "chaincode": dict(chaincode_hashes),
        "params": merged_params,
    }
    genesis = parse_genesis(document)  # what we built must pass what every node will check
    listen_hosts = {name: place.listen_host
                    for name, place in zip(node_names, placements, strict=True)}
    return Network(genesis, ca_key, node_signers, tls_keys, org_signers, listen_hosts)


def init_network(directory: str | Path, n: int = 4, observer: bool = False,
                 chain_id: str = DEFAULT_CHAIN_ID, base_port: int = 0, host: str = "127.0.0.1",
                 genesis_time: int | None = None, chaincode_hashes: dict[str, str] | None = None,
                 params: dict[str, Any] | None = None,
                 consensus: ConsensusParams | None = None,
                 placements: list[Placement] | None = None) -> Genesis:
    """Build a network and write it into `directory`, which must be empty or not exist yet."""
    directory = Path(directory)
    if directory.exists():
        if not directory.is_dir():
            raise GenesisError("directory", f"{str(directory)!r} exists and is not a folder")
        if any(directory.iterdir()):
            raise GenesisError("directory", f"{str(directory)!r} is not empty; refusing to "
                               "initialise a network over existing files")
    network = build_network(n, observer, chain_id, base_port, host, genesis_time,
                            chaincode_hashes, params, consensus, placements)
    write_network(directory, network)
    return network.genesis


def write_network(directory: Path, network: Network) -> None:
    genesis = network.genesis
    directory.mkdir(parents=True, exist_ok=True)
    _write(directory / "genesis.json", genesis_json(genesis.document))
    _write(directory / "ca.crt", genesis.ca_cert)
    _write(directory / "ca.key", certs.key_pem(network.ca_key).decode(), secret=True)
    for role, nodes in (("operator", genesis.operators), ("observer", genesis.observers)):
        for node in nodes:
            _write_node(directory / "nodes" / node.name, role, node,
                        network.listen_hosts[node.name], network.node_signers[node.name],
                        network.tls_keys[node.name])
    keys = directory / "keys"
    keys.mkdir(mode=0o700)
    for org in genesis.orgs:
        signer = network.org_signers[org.name]
        _write(keys / f"{org.name}.json", _json({"account": signer.account,
                                                 "secret": signer.seed.hex()}), secret=True)
    cluster = {"chain_id": genesis.chain_id, "nodes": [
        {"name": node.name, "role": role,
         "rpc": replace(node, host=network.listen_hosts[node.name]).rpc_url, "pid": None}
        for role, nodes in (("operator", genesis.operators), ("observer", genesis.observers))
        for node in nodes]}
    _write(directory / "cluster.json", _json(cluster))


def _write_node(folder: Path, role: str, node: NodeInfo, listen_host: str, signer: Signer,
                tls_key: ed25519.Ed25519PrivateKey) -> None:
    (folder / "data").mkdir(parents=True)
    config: dict[str, str | int] = {
        "name": node.name, "role": role, "genesis": "../../genesis.json", "key": "node_key.json",
        "tls_cert": "tls.crt", "tls_key": "tls.key", "ca_cert": "../../ca.crt",
        "data_dir": "data", "rpc_host": listen_host, "rpc_port": node.rpc_port,
        "p2p_host": listen_host, "p2p_port": node.p2p_port}
    lines = [f"# stoledger node {node.name!r} ({role}); paths are relative to this folder.",
             "# Run it with: stoledger node run --config <this file>"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in config.items()]
    _write(folder / "config.toml", "\n".join(lines) + "\n")
    _write(folder / "node_key.json", _json({"name": node.name, "public_key": signer.account,
                                            "secret": signer.seed.hex()}), secret=True)
    _write(folder / "tls.crt", node.tls_cert)
    _write(folder / "tls.key", certs.key_pem(tls_key).decode(), secret=True)


def load_config(path: str | Path) -> NodeConfig:
    """Read a node's config.toml; relative paths are taken from the config's own folder."""
    path = Path(path).absolute()
    raw = _load_toml(path)
    for key in CONFIG_FIELDS:
        if key not in raw:
            raise ConfigError(f"config {str(path)!r}: missing key {key!r}")
    for key in raw:
        if key not in CONFIG_FIELDS:
            raise ConfigError(f"config {str(path)!r}: unknown key {key!r}")
    for key in CONFIG_FIELDS:
        value = raw[key]
        if not key.endswith("_port"):
            if not isinstance(value, str):
                raise ConfigError(f"config {str(path)!r}: {key} must be a string")
        elif isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"config {str(path)!r}: {key} must be an integer")
        elif not 1 <= value <= 65_535:
            raise ConfigError(f"config {str(path)!r}: {key} {value} is out of range "
                              "[1, 65535]")
    if raw["role"] not in NODE_ROLES:
        raise ConfigError(f"config {str(path)!r}: role {raw['role']!r} is not 'operator' or "
                          "'observer'")
    folder = path.parent
    paths = {key: (folder / raw[key]).resolve() for key in PATH_FIELDS}
    return NodeConfig(path=path, name=raw["name"], role=raw["role"], rpc_host=raw["rpc_host"],
                      rpc_port=raw["rpc_port"], p2p_host=raw["p2p_host"],
                      p2p_port=raw["p2p_port"], **paths)


def load_keyfile(path: str | Path) -> Signer:
    """Read a node_key.json ({"name", "public_key", "secret"}) or a keys/<org>.json
    ({"account", "secret"}); a public key or account, if present, must match the secret."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            data = file.read(MAX_KEYFILE_BYTES + 1)
    except OSError as error:
        raise ConfigError(f"key file {str(path)!r}: cannot read: {error.strerror}") from None
    try:
        raw = json.loads(data) if len(data) <= MAX_KEYFILE_BYTES else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ConfigError(f"key file {str(path)!r}: not valid JSON") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"key file {str(path)!r}: not a key file (a small JSON object)")
    unknown = sorted(set(raw) - {"name", "public_key", "account", "secret"})
    if unknown:
        raise ConfigError(f"key file {str(path)!r}: unknown key {unknown[0]!r}")
    secret = raw.get("secret")
    if not isinstance(secret, str) or len(secret) != 64:
        raise ConfigError(f"key file {str(path)!r}: 'secret' must be 64 hex characters "
                          "(the 32-byte Ed25519 seed)")
    try:
        signer = Signer(bytes.fromhex(secret))
    except ValueError:
        raise ConfigError(f"key file {str(path)!r}: 'secret' is not hex") from None
    for key in ("public_key", "account"):
        if key in raw and raw[key] != signer.account:
            raise ConfigError(f"key file {str(path)!r}: {key!r} does not match the secret")
    return signer


def check_node(config: NodeConfig, genesis: Genesis, signer: Signer) -> NodeInfo:
    """The node's entry in genesis, after checking that its config and key agree with it: the
    name is listed with the config's role and the key is the one genesis holds for it."""
    listed = genesis.is_operator(config.name) or genesis.is_observer(config.name)
    if not listed:
        raise ConfigError(f"config {str(config.path)!r}: node {config.name!r} is not in genesis")
    role = "operator" if genesis.is_operator(config.name) else "observer"
    if role != config.role:
        raise ConfigError(f"config {str(config.path)!r}: role {config.role!r}, but genesis lists "
                          f"{config.name!r} as an {role}")
    node = genesis.node(config.name)
    if node.public_key != signer.public_key:
        raise ConfigError(f"key file {str(config.key)!r}: its public key is not the one genesis "
                          f"holds for {config.name!r}")
    return node


def load_node(config_path: str | Path) -> tuple[NodeConfig, Genesis, Signer, NodeInfo]:
    """Everything `node run` needs from disk, checked against genesis."""
    config = load_config(config_path)
    genesis = load_genesis(config.genesis)
    signer = load_keyfile(config.key)
    return config, genesis, signer, check_node(config, genesis, signer)


def _placements(count: int, base_port: int, host: str, placements: list[Placement] | None,
                ) -> list[Placement]:
    """One placement per node: the ones given, or all on `host` at ports from `base_port`."""
    if placements is None:
        return [Placement(host, host, rpc_port, p2p_port)
                for rpc_port, p2p_port in _ports(count, base_port, host)]
    if len(placements) != count:
        raise GenesisError("placements", f"{len(placements)} placements for {count} nodes")
    if base_port:
        raise GenesisError("base_port", "placements give every port; base_port must be 0")
    return list(placements)


def _ports(count: int, base_port: int, host: str) -> list[tuple[int, int]]:
    """(rpc, p2p) for each of `count` nodes."""
    if isinstance(base_port, bool) or not isinstance(base_port, int):
        raise GenesisError("base_port", f"must be an integer, not {base_port!r}")
    if base_port == 0:
        free = pick_free_ports(2 * count, host)
        return [(free[2 * i], free[2 * i + 1]) for i in range(count)]
    if base_port < 1 or base_port + 2 * count - 1 > 65_535:
        raise GenesisError("base_port", f"{base_port} leaves no room for {2 * count} ports "
                           "below 65536")
    return [(base_port + 2 * i, base_port + 2 * i + 1) for i in range(count)]


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_CONFIG_BYTES + 1)
    except OSError as error:
        raise ConfigError(f"config {str(path)!r}: cannot read: {error.strerror}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config {str(path)!r}: over {MAX_CONFIG_BYTES} bytes")
    try:
        return tomllib.loads(data.decode())
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"config {str(path)!r}: not valid TOML: {error}") from None


def _toml_value(value: str | int) -> str:
    if isinstance(value, int):
        return str(value)
    # A JSON string without ASCII escaping is a valid TOML basic string.
    return json.dumps(value, ensure_ascii=False)


def _json(value: Any) -> str:
    return json.dumps(value, indent=2) + "\n"


def _write(path: Path, text: str, secret: bool = False) -> None:
    """Create `path` (it must not exist); secrets are created 0600, never readable by others
    even for an instant."""
    mode = SECRET_FILE_MODE if secret else 0o644
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    if secret:
        os.chmod(path, SECRET_FILE_MODE)  # exactly 0600 whatever the umask
