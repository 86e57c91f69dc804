"""From findings to alerts: nothing is suppressed (PROTOCOL "Later activity is judged afresh").

An episode is one rule's open alert on one subject (an owner of a token, a ring, an origin,
...). The first finding on a subject writes version 1 of a new alert, whose `alert_id` is
sha256(canonical [rule, symbol, accounts, window start]). While later findings on the subject
keep coming within the rule's window (`quiet_ms`) the episode stays open, and a finding that
names an account the alert has not named, whose severity is higher, one of whose measures
(finding.measure: the rule's sizes, such as quantity and trades) has at least doubled since
the last version, or whose evidence has a transaction of a block after the newest the
episode's versions listed (`seen_height`), writes the next version of the same alert: the
decoy's 1-unit wash and the 10,000 units washed after it are versions 1 and 2, and every
version is listed and sent on `/v1/events`. A finding after the episode went quiet opens a new
alert. Rules measure over a sliding window, so steady abuse never doubles its measure and keeps
its episode open for days: it is the new evidence that writes a version, so every transaction
a finding judged is listed by some version (at most one version of an episode per block, as the
abuse that wrote it was in that block), and no alert hides what came after it. A finding that
names no account (S11's outlier day, S6's market-wide concentration) is a token's state, not
an owner's acts: its versions still come from doubling alone.

Each version is a record of its own (`v/V/<alert_id><version>`, the latest also at
`v/a/<alert_id>`), listed at the height of the block that wrote it under the `v/i/` indexes. The
episodes are `v/e/` keys; the oldest goes first beyond Limits.episodes (its subject then opens a
new alert: a fresh one, never a suppressed one).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any

from consensus import codec
from node.storage import KV
from node.storage import schema as s
from node.surveillance.facts import BlockFacts, Detail, Finding, price_effect
from node.surveillance.records import Limits
from node.surveillance.rules import NAMES, SEVERITY
from node.surveillance.staged import Staged

ALL = "*"
SEVERITY_ORDER = {"low": 0, "medium": 1, "high": 2}
DAY_MS = 86_400_000
WINDOW_FIELDS = ("window_ms", "lookback_ms", "closing_ms", "opening_ms")


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
    seen_height: int = 0  # the newest block of evidence a version listed

    def pack(self) -> bytes:
        return codec.pack([self.alert_id, self.version, self.from_time, self.last_time,
                           list(self.accounts), list(self.measure), self.severity,
                           self.seen_height])

    @classmethod
    def unpack(cls, raw: bytes) -> Episode:
        alert_id, version, from_time, last_time, accounts, measure, severity, seen = \
            codec.unpack(raw)
        return cls(alert_id, version, from_time, last_time, tuple(accounts), tuple(measure),
                   severity, seen)


def is_escalation(episode: Episode, finding: Finding, severity: str) -> bool:
    return (not set(finding.accounts) <= set(episode.accounts)
            or SEVERITY_ORDER[severity] > SEVERITY_ORDER[episode.severity]
            or any(new >= 2 * old and new > old
                   for new, old in zip(finding.measure, episode.measure, strict=True)))


def newest_height(detail: Detail) -> int:
    return max((height for height, _, _ in detail.evidence), default=0)


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

    def record(self, findings: list[Finding], facts: BlockFacts) -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = []
        for finding in findings:
            alert = self._record(finding, facts, len(alerts))
            if alert is not None:
                alerts.append(alert)
        return alerts

    def _record(self, finding: Finding, facts: BlockFacts, seq: int) -> dict[str, Any] | None:
        key = (finding.rule, finding.subject)
        severity = finding.severity or SEVERITY[finding.rule]
        episode = self.open.get(key)
        if episode is not None and facts.time > self.expires(finding.rule, episode):
            episode = None  # quiet for the rule's window: a new alert
        if episode is None:
            episode = self._begin(finding, severity)
        detail = finding.detail()
        fresh = (episode.version == 0 or is_escalation(episode, finding, severity)
                 or (bool(finding.accounts) and newest_height(detail) > episode.seen_height))
        episode.last_time = facts.time
        if fresh:
            episode.version += 1
            episode.accounts = tuple(sorted(set(episode.accounts) | set(finding.accounts)))
            episode.measure = finding.measure
            episode.severity = severity
            episode.seen_height = max(episode.seen_height, newest_height(detail))
        self._keep(key, episode)
        if not fresh:
            return None
        return self._write(finding, detail, facts, episode, severity, seq)

    def _begin(self, finding: Finding, severity: str) -> Episode:
        alert_id = compute_alert_id(finding.rule, finding.symbol, finding.accounts,
                                    finding.from_time)
        raw = self.store.get(s.surv_alert_key(alert_id))
        staged = self.staged.ops.get(s.surv_alert_key(alert_id))
        latest = staged if staged is not None else raw
        if latest is None:
            return Episode(alert_id, 0, finding.from_time, finding.from_time, (),
                           tuple(0 for _ in finding.measure), severity)
        # the same rule, token, accounts and window start as an alert already written: its
        # episode was dropped, and this finding is its next version if it grew
        known = codec.unpack(latest)
        return Episode(alert_id, known["version"], finding.from_time, finding.from_time,
                       tuple(known["accounts"]), tuple(known["measure"]), known["severity"],
                       max(known["heights"], default=0))

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
               severity: str, seq: int) -> dict[str, Any]:
        alert = {"alert_id": episode.alert_id.hex(), "version": episode.version,
                 "rule": finding.rule, "name": NAMES[finding.rule], "severity": severity,
                 "symbol": finding.symbol, "accounts": list(finding.accounts),
                 "window": {"from_time": episode.from_time, "to_time": facts.time},
                 "height": facts.height,
                 "heights": sorted({height for height, _, _ in detail.evidence}),
                 "metrics": detail.metrics,
                 "evidence": [tx_id for _, _, tx_id in detail.evidence],
                 "explanation": detail.explanation, "orders": list(detail.orders),
                 "trades": list(detail.trades), "price_effect": price_effect(detail.price),
                 "links": [link.to_map() for link in detail.links],
                 "measure": list(finding.measure)}
        packed = codec.pack(alert)
        self.staged.put(s.surv_version_key(episode.alert_id, episode.version), packed)
        self.staged.put(s.surv_alert_key(episode.alert_id), packed)
        ref = s.surv_version_ref(episode.alert_id, episode.version)
        subjects = [("*", ALL), ("rule", finding.rule)]
        if finding.symbol is not None:
            subjects.append(("sym", finding.symbol))
        subjects += [("acct", account) for account in finding.accounts]
        for kind, subject in subjects:
            self.staged.put(s.surv_index_key(kind, subject, facts.height, seq), ref)
        return alert

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
        del self.open[(rule, subject)]
        self.staged.delete(s.surv_episode_key(rule, subject))

    def prune(self, now: int) -> None:
        while (oldest := self._oldest()) is not None and oldest[0] < now:
            self._close(oldest[1], oldest[2])

    def load(self, store: KV) -> None:
        for raw, value in store.iterate(s.SURV_EPISODE):
            rule, subject = raw[len(s.SURV_EPISODE):].decode().split("/", 1)
            episode = Episode.unpack(value)
            self.open[(rule, subject)] = episode
            self.expiry.append((self.expires(rule, episode), rule, subject))
        heapq.heapify(self.expiry)


def read_alert(store: KV, alert_id: bytes, version: int | None = None) -> dict[str, Any] | None:
    """The alert's latest version, or the one asked for."""
    key = (s.surv_alert_key(alert_id) if version is None else
           s.surv_version_key(alert_id, version))
    raw = store.get(key)
    if raw is None:
        return None
    alert: dict[str, Any] = codec.unpack(raw)
    return alert
