"""SEAM: the FDS holds (PROTOCOL "fds") as the offering contract asks for them.

`is_held(ctx, account, scope)`: whether `account` is under an active hold covering `scope`:
"trading" at `subscribe` and again at allocation (a `trading` or `all` hold: ACCOUNT_HELD), and
"withdrawals" for a redemption's net (a `withdrawals` or `all` hold: the net waits in the
escrow). The fds contract (chaincode/fds.py, another branch) has not landed yet: until it does,
no account is held. Wire it here and only here; the offering contract and its redemptions call
nothing else for holds, and tests/chaincode/test_offering.py::
test_the_fds_seam_is_asked_at_every_point holds all three callers to this function.
"""

from __future__ import annotations

from chaincode.runtime import Context

SCOPES = ("trading", "withdrawals")


def is_held(ctx: Context, account: str, scope: str) -> bool:
    assert scope in SCOPES, scope
    return False
