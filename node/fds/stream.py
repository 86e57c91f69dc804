"""A reader of a node's event stream (`GET /v1/events`, Server-Sent Events), signed, with the
standard library only.

`open_events` sends the signed request and returns an iterator of events `{"id", "event",
"data"}` (data decoded from JSON; `id` None for the final `closed` event). Comment lines (the
node's `: connected` and `: keep-alive`) are skipped. The socket read times out after
READ_TIMEOUT_S: a node keeps a quiet stream alive every 15 s, so silence that long means the
node or the path to it is gone (StreamLost). An event larger than MAX_EVENT_BYTES is refused
(StreamLost): a node's events are a few KiB.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

from consensus.crypto import Signer
from node.rpc.auth import sign_request

READ_TIMEOUT_S = 45.0  # three of the node's 15 s keep-alives
MAX_EVENT_BYTES = 1024 * 1024
MAX_LINE_BYTES = MAX_EVENT_BYTES


class StreamLost(Exception):
    """The stream ended or broke; the caller reconnects (to this node or another)."""


def open_events(url: str, chain_id: str, signer: Signer, path: str = "/v1/events?only=block"
                ) -> Iterator[dict[str, Any]]:
    """The events of the node at `url` from now on (`?only=block`: block events and, for the
    registrar or the regulator, alerts; no contract events)."""
    headers = {"Accept": "text/event-stream",
               "Authorization": sign_request(signer, chain_id, "GET", path,
                                             int(time.time() * 1000))}
    request = urllib.request.Request(url.rstrip("/") + path, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=READ_TIMEOUT_S)
    except urllib.error.HTTPError as error:
        raise StreamLost(f"{url}: HTTP {error.code}: {error.read()[:300]!r}") from None
    except OSError as error:  # refused, reset, timed out, unreachable
        raise StreamLost(f"{url}: {error}") from None
    return _events(response, url)


def _events(response: Any, url: str) -> Iterator[dict[str, Any]]:
    with response:
        fields: dict[str, str] = {}
        size = 0
        while True:
            try:
                line = response.readline(MAX_LINE_BYTES + 1)
            except OSError as error:
                raise StreamLost(f"{url}: {error}") from None
            if not line:
                raise StreamLost(f"{url}: the stream ended")
            size += len(line)
            if len(line) > MAX_LINE_BYTES or size > MAX_EVENT_BYTES:
                raise StreamLost(f"{url}: an event larger than {MAX_EVENT_BYTES} bytes")
            text = line.decode("utf-8", errors="replace").rstrip("\r\n")
            if text:
                if not text.startswith(":"):
                    name, _, value = text.partition(":")
                    fields[name] = value[1:] if value.startswith(" ") else value
                continue
            size = 0
            if "event" not in fields:
                fields = {}
                continue  # a comment block
            try:
                data = json.loads(fields.get("data", "null"))
            except ValueError:
                raise StreamLost(f"{url}: an event whose data is not JSON") from None
            yield {"id": fields.get("id"), "event": fields["event"], "data": data}
            fields = {}
