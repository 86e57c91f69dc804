"""Capped collections give from the subject that holds the most, never another's evidence
(issue 30, red team F15, F15b): Limits bound the memory, and one token's or one account's
flood may push out only its own records."""

from __future__ import annotations

import random

from consensus import codec
from node.storage import Batch, MemoryKV
from node.surveillance.records import Limits, Trade
from node.surveillance.staged import Staged
from node.surveillance.trades import Trades
from tests.node.surveillance_desk import DAY, HOUR, SYMBOL, T0, Desk, origin
from tests.node.test_surveillance_evasions import trade


def document(desk: Desk) -> None:
    desk.world.send("issuer-1", "token", "set_document", symbol=SYMBOL, name="r",
                    uri="https://example.org/r", sha256=codec.sha256(b"r").hex())
    desk.step()


def second_token(desk: Desk) -> None:
    desk.world.create_token("APT2", "issuer-2", 10_000, 10**8, desk.time)
    desk.world.fund(["k", "l"], {"APT2": "issuer-2"}, 100_000, 1, desk.time)


def test_another_issuers_flood_of_dividends_leaves_a_tokens_news_waiting():
    """APT1's news waits for its price effect (S8 judges a's quiet buying then); issuer-2
    declares more trivial dividends on APT2 than the limit of what waits."""
    desk = Desk(limits=Limits(pending=4))
    desk.background()
    second_token(desk)
    for _ in range(3):  # a builds 3,600 units quietly
        desk.place("k", "sell", 10_000, 1_200)
        desk.place("a", "buy", 10_000, 1_200)
        desk.step(HOUR)
    desk.step(2 * HOUR)
    document(desk)
    desk.world.send("bank", "cash", "mint", to=desk.world.account("issuer-2"), amount=10_000)
    for _ in range(5):  # one-won dividends, record date next month
        desk.world.send("issuer-2", "dividend", "declare", symbol="APT2", total=1,
                        record_time=desk.time + 30 * DAY)
    desk.step()
    for _ in range(3):  # the news moves APT1's price
        desk.place("k", "sell", 10_600, 10)
        desk.place("l", "buy", 10_600, 10)
        desk.step(HOUR)
    desk.step(DAY)
    trade(desk, "k", "l", qty=1, price=10_600)
    assert [a for a in desk.alerts("S8") if a["accounts"] == desk.accounts("a")]


def test_trading_in_another_token_keeps_a_tokens_insider_trades():
    desk = Desk(limits=Limits(trades=100))
    desk.background()
    second_token(desk)
    desk.make_insider("b")
    desk.step()
    desk.place("k", "sell", 10_000, 100)
    desk.place("b", "buy", 10_000, 100)  # the insider buys before the news
    desk.step(HOUR)
    for _ in range(4):  # 120 trades in APT2: past the limit of trades kept
        for _ in range(30):
            desk.world.send("broker-a", "market", "place", symbol="APT2", account=desk["k"],
                            side="sell", price=10_000, qty=1, media="hts", origin=origin("k"))
        desk.step()
        desk.world.send("broker-a", "market", "place", symbol="APT2", account=desk["l"],
                        side="buy", price=10_000, qty=30, media="hts", origin=origin("l"))
        desk.step()
    document(desk)
    assert [a for a in desk.alerts("S8") if desk["b"] in a["accounts"]]


def test_one_senders_flood_of_transfers_keeps_anothers_structuring():
    desk = Desk(limits=Limits(flows=16))  # the desk's 12 deposits and a's two fit
    for amount, to in ((9_600_000, "b"), (9_990_000, "c")):
        desk.pay("a", to, amount)
        desk.step(6 * HOUR)
    for _ in range(20):  # e's one-won transfers: past the limit of movements kept
        desk.pay("e", "f", 1)
    desk.step(6 * HOUR)
    desk.pay("a", "d", 9_800_000)  # the third unit just under the threshold
    desk.step()
    assert [a for a in desk.alerts("S9") if a["accounts"] == desk.accounts("a")]


def test_one_accounts_flood_of_unfilled_orders_keeps_anothers_shared_device():
    """S10 reads the closed orders of an origin: a's unfilled IOC orders past the limit of
    closed orders kept do not push out b's and c's orders from their shared device."""
    desk = Desk(limits=Limits(closed_orders=20))
    for name in "bc":
        desk.place(name, "buy", 9_000, 1, where="shared", tif="ioc")
    desk.step()
    for _ in range(30):
        desk.place("a", "buy", 9_000, 1, tif="ioc")
    desk.step()
    desk.place("d", "buy", 9_000, 1, where="shared", tif="ioc")  # a third account on it
    desk.step()
    assert [x for x in desk.alerts("S10") if x["accounts"] == desk.accounts("b", "c", "d")]


def test_others_trading_in_the_same_token_keeps_an_insiders_trade():
    """Red team rt37 F11: the limit took from the token holding the most trades, so 120 trades
    between e and f in APT1 itself pushed out the insider b's buy in APT1, and S8 saw nothing.
    The (token, account) holding the most gives now: e's and f's own trades go."""
    desk = Desk(limits=Limits(trades=100))
    desk.background()
    desk.make_insider("b")
    desk.step()
    desk.place("k", "sell", 10_000, 100)
    desk.place("b", "buy", 10_000, 100)  # the insider buys before the news
    desk.step(HOUR)
    for _ in range(4):  # 120 one-unit trades between two others in the same token
        for _ in range(30):
            desk.place("e", "sell", 10_000, 1)
            desk.place("f", "buy", 10_000, 1)
        desk.step()
    document(desk)
    assert [a for a in desk.alerts("S8") if desk["b"] in a["accounts"]]


def test_floods_of_trades_keep_a_quiet_accounts_trade_and_every_index_whole():
    """rt37 F11 as a property: flooders e, f, g trade at random in two tokens under a limit of
    20 trades; b's one buy in APT1 stays (while the limit binds some flooder holds more),
    every index agrees with the trades kept (a trade given from the middle of a token's
    timeline leaves each index it was in), and a store reload every 25 steps agrees."""
    for seed in range(10):
        rng = random.Random(seed)
        store = MemoryKV()
        live = Trades(HOUR, 10 * 60_000, 5, Limits(trades=20), Staged())
        now = bought = T0
        for step in range(150):
            now += rng.choice((1_000, 60_000))
            if step == 3:
                buyer, seller = "b", "k"
            else:
                buyer, seller = rng.sample("efg", 2)
            live.add(Trade(step, rng.choice((SYMBOL, "APT2")) if step != 3 else SYMBOL,
                           10_000, rng.randrange(1, 9), buyer, seller, 2 * step, 2 * step + 1,
                           "buy", 10_000, now, step, 0, f"tx-{step}"))
            live.prune(now)
            batch = Batch()
            live.staged.flush(batch)
            store.write(batch)
            kept = [t for line in live.by_symbol.values() for t in line]
            assert len(kept) == live.count <= 20
            bought = bought if step != 3 else now
            if step >= 3 and bought >= now - HOUR:  # within the horizon: kept
                assert [t.trade_id for t in live.of_account(SYMBOL, "b", 0)] == [3], (seed, step)
            assert live.volumes == volumes_of(live), (seed, step)
            assert {key: list(line) for key, line in live.by_account.items()} == by_account(kept)
            if step % 25 == 24:
                reloaded = Trades(HOUR, 10 * 60_000, 5, Limits(trades=20), Staged())
                reloaded.load(store, now)
                assert sorted(t.trade_id for line in reloaded.by_symbol.values()
                              for t in line) == sorted(t.trade_id for t in kept)


def volumes_of(trades: Trades) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = {}
    for symbol, window in trades.participation.items():
        for t in window:
            for account in (t.buyer, t.seller):
                mine = found.setdefault(symbol, {})
                mine[account] = mine.get(account, 0) + t.qty
    return found


def by_account(kept: list[Trade]) -> dict[tuple[str, str], list[Trade]]:
    found: dict[tuple[str, str], list[Trade]] = {}
    for t in sorted(kept, key=lambda t: t.trade_id):
        for account in (t.buyer, t.seller):
            found.setdefault((t.symbol, account), []).append(t)
    return found
