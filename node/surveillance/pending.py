"""What surveillance must judge later, and the insiders S8 asks about.

- `Insiders`: issuer -> accounts whose identity record names it in `insider_of` (PROTOCOL
  "identity"), refreshed from the record each time an identity event names the account
  (`v/n/<issuer>/<account>`).
- `Pending`: the conditions re-checked on later blocks (issue 30, "re-check pending conditions"):
  material events waiting for their price effect (S8, `v/q/`), the record dates,
  subscriptions and redemptions that make pegging more serious (S12, `v/k/`), and the session
  of each token's last trade, whose opening minutes (S14) and close (S5) are judged once they
  are over (`v/s/`).
All of it is persisted as it changes and bounded by Limits.pending per token (the token's
oldest goes first): one issuer's flood of trivial declarations on its own token cannot push
another token's news out unjudged (issue 30, F15). Tokens are few (each one is created by
the registrar), so the bound on all of it is the tokens times the limit.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from consensus import codec
from node.storage import KV
from node.storage import schema as s
from node.surveillance.records import Limits
from node.surveillance.staged import Staged

FOREVER = 2**63 - 1  # the end of a current insider's status


@dataclass(frozen=True, slots=True)
class MaterialEvent:
    """An event that moves a price when it becomes known (PROTOCOL "Material information")."""

    symbol: str
    issuer: str
    kind: str  # document, dividend, offering_opened, ..., hold (see reader.MATERIAL)
    time: int
    height: int
    index: int
    tx_id: str
    price_before: int  # the token's last price before it (0: none yet)
    account: str  # the insider frozen or held, else ""


@dataclass(slots=True)
class SessionCheck:
    open: int  # UTC ms of the session's opening bell (a KST day's midnight for `always`)
    close: int
    opening_due: bool  # S14 has not judged this session's opening minutes yet


class Insiders:
    """Current insiders, and former ones with the time they stopped being one: S8 judges the
    status an account had when it traded, so a resignation between the trades and the news
    hides nothing, and trades before the appointment count for nothing (an interval: from
    when `insider_of` named the issuer; one re-appointed while still kept keeps its first
    start). A former pair is kept until the index is full (the oldest former goes first,
    before any current pair is refused); S8 reads only those that ended within its lookback.
    Stored as `v/n/<issuer>/<account>`: the packed [start] for a current insider, [start,
    end] for a former one (an older store's empty value or bare end: start 0)."""

    def __init__(self, limits: Limits, staged: Staged) -> None:
        self.limits = limits
        self.staged = staged
        self.of_issuer: dict[str, set[str]] = {}
        self.of_account: dict[str, set[str]] = {}
        self.former: dict[str, dict[str, int]] = {}  # issuer -> account -> ended (ms)
        self.ended: list[tuple[int, str, str]] = []  # heap of (ended, issuer, account), lazy
        self.started: dict[str, dict[str, int]] = {}  # issuer -> account -> start (ms)
        self.count = 0  # current and former pairs

    def refresh(self, account: str, issuers: list[str], time: int) -> None:
        wanted = set(issuers)
        known = self.of_account.get(account, set())
        for issuer in sorted(known - wanted):
            self._remove(issuer, account)
            self._end(issuer, account, time)
        for issuer in sorted(wanted - known):
            start = self.started.get(issuer, {}).get(account, time)  # a kept former: its start
            self._forget(issuer, account)
            if self.count >= self.limits.insiders and not self._drop_oldest_former():
                break  # a full index keeps what it has: named in the report, never silent
            self.of_issuer.setdefault(issuer, set()).add(account)
            self.of_account.setdefault(account, set()).add(issuer)
            self.started.setdefault(issuer, {})[account] = start
            self.count += 1
            self.staged.put(s.surv_insider_key(issuer, account), codec.pack([start]))

    def was_insider(self, issuer: str, since: int) -> dict[str, tuple[int, int]]:
        """Account -> (from, until) when it was an insider of `issuer`, for those that were one
        at `since` or later (a current insider: until forever)."""
        started = self.started.get(issuer, {})
        found = {account: (started[account], ended)
                 for account, ended in self.former.get(issuer, {}).items() if ended >= since}
        for account in self.of_issuer.get(issuer, ()):
            found[account] = (started[account], FOREVER)
        return found

    def _remove(self, issuer: str, account: str) -> None:
        self.of_issuer[issuer].discard(account)
        if not self.of_issuer[issuer]:
            del self.of_issuer[issuer]
        self.of_account[account].discard(issuer)
        if not self.of_account[account]:
            del self.of_account[account]
        self.count -= 1
        self.staged.delete(s.surv_insider_key(issuer, account))

    def _end(self, issuer: str, account: str, time: int) -> None:
        self.former.setdefault(issuer, {})[account] = time
        heapq.heappush(self.ended, (time, issuer, account))
        self.count += 1
        start = self.started[issuer][account]
        self.staged.put(s.surv_insider_key(issuer, account), codec.pack([start, time]))

    def _forget(self, issuer: str, account: str) -> None:
        if account in self.former.get(issuer, {}):
            del self.former[issuer][account]
            if not self.former[issuer]:
                del self.former[issuer]
            del self.started[issuer][account]
            if not self.started[issuer]:
                del self.started[issuer]
            self.count -= 1
            self.staged.delete(s.surv_insider_key(issuer, account))

    def _drop_oldest_former(self) -> bool:
        while self.ended:
            ended, issuer, account = heapq.heappop(self.ended)
            if self.former.get(issuer, {}).get(account) == ended:
                self._forget(issuer, account)
                return True
        return False

    def is_insider(self, account: str, issuers: tuple[str, ...]) -> bool:
        return bool(self.of_account.get(account, set()) & set(issuers))

    def load(self, store: KV) -> None:
        for raw, value in store.iterate(s.SURV_INSIDER):
            issuer, account = raw[len(s.SURV_INSIDER):].decode().split("/")
            packed = codec.unpack(value) if value else [0]
            span = packed if isinstance(packed, list) else [0, packed]
            self.started.setdefault(issuer, {})[account] = span[0]
            if len(span) > 1:
                ended = span[1]
                self.former.setdefault(issuer, {})[account] = ended
                self.ended.append((ended, issuer, account))
            else:
                self.of_issuer.setdefault(issuer, set()).add(account)
                self.of_account.setdefault(account, set()).add(issuer)
            self.count += 1
        heapq.heapify(self.ended)


class Pending:
    def __init__(self, effect_ms: int, event_ms: int, limits: Limits, staged: Staged) -> None:
        self.effect_ms = effect_ms
        self.event_ms = event_ms
        self.limits = limits
        self.staged = staged
        self.material: dict[str, dict[tuple[int, int], MaterialEvent]] = {}
        self.pegs: dict[str, dict[int, str]] = {}  # symbol -> time -> kind
        self.sessions: dict[str, SessionCheck] = {}

    # ---- S8: material events waiting for their effect ---------------------------------------

    def wait_for_effect(self, event: MaterialEvent) -> None:
        self.material.setdefault(event.symbol, {})[(event.height, event.index)] = event
        self.staged.put(s.surv_pending_key(event.symbol, event.height, event.index),
                        codec.pack([event.symbol, event.issuer, event.kind, event.time,
                                    event.height, event.index, event.tx_id,
                                    event.price_before, event.account]))
        events = self.material[event.symbol]
        if len(events) > self.limits.pending:  # (height, index): the token's oldest
            self.settle(events[min(events)])

    def settle(self, event: MaterialEvent) -> None:
        """The event's effect was judged (or can no longer come)."""
        events = self.material[event.symbol]
        del events[(event.height, event.index)]
        if not events:
            del self.material[event.symbol]
        self.staged.delete(s.surv_pending_key(event.symbol, event.height, event.index))

    def waiting(self, symbol: str) -> list[MaterialEvent]:
        events = self.material.get(symbol, {})
        return [events[key] for key in sorted(events)]

    # ---- S12: dates that make pegging worse --------------------------------------------------

    def peg_date(self, symbol: str, time: int, kind: str) -> None:
        self.pegs.setdefault(symbol, {})[time] = kind
        self.staged.put(s.surv_peg_key(symbol, time), kind.encode())
        if len(self.pegs[symbol]) > self.limits.pending:  # the token's earliest date
            self._drop_peg(symbol, min(self.pegs[symbol]))

    def _drop_peg(self, symbol: str, time: int) -> None:
        del self.pegs[symbol][time]
        if not self.pegs[symbol]:
            del self.pegs[symbol]
        self.staged.delete(s.surv_peg_key(symbol, time))

    def near_peg_date(self, symbol: str, now: int) -> tuple[int, str] | None:
        """The nearest date at most `event_ms` ahead of now, or None."""
        near = [(time - now, time, kind) for time, kind in
                self.pegs.get(symbol, {}).items() if 0 <= time - now <= self.event_ms]
        if not near:
            return None
        _, time, kind = min(near)
        return time, kind

    # ---- S5 and S14: sessions judged once over -----------------------------------------------

    def session_traded(self, symbol: str, bounds: tuple[int, int]) -> SessionCheck | None:
        """A trade in the session `bounds`: (open, close). Returns the check of the token's
        earlier session if this trade starts a new one (the caller judges it first)."""
        current = self.sessions.get(symbol)
        if current is not None and (current.open, current.close) == bounds:
            return None
        self.sessions[symbol] = SessionCheck(bounds[0], bounds[1], True)
        self._stage_session(symbol)
        return current

    def opening_judged(self, symbol: str) -> None:
        self.sessions[symbol].opening_due = False
        self._stage_session(symbol)

    def session_closed(self, symbol: str) -> None:
        del self.sessions[symbol]
        self.staged.delete(s.surv_session_key(symbol))

    def _stage_session(self, symbol: str) -> None:
        check = self.sessions[symbol]
        self.staged.put(s.surv_session_key(symbol),
                        codec.pack([check.open, check.close, int(check.opening_due)]))

    # ---- bounds ------------------------------------------------------------------------------

    def prune(self, now: int) -> list[MaterialEvent]:
        """Drop what can no longer matter; returns the material events whose effect window
        ended without an effect."""
        expired = [event for symbol in sorted(self.material) for event in self.waiting(symbol)
                   if event.time + self.effect_ms < now]
        for event in expired:
            self.settle(event)
        for symbol in sorted(self.pegs):
            for time in sorted(self.pegs.get(symbol, {})):
                if time < now:
                    self._drop_peg(symbol, time)
        return expired

    def load(self, store: KV) -> None:
        for _, value in store.iterate(s.SURV_PENDING):
            event = MaterialEvent(*codec.unpack(value))
            self.material.setdefault(event.symbol, {})[(event.height, event.index)] = event
        for raw, value in store.iterate(s.SURV_PEG):
            symbol = raw[len(s.SURV_PEG):-9].decode()
            self.pegs.setdefault(symbol, {})[s.read_u64(raw[-8:])] = value.decode()
        for raw, value in store.iterate(s.SURV_SESSION):
            opened, closed, due = codec.unpack(value)
            self.sessions[raw[len(s.SURV_SESSION):].decode()] = SessionCheck(opened, closed,
                                                                               bool(due))
