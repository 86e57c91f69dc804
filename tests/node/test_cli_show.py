"""What people read in the CLI (node.cli.show, node.clock): names for accounts, KST times with
the zone, durations in units, counts in words; the console writes the same (i18n.js)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from node.cli.audit import render_alerts
from node.cli.show import MAX_LOOKUPS, Names, count
from node.clock import duration_text, kst_text
from node.tools.client import ApiError

CONSOLE = Path(__file__).resolve().parents[2] / "node" / "console" / "static"
KIM, LEE, YOON, STRANGER = ("a1" * 32, "b2" * 32, "c3" * 32, "d4" * 32)


def test_times_are_kst_with_the_zone_and_durations_are_units() -> None:
    assert kst_text(1_796_615_194_847) == "2026-12-07 12:46:34 KST"  # 03:46:34 UTC
    assert kst_text(0) == "1970-01-01 09:00:00 KST"
    assert [duration_text(ms) for ms in (86_400_000, 90_000, 94, 0, 93_600_005, -1_000)] == [
        "1 d", "1 min 30 s", "94 ms", "0 ms", "1 d 2 h 5 ms", "-1 s"]


def test_the_console_writes_durations_with_the_same_units() -> None:
    """i18n.js's duration() is a copy of duration_text: same units, same order."""
    source = (CONSOLE / "i18n.js").read_text(encoding="utf-8")
    units = re.search(r"const UNITS = \[(.*?)\];", source).group(1)  # type: ignore[union-attr]
    pairs = re.findall(r'\["(\w+)", ([\d_]+)\]', units)
    from node.clock import DURATION_UNITS

    assert [(u, int(n.replace("_", ""))) for u, n in pairs] == list(DURATION_UNITS)
    assert 'timeZone: "Asia/Seoul"' in source and "KST`" in source


def test_counts_are_words() -> None:
    assert [count(1, "alert"), count(2, "alert"), count(0, "holder"),
            count(1_000, "transaction")] == ["1 alert", "2 alerts", "0 holders",
                                               "1,000 transactions"]


class Records:
    """A client whose signer may read some identity records."""

    signer = object()

    def __init__(self, records: dict[str, Any]) -> None:
        self.records = records
        self.asked: list[str] = []

    def query(self, contract: str, method: str, args: dict[str, Any]) -> Any:
        assert (contract, method) == ("identity", "get")
        self.asked.append(args["account"])
        if args["account"] not in self.records:
            raise ApiError(403, "forbidden", "not yours to read")
        return self.records[args["account"]]


def keystore(tmp_path: Path, labels: dict[str, str]) -> str:
    (tmp_path / "keys").mkdir()
    for label, account in labels.items():
        (tmp_path / "keys" / f"{label}.json").write_text(json.dumps({"account": account,
                                                                      "secret": "00" * 32}))
    (tmp_path / "keys" / "notes.json").write_text("[1, 2]")  # not a key: names nobody
    return str(tmp_path)


def test_a_name_comes_from_the_record_then_the_keystore_then_12_hex(tmp_path: Path) -> None:
    client = Records({KIM: {"attrs": {"name": "kim"}}, LEE: {"org": None, "attrs": {}}})
    names = Names(client, keystore(tmp_path, {"yoon": YOON, "lee-key": LEE}))
    names.learn([KIM, LEE, YOON, STRANGER, KIM, "not-an-account"])
    assert client.asked == [KIM, LEE, YOON, STRANGER]  # each once
    assert [names.label(a) for a in (KIM, LEE, YOON, STRANGER)] == [
        "kim", "lee-key", "yoon", STRANGER[:12] + "…"]
    assert Names(client, None, full_hex=True).label(KIM) == KIM


def test_names_ask_for_at_most_max_lookups_records() -> None:
    client = Records({})
    names = Names(client, None)
    names.learn(f"{i:064x}" for i in range(MAX_LOOKUPS + 50))
    assert len(client.asked) == MAX_LOOKUPS


def test_an_alert_reads_with_names_times_and_durations() -> None:
    client = Records({KIM: {"attrs": {"name": "kim"}}, LEE: {"org": "broker-a"}})
    names = Names(client, None)
    page = {"as_of": {"height": 48, "block_hash": "ab" * 32}, "from": 1, "to": 48,
            "alerts": [{
                "alert_id": "ef" * 32, "rule": "S1", "name": "wash trade", "severity": "high",
                "symbol": "SEOUL1", "accounts": [KIM, LEE], "height": 48,
                "window": {"from_time": 1_796_615_194_847, "to_time": 1_796_615_194_941},
                "explanation": f"1 trade between {KIM[:12]} and {LEE[:12]} within 1 d.",
                "metrics": {"link_window_ms": 86_400_000, "trades": 1},
                "heights": [47, 48], "evidence": ["01" * 32, "02" * 32]}]}
    names.learn([KIM, LEE])
    text = render_alerts([page], names)
    assert text.startswith("1 alert, heights 1..48")
    assert "window 2026-12-07 12:46:34 KST .. 2026-12-07 12:46:34 KST (94 ms)" in text
    assert "1 trade between kim and broker-a within 1 d." in text
    assert "accounts: kim, broker-a" in text
    assert "link_window_ms=1 d, trades=1" in text
    assert "86400000" not in text and "1796615194" not in text


def test_tx_and_query_help_name_every_contract_of_the_registry(capsys) -> None:
    import pytest

    import chaincode
    from node.cli import main

    contracts = list(chaincode.builtin_registry().contracts)
    assert "market" in contracts
    for command in (["tx", "submit"], ["tx", "sign"], ["query"]):
        with pytest.raises(SystemExit):
            main([*command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert f"one of {', '.join(contracts)}" in text, command


def test_a_name_that_is_not_unique_is_told_apart_by_its_hex(tmp_path: Path) -> None:
    """A broker chooses its investor's name: one named after an organisation, or two named
    alike, are written with their first hex characters; the organisation's own account and a
    unique name stay plain (walkthrough red team F4)."""
    ksd, fake_ksd, other_lee = "e5" * 32, "f6" * 32, "07" * 32
    (tmp_path / "genesis.json").write_text(json.dumps(
        {"orgs": [{"name": "ksd", "role": "registrar", "account": ksd}]}))
    client = Records({KIM: {"attrs": {"name": "kim"}}, LEE: {"attrs": {"name": "lee"}},
                      other_lee: {"attrs": {"name": "lee"}}, ksd: {"org": "ksd"},
                      fake_ksd: {"attrs": {"name": "ksd"}}})
    names = Names(client, str(tmp_path))
    names.learn([KIM, LEE, other_lee, ksd, fake_ksd])
    assert [names.label(a) for a in (KIM, LEE, other_lee, ksd, fake_ksd)] == [
        "kim", "lee (b2b2b2…)", "lee (070707…)", "ksd", "ksd (f6f6f6…)"]


UI_SCRIPT = """
globalThis.location = { origin: "http://127.0.0.1" };
globalThis.localStorage = { getItem: () => null, setItem: () => {} };
const { session } = await import(%(api)s);
const { label, learnNames } = await import(%(ui)s);
const records = %(records)s;
globalThis.fetch = async (path, request) => {
  const { args } = JSON.parse(new TextDecoder().decode(request.body));
  return new Response(JSON.stringify({ result: records[args.account] }),
                      { headers: { "Content-Type": "application/json" } });
};
const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign"]);
session.key = { account: "99".repeat(32), privateKey: pair.privateKey };
session.chainId = "chain-x";
session.genesis = %(genesis)s;
await learnNames(%(accounts)s);
console.log(JSON.stringify(%(accounts)s.map(label)));
"""


def test_the_console_tells_names_apart_as_the_cli_does() -> None:
    import shutil
    import subprocess

    node = shutil.which("node") or shutil.which("nodejs")
    assert node is not None, "Node.js runs the console's label() here (apt-get install nodejs)"
    ksd, fake_ksd, other_lee = "e5" * 32, "f6" * 32, "07" * 32
    records = {KIM: {"attrs": {"name": "kim"}}, LEE: {"attrs": {"name": "lee"}},
               other_lee: {"attrs": {"name": "lee"}}, fake_ksd: {"attrs": {"name": "ksd"}}}
    accounts = [KIM, LEE, other_lee, ksd, fake_ksd]
    script = UI_SCRIPT % {
        "api": json.dumps((CONSOLE / "api.js").resolve().as_uri()),
        "ui": json.dumps((CONSOLE / "ui.js").resolve().as_uri()),
        "records": json.dumps(records), "accounts": json.dumps(accounts),
        "genesis": json.dumps({"orgs": [{"name": "ksd", "account": ksd}]})}
    done = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["kim", "lee (b2b2b2…)", "lee (070707…)", "ksd",
                                       "ksd (f6f6f6…)"]


def test_every_audit_route_says_which_of_its_fields_are_accounts() -> None:
    """The accounts a table prints are the ones asked for names (accounts_in): a route left
    out printed its accounts as hex (`audit offerings`, walkthrough red team F12)."""
    import argparse

    from node.cli import build_parser
    from node.cli.audit import ACCOUNT_FIELDS, accounts_in, render

    audit = next(a for a in build_parser()._actions
                 if isinstance(a, argparse._SubParsersAction)).choices["audit"]
    routes = set(next(a for a in audit._actions
                      if isinstance(a, argparse._SubParsersAction)).choices) - {"verify"}
    assert routes == set(ACCOUNT_FIELDS)
    page = {"as_of": {"height": 9, "block_hash": "ab" * 32}, "symbol": "BUSAN1",
            "offerings": [], "next_cursor": None, "subscriptions": [
                {"offering_id": 1, "account": KIM, "broker": LEE, "qty": 5, "equal": 1,
                 "pro_rata": 1, "allocated": 2, "refunded": 0, "status": "allocated",
                 "code": None}]}
    assert accounts_in("offerings", [page]) == [KIM, LEE]
    names = Names(Records({KIM: {"attrs": {"name": "kim"}}, LEE: {"org": "broker-a"}}), None)
    names.learn(accounts_in("offerings", [page]))
    assert "kim" in render("offerings", [page], names).splitlines()[-1]
    assert "broker-a" in render("offerings", [page], names).splitlines()[-1]


def test_fds_status_and_the_responder_log_write_kst_and_names(tmp_path: Path, capsys) -> None:
    """`fds status` and `fds run`'s decision lines go through node.clock and Names like every
    other command (walkthrough red team F2: host-local times without a zone, 12-hex)."""
    from node.cli import main
    from node.fds.journal import Journal
    from node.fds.responder import describe

    directory = keystore(tmp_path, {"hanbit": KIM})
    decision = {"time": 1_796_615_194_847, "alert_id": "ef" * 32, "rule": "S1",
                "severity": "high", "account": KIM, "scope": "trading", "outcome": "held",
                "hold_id": 1, "code": None, "message": None, "node": "ksd", "tx_id": "01" * 32,
                "source": None}
    Journal(directory).record(decision)
    main(["fds", "status", "--dir", directory])
    row = capsys.readouterr().out.splitlines()[-1]
    assert row.startswith("2026-12-07 12:46:34 KST") and " hanbit " in row, row
    assert KIM[:12] not in row
    names = Names(None, directory)
    assert "trading hold on hanbit placed" in describe(decision, names.label)


def test_a_refusal_names_the_accounts_it_mentions(tmp_path: Path) -> None:
    """`NOT_YOUR_CLIENT: <64 hex> is not an investor this broker registered` reads with the
    name the keystore or the identity record gives (walkthrough red team F6)."""
    names = Names(Records({}), keystore(tmp_path, {"seo": YOON}))
    said = names.in_words(f"{YOON} is not an investor this broker registered; {STRANGER} "
                          "neither")
    assert said == f"seo is not an investor this broker registered; {STRANGER[:12]}… neither"
