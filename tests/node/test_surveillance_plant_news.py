"""The news of the S8 plants (node.surveillance.plants.good_news) is good news to the market:
worth 5% over the price the token trades at, also where another plant's sellers or pegging, or
the honest market's bad news, had left the token's fair value under its price (issue 30, seeds
12, 17 and 19: 5% over such a fair value was still under the price, which then fell after the
news, and the plant had planted no insider timing)."""

from __future__ import annotations

import pytest

from node.surveillance.generator import GeneratorConfig, Market
from node.surveillance.plants import good_news


def market_at(fair: float, last: int) -> Market:
    market = Market(GeneratorConfig(seed=1, honest_accounts=2, honest_orders=0, plant=()))
    market.setup()
    market.fair["APT1"], market.last["APT1"] = fair, last
    return market


@pytest.mark.parametrize(("fair", "last"), [(8_514.0, 9_880), (9_375.0, 10_460)])
def test_good_news_is_worth_its_jump_over_a_price_held_above_the_fair_value(fair, last):
    market = market_at(fair, last)
    good_news(market, "APT1")
    assert market.fair["APT1"] == pytest.approx(last * 1.05)


def test_good_news_over_a_fair_value_above_the_price_moves_the_fair_value():
    market = market_at(10_400.0, 10_000)
    good_news(market, "APT1")
    assert market.fair["APT1"] == pytest.approx(10_400 * 1.05)


def test_good_news_declares_a_dividend_the_rules_see():
    market = market_at(10_000.0, 10_000)
    tx = good_news(market, "APT1")
    (receipt,) = [r for r in market.world.commit(market.now) if r.tx_id == tx.tx_id]
    assert receipt.ok
