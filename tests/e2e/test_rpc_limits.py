"""Issue 13, finding 2: slow-header connections against a real node process cannot exhaust its
file descriptors. The attacker holds far more connections than the caps from several loopback
addresses (127.0.0.2-6) and trickles header bytes; the node's descriptors stay under the caps,
/healthz still answers from 127.0.0.1, a transaction still commits, and the held connections
are closed by the node at its header timeout."""

from __future__ import annotations

import contextlib
import os
import socket
import time
import urllib.request

import pytest

from node.rpc.connections import (
    HEADER_TIMEOUT_S,
    LIGHT_CLIENT_RESERVE,
    MAX_HTTP_CONNECTIONS,
    MAX_HTTP_CONNECTIONS_PER_ADDRESS,
)
from tests.e2e.conftest import wait_until

pytestmark = pytest.mark.slow

ADDRESSES = [f"127.0.0.{i}" for i in range(2, 7)]
PER_ADDRESS = MAX_HTTP_CONNECTIONS_PER_ADDRESS + 40  # over the per-address cap on each
SLACK = 128  # descriptors the node may open meanwhile (LevelDB tables, logs, p2p); a fresh
# clone saw 1,155 against 1,136 with 48. The unfixed node grows by 1,474, well above the bound.


SETTLE_S = 3.0


def descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def slow_connection(host: str, port: int, source: str) -> socket.socket | None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((source, 0))
    sock.settimeout(2.0)
    try:
        sock.connect((host, port))
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # the head never ends
    except OSError:
        sock.close()
        return None
    return sock


def closed_by_peer(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        data = sock.recv(4096)
    except BlockingIOError:
        return False
    except OSError:
        return True
    return data == b"" or data.startswith(b"HTTP/1.1 503")


def test_slow_header_connections_cannot_exhaust_a_node(single):
    url = single.url()
    host, port = url.split("//")[1].split(":")
    pid = single.pid("ksd")
    baseline = descriptors(pid)
    held: list[socket.socket] = []
    try:
        for source in ADDRESSES:
            for _ in range(PER_ADDRESS):
                sock = slow_connection(host, int(port), source)
                if sock is not None:
                    held.append(sock)
        opened = len(held)
        assert opened > MAX_HTTP_CONNECTIONS + LIGHT_CLIENT_RESERVE  # the attack is real
        cap = min(MAX_HTTP_CONNECTIONS, len(ADDRESSES) * MAX_HTTP_CONNECTIONS_PER_ADDRESS)
        bound = cap + LIGHT_CLIENT_RESERVE + SLACK

        def settled() -> tuple[int] | None:
            grown = descriptors(pid) - baseline
            return (grown,) if grown <= bound else None

        # A connection over the caps is accepted, answered 503 and closed by the node's event
        # loop; on a busy machine a few accept batches (up to the listen backlog each) wait
        # for the loop, so the count may overshoot for a moment. It must come down well
        # before the held connections' header timeout: an unguarded node keeps them all.
        assert SETTLE_S < HEADER_TIMEOUT_S / 2
        wait_until(settled, SETTLE_S, f"the node's descriptors under {bound} above baseline "
                   f"with {opened} connections held")
        with urllib.request.urlopen(url + "/healthz", timeout=5) as response:
            assert response.status == 200
        client = single.client("bank")
        receipt = client.submit("cash", "mint", {"to": single.keys["bank"].account,
                                                 "amount": 5})
        assert receipt["status"] == "committed"
        started = time.monotonic()
        trickled = held[:20]
        # Trickling header bytes does not keep a connection: the header timeout holds.
        while time.monotonic() - started < HEADER_TIMEOUT_S + 5:
            for sock in trickled:
                with contextlib.suppress(OSError):
                    sock.send(b"X")
            if all(closed_by_peer(sock) for sock in trickled):
                break
            time.sleep(1.0)
        wait_until(lambda: all(closed_by_peer(sock) for sock in held), HEADER_TIMEOUT_S + 20,
                   "the node to close the slow connections")
        wait_until(lambda: descriptors(pid) - baseline <= SLACK, 20,
                   "the node's descriptors to come back")
    finally:
        for sock in held:
            sock.close()
