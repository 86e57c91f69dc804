"""Cash movements for S9: client transfers (`cash.transfer`, no memo), deposits (`cash.mint`)
and withdrawals (`cash.burn`), per account both ways, for `horizon_ms`.

Each movement is one record under `v/c/<seq>` (seq: its chain position) and sits in the
outflows of its sender and the inflows of its recipient. Movements go after `horizon_ms` in the
block that went past it; beyond Limits.flows the account that moved the most (a movement is
its sender's, a deposit its recipient's) gives its oldest (node.surveillance.caps), so one
account's flood of one-won transfers never drops another's movements (issue 30, F15b). `load`
rebuilds the per-account timelines from the records, so a restarted node reads what the live
one read.
"""

from __future__ import annotations

from collections import deque
from itertools import islice

from node.storage import KV
from node.storage import schema as s
from node.surveillance.caps import STALE_SLACK, Holdings
from node.surveillance.records import Flow, Limits, pack, unpack
from node.surveillance.staged import Staged
from node.surveillance.timeline import Timeline


class CashFlows:
    def __init__(self, horizon_ms: int, limits: Limits, staged: Staged) -> None:
        self.horizon_ms = horizon_ms
        self.limits = limits
        self.staged = staged
        self.all: deque[Flow] = deque()  # in chain order; a flow given at the limit stays
        self.gone: set[int] = set()  # until it reaches the front: the seqs of those
        self.out: dict[str, Timeline[Flow]] = {}
        self.inn: dict[str, Timeline[Flow]] = {}
        self.holdings = Holdings()  # flows kept per mover (subject)
        self.evicted = 0  # flows dropped at the limit (from inside a window): stales S9 tallies

    def add(self, flow: Flow) -> None:
        self._index(flow)
        self.staged.put(s.surv_flow_key(flow.seq), pack(flow))

    @staticmethod
    def mover(flow: Flow) -> str:
        """Whose act the movement was: its sender's, or a deposit's recipient's."""
        mover = flow.sender if flow.sender is not None else flow.recipient
        assert mover is not None, "a movement with neither side"
        return mover

    def _index(self, flow: Flow) -> None:
        self.all.append(flow)
        self.holdings.add(self.mover(flow))
        for account, side in ((flow.sender, self.out), (flow.recipient, self.inn)):
            if account is not None:
                side.setdefault(account, Timeline()).append(flow.time, flow)

    def outflows(self, account: str, since: int) -> list[Flow]:
        timeline = self.out.get(account)
        return timeline.since(since) if timeline else []

    def inflows(self, account: str, since: int) -> list[Flow]:
        timeline = self.inn.get(account)
        return timeline.since(since) if timeline else []

    def prune(self, now: int) -> None:
        horizon = now - self.horizon_ms
        while self.all and (self.all[0].seq in self.gone or self.all[0].time < horizon):
            if self.all[0].seq in self.gone:
                self.gone.discard(self.all.popleft().seq)
            else:
                self._drop(self.all[0])
        while self.holdings.total > self.limits.flows:
            self._drop(self.oldest_of(self.holdings.largest()))
            self.evicted += 1
        if len(self.all) > 2 * self.holdings.total + STALE_SLACK:
            self.all = deque(flow for flow in self.all if flow.seq not in self.gone)
            self.gone.clear()

    def oldest_of(self, mover: str) -> Flow:
        """The mover's oldest movement: its first outflow, or a deposit before it."""
        sent, received = self.out.get(mover), self.inn.get(mover)
        first = sent.first() if sent else None
        for flow in islice(received.items, received.head, None) if received else ():
            if first is not None and flow.seq > first.seq:
                break
            if flow.sender is None:
                return flow
        assert first is not None, "a mover with no movement"
        return first

    def _drop(self, flow: Flow) -> None:
        """Forget the movement; one not at the front of `all` stays there, marked gone."""
        if self.all and self.all[0] is flow:
            self.all.popleft()
        else:
            self.gone.add(flow.seq)
        self.holdings.remove(self.mover(flow))
        for account, side in ((flow.sender, self.out), (flow.recipient, self.inn)):
            if account is None:
                continue
            timeline = side[account]
            timeline.remove(flow.time, flow)
            if not timeline:
                del side[account]
        self.staged.delete(s.surv_flow_key(flow.seq))

    def load(self, store: KV) -> None:
        for _, value in store.iterate(s.SURV_FLOW):
            self._index(Flow(*unpack(value)))
