"""The writes surveillance stages during a block, moved into the block's batch at its end.

Every collection that surveillance keeps in memory mirrors itself in the store through one
`Staged`: a put or a delete of its `v/` key each time it changes, the last one per key winning.
`flush` moves them into the block's batch in key order, so the store and the memory agree block
for block and a restarted node loads exactly what the live one held.
"""

from __future__ import annotations

from node.storage import Batch


class Staged:
    __slots__ = ("ops",)

    def __init__(self) -> None:
        self.ops: dict[bytes, bytes | None] = {}

    def put(self, key: bytes, value: bytes) -> None:
        self.ops[key] = value

    def delete(self, key: bytes) -> None:
        self.ops[key] = None

    def flush(self, batch: Batch) -> None:
        for key in sorted(self.ops):
            value = self.ops[key]
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
        self.ops.clear()
