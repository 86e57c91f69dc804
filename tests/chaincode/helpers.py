"""Pre-state / transaction / post-state helpers for the chaincode tests.

`Chain` holds a `MemoryState` seeded with `genesis_state` for the demo organisations and runs
blocks exactly as the executor does: the begin-block hooks, then each transaction through
`Registry.execute` over one block overlay, then the block's writes committed into the state
and into a per-key history (so contracts can read the past, as `MemoryHistory`). `execute`
runs one transaction in its own block; `block` runs several in one. Height and block time
advance by one block (1 s) each time.

Accounts are real Ed25519 keys derived from a name (`signer_of`), so registrations carry a
real consent signature.
"""

from __future__ import annotations

import bisect
import hashlib
from typing import Any

from chaincode import builtin_registry, genesis_state
from chaincode.identity import sign_consent
from chaincode.runtime import MemoryState, Outcome, Overlay
from consensus.crypto import Signer

T0 = 1_700_000_000_000  # block time of the first block, ms
DAY_MS = 86_400_000
YEAR_MS = 365 * DAY_MS

ORGS = [("ksd", "registrar"), ("fss", "regulator"), ("broker-a", "broker"),
        ("broker-b", "broker"), ("bank", "bank"), ("issuer-1", "issuer"),
        ("issuer-2", "issuer"), ("tax", "tax")]


CHAIN_ID = "stoledger-test"


def signer_of(name: str) -> Signer:
    """A deterministic Ed25519 key for a name."""
    return Signer(hashlib.sha256(name.encode()).digest())


def account_of(name: str) -> str:
    """The account id (public key hex) of `signer_of(name)`."""
    return signer_of(name).account


def investor(investor_type: str = "general", country: str = "KR", resident: bool = True,
             kyc_expires: int = T0 + 10 * YEAR_MS, aml_risk: str = "low",
             legal_form: str | None = None) -> dict[str, Any]:
    if legal_form is None:
        legal_form = "corporation" if investor_type == "corporate" else "individual"
    return {"investor_type": investor_type, "legal_form": legal_form, "country": country,
            "resident": resident, "kyc_expires": kyc_expires, "aml_risk": aml_risk}


def consent(name: str, by: str, role: str = "investor") -> bytes:
    """`name`'s consent to be registered by account `by` in `role`."""
    return sign_consent(signer_of(name), CHAIN_ID, by, role)


class MemoryHistory:
    """chaincode.runtime.ChainHistory over every committed version of every key."""

    def __init__(self, genesis: dict[str, bytes], genesis_time: int) -> None:
        self.versions: dict[str, list[tuple[int, bytes | None]]] = {
            key: [(0, value)] for key, value in genesis.items()}
        self.times: list[int] = [genesis_time]  # index = height

    def commit(self, height: int, time: int, writes: dict[str, bytes | None]) -> None:
        assert height == len(self.times), (height, len(self.times))
        self.times.append(time)
        for key, value in writes.items():
            self.versions.setdefault(key, []).append((height, value))

    def state_at(self, height: int) -> MemoryState:
        values: dict[str, bytes] = {}
        for key, versions in self.versions.items():
            found = None
            for at, value in versions:
                if at <= height:
                    found = value
            if found is not None:
                values[key] = found
        return MemoryState(values)

    def time_at(self, height: int) -> int:
        return self.times[height]

    def last_height_before(self, time: int) -> int:
        return max(0, bisect.bisect_left(self.times, time) - 1)


def _wire(args: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments as the transaction carries them (`from_` -> `from`)."""
    return {(key[:-1] if key.endswith("_") else key): value for key, value in args.items()}


class Chain:
    def __init__(self, params: dict[str, Any] | None = None) -> None:
        self.registry = builtin_registry(params)
        self.accounts = {name: account_of(name) for name, _ in ORGS}
        orgs = [{"name": name, "role": role, "account": self.accounts[name]}
                for name, role in ORGS]
        self.state = MemoryState(genesis_state(orgs, params))
        self.history = MemoryHistory(self.state.values, T0 - 1000)
        self.height = 1
        self.time = T0
        self.seq = 0
        self.hook_outcomes: list[Outcome] = []

    def __getitem__(self, name: str) -> str:
        return self.accounts.get(name) or account_of(name)

    def execute(self, caller: str, contract: str, method: str, args: dict[str, Any]
                ) -> Outcome:
        """One transaction in its own block; writes are committed only on success."""
        [outcome] = self.block((caller, contract, method, args))
        return outcome

    def block(self, *txs: tuple[str, str, str, dict[str, Any]]) -> list[Outcome]:
        """One block: the begin-block hooks, then `txs` (caller, contract, method, wire args)
        in order; each failed transaction leaves no writes."""
        overlay = Overlay(self.state)
        self.hook_outcomes = self.registry.begin_block(overlay, self.height, self.time,
                                                       CHAIN_ID, self.history)
        assert all(outcome.ok for outcome in self.hook_outcomes), self.hook_outcomes
        outcomes = []
        for caller, contract, method, args in txs:
            self.seq += 1
            tx_id = hashlib.sha256(f"tx-{self.seq}".encode()).hexdigest()
            before = dict(overlay.writes)
            outcome = self.registry.execute(overlay, self.accounts.get(caller, caller), tx_id,
                                            self.height, self.time, contract, method, args,
                                            CHAIN_ID, self.history)
            if not outcome.ok:
                assert overlay.writes == before, "a failed transaction left writes"
            outcomes.append(outcome)
        for key, value in overlay.writes.items():
            if value is None:
                self.state.values.pop(key, None)
            else:
                self.state.values[key] = value
        self.history.commit(self.height, self.time, dict(overlay.writes))
        self.height += 1
        self.time += 1000
        return outcomes

    def tx(self, caller: str, contract: str, method: str, **args: Any
           ) -> tuple[str, str, str, dict[str, Any]]:
        """A transaction for `block`."""
        return caller, contract, method, _wire(args)

    def ok(self, caller: str, contract: str, method: str, **args: Any) -> Any:
        outcome = self.execute(caller, contract, method, _wire(args))
        assert outcome.ok, outcome.error
        return outcome.result

    def fail(self, code: str, caller: str, contract: str, method: str, **args: Any
             ) -> Outcome:
        before = dict(self.state.values)
        outcome = self.execute(caller, contract, method, _wire(args))
        assert not outcome.ok, f"expected {code}, got ok: {outcome.result}"
        assert outcome.error is not None and outcome.error["code"] == code, outcome.error
        assert self.state.values == before, "a failed transaction changed state"
        return outcome

    def query(self, caller: str, contract: str, method: str, **args: Any) -> Any:
        """At the last committed block, at the next block's time (as lock-ups see it)."""
        return self.registry.query(self.state, self.accounts.get(caller, caller),
                                   self.height - 1, self.time, contract, method,
                                   _wire(args), self.history)

    def query_at(self, height: int, caller: str, contract: str, method: str, **args: Any
                 ) -> Any:
        """As the audit routes do: against the state at the end of block `height`."""
        return self.registry.query(self.history.state_at(height),
                                   self.accounts.get(caller, caller), height,
                                   self.history.time_at(height), contract, method,
                                   _wire(args), self.history)

    def events(self, caller: str, contract: str, method: str, **args: Any) -> list[str]:
        outcome = self.execute(caller, contract, method, _wire(args))
        assert outcome.ok, outcome.error
        return [event.name for event in outcome.events]

    def advance(self, ms: int) -> None:
        self.time += ms

    # ---- a ready world -----------------------------------------------------------------------

    def register(self, name: str, broker: str = "broker-a", **attrs: Any) -> str:
        account = account_of(name)
        self.accounts[name] = account
        self.ok(broker, "identity", "register", account=account, role="investor",
                attrs=investor(**attrs), consent=consent(name, self[broker]))
        return account

    def create_token(self, symbol: str = "APT1", issuer: str = "issuer-1", cap: int | None = None,
                     unit_price: int = 10_000, max_supply: int = 1_000_000,
                     **rules: Any) -> None:
        self.ok(issuer, "token", "create", symbol=symbol, name=f"{symbol} building",
                asset_type="real_estate", unit_price=unit_price, max_supply=max_supply,
                rules=rules)
        self.ok("ksd", "token", "approve", symbol=symbol,
                cap=max_supply if cap is None else cap)

    def balance(self, symbol: str, name: str) -> int:
        result = self.query("ksd", "token", "balance", symbol=symbol, account=self[name])
        return int(result["balance"])

    def cash(self, name: str) -> int:
        return int(self.query("fss", "cash", "balance", account=self[name])["balance"])


def world(**rules: Any) -> Chain:
    """alice, bob (general, KR), carol (professional, US non-resident), dave (corporate)
    with broker-a; erin (qualified) with broker-b; token APT1 created and approved."""
    chain = Chain()
    chain.register("alice")
    chain.register("bob")
    chain.register("carol", investor_type="professional", country="US", resident=False)
    chain.register("dave", investor_type="corporate")
    chain.register("erin", broker="broker-b", investor_type="qualified")
    chain.create_token(**rules)
    return chain
