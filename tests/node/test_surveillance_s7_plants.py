"""Issue 30: S7's plants do what S7 defines (node.surveillance.plants.Pump, shapes_plants.s7_25h).

The pump stops when the price is 6% up by its own buys, not when honest buyers chasing it lifted
it (S7 asks the owner's own rising buys for the rise: seed 20's S7.linked stopped at 4.93% of
its own and was missed), nor when its steps sum to 6% of a smaller rise. The 25-hour dump takes,
among the tokens no other pump took, one whose real news does not cut its value between the
pump and the dump (seed 2's S7.25h found no bid above where its rise began the next day, after
news of -5.7%, and never dumped)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from node.ledger.executor import Receipt
from node.surveillance.evasions import EVASIONS
from node.surveillance.generator import (
    SYMBOLS,
    GeneratorConfig,
    Market,
    Trader,
    session_open,
)
from node.surveillance.planting import HOUR_MS
from node.surveillance.plants import Pump


def trader(name: str) -> Trader:
    return Trader(name, name * 8, "broker", (), "mts", 1.0)


class Tape:
    """Trades fed to a pump's `learn` as the market's receipts would bring them."""

    def __init__(self, pump: Pump) -> None:
        self.pump, self.order = pump, 0

    def trade(self, buyer: Trader, price: int, qty: int = 10) -> None:
        self.order += 1
        event = {"name": "Trade", "data": {
            "symbol": "APT1", "price": price, "qty": qty, "buyer": buyer.account,
            "seller": "seller00", "buy_order": self.order, "sell_order": 0}}
        self.pump.learn(Receipt(b"", 0, 0, True, {}, None, [event], b""))


def test_the_pump_stops_when_its_own_buys_lifted_the_price_not_when_others_did():
    """Six orders of the pumper lift 10,000 to 10,300; honest buyers chase it to 10,700 (7%
    over where it began): the pump is 3% its own and goes on. Its next lift to 11,000 makes
    its own steps 600 won, 6%: now it dumps."""
    pumper, honest = trader("p"), trader("h")
    pump = Pump(SimpleNamespace(hooks=[]), pumper, pumper, "APT1")  # type: ignore[arg-type]
    tape = Tape(pump)
    tape.trade(honest, 10_000)
    for price in range(10_050, 10_301, 50):
        tape.trade(pumper, price)
    for price in (10_500, 10_700):
        tape.trade(honest, price)
    assert not pump.pumped()
    tape.trade(pumper, 10_700)  # at the last price: no step
    assert not pump.pumped()
    tape.trade(pumper, 10_990)
    assert not pump.pumped()
    tape.trade(pumper, 11_000)
    assert pump.pumped()


def test_the_pump_stops_when_the_price_is_up_6_percent_not_when_its_steps_sum_to_it():
    """The pumper's six orders step 10,000 up 100 won each, and honest sellers take the price
    back 50 won after each: 600 won of its own steps, a rise of 350 (3.5%); honest buyers then
    chase it to 10,700. It goes on until the price is 6% up by its last lift (S7's span ends
    at the owner's last rising buy)."""
    pumper, honest = trader("p"), trader("h")
    pump = Pump(SimpleNamespace(hooks=[]), pumper, pumper, "APT1")  # type: ignore[arg-type]
    tape = Tape(pump)
    tape.trade(honest, 10_000)
    for price in range(10_100, 10_351, 50):
        tape.trade(pumper, price)
        tape.trade(honest, price - 50)
    assert pump.pushed == 600 and not pump.pumped()
    tape.trade(honest, 10_700)  # buyers chasing it after its last lift: not its rise
    assert not pump.pumped()
    tape.trade(pumper, 10_710)
    assert pump.pumped()


def bare_market() -> Market:
    market = Market(GeneratorConfig(seed=2, honest_accounts=10, honest_orders=90, plant=(),
                                    lookalikes=False))
    market.setup()
    return market


@pytest.mark.parametrize("spared", sorted(SYMBOLS))
def test_the_25_hour_dump_takes_a_token_bad_news_does_not_hit_in_between(spared):
    """With no other pump, every token but `spared` has bad news on the dump's day (and
    `spared` good news): the 25-hour pump and its decoy variant take `spared`. Bad news
    before the pump's day is no obstacle: with it on every token the choice is the usual one
    (no other pump's token)."""
    for plant in ("S7.25h", "S7.decoy"):
        market = bare_market()
        day = market.first_day + 1
        market.real_news = {s: (session_open(day) + HOUR_MS, 0.05 if s == spared else -0.05)
                            for s in SYMBOLS}
        EVASIONS[plant](market)
        assert [case.symbol for case in market.cases] == [spared]
        before = bare_market()
        before.real_news = {s: (session_open(0) + HOUR_MS, -0.05) for s in SYMBOLS}
        usual = bare_market()
        usual.real_news = {}
        EVASIONS[plant](before)
        EVASIONS[plant](usual)
        assert [case.symbol for case in before.cases] == [case.symbol for case in usual.cases]
