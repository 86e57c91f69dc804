"""Pre-state / transaction / post-state helpers for the chaincode tests.

`Chain` holds a `MemoryState` seeded with `genesis_state` for the demo organisations, runs each
transaction through `Registry.execute` exactly as the executor does (a block overlay, then the
writes committed into the state), and advances height and block time by one block.
"""

from __future__ import annotations

import hashlib
from typing import Any

from chaincode import builtin_registry, genesis_state
from chaincode.runtime import MemoryState, Outcome, Overlay

T0 = 1_700_000_000_000  # block time of the first block, ms
DAY_MS = 86_400_000
YEAR_MS = 365 * DAY_MS

ORGS = [("ksd", "registrar"), ("fss", "regulator"), ("broker-a", "broker"),
        ("broker-b", "broker"), ("bank", "bank"), ("issuer-1", "issuer"),
        ("issuer-2", "issuer"), ("tax", "tax")]


def account_of(name: str) -> str:
    """A deterministic 64-hex account id for a name (stands in for a public key)."""
    return hashlib.sha256(name.encode()).hexdigest()


def investor(investor_type: str = "general", country: str = "KR", resident: bool = True,
             kyc_expires: int = T0 + 10 * YEAR_MS, aml_risk: str = "low") -> dict[str, Any]:
    return {"investor_type": investor_type, "country": country, "resident": resident,
            "kyc_expires": kyc_expires, "aml_risk": aml_risk}


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
        self.height = 1
        self.time = T0
        self.seq = 0

    def __getitem__(self, name: str) -> str:
        return self.accounts.get(name) or account_of(name)

    def execute(self, caller: str, contract: str, method: str, args: dict[str, Any]
                ) -> Outcome:
        """One transaction in its own block; writes are committed only on success."""
        self.seq += 1
        tx_id = hashlib.sha256(f"tx-{self.seq}".encode()).hexdigest()
        block = Overlay(self.state)
        outcome = self.registry.execute(block, self.accounts.get(caller, caller), tx_id,
                                        self.height, self.time, contract, method, args)
        if not outcome.ok:
            assert block.writes == {}, "a failed transaction left writes"
        for key, value in block.writes.items():
            if value is None:
                self.state.values.pop(key, None)
            else:
                self.state.values[key] = value
        self.height += 1
        self.time += 1000
        return outcome

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
        return self.registry.query(self.state, self.accounts.get(caller, caller),
                                   self.height - 1, self.time, contract, method, _wire(args))

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
                attrs=investor(**attrs))
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
