"""A small synchronous client of the node's HTTP API (CLI, demo, tests). Standard library only.

    client = Client("http://127.0.0.1:7100", chain_id, signer)
    receipt = client.submit("token", "transfer", {"symbol": "SEOUL1", "to": acct, "amount": 5})
    result = client.query("token", "balance", {"symbol": "SEOUL1", "account": acct})
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import urllib.error
import urllib.request
from typing import Any

from consensus.crypto import Signer
from node.admission import tx as txmod
from node.rpc.auth import sign_request

DEFAULT_EXPIRY_MS = 10 * 60 * 1000


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


class Client:
    def __init__(self, url: str, chain_id: str, signer: Signer | None = None,
                 timeout_s: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.chain_id = chain_id
        self.signer = signer
        self.timeout_s = timeout_s

    def request(self, method: str, path: str, body: bytes | None = None, signed: bool = False,
                content_type: str = "application/json") -> tuple[int, Any]:
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        if signed:
            if self.signer is None:
                raise ValueError("a signed request needs a key")
            headers["Authorization"] = sign_request(self.signer, self.chain_id, method, path,
                                                    int(time.time() * 1000), body or b"")
        request = urllib.request.Request(self.url + path, data=body, method=method,
                                         headers=headers)
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
        body = json.dumps({"body": tx.body_bytes.hex(), "sig": tx.sig.hex()}).encode()
        path = f"/v1/tx?wait=commit&timeout_ms={timeout_ms}" if wait else "/v1/tx"
        return self.call("POST", path, body)

    def submit(self, contract: str, method: str, args: dict[str, Any], wait: bool = True) -> Any:
        return self.send(self.build(contract, method, args), wait)

    def query(self, contract: str, method: str, args: dict[str, Any]) -> Any:
        body = json.dumps({"contract": contract, "method": method, "args": args}).encode()
        return self.call("POST", "/v1/query", body, signed=True)["result"]

    def get(self, path: str, signed: bool = False) -> Any:
        return self.call("GET", path, signed=signed)

    def receipt(self, tx_id: str) -> Any:
        return self.request("GET", f"/v1/tx/{tx_id}")[1]

    def status(self) -> Any:
        return self.get("/v1/status")


def _parse(raw: bytes, headers: Any) -> Any:
    if "json" in (headers.get("Content-Type") or ""):
        return json.loads(raw)
    return raw.decode(errors="replace")
