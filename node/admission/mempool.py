"""Admission of client transactions and the pool of admitted, not yet committed ones.

`admit` runs the checks cheapest first and either raises `TxError` with PROTOCOL.md's stable
code or adds the transaction; a refused transaction changes nothing:

    wrong_chain, duplicate (pool or committed), expired, unknown_contract, unknown_method,
    unknown_sender (403: not a registered, unrevoked identity), mempool_full (503: no room,
    below), bad_signature (the one expensive check, last, so an overloaded node does not spend
    a verification on what it refuses anyway)

Room (admission control). An admitted transaction must commit soon or the promise PROTOCOL.md
makes (committed, or reported expired) turns into seconds of latency and a stalled cluster.
So the pool is bounded three ways:

- hard: at most `max_txs` transactions and `max_bytes` bytes of memory (their weights,
  node.admission.tx);
- soft: the backlog may hold at most `backlog_ms` of commits at the measured commit rate
  (`capacity()`: an EWMA of committed tx/s from block commits, `on_commit`, never below
  `min_backlog_txs`). The rate only falls while the pool was busy (at least half full during
  the interval): a quiet cluster commits little because little is sent, not because it can't;
- local: the transactions this node admitted from its own clients (not yet committed) stay
  under `local_bound()`, 2/n of the soft bound for n nodes taking client transactions (half
  of it for n = 4). Each node sees the others' admissions only once their gossip arrives;
  without this, n nodes admitting at once would each fill the pool to the bound (n times the
  backlog) while the gossip is in flight, and a busy event loop delays it for seconds. With
  it the backlog stays under twice the bound however late the gossip;
- fair share: once the pool is half full, or this node's clients hold half their bound, a
  sender holding its share (`cap / sender_share_divisor`) is refused, so one account (or one
  key) fills at most a quarter of the pool through one node (n = 4); past the bounds only
  senders with nothing pending get in, into a reserve (a quarter of the soft bound, half of
  the local one), so a bank's one transaction is admitted while a flooder is refused.
  A broker is one key for all its clients (PROTOCOL: an order is sent by the client's broker),
  so its share is half of this node's clients' bound (`local_bound // 2`, n = 4: a quarter of
  the soft bound, four times an account's): its clients together, not one flooder; two brokers
  of one node still fit beside each other (issue 29: held to an account's 16 pending, the bench's
  broker got 80-100 orders into a block where transfers got 160-230).

Transactions relayed by another node (`relayed=True`: gossip, re-submission after a view
change) were admitted there already; they skip the soft bound and the sender's fair share, so
every operator's replica knows every admitted transaction and any primary can propose it.
Each one is counted in the lane of the peer that relayed it first (issue 27, item 5: one
operator or observer relaying 4,000 transactions of one key filled every pool, and every
client of every node was refused):

- a lane holds at most its peer's share of the hard bounds (`lane_limit`): for an operator,
  `max_txs` and `max_bytes` over the nodes that take client transactions; for an observer,
  which has no replica and relays only its own clients' transactions, twice its clients'
  fair share (`local_bound`): it does not relay into operators' pools beyond it;
- the soft bound and the reserve count each lane up to its fair share only (`load`): a
  flood past it takes no client's room. Round-robin proposing by lane (consensus.requests)
  keeps it from taking the clients' turn in blocks;
- what a lane brings past its fair share is admitted untimed (`admit` says so): proposed in
  the lane's turn, but no request timer waits for it, so a flood's tail, slow by design, and
  a relay some replica refused (a lane at its limit there), are never read as censorship.
  An honest node's clients stay under its local bound, so at every replica its lane is
  within its share, timed, and censoring it is caught.

Leaving the pool: `remove_committed` for the transactions a block carried, `drop_expired` for
those whose `expires` passed. Every admitted transaction that leaves without a receipt (its
`expires` passed in the pool, or the executor dropped it at a later block time) is recorded in
a bounded memory, `status` says "expired", and GET /v1/tx/{id} reports it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from chaincode.identity import active_role, is_active
from chaincode.runtime import TRANSACTION, Registry
from node.admission.tx import MAX_EXPIRY_MS, Transaction, TxError
from node.admission.verified import VerifiedCache
from node.storage import schema as s

DEFAULT_MAX_TXS = 50_000  # the hard bound (memory): ~85 MB of transfers, decoded ...
DEFAULT_MAX_BYTES = 96 * 1024 * 1024  # ... of weights (admission.tx): a transfer weighs ~1.7 KB
EXPIRED_MEMORY = 100_000  # admitted-then-expired ids kept for GET /v1/tx (~5 MB)
RATE_INTERVAL_MS = 1_000  # the commit rate is sampled this often
RATE_WEIGHT = 0.5  # EWMA weight of the newest sample: follows a change within ~3 s
SENDER_MEMORY = 100_000  # registered senders whose identity check is cached ...
STRANGER_MEMORY = 4_096  # ... and keys with no identity, apart


@dataclass(frozen=True)
class AdmissionLimits:
    """The soft bound (None for `backlog_ms`: hard bounds only, as the simulator runs)."""

    # The backlog a newly admitted tx may wait behind. At --rate 0 on 2 cores (2026-12-02):
    # 1 s gave p99 4.6 s, 500 ms 2.0-2.4 s and 350 ms 1.4 s, for the same committed rate.
    backlog_ms: int | None = 350
    min_backlog_txs: int = 200  # the soft bound never goes below this (startup, stalls)
    sender_share_divisor: int = 16  # a sender's share past half the soft bound: cap / 16
    min_sender_share: int = 16

    def __post_init__(self) -> None:
        assert self.backlog_ms is None or self.backlog_ms > 0
        assert self.min_backlog_txs >= 1 and self.sender_share_divisor >= 2
        assert self.min_sender_share >= 1


NODE_LIMITS = AdmissionLimits()
HARD_ONLY = AdmissionLimits(backlog_ms=None)


class KnownSenders:
    """Whether a sender key is a registered, unrevoked identity, and whether it is a broker
    (`is_broker`), cached per account until a block writes that account's identity record
    (`forget`). Registered ones are kept apart from strangers: a flood of fresh keys churns
    only the small memory of refusals."""

    PREFIX = s.identity_record("")

    def __init__(self, lookup: Callable[[str], dict[str, Any] | None]) -> None:
        self.lookup = lookup
        self._known: dict[str, str] = {}  # registered: its role ("?" if none), "" if revoked
        self._strangers: dict[str, None] = {}  # no record

    def __call__(self, sender: bytes) -> bool:
        return self._role(sender) != ""

    def is_broker(self, sender: bytes) -> bool:
        return self._role(sender) == "broker"

    def _role(self, sender: bytes) -> str:
        """The sender's active role, "" when it has none (unregistered or revoked)."""
        account = sender.hex()
        role = self._known.get(account)
        if role is not None:
            return role
        if account in self._strangers:
            return ""
        record = self.lookup(account)
        if record is None:
            if len(self._strangers) >= STRANGER_MEMORY:
                self._strangers.clear()
            self._strangers[account] = None
            return ""
        if len(self._known) >= SENDER_MEMORY:
            self._known.clear()
        role = self._known[account] = (active_role(record) or "?") if is_active(record) else ""
        return role

    def forget(self, written_keys: Iterable[str]) -> None:
        cut = len(self.PREFIX)
        for key in written_keys:
            if key.startswith(self.PREFIX):
                self._known.pop(key[cut:], None)
                self._strangers.pop(key[cut:], None)


class Mempool:
    def __init__(self, chain_id: str, registry: Registry, verified: VerifiedCache,
                 is_committed: Callable[[bytes, int], bool], max_txs: int = DEFAULT_MAX_TXS,
                 max_bytes: int = DEFAULT_MAX_BYTES, limits: AdmissionLimits = HARD_ONLY,
                 known_sender: Callable[[bytes], bool] | None = None,
                 is_broker: Callable[[bytes], bool] | None = None,
                 entry_nodes: int = 1, observers: Iterable[str] = ()) -> None:
        self.chain_id = chain_id
        self.registry = registry
        self.verified = verified
        self.is_committed = is_committed
        self.max_txs = max_txs
        self.max_bytes = max_bytes
        self.limits = limits
        self.known_sender = known_sender
        self.is_broker = is_broker  # a sender for many clients: a larger share (docstring)
        assert entry_nodes >= 1
        self.entry_nodes = entry_nodes  # nodes that admit client transactions
        self.pending: dict[bytes, Transaction] = {}
        self.bytes = 0
        self.by_sender: dict[bytes, int] = {}
        self.local: set[bytes] = set()  # admitted from this node's own clients
        self.observers = frozenset(observers)  # peers that relay for their own clients only
        self.lane_of: dict[bytes, str] = {}  # tx id -> the peer that relayed it first
        self.lanes: dict[str, tuple[int, int]] = {}  # peer -> (transactions, bytes) pending
        self.expired: dict[bytes, None] = {}  # insertion-ordered, bounded
        self.earliest_expiry: int | None = None  # a lower bound of the pool's expiries
        # commit rate (tx/s), sampled every RATE_INTERVAL_MS by `on_tick`
        self.commit_rate = 0.0
        self._rate_since_ms: int | None = None
        self._committed_since = 0
        self._busy_since = False

    def __len__(self) -> int:
        return len(self.pending)

    def __contains__(self, tx_id: bytes) -> bool:
        return tx_id in self.pending

    def status(self, tx_id: bytes) -> str | None:
        """"pending", "expired" (admitted, left without a receipt) or None."""
        if tx_id in self.pending:
            return "pending"
        if tx_id in self.expired:
            return "expired"
        return None

    # -- admission -----------------------------------------------------------------------------

    def capacity(self) -> int | None:
        """The soft bound in transactions, or None without one."""
        backlog_ms = self.limits.backlog_ms
        if backlog_ms is None:
            return None
        return max(self.limits.min_backlog_txs, int(self.commit_rate * backlog_ms / 1000))

    def local_bound(self, cap: int) -> int:
        return max(self.limits.min_sender_share, 2 * cap // self.entry_nodes)

    def lane_limit(self, peer: str) -> tuple[int, int]:
        """The most (transactions, bytes) the lane of `peer` may hold (module docstring)."""
        cap = self.capacity()
        if peer in self.observers and cap is not None:
            return 2 * self.local_bound(cap), self.max_bytes // self.entry_nodes
        return self.max_txs // self.entry_nodes, self.max_bytes // self.entry_nodes

    def load(self) -> int:
        """The pending transactions the soft bound counts: every lane up to its fair share
        (`local_bound`, what an honest node keeps its own clients under)."""
        cap = self.capacity()
        if cap is None:
            return len(self.pending)
        share = self.local_bound(cap)
        return len(self.pending) - sum(max(0, count - share)
                                       for count, _ in self.lanes.values())

    def retry_after_s(self) -> int:
        """Seconds until the backlog is back under half the soft bound, at least 1."""
        cap = self.capacity() or len(self.pending)
        rate = max(self.commit_rate, 1.0)
        return max(1, min(30, -(-int(len(self.pending) - cap // 2) // int(rate))))

    def check(self, tx: Transaction, now_ms: int) -> None:
        """Every admission check but the pool's room and the signature; raises TxError."""
        if tx.chain != self.chain_id:
            raise TxError("wrong_chain", f"transaction is for chain {tx.chain!r}; this node "
                          f"runs {self.chain_id!r}")
        if tx.tx_id in self.pending or self.is_committed(tx.tx_id, tx.expires):
            raise TxError("duplicate", f"transaction {tx.tx_id_hex} was already submitted", 409)
        if tx.expires < now_ms:
            raise TxError("expired", f"transaction expired at {tx.expires}; now is {now_ms}")
        if tx.expires > now_ms + MAX_EXPIRY_MS:
            raise TxError("expired", f"expires is more than {MAX_EXPIRY_MS} ms ahead of now")
        if not self.registry.has_contract(tx.contract):
            raise TxError("unknown_contract", f"no contract named {tx.contract!r}")
        if self.registry.method_kind(tx.contract, tx.method) != TRANSACTION:
            raise TxError("unknown_method",
                          f"{tx.contract} has no transaction method {tx.method!r}")
        if self.known_sender is not None and not self.known_sender(tx.sender):
            raise TxError("unknown_sender", f"sender {tx.sender_hex} is not a registered, "
                          "unrevoked identity", 403)

    def is_full(self) -> bool:
        """No client transaction could be admitted now, whatever its sender: past the hard
        bound, or past the soft bound and its reserve. POST /v1/txs then refuses the whole
        request without decoding it (the cheap refusal an overloaded node needs)."""
        if len(self.pending) >= self.max_txs or self.bytes >= self.max_bytes:
            return True
        cap = self.capacity()
        if cap is None:
            return False
        local_bound = self.local_bound(cap)
        return (self.load() >= cap + cap // 4
                or len(self.local) >= local_bound + local_bound // 2)

    def refuses_none(self, count: int, size: int) -> bool:
        """No transaction of a request of `count` transactions and `size` bytes could be
        refused for room: the hard bounds hold them all and the pool is under half the soft
        bound and this node's clients under half theirs, where `check_room_for` admits any
        sender. POST /v1/txs then skips its per-item room check."""
        if len(self.pending) + count > self.max_txs or self.bytes + size > self.max_bytes:
            return False
        cap = self.capacity()
        return cap is None or (self.load() < cap // 2
                               and len(self.local) < self.local_bound(cap) // 2)

    def full_error(self) -> TxError:
        return TxError("mempool_full", f"the backlog ({len(self.pending)} transactions) is "
                       "more than this cluster commits soon; retry later", 503,
                       self.retry_after_s())

    def check_room(self, tx: Transaction, relayed: bool = False, peer: str | None = None
                   ) -> None:
        """Raise mempool_full (503) unless the bounds above leave room for `tx`."""
        self.check_room_for(tx.sender, tx.weight, relayed, peer)

    def check_room_for(self, sender: bytes, size: int, relayed: bool = False,
                       peer: str | None = None) -> None:
        """`check_room` for a transaction of `size` bytes from `sender`."""
        refusal = self.room_refusal(sender, size, relayed, peer)
        if refusal is not None:
            raise self.room_error(refusal)

    def room_refusal(self, sender: bytes, size: int, relayed: bool = False,
                     peer: str | None = None) -> str | None:
        """Why there is no room for a transaction of `size` bytes from `sender`, relayed by
        `peer` if given ("limit", "lane", "share" or "backlog", for `room_error`), or None.
        Refusal is monotone: admitting more only fills the pool, so a transaction refused now
        would be refused later in the same request too (POST /v1/txs checks room before
        decoding its items)."""
        if len(self.pending) >= self.max_txs or self.bytes + size > self.max_bytes:
            return "limit"
        if relayed and peer is not None:
            count, weight = self.lanes.get(peer, (0, 0))
            most_txs, most_bytes = self.lane_limit(peer)
            return "lane" if count >= most_txs or weight + size > most_bytes else None
        cap = self.capacity()
        if relayed or cap is None:
            return None
        held = self.by_sender.get(sender, 0)
        pool, local = self.load(), len(self.local)
        local_bound = self.local_bound(cap)
        if held == 0:  # the reserve: a sender with nothing pending gets in past the bounds
            if pool < cap + cap // 4 and local < local_bound + local_bound // 2:
                return None
        elif pool < cap and local < local_bound:
            if held < self.sender_share(cap, sender) or (pool < cap // 2
                                                         and local < local_bound // 2):
                return None
            return "share"
        return "backlog"

    def sender_share(self, cap: int, sender: bytes | None = None) -> int:
        """The pending transactions `sender` may hold in a busy pool (module docstring)."""
        if sender is not None and self.is_broker is not None and self.is_broker(sender):
            return self.broker_share(cap)
        return max(self.limits.min_sender_share, cap // self.limits.sender_share_divisor)

    def broker_share(self, cap: int) -> int:
        """A broker's share: half of this node's clients' bound, never below an account's."""
        return max(self.sender_share(cap), self.local_bound(cap) // 2)

    def room_error(self, refusal: str) -> TxError:
        """The mempool_full answer (503, Retry-After) for a `room_refusal`."""
        pool, local = len(self.pending), len(self.local)
        if refusal == "limit":
            message = (f"the pool is at its limit ({pool} transactions, {self.bytes} bytes); "
                       "retry later")
        elif refusal == "lane":
            message = "the relaying peer holds its share of the pool; relay it again later"
        elif refusal == "share":
            cap = self.capacity() or 0
            message = (f"this sender holds its share of a busy pool ({self.sender_share(cap)} "
                       f"pending transactions, {self.broker_share(cap)} for a broker); retry "
                       "later")
        else:
            message = (f"the backlog ({pool} transactions, {local} from this node's clients) "
                       f"is what this cluster commits in {self.limits.backlog_ms} ms; retry "
                       "later")
        return TxError("mempool_full", message, 503, self.retry_after_s())

    def admit(self, tx: Transaction, now_ms: int, relayed: bool = False,
              peer: str | None = None) -> bool:
        """Admit `tx` from this node's client, or `relayed` (by `peer`, its lane, if given);
        whether a request timer should wait for it (False past the lane's fair share)."""
        self.check(tx, now_ms)
        self.check_room(tx, relayed, peer)
        if not self.verified.check(tx):
            raise TxError("bad_signature", "the signature does not verify against the sender "
                          "key over b'stoledger:tx:v1\\x00' + body")
        self.verified.remember(tx)
        self.pending[tx.tx_id] = tx
        timed = True
        if not relayed:
            self.local.add(tx.tx_id)
        elif peer is not None:
            count, weight = self.lanes.get(peer, (0, 0))
            cap = self.capacity()
            timed = cap is None or count < self.local_bound(cap)
            self.lanes[peer] = (count + 1, weight + tx.weight)
            self.lane_of[tx.tx_id] = peer
        self.bytes += tx.weight
        self.by_sender[tx.sender] = self.by_sender.get(tx.sender, 0) + 1
        if self.earliest_expiry is None or tx.expires < self.earliest_expiry:
            self.earliest_expiry = tx.expires
        cap = self.capacity()
        if cap is not None and len(self.pending) >= cap // 2:
            self._busy_since = True
        return timed

    # -- leaving the pool ----------------------------------------------------------------------

    def _remove(self, tx_id: bytes) -> Transaction | None:
        """Take a transaction out of the pool, and out of the verified cache: one that
        executed left it already, and one that expired or was dropped never will execute
        (kept there, a sender cycling big bodies that expire at once would grow it with
        nothing in the pool)."""
        tx = self.pending.pop(tx_id, None)
        if tx is not None:
            self.verified.discard(tx)
            self.local.discard(tx_id)
            peer = self.lane_of.pop(tx_id, None)
            if peer is not None:
                count, weight = self.lanes.pop(peer)
                if count > 1:
                    self.lanes[peer] = (count - 1, weight - tx.weight)
            self.bytes -= tx.weight
            left = self.by_sender[tx.sender] - 1
            if left:
                self.by_sender[tx.sender] = left
            else:
                del self.by_sender[tx.sender]
        return tx

    def _record_expired(self, tx_id: bytes) -> None:
        self.expired[tx_id] = None
        while len(self.expired) > EXPIRED_MEMORY:
            del self.expired[next(iter(self.expired))]

    def remove_committed(self, tx_ids: Iterable[bytes], block_time: int | None = None) -> None:
        """The transactions a committed block carried leave the pool. One whose `expires` is
        before `block_time` was dropped by the executor, not executed: it is recorded expired."""
        for tx_id in tx_ids:
            tx = self._remove(tx_id)
            if tx is not None and block_time is not None and tx.expires < block_time:
                self._record_expired(tx_id)

    def drop_expired(self, now_ms: int) -> int:
        """Drop (and record) every pending tx whose `expires` passed; cheap when none can
        have (the scan runs only once the earliest known expiry is behind `now_ms`)."""
        if self.earliest_expiry is None or self.earliest_expiry >= now_ms:
            return 0
        expired = [tx_id for tx_id, tx in self.pending.items() if tx.expires < now_ms]
        for tx_id in expired:
            self._remove(tx_id)
            self._record_expired(tx_id)
        self.earliest_expiry = min((tx.expires for tx in self.pending.values()), default=None)
        return len(expired)

    def pending_txs(self) -> list[Transaction]:
        return list(self.pending.values())

    # -- the commit rate -----------------------------------------------------------------------

    def on_commit(self, count: int) -> None:
        self._committed_since += count

    def on_tick(self, now_ms: int) -> None:
        """Sample the commit rate every RATE_INTERVAL_MS (node-local, not consensus)."""
        if self._rate_since_ms is None:
            self._rate_since_ms = now_ms
            self._committed_since = 0
            return
        elapsed = now_ms - self._rate_since_ms
        if elapsed < RATE_INTERVAL_MS:
            return
        measured = self._committed_since * 1000 / elapsed
        if self.commit_rate == 0.0:
            self.commit_rate = measured
        elif self._busy_since or measured > self.commit_rate:
            self.commit_rate += RATE_WEIGHT * (measured - self.commit_rate)
        cap = self.capacity()
        self._busy_since = cap is not None and len(self.pending) >= cap // 2
        self._rate_since_ms = now_ms
        self._committed_since = 0
