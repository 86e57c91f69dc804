"""A small synchronous client of the node's HTTP API (CLI, demo, tests). Standard library only.

    client = Client("http://127.0.0.1:7100", chain_id, signer)
    receipt = client.submit("token", "transfer", {"symbol": "SEOUL1", "to": acct, "amount": 5})
    result = client.query("token", "balance", {"symbol": "SEOUL1", "account": acct})

Other nodes. Given `fallbacks` (the other nodes' URLs), a request that cannot reach a node
(connection refused, reset or timed out: the node is down or stuck) goes to the next one, and
the client stays with the node that answered; `on_switch(tried, url)` hears of the move once
a node answered (`tried`: the (url, why) of the nodes that could not be reached). That is
always safe: reads change nothing, and a transaction is a signed envelope whose id is
committed at most once, whichever node admits it. When a resent envelope meets
`duplicate` (the node that went away had admitted it), `send` waits for its receipt instead.
When no node can be reached, the request raises `NodeUnreachable`, which names each node and
why; an HTTP error answer is never retried elsewhere (the node did answer).

A stuck node (paused, or too busy to answer) still accepts connections: the kernel does, so
only the request's own timeout tells, 30 s. With fallbacks, the client therefore first asks
each node it has not heard from for `/healthz` with PROBE_TIMEOUT_S, and moves on when it
gets no answer (walkthrough red team F12: every command waited 30 s for a paused node).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

from consensus.crypto import Signer
from node.admission import tx as txmod
from node.rpc.auth import sign_request

DEFAULT_EXPIRY_MS = 10 * 60 * 1000
RECEIPT_POLL_S = 0.1  # how often `send` asks for the receipt of a resent duplicate
# What a request that never reached a node (or whose node went away) raises. HTTPError is an
# answer, not one of these: `request` returns it.
UNREACHABLE = (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError)
PROBE_TIMEOUT_S = 2.0  # a node that does not answer /healthz in this long is taken as stuck
# (a healthy node answers it at once, without touching its store, even while busy committing)


def market_origin(ip: str, device: str) -> str:
    """An order's `origin` (PROTOCOL "market"): hex sha256 of the client's IP address and
    device id as the broker saw them, so one client always gives the same value."""
    return hashlib.sha256(f"{ip}\n{device}".encode()).hexdigest()


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class NodeUnreachable(ConnectionError):
    """No node could be reached: `tried` holds (url, why) for each, in the order tried. A
    ConnectionError, as the failure of a single node was before there were fallbacks."""

    def __init__(self, tried: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{url}: {why}" for url, why in tried))
        self.tried = tried


def unreachable_reason(error: BaseException) -> str:
    """Why a request did not reach its node, in words ("connection refused", ...)."""
    reason: Any = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, TimeoutError):
        return "no answer in time"
    if isinstance(reason, (ConnectionResetError, http.client.RemoteDisconnected)):
        return "the connection was closed"
    return str(getattr(reason, "strerror", None) or reason)


class Client:
    def __init__(self, url: str, chain_id: str, signer: Signer | None = None,
                 timeout_s: float = 30.0, fallbacks: Sequence[str] = (),
                 on_switch: Callable[[list[tuple[str, str]], str], None] | None = None
                 ) -> None:
        self.url = url.rstrip("/")
        self.chain_id = chain_id
        self.signer = signer
        self.timeout_s = timeout_s
        self.fallbacks = [u.rstrip("/") for u in fallbacks if u.rstrip("/") != self.url]
        self.on_switch = on_switch
        self.switched = False  # a request of this client went to another node
        self.heard: set[str] = set()  # nodes that answered this client (no probe needed)

    def request(self, method: str, path: str, body: bytes | None = None, signed: bool = False,
                content_type: str = "application/json") -> tuple[int, Any]:
        """(status, parsed body) from this client's node, or the next one that can be
        reached (module docstring); NodeUnreachable when none can."""
        tried: list[tuple[str, str]] = []
        for url in [self.url, *(u for u in self.fallbacks if u != self.url)]:
            try:
                if self.fallbacks and url not in self.heard:
                    self._probe(url)
                answer = self._request_once(url, method, path, body, signed, content_type)
            except UNREACHABLE as error:
                tried.append((url, unreachable_reason(error)))
                continue
            self.heard.add(url)
            if tried:
                self.url, self.switched = url, True
                if self.on_switch is not None:
                    self.on_switch(tried, url)
            return answer
        raise NodeUnreachable(tried)

    def _probe(self, url: str) -> None:
        """GET /healthz with PROBE_TIMEOUT_S: raises one of UNREACHABLE when `url` is down or
        stuck; any HTTP answer will do (the node answered)."""
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=PROBE_TIMEOUT_S) as answer:
                answer.read()
        except urllib.error.HTTPError:
            pass

    def _request_once(self, url: str, method: str, path: str, body: bytes | None, signed: bool,
                      content_type: str) -> tuple[int, Any]:
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        if signed:
            if self.signer is None:
                raise ValueError("a signed request needs a key")
            headers["Authorization"] = sign_request(self.signer, self.chain_id, method, path,
                                                    int(time.time() * 1000), body or b"")
        request = urllib.request.Request(url + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return response.status, _parse(response.read(), response.headers)
        except urllib.error.HTTPError as error:
            return error.code, _parse(error.read(), error.headers)

    def call(self, method: str, path: str, body: bytes | None = None, signed: bool = False,
             content_type: str = "application/json") -> Any:
        status, value = self.request(method, path, body, signed, content_type)
        if status >= 400:
            error = value.get("error", {}) if isinstance(value, dict) else {}
            raise ApiError(status, error.get("code", "http_error"),
                           error.get("message", str(value)))
        return value

    def build(self, contract: str, method: str, args: dict[str, Any],
              expires_in_ms: int = DEFAULT_EXPIRY_MS) -> txmod.Transaction:
        if self.signer is None:
            raise ValueError("a transaction needs a key")
        nonce = int.from_bytes(os.urandom(8), "big")
        return txmod.build(self.signer, self.chain_id, contract, method, args, nonce,
                           int(time.time() * 1000) + expires_in_ms)

    def send(self, tx: txmod.Transaction, wait: bool = True, timeout_ms: int = 20_000) -> Any:
        """Submit `tx`; with `wait`, the receipt, signed for with this client's key (its
        sender's, for what `submit` builds) so that it shows the result and the events."""
        body = json.dumps({"body": tx.body_bytes.hex(), "sig": tx.sig.hex()}).encode()
        path = f"/v1/tx?wait=commit&timeout_ms={timeout_ms}" if wait else "/v1/tx"
        switched = self.switched
        try:
            return self.call("POST", path, body, signed=wait and self.signer is not None)
        except ApiError as error:
            if error.code != "duplicate" or self.switched == switched:
                raise
        # this envelope reached the node that went away: wait for its receipt here
        return self.await_receipt(tx.tx_id_hex, timeout_ms if wait else 0)

    def await_receipt(self, tx_id: str, timeout_ms: int) -> Any:
        """The receipt of `tx_id` once it is no longer pending, or as it stands at the
        deadline."""
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            receipt = self.receipt(tx_id)
            if receipt.get("status") != "pending" or time.monotonic() >= deadline:
                return receipt
            time.sleep(RECEIPT_POLL_S)

    def submit(self, contract: str, method: str, args: dict[str, Any], wait: bool = True) -> Any:
        return self.send(self.build(contract, method, args), wait)

    def query(self, contract: str, method: str, args: dict[str, Any]) -> Any:
        body = json.dumps({"contract": contract, "method": method, "args": args}).encode()
        return self.call("POST", "/v1/query", body, signed=True)["result"]

    def get(self, path: str, signed: bool = False) -> Any:
        return self.call("GET", path, signed=signed)

    def receipt(self, tx_id: str) -> Any:
        """The receipt as this client's key may see it (node.rpc.receipts); unsigned, the
        status, place and outcome only."""
        return self.request("GET", f"/v1/tx/{tx_id}", signed=self.signer is not None)[1]

    def status(self) -> Any:
        return self.get("/v1/status")


def _parse(raw: bytes, headers: Any) -> Any:
    if "json" in (headers.get("Content-Type") or ""):
        return json.loads(raw)
    return raw.decode(errors="replace")
