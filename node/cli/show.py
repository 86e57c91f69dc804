"""How the CLI writes what people read: accounts by name, counts in words, `--account` read.

Accounts. `Names.label(account)` is, in this order: the name the account's identity record
gives (the organisation of a genesis admin, or the `name` attribute its broker registered),
when the caller's key may read that record (identity.get: the account itself, its broker, the
registrar, the regulator); else the label of a key file in DIR/keys (its file name: `yoon`
for DIR/keys/yoon.json); else the first 12 hex characters and "…", as the web console writes
an account it cannot name. `--hex` writes every account as its full 64-hex id instead.

A name is free text its broker chose, so it is not trusted to be unique: an account whose name
is an organisation's (genesis.json's orgs) without being that organisation's admin, or is the
name of another account this command knows, is written with its first hex characters,
`lee (eaf355…)`, every time it appears. The organisations' own accounts keep their plain name.

Each identity record costs one signed query, asked once per command for the accounts of the
rows it prints (`learn`), at most MAX_LOOKUPS of them; the rest are named from the keystore
alone. Times and durations: node.clock (KST with the zone, like the console).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

MAX_LOOKUPS = 200  # identity queries one command may make to name accounts: ~1 ms each on
# loopback, so a 1,000-row page does not wait seconds for names (the rest show keystore or hex)
SHORT_HEX = 12  # the hex characters of an account shown when it has no name (the console's)
ACCOUNT_IN_TEXT = re.compile(r"\b[0-9a-f]{64}\b")
TELL_APART_HEX = 6  # the hex characters after a name that is not unique: `lee (eaf355…)`


def count(n: int, noun: str, plural: str | None = None) -> str:
    """`1 alert`, `2 alerts`, `0 holders`."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def short_hex(account: str) -> str:
    return account[:SHORT_HEX] + "…" if len(account) > SHORT_HEX else account


def hex_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hex", action="store_true",
                        help="write accounts as their 64-hex ids instead of names")


def keystore_labels(directory: str | None) -> dict[str, str]:
    """account -> the file name of each readable key file in DIR/keys."""
    labels: dict[str, str] = {}
    if not directory or not Path(directory, "keys").is_dir():
        return labels
    for path in sorted(Path(directory, "keys").glob("*.json")):
        try:
            account = json.loads(path.read_text(encoding="utf-8")).get("account")
        except (OSError, ValueError, AttributeError):
            continue  # not a key file: it names nobody
        if isinstance(account, str):
            labels.setdefault(account, path.stem)
    return labels


def identity_name(record: Any) -> str | None:
    """The name an identity record gives its account, if any."""
    if not isinstance(record, dict):
        return None
    attrs = record.get("attrs") or {}
    name = record.get("org") or (attrs.get("name") if isinstance(attrs, dict) else None)
    return name if isinstance(name, str) and name else None


def org_accounts(directory: str | None) -> dict[str, str]:
    """organisation name -> its admin account, from DIR/genesis.json (none without it)."""
    try:
        orgs = json.loads(Path(directory or "", "genesis.json").read_text())["orgs"]
        return {str(org["name"]): str(org["account"]) for org in orgs}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


class Names:
    """Account labels for one command (module docstring)."""

    def __init__(self, client: Any, directory: str | None, full_hex: bool = False) -> None:
        self.client = client
        self.full_hex = full_hex
        self.keystore = keystore_labels(directory)
        self.orgs = org_accounts(directory)
        self.records: dict[str, str | None] = {}

    def learn(self, accounts: Any) -> None:
        """Ask for the identity records of `accounts` not asked for yet (within the bound)."""
        from chaincode.runtime import is_account
        from node.tools.client import ApiError, NodeUnreachable

        if self.full_hex or self.client is None or self.client.signer is None:
            return
        for account in accounts:
            if (not is_account(account) or account in self.records
                    or len(self.records) >= MAX_LOOKUPS):
                continue
            try:
                record = self.client.query("identity", "get", {"account": account})
            except ApiError:  # forbidden for this key, or not registered: no name from it
                record = None
            except NodeUnreachable:  # no node to ask: the keystore names what it can
                return
            self.records[account] = identity_name(record)
            if isinstance(record, dict) and isinstance(record.get("org"), str):
                self.orgs.setdefault(record["org"], account)

    def name(self, account: str) -> str | None:
        """The account's name as its record or the keystore gives it, not told apart."""
        return self.records.get(account) or self.keystore.get(account)

    def label(self, account: str | None) -> str:
        if not account:
            return "-"
        if self.full_hex:
            return account
        name = self.name(account)
        if name is None:
            return short_hex(account)
        if self.is_shared(account, name):
            return f"{name} ({account[:TELL_APART_HEX]}…)"
        return name

    def is_shared(self, account: str, name: str) -> bool:
        """Whether `name` may mean someone else: an organisation's name on another account,
        or the name of another account this command knows."""
        if name in self.orgs:
            return self.orgs[name] != account
        known = set(self.records) | set(self.keystore)
        return any(other != account and self.name(other) == name for other in known)

    def in_words(self, text: str) -> str:
        """`text` (a refusal's message) with each account id in it written as its label."""
        found = ACCOUNT_IN_TEXT.findall(text)
        self.learn(found)
        return ACCOUNT_IN_TEXT.sub(lambda match: self.label(match.group(0)), text)

    def named_in(self, text: str, accounts: list[str]) -> str:
        """`text` with each account's 12-hex prefix written as its label (alert
        explanations name accounts by that prefix)."""
        for account in accounts:
            label = self.label(account)
            if label != short_hex(account):
                text = text.replace(account[:SHORT_HEX], label)
        return text


def account_arg(args: argparse.Namespace, text: str, option: str = "--account") -> str:
    """An account given as its 64-hex id, a key file, a key's name in DIR/keys, or a name
    the identity records give (what the tables print: `kim`), looked up with --key on the
    node (GET /v1/audit/accounts, the regulator's and the registrar's). A name several
    accounts share is refused, listing them: a name is free text, never unique."""
    from chaincode.runtime import is_account
    from node.cli.common import key_path, load_key

    if is_account(text):
        return text
    if key_path(args, text).exists():
        return str(load_key(args, text).account)
    return account_named(args, text, option)


def account_named(args: argparse.Namespace, text: str, option: str) -> str:
    from urllib.parse import quote

    from node.cli.common import client
    from node.tools.client import ApiError

    keys = f", a key name in {Path(args.dir, 'keys')}" if args.dir else ""
    neither = f"{option} {text!r} is not an account id (64 lowercase hex), a key file{keys}"
    if not getattr(args, "key", None):
        raise SystemExit(neither)
    try:
        page = client(args).get(f"/v1/audit/accounts?name={quote(text)}", signed=True)
    except ApiError as error:
        if error.status == 403:
            raise SystemExit(f"{neither}; a name from the identity records is looked up with "
                             "the regulator's or the registrar's key (--key fss or ksd)"
                             ) from None
        raise SystemExit(f"{neither}, and the name look-up was refused: {error}") from None
    accounts = page["accounts"]
    if not accounts:
        raise SystemExit(f"{neither}, nor a name in the identity records")
    if len(accounts) > 1:
        listed = "; ".join(f"{a['account']} ({a['role']}, {a['status']})" for a in accounts)
        raise SystemExit(f"{option} {text!r} is the name of {len(accounts)} accounts: {listed}"
                         f"{'' if page['complete'] else ' and more'}; give the account id")
    return str(accounts[0]["account"])
