"""Every key layout of the node's store, in one place.

Heights are 8-byte big-endian so that byte order is numeric order. State keys are
`<contract>/<key>` as UTF-8; chaincode keys never contain NUL, which separates a history
key from the height it was written at.

    m/<name>                         metadata: height, app_hash, last_block_hash, ...
    b/<height>                       block bytes (consensus.block.Block.encode)
    c/<height>                       commit certificate bytes
    x/<height>                       app hash after executing the block
    t/<tx_id 32>                     tx index -> canonical [height, index]
    r/<height 8><index 4>            receipt (msgpack array, node.ledger.executor.Receipt.encode)
    e/<height 8>                     the events of the block's begin-block hooks (a msgpack list
                                     of {"contract", "name", "data"}; only when there are some)
    s/<state key>                    current state value
    h/<state key>\\x00<height>       state history: value written at height (b"" = deleted)
    w/<name>                         consensus write-ahead state (view, signed votes)
    a/<kind>/<subject>\\x00<height><index>   audit indexes (account, symbol, rejected code);
                                     the value is empty: the key is the receipt's position
    l/<seq 8>                        access log of signed reads
    v/...                            surveillance (node.surveillance), outside consensus state:
    v/m                                  [time, height] of the last block surveillance read
    v/o/<order_id 8>                     an order in the windows
    v/t/<symbol>\\x00<trade_id 8>        a trade in the windows
    v/p/<symbol>                         the token's last trade price
    v/d/<symbol>\\x00<day 4>             the token's statistics of one KST trading day (S11)
    v/c/<seq 8>                          a cash movement (S9), seq = chain position
    v/u/<origin>/<account>               the last time the account ordered from the origin
    v/l/<kind>/<a>/<b>                   a transfer or recovery link between two accounts
    v/n/<issuer>/<account>               an insider of the issuer (S8; a value: was one until then)
    v/q/<symbol>\\x00<height 8><index 4> a material event waiting for its price effect (S8)
    v/s/<symbol>                         the session of the token's last trade (S5, S14)
    v/k/<symbol>\\x00<time 8>            a record date, subscription or redemption (S12)
    v/e/<rule>/<subject>                 an open alert a later finding adds a version to
    v/a/<alert_id 32>                    an alert's latest version number (u32)
    v/V/<alert_id 32><version 4>         every version of an alert, as what changed
                                         (node.surveillance.episodes: `same` points back)
    v/L/<rule>/<subject>\\x00<height 8><index 4>  what an open episode's versions listed -> tx id
    v/i/<kind>/<subject>\\x00<height 8><seq 4>   alert indexes -> alert id + version (36
                                         bytes); kind `*` (all), `rule`, `sym`, `acct`

What grows with every transaction is keyed by height where it can be (blocks, receipts), so
that LevelDB appends it: its compaction rewrites a table as often as newer keys land inside
its range, and keys spread over the whole key space (a tx id) land inside every table. Keyed
by tx id, receipts made compaction a quarter of a node's CPU after 150,000 transfers, and
growing with the store. What must be found by id (`t/`) or by subject (`a/`, `h/`) is kept
small. `m/layout` says which layout a store has (`LAYOUT`); a node finding an older one
rebuilds it from its certified blocks (node.ledger.recover).
"""

from __future__ import annotations

import struct

META = b"m/"
BLOCK = b"b/"
CERT = b"c/"
TX = b"t/"
RECEIPT = b"r/"
HOOK_EVENTS = b"e/"
STATE = b"s/"
HISTORY = b"h/"
WAL = b"w/"
AUDIT = b"a/"
ACCESS = b"l/"
APP_HASH = b"x/"
SURVEILLANCE = b"v/"
SURV_CLOCK = SURVEILLANCE + b"m"
SURV_ORDER = SURVEILLANCE + b"o/"
SURV_TRADE = SURVEILLANCE + b"t/"
SURV_PRICE = SURVEILLANCE + b"p/"
SURV_DAY = SURVEILLANCE + b"d/"
SURV_FLOW = SURVEILLANCE + b"c/"
SURV_USE = SURVEILLANCE + b"u/"
SURV_LINK = SURVEILLANCE + b"l/"
SURV_INSIDER = SURVEILLANCE + b"n/"
SURV_PENDING = SURVEILLANCE + b"q/"
SURV_SESSION = SURVEILLANCE + b"s/"
SURV_PEG = SURVEILLANCE + b"k/"
SURV_EPISODE = SURVEILLANCE + b"e/"
SURV_ALERT = SURVEILLANCE + b"a/"
SURV_VERSION = SURVEILLANCE + b"V/"
SURV_INDEX = SURVEILLANCE + b"i/"
SURV_LISTED = SURVEILLANCE + b"L/"

META_HEIGHT = META + b"height"
META_APP_HASH = META + b"app_hash"
META_BLOCK_HASH = META + b"last_block_hash"
META_BLOCK_TIME = META + b"last_block_time"
META_GENESIS = META + b"genesis_hash"
META_GENESIS_TIME = META + b"genesis_time"
META_LAYOUT = META + b"layout"
META_MAX_EXPIRES = META + b"max_expires"  # the highest `expires` committed (node.ledger.committed)
LAYOUT = 4  # 1: receipts keyed by tx id, audit index values the tx id; 2: surveillance
# before owners and alert versions (issue 30); 3: alert versions stored whole, and history
# entries and app-hash pairs for keys a block created and deleted again (issue 29,
# node.ledger.executor.net_writes): a node rebuilds its `v/` keys, and its app hashes, by
# replaying

_U64 = struct.Struct(">Q")
_U32 = struct.Struct(">I")
_POSITION = struct.Struct(">QI")


def u32(value: int) -> bytes:
    return _U32.pack(value)


def read_u32(raw: bytes) -> int:
    return int(_U32.unpack(raw)[0])


def u64(value: int) -> bytes:
    return _U64.pack(value)


def read_u64(data: bytes) -> int:
    return int(_U64.unpack(data)[0])


def block_key(height: int) -> bytes:
    return BLOCK + u64(height)


def app_hash_key(height: int) -> bytes:
    return APP_HASH + u64(height)


def cert_key(height: int) -> bytes:
    return CERT + u64(height)


def tx_key(tx_id: bytes) -> bytes:
    return TX + tx_id


def hook_events_key(height: int) -> bytes:
    return HOOK_EVENTS + u64(height)


def receipt_prefix(height: int) -> bytes:
    return RECEIPT + u64(height)


def receipt_key(height: int, index: int) -> bytes:
    return RECEIPT + position(height, index)


def state_key(key: str) -> bytes:
    return STATE + key.encode()


def identity_record(account: str) -> str:
    """The state key of an account's identity record (chaincode.identity's `account/<id>`)."""
    return "identity/account/" + account


def state_name(raw: bytes) -> str:
    return raw[len(STATE):].decode()


def history_prefix(key: str) -> bytes:
    return HISTORY + key.encode() + b"\x00"


def history_key(key: str, height: int) -> bytes:
    return history_prefix(key) + u64(height)


def wal_key(name: str) -> bytes:
    return WAL + name.encode()


def audit_prefix(kind: str, subject: str) -> bytes:
    return AUDIT + kind.encode() + b"/" + subject.encode() + b"\x00"


def position(height: int, index: int) -> bytes:
    """A place in the chain, (height, index or seq), as the keys that are kept in chain order
    end with it: receipts, the audit indexes, the alert indexes."""
    return _POSITION.pack(height, index)


def read_position(raw: bytes) -> tuple[int, int]:
    """The (height, index) a key ending with `position` ends with."""
    height, index = _POSITION.unpack(raw[-12:])
    return int(height), int(index)


def access_key(seq: int) -> bytes:
    return ACCESS + u64(seq)


# Surveillance (node.surveillance)

def surv_order_key(order_id: int) -> bytes:
    return SURV_ORDER + u64(order_id)


def surv_trade_key(symbol: str, trade_id: int) -> bytes:
    return SURV_TRADE + symbol.encode() + b"\x00" + u64(trade_id)


def surv_price_key(symbol: str) -> bytes:
    return SURV_PRICE + symbol.encode()


def surv_day_key(symbol: str, day: int) -> bytes:
    return SURV_DAY + symbol.encode() + b"\x00" + _U32.pack(day)


def surv_flow_key(seq: int) -> bytes:
    return SURV_FLOW + u64(seq)


def surv_use_key(origin: str, account: str) -> bytes:
    return SURV_USE + origin.encode() + b"/" + account.encode()


def surv_link_key(kind: str, first: str, second: str) -> bytes:
    return SURV_LINK + kind.encode() + b"/" + first.encode() + b"/" + second.encode()


def surv_insider_key(issuer: str, account: str) -> bytes:
    return SURV_INSIDER + issuer.encode() + b"/" + account.encode()


def surv_pending_key(symbol: str, height: int, index: int) -> bytes:
    return SURV_PENDING + symbol.encode() + b"\x00" + position(height, index)


def surv_session_key(symbol: str) -> bytes:
    return SURV_SESSION + symbol.encode()


def surv_peg_key(symbol: str, time: int) -> bytes:
    return SURV_PEG + symbol.encode() + b"\x00" + u64(time)


def surv_episode_key(rule: str, subject: str) -> bytes:
    return SURV_EPISODE + rule.encode() + b"/" + subject.encode()


def surv_alert_key(alert_id: bytes) -> bytes:
    return SURV_ALERT + alert_id


def surv_version_key(alert_id: bytes, version: int) -> bytes:
    return SURV_VERSION + alert_id + _U32.pack(version)


def surv_listed_key(rule: str, subject: str, height: int, index: int) -> bytes:
    return SURV_LISTED + rule.encode() + b"/" + subject.encode() + b"\x00" + position(height, index)


def read_listed_key(raw: bytes) -> tuple[str, str, int, int]:
    rule, subject = raw[len(SURV_LISTED):-13].decode().split("/", 1)
    height, index = read_position(raw)
    return rule, subject, height, index


def surv_version_ref(alert_id: bytes, version: int) -> bytes:
    """What an alert index holds: the alert id and the version listed there."""
    return alert_id + _U32.pack(version)


def read_version_ref(ref: bytes) -> tuple[bytes, int]:
    return ref[:32], int(_U32.unpack(ref[32:36])[0])


def surv_index_prefix(kind: str, subject: str) -> bytes:
    return SURV_INDEX + kind.encode() + b"/" + subject.encode() + b"\x00"


def surv_index_key(kind: str, subject: str, height: int, seq: int) -> bytes:
    return surv_index_prefix(kind, subject) + position(height, seq)
