"""chaincode.runtime.Overlay keeps its written keys sorted so that a range does not scan every
write of the block; it must yield exactly what the plain merge it replaced yielded (the
reference below, the code before), for any writes, deletions, nesting and writes made while a
range is being iterated; and `first` must be its first item. Otherwise two node versions would
compute different states."""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from chaincode.runtime import ChaincodeError, Contract, MemoryState, Overlay, Registry, begin_block


class ReferenceOverlay:
    """The Overlay before the sorted index: a sort of every write per range."""

    def __init__(self, base) -> None:
        self.base = base
        self.writes: dict[str, bytes | None] = {}

    def get(self, key):
        return self.writes[key] if key in self.writes else self.base.get(key)

    def put(self, key, value):
        self.writes[key] = value

    def delete(self, key):
        self.writes[key] = None

    def range(self, prefix: str, start: str = "") -> Iterator[tuple[str, bytes]]:
        own = sorted((k, v) for k, v in self.writes.items()
                     if k.startswith(prefix) and k >= start)
        merged = heapq.merge(((k, 0, v) for k, v in own),
                             ((k, 1, v) for k, v in self.base.range(prefix, start)))
        last = None
        for key, _, value in merged:
            if key == last:
                continue
            last = key
            if value is not None:
                yield key, value

    def merge_into(self, parent) -> None:
        parent.writes.update(self.writes)


KEYS = st.sampled_from([f"{a}/{b}" for a in "ab" for b in ("1", "2", "3", "10", "x")] + ["a",
                                                                                          "b"])
VALUES = st.one_of(st.none(), st.binary(min_size=1, max_size=2))
OPS = st.lists(st.one_of(
    st.tuples(st.just("write"), KEYS, VALUES),
    st.tuples(st.just("range"), st.sampled_from(["", "a", "a/", "a/1", "b/"]),
              st.sampled_from(["", "a/2", "b/1", "a/10"]),
              st.lists(st.tuples(KEYS, VALUES), max_size=3)),  # writes made mid-iteration
    st.tuples(st.just("child"), st.lists(st.tuples(KEYS, VALUES), max_size=4)),
), max_size=30)


def _apply(overlay, key, value):
    if value is None:
        overlay.delete(key)
    else:
        overlay.put(key, value)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(KEYS, st.binary(min_size=1, max_size=2)), OPS)
def test_ranges_match_the_plain_merge(base_values, ops):
    new, old = Overlay(MemoryState(base_values)), ReferenceOverlay(MemoryState(base_values))
    for op in ops:
        if op[0] == "write":
            for overlay in (new, old):
                _apply(overlay, op[1], op[2])
        elif op[0] == "range":
            _, prefix, start, during = op
            seen = []
            for overlay in (new, old):
                out = []
                for index, item in enumerate(overlay.range(prefix, start)):
                    out.append(item)
                    if index == 0:
                        for key, value in during:
                            _apply(overlay, key, value)
                seen.append(out)
            assert seen[0] == seen[1], (prefix, start)
            assert new.first(prefix, start) == next(old.range(prefix, start), None)
        else:
            children = (Overlay(new), ReferenceOverlay(old))
            for child in children:
                for key, value in op[1]:
                    _apply(child, key, value)
            assert list(children[0].range("")) == list(children[1].range(""))
            for prefix, start in (("", ""), ("a/", ""), ("a/", "a/10"), ("b/", "b/1")):
                assert (children[0].first(prefix, start)  # over an overlay, key by key
                        == next(children[1].range(prefix, start), None)), (prefix, start)
            children[0].merge_into(new)
            children[1].merge_into(old)
        assert new.writes == old.writes
        assert list(new.range("")) == list(old.range(""))


def test_a_range_does_not_scan_the_deleted_keys_of_the_block():
    """A block of 20,000 book keys written and deleted, then a range at each step: linear."""
    overlay = Overlay(MemoryState())
    started = time.process_time()
    for index in range(20_000):
        key = f"book/{index:08d}"
        overlay.put(key, b"x")
        assert next(overlay.range("book/")) == (key, b"x")
        overlay.delete(key)
    assert time.process_time() - started < 10.0  # the scan of every write took minutes


TX_OPS = st.lists(st.tuples(st.lists(st.tuples(KEYS, VALUES), max_size=5), st.booleans(),
                            st.sampled_from(["", "a/", "b/"])), max_size=12)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(KEYS, st.binary(min_size=1, max_size=2)), TX_OPS)
def test_a_transaction_in_the_block_overlay_is_a_child_overlay_merged_or_dropped(base_values,
                                                                                  txs):
    """Registry.execute runs a transaction in the block's overlay (begin, then commit or
    rollback) where it ran in an overlay of its own, merged on success and dropped on refusal:
    every read, range and write, and the block's writes after it, must be the same; a rollback
    leaves the sorted live keys and the first-write order exactly as before `begin`."""
    block, old = Overlay(MemoryState(base_values)), ReferenceOverlay(MemoryState(base_values))
    for writes, commits, prefix in txs:
        before = (dict(block.writes), list(block._live), dict(block._first))
        child = ReferenceOverlay(old)
        block.begin()
        for key, value in writes:
            _apply(block, key, value)
            _apply(child, key, value)
            assert list(block.range(prefix)) == list(child.range(prefix)), prefix
            assert block.first(prefix) == next(child.range(prefix), None)
            assert block.get(key) == child.get(key)
        if commits:
            assert block.commit() == child.writes
            child.merge_into(old)
        else:
            block.rollback()
            assert (block.writes, block._live, block._first) == before
        assert block.writes == old.writes
        assert list(block.range("")) == list(old.range(""))
        assert block._live == sorted(k for k, v in block.writes.items() if v is not None)
        assert sorted(block._first.values()) == list(range(len(block.writes)))


class _Hooks(Contract):
    name = "hooks"

    @begin_block
    def a_kept(self, ctx):
        ctx.state.put("kept", 1)

    @begin_block
    def b_refused(self, ctx):
        ctx.state.put("dropped", 1)
        ctx.state.delete("kept")
        raise ChaincodeError("NO", "refused after writing")


def test_a_refused_begin_block_hook_leaves_no_write_and_a_kept_one_stays():
    """Hooks run in the block's overlay like transactions: a hook that raises after writing
    has its writes rolled back (Overlay.rollback), the hook before it keeps its own."""
    block = Overlay(MemoryState({}))
    kept, refused = Registry([_Hooks()]).begin_block(block, height=1, time=1000)
    assert kept.ok and len(kept.writes) == 1
    assert not refused.ok and refused.error["code"] == "NO"
    assert block.writes == kept.writes  # nothing of the refused hook: not "dropped", "kept" kept
    assert all(value is not None for value in block.writes.values())
