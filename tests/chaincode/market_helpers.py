"""A ready market world for the market tests: investors with cash and units, one token."""

from __future__ import annotations

import datetime
import hashlib
from typing import Any

from chaincode.runtime import Outcome
from consensus import codec
from tests.chaincode.helpers import Chain

ORIGIN = hashlib.sha256(b"203.0.113.7|device-1").hexdigest()
KST = datetime.timezone(datetime.timedelta(hours=9))
UNIT_PRICE = 10_000
CASH = 100_000_000
UNITS = 1_000


def kst_ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
           ms: int = 0) -> int:
    """Block time (UTC ms) of a KST wall-clock time."""
    moment = datetime.datetime(year, month, day, hour, minute, tzinfo=KST)
    return int(moment.timestamp()) * 1000 + ms


def market_chain(market: dict[str, Any] | None = None, limit: int | None = None,
                 holders: tuple[str, ...] = ("alice", "bob"), **rules: Any) -> Chain:
    """alice, bob, gina (general, KR) and dave (corporate) with broker-a; erin (qualified)
    with broker-b. Token APT1 (unit_price 10,000). `holders` hold UNITS units each (their
    lock-up, if any, has run out); everyone holds CASH won."""
    params: dict[str, Any] = {}
    if market is not None:
        params["market"] = market
    if limit is not None:
        params["general_investor_annual_limit"] = limit
    chain = Chain(params or None)
    for name in ("alice", "bob", "gina"):
        chain.register(name)
    chain.register("dave", investor_type="corporate")
    chain.register("erin", broker="broker-b", investor_type="qualified")
    chain.create_token(unit_price=UNIT_PRICE, max_supply=1_000_000, **rules)
    for name in holders:
        chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain[name], amount=UNITS)
    for name in ("alice", "bob", "gina", "dave", "erin"):
        chain.ok("bank", "cash", "mint", to=chain[name], amount=CASH)
    if rules.get("lockup_ms"):
        chain.advance(rules["lockup_ms"])
    return chain


def place_args(chain: Chain, account: str, side: str, price: int, qty: int,
               **extra: Any) -> dict[str, Any]:
    return {"symbol": "APT1", "account": chain[account], "side": side, "price": price,
            "qty": qty, "media": "hts", "origin": ORIGIN, **extra}


def place(chain: Chain, account: str, side: str, price: int, qty: int,
          broker: str = "broker-a", **extra: Any) -> dict[str, Any]:
    result: dict[str, Any] = chain.ok(broker, "market", "place",
                                      **place_args(chain, account, side, price, qty, **extra))
    return result


def place_outcome(chain: Chain, account: str, side: str, price: int, qty: int,
                  broker: str = "broker-a", **extra: Any) -> Outcome:
    outcome = chain.execute(chain[broker], "market", "place",
                            place_args(chain, account, side, price, qty, **extra))
    assert outcome.ok, outcome.error
    return outcome


def place_fails(chain: Chain, code: str, account: str, side: str, price: int, qty: int,
                broker: str = "broker-a", **extra: Any) -> None:
    chain.fail(code, broker, "market", "place",
               **place_args(chain, account, side, price, qty, **extra))


def units(chain: Chain, name: str, symbol: str = "APT1") -> dict[str, Any]:
    result: dict[str, Any] = chain.query("ksd", "token", "balance", symbol=symbol,
                                         account=chain[name])
    return result


def cash(chain: Chain, name: str) -> dict[str, Any]:
    result: dict[str, Any] = chain.query("fss", "cash", "balance", account=chain[name])
    return result


def raw(chain: Chain, key: str) -> Any:
    value = chain.state.values.get(key)
    return None if value is None else codec.unpack(value)
