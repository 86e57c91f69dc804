"""Hostile sequences against chaincode.fds, generated: what a flagged manipulator, his broker
and the registrar's responder might send, in any order, and the rules no sequence may break.

- `test_nothing_leaves_a_held_account`: holds (by the broker or the registrar, on a name's
  current key or a key recovered away), releases by every key that might try (a revoked or
  recovered broker key included), orders, cancels, cash and token transfers, burns, key
  recoveries and time. After each step: an account under a hold lost nothing the hold covers
  (an `all` hold: no cash, no units; `trading`: no fill; `withdrawals`: no transfer or burn of
  cash), a hold placed on any key of a name covers that name's current key, a release was
  signed by an active placer or the registrar, the registrar's hold was refused for room only
  when its own holds already covered that scope, and `can_transfer` said what `transfer` did.
- `test_no_deposit_leaves_before_its_delay`: mints, transfers, burns, a broker's attempts to
  change legal_form, key recoveries and time among individuals. Money is conserved, so if no
  deposit may leave before its delay, the cash burned by any moment never exceeds the cash
  minted `deposit_hold_ms` before it; and each name's outflow of a KST day stays within the
  daily limit (whatever keys the name had that day).
- `test_no_alert_index_reaches_into_another`: any two alert ids `fds.hold` accepts index
  their holds under disjoint key prefixes.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaincode.fds import covers, kst_day, require_alert_id
from chaincode.runtime import ChaincodeError
from tests.chaincode.helpers import DAY_MS, Chain, account_of
from tests.chaincode.market_helpers import ORIGIN, market_chain

HOUR_MS = 3_600_000
SCOPES = ["withdrawals", "trading", "all"]
PEOPLE = ["alice", "bob", "erin"]  # alice and bob with broker-a, erin with broker-b
person = st.sampled_from(PEOPLE)
scope = st.sampled_from(SCOPES)
ROOM = 1  # MAX_ACTIVE_HOLDS while generating, so that the room runs out in a short sequence

alert = st.integers(min_value=0, max_value=2)
HOSTILE = st.one_of(
    st.tuples(st.just("hold"), st.just("ksd"), person, scope, alert, st.booleans()),
    st.tuples(st.just("hold"), st.just("broker-a"), st.sampled_from(["alice", "bob"]), scope,
              alert, st.booleans()),
    st.tuples(st.just("hold"), st.just("broker-b"), st.just("erin"), scope, alert,
              st.booleans()),
    st.tuples(st.just("release"), st.integers(min_value=0, max_value=7),  # which hold
              st.sampled_from(["ksd", "broker-a", "broker-b", "old-broker-b"])),
    st.tuples(st.just("recover"), st.just("broker-b")),
    st.tuples(st.just("place"), person, st.sampled_from(["buy", "sell"]),
              st.integers(min_value=9_900, max_value=10_100), st.integers(1, 20),
              st.sampled_from(["gtc", "gtc", "ioc"])),
    st.tuples(st.just("place"), person, st.sampled_from(["buy", "sell"]),
              st.integers(min_value=9_900, max_value=10_100), st.integers(1, 20),
              st.just("gtc")),
    st.tuples(st.just("cancel"), st.integers(min_value=1, max_value=12)),
    st.tuples(st.just("cash"), person, person, st.integers(min_value=1, max_value=10**6)),
    st.tuples(st.just("burn"), person, st.integers(min_value=1, max_value=10**6)),
    st.tuples(st.just("units"), person, person, st.integers(min_value=1, max_value=50)),
    st.tuples(st.just("recover"), st.sampled_from([*PEOPLE, "broker-b"])),
    st.tuples(st.just("advance"), st.integers(min_value=0, max_value=DAY_MS)),
)
CANCEL_ROOM = 1  # MAX_CANCEL_ON_HOLD while generating: the rest are refused at their next fill


class World:
    """market_chain with erin holding units too, past every delay; the keys each name had."""

    def __init__(self) -> None:
        self.chain = market_chain(holders=("alice", "bob", "erin"))
        self.chain.advance(3 * DAY_MS)
        self.keys: dict[str, list[str]] = {name: [self.chain[name]]
                                           for name in [*PEOPLE, "broker-b"]}
        self.holds = 0  # holds placed so far (a release names one of them)

    def key(self, name: str) -> str:
        if name == "old-broker-b":
            return self.keys["broker-b"][0]
        return self.chain[name]

    def wealth(self, name: str) -> tuple[int, int]:
        chain = self.chain
        units = chain.query("ksd", "token", "balance", symbol="APT1", account=chain[name])
        money = chain.query("fss", "cash", "balance", account=chain[name])
        return int(money["balance"]), int(units["balance"])

    def covered(self, name: str) -> list[str]:
        return list(self.chain.query("ksd", "fds", "holds", account=self.chain[name])["held"])

    def registrar_covers(self, name: str, asked: str) -> bool:
        answer = self.chain.query("ksd", "fds", "holds", account=self.chain[name], limit=1000)
        return any(row["status"] == "active" and row["placed_as"] == "registrar"
                   and covers(row["scope"], asked) for row in answer["holds"])

    def role(self, caller: str) -> str | None:
        record = self.chain.query("ksd", "identity", "get", account=self.key(caller))
        return record["role"] if record["status"] == "active" else None


def step(world: World, op: tuple[Any, ...]) -> Any:
    chain, kind = world.chain, op[0]
    if kind == "hold":
        _, by, name, asked, alert, first_key = op
        account = world.keys[name][0] if first_key else chain[name]
        outcome = chain.execute(chain[by], "fds", "hold", {
            "account": account, "scope": asked, "reason": "generated",
            "alert_id": f"{alert:064x}" if alert else None})
        world.holds += outcome.ok
        return outcome
    if kind == "release":
        return chain.execute(world.key(op[2]), "fds", "release",
                             {"hold_id": 1 + op[1] % max(1, world.holds),
                              "reason": "generated"})
    if kind == "place":
        _, name, side, price, qty, tif = op
        broker = "broker-b" if name == "erin" else "broker-a"
        return chain.execute(chain[broker], "market", "place", {
            "symbol": "APT1", "account": chain[name], "side": side, "price": price,
            "qty": qty, "media": "hts", "origin": ORIGIN, "tif": tif})
    if kind == "cancel":
        return chain.execute(chain["ksd"], "market", "cancel", {"order_id": op[1]})
    if kind == "cash":
        return chain.execute(chain[op[1]], "cash", "transfer", {"to": chain[op[2]],
                                                                "amount": op[3]})
    if kind == "burn":
        return chain.execute(chain["bank"], "cash", "burn", {"from": chain[op[1]],
                                                            "amount": op[2]})
    if kind == "units":
        return transfer_units(world, op[1], op[2], op[3])
    if kind == "recover":
        chain.seq += 1
        new = account_of(f"{op[1]}-key-{chain.seq}")
        outcome = chain.execute(chain["ksd"], "token", "recover",
                                {"old": chain[op[1]], "new": new, "reason": "lost key"})
        if outcome.ok:
            chain.accounts[op[1]] = new
            world.keys[op[1]].append(new)
        return outcome
    chain.advance(op[1])
    return None


def transfer_units(world: World, sender: str, to: str, units: int) -> Any:
    chain = world.chain
    predicted = chain.query("ksd", "token", "can_transfer", symbol="APT1",
                            from_=chain[sender], to=chain[to], amount=units)
    outcome = chain.execute(chain[sender], "token", "transfer",
                            {"symbol": "APT1", "to": chain[to], "amount": units})
    actual = "OK" if outcome.ok else outcome.error["code"]
    assert (predicted["code"], predicted["ok"]) == (actual, outcome.ok), (predicted, outcome)
    return outcome


def check_step(world: World, op: tuple[Any, ...], outcome: Any,
               before: dict[str, tuple[list[str], tuple[int, int]]],
               release_role: str | None) -> None:
    events = [] if outcome is None or not outcome.ok else outcome.events
    for name, (held, (money, units)) in before.items():
        mine = set(world.keys[name])
        if "all" in held:
            now_money, now_units = world.wealth(name)
            assert now_money >= money and now_units >= units, (name, op)
        if "trading" in held:
            assert not [e for e in events if e.name == "Trade"
                        and {e.data["buyer"], e.data["seller"]} & mine], (name, op)
        if "withdrawals" in held:
            assert not [e for e in events if (e.name == "CashTransfer" and e.data["memo"] is None
                                              and e.data["from"] in mine)
                        or (e.name == "Burned" and e.data["from"] in mine)], (name, op)
    if op[0] == "hold" and outcome.ok:  # whichever key it named, the name's key now is held
        assert set(SCOPES) & set(world.covered(op[2])) >= {
            asked for asked in SCOPES if covers(op[3], asked)}, op
    if op[0] == "hold" and op[1] == "ksd" and not outcome.ok \
            and outcome.error["code"] == "TOO_MANY_HOLDS":
        assert world.registrar_covers(op[2], op[3]), op
    if op[0] == "release" and outcome.ok:
        assert release_role in ("broker", "registrar"), op
        by = outcome.result["by"]
        assert release_role == "registrar" or by == world.key(op[2]), op


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(HOSTILE, min_size=20, max_size=40))
def test_nothing_leaves_a_held_account(ops: list[tuple[Any, ...]]) -> None:
    with mock.patch("chaincode.fds.MAX_ACTIVE_HOLDS", ROOM), \
            mock.patch("chaincode.fds.MAX_CANCEL_ON_HOLD", CANCEL_ROOM):
        world = World()
        for op in ops:
            before = {name: (world.covered(name), world.wealth(name)) for name in PEOPLE}
            release_role = world.role(op[2]) if op[0] == "release" else None
            outcome = step(world, op)
            check_step(world, op, outcome, before, release_role)


# ---- the real-time limits --------------------------------------------------------------------

LIMIT = 3_000_000  # daily_outflow_krw while generating
PARAMS = {"fds": {"daily_outflow_krw": LIMIT}}
INDIVIDUALS = ["alice", "bob", "gina"]
individual = st.sampled_from(INDIVIDUALS)
won = st.integers(min_value=1, max_value=2_000_000)

MOVES = st.one_of(
    st.tuples(st.just("mint"), individual, won),
    st.tuples(st.just("transfer"), individual, individual, won),
    st.tuples(st.just("burn"), individual, won),
    st.tuples(st.just("legal_form"), individual, st.sampled_from(["corporation",
                                                                  "individual"])),
    st.tuples(st.just("recover"), individual),
    st.tuples(st.just("advance"), st.sampled_from([HOUR_MS, 6 * HOUR_MS, 23 * HOUR_MS,
                                                   DAY_MS + 1, 3 * DAY_MS])),
)


def move(chain: Chain, op: tuple[Any, ...], keys: dict[str, set[str]]) -> Any:
    kind = op[0]
    if kind == "mint":
        return chain.execute(chain["bank"], "cash", "mint", {"to": chain[op[1]],
                                                            "amount": op[2]})
    if kind == "transfer":
        return chain.execute(chain[op[1]], "cash", "transfer", {"to": chain[op[2]],
                                                               "amount": op[3]})
    if kind == "burn":
        return chain.execute(chain["bank"], "cash", "burn", {"from": chain[op[1]],
                                                            "amount": op[2]})
    if kind == "legal_form":  # the broker tries; only the registrar may
        return chain.execute(chain["broker-a"], "identity", "update",
                             {"account": chain[op[1]], "attrs": {"legal_form": op[2]}})
    if kind == "recover":
        chain.seq += 1
        new = account_of(f"{op[1]}-key-{chain.seq}")
        outcome = chain.execute(chain["ksd"], "token", "recover",
                                {"old": chain[op[1]], "new": new, "reason": "lost key"})
        if outcome.ok:
            chain.accounts[op[1]] = new
            keys[op[1]].add(new)
        return outcome
    chain.advance(op[1])
    return None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(MOVES, min_size=10, max_size=40))
def test_no_deposit_leaves_before_its_delay(ops: list[tuple[Any, ...]]) -> None:
    chain = Chain(params=PARAMS)
    for name in INDIVIDUALS:
        chain.register(name)
    keys = {name: {chain[name]} for name in INDIVIDUALS}
    hold_ms = chain.registry.params["fds"]["deposit_hold_ms"]
    mints: list[tuple[int, int]] = []  # (block time, won)
    burned = 0
    outflow: dict[tuple[str, int], int] = {}  # (name, KST day) -> won sent out
    for op in ops:
        at = chain.time
        outcome = move(chain, op, keys)
        if outcome is None or not outcome.ok:
            continue
        if op[0] == "mint":
            mints.append((at, op[2]))
        if op[0] == "burn":
            burned += op[2]
            ripe = sum(amount for time, amount in mints if time <= at - hold_ms)
            assert burned <= ripe, ("a deposit left before its delay", ops)
        if op[0] in ("transfer", "burn"):
            day = (op[1], kst_day(at))
            outflow[day] = outflow.get(day, 0) + op[-1]
            assert outflow[day] <= LIMIT, ("over the daily limit", ops)


# ---- the audit indexes -----------------------------------------------------------------------

KEYISH = st.text(alphabet="/0a.\\", max_size=4)  # what a planted id would append


@given(first=st.text(max_size=12), other=st.text(max_size=12), tail=KEYISH,
       extends=st.booleans(), hold_id=st.integers(min_value=1, max_value=10**12 - 1))
def test_no_alert_index_reaches_into_another(first: str, other: str, tail: str, extends: bool,
                                             hold_id: int) -> None:
    """`alert/<id>/` (what /v1/audit/holds?alert= reads) holds the holds of one alert only,
    whatever two alert ids `fds.hold` accepts (the second often the first plus a tail)."""
    second = first + tail if extends else other
    try:
        accepted = [require_alert_id(first), require_alert_id(second)]
    except ChaincodeError:
        return
    if accepted[0] != accepted[1]:
        assert not f"alert/{second}/{hold_id:012d}".startswith(f"alert/{first}/")
