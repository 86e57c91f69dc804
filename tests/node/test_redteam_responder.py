"""Red-team findings against the automatic responder (docs/redteam-fds.md), run against
stand-in nodes: real HTTP servers on 127.0.0.1 that answer what a node would, or what a
hostile node might. The responder under test is the real one (`Responder.run`, its client, its
stream reader, its journal), in a thread, stopped through its `stop` event."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest

from consensus import codec
from consensus.crypto import Signer
from node.fds.journal import Journal
from node.fds.policy import parse_policy
from node.fds.responder import Responder

CHAIN = "stoledger-redteam"
A, B = "aa" * 32, "bb" * 32
POLICY = parse_policy({"rules": [{"rule": "S1", "min_severity": "high", "scope": "trading"}]})
DEADLINE_S = 20.0


def alert(alert_id: str, height: int, accounts: list[str]) -> dict[str, Any]:
    return {"alert_id": alert_id, "rule": "S1", "severity": "high", "symbol": "APT1",
            "accounts": accounts, "heights": [height], "window": {"from_time": 0, "to_time": 1},
            "metrics": {}, "evidence": [], "explanation": "planted"}


def sse(event: str, data: Any, event_id: str | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: {json.dumps(data)}\n\n".encode()


class StandInNode:
    """A node's HTTP API as the responder uses it. `events` is what one /v1/events request
    gets (then the stream ends); `alerts` are (height, alert) pairs for /v1/audit/alerts;
    every /v1/tx is decoded and kept in `sent`, and answered committed."""

    def __init__(self, height: int, events: bytes = b"",
                 alerts: list[tuple[int, dict[str, Any]]] | None = None,
                 status: bytes | None = None) -> None:
        self.height = height
        self.events = events
        self.alerts = alerts or []
        self.status = status
        self.sent: list[dict[str, Any]] = []
        node = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                node.on_get(self)

            def do_POST(self) -> None:
                node.on_post(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def reply(self, handler: BaseHTTPRequestHandler, value: Any, raw: bytes | None = None
              ) -> None:
        body = raw if raw is not None else json.dumps(value).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def on_get(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        query = parse_qs(url.query)
        if url.path == "/v1/status":
            self.reply(handler, {"chain_id": CHAIN, "height": self.height}, self.status)
        elif url.path == "/v1/events":
            handler.send_response(200)
            handler.send_header("Content-Type", "text/event-stream")
            handler.end_headers()
            handler.wfile.write(b": connected\n\n" + self.events)
            handler.wfile.flush()
            handler.close_connection = True
        elif url.path == "/v1/audit/alerts":
            start = int(query.get("from", ["1"])[0])
            rule = query.get("rule", [None])[0]
            found = [a for h, a in self.alerts if h >= start and rule in (None, a["rule"])]
            self.reply(handler, {"alerts": found, "next_cursor": None})
        else:
            handler.send_error(404)

    def on_post(self, handler: BaseHTTPRequestHandler) -> None:
        raw = handler.rfile.read(int(handler.headers["Content-Length"]))
        envelope = json.loads(raw)
        body = codec.unpack(bytes.fromhex(envelope["body"]))
        self.sent.append(body["args"])
        self.reply(handler, {"tx_id": "00" * 32, "status": "committed", "ok": True,
                             "result": {"hold_id": len(self.sent)}, "error": None,
                             "events": []})


@pytest.fixture
def nodes() -> Iterator[list[StandInNode]]:
    started: list[StandInNode] = []
    yield started
    for node in started:
        node.close()


def network(tmp_path: Path, nodes: list[StandInNode]) -> None:
    cluster = {"chain_id": CHAIN, "nodes": [
        {"name": f"node-{index}", "role": "operator", "rpc": node.url, "pid": None}
        for index, node in enumerate(nodes)]}
    (tmp_path / "cluster.json").write_text(json.dumps(cluster))


class Running:
    """A responder in a thread; `error` is what ended it other than `stop`."""

    def __init__(self, tmp_path: Path, from_height: int | None = None) -> None:
        self.lines: list[str] = []
        journal = Journal(tmp_path)
        self.responder = Responder(tmp_path, Signer.generate(), POLICY, journal, from_height,
                                   log=self.lines.append)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.responder.run()
        except BaseException as error:  # the test reports whatever ended it
            self.error = error

    def wait(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while not condition():
            assert self.error is None, f"the responder died: {self.error!r}"
            assert time.monotonic() < deadline, f"no {what} within {DEADLINE_S} s: {self.lines}"
            time.sleep(0.05)

    def stop(self) -> None:
        self.responder.stop.set()
        self.thread.join(timeout=DEADLINE_S)
        assert not self.thread.is_alive(), "the responder did not stop"


# ---- R1: a hostile node's malformed event kills the responder -------------------------------

@pytest.mark.parametrize("payload", [
    sse("alert", {"rule": "S1", "severity": "high"}, "3.1"),  # no alert_id
    sse("alert", ["not", "a", "map"], "3.1"),
    sse("alert", {"alert_id": 7, "rule": "S1", "severity": "high", "accounts": [A]}, "3.1"),
    sse("alert", dict(alert("c1" * 32, 3, [A]), accounts="aa"), "3.1"),
    sse("block", {"height": "three"}, "3.0"),
    sse("block", {"height": 3}, "three"),
], ids=["no-id", "list", "int-id", "accounts-string", "height-text", "id-text"])
def test_a_malformed_event_loses_the_node_not_the_responder(
        tmp_path: Path, nodes: list[StandInNode], payload: bytes) -> None:
    hostile = StandInNode(height=2, events=sse("block", {"height": 3}, "3.0") + payload)
    nodes.append(hostile)
    network(tmp_path, nodes)
    running = Running(tmp_path)
    try:
        running.wait(lambda: sum("lost node-0" in line for line in running.lines) >= 2,
                     "reconnection after the malformed event")
        assert hostile.sent == []  # and nothing was signed on its say-so
    finally:
        running.stop()
    assert running.error is None


def test_a_status_that_is_not_json_loses_the_node(tmp_path: Path,
                                                    nodes: list[StandInNode]) -> None:
    nodes.append(StandInNode(height=2, status=b"<html>proxy error</html>"))
    network(tmp_path, nodes)
    running = Running(tmp_path)
    try:
        running.wait(lambda: any("lost node-0" in line for line in running.lines),
                     "a lost node")
    finally:
        running.stop()
    assert running.error is None


# ---- R2: a hostile node moves the position past alerts it never sent -------------------------

def test_a_height_jump_does_not_skip_the_alerts_of_the_next_node(
        tmp_path: Path, nodes: list[StandInNode]) -> None:
    Journal(tmp_path).save_state(CHAIN, "2.0", 2, "node-0")  # handled everything to height 2
    hostile = StandInNode(height=2, events=sse("block", {"height": 10**12}, f"{10**12}.0"))
    honest = StandInNode(height=5, alerts=[(4, alert("c4" * 32, 4, [A]))])
    third = StandInNode(height=5, alerts=[(4, alert("c4" * 32, 4, [A]))])  # confirms it
    nodes.extend([hostile, honest, third])
    network(tmp_path, nodes)
    running = Running(tmp_path)
    try:
        running.wait(lambda: honest.sent + third.sent != [], "hold for the alert at height 4")
        assert [args["account"] for args in honest.sent + third.sent] == [A]
    finally:
        running.stop()


# ---- R3: a hostile node forges an alert and the registrar's key signs the hold --------------

def test_an_alert_no_other_node_knows_is_not_acted_on(tmp_path: Path,
                                                       nodes: list[StandInNode]) -> None:
    forged = alert("f0" * 32, 3, [B])  # B is an innocent account the hostile node names
    hostile = StandInNode(height=2, events=sse("block", {"height": 3}, "3.0")
                          + sse("alert", forged, "3.1"))
    honest = StandInNode(height=3, alerts=[])
    nodes.extend([hostile, honest])
    network(tmp_path, nodes)
    running = Running(tmp_path)
    try:
        running.wait(lambda: any("node-1" in line for line in running.lines),
                     "a move to the other node")
    finally:
        running.stop()
    assert hostile.sent == [] and honest.sent == []


def test_an_alert_another_node_confirms_is_held(tmp_path: Path,
                                                nodes: list[StandInNode]) -> None:
    real = alert("c3" * 32, 3, [A])
    followed = StandInNode(height=2, events=sse("block", {"height": 3}, "3.0")
                           + sse("alert", real, "3.1"), alerts=[(3, real)])
    other = StandInNode(height=3, alerts=[(3, real)])
    nodes.extend([followed, other])
    network(tmp_path, nodes)
    running = Running(tmp_path)
    try:
        running.wait(lambda: followed.sent != [] or other.sent != [], "the hold")
    finally:
        running.stop()
    assert [args["account"] for args in followed.sent + other.sent] == [A]


# ---- R4: a pid file left by a crash names a live process that is not a responder ------------

def test_a_stale_pid_file_naming_another_live_process_does_not_block(tmp_path: Path) -> None:
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        journal = Journal(tmp_path)
        journal.dir.mkdir(parents=True)
        journal.pid_path.write_text(f"{sleeper.pid}\n")  # the pid was reused after a crash
        assert journal.running_pid() is None  # `fds status` must not say it runs
        journal.claim()
        journal.release()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_two_responders_on_one_folder_cannot_both_claim(tmp_path: Path) -> None:
    first, second = Journal(tmp_path), Journal(tmp_path)
    first.claim()
    try:
        script = ("import sys; from node.fds.journal import Journal, JournalError\n"
                  f"try:\n    Journal({str(tmp_path)!r}).claim()\nexcept JournalError:\n"
                  "    sys.exit(3)\n")
        other = subprocess.run([sys.executable, "-c", script], check=False)
        assert other.returncode == 3
    finally:
        first.release()
    second.claim()
    second.release()


# ---- R5: loading the journal holds every decision ever made in memory -----------------------

def test_loading_a_long_journal_keeps_memory_bounded(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.dir.mkdir(parents=True)
    line = json.dumps({"alert_id": "", "account": A, "scope": "all", "outcome": "held",
                       "source": "x" * 200})
    with open(journal.decisions_path, "w") as handle:
        for number in range(20_000):  # years of alerts
            handle.write(line.replace('"alert_id": ""', f'"alert_id": "{number:064x}"') + "\n")
    with mock.patch("node.fds.journal.MAX_REMEMBERED", 10):
        tracemalloc.start()
        try:
            journal.load()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert len(journal.done) == 10
    assert peak < 2 * 1024 * 1024, f"{peak} bytes to remember 10 decisions"
