"""Reading alerts back: filters, a height range and pages, for `/v1/audit/alerts` and tools.

An alert is listed at the height of the block that raised it; the index to walk is the most
selective one given (account, then symbol, then rule, then all), the other filters are applied
to each alert read. A page scans at most MAX_SCAN index entries, so a filter that matches
little cannot make one request walk the whole index; it then ends early with a position.
"""

from __future__ import annotations

from typing import Any

from node.storage import KV
from node.storage import schema as s
from node.surveillance.indexer import ALL, read_alert

MAX_SCAN = 50_000  # index entries one page may walk
COLUMNS = ["alert_id", "rule", "severity", "symbol", "accounts", "from_time", "to_time",
           "height", "heights", "metrics", "evidence", "explanation"]


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


def list_alerts(store: KV, *, rule: str | None = None, symbol: str | None = None,
                account: str | None = None, start: tuple[int, int] = (1, 0), to: int,
                limit: int) -> tuple[list[dict[str, Any]], tuple[int, int] | None]:
    """Alerts raised at heights start[0]..to from position `start` (height, seq), and the
    position to continue from (None at the end)."""
    kind, subject = choose_index(rule, symbol, account)
    prefix = s.surv_index_prefix(kind, subject)
    begin = prefix + s.position(*start)
    stop = prefix + s.u64(to + 1)
    found: list[dict[str, Any]] = []
    for scanned, (raw, alert_id) in enumerate(store.iterate(prefix, start=begin, stop=stop)):
        position = s.read_position(raw)
        if len(found) == limit or scanned == MAX_SCAN:
            return found, position
        alert = read_alert(store, alert_id)
        assert alert is not None, "an alert index names a missing alert"
        if matches(alert, rule, symbol, account):
            found.append(alert)
    return found, None


def csv_row(alert: dict[str, Any]) -> dict[str, Any]:
    return dict(alert, from_time=alert["window"]["from_time"],
                to_time=alert["window"]["to_time"])


def all_alerts(store: KV) -> list[dict[str, Any]]:
    """Every alert, in the order raised (tests and the generator)."""
    found = []
    for _, alert_id in store.iterate(s.surv_index_prefix("*", ALL)):
        alert = read_alert(store, alert_id)
        assert alert is not None
        found.append(alert)
    return found
