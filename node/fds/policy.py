"""The responder's policy: which alerts lead to a hold, and of which scope.

The policy file is JSON:

    {"rules": [{"rule": "S1", "min_severity": "high", "scope": "trading",
                "source": "why this rule holds this scope (a law, a practice)"}, ...]}

- `rule`: a surveillance rule (S1, S2, ...: PROTOCOL.md, "Surveillance");
- `min_severity`: `low` < `medium` < `high`; an alert of that rule at this severity or above
  matches;
- `scope`: the hold placed on every account the alert names: `withdrawals`, `trading` or `all`
  (chaincode.fds);
- `source` (optional, at most MAX_SOURCE_CHARS): why; it is printed with every decision.

An alert may match several entries (say S7 holding `all`, and S7 `trading` from another
entry): each (account, scope) is held once. An alert no entry matches is logged and left to a
person. `load_policy` refuses anything else with a PolicyError that names the entry and field,
before the responder connects to anything. DEFAULT_POLICY_PATH is the policy shipped with
stoledger (`default_policy.json` beside this module).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaincode.fds import SCOPES
from node.surveillance.rules import NAMES

SEVERITIES = ("low", "medium", "high")
MAX_RULES = 64  # entries in one policy: a few per surveillance rule at most
MAX_SOURCE_CHARS = 1_000
MAX_POLICY_BYTES = 256 * 1024
DEFAULT_POLICY_PATH = Path(__file__).with_name("default_policy.json")
FIELDS = frozenset({"rule", "min_severity", "scope", "source"})


class PolicyError(ValueError):
    """A policy file the responder refuses; `where` names the entry and field."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where


@dataclass(frozen=True, slots=True)
class PolicyRule:
    rule: str
    min_severity: str
    scope: str
    source: str

    def matches(self, alert: dict[str, Any]) -> bool:
        severity = alert.get("severity")
        return (alert.get("rule") == self.rule and severity in SEVERITIES
                and SEVERITIES.index(severity) >= SEVERITIES.index(self.min_severity))


@dataclass(frozen=True, slots=True)
class Policy:
    rules: tuple[PolicyRule, ...]

    def scopes_for(self, alert: dict[str, Any]) -> list[tuple[str, PolicyRule]]:
        """(scope, the entry that asks for it) for an alert, each scope once, in policy
        order; empty when no entry matches."""
        found: dict[str, PolicyRule] = {}
        for entry in self.rules:
            if entry.matches(alert) and entry.scope not in found:
                found[entry.scope] = entry
        return list(found.items())


def parse_policy(value: Any) -> Policy:
    if not isinstance(value, dict) or set(value) != {"rules"}:
        raise PolicyError("policy", 'must be an object {"rules": [...]}')
    entries = value["rules"]
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_RULES:
        raise PolicyError("rules", f"must be a list of 1..{MAX_RULES} entries")
    rules = []
    seen = set()
    for index, entry in enumerate(entries):
        where = f"rules[{index}]"
        if not isinstance(entry, dict):
            raise PolicyError(where, "must be an object")
        unknown = sorted(set(entry) - FIELDS)
        if unknown:
            raise PolicyError(f"{where}.{unknown[0]}", f"unknown field (known: "
                              f"{', '.join(sorted(FIELDS))})")
        for name in ("rule", "min_severity", "scope"):
            if name not in entry:
                raise PolicyError(f"{where}.{name}", "missing field")
        if entry["rule"] not in NAMES:
            raise PolicyError(f"{where}.rule", f"{entry['rule']!r} is not a surveillance rule "
                              f"({', '.join(NAMES)})")
        if entry["min_severity"] not in SEVERITIES:
            raise PolicyError(f"{where}.min_severity", f"must be one of {', '.join(SEVERITIES)}")
        if entry["scope"] not in SCOPES:
            raise PolicyError(f"{where}.scope", f"must be one of {', '.join(SCOPES)}")
        source = entry.get("source", "")
        if not isinstance(source, str) or len(source) > MAX_SOURCE_CHARS:
            raise PolicyError(f"{where}.source", f"must be text of at most {MAX_SOURCE_CHARS} "
                              "characters")
        key = (entry["rule"], entry["min_severity"], entry["scope"])
        if key in seen:
            raise PolicyError(where, "repeats an earlier entry")
        seen.add(key)
        rules.append(PolicyRule(entry["rule"], entry["min_severity"], entry["scope"], source))
    return Policy(tuple(rules))


def load_policy(path: str | Path) -> Policy:
    """The policy in file `path` (PolicyError, or OSError when it cannot be read)."""
    raw = Path(path).read_bytes()
    if len(raw) > MAX_POLICY_BYTES:
        raise PolicyError("policy", f"the file is larger than {MAX_POLICY_BYTES} bytes")
    try:
        value = json.loads(raw)
    except ValueError as error:
        raise PolicyError("policy", f"not JSON: {error}") from None
    return parse_policy(value)
