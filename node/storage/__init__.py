"""The node's store: a small key-value interface with an atomic batch.

`KV` is all the rest of the node sees: `get`, `iterate` (by prefix, in key order, either
direction), and `write(batch, sync)`, which applies a whole `Batch` or none of it. `LevelDB`
backs real nodes; `MemoryKV` backs the simulator and unit tests. Every key layout lives in
`node.storage.schema`; nothing else builds keys.
"""

from node.storage.kv import KV, Batch, LevelDB, MemoryKV, open_store

__all__ = ["KV", "Batch", "LevelDB", "MemoryKV", "open_store"]
