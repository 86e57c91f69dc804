"""What surveillance remembers, record by record, and the limits on how much of it.

Records are small slotted dataclasses built from committed receipts (node.surveillance.reader);
each is stored as a msgpack array of its fields under its `v/` key (node.storage.schema), so
the memory of a restarted node is rebuilt from exactly what the live node held. Fields are
integers, strings and nil only, so the packing is canonical.

`Limits` bounds every collection surveillance keeps. A limit that is reached drops the oldest
entry of its collection (by time, then key) in the block that went past it, on every node
alike, so what a node derives never depends on how long it has run (issue 30). The defaults
are what one node can hold in memory with room (about 1 KB an order or trade with its indexes:
half a million of each is about 1 GB at worst); tests lower them to check that a restarted and a
replaying node still agree byte for byte once they bind.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import msgpack

STAFF_MEDIA = frozenset({"branch", "phone"})  # entered by the broker's staff: links nobody


@dataclass(frozen=True, slots=True)
class Limits:
    closed_orders: int = 500_000  # closed orders kept for the order rules (a busy day); the
    # account holding the most gives first
    trades: int = 500_000  # all tokens', for the trade rules (S8 looks back a month); the
    # (token, account) in the most trades gives first
    flows: int = 1_000_000  # cash movements for S9 (a week of a busy chain's transfers); the
    # account that moved the most gives first
    origin_uses: int = 1_000_000  # (origin, account) pairs of the owner graph; the account
    # holding the most gives its least needed first (OwnerGraph._least_needed)
    links: int = 500_000  # transfer and recovery links of the owner graph; the account in the
    # most gives its least needed first
    per_origin: int = 64  # accounts remembered per origin (a device shared by more is S10)
    per_account: int = 64  # origins, and transfer partners, remembered per account
    owner_accounts: int = 64  # accounts one owner may gather (a walk of the graph stops there)
    episodes: int = 200_000  # open alerts that a later finding may add a version to
    pending: int = 1_024  # per token: material events waiting for their effect (S8), peg dates
    insiders: int = 100_000  # (issuer, account) pairs with `insider_of`


@dataclass(slots=True)
class Order:
    order_id: int
    symbol: str
    account: str
    broker: str
    side: str
    price: int
    qty: int
    tif: str
    media: str
    origin: str
    session: int  # the session it belongs to (chaincode.market: its opening bell, 0 always)
    best: int  # the best price of its side when it was placed (0: none)
    last_price: int  # the token's last trade price when it was placed (0: none)
    time: int
    height: int
    index: int  # of its transaction in the block
    tx_id: str
    filled: int = 0
    closed_time: int = -1  # -1 while open
    code: str | None = None  # why it was cancelled (None: filled, or open)

    @property
    def is_open(self) -> bool:
        return self.closed_time < 0

    @property
    def is_staff(self) -> bool:
        return self.media in STAFF_MEDIA

    @property
    def remaining(self) -> int:
        return self.qty - self.filled


@dataclass(frozen=True, slots=True)
class Trade:
    trade_id: int
    symbol: str
    price: int
    qty: int
    buyer: str
    seller: str
    buy_order: int
    sell_order: int
    aggressor: str  # "buy" | "sell"
    prev_price: int  # the token's last price before this trade
    time: int
    height: int
    index: int  # of its transaction in the block
    tx_id: str

    @property
    def aggressor_account(self) -> str:
        return self.buyer if self.aggressor == "buy" else self.seller

    @property
    def aggressor_order(self) -> int:
        return self.buy_order if self.aggressor == "buy" else self.sell_order


@dataclass(frozen=True, slots=True)
class Flow:
    """A movement of cash: a client's transfer (sender and recipient), a deposit (recipient
    only) or a withdrawal (sender only)."""

    seq: int  # (height, index, event) packed: chain order
    sender: str | None
    recipient: str | None
    amount: int
    time: int
    height: int
    index: int
    tx_id: str


PACKERS = {kind: attrgetter(*kind.__slots__) for kind in (Order, Trade, Flow)}


def pack(record: Order | Trade | Flow) -> bytes:
    packed: bytes = msgpack.packb(PACKERS[type(record)](record), use_bin_type=True)
    return packed


def unpack(value: bytes) -> list[Any]:
    fields: list[Any] = msgpack.unpackb(value, raw=False)
    return fields


def flow_seq(height: int, index: int, event: int) -> int:
    """A cash movement's place in the chain as one integer (events per receipt < 2^16)."""
    return (height << 40) | (index << 16) | event
