"""The owner graph: which accounts surveillance judges as one owner (PROTOCOL "Owners, not only
accounts"), persisted, deterministic, transitive and bounded.

How it works. The graph keeps three kinds of edge, each with the time of its latest evidence:
- an origin use (origin, account): the account placed an order from that client origin (media
  hts, mts or api; a branch terminal or a phone desk is the broker's staff and is never used);
  two accounts are linked through an origin when both used it within `link_window_ms` of now;
- a transfer link (a, b): cash or units worth at least `min_link_krw` moved between them
  outside the market, valid for `transfer_window_ms`, with the directions it was paid in. An
  account paid one way by more than `max_transfer_partners` valid payers is a payee hub (a
  shop, a landlord), and one that paid more than that many one way is a payer hub (an
  employer, a distributor); a payment to a payee hub or from a payer hub links nobody, so
  neither the customers of a shop nor the staff of an employer are one owner through it
  (rt37 F2). Two-way links count for neither, so round trips make no hub (rt37 F4). A trivial
  sum to a stranger links nobody (issue 30: one-won transfers framed a stranger as one owner
  with the payer). What a hub costs to make: more than `max_transfer_partners` accounts and
  `min_link_krw` each moved one way, for good. So a link the two then trade on (`traded`:
  the payee is no customer or staff of the payer then) joins them past any hub status (rt38
  F1: a paid eight of its own accounts to be a payer hub, and its nominee washed with it);
- a recovery link (old, new): `token.recover` moved old's key to new; valid for good, so the
  surveillance history of the old key stays with the new one.
`owner(account, now)` walks the valid edges breadth first, neighbours in sorted order, and
returns the owner: its accounts and, for evidence, the walk's tree, from which `links_among`
gives the links that joined any set of its accounts. The walk stops at `owner_accounts`
accounts; an owner cut there is marked `partial` and is never cached for its other accounts,
so what a rule sees does not depend on which account it asked about first.

Bounds and determinism. Every edge is a `v/` key (node.storage.schema), put or deleted in the
block that changed it, and `load` rebuilds the graph from those keys. Past a limit
(records.Limits) an edge is dropped in the block that went past it: past the per-origin limit
the origin's oldest use; past the per-account or global limit of origin uses, the least needed
origin (`_least_needed`) of the account, or of the account holding the most uses; past the
per-account or global limit of links, the least needed link (`_drop_least_needed_link`) of
the account, or of the account in the most links (caps.Holdings: a flood of edges by others
never drops an account's edges unless it holds as many; rt37 F12). The windows drop edges
older than they are in `prune`, by block time; reads filter by time too, so when pruning ran
never changes an answer. The heaps that find the oldest edge may hold stale entries on a live
node and none on a restarted one; an entry is acted on only if it is the edge's current time,
so both drop the same edge.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from consensus import codec
from node.storage import KV
from node.storage import schema as s
from node.surveillance.caps import Holdings
from node.surveillance.records import Limits
from node.surveillance.staged import Staged

ORIGIN, TRANSFER, RECOVER = "origin", "transfer", "recover"
MAX_TIME = 2**63 - 1
LASTING_OWNERS = 20_000  # accounts whose owner is remembered across blocks (each <= 64 accounts)
LINKED = (TRANSFER, RECOVER)  # the kinds kept as account-to-account links
ALL_KINDS = frozenset({ORIGIN, TRANSFER, RECOVER})
FIRST_PAID, SECOND_PAID = 1, 2  # a transfer link's directions: which of its sorted pair paid
TRADED = 4  # with the directions: the two traded with each other while the link was valid
PAYEE_HUB, PAYER_HUB = 1, 2  # OwnerGraph.hub: paid by many one way, or paid many one way
CASH_KINDS = frozenset({ORIGIN, RECOVER})  # S9: a transfer is what it judges, not a link


@dataclass(frozen=True, slots=True)
class Link:
    """An edge that joined two accounts: `via` is the origin, or the transaction id."""

    a: str
    b: str
    kind: str
    via: str
    time: int

    def ordered(self) -> Link:
        """The same link with its accounts in sorted order (a link has no direction)."""
        return self if self.a < self.b else Link(self.b, self.a, self.kind, self.via,
                                                  self.time)

    def to_map(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "kind": self.kind, "via": self.via,
                "time": self.time}


@dataclass(slots=True)
class Owner:
    accounts: tuple[str, ...]  # sorted
    parent: dict[str, tuple[str, Link] | None]  # the walk's tree: account -> (parent, link)
    partial: bool = False  # the walk stopped at Limits.owner_accounts

    @property
    def key(self) -> str:
        return self.accounts[0]

    def links_among(self, accounts: set[str] | tuple[str, ...] | list[str]) -> list[Link]:
        """The tree links that join `accounts` (all of this owner's): the walk's tree pruned
        of every branch that leads to none of them."""
        wanted = set(accounts)
        edges: dict[str, tuple[str, Link]] = {}
        for account in sorted(wanted):
            step = self.parent.get(account)
            while step is not None and account not in edges:
                edges[account] = step
                account = step[0]
                step = self.parent.get(account)
        degree: dict[str, int] = {}
        for child, (parent, _) in edges.items():
            degree[child] = degree.get(child, 0) + 1
            degree[parent] = degree.get(parent, 0) + 1
        leaves = sorted(a for a, d in degree.items() if d == 1 and a not in wanted)
        while leaves:
            leaf = leaves.pop()
            if leaf in edges:  # a leaf that is a child: drop its link up
                parent = edges.pop(leaf)[0]
            else:  # the root with one child left: drop the link down to it
                child = next(c for c, (p, _) in edges.items() if p == leaf)
                parent = child
                edges.pop(child)
            degree[leaf] -= 1
            degree[parent] -= 1
            if degree[parent] == 1 and parent not in wanted:
                leaves.append(parent)
        return sorted((link.ordered() for _, link in edges.values()),
                      key=lambda link: (link.time, link.a, link.b, link.kind))


@dataclass
class OwnerParams:
    link_window_ms: int
    transfer_window_ms: int
    max_transfer_partners: int  # payers: an account paid by more is a hub
    min_link_krw: int = 1  # the least value of a transfer that links its two accounts


@dataclass
class OwnerGraph:
    params: OwnerParams
    limits: Limits
    staged: Staged
    uses: dict[str, dict[str, int]] = field(default_factory=dict)  # origin -> account -> time
    origins: dict[str, dict[str, int]] = field(default_factory=dict)  # account -> origin -> t
    use_heap: list[tuple[int, str, str]] = field(default_factory=list)  # (time, origin, acct)
    use_count: int = 0
    use_holders: Holdings = field(default_factory=Holdings)  # account -> origins it used
    # kind -> (a, b) with a < b -> (time, tx id, directions paid: FIRST_PAID | SECOND_PAID);
    # partners: account -> (kind, other) -> time
    links: dict[str, dict[tuple[str, str], tuple[int, str, int]]] = field(
        default_factory=lambda: {kind: {} for kind in LINKED})
    partners: dict[str, dict[tuple[str, str], int]] = field(default_factory=dict)
    # kind -> heap of (time, a, b): the oldest link of each kind
    link_heaps: dict[str, list[tuple[int, str, str]]] = field(
        default_factory=lambda: {kind: [] for kind in LINKED})
    link_count: int = 0
    link_holders: Holdings = field(default_factory=Holdings)  # account -> links it is in
    # Owners that last from block to block (`lasting_owner`): valid while no edge appeared or
    # went (`edges_version`) and no edge stored when they were walked has lapsed (`_lasting_until`)
    edges_version: int = 0
    _lasting: dict[tuple[str, frozenset[str]], Owner] = field(default_factory=dict)
    _lasting_version: int = -1
    _lasting_until: int = -1

    # ---- evidence in -------------------------------------------------------------------------

    def use(self, account: str, origin: str, time: int) -> None:
        """`account` placed an order from its own device `origin` at `time`. Past the limit of
        origins per account, the account forgets its least needed origin (`_least_needed`);
        past the limit of all uses, the account holding the most uses does. Orders from fresh
        origins (a VPN's exits, which cost nothing), alone or shared with a helper, cannot
        push out the device an account shares (issue 30; rt37 F3, F12)."""
        accounts = self.uses.setdefault(origin, {})
        if account not in accounts:  # one heap entry per use; a later time is re-pushed lazily
            self.use_count += 1
            self.use_holders.add(account)
            if accounts:  # a use of an origin no other account used links nobody
                self.edges_version += 1
            heapq.heappush(self.use_heap, (time, origin, account))
        accounts[account] = time
        self.origins.setdefault(account, {})[origin] = time
        self.staged.put(s.surv_use_key(origin, account), s.u64(time))
        if len(accounts) > self.limits.per_origin:
            self._drop_use(origin, min(accounts, key=lambda a: (accounts[a], a)))
        if len(self.origins[account]) > self.limits.per_account:
            self._drop_use(self._least_needed(account), account)
        while self.use_count > self.limits.origin_uses:
            largest = self.use_holders.largest()
            self._drop_use(self._least_needed(largest), largest)

    def _least_needed(self, account: str) -> str:
        """The origin of `account` to forget first: the oldest (then first by name) of those
        that link it to nobody its other origins do not (lone, or shared only with accounts
        it shares another origin with), else the oldest. A helper sharing many origins with
        the account makes them all redundant, not needed (rt37 F3); pushing out a device
        shared with a partner takes as many distinct accounts as the account keeps origins.
        At most `per_account` origins of `per_origin` accounts are read."""
        mine = self.origins[account]
        sharing: dict[str, int] = {}  # other account -> how many of mine it used
        for origin in mine:
            for other in self.uses[origin]:
                sharing[other] = sharing.get(other, 0) + 1

        def needed(origin: str) -> bool:
            return any(sharing[other] == 1 for other in self.uses[origin] if other != account)

        return min(mine, key=lambda origin: (needed(origin), mine[origin], origin))

    def link(self, kind: str, first: str, second: str, time: int, tx_id: str,
             value: int | None = None) -> None:
        """`first` paid `second` cash or units worth `value` (TRANSFER; None: unknown, a token
        never traded), or `first`'s key was recovered to `second` (RECOVER). A transfer worth
        less than `min_link_krw` is no link."""
        if first == second or (kind == TRANSFER and value is not None
                               and value < self.params.min_link_krw):
            return
        pair = (first, second) if first < second else (second, first)
        found = self.links[kind]
        paid = FIRST_PAID if first < second else SECOND_PAID
        if pair not in found:  # one heap entry per link, as for uses
            self.link_count += 1
            self.edges_version += 1
            heapq.heappush(self.link_heaps[kind], (time, *pair))
            for account in pair:
                self.link_holders.add(account)
        elif not found[pair][2] & paid:
            self.edges_version += 1  # a new direction may link a hub's payee
        directions = paid | (found[pair][2] if pair in found else 0)
        found[pair] = (time, tx_id, directions)
        for one, other in (pair, pair[::-1]):
            self.partners.setdefault(one, {})[(kind, other)] = time
        self.staged.put(s.surv_link_key(kind, *pair), codec.pack([time, tx_id, directions]))
        for account in pair:
            if len(self.partners.get(account, {})) > self.limits.per_account:
                self._drop_least_needed_link(account, time)
        while self.link_count > self.limits.links:  # the account holding the most links gives
            self._drop_least_needed_link(self.link_holders.largest(), time)

    def traded(self, buyer: str, seller: str) -> None:
        """`buyer` and `seller` traded with each other: a transfer link between them is marked
        TRADED for as long as it lasts, and joins them whatever hubs they are (`carries`)."""
        pair = (buyer, seller) if buyer < seller else (seller, buyer)
        found = self.links[TRANSFER].get(pair)
        if found is None or found[2] & TRADED:
            return
        time, tx_id, directions = found
        self.links[TRANSFER][pair] = (time, tx_id, directions | TRADED)
        self.edges_version += 1
        self.staged.put(s.surv_link_key(TRANSFER, *pair),
                        codec.pack([time, tx_id, directions | TRADED]))

    # ---- dropping ----------------------------------------------------------------------------

    def _drop_use(self, origin: str, account: str) -> None:
        if len(self.uses[origin]) > 1:  # it linked the account to the origin's others
            self.edges_version += 1
        del self.uses[origin][account]
        if not self.uses[origin]:
            del self.uses[origin]
        del self.origins[account][origin]
        if not self.origins[account]:
            del self.origins[account]
        self.use_count -= 1
        self.use_holders.remove(account)
        self.staged.delete(s.surv_use_key(origin, account))

    def _oldest_use(self) -> tuple[int, str, str] | None:
        """The oldest current use. Each use has one heap entry, pushed when it was new: an
        entry older than its use's time is moved to that time, one gone is dropped."""
        heap = self.use_heap
        while heap:
            time, origin, account = heap[0]
            current = self.uses.get(origin, {}).get(account)
            if current == time:
                return heap[0]
            if current is None:
                heapq.heappop(heap)
            else:
                heapq.heapreplace(heap, (current, origin, account))
        return None

    def _drop_link(self, kind: str, first: str, second: str) -> None:
        pair = (first, second) if first < second else (second, first)
        del self.links[kind][pair]
        for one, other in (pair, pair[::-1]):
            mine = self.partners[one]
            del mine[(kind, other)]
            if not mine:
                del self.partners[one]
            self.link_holders.remove(one)
        self.link_count -= 1
        self.edges_version += 1
        self.staged.delete(s.surv_link_key(kind, *pair))

    def _oldest_link(self, kind: str) -> tuple[int, str, str] | None:
        """The oldest current link of `kind` (its heap entries kept as `_oldest_use`'s)."""
        heap = self.link_heaps[kind]
        while heap:
            time, first, second = heap[0]
            current = self.links[kind].get((first, second))
            if current is not None and current[0] == time:
                return heap[0]
            if current is None:
                heapq.heappop(heap)
            else:
                heapq.heapreplace(heap, (current[0], first, second))
        return None

    def _drop_least_needed_link(self, account: str, now: int) -> None:
        """Drop `account`'s oldest link (by time, then kind and partner) of those that join
        nobody (a payment into a payee hub or out of a payer hub), else its oldest: payments
        from many helpers make the account a hub, and cannot push out the link it has with
        its nominee (rt37 F3's class, for links). Reads at most `per_account` links and theirs."""
        mine = self.partners[account]
        hubs: dict[str, int] = {}

        def hub(other: str) -> int:
            if other not in hubs:
                hubs[other] = self.hub(other, now)
            return hubs[other]

        def joins(key: tuple[str, str]) -> bool:
            return key[0] == RECOVER or self.carries(account, key[1], hub)

        kind, other = min(mine, key=lambda key: (joins(key), mine[key], key))
        self._drop_link(kind, account, other)

    def prune(self, now: int) -> None:
        """Forget origin uses and transfer links older than their windows (recoveries stay)."""
        since = now - self.params.link_window_ms
        while (oldest := self._oldest_use()) is not None and oldest[0] < since:
            heapq.heappop(self.use_heap)
            self._drop_use(oldest[1], oldest[2])
        since = now - self.params.transfer_window_ms
        while (oldest := self._oldest_link(TRANSFER)) is not None and oldest[0] < since:
            heapq.heappop(self.link_heaps[TRANSFER])
            self._drop_link(TRANSFER, oldest[1], oldest[2])

    # ---- owners ------------------------------------------------------------------------------

    def is_alone(self, account: str) -> bool:
        """No edge to another account at all, valid or not: the account is its own owner (a
        quick test before walking the graph)."""
        if account in self.partners:
            return False
        return all(len(self.uses[origin]) == 1 for origin in self.origins.get(account, ()))

    def hub(self, account: str, now: int) -> int:
        """Which kind of hub `account` is within the transfer window (PAYEE_HUB | PAYER_HUB,
        0: none). Paid one way by more than `max_transfer_partners` accounts, it is a payee
        (a shop, a landlord), whose payers are not one owner through it; having paid one way
        more than that many that are no payee hub, it is a payer (an employer, a distributor),
        whose payees are not one owner through it (rt37 F2: payroll made ten staff one owner;
        paying nine shops' bills makes nobody a payer hub). A payment returned is a two-way
        link and counts for neither (rt37 F4: nine round trips made a nominee a payee hub for
        nothing). Reads the account's links, and its payees' when it paid more than that."""
        payers, payees = self._one_way(account, now)
        most = self.params.max_transfer_partners
        found = PAYEE_HUB if len(payers) > most else 0
        if len(payees) > most and sum(
                len(self._one_way(payee, now)[0]) <= most for payee in payees) > most:
            found |= PAYER_HUB
        return found

    def _one_way(self, account: str, now: int) -> tuple[list[str], list[str]]:
        """(the accounts that paid `account`, those it paid) within the transfer window, in
        links paid one way only."""
        since = now - self.params.transfer_window_ms
        payers: list[str] = []
        payees: list[str] = []
        for (kind, other), time in self.partners.get(account, {}).items():
            if kind != TRANSFER or time < since:
                continue
            paid_in, paid_out = self.paid(other, account), self.paid(account, other)
            if paid_in != paid_out:
                (payers if paid_in else payees).append(other)
        return payers, payees

    def paid(self, payer: str, payee: str) -> bool:
        """Whether the transfer link of the two holds a payment from `payer` to `payee`."""
        pair, direction = ((payer, payee), FIRST_PAID) if payer < payee else \
            ((payee, payer), SECOND_PAID)
        found = self.links[TRANSFER].get(pair)
        return found is not None and bool(found[2] & direction)

    def carries(self, account: str, other: str, hub: Callable[[str], int]) -> bool:
        """A transfer link joins the two when they traded with each other (TRADED), or when a
        payment in it went from no payer hub to no payee hub."""
        pair = (account, other) if account < other else (other, account)
        if self.links[TRANSFER][pair][2] & TRADED:
            return True
        return any(self.paid(payer, payee) and not hub(payee) & PAYEE_HUB
                   and not hub(payer) & PAYER_HUB
                   for payer, payee in ((account, other), (other, account)))

    def neighbours(self, account: str, now: int, kinds: frozenset[str],
                   hub: Callable[[str], int] | None = None) -> list[Link]:
        """Every valid edge from `account` to another account, in sorted order. `hub`
        answers `self.hub(account, now)` (OwnerCache passes one that remembers)."""
        if hub is None:
            def hub(other: str) -> int:
                return self.hub(other, now)
        found: list[Link] = []
        if ORIGIN in kinds:
            since = now - self.params.link_window_ms
            for origin, mine in sorted(self.origins.get(account, {}).items()):
                if mine < since:
                    continue
                for other, theirs in sorted(self.uses[origin].items()):
                    if other != account and theirs >= since:
                        found.append(Link(account, other, ORIGIN, origin, min(mine, theirs)))
        partners = self.partners.get(account, {})
        if partners and (TRANSFER in kinds or RECOVER in kinds):
            since = now - self.params.transfer_window_ms
            for kind, other in sorted(partners):
                if kind not in kinds or (kind == TRANSFER and (
                        partners[(kind, other)] < since
                        or not self.carries(account, other, hub))):
                    continue
                pair = (account, other) if account < other else (other, account)
                time, tx_id, _ = self.links[kind][pair]
                found.append(Link(account, other, kind, tx_id, time))
        found.sort(key=lambda link: (link.b, link.kind, link.via))
        return found

    def owner(self, account: str, now: int, kinds: frozenset[str] = ALL_KINDS,
              neighbours: Callable[[str], list[Link]] | None = None) -> Owner:
        """The owner of `account`: a breadth-first walk of the valid edges. `neighbours`
        answers `self.neighbours(account, now, kinds)` (OwnerCache passes one that
        remembers: a block's walks cross the same accounts again and again)."""
        if neighbours is None:
            def neighbours(current: str) -> list[Link]:
                return self.neighbours(current, now, kinds)
        parent: dict[str, tuple[str, Link] | None] = {account: None}
        queue = [account]
        partial = False
        for current in queue:  # the list grows as it is walked: breadth first
            for link in neighbours(current):
                if link.b in parent:
                    continue
                if len(parent) == self.limits.owner_accounts:
                    partial = True
                    break
                parent[link.b] = (current, link)
                queue.append(link.b)
            if partial:
                break
        return Owner(tuple(sorted(parent)), parent, partial)

    def earliest_lapse(self) -> int | None:
        """The last moment every edge stored now is still valid (an edge of time t is valid
        at `now` while now - window <= t); None: no edge can lapse (none, or recoveries only).
        A later time on an edge (an origin used again) only moves this later."""
        moments = []
        if (oldest := self._oldest_use()) is not None:
            moments.append(oldest[0] + self.params.link_window_ms)
        if (link := self._oldest_link(TRANSFER)) is not None:
            moments.append(link[0] + self.params.transfer_window_ms)
        return min(moments) if moments else None

    def lasting_owner(self, account: str, now: int, kinds: frozenset[str],
                      walk: Callable[[], Owner]) -> Owner:
        """`account`'s owner as `walk()` finds it, remembered across blocks while the valid
        edges cannot have changed: none appeared or went since, and `now` is not past the
        earliest lapse of those stored when it was walked (a use seen again only extends an
        edge). Its accounts and `partial` are what a walk now would give; the times on its
        links may be older: evidence takes a fresh walk. The rules group trades and orders by
        these, so that a component of a thousand transfer-linked accounts is not walked a
        thousand times on every block (it was 41 % of a node's CPU per order)."""
        if self._lasting_version != self.edges_version or now > self._lasting_until:
            self._lasting.clear()
            self._lasting_version = self.edges_version
            lapse = self.earliest_lapse()
            self._lasting_until = MAX_TIME if lapse is None else lapse
        if now > self._lasting_until:  # an edge stored now has lapsed: nothing lasts
            return walk()
        found = self._lasting.get((account, kinds))
        if found is None:
            found = walk()
            if len(self._lasting) >= LASTING_OWNERS:  # a bound on memory: it only costs walks
                self._lasting.clear()
            remember(self._lasting, found, account, kinds)
        return found

    # ---- loading -----------------------------------------------------------------------------

    def load(self, store: KV) -> None:
        for raw, value in store.iterate(s.SURV_USE):
            origin, account = raw[len(s.SURV_USE):].decode().split("/")
            time = s.read_u64(value)
            self.uses.setdefault(origin, {})[account] = time
            self.origins.setdefault(account, {})[origin] = time
            self.use_heap.append((time, origin, account))
            self.use_count += 1
            self.use_holders.add(account)
        heapq.heapify(self.use_heap)
        for raw, value in store.iterate(s.SURV_LINK):
            kind, first, second = raw[len(s.SURV_LINK):].decode().split("/")
            time, tx_id, *directions = codec.unpack(value)  # stored before directions: both
            self.links[kind][(first, second)] = (time, tx_id,
                                                 directions[0] if directions else 3)
            for one, other in ((first, second), (second, first)):
                self.partners.setdefault(one, {})[(kind, other)] = time
                self.link_holders.add(one)
            self.link_heaps[kind].append((time, first, second))
            self.link_count += 1
        for heap in self.link_heaps.values():
            heapq.heapify(heap)


class OwnerCache:
    """The owners asked for during one block (the graph does not change while rules run).
    A complete owner is cached for each of its accounts; a partial one only for the account
    it was asked for. Each account's edges and hub test are remembered too: walks from
    different accounts of a large component (cut at `owner_accounts`, so never shared) cross
    the same accounts, and without this a block of orders in a component linked by tiny
    transfers cost a full walk's edge tests per order (4 ms an order, measured)."""

    def __init__(self, graph: OwnerGraph, now: int) -> None:
        self.graph = graph
        self.now = now
        self.cached: dict[tuple[str, frozenset[str]], Owner] = {}
        self.edges: dict[tuple[str, frozenset[str]], list[Link]] = {}
        self.hubs: dict[str, int] = {}

    def __call__(self, account: str, kinds: frozenset[str] = ALL_KINDS) -> Owner:
        found = self.cached.get((account, kinds))
        if found is None:
            found = self._walk(account, kinds)
            remember(self.cached, found, account, kinds)
        return found

    def lasting(self, account: str, kinds: frozenset[str] = ALL_KINDS) -> Owner:
        """The owner's accounts, remembered across blocks (OwnerGraph.lasting_owner); never
        through this block's cache, so what the other rules' walks give (their trees, and so
        their evidence) does not depend on what was remembered."""
        return self.graph.lasting_owner(account, self.now, kinds,
                                        lambda: self._walk(account, kinds))

    def grouped(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Owner]:
        """(symbol, owner key) -> `lasting` owner for (symbol, account) pairs, each asked
        once; of two partial owners with one key, the later asked stays."""
        found: dict[tuple[str, str], Owner] = {}
        for symbol, account in pairs:
            owner = self.lasting(account)
            found[(symbol, owner.key)] = owner
        return found

    def fresh(self, owner: Owner, kinds: frozenset[str] = ALL_KINDS) -> Owner:
        """`owner` walked in this block, for its links' times (a `lasting` owner may carry
        older ones): from its key when complete (the same accounts from any of them), else
        from the account its walk began at. Evidence takes its links from here."""
        return self(owner.key if not owner.partial else next(iter(owner.parent)), kinds)

    def _walk(self, account: str, kinds: frozenset[str]) -> Owner:
        return self.graph.owner(account, self.now, kinds,
                                lambda current: self._neighbours(current, kinds))

    def _neighbours(self, account: str, kinds: frozenset[str]) -> list[Link]:
        found = self.edges.get((account, kinds))
        if found is None:
            found = self.graph.neighbours(account, self.now, kinds, self._hub)
            self.edges[(account, kinds)] = found
        return found

    def _hub(self, account: str) -> int:
        found = self.hubs.get(account)
        if found is None:
            found = self.hubs[account] = self.graph.hub(account, self.now)
        return found


def remember(cache: dict[tuple[str, frozenset[str]], Owner], owner: Owner, account: str,
             kinds: frozenset[str]) -> None:
    """A complete owner under each of its accounts; a partial one only under the account its
    walk began at (another account's walk would stop elsewhere)."""
    for member in (owner.accounts if not owner.partial else (account,)):
        cache[(member, kinds)] = owner
