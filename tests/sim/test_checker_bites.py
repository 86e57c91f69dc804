"""The simulator's checker catches each kind of violation it promises to catch.

`test_checker_is_not_vacuous_with_a_broken_quorum` proves `agreement` and `app_hash` with a
test-only quorum of 2f. The other kinds cannot happen with honest code, so each test here
plants one deliberate bug in an honest node for the length of one run (pytest's monkeypatch:
nothing in the product changes, and nothing outlives the test) and asserts that the checker
reports exactly that kind, by itself, while the same run without the bug is clean.

- `double_vote`: one honest replica also signs (and persists) a PREPARE for another digest;
- `persist_before_send`: one honest replica's host loses the votes it should persist, or
  sends a PREPARE other than the one it persisted;
- `supply` (sum of balances): `cash.mint` credits one won more than it adds to the supply;
- `supply` (receipts): `cash.mint` adds one won more than the receipt says to both;
- `certificate`: one honest node applies blocks with a certificate cut to one vote;
- `tx_twice`: committed transactions stay pending and executors forget committed tx ids;
- `tx_signature`: clients sign garbage and nodes trust every signature unchecked;
- `executed`: one honest node executes a block under other signatures (same header);
- liveness per honest replica: one honest node that hears nothing fails the run.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import pytest

from chaincode import cash
from consensus import messages as msg
from consensus.block import CommitCertificate
from consensus.crypto import TX_DOMAIN, Signer
from consensus.events import Broadcast, Commit, Persist
from consensus.replica import Replica
from consensus.wal import VOTE_KINDS
from node.admission.verified import VerifiedCache
from node.ledger.executor import Executor
from node.sim import SimConfig, Simulation, format_result, run

SEED = 2
DURATION_MS = 1_500
LIMITS = msg.DecodeLimits(1 << 28, 256, 4096)


def one_run() -> Any:
    return run(SimConfig(seed=SEED, duration_ms=DURATION_MS, faults="none"))


def kinds(result: Any) -> set[str]:
    return {violation.kind for violation in result.violations}


def planted_replica(monkeypatch: pytest.MonkeyPatch,
                    change: Callable[[Replica, list[Any]], list[Any]]) -> None:
    """Every action list of the replica second in genesis order goes through `change`."""
    original = Replica.handle

    def handle(self: Replica, event: Any) -> list[Any]:
        actions = original(self, event)
        if self.config.me != self.committee.names[1]:
            return actions
        return change(self, actions)

    monkeypatch.setattr(Replica, "handle", handle)


def planted_mint(monkeypatch: pytest.MonkeyPatch,
                 after: Callable[[Any, str, int], None]) -> None:
    """`cash.mint` as it is, then `after(ctx, to, amount)`."""
    original = cash.Cash.mint

    @functools.wraps(original)
    def mint(self: cash.Cash, ctx: Any, to: Any, amount: Any) -> dict[str, Any]:
        result = original(self, ctx, to, amount)
        after(ctx, result["to"], result["amount"])
        return result

    monkeypatch.setattr(cash.Cash, "mint", mint)


def test_the_unplanted_run_is_clean_and_mints_cash() -> None:
    result = one_run()
    assert result.ok, format_result(result)
    assert result.violations == []
    assert result.txs["committed_on_every_honest_node"] > 0


def test_a_double_vote_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def double_prepare(replica: Replica, actions: list[Any]) -> list[Any]:
        out = []
        for action in actions:
            out.append(action)
            if isinstance(action, Broadcast) and msg.decode(action.data, LIMITS).TYPE == \
                    "PREPARE":
                vote = msg.decode(action.data, LIMITS)
                other = dataclasses.replace(vote, block_hash=bytes(32 - 1) + b"\x01", sig=b"")
                other = replica._out.sign(other)
                out += [Persist(f"prepare/{vote.seq:020d}", other.encode()),
                        Broadcast(other.encode())]
        return out

    planted_replica(monkeypatch, double_prepare)
    result = one_run()
    assert kinds(result) == {"double_vote"}, result.violations


def test_a_vote_sent_before_it_is_persisted_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def lose_votes(replica: Replica, actions: list[Any]) -> list[Any]:
        return [action for action in actions if not (
            isinstance(action, Persist) and action.key.split("/")[0] in VOTE_KINDS)]

    planted_replica(monkeypatch, lose_votes)
    result = one_run()
    assert kinds(result) == {"persist_before_send"}, result.violations


def test_a_vote_other_than_the_persisted_one_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The host persists one PREPARE and sends another under the same key: persisting the
    key is not enough, the bytes sent must be the bytes persisted."""
    def swap_prepare(replica: Replica, actions: list[Any]) -> list[Any]:
        out = []
        for action in actions:
            if isinstance(action, Broadcast) and msg.decode(action.data, LIMITS).TYPE == \
                    "PREPARE":
                vote = msg.decode(action.data, LIMITS)
                action = Broadcast(replica._out.sign(dataclasses.replace(
                    vote, block_hash=bytes(32 - 1) + b"\x01", sig=b"")).encode())
            out.append(action)
        return out

    planted_replica(monkeypatch, swap_prepare)
    result = one_run()
    assert kinds(result) == {"persist_before_send"}, result.violations


def test_balances_that_do_not_add_up_to_the_supply_are_caught(
        monkeypatch: pytest.MonkeyPatch) -> None:
    planted_mint(monkeypatch, lambda ctx, to, amount: cash._set_balance(
        ctx, to, cash._balance(ctx, to) + 1))
    result = one_run()
    assert kinds(result) == {"supply"}, result.violations
    assert all("cash balances sum to" in v.detail for v in result.violations)


def test_a_supply_the_receipts_do_not_explain_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def one_more(ctx: Any, to: str, amount: int) -> None:
        ctx.state.put("supply", int(ctx.state.get("supply", 0)) + 1)
        cash._set_balance(ctx, to, cash._balance(ctx, to) + 1)

    planted_mint(monkeypatch, one_more)
    result = one_run()
    assert kinds(result) == {"supply"}, result.violations
    assert all("receipts minted" in v.detail for v in result.violations)


def test_a_block_applied_without_a_quorum_certificate_is_caught(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def thin_certificates(replica: Replica, actions: list[Any]) -> list[Any]:
        return [Commit(action.block, CommitCertificate(
            action.certificate.view, action.certificate.height,
            action.certificate.block_hash, action.certificate.votes[:1]))
            if isinstance(action, Commit) else action for action in actions]

    planted_replica(monkeypatch, thin_certificates)
    result = one_run()
    assert kinds(result) == {"certificate"}, result.violations


def test_a_transaction_applied_twice_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replicas keep the transactions of the first two blocks pending after they commit (so
    the primary proposes them again) and executors no longer recognise a committed tx id:
    those transactions run twice."""
    original = Replica._mark_committed

    def keep_pending(self: Replica, height: int, block_hash: bytes, time: int,
                     tx_ids: tuple[bytes, ...]) -> None:
        # the request pool never hears that the first two blocks' transactions committed
        original(self, height, block_hash, time, tx_ids if height > 2 else ())

    monkeypatch.setattr(Replica, "_mark_committed", keep_pending)
    monkeypatch.setattr(Executor, "is_committed", lambda self, tx_id, expires=None: False)
    result = one_run()
    assert kinds(result) == {"tx_twice"}, result.violations


def test_a_transaction_without_a_valid_signature_is_caught(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients' transaction signatures are garbage, and nodes trust every signature without
    checking it: the checker verifies each applied transaction itself."""
    original = Signer.sign

    def sign(self: Signer, domain: bytes, message: bytes) -> bytes:
        sig = original(self, domain, message)
        return sig if domain != TX_DOMAIN else sig[:-1] + bytes([sig[-1] ^ 0x01])

    monkeypatch.setattr(Signer, "sign", sign)
    monkeypatch.setattr(VerifiedCache, "check", lambda self, tx: True)
    result = one_run()
    assert kinds(result) == {"tx_signature"}, result.violations


def test_a_run_where_nothing_commits_fails_liveness_not_safety() -> None:
    """Every COMMIT is lost for the whole run: no block can commit, view change or not. The
    run is safe, and its liveness verdict must say FAILED."""
    sim = Simulation(SimConfig(seed=SEED, duration_ms=DURATION_MS, faults="none"))
    sim.deliver_filter = lambda sim, sender, to, meta: meta.type != "COMMIT"
    result = sim.run()
    assert result.safety_ok and result.violations == []
    assert result.liveness_checked and not result.liveness_ok
    assert "not committed" in result.liveness_detail


def test_a_block_executed_with_other_signatures_is_caught(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    """One honest node executes height 3 with every signature replaced (the header, and so
    the block hash and certificate, unchanged): its executor drops those transactions. The
    checker compares what executed, not only headers: `executed` (with `app_hash`, and
    `tx_signature` for the applied block's transactions)."""
    from consensus.block import Block

    original = Executor.apply
    victim: list[int] = []

    def apply(self: Executor, block: Any, certificate: Any) -> Any:
        if block.height == 3 and block.txs and not victim:
            victim.append(id(self))
        if victim == [id(self)] and block.height == 3:
            block = Block(block.header, tuple((body, bytes(64)) for body, _ in block.txs))
        return original(self, block, certificate)

    monkeypatch.setattr(Executor, "apply", apply)
    result = one_run()
    assert victim and "executed" in kinds(result), result.violations
    assert kinds(result) <= {"executed", "app_hash", "tx_signature"}, result.violations


def test_one_honest_replica_left_behind_fails_liveness() -> None:
    """Nothing reaches bank for the whole run: the other three commit everything, bank
    nothing. Liveness is judged per honest replica, so the run fails and names bank (before,
    f+1 honest nodes were enough and bank was reported, not failed)."""
    sim = Simulation(SimConfig(seed=SEED, duration_ms=DURATION_MS, faults="none"))
    sim.deliver_filter = lambda sim, sender, to, meta: to != "bank"
    result = sim.run()
    assert result.safety_ok, result.violations
    assert result.liveness_checked and not result.liveness_ok
    assert result.stuck == ["bank"] and "bank" in result.liveness_detail
