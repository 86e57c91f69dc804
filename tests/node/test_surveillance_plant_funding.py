"""S8.funded's insider pays its nominee what the nominee's bids cost, a tenth more, within an
individual's daily outflow limit (chaincode.fds, KRW 100M a KST day): at a price of 11,870 won
the whole, KRW 109.7M in one transfer, was refused (DAILY_LIMIT_EXCEEDED), and the nominee of
seed 5 bought with its own money, no nominee at all (issue 30: S8.funded missed on seeds 5, 6
and 10 of the merged generator)."""

from __future__ import annotations

from typing import Any

import pytest

from node.surveillance.generator import GeneratorConfig, Market, session_open
from node.surveillance.owner_plants import fund
from node.surveillance.planting import HOUR_MS


@pytest.mark.parametrize("last", [10_000, 11_870, 13_000])
def test_the_insider_pays_the_whole_cost_within_the_daily_limit(last):
    market = Market(GeneratorConfig(seed=1, honest_accounts=2, honest_orders=0, plant=()))
    market.setup()
    insider = market.new_trader("insider", manipulator=True)
    nominee = market.new_trader("nominee", manipulator=True)
    market.world.check(market.world.commit(market.now))
    market.last["APT1"] = last
    receipts: list[Any] = []
    market.hooks.append(receipts.append)
    fund(market, insider, nominee, "APT1", session_open(1) + HOUR_MS)
    market.run()
    paid = [event["data"]["amount"] for receipt in receipts for event in receipt.events
            if event["name"] == "CashTransfer" and event["data"]["from"] == insider.account
            and event["data"]["to"] == nominee.account]
    refused = [receipt.error for receipt in receipts if not receipt.ok]
    assert refused == []
    assert sum(paid) == int(last * 12 * 700 * 1.1)
    assert len(paid) == 2 and max(paid) <= 100_000_000
