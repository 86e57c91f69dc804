"""`stoledger fds run|status`: the automatic responder (node/fds) that turns surveillance alerts
into holds by policy, and what it did."""

from __future__ import annotations

import argparse
import signal
from collections import deque
from pathlib import Path
from typing import Any

from node.cli.common import dir_arg, table
from node.cli.show import Names, hex_arg
from node.clock import kst_text, now_ms

POLICY_HELP = """\
The policy file is JSON:

  {"rules": [{"rule": "S1", "min_severity": "high", "scope": "trading",
              "source": "why (optional)"}, ...]}

  rule          a surveillance rule, S1, S2, ... (PROTOCOL.md, "Surveillance")
  min_severity  low < medium < high: alerts of the rule at this severity or above match
  scope         the hold placed on every account the alert names: withdrawals (no cash
                out), trading (no orders; resting ones cancelled) or all (both, and no
                token transfer out)
  source        optional text printed with each decision: the law or practice behind it

Each (alert, account, scope) is held once, across restarts: the responder keeps its
position and every decision in DIR/fds/ (state.json, decisions.jsonl), and ALREADY_HELD
makes a repeat harmless. An alert no entry matches is logged and left to a person. The
responder never releases a hold. Without --policy it uses the policy shipped with
stoledger ({default}), whose entries say where each choice comes from.

On its first run it starts at the node's current height, or reads /v1/audit/alerts from
--from-height H; afterwards it resumes from the last event it handled. It follows one node
and moves to another node of DIR when that one stops answering. KEY must read alerts and
place holds: the registrar (ksd)."""


def default_policy_path() -> Path:
    """node/fds/default_policy.json (node.fds.policy.DEFAULT_POLICY_PATH), found without
    importing the responder, so that --help stays fast."""
    import node.fds

    return Path(node.fds.__file__).with_name("default_policy.json")


def register(sub: Any) -> None:
    fds = sub.add_parser("fds", help="the automatic responder: holds on alerts, by policy")
    actions = fds.add_subparsers(dest="fds_command", required=True, metavar="ACTION")
    run = actions.add_parser(
        "run", help="follow a node's alerts and place holds by policy (foreground)",
        description="Follow the alert stream of a node of DIR and place an fds hold for each "
                    "alert the policy names, on each account the alert names.",
        epilog=POLICY_HELP.replace("{default}", str(default_policy_path())),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    dir_arg(run)
    run.add_argument("--key", default="ksd", help="the key that places the holds: an "
                     "organisation's name in DIR/keys or a key file (default %(default)s)")
    run.add_argument("--policy", default=str(default_policy_path()),
                     help="the policy file (default: the shipped one)")
    run.add_argument("--from-height", type=int, default=None, metavar="H",
                     help="on a first run, handle the alerts raised from height H on")
    run.set_defaults(func=cmd_run)
    status = actions.add_parser("status", help="what the responder did",
                                description="Print whether the responder of DIR runs, its "
                                            "position and its latest decisions.")
    dir_arg(status)
    status.add_argument("--last", type=int, default=20, help="decisions shown (default "
                        "%(default)s)")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.add_argument("--key", default="fss", help="the key that reads the accounts' names: "
                        "an organisation's name in DIR/keys or a key file (default "
                        "%(default)s)")
    hex_arg(status)
    status.set_defaults(func=cmd_status)


def _signer(directory: str, key: str) -> Any:
    from genesis.builder import ConfigError, load_keyfile

    path = Path(key)
    if not path.exists():
        path = Path(directory, "keys", f"{key}.json")
    try:
        return load_keyfile(path)
    except ConfigError as error:
        raise SystemExit(str(error)) from None


def cmd_run(args: argparse.Namespace) -> None:
    from node.fds.journal import Journal, JournalError
    from node.fds.policy import PolicyError, load_policy
    from node.fds.responder import Responder

    if not Path(args.dir, "cluster.json").exists():
        raise SystemExit(f"{args.dir}/cluster.json not found: start a cluster with "
                         f"`stoledger cluster up --dir {args.dir}`")
    try:
        policy = load_policy(args.policy)
    except (PolicyError, OSError) as error:
        raise SystemExit(f"policy {args.policy}: {error}") from None
    if args.from_height is not None and args.from_height < 1:
        raise SystemExit("--from-height must be 1 or more")
    journal = Journal(args.dir)
    try:
        journal.claim()
    except JournalError as error:
        raise SystemExit(str(error)) from None

    def log(line: str) -> None:
        print(f"{kst_text(now_ms())} {line}", flush=True)

    signer = _signer(args.dir, args.key)
    names = account_names(args.dir, args.key)

    def label(account: str) -> str:
        names.learn([account])
        return names.label(account)

    responder = Responder(Path(args.dir), signer, policy, journal, args.from_height, log,
                          label)
    def stop(*_: Any) -> None:
        # raised, not only flagged: it interrupts a read blocked on a quiet stream (a stop
        # anywhere is safe: the journal's files are written whole or ignored when cut)
        responder.stop.set()
        raise Stopped

    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, stop)
    log(f"fds responder for {args.dir}: {len(policy.rules)} policy entries from {args.policy}")
    try:
        responder.run()
    except Stopped:
        pass
    except JournalError as error:
        raise SystemExit(str(error)) from None
    finally:
        journal.release()
        log("stopped")


def account_names(directory: str, key: str, full_hex: bool = False) -> Names:
    """Names for the accounts of the responder's decisions, read with `key` (the regulator's
    or the registrar's may read every identity record) from a node of DIR when there is one;
    the keystore's names alone without."""
    from node.cli.common import client, key_path

    where = argparse.Namespace(dir=directory, node=None, key=key)
    if not Path(directory, "cluster.json").exists() or not key_path(where, key).exists():
        return Names(None, directory, full_hex)
    reader = client(where)
    return Names(reader, directory, full_hex)


class Stopped(Exception):
    """SIGINT or SIGTERM: the responder stops where it is."""


def cmd_status(args: argparse.Namespace) -> None:
    from node.cli.common import print_json
    from node.fds.journal import Journal, JournalError

    journal = Journal(args.dir)
    counts: dict[str, int] = {}
    recent: deque[dict[str, Any]] = deque(maxlen=max(0, args.last))
    try:
        state = journal.state()
        for decision in journal.each_decision():  # one at a time: the file only grows
            counts[decision["outcome"]] = counts.get(decision["outcome"], 0) + 1
            recent.append(decision)
    except JournalError as error:
        raise SystemExit(str(error)) from None
    pid = journal.running_pid()
    last = list(recent)
    if args.json:
        print_json({"running": pid is not None, "pid": pid, "state": state,
                    "counts": counts, "decisions": last})
        return
    if state is None and not counts:
        print(f"no responder has run on {args.dir} (start one with "
              f"`stoledger fds run --dir {args.dir}`)")
        return
    print(f"responder: {'running, pid ' + str(pid) if pid else 'not running'}")
    if state is not None:
        print(f"following {state['node']} · last event {state['last_event_id']} "
              f"(height {state['height']})")
    print("decisions: " + (", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
                           or "none"))
    if last:
        names = account_names(args.dir, args.key, args.hex)
        names.learn(d["account"] for d in last if d["account"])
        rows = [{"when": kst_text(d["time"]),
                 "alert": d["alert_id"][:12], "rule": d["rule"],
                 "account": names.label(d["account"]), "scope": d["scope"],
                 "outcome": d["outcome"], "hold": d["hold_id"], "code": d["code"]}
                for d in last]
        print(table(rows, ["when", "alert", "rule", "account", "scope", "outcome", "hold",
                           "code"]))
