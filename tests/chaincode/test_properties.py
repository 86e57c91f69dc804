"""Property tests: supply and balance invariants under random operations, `can_transfer`
predicting `transfer` exactly, and the dividend arithmetic."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaincode.dividend import compute_gross_shares, compute_withholding
from consensus import codec
from tests.chaincode.helpers import DAY_MS, Chain, world

NAMES = ["alice", "bob", "carol", "dave", "erin", "nobody"]
name = st.sampled_from(NAMES)
amount = st.integers(min_value=1, max_value=30)

OPERATIONS = [  # (weight in percent, strategy)
    (35, st.tuples(st.just("transfer"), name, name, amount)),
    (20, st.tuples(st.just("issue"), name, amount)),
    (6, st.tuples(st.just("freeze"), name, st.one_of(st.none(), amount))),
    (6, st.tuples(st.just("unfreeze"), name, st.one_of(st.none(), amount))),
    (8, st.tuples(st.just("force"), name, name, amount)),
    (6, st.tuples(st.just("redeem"), name, amount)),
    (4, st.tuples(st.just("pause"))),
    (4, st.tuples(st.just("unpause"))),
    (9, st.tuples(st.just("advance"), st.integers(min_value=0, max_value=DAY_MS // 2))),
    (2, st.tuples(st.just("revoke"), name)),
]


def _pick(draw: int) -> st.SearchStrategy[tuple[Any, ...]]:
    for weight, strategy in OPERATIONS:
        if draw < weight:
            return strategy
        draw -= weight
    raise AssertionError("weights sum to 100")


operation = st.integers(min_value=0, max_value=99).flatmap(_pick)


def check_invariants(chain: Chain) -> None:
    token = chain.query("fss", "token", "info", symbol="APT1")
    prefix = "token/bal/APT1/"
    holdings = [codec.unpack(value) for key, value in chain.state.values.items()
                if key.startswith(prefix)]
    total = sum(holding["balance"] for holding in holdings)
    assert total == token["outstanding"] == token["issued"] - token["redeemed"]
    assert token["issued"] <= token["cap"] <= token["max_supply"]
    assert token["holders"] == len(holdings)
    for holding in holdings:
        assert holding["balance"] > 0
        assert 0 <= holding["frozen"] <= holding["balance"]
        assert sum(lock_amount for _, lock_amount in holding["locks"]) <= holding["balance"]


def run(chain: Chain, op: tuple[Any, ...]) -> None:
    kind = op[0]
    if kind == "issue":
        chain.execute(chain["issuer-1"], "token", "issue",
                      {"symbol": "APT1", "to": chain[op[1]], "amount": op[2]})
    elif kind == "transfer":
        sender, to, units = chain[op[1]], chain[op[2]], op[3]
        predicted = chain.query("ksd", "token", "can_transfer", symbol="APT1", from_=sender,
                                to=to, amount=units)
        outcome = chain.execute(sender, "token", "transfer",
                                {"symbol": "APT1", "to": to, "amount": units})
        actual = "OK" if outcome.ok else outcome.error["code"]  # type: ignore[index]
        assert predicted["code"] == actual, (predicted, outcome.error)
        assert predicted["ok"] == outcome.ok
    elif kind in ("freeze", "unfreeze"):
        chain.execute(chain["ksd"], "token", kind,
                      {"symbol": "APT1", "account": chain[op[1]], "amount": op[2]})
    elif kind == "force":
        chain.execute(chain["ksd"], "token", "force_transfer",
                      {"symbol": "APT1", "from": chain[op[1]], "to": chain[op[2]],
                       "amount": op[3], "reason": "court order"})
    elif kind == "redeem":
        chain.execute(chain["issuer-1"], "token", "redeem",
                      {"symbol": "APT1", "from": chain[op[1]], "amount": op[2]})
    elif kind in ("pause", "unpause"):
        chain.execute(chain["issuer-1"], "token", kind, {"symbol": "APT1"})
    elif kind == "advance":
        chain.advance(op[1])
    elif kind == "revoke":
        chain.execute(chain["ksd"], "identity", "revoke",
                      {"account": chain[op[1]], "reason": "test"})


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(operation, min_size=1, max_size=40),
       max_holders=st.sampled_from([0, 4, 5]),
       max_holding_bps=st.sampled_from([0, 600, 2000]))
def test_supply_and_can_transfer_agree(ops: list[tuple[Any, ...]], max_holders: int,
                                       max_holding_bps: int) -> None:
    chain = world(cap=600, max_supply=1000, unit_price=1_000_000, lockup_ms=DAY_MS // 4,
                  max_holders=max_holders, max_holding_bps=max_holding_bps,
                  allowed_countries=["KR"], issuer_annual_limit=60_000_000)
    for holder in ("alice", "bob", "dave", "erin"):  # a cap table to start from
        chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain[holder], amount=40)
    chain.advance(DAY_MS // 2)
    for op in ops:
        run(chain, op)
        check_invariants(chain)


holdings = st.dictionaries(
    keys=st.text(alphabet="0123456789abcdef", min_size=4, max_size=4),
    values=st.integers(min_value=1, max_value=10**12), min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(balances=holdings, total=st.integers(min_value=1, max_value=10**15),
       it_bps=st.sampled_from([0, 1400, 2000, 9090]))
def test_dividend_shares_are_exact(balances: dict[str, int], total: int, it_bps: int) -> None:
    rows = sorted(balances.items())
    shares = compute_gross_shares(total, rows)
    entitled = sum(balances.values())
    assert sum(shares) == total
    for (_, balance), gross in zip(rows, shares, strict=True):
        assert abs(gross - Fraction(total * balance, entitled)) < 1
        income_tax, local_tax, net = compute_withholding(gross, it_bps)
        assert net + income_tax + local_tax == gross and net >= 0
        assert income_tax == gross * it_bps // 10_000 and local_tax == income_tax // 10


@settings(max_examples=200, deadline=None)
@given(balances=holdings, total=st.integers(min_value=1, max_value=10**15))
def test_dividend_spare_won_go_to_the_largest_remainders(balances: dict[str, int],
                                                         total: int) -> None:
    """Largest remainder, exactly: every holder gets the floor of its exact share, and the
    spare won go to the largest remainders, ties to the smaller account id. (`|gross - exact|
    < 1` alone holds for any way of handing out the spare won.)"""
    rows = sorted(balances.items())
    shares = compute_gross_shares(total, rows)
    entitled = sum(balances.values())
    floors = [total * balance // entitled for _, balance in rows]
    remainders = [total * balance % entitled for _, balance in rows]
    extra = {i for i, (share, floor) in enumerate(zip(shares, floors, strict=True))
             if share == floor + 1}
    assert all(share in (floor, floor + 1) for share, floor in zip(shares, floors, strict=True))
    ranked = sorted(range(len(rows)), key=lambda i: (-remainders[i], rows[i][0]))
    assert extra == set(ranked[:len(extra)])
