"""Python chaincode: the runtime (chaincode.runtime) and the built-in contracts.

Public entry points used by the node and genesis:
- `DEFAULT_PARAMS`: chain parameters the contracts read through `ctx.params` (fixed in genesis).
- `builtin_registry(params)`: a Registry holding identity, token, cash and dividend.
- `genesis_state(orgs, params)`: the initial state (full key -> canonical bytes) that registers
  each organisation admin `{"name", "role", "account"}` in the identity contract.
"""

from __future__ import annotations

from typing import Any

from chaincode.runtime import ChaincodeError, Contract, Registry

DEFAULT_PARAMS: dict[str, Any] = {
    # KRW a general investor may buy (net, valued at unit_price) across all tokens in 365 days.
    "general_investor_annual_limit": 100_000_000,
    # Income-tax withholding in basis points by holder class; local tax is 10% of income tax.
    "withholding_bps": {"resident": 1400, "non_resident": 2000, "corporate": 0},
}


def builtin_registry(params: dict[str, Any] | None = None) -> Registry:
    from chaincode.cash import Cash
    from chaincode.dividend import Dividend
    from chaincode.identity import Identity
    from chaincode.token import Token

    merged = dict(DEFAULT_PARAMS)
    merged.update(params or {})
    return Registry([Identity(), Token(), Cash(), Dividend()], merged)


def genesis_state(orgs: list[dict[str, str]], params: dict[str, Any] | None = None
                  ) -> dict[str, bytes]:
    from chaincode.identity import genesis_records

    return genesis_records(orgs)


__all__ = ["DEFAULT_PARAMS", "ChaincodeError", "Contract", "Registry", "builtin_registry",
           "genesis_state"]
