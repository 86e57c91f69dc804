"""`codec.pack`'s fast path gives exactly what the definition (`_normalize_general`) gives:
the same bytes, or the same kind of error, for any value, near the depth bound too."""

import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus import codec

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**64), 2**65),
                    st.text(max_size=5), st.binary(max_size=5))
VALUES = st.recursive(
    SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner),
                                     st.dictionaries(st.text(max_size=4), inner, max_size=4),
                                     st.dictionaries(st.integers(0, 3), inner, max_size=2)),
    max_leaves=30)


def _outcome(pack, value):
    try:
        return "ok", pack(value)
    except Exception as error:  # the kind of error must match too
        return "error", type(error).__name__


def _definition(value):
    return msgpack.packb(codec._normalize_general(value), use_bin_type=True)


@settings(max_examples=2000, deadline=None)
@given(VALUES)
def test_fast_path_matches_the_definition(value):
    assert _outcome(codec.pack, value) == _outcome(_definition, value)


@given(st.dictionaries(st.text(max_size=4), SCALARS, min_size=1, max_size=6))
def test_a_flat_map_packs_as_the_definition(value):
    """The flat-map path (sorted whole, ints left to the packer's range check)."""
    assert _outcome(codec.pack, value) == _outcome(_definition, value)


def test_the_packer_is_reused_after_a_refusal():
    """An integer out of range inside a map, then a good value: the reused packer kept
    nothing of the refused one."""
    for bad in ({"a": 2**64}, {"b": [1, -(2**63) - 1]}, {"c": {"d": 2**70}}):
        assert _outcome(codec.pack, bad) == ("error", "EncodingError")
        assert codec.pack({"z": 1, "a": [2]}) == _definition({"z": 1, "a": [2]})


def _nested_near_the_bound():
    """A list and a map nested just under, at and just over MAX_DEPTH."""
    for depth in range(codec.MAX_DEPTH - 2, codec.MAX_DEPTH + 3):
        nested_list, nested_map = 1, 1
        for _ in range(depth):
            nested_list, nested_map = [nested_list], {"a": nested_map}
        yield from (nested_list, nested_map)


def test_depth_bound_is_unchanged():
    for value in _nested_near_the_bound():
        assert _outcome(codec.pack, value) == _outcome(_definition, value)


ODD = st.one_of(st.floats(allow_nan=False), st.frozensets(st.integers(0, 3), max_size=2),
                st.builds(bytearray, st.binary(max_size=3)))
CHECKED = st.recursive(
    st.one_of(SCALARS, ODD),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner),
                            st.dictionaries(st.text(max_size=4), inner, max_size=4),
                            st.dictionaries(st.integers(0, 3), inner, max_size=2)),
    max_leaves=30)


def _verdict(check, value):
    try:
        check(value)
        return "ok"
    except Exception as error:
        return type(error).__name__


@settings(max_examples=2000, deadline=None)
@given(CHECKED)
def test_check_accepts_exactly_what_pack_accepts(value):
    assert _verdict(codec.check, value) == _verdict(codec.pack, value)


def test_check_keeps_the_depth_bound():
    for value in _nested_near_the_bound():
        assert _verdict(codec.check, value) == _verdict(codec.pack, value)
