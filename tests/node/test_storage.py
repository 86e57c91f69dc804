"""The key-value interface behaves the same in memory and on LevelDB."""

import pytest

from node.storage import Batch, LevelDB, MemoryKV


@pytest.fixture(params=["memory", "leveldb"])
def store(request, tmp_path):
    kv = MemoryKV() if request.param == "memory" else LevelDB(str(tmp_path / "db"))
    yield kv
    kv.close()


def _write(store, **pairs):
    batch = Batch()
    for key, value in pairs.items():
        if value is None:
            batch.delete(key.encode())
        else:
            batch.put(key.encode(), value.encode())
    store.write(batch)


def test_batch_applies_puts_and_deletes(store):
    _write(store, a="1", b="2")
    _write(store, a=None, c="3")
    assert store.get(b"a") is None
    assert store.get(b"b") == b"2" and store.get(b"c") == b"3"


def test_prefix_iteration_in_key_order_both_ways_with_bounds(store):
    _write(store, **{"p/3": "c", "p/1": "a", "p/2": "b", "q/1": "x", "o/9": "y"})
    assert [k for k, _ in store.iterate(b"p/")] == [b"p/1", b"p/2", b"p/3"]
    assert [k for k, _ in store.iterate(b"p/", reverse=True)] == [b"p/3", b"p/2", b"p/1"]
    assert [k for k, _ in store.iterate(b"p/", start=b"p/2")] == [b"p/2", b"p/3"]
    assert [k for k, _ in store.iterate(b"p/", stop=b"p/3", reverse=True)] == [b"p/2", b"p/1"]
    assert list(store.iterate(b"z/")) == []


def test_prefix_ending_in_ff_bytes(store):
    batch = Batch()
    batch.put(b"\xff\xff1", b"v")
    batch.put(b"\xff\xfe", b"w")
    store.write(batch)
    assert [k for k, _ in store.iterate(b"\xff\xff", start=b"\xff\xff")] == [b"\xff\xff1"]


def test_leveldb_survives_reopen(tmp_path):
    path = str(tmp_path / "db")
    db = LevelDB(path)
    _write(db, k="v")
    db.close()
    db = LevelDB(path)
    assert db.get(b"k") == b"v"
    db.close()


def test_memory_crash_loses_only_unsynced_writes():
    kv = MemoryKV()
    _write(kv, durable="1")
    batch = Batch()
    batch.put(b"volatile", b"2")
    kv.write(batch, sync=False)
    assert kv.get(b"volatile") == b"2"
    kv.crash()
    assert kv.get(b"volatile") is None and kv.get(b"durable") == b"1"
