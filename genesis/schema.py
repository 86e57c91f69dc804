"""The genesis document in typed form, and its validation.

`parse_genesis(document)` turns the JSON document into a frozen `Genesis` or raises a
`GenesisError` whose `field` names the part at fault (`operators[2].tls_cert`,
`consensus.watermark_window`, ...) and whose message says what is wrong with it. Validation is
strict: every field is required, unknown fields are refused (a misspelt field must not be
silently ignored by some nodes and read by others), types are exact (`true` is not an integer,
`1.0` is not an integer), and the cross-field rules hold:

- n = 3f+1 operators (1, 4, 7, 10, ...), at most `MAX_OPERATORS`;
- node names are unique across operators and observers, and so are their public keys; a node's
  key is never an organisation's admin account (node keys sign votes, admin keys sign business);
- each node's TLS certificate parses, is signed by `ca_cert`, and names the node (common name);
- each node belongs to an organisation in `orgs`, and no two nodes share an address;
- organisation names and accounts are unique, roles are known, and the roles the contracts
  depend on (registrar, regulator, bank, tax) are present;
- consensus parameters are positive and within `CONSENSUS_LIMITS`, the watermark window holds
  at least one checkpoint interval, and a view does not time out before a block is due;
- chaincode hashes and params have a canonical encoding; `params.market`, when present, passes
  the market contract's check (chaincode.market.check_market_params), `params.fds` the fds
  contract's (chaincode.fds.check_fds_params: the real-time limits), and
  `params.surveillance`, when present, genesis.surveillance's.

`Genesis.hash` is sha256 of the canonical msgpack of the document (consensus.codec), so two
nodes agree on it however their JSON files are laid out.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from consensus import codec
from genesis import certs

# Roles an organisation may hold (PROTOCOL.md, "Roles").
ROLES = ("operator", "registrar", "regulator", "broker", "bank", "issuer", "investor", "tax")
# The contracts need these organisations from the first block: the registrar caps issuance, the
# regulator audits, the bank mints the KRW deposit token, and dividends pay withholding to tax.
REQUIRED_ROLES = ("registrar", "regulator", "bank", "tax")

MAX_OPERATORS = 100  # every operator talks to every other: O(n^2) links and votes per block
MAX_OBSERVERS = 100  # each observer is fed committed blocks by the operators
MAX_ORGS = 1_000  # genesis organisations only; investors are registered later, on chain
MAX_CHAINCODE = 64  # contracts (and the runtime) with a source hash
MAX_GENESIS_BYTES = 4 * 1024 * 1024  # a 100-node genesis with certificates is about 100 KiB
MAX_TIME_MS = 2**63 - 1  # times are signed 64-bit milliseconds in canonical msgpack

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")  # also a folder name and a certificate CN
CHAIN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
HOST_PATTERN = re.compile(r"[A-Za-z0-9._:\[\]-]{1,253}")  # a host name, IPv4 or IPv6 address
HEX32_PATTERN = re.compile(r"[0-9a-f]{64}")  # lowercase, as everywhere in JSON (PROTOCOL.md)

# A block travels in one p2p frame (16 MiB) with its certificate, and a state-transfer answer
# of one block must fit one too: half the frame leaves room for both.
MAX_BLOCK_BYTES_LIMIT = 8 * 1024 * 1024

# (lowest, highest) for each consensus parameter, and why.
CONSENSUS_LIMITS: dict[str, tuple[int, int]] = {
    # Blocks between checkpoints: each one costs n signatures; the log is dropped below the
    # stable one, so a huge interval means a huge log.
    "checkpoint_interval": (1, 10_000),
    # Sequence numbers in flight above the low watermark; bounds the message log.
    "watermark_window": (1, 100_000),
    # Transactions per block: every node checks every signature before voting.
    "max_block_txs": (1, 100_000),
    # Bytes of transactions per block: a block travels in one p2p frame.
    "max_block_bytes": (1_024, MAX_BLOCK_BYTES_LIMIT),
    # How long the primary waits to fill a batch.
    "max_block_delay_ms": (1, 60_000),
    # How long a replica waits for a relayed transaction to commit before suspecting the primary.
    "view_timeout_ms": (10, 3_600_000),
    # How far a block's time may run ahead of a replica's clock (PROTOCOL.md: 5 s).
    "max_clock_skew_ms": (1, 60_000),
}

TOP_FIELDS = ("chain_id", "genesis_time", "consensus", "ca_cert", "operators", "observers",
              "orgs", "chaincode", "params")
NODE_FIELDS = ("name", "org", "public_key", "tls_cert", "host", "p2p_port", "rpc_port")
ORG_FIELDS = ("name", "role", "account")
WITHHOLDING_CLASSES = ("resident_individual", "non_resident_individual", "domestic_corporation",
                       "foreign_corporation")  # chaincode.compliance.tax_class


class GenesisError(ValueError):
    """A genesis document (or a request to build one) that is not valid. `field` names the
    part at fault, in the document's own terms (`operators[1].tls_cert`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class ConsensusParams:
    checkpoint_interval: int = 16
    watermark_window: int = 64
    max_block_txs: int = 2_000
    max_block_bytes: int = 4 * 1024 * 1024
    max_block_delay_ms: int = 50
    view_timeout_ms: int = 2_000
    max_clock_skew_ms: int = 5_000

    def to_json(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """One node of genesis: an operator (votes) or an observer (follows, never votes)."""

    name: str
    org: str
    public_key: bytes  # Ed25519, signs consensus messages and commit votes
    tls_cert: str  # PEM, signed by the consortium CA, common name = name
    host: str
    p2p_port: int
    rpc_port: int

    @property
    def rpc_url(self) -> str:
        return f"http://{_url_host(self.host)}:{self.rpc_port}"

    @property
    def p2p_address(self) -> tuple[str, int]:
        return self.host, self.p2p_port

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "org": self.org, "public_key": self.public_key.hex(),
                "tls_cert": self.tls_cert, "host": self.host, "p2p_port": self.p2p_port,
                "rpc_port": self.rpc_port}


@dataclass(frozen=True)  # not slotted: callers may read `org.__dict__` as a record
class Org:
    name: str
    role: str
    account: str  # lowercase hex of the admin's Ed25519 public key

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "role": self.role, "account": self.account}


@dataclass(frozen=True, slots=True)
class Genesis:
    chain_id: str
    genesis_time: int  # ms
    consensus: ConsensusParams
    ca_cert: str  # PEM
    operators: tuple[NodeInfo, ...]  # primary order: the primary of view v is operators[v % n]
    observers: tuple[NodeInfo, ...]
    orgs: tuple[Org, ...]
    chaincode: dict[str, str]  # contract (or "runtime") -> sha256 hex of its source
    params: dict[str, Any]  # chain parameters the contracts read (ctx.params)
    document: dict[str, Any]  # the JSON document as parsed (a private copy)
    hash: bytes  # sha256(codec.pack(document))

    @property
    def n(self) -> int:
        return len(self.operators)

    @property
    def f(self) -> int:
        return (self.n - 1) // 3

    @property
    def quorum(self) -> int:
        return 2 * self.f + 1

    def operator_keys(self) -> dict[str, bytes]:
        """Operator name -> public key, in primary order (what check_certificate takes)."""
        return {node.name: node.public_key for node in self.operators}

    def operator_tuples(self) -> tuple[tuple[str, bytes], ...]:
        return tuple((node.name, node.public_key) for node in self.operators)

    def primary(self, view: int) -> str:
        return self.operators[view % self.n].name

    def node(self, name: str) -> NodeInfo:
        for node in self.operators + self.observers:
            if node.name == name:
                return node
        raise GenesisError("", f"{name!r} is neither an operator nor an observer in genesis")

    def org(self, name: str) -> Org:
        for org in self.orgs:
            if org.name == name:
                return org
        raise GenesisError("", f"{name!r} is not an organisation in genesis")

    def is_operator(self, name: str) -> bool:
        return any(node.name == name for node in self.operators)

    def is_observer(self, name: str) -> bool:
        return any(node.name == name for node in self.observers)

    def org_records(self) -> list[dict[str, str]]:
        """The organisations as `chaincode.genesis_state` takes them."""
        return [org.to_json() for org in self.orgs]

    def initial_state(self) -> dict[str, bytes]:
        """The state before block 1 (full key -> canonical bytes), computed by the chaincode."""
        import chaincode

        return chaincode.genesis_state(self.org_records(), self.params)


def parse_genesis(document: Any) -> Genesis:
    """Validate a genesis document (the parsed JSON) and return its typed form."""
    top = _object("", document, TOP_FIELDS)
    chain_id = _string("chain_id", top["chain_id"], CHAIN_ID_PATTERN,
                       "letters, digits, '.', '_' or '-', at most 64")
    genesis_time = _integer("genesis_time", top["genesis_time"], 0, MAX_TIME_MS)
    consensus = _consensus(top["consensus"])
    ca_cert, ca = _ca_cert(top["ca_cert"])
    orgs = _orgs(top["orgs"])
    operators = _nodes("operators", top["operators"], ca, orgs, MAX_OPERATORS)
    _check_operator_count(len(operators))
    observers = _nodes("observers", top["observers"], ca, orgs, MAX_OBSERVERS)
    _check_distinct_nodes(operators, observers, orgs)
    chaincode = _chaincode(top["chaincode"])
    params = _params(top["params"])
    document = copy.deepcopy(document)
    return Genesis(chain_id=chain_id, genesis_time=genesis_time, consensus=consensus,
                   ca_cert=ca_cert, operators=operators, observers=observers, orgs=orgs,
                   chaincode=chaincode, params=params, document=document,
                   hash=codec.sha256(codec.pack(document)))


def load_genesis(path: str | Path) -> Genesis:
    """Read and validate a genesis.json file."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            data = file.read(MAX_GENESIS_BYTES + 1)
    except OSError as error:
        raise GenesisError("", f"cannot read genesis {str(path)!r}: {error.strerror}") from None
    if len(data) > MAX_GENESIS_BYTES:
        raise GenesisError("", f"genesis {str(path)!r} is over {MAX_GENESIS_BYTES} bytes")
    try:
        document = json.loads(data, object_pairs_hook=_no_duplicate_keys,
                              parse_float=_no_float, parse_constant=_no_float)
    except GenesisError:
        raise
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise GenesisError("", f"genesis {str(path)!r} is not valid JSON: {error}") from None
    return parse_genesis(document)


def genesis_json(document: dict[str, Any]) -> str:
    """The JSON text of a genesis document, as written to genesis.json."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def check_chaincode(genesis: Genesis, local_hashes: dict[str, str]) -> None:
    """Raise GenesisError unless this node's chaincode sources hash as genesis says."""
    differences = []
    for name in sorted(set(genesis.chaincode) | set(local_hashes)):
        fixed, local = genesis.chaincode.get(name), local_hashes.get(name)
        if fixed != local:
            differences.append(f"{name} (genesis {_short(fixed)}, local {_short(local)})")
    if differences:
        raise GenesisError("chaincode", "this node's chaincode differs from genesis: "
                           + "; ".join(differences))


# Helpers: each checks one part and raises GenesisError naming it.


def _object(where: str, value: Any, names: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise GenesisError(where, f"must be an object, not {_kind(value)}")
    for name in names:
        if name not in value:
            raise GenesisError(_join(where, name), "missing field")
    for name in value:
        if name not in names:
            raise GenesisError(_join(where, str(name)), "unknown field")
    return value


def _list(where: str, value: Any, limit: int) -> list[Any]:
    if not isinstance(value, list):
        raise GenesisError(where, f"must be a list, not {_kind(value)}")
    if len(value) > limit:
        raise GenesisError(where, f"{len(value)} entries, more than the limit {limit}")
    return value


def _integer(where: str, value: Any, lowest: int, highest: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise GenesisError(where, f"must be an integer, not {_kind(value)}")
    if not lowest <= value <= highest:
        raise GenesisError(where, f"{value} is out of range [{lowest}, {highest}]")
    return value


def _string(where: str, value: Any, pattern: re.Pattern[str], rule: str) -> str:
    if not isinstance(value, str):
        raise GenesisError(where, f"must be a string, not {_kind(value)}")
    if not pattern.fullmatch(value):
        raise GenesisError(where, f"{value[:80]!r} is not valid ({rule})")
    return value


def _hex32(where: str, value: Any) -> str:
    return _string(where, value, HEX32_PATTERN, "64 lowercase hex characters, 32 bytes")


def _name(where: str, value: Any) -> str:
    return _string(where, value, NAME_PATTERN,
                   "lowercase letters, digits, '-' or '_', starting with a letter or digit, "
                   "at most 63")


def _consensus(value: Any) -> ConsensusParams:
    names = tuple(CONSENSUS_LIMITS)
    raw = _object("consensus", value, names)
    checked = {name: _integer(f"consensus.{name}", raw[name], *CONSENSUS_LIMITS[name])
               for name in names}
    params = ConsensusParams(**checked)
    if params.watermark_window < params.checkpoint_interval:
        raise GenesisError("consensus.watermark_window",
                           f"{params.watermark_window} is smaller than checkpoint_interval "
                           f"{params.checkpoint_interval}; the window must hold a checkpoint")
    if params.view_timeout_ms <= params.max_block_delay_ms:
        raise GenesisError("consensus.view_timeout_ms",
                           f"{params.view_timeout_ms} is not longer than max_block_delay_ms "
                           f"{params.max_block_delay_ms}; views would time out before a block")
    return params


def _certificate(where: str, value: Any) -> x509.Certificate:
    if not isinstance(value, str):
        raise GenesisError(where, f"must be a PEM string, not {_kind(value)}")
    try:
        return certs.load_cert(value)
    except ValueError as error:
        raise GenesisError(where, f"not a PEM certificate ({error})") from None


def _ca_cert(value: Any) -> tuple[str, x509.Certificate]:
    ca = _certificate("ca_cert", value)
    try:
        is_ca = ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise GenesisError("ca_cert", "not a CA certificate (basic constraints ca=false)")
    if not _issued_by(ca, ca):
        raise GenesisError("ca_cert", "not a self-signed certificate")
    return value, ca


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _orgs(value: Any) -> tuple[Org, ...]:
    items = _list("orgs", value, MAX_ORGS)
    orgs: list[Org] = []
    for index, item in enumerate(items):
        where = f"orgs[{index}]"
        raw = _object(where, item, ORG_FIELDS)
        name = _name(f"{where}.name", raw["name"])
        role = raw["role"]
        if role not in ROLES:
            raise GenesisError(f"{where}.role", f"unknown role {role!r} (known: "
                               + ", ".join(ROLES) + ")")
        account = _hex32(f"{where}.account", raw["account"])
        for other_index, other in enumerate(orgs):
            if other.name == name:
                raise GenesisError(f"{where}.name", f"{name!r} is already orgs[{other_index}]")
            if other.account == account:
                raise GenesisError(f"{where}.account",
                                   f"already the account of orgs[{other_index}] "
                                   f"({other.name}); every organisation needs its own key")
        orgs.append(Org(name, role, account))
    for role in REQUIRED_ROLES:
        if not any(org.role == role for org in orgs):
            raise GenesisError("orgs", f"no organisation has role {role!r} (required: "
                               + ", ".join(REQUIRED_ROLES) + ")")
    return tuple(orgs)


def _nodes(kind: str, value: Any, ca: x509.Certificate, orgs: tuple[Org, ...],
           limit: int) -> tuple[NodeInfo, ...]:
    items = _list(kind, value, limit)
    org_names = {org.name for org in orgs}
    nodes = []
    for index, item in enumerate(items):
        where = f"{kind}[{index}]"
        raw = _object(where, item, NODE_FIELDS)
        name = _name(f"{where}.name", raw["name"])
        org = _name(f"{where}.org", raw["org"])
        if org not in org_names:
            raise GenesisError(f"{where}.org", f"{org!r} is not an organisation in orgs")
        public_key = bytes.fromhex(_hex32(f"{where}.public_key", raw["public_key"]))
        cert = _certificate(f"{where}.tls_cert", raw["tls_cert"])
        if not _issued_by(cert, ca):
            raise GenesisError(f"{where}.tls_cert",
                               f"the certificate of {name!r} is not signed by ca_cert")
        common_name = certs.common_name(cert)
        if common_name != name:
            raise GenesisError(f"{where}.tls_cert",
                               f"common name {common_name!r} is not the node's name {name!r}")
        host = _string(f"{where}.host", raw["host"], HOST_PATTERN, "a host name or IP address")
        p2p_port = _integer(f"{where}.p2p_port", raw["p2p_port"], 1, 65_535)
        rpc_port = _integer(f"{where}.rpc_port", raw["rpc_port"], 1, 65_535)
        nodes.append(NodeInfo(name, org, public_key, raw["tls_cert"], host, p2p_port,
                              rpc_port))
    return tuple(nodes)


def _check_operator_count(n: int) -> None:
    if n == 0:
        raise GenesisError("operators", "no operators; a network needs n = 3f+1 operators "
                           "(1, 4, 7, 10, ...)")
    if (n - 1) % 3:
        below, above = n - (n - 1) % 3, n + 3 - (n - 1) % 3
        raise GenesisError("operators", f"n={n} operators is not 3f+1; use {below} or "
                           f"{above} (1, 4, 7, 10, ...)")


def _check_distinct_nodes(operators: tuple[NodeInfo, ...], observers: tuple[NodeInfo, ...],
                          orgs: tuple[Org, ...]) -> None:
    accounts = {org.account: org.name for org in orgs}
    names: dict[str, str] = {}
    keys: dict[bytes, str] = {}
    addresses: dict[tuple[str, int], str] = {}
    labelled = [(f"operators[{i}]", node) for i, node in enumerate(operators)]
    labelled += [(f"observers[{i}]", node) for i, node in enumerate(observers)]
    for where, node in labelled:
        if node.name in names:
            raise GenesisError(f"{where}.name", f"{node.name!r} is already the name of "
                               f"{names[node.name]}")
        names[node.name] = where
        if node.public_key in keys:
            raise GenesisError(f"{where}.public_key", f"already the key of {keys[node.public_key]}"
                               "; every node needs its own key")
        keys[node.public_key] = f"{where} ({node.name})"
        if node.public_key.hex() in accounts:
            raise GenesisError(f"{where}.public_key",
                               f"equals the admin account of organisation "
                               f"{accounts[node.public_key.hex()]!r}; node signing keys must be "
                               "separate from organisation admin keys")
        for port_field in ("p2p_port", "rpc_port"):
            address = (node.host, getattr(node, port_field))
            if address in addresses:
                raise GenesisError(f"{where}.{port_field}",
                                   f"{address[0]}:{address[1]} is already used by "
                                   f"{addresses[address]}")
            addresses[address] = f"{where}.{port_field} ({node.name})"


def _chaincode(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise GenesisError("chaincode", f"must be an object, not {_kind(value)}")
    if len(value) > MAX_CHAINCODE:
        raise GenesisError("chaincode", f"{len(value)} entries, more than the limit "
                           f"{MAX_CHAINCODE}")
    if "runtime" not in value:
        raise GenesisError("chaincode.runtime", "missing field (the runtime's source hash)")
    for name, digest in value.items():
        _name(f"chaincode.{name}", name)
        _string(f"chaincode.{name}", digest, HEX32_PATTERN,
                "the sha256 of the source, 64 lowercase hex characters")
    return dict(value)


def _params(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise GenesisError("params", f"must be an object, not {_kind(value)}")
    for name in ("general_investor_annual_limit", "withholding_bps"):
        if name not in value:
            raise GenesisError(f"params.{name}", "missing field")
    _integer("params.general_investor_annual_limit", value["general_investor_annual_limit"],
             0, 2**63 - 1)
    withholding = _object("params.withholding_bps", value["withholding_bps"],
                          WITHHOLDING_CLASSES)
    for name in WITHHOLDING_CLASSES:
        _integer(f"params.withholding_bps.{name}", withholding[name], 0, 10_000)
    if "market" in value:  # optional: chaincode.market's defaults apply when it is absent
        _market_params(value["market"])
    if "fds" in value:  # optional: chaincode.fds's defaults (the limits on) when it is absent
        _fds_params(value["fds"])
    if "surveillance" in value:  # optional: genesis.surveillance's defaults otherwise
        _surveillance_params(value["surveillance"])
    try:
        codec.pack(value)
    except codec.EncodingError as error:
        raise GenesisError("params", f"has no canonical encoding: {error.message}") from None
    return copy.deepcopy(value)


def _market_params(value: Any) -> None:
    """`params.market` (sessions, price band, tick, transaction tax): the market contract's
    own check, so that genesis and the chaincode cannot disagree on what is valid."""
    from chaincode.market import MarketParamsError, check_market_params

    try:
        check_market_params(value)
    except MarketParamsError as error:
        raise GenesisError(_join("params.market", error.field), error.message) from None


def _fds_params(value: Any) -> None:
    """`params.fds` (new_account_hold_ms, deposit_hold_ms, daily_outflow_krw): the fds
    contract's own check, so that genesis and the chaincode cannot disagree on what is valid."""
    from chaincode.fds import FdsParamsError, check_fds_params

    try:
        check_fds_params(value)
    except FdsParamsError as error:
        where = _join("params.fds", error.field) if error.field else "params.fds"
        raise GenesisError(where, error.message) from None


def _surveillance_params(value: Any) -> None:
    """`params.surveillance` (thresholds of the surveillance rules S1-S14, and the owner graph)."""
    from genesis.surveillance import SurveillanceParamsError, check_surveillance_params

    try:
        check_surveillance_params(value)
    except SurveillanceParamsError as error:
        raise GenesisError(_join("params.surveillance", error.field), error.message) from None


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise GenesisError(key, "appears twice in one JSON object")
        result[key] = value
    return result


def _no_float(text: str) -> Any:
    raise GenesisError("", f"number {text} is not an integer; genesis holds integers only")


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            int: "an integer", float: "a float", type(None): "null"}.get(
                type(value), type(value).__name__)


def _short(digest: str | None) -> str:
    return "missing" if digest is None else digest[:12] + "..."


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
