"""The access log (PROTOCOL.md: "every signed read is written to the node's access log").

One entry per signed read, keyed by a sequence number in the node's own store (not consensus
state): who (account and role), what (method and path; for `POST /v1/query`, whose path says
nothing, also `read`, the query's `contract.method`, and `subject`, the first account its
arguments name: "the regulator read kim's identity record" is told from "read the cash
supply"), when (wall clock and height). Entries
are written unsynced: a crash may lose the last few, never corrupt the store. The audit route
`/v1/audit/access-log` pages through them.

Only registered callers are written (genesis operators and observers, and accounts with an
active identity): a signed request from a key nobody registered is refused by every route that
reads anything, and writing each one would let anyone with a fresh key grow the store without
bound (issue 13: 31,652 replays added 18.9 MB in 40 s). Those are counted (`unregistered`).
"""

from __future__ import annotations

from collections.abc import Callable

from consensus import codec
from node.clock import now_ms
from node.storage import KV, Batch
from node.storage import schema as s


class AccessLog:
    def __init__(self, store: KV, height: Callable[[], int]) -> None:
        self.store = store
        self.height = height
        self.seq = self._last_seq()
        self.unregistered = 0  # signed reads by keys with no role: counted, not written

    def _last_seq(self) -> int:
        for raw, _ in self.store.iterate(s.ACCESS, reverse=True):
            return s.read_u64(raw[len(s.ACCESS):])
        return 0

    def record(self, account: str, role: str | None, method: str, path: str,
               read: str | None = None, subject: str | None = None) -> None:
        if role is None:
            self.unregistered += 1
            return
        self.seq += 1
        entry = {"seq": self.seq, "account": account, "role": role, "method": method,
                 "path": path, "read": read, "subject": subject, "time": now_ms(),
                 "height": self.height()}
        batch = Batch()
        batch.put(s.access_key(self.seq), codec.pack(entry))
        self.store.write(batch, sync=False)
