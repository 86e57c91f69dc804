"""node.ledger.recover: a crash between the two renames of a rebuild's swap loses nothing."""

import os

from node.ledger import recover
from node.storage import Batch, LevelDB
from node.storage import schema as s


def _store(path, key, value):
    store = LevelDB(str(path))
    batch = Batch()
    batch.put(key, value)
    store.write(batch)
    store.close()


def test_a_restart_after_a_crash_between_the_renames_finishes_the_swap(tmp_path):
    _store(tmp_path / "ledger", s.META_HEIGHT, s.u64(7))  # the old store
    _store(tmp_path / "ledger.rebuild", s.wal_key("view"), b"signed votes")  # rebuilt, whole
    recover.halt(str(tmp_path), "its store has key layout 1")
    recover._write_durably(str(tmp_path / recover.REBUILT_FILE), "7")
    os.replace(tmp_path / "ledger", tmp_path / "ledger.diverged-1")  # the crash: one rename done

    # the restart: the rebuild finds the fresh store whole and only finishes the swap
    assert recover.rebuild(str(tmp_path), genesis=None, indexers=None) == 7  # type: ignore[arg-type]

    store = LevelDB(str(tmp_path / "ledger"))
    assert store.get(s.wal_key("view")) == b"signed votes"  # the carried votes are there
    store.close()
    assert (tmp_path / "ledger.diverged-1").is_dir()
    assert not (tmp_path / "ledger.rebuild").exists()
    assert recover.halted_reason(str(tmp_path)) is None
    assert not (tmp_path / recover.REBUILT_FILE).exists()
