"""The responder's loop: follow one node's alerts and place the holds the policy names.

How it works.
1. Connect to a node of the network folder (the one it followed last, else the first) and
   open its event stream live (`/v1/events?only=block`: block events and alerts).
2. Catch up: alerts are not replayed on a resumed stream (PROTOCOL.md, "Events"), so the alerts
   raised since the last position are read from `/v1/audit/alerts?from=H` (H: the height of the
   last event handled, or `--from-height`, or, on a first run without it, nothing: the
   responder starts at the node's current height). The stream was opened first, so nothing
   falls between the two; an alert seen both ways is handled once.
3. Follow the stream: a `block` event moves the position (saved atomically), an `alert` is
   handled. A `closed` event, an error or READ_TIMEOUT_S of silence loses the node: the
   responder moves to the next node of the folder and starts again at step 1, after a pause
   that grows from RETRY_MIN_S to RETRY_MAX_S while no node answers.
4. Believe nothing unchecked (node.fds.evidence): an event or answer of the wrong shape, a
   block that skips heights, or an alert no other node of the folder confirms loses the node
   (Untrusted) like an error does; the responder never dies of what a node sends, never moves
   its position past heights it was not shown, and never signs a hold on one node's word.

Handling an alert: for each scope the policy gives it and each account it names, once per
(alert, account, scope) across restarts (node.fds.journal): send `fds.hold(account, scope,
"alert <id>", <id>)` signed with the responder's key, wait for the receipt, and record the
decision (`held`, `already_held`, `refused` with the code) before going on. ALREADY_HELD makes
a repeat after a crash harmless; the journal makes it not happen after a release. An alert no
entry matches is recorded as `no_rule`.

What it may not do: act on anything but an alert its policy names, or hold an account the
alert does not name. It never releases a hold: a person does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consensus.crypto import Signer
from node.fds.evidence import (
    Untrusted,
    check_alert,
    check_alert_page,
    check_block,
    confirm,
    event_height,
    node_height,
)
from node.fds.journal import Journal
from node.fds.policy import Policy
from node.fds.stream import StreamLost, open_events
from node.tools.client import ApiError, Client
from node.tools.cluster import read_cluster

RETRY_MIN_S = 0.5
RETRY_MAX_S = 5.0
HOLD_EXPIRY_MS = 60_000  # a hold transaction that did not commit in a minute is gone: re-sent
RECEIPT_WAIT_S = 90.0  # how long a hold's receipt is waited for before the node is given up
ALERT_PAGE = 1_000  # alerts per /v1/audit/alerts page while catching up
SAVE_EVERY_S = 1.0  # block events move the position on disk at most this often

Log = Callable[[str], None]


def short_account(account: str) -> str:
    """An account in the log when no one names it: its first 12 hex characters."""
    return account[:12] + "…"


class NodeLost(Exception):
    """The node being followed stopped answering; the loop moves to another."""


@dataclass
class Responder:
    net_dir: Path
    signer: Signer
    policy: Policy
    journal: Journal
    from_height: int | None = None
    log: Log = print
    label: Callable[[str], str] = short_account  # an account as the log writes it (a name)
    stop: threading.Event = field(default_factory=threading.Event)
    chain_id: str = ""
    node: str = ""  # the name of the node followed
    position: tuple[int, str] | None = None  # (height, event id) of the last event handled
    others: list[Client] = field(default_factory=list)  # the nodes that confirm an alert
    _saved_at: float = 0.0

    def run(self) -> None:
        """Follow the network's alerts until `stop` is set."""
        cluster = read_cluster(self.net_dir)
        self.chain_id = cluster["chain_id"]
        state = self.journal.state()
        if state is not None:
            if state.get("chain_id") != self.chain_id:
                raise SystemExit(f"{self.journal.state_path} belongs to chain "
                                 f"{state.get('chain_id')}, not {self.chain_id}")
            self.position = (state["height"], state["last_event_id"])
            self.node = state.get("node", "")
        self.journal.load()
        pause = RETRY_MIN_S
        while not self.stop.is_set():
            nodes = [node for node in read_cluster(self.net_dir)["nodes"]]
            for node in _rotation(nodes, self.node):
                if self.stop.is_set():
                    return
                others = [other["rpc"] for other in nodes if other["name"] != node["name"]]
                try:
                    self._follow(node["name"], node["rpc"], others)
                except (NodeLost, StreamLost, Untrusted) as error:
                    self.log(f"lost {node['name']}: {error}")
                    continue
                return  # stopped
            self.stop.wait(pause)
            pause = min(RETRY_MAX_S, pause * 2)

    def _follow(self, name: str, url: str, others: list[str]) -> None:
        client = Client(url, self.chain_id, self.signer, timeout_s=30.0)
        self.others = [Client(other, self.chain_id, self.signer, timeout_s=30.0)
                       for other in others]
        events = open_events(url, self.chain_id, self.signer)
        self.node = name
        self.log(f"following {name} ({url})")
        self._catch_up(client)
        self._consume(client, events)

    def _consume(self, client: Client, events: Iterator[dict[str, Any]]) -> None:
        """Handle the stream's events until `stop` (NodeLost, Untrusted: drop this node)."""
        for item in events:
            if self.stop.is_set():
                self._save(force=True)
                return
            if item["event"] == "closed":
                data = item["data"]
                raise NodeLost(f"stream closed: "
                               f"{data.get('reason') if isinstance(data, dict) else data!r}")
            if item["event"] == "block":
                self._advance(check_block(item), item["id"])
            elif item["event"] == "alert":
                height = event_height(item["id"])
                if self.position is not None and height > self.position[0]:
                    raise Untrusted(f"alert {item['id']} ahead of its block")
                self.handle(client, check_alert(item["data"]), raised_at=height)
                if self.position is None or height >= self.position[0]:
                    self.position = (height, item["id"])
                self._save(force=True)

    def _advance(self, height: int, event_id: str) -> None:
        """A block event: the position moves one height at a time (never back, never past a
        height the node did not show)."""
        if self.position is not None and height > self.position[0] + 1:
            raise Untrusted(f"block {height} right after {self.position[0]}: heights skipped")
        if self.position is None or height > self.position[0]:
            self.position = (height, event_id)
            self._save()

    def _catch_up(self, client: Client) -> None:
        """The alerts raised from the last position (inclusive) up to now."""
        height = node_height(client)
        if self.position is None:
            if self.from_height is None:  # a first run: from now on
                self.position = (height, f"{height}.0")
                self._save(force=True)
                return
            self.position = (max(0, self.from_height - 1), f"{max(0, self.from_height - 1)}.0")
        start = max(1, self.position[0])
        if height < start:
            raise NodeLost(f"at height {height}, behind the position {start}")
        count = 0
        for alert in self._alerts_from(client, start):
            self.handle(client, alert)
            count += 1
        self.log(f"caught up from height {start}: {count} alert{'' if count == 1 else 's'} "
                 "read")
        if height > self.position[0]:
            self.position = (height, f"{height}.0")
        self._save(force=True)

    def _alerts_from(self, client: Client, start: int) -> Iterator[dict[str, Any]]:
        cursor = None
        while True:
            path = f"/v1/audit/alerts?from={start}&limit={ALERT_PAGE}"
            if cursor is not None:
                path += f"&cursor={cursor}"
            try:
                page = client.get(path, signed=True)
            except (ApiError, OSError, ValueError) as error:
                raise NodeLost(f"reading alerts: {error}") from None
            alerts, cursor = check_alert_page(page)
            yield from alerts
            if cursor is None:
                return

    # ---- one alert ---------------------------------------------------------------------------

    def handle(self, client: Client, alert: dict[str, Any], raised_at: int = 0) -> None:
        """Act on one checked alert (`raised_at`: the height of its event, 0 if unknown)."""
        alert_id = str(alert["alert_id"])
        scopes = self.policy.scopes_for(alert)
        if not scopes:
            if not self.journal.is_done(alert_id, None, None):
                self._decide(alert, None, None, "no_rule", source="")
            return
        todo = [(scope, entry, account) for scope, entry in scopes
                for account in alert["accounts"]
                if not self.journal.is_done(alert_id, account, scope)]
        if todo and self.others and confirm(alert, raised_at, self.others,
                                            self.stop.wait) is None:
            raise Untrusted(f"alert {alert_id}: no other node has it")
        for scope, entry, account in todo:
            self._hold(client, alert, account, scope, entry.source)

    def _hold(self, client: Client, alert: dict[str, Any], account: str, scope: str,
              source: str) -> None:
        alert_id = alert["alert_id"]
        tx = client.build("fds", "hold", {"account": account, "scope": scope,
                                          "reason": f"alert {alert_id}", "alert_id": alert_id},
                          expires_in_ms=HOLD_EXPIRY_MS)
        receipt = self._commit(client, tx)
        if receipt.get("ok"):
            result = receipt.get("result")
            if not isinstance(result, dict) or not isinstance(result.get("hold_id"), int):
                raise Untrusted(f"a receipt of hold {tx.tx_id_hex} without a hold id")
            self._decide(alert, account, scope, "held", source, tx.tx_id_hex,
                         hold_id=result["hold_id"])
            return
        error = receipt.get("error")
        error = error if isinstance(error, dict) else {}
        code = str(error.get("code", "UNKNOWN"))
        outcome = "already_held" if code == "ALREADY_HELD" else "refused"
        self._decide(alert, account, scope, outcome, source, tx.tx_id_hex, code=code,
                     message=error.get("message"))

    def _commit(self, client: Client, tx: Any) -> dict[str, Any]:
        """The committed receipt of `tx`; NodeLost if it cannot be had from this node (the
        decision is not recorded, so the alert is handled again, and ALREADY_HELD answers if
        the hold had committed after all)."""
        deadline = time.monotonic() + RECEIPT_WAIT_S
        try:
            answer = client.send(tx, wait=True, timeout_ms=20_000)
            while _status(answer) != "committed":
                if _status(answer) == "expired" or time.monotonic() > deadline:
                    raise NodeLost(f"hold {tx.tx_id_hex} did not commit "
                                   f"({_status(answer)})")
                if self.stop.wait(0.5):
                    raise NodeLost("stopping")
                answer = client.receipt(tx.tx_id_hex)
        except (ApiError, OSError, ValueError) as error:
            raise NodeLost(f"sending hold: {error}") from None
        return answer  # type: ignore[no-any-return]

    def _decide(self, alert: dict[str, Any], account: str | None, scope: str | None,
                outcome: str, source: str, tx_id: str | None = None,
                hold_id: int | None = None, code: str | None = None,
                message: str | None = None) -> None:
        decision = {"time": int(time.time() * 1000), "alert_id": alert["alert_id"],
                    "rule": alert.get("rule"), "severity": alert.get("severity"),
                    "account": account, "scope": scope, "outcome": outcome,
                    "hold_id": hold_id, "code": code, "message": message, "node": self.node,
                    "tx_id": tx_id, "source": source}
        self.journal.record(decision)
        self.log(describe(decision, self.label))

    def _save(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.position is None or (not force and now - self._saved_at < SAVE_EVERY_S):
            return
        self.journal.save_state(self.chain_id, self.position[1], self.position[0], self.node)
        self._saved_at = now


def describe(decision: dict[str, Any], label: Callable[[str], str] = short_account) -> str:
    """One line of the log for a decision, its account written by `label`."""
    head = f"alert {decision['alert_id'][:12]} {decision['rule']} ({decision['severity']})"
    if decision["outcome"] == "no_rule":
        return f"{head}: no policy entry; left to a person"
    target = f"{decision['scope']} hold on {label(decision['account'])}"
    if decision["outcome"] == "held":
        return f"{head}: {target} placed, hold {decision['hold_id']} (tx {decision['tx_id'][:12]})"
    if decision["outcome"] == "already_held":
        return f"{head}: {target} already active (ALREADY_HELD)"
    return f"{head}: {target} refused {decision['code']}: {decision['message']}"


def _rotation(nodes: list[dict[str, Any]], first: str) -> list[dict[str, Any]]:
    """The nodes, starting with `first` (the one followed last) and going round."""
    names = [node["name"] for node in nodes]
    start = names.index(first) if first in names else 0
    return nodes[start:] + nodes[:start]


def _status(answer: Any) -> Any:
    """The status of a receipt; a node answering something else than a receipt is lost."""
    if not isinstance(answer, dict):
        raise Untrusted("an answer that is not a receipt")
    return answer.get("status")
