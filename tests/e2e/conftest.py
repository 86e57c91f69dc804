"""Real clusters for end-to-end tests: node processes on loopback, stopped by pid afterwards."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from genesis.builder import load_keyfile
from node.tools import cluster as clustermod
from node.tools.client import Client

ORGS = ("ksd", "fss", "broker-a", "broker-b", "bank", "issuer-1", "tax")


def wait_until(condition: Callable[[], Any], timeout_s: float = 30.0, what: str = "condition",
               interval_s: float = 0.05) -> Any:
    """Poll `condition` until it returns something truthy; fail with `what` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)


class Cluster:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.info = clustermod.read_cluster(directory)
        self.chain_id: str = self.info["chain_id"]
        self.keys = {org: load_keyfile(str(directory / "keys" / f"{org}.json")) for org in ORGS}

    def reload(self) -> None:
        self.info = clustermod.read_cluster(self.dir)

    def url(self, name: str | None = None) -> str:
        nodes = self.info["nodes"]
        entry = nodes[0] if name is None else next(n for n in nodes if n["name"] == name)
        return str(entry["rpc"])

    def client(self, org: str | None = None, node: str | None = None, signer: Any = None
               ) -> Client:
        return Client(self.url(node), self.chain_id,
                      signer if signer is not None else (self.keys[org] if org else None))

    def pid(self, name: str) -> int:
        self.reload()
        return int(next(n for n in self.info["nodes"] if n["name"] == name)["pid"])

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        pid = self.pid(name)
        os.kill(pid, sig)
        wait_until(lambda: not clustermod.is_alive(pid, self.dir, name), 10,
                   f"{name} to exit")

    def up(self) -> None:
        clustermod.up(self.dir, progress=lambda line: None)
        self.reload()

    def down(self) -> None:
        clustermod.down(self.dir, progress=lambda line: None)


def start_cluster(directory: Path, n: int, observer: bool = False) -> Cluster:
    """Start a cluster; if it does not come up, stop whatever did start before failing."""
    try:
        clustermod.up(directory, n=n, observer=observer, progress=lambda line: None)
    except BaseException:
        if (directory / "cluster.json").exists():
            clustermod.down(directory, progress=lambda line: None)
        raise
    return Cluster(directory)


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One operator node (-n 1): the whole path without consensus peers."""
    cluster = start_cluster(tmp_path_factory.mktemp("single") / "net", 1)
    try:
        yield cluster
    finally:
        cluster.down()
