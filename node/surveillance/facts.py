"""What the rules read and what they return.

`BlockFacts` is what one block brought (its orders, trades, removals, cash movements, material
events, and the sessions whose close or opening minutes it is the first block after). `Judge`
gives a rule everything it may read: the thresholds of genesis, the windows (orders, trades,
cash movements), the block's owners (owners.OwnerCache), the insiders and what is pending. A
rule never writes; it returns `Finding`s, which node.surveillance.episodes turns into alerts or
new versions of open ones.

A finding names the accounts that took part (every account of the owner that did), the links
that made them one owner, the orders and trades it judged, the price effect (from, to), the
numbers that crossed the thresholds with the thresholds themselves, the transactions behind
it, and a `measure`: the sizes whose doubling makes a new version of an open alert.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from node.surveillance.flows import CashFlows
from node.surveillance.orders import Orders
from node.surveillance.owners import ALL_KINDS, Link, Owner, OwnerCache
from node.surveillance.pending import Insiders, MaterialEvent, Pending, SessionCheck
from node.surveillance.records import Flow, Limits, Order, Trade
from node.surveillance.tallies import Stamp, Tallies
from node.surveillance.trades import Trades

MAX_EVIDENCE = 64  # transactions listed in one alert version (node.surveillance.episodes: more
# make more versions in the same block, so every transaction judged is listed)
EVIDENCE_HEAD = 16  # of the ids below, the oldest kept when there are more (the rest: newest)
MAX_IDS = 128  # order and trade ids listed in one alert version
BPS = 10_000

Evidence = tuple[int, int, str]  # (height, index of the transaction in its block, tx id)


@dataclass(frozen=True, slots=True)
class Detail:
    """What an alert shows beyond its subject: built only when a version is written."""

    metrics: dict[str, Any]
    evidence: tuple[Evidence, ...]
    explanation: str
    orders: tuple[int, ...] = ()
    trades: tuple[int, ...] = ()
    price: tuple[int, int] | None = None  # (from, to) of the price effect it judged
    links: tuple[Link, ...] = ()


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    symbol: str | None
    subject: str  # what the rule judged (an owner of a token, a ring, an origin, ...)
    accounts: tuple[str, ...]  # sorted; every account that took part
    from_time: int
    measure: tuple[int, ...]  # a new version of an open alert when one of these doubles
    detail: Callable[[], Detail]
    severity: str | None = None  # instead of the rule's, where the rule says so


@dataclass
class BlockFacts:
    """What one block brought, in block order."""

    time: int
    height: int
    orders: list[Order] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)
    removed: list[Order] = field(default_factory=list)  # gtc orders cancelled, any code
    flows: list[Flow] = field(default_factory=list)
    material: list[MaterialEvent] = field(default_factory=list)
    closes: list[tuple[str, SessionCheck]] = field(default_factory=list)  # S5 due
    openings: list[tuple[str, SessionCheck]] = field(default_factory=list)  # S14 due
    lapsed: list[MaterialEvent] = field(default_factory=list)  # S8: effect window over


@dataclass
class Judge:
    params: dict[str, dict[str, int]]
    orders: Orders
    trades: Trades
    flows: CashFlows
    owner_of: OwnerCache
    insiders: Insiders
    pending: Pending
    facts: BlockFacts
    limits: Limits
    settled: list[MaterialEvent] = field(default_factory=list)  # S8 judged their effect
    tallies: Tallies = field(default_factory=Tallies)  # the indexer's, kept across blocks

    @property
    def now(self) -> int:
        return self.facts.time

    @property
    def stamp(self) -> Stamp:
        """What a tally begun now depends on (node.surveillance.tallies)."""
        return self.trades.evicted, self.orders.evicted

    def owners(self, accounts: Iterable[str], kinds: frozenset[str] = ALL_KINDS
               ) -> dict[str, Owner]:
        """Owner key -> owner, for the owners of `accounts` (remembered across blocks: for
        their accounts; a finding's links come from `owner_of.fresh`)."""
        found: dict[str, Owner] = {}
        for account in accounts:
            owner = self.owner_of.lasting(account, kinds)
            found.setdefault(owner.key, owner)
        return found


# ---- helpers ---------------------------------------------------------------------------------

def bps(part: int, whole: int) -> int:
    return part * BPS // whole if whole else 0


def signed_bps(start: int, end: int) -> int:
    move = abs(end - start) * BPS // start if start else 0
    return move if end >= start else -move


def price_effect(price: tuple[int, int] | None) -> dict[str, int] | None:
    if price is None:
        return None
    return {"from": price[0], "to": price[1], "bps": signed_bps(*price)}


def short(account: str) -> str:
    return account[:12]


def of_trades(trades: Iterable[Trade]) -> list[Evidence]:
    return [(t.height, t.index, t.tx_id) for t in trades]


def of_orders(orders: Iterable[Order]) -> list[Evidence]:
    return [(o.height, o.index, o.tx_id) for o in orders]


def head_and_tail(items: list[Any], limit: int) -> list[Any]:
    """At most `limit` items: the first EVIDENCE_HEAD and the newest after them."""
    if len(items) <= limit:
        return items
    return items[:EVIDENCE_HEAD] + items[len(items) - (limit - EVIDENCE_HEAD):]


def evidence(items: Iterable[Evidence]) -> tuple[Evidence, ...]:
    """In chain order, each transaction once, every one (episodes splits them into versions)."""
    seen: dict[str, Evidence] = {}
    for height, index, tx_id in sorted(items):
        seen.setdefault(tx_id, (height, index, tx_id))
    return tuple(sorted(seen.values()))


def ids(values: Iterable[int]) -> tuple[int, ...]:
    return tuple(head_and_tail(sorted(set(values)), MAX_IDS))


def participants(trades: Iterable[Trade], owner: Owner) -> tuple[str, ...]:
    """The owner's accounts that took part in `trades`."""
    members = set(owner.accounts)
    return tuple(sorted({a for t in trades for a in (t.buyer, t.seller) if a in members}))
