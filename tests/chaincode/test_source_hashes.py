"""Genesis fixes the sha256 of every chaincode line a node runs: the offering contract's hash
covers its parts, the allocation and the redemptions it runs (chaincode.runtime.Contract.parts),
so a node whose allocation arithmetic differs cannot pass the genesis check."""

from __future__ import annotations

from pathlib import Path
from unittest.mock import patch

import chaincode
from chaincode import runtime


def test_the_offering_hash_covers_allocation_and_redemption() -> None:
    registry = chaincode.builtin_registry()
    before = registry.source_hashes()
    real = runtime._file_sha256
    for part in ("offering.py", "allocation.py", "redemption.py"):
        def changed(*paths: str, part: str = part) -> str:
            return real(*paths) + ("x" if any(Path(p).name == part for p in paths) else "")

        with patch.object(runtime, "_file_sha256", changed):
            after = registry.source_hashes()
        assert after["offering"] != before["offering"], part
        assert {k: v for k, v in after.items() if k != "offering"} == \
            {k: v for k, v in before.items() if k != "offering"}, part
