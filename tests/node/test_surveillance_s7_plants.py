"""Issue 30: S7's plants do what S7 defines (node.surveillance.plants.Pump).

The pump stops when its own buys lifted the price 6%, not when honest buyers chasing it did (S7
asks the owner's own rising buys for the rise: seed 20's S7.linked stopped at 4.93% of its own
and was missed)."""

from __future__ import annotations

from types import SimpleNamespace

from node.ledger.executor import Receipt
from node.surveillance.generator import Trader
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
