"""Issue 30, red team rt38 (/work/tmp/rt38/report.md): S7's pump judged however the owner acts
after it (F5: decoy lifts before the dump) and S2 asking who reacted to whom (F6: a stranger
taking a market maker's fresh quotes) (tests/node/surveillance_desk.py)."""

from __future__ import annotations

import pytest

from tests.node.surveillance_desk import DAY, HOUR, MINUTE, Desk


def s7_of(desk: Desk, name: str) -> list[tuple[str, int, int]]:
    return [(a["severity"], a["metrics"]["bought"], a["metrics"]["sold"])
            for a in desk.alerts("S7") if desk[name] in a["accounts"]]


def pump_then_dump(gap_ms: int, decoys: int) -> Desk:
    """a lifts the price 8% in three buys, waits `gap_ms`, lifts the last price by one won
    `decoys` times with one unit each, and sells 600 into l's bid at +7%."""
    desk = Desk()
    desk.background()
    for price in (10_200, 10_500, 10_800):
        desk.place("k", "sell", price, 200)
        desk.step(MINUTE)
        desk.place("a", "buy", price, 200)
        desk.step(MINUTE)
    desk.step(gap_ms)
    for step in range(1, decoys + 1):
        desk.place("k", "sell", 10_800 + step, 1)
        desk.step(MINUTE)
        desk.place("a", "buy", 10_800 + step, 1)
        desk.step(MINUTE)
    desk.place("l", "buy", 10_700, 600)
    desk.step(MINUTE)
    desk.place("a", "sell", 10_700, 600)
    desk.step(MINUTE)
    return desk


@pytest.mark.parametrize("gap_ms, decoys", [(25 * HOUR, 2), (2 * DAY, 1), (HOUR, 2)])
def test_s7_decoy_lifts_before_the_dump_never_remove_the_alert(gap_ms, decoys):
    """The property: the same pump and dump with no decoy is caught, and small rising buys
    between them (a new 'last pump' of a few won) leave it caught, with the pump's 600."""
    assert s7_of(pump_then_dump(gap_ms, 0), "a") == [("high", 600, 600)]
    (alert,) = s7_of(pump_then_dump(gap_ms, decoys), "a")
    assert alert[0] == "high" and alert[1] >= 600 and alert[2] == 600
