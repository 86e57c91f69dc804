"""Property tests: supply and balance invariants under random operations, `can_transfer`
predicting `transfer` exactly (fds holds placed and released among them), the dividend
arithmetic, cash escrowed equal to the sum of open escrows (dividends declared, paid in steps,
held, released, keys recovered), and a general investor's counted net purchases never over the
limits whatever the sequence of transfers, issues, forced transfers, recoveries and
investor-type changes."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaincode.compliance import window_net
from chaincode.dividend import compute_gross_shares, compute_withholding
from consensus import codec
from tests.chaincode.helpers import DAY_MS, Chain, account_of, world

NAMES = ["alice", "bob", "carol", "dave", "erin", "nobody"]
name = st.sampled_from(NAMES)
amount = st.integers(min_value=1, max_value=30)

OPERATIONS = [  # (weight in percent, strategy)
    (30, st.tuples(st.just("transfer"), name, name, amount)),
    (3, st.tuples(st.just("hold"), name, st.sampled_from(["withdrawals", "trading", "all"]),
                  st.booleans())),
    (2, st.tuples(st.just("release"), st.integers(min_value=1, max_value=6))),
    (20, st.tuples(st.just("issue"), name, amount)),
    (6, st.tuples(st.just("freeze"), name, st.one_of(st.none(), amount))),
    (6, st.tuples(st.just("unfreeze"), name, st.one_of(st.none(), amount))),
    (8, st.tuples(st.just("force"), name, name, amount)),
    (6, st.tuples(st.just("redeem"), name, amount)),
    (4, st.tuples(st.just("pause"))),
    (4, st.tuples(st.just("unpause"))),
    (6, st.tuples(st.just("advance"), st.integers(min_value=0, max_value=DAY_MS // 2))),
    (2, st.tuples(st.just("revoke"), name)),
    (3, st.tuples(st.just("recover"), st.sampled_from([*NAMES[:5], "issuer-1"]))),
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
    elif kind == "recover":
        recover(chain, op[1])
    elif kind == "hold":  # on the name's first key or its current one: a hold follows the key
        account = account_of(op[1]) if op[3] else chain[op[1]]
        chain.execute(chain["ksd"], "fds", "hold",
                      {"account": account, "scope": op[2], "reason": "property"})
    elif kind == "release":
        chain.execute(chain["ksd"], "fds", "release", {"hold_id": op[1], "reason": "property"})


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


# ---- cash escrow: escrowed equals the sum of open escrows --------------------------------

ESCROW_NAMES = ["alice", "bob", "carol", "dave", "issuer-1"]
holder = st.sampled_from(ESCROW_NAMES[:4])
ESCROW_OPERATIONS = [  # (weight in percent, strategy)
    (8, st.tuples(st.just("mint"), st.sampled_from(ESCROW_NAMES),
                  st.integers(min_value=1, max_value=5_000))),
    (5, st.tuples(st.just("burn"), st.sampled_from(ESCROW_NAMES),
                  st.integers(min_value=1, max_value=3_000))),
    (8, st.tuples(st.just("cash"), st.sampled_from(ESCROW_NAMES),
                  st.sampled_from(ESCROW_NAMES), st.integers(min_value=1, max_value=2_000))),
    (13, st.tuples(st.just("declare"), st.integers(min_value=1, max_value=2_000),
                   st.sampled_from([None, 0, 1_500, 5_000, DAY_MS]))),
    (26, st.tuples(st.just("pay"), st.integers(min_value=1, max_value=3),
                   st.integers(min_value=1, max_value=6))),
    (7, st.tuples(st.just("release"), st.integers(min_value=1, max_value=3), holder)),
    (7, st.tuples(st.just("transfer"), holder, holder, st.integers(min_value=1, max_value=20))),
    (7, st.tuples(st.just("freeze"), holder)),
    (3, st.tuples(st.just("unfreeze"), holder)),
    (4, st.tuples(st.just("revoke"), holder)),
    (6, st.tuples(st.just("recover"), st.sampled_from(ESCROW_NAMES))),
    (6, st.tuples(st.just("advance"), st.integers(min_value=0, max_value=3_000))),
]


def _pick_escrow(draw: int) -> st.SearchStrategy[tuple[Any, ...]]:
    for weight, strategy in ESCROW_OPERATIONS:
        if draw < weight:
            return strategy
        draw -= weight
    raise AssertionError("weights sum to 100")


escrow_operation = st.integers(min_value=0, max_value=99).flatmap(_pick_escrow)


def recover(chain: Chain, who: str) -> None:
    chain.seq += 1
    new = account_of(f"{who}-key-{chain.seq}")
    outcome = chain.execute(chain["ksd"], "token", "recover",
                            {"old": chain[who], "new": new, "reason": "lost key"})
    if outcome.ok:
        chain.accounts[who] = new


def run_escrow(chain: Chain, op: tuple[Any, ...]) -> None:
    kind = op[0]
    if kind == "mint":
        chain.execute(chain["bank"], "cash", "mint", {"to": chain[op[1]], "amount": op[2]})
    elif kind == "burn":
        chain.execute(chain["bank"], "cash", "burn", {"from": chain[op[1]], "amount": op[2]})
    elif kind == "cash":
        chain.execute(chain[op[1]], "cash", "transfer", {"to": chain[op[2]], "amount": op[3]})
    elif kind == "declare":
        args: dict[str, Any] = {"symbol": "APT1", "total": op[1]}
        if op[2] is not None:
            args["record_time"] = chain.time + op[2]
        chain.execute(chain["issuer-1"], "dividend", "declare", args)
    elif kind == "pay":
        chain.execute(chain["issuer-1"], "dividend", "pay",
                      {"dividend_id": op[1], "max_holders": op[2]})
    elif kind == "release":
        chain.execute(chain["ksd"], "dividend", "release",
                      {"dividend_id": op[1], "account": chain[op[2]]})
    elif kind == "transfer":
        chain.execute(chain[op[1]], "token", "transfer",
                      {"symbol": "APT1", "to": chain[op[2]], "amount": op[3]})
    elif kind in ("freeze", "unfreeze"):
        chain.execute(chain["ksd"], "token", kind,
                      {"symbol": "APT1", "account": chain[op[1]], "amount": None})
    elif kind == "revoke":
        chain.execute(chain["ksd"], "identity", "revoke",
                      {"account": chain[op[1]], "reason": "test"})
    elif kind == "recover":
        recover(chain, op[1])
    elif kind == "advance":
        chain.advance(op[1])


def check_escrows(chain: Chain) -> None:
    values = {key: codec.unpack(value) for key, value in chain.state.values.items()
              if key.startswith("cash/")}
    balances = {key[len("cash/bal/"):]: value for key, value in values.items()
                if key.startswith("cash/bal/")}
    escrowed = {key[len("cash/escrowed/"):]: value for key, value in values.items()
                if key.startswith("cash/escrowed/")}
    escrows = {key[len("cash/escrow/"):]: value for key, value in values.items()
               if key.startswith("cash/escrow/")}
    by_account: dict[str, int] = {}
    for ref, escrow in escrows.items():
        assert escrow["amount"] > 0
        by_account[escrow["account"]] = by_account.get(escrow["account"], 0) + escrow["amount"]
        assert values[f"cash/escrow_of/{escrow['account']}/{ref}"] == 1
    assert escrowed == by_account  # escrowed = the sum of open escrows, account by account
    assert sum(escrowed.values()) == sum(escrow["amount"] for escrow in escrows.values())
    for account, amount in escrowed.items():
        assert amount <= balances.get(account, 0)
    assert sum(balances.values()) == values.get("cash/supply", 0)
    for key, raw in chain.state.values.items():
        if not key.startswith("dividend/div/"):
            continue
        declaration = codec.unpack(raw)
        ref = "dividend/" + key[len("dividend/div/"):]
        left = escrows.get(ref, {"amount": 0})["amount"]
        if declaration["status"] == "cancelled":
            assert left == 0
        else:  # what is not paid out yet, plus the nets held
            assert left == (declaration["total"] - declaration["paid_gross"]
                            + declaration["held_net"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(escrow_operation, min_size=1, max_size=40))
def test_cash_escrowed_is_the_sum_of_open_escrows(ops: list[tuple[Any, ...]]) -> None:
    chain = world()
    for name, units in (("alice", 3), ("bob", 5), ("carol", 7), ("issuer-1", 11)):
        chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain[name], amount=units)
    chain.ok("bank", "cash", "mint", to=chain["issuer-1"], amount=6_000)
    for op in ops:
        run_escrow(chain, op)
        check_escrows(chain)


# ---- general-investor limits: counted net purchases never exceed them ---------------------

LIMIT_NAMES = ["alice", "bob", "carol", "dave", "erin"]
limit_name = st.sampled_from(LIMIT_NAMES)
units = st.integers(min_value=1, max_value=45)
LIMIT_OPERATIONS = [  # (weight in percent, strategy)
    (34, st.tuples(st.just("transfer"), limit_name, limit_name, units)),
    (22, st.tuples(st.just("issue"), limit_name, units)),
    (12, st.tuples(st.just("force"), limit_name, limit_name, units)),
    (8, st.tuples(st.just("recover"), st.sampled_from([*LIMIT_NAMES, "issuer-1"]))),
    (10, st.tuples(st.just("retype"), limit_name,
                   st.sampled_from(["general", "professional"]))),
    (14, st.tuples(st.just("advance"), st.integers(min_value=0, max_value=120 * DAY_MS))),
]


def _pick_limit(draw: int) -> st.SearchStrategy[tuple[Any, ...]]:
    for weight, strategy in LIMIT_OPERATIONS:
        if draw < weight:
            return strategy
        draw -= weight
    raise AssertionError("weights sum to 100")


limit_operation = st.integers(min_value=0, max_value=99).flatmap(_pick_limit)
GENERAL_LIMIT = 100_000_000
ISSUER_LIMIT = 60_000_000
UNIT_PRICE = 1_000_000


def windows(chain: Chain) -> dict[str, int]:
    """Every stored window's net at the next block's time, by key."""
    nets = {}
    for key, raw in chain.state.values.items():
        if key.startswith(("token/inv/", "token/invi/")):
            entries = codec.unpack(raw)
            assert entries and all(krw > 0 for _, krw in entries), (key, entries)
            nets[key] = window_net(entries, chain.time)
    return nets


def net_of(chain: Chain, name: str) -> tuple[int, int]:
    nets = windows(chain)
    issuer_key = f"token/invi/{chain[name]}/{account_of('issuer-1')}"  # the issuer's first key
    return nets.get(f"token/inv/{chain[name]}", 0), nets.get(issuer_key, 0)


def is_general(chain: Chain, name: str) -> bool:
    record = chain.query("ksd", "identity", "get", account=chain[name])
    return bool(record["attrs"].get("investor_type") == "general")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(limit_operation, min_size=1, max_size=40))
def test_counted_net_purchases_never_exceed_the_limits(ops: list[tuple[Any, ...]]) -> None:
    chain = world(cap=100_000, max_supply=100_000, unit_price=UNIT_PRICE,
                  issuer_annual_limit=ISSUER_LIMIT)
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["carol"], amount=500)
    for op in ops:
        kind = op[0]
        if kind in ("transfer", "issue"):
            to = op[2] if kind == "transfer" else op[1]
            amount = op[3] if kind == "transfer" else op[2]
            before = {name: net_of(chain, name) for name in LIMIT_NAMES}
            general = {name: is_general(chain, name) for name in LIMIT_NAMES}
            if kind == "transfer":
                outcome = chain.execute(chain[op[1]], "token", "transfer",
                                        {"symbol": "APT1", "to": chain[to], "amount": amount})
            else:
                outcome = chain.execute(chain["issuer-1"], "token", "issue",
                                        {"symbol": "APT1", "to": chain[to], "amount": amount})
            after = {name: net_of(chain, name) for name in LIMIT_NAMES}
            value = amount * UNIT_PRICE
            if outcome.ok and general[to]:  # every purchase counts, in both windows
                assert after[to] == (before[to][0] + value, before[to][1] + value)
            if outcome.ok and kind == "transfer" and general[op[1]]:  # a sale offsets only
                assert after[op[1]] == (max(0, before[op[1]][0] - value),  # what counted
                                        max(0, before[op[1]][1] - value))
            if not outcome.ok and outcome.error is not None \
                    and outcome.error["code"] == "INVESTMENT_LIMIT_EXCEEDED":
                assert general[to] and (before[to][0] + value > GENERAL_LIMIT
                                        or before[to][1] + value > ISSUER_LIMIT)
        elif kind == "force":
            before_nets = windows(chain)
            chain.execute(chain["ksd"], "token", "force_transfer",
                          {"symbol": "APT1", "from": chain[op[1]], "to": chain[op[2]],
                           "amount": op[3], "reason": "court order"})
            assert windows(chain) == before_nets  # neither checked nor counted
        elif kind == "recover":
            before_net = net_of(chain, op[1]) if op[1] != "issuer-1" else None
            recover(chain, op[1])
            if before_net is not None:
                assert net_of(chain, op[1]) == before_net  # the windows moved with the key
        elif kind == "retype":
            chain.execute(chain["ksd"], "identity", "update",
                          {"account": chain[op[1]], "attrs": {"investor_type": op[2]}})
        elif kind == "advance":
            chain.advance(op[1])
        for key, net in windows(chain).items():
            assert net <= (GENERAL_LIMIT if key.startswith("token/inv/") else ISSUER_LIMIT), key


# ---- the stepped register pays exactly the reference split ---------------------------------

@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(balances=st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=9),
       total=st.integers(min_value=1, max_value=10**12),
       pages=st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=8),
       kinds=st.lists(st.sampled_from(["general", "corporate", "professional"]), min_size=9,
                      max_size=9))
def test_stepped_register_pays_the_reference_split(balances: list[int], total: int,
                                                   pages: list[int], kinds: list[str]) -> None:
    chain = world(max_supply=10**7, unit_price=1)
    holders = []
    for index, units in enumerate(balances):
        name = f"h{index}"
        chain.register(name, investor_type=kinds[index], resident=index % 2 == 0)
        chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain[name], amount=units)
        holders.append((chain[name], units))
    chain.ok("bank", "cash", "mint", to=chain["issuer-1"], amount=total)
    dividend_id = chain.ok("issuer-1", "dividend", "declare", symbol="APT1",
                           total=total)["dividend_id"]
    step = 0
    while True:
        result = chain.ok("issuer-1", "dividend", "pay", dividend_id=dividend_id,
                          max_holders=pages[step % len(pages)])
        step += 1
        if result["done"]:
            break
    holders.sort()
    reference = dict(zip([account for account, _ in holders],
                         compute_gross_shares(total, holders), strict=True))
    rows = chain.query("fss", "dividend", "payments", dividend_id=dividend_id)["entitlements"]
    assert {row["account"]: row["gross"] for row in rows} == reference
    withheld = 0
    for row in rows:
        assert (row["income_tax"], row["local_tax"], row["net"]) == compute_withholding(
            row["gross"], row["it_bps"])
        withheld += row["income_tax"] + row["local_tax"]
        assert chain.cash(next(name for name in chain.accounts
                               if chain.accounts[name] == row["account"])) == row["net"]
    assert chain.cash("tax") == withheld and chain.cash("issuer-1") == 0


# ---- holds: a held account's balances never move out ------------------------------------

HOLD_NAMES = ["alice", "bob", "dave"]  # dave is a corporation: no real-time limits
hold_name = st.sampled_from(HOLD_NAMES)
HOLD_OPERATIONS = [  # (weight in percent, strategy)
    (14, st.tuples(st.just("hold"), hold_name, st.sampled_from(["withdrawals", "trading",
                                                                 "all"]))),
    (8, st.tuples(st.just("release"), st.integers(min_value=1, max_value=12))),
    (22, st.tuples(st.just("transfer"), hold_name, hold_name, st.integers(1, 30))),
    (22, st.tuples(st.just("cash"), hold_name, hold_name, st.integers(1, 4_000))),
    (12, st.tuples(st.just("burn"), hold_name, st.integers(1, 4_000))),
    (8, st.tuples(st.just("mint"), hold_name, st.integers(1, 5_000))),
    (4, st.tuples(st.just("recover"), hold_name)),
    (10, st.tuples(st.just("advance"), st.integers(min_value=0, max_value=2 * DAY_MS))),
]


def _pick_hold(draw: int) -> st.SearchStrategy[tuple[Any, ...]]:
    for weight, strategy in HOLD_OPERATIONS:
        if draw < weight:
            return strategy
        draw -= weight
    raise AssertionError("weights sum to 100")


hold_operation = st.integers(min_value=0, max_value=99).flatmap(_pick_hold)


def run_hold_op(chain: Chain, op: tuple[Any, ...]) -> None:
    kind = op[0]
    if kind == "hold":
        chain.execute(chain["ksd"], "fds", "hold",
                      {"account": chain[op[1]], "scope": op[2], "reason": "alert"})
    elif kind == "release":
        chain.execute(chain["ksd"], "fds", "release", {"hold_id": op[1], "reason": "cleared"})
    elif kind == "transfer":
        chain.execute(chain[op[1]], "token", "transfer",
                      {"symbol": "APT1", "to": chain[op[2]], "amount": op[3]})
    elif kind == "cash":
        chain.execute(chain[op[1]], "cash", "transfer", {"to": chain[op[2]], "amount": op[3]})
    elif kind == "burn":
        chain.execute(chain["bank"], "cash", "burn", {"from": chain[op[1]], "amount": op[2]})
    elif kind == "mint":
        chain.execute(chain["bank"], "cash", "mint", {"to": chain[op[1]], "amount": op[2]})
    elif kind == "recover":
        recover(chain, op[1])
    elif kind == "advance":
        chain.advance(op[1])


def active_scopes(chain: Chain) -> dict[str, set[str]]:
    """Each account's active hold scopes, from the hold records themselves (not the counts
    the checks read), and a check that the counts agree with them."""
    scopes: dict[str, set[str]] = {}
    counts: dict[str, dict[str, int]] = {}
    for key, raw in chain.state.values.items():
        if key.startswith("fds/hold/"):
            hold = codec.unpack(raw)
            if hold["status"] == "active":
                scopes.setdefault(hold["account"], set()).add(hold["scope"])
                per = counts.setdefault(hold["account"], {})
                per[hold["scope"]] = per.get(hold["scope"], 0) + 1
    stored = {key[len("fds/active/"):]: codec.unpack(raw)
              for key, raw in chain.state.values.items() if key.startswith("fds/active/")}
    assert stored == counts
    return scopes


def balances_of(chain: Chain) -> tuple[dict[str, int], dict[str, int]]:
    units = {key[len("token/bal/APT1/"):]: codec.unpack(raw)["balance"]
             for key, raw in chain.state.values.items() if key.startswith("token/bal/APT1/")}
    cash = {key[len("cash/bal/"):]: codec.unpack(raw)
            for key, raw in chain.state.values.items() if key.startswith("cash/bal/")}
    return units, cash


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(hold_operation, min_size=1, max_size=40))
def test_a_held_accounts_balances_never_move_out(ops: list[tuple[Any, ...]]) -> None:
    """Under a withdrawals or all hold no won leaves the account, under an all hold no unit
    either, whatever the sequence of transfers, burns, mints, holds, releases and key
    recoveries (a recovery carries the hold: the new key's balances are watched too)."""
    chain = world()
    for name in HOLD_NAMES:
        chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain[name], amount=50)
        chain.ok("bank", "cash", "mint", to=chain[name], amount=20_000)
    for op in ops:
        scopes = active_scopes(chain)
        units_before, cash_before = balances_of(chain)
        old_keys = {name: chain[name] for name in HOLD_NAMES}
        run_hold_op(chain, op)
        units_after, cash_after = balances_of(chain)
        renamed = {old_keys[name]: chain[name] for name in HOLD_NAMES}  # a recovered key
        for account, held in scopes.items():
            now = renamed.get(account, account)
            if held & {"withdrawals", "all"}:
                assert cash_after.get(now, 0) >= cash_before.get(account, 0), (op, held)
            if "all" in held:
                assert units_after.get(now, 0) >= units_before.get(account, 0), (op, held)
        active_scopes(chain)
