"""Runs of the market generator: a market set up with its honest look-alikes and the plants a
config names (node.surveillance.plants for the simple form of each rule, node.surveillance.
evasions for the variations of issue 30), run and scored (node.surveillance.generator).

`SIMPLE` and `EVASIVE` are the two sets the README's table is measured with; `stoledger
market-sim --plant simple|evasive|none|S1,S4.slow,...` chooses among them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from node.surveillance.evasions import EVASIONS
from node.surveillance.generator import GeneratorConfig, Market, Report
from node.surveillance.lookalikes import add_lookalikes
from node.surveillance.owner_plants import OWNER_EVASIONS
from node.surveillance.plants import PLANTS

ALL_PLANTS: dict[str, Callable[[Market], Any]] = {**PLANTS, **EVASIONS, **OWNER_EVASIONS}
SIMPLE = tuple(PLANTS)
EVASIVE = (*EVASIONS, *OWNER_EVASIONS)
# Price-moving plants whose day is fixed (the first plant day, or the last) take their times
# first (Market.take_time), then the heavy days (a whole day of a token), and the others fit
# around them (seed 13: S14.sweep, taken late, found its first day's opening taken by
# S4.split's ramp; the plants are built in this order, their accounts made in it).
PINNED = ("S8", "S11", "S5.sweep", "S5.early", "S14.sweep", "S7.25h", "S7.decoy", "S8.25h",
          "S6", "S6.linked")


def build(config: GeneratorConfig) -> Market:
    """The market of `config`, set up and planted, before its first trading block."""
    market = Market(config)
    market.setup()
    if config.lookalikes:
        add_lookalikes(market)
    for name in sorted(config.plant, key=lambda name: (name not in PINNED, name in (
            "S6", "S6.linked"))):
        ALL_PLANTS[name](market)
    market.world.check(market.world.commit(market.world.genesis_time + 2000))
    return market


def generate(config: GeneratorConfig) -> Report:
    """Run the market of `config` and score the alerts against its ground truth."""
    return build(config).run()
