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


# ---- S2: who answered whom (F6) -------------------------------------------------------------

def s2_naming(desk: Desk, name: str) -> list[list[str]]:
    return [a["accounts"] for a in desk.alerts("S2") if desk[name] in a["accounts"]]


def test_s2_a_stranger_taking_a_market_makers_fresh_quotes_matches_nothing():
    """Market maker c quotes 9,990 / 10,010 x 20 at the touch four times in 40 minutes; a
    hits the bid and lifts the offer 5 s after each quote, size for size. a answered c's
    quotes, open to everyone: nobody pre-arranged a trade (three S2 highs before)."""
    desk = Desk()
    desk.background()
    for _ in range(4):
        desk.place("c", "buy", 9_990, 20)
        desk.place("c", "sell", 10_010, 20)
        desk.step(5_000)
        desk.place("a", "sell", 9_990, 20)
        desk.place("a", "buy", 10_010, 20)
        taken = desk.step()
        assert [r.result["status"] for r in taken] == ["filled", "filled"]
        desk.step(10 * MINUTE)
    assert s2_naming(desk, "c") == [] and s2_naming(desk, "a") == []


def test_s2_a_pair_behind_a_token_bid_far_under_the_market_still_matches():
    """c and d trade 200 back and forth, each buy 6 s after the sale it takes; c shows a
    one-unit bid 10% under f's best bid with each of its sales. That is no quote at the
    touch, so c's sales are still matched."""
    desk = Desk()
    desk.background()
    desk.place("f", "buy", 9_990, 10)
    desk.step()
    for number, (seller, buyer) in enumerate([("c", "d"), ("d", "c")] * 2):
        desk.place(seller, "sell", 10_000 + number, 200)
        if seller == "c":
            desk.place("c", "buy", 9_000, 1)
        desk.step(6_000)
        desk.place(buyer, "buy", 10_000 + number, 200)
        desk.step()
        desk.step(2 * MINUTE)
    assert s2_naming(desk, "c") == [desk.accounts("c", "d")]
