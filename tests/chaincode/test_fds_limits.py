"""The real-time limits of chaincode.fds: an individual's withdrawal delay after a deposit and
its daily outflow per KST calendar day, on block time; what counts as an outflow and what does
not; and `params.fds` validated in chaincode and genesis."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from chaincode.fds import FDS_DEFAULTS, FdsParamsError, check_fds_params
from tests.chaincode.helpers import DAY_MS, Chain
from tests.chaincode.market_helpers import kst_ms, market_chain, place, place_outcome

HOUR_MS = 3_600_000
LIMIT = 1_000_000  # a small daily_outflow_krw for these tests


def limits_chain(**fds: Any) -> Chain:
    chain = Chain(params={"fds": fds} if fds else None)
    chain.register("alice")
    chain.register("bob")
    chain.register("dave", investor_type="corporate")  # legal_form corporation
    return chain


def burn(chain: Chain, name: str, amount: int) -> Any:
    return chain.execute(chain["bank"], "cash", "burn", {"from": chain[name], "amount": amount})


def test_the_defaults_are_korean_exchange_practice() -> None:
    assert FDS_DEFAULTS == {"new_account_hold_ms": 72 * HOUR_MS,
                            "deposit_hold_ms": 24 * HOUR_MS, "daily_outflow_krw": 100_000_000}
    assert Chain().registry.params["fds"] == FDS_DEFAULTS


def test_withdrawal_waits_72h_after_the_first_deposit_and_24h_after_the_latest() -> None:
    chain = limits_chain()
    first = chain.time
    chain.ok("bank", "cash", "mint", to=chain["alice"], amount=1_000)
    chain.time = first + 72 * HOUR_MS - 1
    chain.fail("WITHDRAWAL_DELAYED", "bank", "cash", "burn", from_=chain["alice"], amount=1)
    chain.time = first + 72 * HOUR_MS
    chain.ok("bank", "cash", "burn", from_=chain["alice"], amount=1)
    latest = chain.time
    chain.ok("bank", "cash", "mint", to=chain["alice"], amount=1_000)
    chain.time = latest + 24 * HOUR_MS - 1
    chain.fail("WITHDRAWAL_DELAYED", "bank", "cash", "burn", from_=chain["alice"], amount=1)
    chain.time = latest + 24 * HOUR_MS
    chain.ok("bank", "cash", "burn", from_=chain["alice"], amount=1)


def test_the_delay_is_for_individuals_only_and_covers_transfers_out() -> None:
    chain = limits_chain()
    for name in ("alice", "dave", "issuer-1"):
        chain.ok("bank", "cash", "mint", to=chain[name], amount=1_000)
    chain.ok("bank", "cash", "burn", from_=chain["dave"], amount=1)
    chain.ok("bank", "cash", "burn", from_=chain["issuer-1"], amount=1)
    chain.ok("dave", "cash", "transfer", to=chain["bob"], amount=1)  # a corporation's
    # the money of a deposit does not leave by a hop to another account either
    chain.fail("WITHDRAWAL_DELAYED", "alice", "cash", "transfer", to=chain["bob"], amount=1)
    chain.fail("WITHDRAWAL_DELAYED", "bank", "cash", "burn", from_=chain["alice"], amount=1)
    # bob received cash by transfer, never by a deposit: nothing to wait for
    chain.ok("bank", "cash", "burn", from_=chain["bob"], amount=1)


def test_zero_delays_switch_the_delay_off() -> None:
    chain = limits_chain(new_account_hold_ms=0, deposit_hold_ms=0)
    chain.ok("bank", "cash", "mint", to=chain["alice"], amount=1_000)
    chain.ok("bank", "cash", "burn", from_=chain["alice"], amount=1)


def test_daily_outflow_may_reach_the_limit_but_not_exceed_it() -> None:
    chain = limits_chain(daily_outflow_krw=LIMIT)
    chain.ok("bank", "cash", "mint", to=chain["alice"], amount=10 * LIMIT)
    chain.advance(3 * DAY_MS)
    chain.ok("alice", "cash", "transfer", to=chain["bob"], amount=LIMIT // 2)
    assert burn(chain, "alice", LIMIT // 2).ok  # transfers and burns add up
    chain.fail("DAILY_LIMIT_EXCEEDED", "alice", "cash", "transfer", to=chain["bob"], amount=1)
    chain.fail("DAILY_LIMIT_EXCEEDED", "bank", "cash", "burn", from_=chain["alice"], amount=1)
    # a corporation is not limited; nor is receiving
    chain.ok("bank", "cash", "mint", to=chain["dave"], amount=10 * LIMIT)
    chain.ok("dave", "cash", "transfer", to=chain["alice"], amount=2 * LIMIT)
    chain.ok("bob", "cash", "transfer", to=chain["alice"], amount=LIMIT // 2)


def test_the_day_is_the_kst_calendar_day_of_block_time() -> None:
    chain = limits_chain(daily_outflow_krw=LIMIT)
    chain.ok("bank", "cash", "mint", to=chain["alice"], amount=10 * LIMIT)
    midnight = kst_ms(2023, 11, 20)  # 15:00 UTC the day before
    chain.time = midnight - 1_000
    chain.ok("alice", "cash", "transfer", to=chain["bob"], amount=LIMIT)
    chain.time = midnight - 1
    chain.fail("DAILY_LIMIT_EXCEEDED", "alice", "cash", "transfer", to=chain["bob"], amount=1)
    chain.time = midnight
    chain.ok("alice", "cash", "transfer", to=chain["bob"], amount=LIMIT)
    chain.fail("DAILY_LIMIT_EXCEEDED", "alice", "cash", "transfer", to=chain["bob"], amount=1)


def test_market_settlement_escrows_and_refunds_are_not_outflows() -> None:
    """gina buys 10x the daily limit's worth (escrowed, paid at the fill, the rest refunded
    when she cancels); the same day she may still send the whole limit out."""
    chain = market_chain()
    chain.registry.params["fds"] = dict(FDS_DEFAULTS, daily_outflow_krw=LIMIT)
    chain.advance(3 * DAY_MS)
    place(chain, "alice", "sell", 10_000, 1_000)  # 10,000,000 KRW
    place(chain, "gina", "buy", 10_000, 1_000)
    place(chain, "gina", "buy", 9_000, 500)
    chain.ok("broker-a", "market", "cancel", order_id=3)
    outcome = place_outcome(chain, "bob", "sell", 12_000, 1)
    assert outcome.result["status"] == "resting"
    chain.ok("gina", "cash", "transfer", to=chain["bob"], amount=LIMIT)
    chain.ok("alice", "cash", "transfer", to=chain["bob"], amount=LIMIT)
    chain.fail("DAILY_LIMIT_EXCEEDED", "gina", "cash", "transfer", to=chain["bob"], amount=1)


def test_dividends_are_not_outflows() -> None:
    chain = market_chain(holders=("alice",))
    chain.registry.params["fds"] = dict(FDS_DEFAULTS, daily_outflow_krw=LIMIT)
    chain.advance(3 * DAY_MS)
    chain.ok("bank", "cash", "mint", to=chain["issuer-1"], amount=10 * LIMIT)
    dividend = chain.ok("issuer-1", "dividend", "declare", symbol="APT1", total=5 * LIMIT)
    while not chain.ok("issuer-1", "dividend", "pay", dividend_id=dividend["dividend_id"],
                       max_holders=10)["done"]:
        pass
    chain.advance(3 * DAY_MS)  # the issuer's deposit aside; alice's own mint is long past
    chain.ok("alice", "cash", "transfer", to=chain["bob"], amount=LIMIT)


# ---- params.fds ------------------------------------------------------------------------------

@pytest.mark.parametrize("value, field", [
    ({"new_account_hold_ms": -1}, "new_account_hold_ms"),
    ({"deposit_hold_ms": 367 * DAY_MS}, "deposit_hold_ms"),
    ({"daily_outflow_krw": 1.5}, "daily_outflow_krw"),
    ({"daily_outflow_krw": True}, "daily_outflow_krw"),
    ({"daily_outflow_krw": 2**62 + 1}, "daily_outflow_krw"),
    ({"withdrawal_delay": 1}, "withdrawal_delay"),
    ([], ""),
])
def test_fds_params_refused(value: Any, field: str) -> None:
    with pytest.raises(FdsParamsError) as caught:
        check_fds_params(value)
    assert caught.value.field == field


def test_genesis_validates_params_fds() -> None:
    from genesis.builder import build_network
    from genesis.schema import GenesisError, parse_genesis

    document = build_network(1, base_port=20_000).genesis.document
    assert document["params"]["fds"] == FDS_DEFAULTS
    assert "fds" in document["chaincode"]
    broken = copy.deepcopy(document)
    broken["params"]["fds"]["deposit_hold_ms"] = "24h"
    with pytest.raises(GenesisError) as caught:
        parse_genesis(broken)
    assert caught.value.field == "params.fds.deposit_hold_ms"
    assert "must be an integer" in str(caught.value)
    broken["params"]["fds"] = 7
    with pytest.raises(GenesisError) as caught:
        parse_genesis(broken)
    assert caught.value.field == "params.fds"
    absent = copy.deepcopy(document)
    del absent["params"]["fds"]  # an older genesis: the defaults apply, limits on
    assert "fds" not in parse_genesis(absent).params
