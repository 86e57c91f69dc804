"""Cash movements for S9: client transfers (`cash.transfer`, no memo), deposits (`cash.mint`)
and withdrawals (`cash.burn`), per account both ways, for `horizon_ms`.

Each movement is one record under `v/c/<seq>` (seq: its chain position) and sits in the
outflows of its sender and the inflows of its recipient. Movements go after `horizon_ms`, or
oldest first beyond Limits.flows, in the block that went past it; `load` rebuilds the per-account
timelines from the records, so a restarted node reads what the live one read.
"""

from __future__ import annotations

from collections import deque

from node.storage import KV
from node.storage import schema as s
from node.surveillance.records import Flow, Limits, pack, unpack
from node.surveillance.staged import Staged
from node.surveillance.timeline import Timeline


class CashFlows:
    def __init__(self, horizon_ms: int, limits: Limits, staged: Staged) -> None:
        self.horizon_ms = horizon_ms
        self.limits = limits
        self.staged = staged
        self.all: deque[Flow] = deque()
        self.out: dict[str, Timeline[Flow]] = {}
        self.inn: dict[str, Timeline[Flow]] = {}

    def add(self, flow: Flow) -> None:
        self._index(flow)
        self.staged.put(s.surv_flow_key(flow.seq), pack(flow))

    def _index(self, flow: Flow) -> None:
        self.all.append(flow)
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
        while self.all and (len(self.all) > self.limits.flows or self.all[0].time < horizon):
            flow = self.all.popleft()
            for account, side in ((flow.sender, self.out), (flow.recipient, self.inn)):
                if account is None:
                    continue
                timeline = side[account]
                assert timeline.first() is flow, "cash flows out of order"
                timeline.pop_first()
                if not timeline:
                    del side[account]
            self.staged.delete(s.surv_flow_key(flow.seq))

    def load(self, store: KV) -> None:
        for _, value in store.iterate(s.SURV_FLOW):
            self._index(Flow(*unpack(value)))
