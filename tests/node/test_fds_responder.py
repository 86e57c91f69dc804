"""The responder's parts, one module at a time: the policy file, the journal that makes it act
once per alert, account and scope across restarts, the event-stream reader, and the handling
of one alert (with a stand-in for the node's client; tests/e2e/test_fds.py runs the whole
responder against a real cluster)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from consensus.crypto import Signer
from node.fds.journal import Journal, JournalError
from node.fds.policy import (
    DEFAULT_POLICY_PATH,
    SEVERITIES,
    PolicyError,
    load_policy,
    parse_policy,
)
from node.fds.responder import Responder, describe
from node.fds.stream import MAX_EVENT_BYTES, StreamLost, _events
from node.surveillance.rules import NAMES, SEVERITY

A, B = "aa" * 32, "bb" * 32
ALERT = {"alert_id": "c1" * 32, "rule": "S1", "severity": "high", "accounts": [A, B]}


# ---- policy ----------------------------------------------------------------------------------

def test_the_default_policy_loads_and_gives_a_source_for_every_choice() -> None:
    policy = load_policy(DEFAULT_POLICY_PATH)
    assert {(r.rule, r.scope) for r in policy.rules} >= {("S1", "trading"), ("S7", "all"),
                                                          ("S9", "withdrawals")}
    for entry in policy.rules:
        assert len(entry.source) > 40, entry  # a reason, not a placeholder


def test_the_default_policy_names_rules_at_severities_they_raise() -> None:
    """Every entry is a surveillance rule that can reach its minimum severity; S8 holds an
    insider's trading and leaves an unusual position (medium) to a person; S11-S14 (which
    name a token, or judge effects an honest buyer can have) hold nobody."""
    policy = load_policy(DEFAULT_POLICY_PATH)
    for entry in policy.rules:
        assert entry.rule in NAMES, entry
        assert SEVERITIES.index(SEVERITY[entry.rule]) >= SEVERITIES.index(entry.min_severity)
    insider = dict(ALERT, rule="S8", severity="high")
    assert [scope for scope, _ in policy.scopes_for(insider)] == ["trading"]
    assert policy.scopes_for(dict(insider, severity="medium")) == []
    for rule in ("S11", "S12", "S13", "S14"):
        assert policy.scopes_for(dict(ALERT, rule=rule, severity="high")) == [], rule


def test_severity_is_a_minimum_and_each_scope_comes_once() -> None:
    policy = parse_policy({"rules": [
        {"rule": "S1", "min_severity": "medium", "scope": "trading"},
        {"rule": "S1", "min_severity": "high", "scope": "trading"},
        {"rule": "S1", "min_severity": "high", "scope": "withdrawals"},
        {"rule": "S9", "min_severity": "high", "scope": "withdrawals"}]})
    assert [scope for scope, _ in policy.scopes_for(ALERT)] == ["trading", "withdrawals"]
    assert [s for s, _ in policy.scopes_for(dict(ALERT, severity="medium"))] == ["trading"]
    assert policy.scopes_for(dict(ALERT, severity="low")) == []
    assert policy.scopes_for(dict(ALERT, rule="S9", severity="medium")) == []
    assert policy.scopes_for(dict(ALERT, severity="urgent")) == []


@pytest.mark.parametrize("value, where", [
    ([], "policy"),
    ({"rules": []}, "rules"),
    ({"rules": [], "extra": 1}, "policy"),
    ({"rules": ["S1"]}, "rules[0]"),
    ({"rules": [{"rule": "S99", "min_severity": "high", "scope": "all"}]}, "rules[0].rule"),
    ({"rules": [{"rule": "S1", "min_severity": "severe", "scope": "all"}]},
     "rules[0].min_severity"),
    ({"rules": [{"rule": "S1", "min_severity": "high", "scope": "freeze"}]}, "rules[0].scope"),
    ({"rules": [{"rule": "S1", "min_severity": "high"}]}, "rules[0].scope"),
    ({"rules": [{"rule": "S1", "min_severity": "high", "scope": "all", "why": "x"}]},
     "rules[0].why"),
    ({"rules": [{"rule": "S1", "min_severity": "high", "scope": "all", "source": 7}]},
     "rules[0].source"),
    ({"rules": [{"rule": "S1", "min_severity": "high", "scope": "all"}] * 2}, "rules[1]"),
])
def test_a_bad_policy_is_refused_naming_the_field(value: Any, where: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(value)
    assert caught.value.where == where


def test_a_policy_file_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text("{rules: S1}")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert "not JSON" in str(caught.value)


# ---- journal ---------------------------------------------------------------------------------

def decision(account: str | None, scope: str | None, outcome: str = "held") -> dict[str, Any]:
    return {"time": 1, "alert_id": ALERT["alert_id"], "rule": "S1", "severity": "high",
            "account": account, "scope": scope, "outcome": outcome, "hold_id": 1,
            "code": None, "message": None, "node": "ksd", "tx_id": "00" * 32, "source": ""}


def test_decisions_survive_a_restart_and_a_cut_line_is_not_one(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.record(decision(A, "trading"))
    with open(journal.decisions_path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(decision(B, "trading"))[:30])  # a crash mid-write
    again = Journal(tmp_path)
    again.load()
    assert again.is_done(ALERT["alert_id"], A, "trading")
    assert not again.is_done(ALERT["alert_id"], B, "trading")
    assert not again.is_done(ALERT["alert_id"], A, "withdrawals")


def test_the_position_is_written_whole(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    assert journal.state() is None
    journal.save_state("chain", "12.3", 12, "broker-a")
    assert Journal(tmp_path).state()["last_event_id"] == "12.3"  # type: ignore[index]
    journal.state_path.write_text("{not json")
    with pytest.raises(JournalError):
        journal.state()


def test_one_responder_per_folder(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.claim()
    assert journal.running_pid() == os.getpid()
    assert Journal(tmp_path).running_pid() == os.getpid()
    with pytest.raises(JournalError):
        Journal(tmp_path).claim()  # the lock is held
    journal.release()
    assert not journal.pid_path.exists() and Journal(tmp_path).running_pid() is None
    journal.pid_path.write_text("1\n")  # a file left by a crash: nobody holds its lock
    assert Journal(tmp_path).running_pid() is None
    again = Journal(tmp_path)
    again.claim()
    assert again.pid_path.read_text() == f"{os.getpid()}\n"
    again.release()


# ---- the event stream ------------------------------------------------------------------------

class Body(io.BytesIO):
    def __enter__(self) -> Body:
        return self

    def __exit__(self, *args: Any) -> None:
        self.close()


def test_events_are_read_comments_skipped_and_an_end_is_a_loss() -> None:
    body = (b": connected\n\nid: 7.0\nevent: block\ndata: {\"height\": 7}\n\n"
            b": keep-alive\n\nid: 7.1\nevent: alert\ndata: {\"rule\": \"S1\"}\n\n"
            b"event: closed\ndata: {\"reason\": \"shutdown\"}\n\n")
    events = _events(Body(body), "node")
    assert next(events) == {"id": "7.0", "event": "block", "data": {"height": 7}}
    assert next(events) == {"id": "7.1", "event": "alert", "data": {"rule": "S1"}}
    assert next(events) == {"id": None, "event": "closed", "data": {"reason": "shutdown"}}
    with pytest.raises(StreamLost):
        next(events)


def test_an_oversized_event_is_refused() -> None:
    body = b"event: block\ndata: " + b"x" * (MAX_EVENT_BYTES + 10) + b"\n\n"
    with pytest.raises(StreamLost):
        next(_events(Body(body), "node"))


# ---- handling one alert ----------------------------------------------------------------------

class StandInClient:
    """What Responder.handle uses of node.tools.client.Client: build, send, receipt. A hold on
    an account of `refuse` answers that code; otherwise hold ids count up."""

    def __init__(self, refuse: dict[str, str] | None = None) -> None:
        self.refuse = refuse or {}
        self.sent: list[dict[str, Any]] = []

    def build(self, contract: str, method: str, args: dict[str, Any],
              expires_in_ms: int = 0) -> Any:
        assert (contract, method) == ("fds", "hold") and expires_in_ms > 0
        return type("Tx", (), {"tx_id_hex": f"{len(self.sent):064x}", "args": args})()

    def send(self, tx: Any, wait: bool = True, timeout_ms: int = 0) -> dict[str, Any]:
        self.sent.append(tx.args)
        code = self.refuse.get(tx.args["account"])
        if code:
            return {"status": "committed", "ok": False,
                    "error": {"code": code, "message": "no"}}
        return {"status": "committed", "ok": True, "result": {"hold_id": len(self.sent)}}

    def receipt(self, tx_id: str) -> dict[str, Any]:  # pragma: no cover
        raise AssertionError("send answered committed")


def responder(tmp_path: Path, rules: list[dict[str, Any]]) -> Responder:
    journal = Journal(tmp_path)
    journal.load()
    return Responder(tmp_path, Signer.generate(), parse_policy({"rules": rules}), journal,
                     log=lambda line: None)


def test_an_alert_is_held_once_per_account_and_scope_across_restarts(tmp_path: Path) -> None:
    rules = [{"rule": "S1", "min_severity": "high", "scope": "trading", "source": "176(1)"},
             {"rule": "S1", "min_severity": "high", "scope": "all"}]
    client = StandInClient(refuse={B: "ALREADY_HELD"})
    first = responder(tmp_path, rules)
    first.handle(client, ALERT)  # type: ignore[arg-type]
    assert [(args["account"], args["scope"]) for args in client.sent] == [
        (A, "trading"), (B, "trading"), (A, "all"), (B, "all")]
    assert all(args["reason"] == f"alert {ALERT['alert_id']}" and
               args["alert_id"] == ALERT["alert_id"] for args in client.sent)
    outcomes = [(d["account"], d["scope"], d["outcome"], d["hold_id"])
                for d in first.journal.decisions()]
    assert outcomes == [(A, "trading", "held", 1), (B, "trading", "already_held", None),
                        (A, "all", "held", 3), (B, "all", "already_held", None)]
    again = StandInClient()
    responder(tmp_path, rules).handle(again, ALERT)  # type: ignore[arg-type]
    assert again.sent == []  # a restart reads the alert again and sends nothing


def test_refusals_and_alerts_no_entry_names_are_recorded(tmp_path: Path) -> None:
    rules = [{"rule": "S9", "min_severity": "medium", "scope": "withdrawals"}]
    client = StandInClient(refuse={A: "NOT_REGISTERED"})
    handler = responder(tmp_path, rules)
    handler.handle(client, ALERT)  # type: ignore[arg-type]
    structuring = dict(ALERT, alert_id="d9" * 32, rule="S9", severity="medium", accounts=[A])
    handler.handle(client, structuring)  # type: ignore[arg-type]
    rows = handler.journal.decisions()
    assert [(d["rule"], d["outcome"], d["code"]) for d in rows] == [
        ("S1", "no_rule", None), ("S9", "refused", "NOT_REGISTERED")]
    assert "no policy entry" in describe(rows[0])
    assert "refused NOT_REGISTERED" in describe(rows[1])
    handler.handle(client, ALERT)  # type: ignore[arg-type]
    assert len(handler.journal.decisions()) == 2  # a no_rule decision is made once too
