"""The generator's scheduling of price-moving plants (Market.take_time): a plant that moves a
token's price takes a token and a time no other such plant moves it in while there is room,
so that no plant's rule measures another's move (seed 1's evasive run: S4.slow's ramp took
S7.decoy's pump for its own rise when both shared one token and day)."""

from __future__ import annotations

import pytest

from node.surveillance.generator import (
    SESSION_MS,
    SYMBOLS,
    GeneratorConfig,
    Market,
    session_open,
)
from node.surveillance.plants import CLOSE_MOVES, OPEN_MOVES, RAMP_MOVES

HOUR_MS = 3_600_000


def overlapping(market: Market) -> int:
    """How long the spans taken on each token overlap each other, in all."""
    total = 0
    for spans in market.moving.values():
        for number, (begin, end) in enumerate(spans):
            total += sum(max(0, min(end, other_end) - max(begin, other_begin))
                         for other_begin, other_end in spans[number + 1:])
    return total


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_movers_take_times_apart_while_there_is_room(seed):
    market = Market(GeneratorConfig(seed=seed, days=2, warmup_days=1))  # one plant day
    taken = [market.take_time(RAMP_MOVES, earliest_ms=0, room_ms=2 * HOUR_MS)
             for _ in range(2 * len(SYMBOLS))]  # two two-hour moves a token fit in 6.5 h,
    # wherever the first is
    assert overlapping(market) == 0
    for start, symbol, day in taken:
        assert day == 1 and symbol in SYMBOLS
        assert session_open(1) <= start <= session_open(1) + SESSION_MS - 2 * HOUR_MS


def test_a_close_and_the_open_after_it_go_to_different_tokens():
    """S5 marks a close and S14 measures an open from the close before it: on one token,
    S14 would measure from a close S5 marked (seed 13)."""
    for seed in range(1, 6):
        market = Market(GeneratorConfig(seed=seed, days=3, warmup_days=1))
        (marked, _), (opened, _) = (market.take_slot(1, CLOSE_MOVES),
                                    market.take_slot(2, OPEN_MOVES))
        assert marked != opened and overlapping(market) == 0
