"""Red-team findings against the market (docs/redteam-market.md): each test failed on the code
before its fix."""

from __future__ import annotations

import pytest

from consensus import codec
from tests.chaincode.helpers import Chain
from tests.chaincode.market_helpers import kst_ms, market_chain, place

WEEKLY = {"weekly": [{"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00",
                      "close": "15:30"}]}
MONDAY_OPEN = kst_ms(2023, 11, 20, 9)
TUESDAY = kst_ms(2023, 11, 21, 10)


def booked_marks(chain: Chain) -> list[str]:
    return sorted(key for key in chain.state.values if key.startswith("market/booked/"))


# ---- R2: the close hook's work is bounded, not only the orders it expires --------------------

def test_the_close_hook_visits_a_bounded_number_of_books(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """A book whose orders all left (filled or cancelled) still has its `booked/` mark; the
    hook used to walk every such mark in one block, however many, because an empty book
    expired no order and cost nothing against MAX_EXPIRE_PER_BLOCK. Twelve tokens, each with
    one order placed and cancelled: the first block after the close may visit 4 books."""
    import chaincode.market as market

    monkeypatch.setattr(market, "MAX_EXPIRE_PER_BLOCK", 4)
    chain = market_chain(market={"sessions": WEEKLY})
    symbols = [f"EMP{index:02d}" for index in range(12)]
    for symbol in symbols:
        chain.create_token(symbol=symbol)
    chain.time = MONDAY_OPEN
    for symbol in symbols:
        order_id = chain.ok("broker-a", "market", "place", symbol=symbol,
                            account=chain["gina"], side="buy", price=9_000, qty=1,
                            media="hts", origin="ab" * 32)["order_id"]
        chain.ok("broker-a", "market", "cancel", order_id=order_id)
    live = place(chain, "gina", "buy", 9_000, 1)["order_id"]
    assert len(booked_marks(chain)) == 13
    chain.time = TUESDAY
    blocks = 0
    while booked_marks(chain):
        before = len(booked_marks(chain))
        chain.ok("bank", "cash", "mint", to=chain["bob"], amount=1)  # any block
        blocks += 1
        assert before - len(booked_marks(chain)) <= 4, "the hook visited too many books"
    assert blocks == 4  # 13 books, 4 a block
    stored = codec.unpack(chain.state.values[f"market/order/{live:012d}"])
    assert stored["code"] == "EXPIRED"


# ---- R3: a trading hold takes all of the account's orders off the book -----------------------

def resting_of(chain: Chain, name: str) -> list[int]:
    return sorted(order["order_id"] for key, raw in chain.state.values.items()
                  if key.startswith("market/order/")
                  for order in [codec.unpack(raw)]
                  if order["status"] == "resting" and order["account"] == chain[name])


def test_a_trading_hold_takes_every_resting_order_off_the_book(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A hold cancelled MAX_CANCEL_ON_HOLD orders in its transaction and left the rest to
    their next fill: meanwhile they stayed on the book (a spoofer held on an S3 alert kept its
    layers showing), and once the hold was released they traded again. The rest now go at
    the start of the next blocks; an order placed after the release is not touched."""
    import chaincode.fds as fds

    monkeypatch.setattr(fds, "MAX_CANCEL_ON_HOLD", 2)
    chain = market_chain()
    layers = [place(chain, "alice", "sell", 11_000 + 100 * step, 1)["order_id"]
              for step in range(7)]
    hold = chain.ok("ksd", "fds", "hold", account=chain["alice"], scope="trading",
                    reason="S3 alert")
    assert hold["orders_cancelled"] == 2
    for _ in range(3):
        chain.ok("bank", "cash", "mint", to=chain["bob"], amount=1)  # any blocks
    assert resting_of(chain, "alice") == []
    codes = {codec.unpack(chain.state.values[f"market/order/{order_id:012d}"])["code"]
             for order_id in layers}
    assert codes == {"ACCOUNT_HELD"}
    chain.ok("ksd", "fds", "release", hold_id=hold["hold_id"], reason="cleared")
    fresh = place(chain, "alice", "sell", 12_000, 1)["order_id"]
    chain.ok("bank", "cash", "mint", to=chain["bob"], amount=1)
    assert resting_of(chain, "alice") == [fresh]
    bought = place(chain, "bob", "buy", 12_000, 7)
    assert bought["filled"] == 1  # only the order placed after the release


def test_the_unwind_of_a_hold_follows_a_key_recovery(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hold and the recovery in one block, before the hook runs: the orders the hold left
    moved to the new key, and so does their unwinding."""
    import chaincode.fds as fds
    from tests.chaincode.helpers import account_of

    monkeypatch.setattr(fds, "MAX_CANCEL_ON_HOLD", 1)
    chain = market_chain()
    for step in range(4):
        place(chain, "alice", "sell", 11_000 + 100 * step, 1)
    new = account_of("alice-new")
    held, recovered = chain.block(
        chain.tx("ksd", "fds", "hold", account=chain["alice"], scope="trading", reason="S3"),
        chain.tx("ksd", "token", "recover", old=chain["alice"], new=new, reason="lost key"))
    assert held.ok and recovered.ok, (held.error, recovered.error)
    chain.accounts["alice"] = new
    assert len(resting_of(chain, "alice")) == 3
    chain.ok("bank", "cash", "mint", to=chain["bob"], amount=1)
    assert resting_of(chain, "alice") == []
    assert not any(key.startswith("market/unwind/") for key in chain.state.values)
