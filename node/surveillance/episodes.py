"""From findings to alerts: nothing is suppressed (PROTOCOL "Later activity is judged afresh").

An episode is one rule's open alert on one subject (an owner of a token, a ring, an origin,
...). The first finding on a subject writes version 1 of a new alert, whose `alert_id` is
sha256(canonical [rule, symbol, accounts, window start]). While later findings on the subject
keep coming within the rule's window (`quiet_ms`) the episode stays open, and a finding that
names an account the alert has not named, whose severity is higher, one of whose measures
(finding.measure: the rule's sizes, such as quantity and trades) has at least doubled since
the last version, or whose evidence has a transaction no version of the alert listed, writes
the next version of the same alert: the decoy's 1-unit wash and the 10,000 units washed after
it are versions 1 and 2, and every version is listed and sent on `/v1/events`. A finding after
the episode went quiet opens a new alert. Rules measure over a sliding window, so steady abuse
never doubles its measure and keeps its episode open for days: it is the new evidence that
writes a version, and no alert hides what came after it. A finding that names no account
(S11's outlier day, S6's market-wide concentration) is a token's state, not an owner's acts:
its versions still come from doubling alone.

Every transaction a finding judged is listed by some version, however many came in one block,
and a version lists only what no earlier version of the alert listed: the episode remembers the
transactions its versions listed (`listed`) and forgets those older than everything its latest
finding judged (windows slide forward; a transaction judged again after that, or after the
episode was dropped past Limits.episodes and taken up again, is listed again rather than
missed), and a version's `evidence` is the judged transactions not in it, in chain order. More
than MAX_EVIDENCE of them make several versions in the same block, each listing the next
MAX_EVIDENCE (`part`: [i, n], the i-th of the n versions the block wrote; the metrics and the
explanation are the finding's, in each). A version written for an escalation that brings no
new transaction lists the newest MAX_EVIDENCE the finding judged again, so no version is
without evidence. `orders` and `trades` list the ids above the highest its earlier versions
listed (MAX_IDS at most, the first and newest). `heights` are the blocks of its `evidence`.

Storage. Each version is a record of its own (`v/V/<alert_id><version>`) that holds only what
changed: its evidence ([height, index, tx id as 32 bytes]; `heights` is read from it), orders,
trades, and each other field whose value differs from the previous version's; for a field that
did not change, `same` names the version that holds it (always one that stores it, so a read
is one hop). `read_alert` reassembles the whole alert, field for field what was sent on
`/v1/events`. `v/a/<alert_id>` holds the latest version's number. A version is listed at the
height of the block that wrote it under the `v/i/` indexes. The episodes are `v/e/` keys and
what each listed `v/L/` keys (as many as its finding's window holds: gone with the episode); the
oldest episode goes first beyond Limits.episodes (its subject then opens a new alert: a fresh
one, never a suppressed one).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from consensus import codec
from node.storage import KV
from node.storage import schema as s
from node.surveillance.facts import (
    MAX_EVIDENCE,
    MAX_IDS,
    BlockFacts,
    Detail,
    Evidence,
    Finding,
    head_and_tail,
    price_effect,
)
from node.surveillance.records import Limits
from node.surveillance.rules import NAMES, SEVERITY
from node.surveillance.staged import Staged

ALL = "*"
SEVERITY_ORDER = {"low": 0, "medium": 1, "high": 2}
DAY_MS = 86_400_000
WINDOW_FIELDS = ("window_ms", "lookback_ms", "closing_ms", "opening_ms")
OWN_FIELDS = ("version", "height", "part", "evidence", "heights", "orders", "trades")  # stored
# in every version (evidence as [height, index, tx id bytes], heights read from it); the other
# fields only where they changed (`same` points back otherwise)

Get = Callable[[bytes], bytes | None]


def compute_alert_id(rule: str, symbol: str | None, accounts: tuple[str, ...],
                     from_time: int) -> bytes:
    return codec.sha256(codec.pack([rule, symbol or "", list(accounts), from_time]))


def quiet_ms(params: dict[str, int]) -> int:
    """How long an episode of the rule stays open without a finding: the rule's window."""
    for name in WINDOW_FIELDS:
        if name in params:
            return params[name]
    return DAY_MS  # S11 judges trading days


@dataclass(slots=True)
class Episode:
    alert_id: bytes
    version: int
    from_time: int
    last_time: int
    accounts: tuple[str, ...]  # every account a version named
    measure: tuple[int, ...]  # of the last version
    severity: str
    order_seen: int = 0  # the highest order id a version listed
    trade_seen: int = 0  # the highest trade id a version listed
    listed: set[Evidence] = field(default_factory=set)  # mirrored by v/L/ keys; not packed

    def pack(self) -> bytes:
        return codec.pack([self.alert_id, self.version, self.from_time, self.last_time,
                           list(self.accounts), list(self.measure), self.severity,
                           self.order_seen, self.trade_seen])

    @classmethod
    def unpack(cls, raw: bytes) -> Episode:
        (alert_id, version, from_time, last_time, accounts, measure, severity, order_seen,
         trade_seen) = codec.unpack(raw)
        return cls(alert_id, version, from_time, last_time, tuple(accounts), tuple(measure),
                   severity, order_seen, trade_seen)

    def unlisted(self, detail: Detail) -> list[Evidence]:
        return [e for e in detail.evidence if e not in self.listed]


def is_escalation(episode: Episode, finding: Finding, severity: str) -> bool:
    return (not set(finding.accounts) <= set(episode.accounts)
            or SEVERITY_ORDER[severity] > SEVERITY_ORDER[episode.severity]
            or any(new >= 2 * old and new > old
                   for new, old in zip(finding.measure, episode.measure, strict=True)))


def evidence_parts(fresh: list[Evidence], detail: Detail) -> list[list[Evidence]]:
    """The evidence of each version a fresh finding writes: the unlisted transactions,
    MAX_EVIDENCE a version; or, when there are none, the newest MAX_EVIDENCE it judged."""
    if not fresh:
        return [list(detail.evidence[-MAX_EVIDENCE:])]
    return [fresh[i:i + MAX_EVIDENCE] for i in range(0, len(fresh), MAX_EVIDENCE)]


def above(values: tuple[int, ...], seen: int) -> tuple[int, ...]:
    return tuple(head_and_tail([v for v in values if v > seen], MAX_IDS))


class Episodes:
    def __init__(self, params: dict[str, dict[str, int]], limits: Limits, staged: Staged,
                 store: KV) -> None:
        self.params = params
        self.limits = limits
        self.staged = staged
        self.store = store
        self.open: dict[tuple[str, str], Episode] = {}
        self.expiry: list[tuple[int, str, str]] = []  # heap of (expires, rule, subject), lazy

    def expires(self, rule: str, episode: Episode) -> int:
        return episode.last_time + quiet_ms(self.params[rule])

    # ---- findings in, alerts out -------------------------------------------------------------

    def get(self, key: bytes) -> bytes | None:
        """A key as this block left it so far (staged) or the store has it."""
        if key in self.staged.ops:
            return self.staged.ops[key]
        return self.store.get(key)

    def record(self, findings: list[Finding], facts: BlockFacts) -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = []
        for finding in findings:
            alerts += self._record(finding, facts, len(alerts))
        return alerts

    def _record(self, finding: Finding, facts: BlockFacts, seq: int) -> list[dict[str, Any]]:
        key = (finding.rule, finding.subject)
        severity = finding.severity or SEVERITY[finding.rule]
        episode = self.open.get(key)
        if episode is not None and facts.time > self.expires(finding.rule, episode):
            self._forget(key, episode)
            episode = None  # quiet for the rule's window: a new alert
        if episode is None:
            episode = self._begin(finding, severity)
        detail = finding.detail()
        unlisted = episode.unlisted(detail)
        fresh = (episode.version == 0 or is_escalation(episode, finding, severity)
                 or (bool(finding.accounts) and bool(unlisted)))
        episode.last_time = facts.time
        alerts: list[dict[str, Any]] = []
        if fresh:
            episode.accounts = tuple(sorted(set(episode.accounts) | set(finding.accounts)))
            episode.measure = finding.measure
            episode.severity = severity
            orders = above(detail.orders, episode.order_seen)
            trades = above(detail.trades, episode.trade_seen)
            episode.order_seen = max((episode.order_seen, *orders))
            episode.trade_seen = max((episode.trade_seen, *trades))
            parts = evidence_parts(unlisted, detail)
            for part, evidence in enumerate(parts, start=1):
                episode.version += 1
                alerts.append(self._write(
                    finding, detail, facts, episode, severity, seq + len(alerts),
                    {"part": [part, len(parts)], "evidence": evidence,
                     "orders": orders if part == 1 else (),
                     "trades": trades if part == 1 else ()}))
            self._list(key, episode, detail, unlisted)
        self._keep(key, episode)
        return alerts

    def _begin(self, finding: Finding, severity: str) -> Episode:
        alert_id = compute_alert_id(finding.rule, finding.symbol, finding.accounts,
                                    finding.from_time)
        latest = read_alert(self.get, alert_id)
        if latest is None:
            return Episode(alert_id, 0, finding.from_time, finding.from_time, (),
                           tuple(0 for _ in finding.measure), severity)
        # the same rule, token, accounts and window start as an alert already written: its
        # episode was dropped (and what it listed with it), and this finding is its next
        # version if it grew or judged a transaction (it lists the window's again)
        return Episode(alert_id, latest["version"], finding.from_time, finding.from_time,
                       tuple(latest["accounts"]), tuple(latest["measure"]), latest["severity"],
                       max(latest["orders"], default=0), max(latest["trades"], default=0))

    def _list(self, key: tuple[str, str], episode: Episode, detail: Detail,
              fresh: list[Evidence]) -> None:
        """Remember what the versions just written listed, and forget what is older than all
        the finding judged (windows slide forward: the rule will not judge it again, and if it
        did, a version would list it again rather than miss it)."""
        for height, index, tx_id in fresh:
            episode.listed.add((height, index, tx_id))
            self.staged.put(s.surv_listed_key(*key, height, index),
                            bytes.fromhex(tx_id))
        oldest = min((e[0] for e in detail.evidence), default=0)
        for height, index, tx_id in sorted(e for e in episode.listed if e[0] < oldest):
            episode.listed.discard((height, index, tx_id))
            self.staged.delete(s.surv_listed_key(*key, height, index))

    def _forget(self, key: tuple[str, str], episode: Episode) -> None:
        for height, index, _ in sorted(episode.listed):
            self.staged.delete(s.surv_listed_key(*key, height, index))
        episode.listed = set()

    def _keep(self, key: tuple[str, str], episode: Episode) -> None:
        if key not in self.open:
            heapq.heappush(self.expiry, (self.expires(key[0], episode), *key))
        self.open[key] = episode
        self.staged.put(s.surv_episode_key(*key), episode.pack())
        while len(self.open) > self.limits.episodes:
            oldest = self._oldest()
            assert oldest is not None
            self._close(oldest[1], oldest[2])

    def _write(self, finding: Finding, detail: Detail, facts: BlockFacts, episode: Episode,
               severity: str, seq: int, own: dict[str, Any]) -> dict[str, Any]:
        evidence: list[Evidence] = own["evidence"]
        alert = {"alert_id": episode.alert_id.hex(), "version": episode.version,
                 "rule": finding.rule, "name": NAMES[finding.rule], "severity": severity,
                 "symbol": finding.symbol, "accounts": list(finding.accounts),
                 "window": {"from_time": episode.from_time, "to_time": facts.time},
                 "height": facts.height, "part": own["part"],
                 "heights": sorted({height for height, _, _ in evidence}),
                 "metrics": detail.metrics,
                 "evidence": [tx_id for _, _, tx_id in evidence],
                 "explanation": detail.explanation, "orders": list(own["orders"]),
                 "trades": list(own["trades"]), "price_effect": price_effect(detail.price),
                 "links": [link.to_map() for link in detail.links],
                 "measure": list(finding.measure)}
        alert = codec.unpack(codec.pack(alert))  # as a read gives it back: canonical
        stored = self._changes(episode.alert_id, alert)
        stored["evidence"] = [[height, index, bytes.fromhex(tx_id)]
                              for height, index, tx_id in evidence]
        del stored["heights"]
        self.staged.put(s.surv_version_key(episode.alert_id, episode.version),
                        codec.pack(stored))
        self.staged.put(s.surv_alert_key(episode.alert_id), s.u32(episode.version))
        ref = s.surv_version_ref(episode.alert_id, episode.version)
        subjects = [("*", ALL), ("rule", finding.rule)]
        if finding.symbol is not None:
            subjects.append(("sym", finding.symbol))
        subjects += [("acct", account) for account in finding.accounts]
        for kind, subject in subjects:
            self.staged.put(s.surv_index_key(kind, subject, facts.height, seq), ref)
        return alert

    def _changes(self, alert_id: bytes, alert: dict[str, Any]) -> dict[str, Any]:
        """What version `alert` stores: its own fields, and the others where they changed."""
        stored: dict[str, Any] = {name: alert[name] for name in OWN_FIELDS}
        same: dict[str, int] = {}
        previous = (read_stored(self.get, alert_id, alert["version"] - 1)
                    if alert["version"] > 1 else None)
        holders = dict(previous["same"]) if previous is not None else {}
        cache: dict[int, dict[str, Any]] = {}
        for name, value in alert.items():
            if name in OWN_FIELDS:
                continue
            holder = (None if previous is None else
                      alert["version"] - 1 if name in previous else holders.get(name))
            if holder is not None:
                if holder not in cache:
                    found = read_stored(self.get, alert_id, holder)
                    assert found is not None, "a version points to a missing version"
                    cache[holder] = found
                if cache[holder][name] == value:
                    same[name] = holder
                    continue
            stored[name] = value
        stored["same"] = same
        return stored

    # ---- bounds ------------------------------------------------------------------------------

    def _oldest(self) -> tuple[int, str, str] | None:
        """The episode that expires first (heap entries kept as owners._oldest_use's)."""
        while self.expiry:
            expires, rule, subject = self.expiry[0]
            episode = self.open.get((rule, subject))
            if episode is None:
                heapq.heappop(self.expiry)
                continue
            current = self.expires(rule, episode)
            if current == expires:
                return self.expiry[0]
            heapq.heapreplace(self.expiry, (current, rule, subject))
        return None

    def _close(self, rule: str, subject: str) -> None:
        heapq.heappop(self.expiry)
        self._forget((rule, subject), self.open.pop((rule, subject)))
        self.staged.delete(s.surv_episode_key(rule, subject))

    def prune(self, now: int) -> None:
        while (oldest := self._oldest()) is not None and oldest[0] < now:
            self._close(oldest[1], oldest[2])

    def load(self, store: KV) -> None:
        listed: dict[tuple[str, str], set[Evidence]] = {}
        for raw, tx_id in store.iterate(s.SURV_LISTED):
            rule, subject, height, index = s.read_listed_key(raw)
            listed.setdefault((rule, subject), set()).add((height, index, tx_id.hex()))
        for raw, value in store.iterate(s.SURV_EPISODE):
            rule, subject = raw[len(s.SURV_EPISODE):].decode().split("/", 1)
            episode = Episode.unpack(value)
            episode.listed = listed.pop((rule, subject), set())
            self.open[(rule, subject)] = episode
            self.expiry.append((self.expires(rule, episode), rule, subject))
        heapq.heapify(self.expiry)
        assert not listed, "v/L/ keys of an episode that is not open"


def read_stored(get: Get, alert_id: bytes, version: int) -> dict[str, Any] | None:
    raw = get(s.surv_version_key(alert_id, version))
    if raw is None:
        return None
    stored: dict[str, Any] = codec.unpack(raw)
    return stored


def read_alert(get: Get, alert_id: bytes, version: int | None = None) -> dict[str, Any] | None:
    """The alert's latest version, or the one asked for, whole (the fields it did not store
    read from the versions `same` names). `get`: the store's, or one that sees staged keys."""
    if version is None:
        raw = get(s.surv_alert_key(alert_id))
        if raw is None:
            return None
        version = s.read_u32(raw)
    stored = read_stored(get, alert_id, version)
    if stored is None:
        return None
    alert = {name: value for name, value in stored.items() if name != "same"}
    alert["evidence"] = [tx_id.hex() for _, _, tx_id in stored["evidence"]]
    alert["heights"] = sorted({height for height, _, _ in stored["evidence"]})
    for name, holder in stored["same"].items():
        found = read_stored(get, alert_id, holder)
        assert found is not None, "a version points to a missing version"
        alert[name] = found[name]
    return dict(sorted(alert.items()))  # the order a packed map has (codec: canonical)
