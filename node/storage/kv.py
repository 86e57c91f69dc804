"""Key-value stores: the interface, an in-memory one, and LevelDB (plyvel)."""

from __future__ import annotations

import bisect
import os
from collections.abc import Iterator
from typing import Protocol


class Batch:
    """Writes collected to apply atomically. Later writes to a key win."""

    __slots__ = ("ops",)

    def __init__(self) -> None:
        self.ops: dict[bytes, bytes | None] = {}

    def put(self, key: bytes, value: bytes) -> None:
        self.ops[key] = value

    def delete(self, key: bytes) -> None:
        self.ops[key] = None

    def __len__(self) -> int:
        return len(self.ops)


class KV(Protocol):
    def get(self, key: bytes) -> bytes | None: ...

    def iterate(self, prefix: bytes, start: bytes | None = None, stop: bytes | None = None,
                reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        """Pairs whose key starts with `prefix`, in key order, with `start <= key < stop` when
        given (full keys, prefix included)."""
        ...

    def write(self, batch: Batch, sync: bool = True) -> None: ...

    def close(self) -> None: ...


class MemoryKV:
    """A sorted in-memory store. `crash()` drops what was written with sync=False, so the
    simulator can model a power cut."""

    def __init__(self) -> None:
        self._keys: list[bytes] = []
        self._values: dict[bytes, bytes] = {}
        self._unsynced: list[Batch] = []
        self._synced_snapshot: dict[bytes, bytes] | None = None

    def get(self, key: bytes) -> bytes | None:
        return self._values.get(key)

    def iterate(self, prefix: bytes, start: bytes | None = None, stop: bytes | None = None,
                reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        low = max(prefix, start) if start is not None else prefix
        lo = bisect.bisect_left(self._keys, low)
        hi = lo
        keys = self._keys
        while hi < len(keys) and keys[hi].startswith(prefix) and (stop is None or keys[hi] < stop):
            hi += 1
        selected = keys[lo:hi]
        if reverse:
            selected.reverse()
        for key in selected:
            value = self._values.get(key)
            if value is not None:
                yield key, value

    def write(self, batch: Batch, sync: bool = True) -> None:
        if not sync and self._synced_snapshot is None:
            self._synced_snapshot = dict(self._values)
        for key, value in batch.ops.items():
            if value is None:
                if key in self._values:
                    del self._values[key]
                    self._keys.pop(bisect.bisect_left(self._keys, key))
            else:
                if key not in self._values:
                    bisect.insort(self._keys, key)
                self._values[key] = value
        if sync:
            self._synced_snapshot = None

    def crash(self) -> None:
        """Lose every write since the last synced one."""
        if self._synced_snapshot is not None:
            self._values = self._synced_snapshot
            self._keys = sorted(self._values)
            self._synced_snapshot = None

    def close(self) -> None:
        pass


# Table files LevelDB keeps open (its default is 1000); the node reserves descriptors for them
# that RPC connections can never take (node.rpc.connections.RESERVED_DESCRIPTORS).
LEVELDB_MAX_OPEN_FILES = 500
# Compaction runs on LevelDB's own thread but is this process's CPU. With the defaults (4 MiB
# memtable) it grew to a quarter of a node's CPU within a minute of saturation (20 MB of
# store): every block writes state, history, receipts and indexes, and small level-0 tables
# are merged into level 1 again and again. A bigger memtable costs memory (two at most) and
# saves most of that. Tables stay small (LevelDB's 2 MiB): a level-1 table then covers a
# narrow key range, so pushing it down rewrites only the level-2 tables in that range, and
# for what is keyed by height (schema: blocks, receipts) that is the newest one or two. With
# 16 MiB tables each one spanned every prefix and every push rewrote the whole of level 2.
LEVELDB_WRITE_BUFFER_BYTES = 32 * 1024 * 1024
LEVELDB_MAX_FILE_BYTES = 2 * 1024 * 1024
PRIVATE_DIR_MODE = 0o700  # a store holds the ledger, the access log and the consensus WAL:
PRIVATE_FILE_MODE = 0o600  # readable by the node's own user only


def make_private(path: str) -> None:
    """Restrict a store's folder to 0700 and the files in it to 0600 (LevelDB makes them with
    the process umask; `node run` sets 077 so the files it makes later are private too)."""
    os.chmod(path, PRIVATE_DIR_MODE)
    for entry in os.scandir(path):
        if entry.is_file(follow_symlinks=False):
            os.chmod(entry.path, PRIVATE_FILE_MODE)


class StoreLocked(OSError):
    """The store is open in another process (LevelDB's LOCK file): its node is running."""

    def __init__(self, path: str) -> None:
        super().__init__(f"the store {path} is in use by another process: its node is "
                         "running (`stoledger cluster status` shows it); stop it first")


class LevelDB:
    """LevelDB on disk. A synced write returns only once the batch is on disk. Its folder is
    0700 and its files 0600 (`make_private`)."""

    def __init__(self, path: str) -> None:
        import plyvel

        os.makedirs(path, mode=PRIVATE_DIR_MODE, exist_ok=True)
        old_umask = os.umask(0o077)  # the files LevelDB creates on open
        try:
            # a bloom filter per table: most reads of the tx index ask for an id that is not
            # there (admission's duplicate check, the executor's), and the filter answers
            # without a disk block read
            self._db = plyvel.DB(path, create_if_missing=True, bloom_filter_bits=10,
                                 max_open_files=LEVELDB_MAX_OPEN_FILES,
                                 write_buffer_size=LEVELDB_WRITE_BUFFER_BYTES,
                                 max_file_size=LEVELDB_MAX_FILE_BYTES)
        except plyvel.IOError as error:
            if "lock" not in str(error).lower():
                raise
            raise StoreLocked(path) from None
        finally:
            os.umask(old_umask)
        make_private(path)

    def get(self, key: bytes) -> bytes | None:
        return self._db.get(key)

    def iterate(self, prefix: bytes, start: bytes | None = None, stop: bytes | None = None,
                reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        if start is None and stop is None:
            yield from self._db.iterator(prefix=prefix, reverse=reverse)
            return
        low = max(prefix, start) if start is not None else prefix
        high = stop if stop is not None else _prefix_end(prefix)
        for key, value in self._db.iterator(start=low, stop=high, reverse=reverse):
            if key.startswith(prefix):
                yield key, value

    def write(self, batch: Batch, sync: bool = True) -> None:
        with self._db.write_batch(sync=sync) as wb:
            for key, value in batch.ops.items():
                if value is None:
                    wb.delete(key)
                else:
                    wb.put(key, value)

    def close(self) -> None:
        self._db.close()


def _prefix_end(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key starting with `prefix`."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


def open_store(path: str | None) -> KV:
    return MemoryKV() if path is None else LevelDB(path)
