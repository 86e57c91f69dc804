"""What the responder believes of a node: the shape of each event and alert, and an alert's
confirmation by a second node before the registrar's key signs a hold on its say-so.

Every node may be Byzantine (DESIGN.md). The node the responder follows could send an event of
any shape, a height it never reached, or an alert it made up. So:
- `check_block` and `check_alert` take what a node sent and return it checked, or raise
  Untrusted (the responder drops that node and moves to another; it never dies of it);
- `confirm` looks the alert up at the other nodes of the folder (`/v1/audit/alerts` from the
  lowest height of its evidence, filtered by rule and by its first account): alerts are derived
  deterministically from the committed chain, so an honest node has the very same alert, field
  for field. A node that is behind is waited for, up to CONFIRM_WAIT_S. An alert that no other
  node confirms is not acted on (Untrusted). With one node in the folder there is no one to ask,
  and that node is believed.

What it cannot do: make a node send an alert it withholds. A faulty node that suppresses
alerts is found only when the responder moves to another node and catches up from its
position (the position moves only with events it checked: a block may not skip heights).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from node.tools.client import ApiError, Client

ACCOUNT = re.compile("[0-9a-f]{64}")
ALERT_ID = ACCOUNT  # a surveillance alert id is a sha256, in hex
CONFIRM_WAIT_S = 30.0  # how long a node behind the alert's height is waited for
CONFIRM_POLL_S = 0.5
CONFIRM_PAGES = 20  # pages of /v1/audit/alerts read per node while looking for one alert
CONFIRM_PAGE = 1_000


class Untrusted(Exception):
    """A node sent something the responder does not believe; it moves to another node."""


def check_height(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise Untrusted(f"{what}: {value!r} is not a height")
    return value


def event_height(event_id: Any) -> int:
    """H of an event id "H.i"."""
    if not isinstance(event_id, str):
        raise Untrusted(f"event id {event_id!r} is not text")
    height, dot, index = event_id.partition(".")
    if not (dot and height.isascii() and height.isdigit() and index.isascii()
            and index.isdigit() and len(height) <= 19):
        raise Untrusted(f"event id {event_id!r} is not H.i")
    return int(height)


def check_block(item: dict[str, Any]) -> int:
    """The height of a `block` event whose id is "H.0" and whose data says height H."""
    data = item.get("data")
    if not isinstance(data, dict):
        raise Untrusted("a block event without a data map")
    height = check_height(data.get("height"), "block event")
    if item.get("id") != f"{height}.0":
        raise Untrusted(f"block event {item.get('id')!r} for height {height}")
    return height


def check_alert(alert: Any) -> dict[str, Any]:
    """An alert with the fields the responder reads, each of the right shape."""
    if not isinstance(alert, dict):
        raise Untrusted("an alert that is not a map")
    alert_id = alert.get("alert_id")
    if not isinstance(alert_id, str) or not ALERT_ID.fullmatch(alert_id):
        raise Untrusted(f"alert id {alert_id!r} is not 64 lowercase hex")
    for name in ("rule", "severity"):
        if not isinstance(alert.get(name), str):
            raise Untrusted(f"alert {alert_id}: {name} is not text")
    accounts = alert.get("accounts")
    if (not isinstance(accounts, list) or not accounts
            or not all(isinstance(a, str) and ACCOUNT.fullmatch(a) for a in accounts)):
        raise Untrusted(f"alert {alert_id}: accounts is not a list of account ids")
    heights = alert.get("heights")
    if not isinstance(heights, list) or not heights:
        raise Untrusted(f"alert {alert_id}: no heights")
    for height in heights:
        check_height(height, f"alert {alert_id}")
    return alert


def check_alert_page(page: Any) -> tuple[list[dict[str, Any]], str | None]:
    """The alerts of one /v1/audit/alerts answer, checked, and its next cursor."""
    if not isinstance(page, dict) or not isinstance(page.get("alerts"), list):
        raise Untrusted("an alerts answer without an alerts list")
    cursor = page.get("next_cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise Untrusted("an alerts answer whose cursor is not text")
    return [check_alert(alert) for alert in page["alerts"]], cursor or None


def node_height(client: Client) -> int:
    """The height a node says it has (`/v1/status`)."""
    try:
        status = client.status()
    except (ApiError, OSError, ValueError) as error:
        raise Untrusted(f"status: {error}") from None
    if not isinstance(status, dict):
        raise Untrusted("a status that is not a map")
    return check_height(status.get("height"), "status")


def confirm(alert: dict[str, Any], raised_at: int, others: Iterable[Client],
            stop: Callable[[float], bool]) -> str | None:
    """The url of another node that has `alert`, field for field; None if none has it.
    `raised_at`: a height the alert was raised at or before (a node past it that lacks the
    alert does not have it). `stop(seconds)` waits, and says whether the responder stops."""
    others = list(others)
    raised_at = max(raised_at, *alert["heights"])
    for patience_s in (0.0, CONFIRM_WAIT_S):  # first ask each once, then wait for the slow
        for client in others:
            if _has_alert(client, alert, raised_at, stop, patience_s):
                return client.url
    return None


def _has_alert(client: Client, alert: dict[str, Any], raised_at: int,
               stop: Callable[[float], bool], patience_s: float) -> bool:
    start = min(alert["heights"])
    deadline = time.monotonic() + patience_s
    while True:
        try:
            if _find(client, alert, start):
                return True
            if node_height(client) >= raised_at:
                return False  # it has the heights, and not the alert
        except (Untrusted, ApiError, OSError, ValueError):
            pass  # an unreachable or odd node confirms nothing; try until the deadline
        if time.monotonic() >= deadline or stop(CONFIRM_POLL_S):
            return False


def _find(client: Client, alert: dict[str, Any], start: int) -> bool:
    path = (f"/v1/audit/alerts?rule={alert['rule']}&account={alert['accounts'][0]}"
            f"&from={start}&limit={CONFIRM_PAGE}")
    cursor = None
    for _ in range(CONFIRM_PAGES):
        page = client.get(path + (f"&cursor={cursor}" if cursor else ""), signed=True)
        alerts, cursor = check_alert_page(page)
        if any(found == alert for found in alerts):
            return True
        if cursor is None:
            return False
    return False
