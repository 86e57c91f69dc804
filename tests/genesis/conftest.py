"""Shared fixtures: networks built with stand-in chaincode hashes, so that these tests do not
depend on the contract modules (the default path is tested with a stand-in registry)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from genesis.builder import Network, build_network

# Stand-ins for chaincode.builtin_registry(params).source_hashes().
CHAINCODE_HASHES = {name: f"{index:02x}" * 32 for index, name in
                    enumerate(("runtime", "identity", "token", "cash", "dividend"), start=1)}
BASE_PORT = 24_000  # numbers only: build_network binds nothing when base_port is not 0


@pytest.fixture(scope="session")
def network() -> Network:
    """n=4 with the observer, in memory."""
    return build_network(4, observer=True, base_port=BASE_PORT,
                         chaincode_hashes=CHAINCODE_HASHES)


@pytest.fixture
def document(network: Network) -> dict[str, Any]:
    """A fresh, valid genesis document to mutate."""
    return copy.deepcopy(network.genesis.document)
