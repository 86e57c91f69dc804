"""Reading alerts back: filters, a height range and pages, for `/v1/audit/alerts` and tools.

An alert version is listed at the height of the block that wrote it (node.surveillance.episodes:
a later version of an open alert is a row of its own, with the same `alert_id` and the next
`version`; its `evidence` is the transactions it adds, at most MAX_EVIDENCE, so a burst is
several versions of one block, `part` [i, n]; each is read back whole); the index to walk is
the most selective one given (account, then symbol, then rule, then all), the other filters are
applied to each version read. A page scans at most MAX_SCAN index entries, so a filter that
matches little cannot make one request walk the whole index; it then ends early with a
position.
"""

from __future__ import annotations

from typing import Any

from node.storage import KV
from node.storage import schema as s
from node.surveillance.episodes import ALL, read_alert

MAX_SCAN = 50_000  # index entries one page may walk
COLUMNS = ["alert_id", "version", "part", "rule", "severity", "symbol", "accounts", "from_time",
           "to_time", "height", "heights", "metrics", "evidence", "explanation", "orders",
           "trades", "price_effect", "links"]


def choose_index(rule: str | None, symbol: str | None, account: str | None) -> tuple[str, str]:
    if account is not None:
        return "acct", account
    if symbol is not None:
        return "sym", symbol
    if rule is not None:
        return "rule", rule
    return "*", ALL


def matches(alert: dict[str, Any], rule: str | None, symbol: str | None,
            account: str | None) -> bool:
    return ((rule is None or alert["rule"] == rule)
            and (symbol is None or alert["symbol"] == symbol)
            and (account is None or account in alert["accounts"]))


def read_ref(store: KV, ref: bytes) -> dict[str, Any]:
    alert_id, version = s.read_version_ref(ref)
    alert = read_alert(store.get, alert_id, version)
    assert alert is not None, "an alert index names a missing alert version"
    return alert


def list_alerts(store: KV, *, rule: str | None = None, symbol: str | None = None,
                account: str | None = None, start: tuple[int, int] = (1, 0), to: int,
                limit: int) -> tuple[list[dict[str, Any]], tuple[int, int] | None]:
    """Alert versions written at heights start[0]..to from position `start` (height, seq),
    and the position to continue from (None at the end)."""
    kind, subject = choose_index(rule, symbol, account)
    prefix = s.surv_index_prefix(kind, subject)
    begin = prefix + s.position(*start)
    stop = prefix + s.u64(to + 1)
    found: list[dict[str, Any]] = []
    for scanned, (raw, ref) in enumerate(store.iterate(prefix, start=begin, stop=stop)):
        position = s.read_position(raw)
        if len(found) == limit or scanned == MAX_SCAN:
            return found, position
        alert = read_ref(store, ref)
        if matches(alert, rule, symbol, account):
            found.append(alert)
    return found, None


def csv_row(alert: dict[str, Any]) -> dict[str, Any]:
    return dict(alert, from_time=alert["window"]["from_time"],
                to_time=alert["window"]["to_time"])


def all_alerts(store: KV) -> list[dict[str, Any]]:
    """Every alert version, in the order written (tests and the generator)."""
    return [read_ref(store, ref) for _, ref in store.iterate(s.surv_index_prefix("*", ALL))]


def latest_alerts(store: KV) -> list[dict[str, Any]]:
    """The latest version of every alert, in the order their first versions were written."""
    latest: dict[str, dict[str, Any]] = {}
    for alert in all_alerts(store):
        latest[alert["alert_id"]] = alert
    return list(latest.values())
