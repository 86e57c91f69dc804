"""Signed HTTP requests (PROTOCOL.md, "Signed requests").

    Authorization: Stoledger <account>:<ts_ms>:<sig_hex>
    sig signs b"stoledger:http:v1\\x00" + chain + "\\n" + METHOD + "\\n" + path_and_query
              + "\\n" + ts_ms + "\\n" + hex(sha256(body))
"""

from __future__ import annotations

import hashlib

from consensus.crypto import HTTP_DOMAIN, Signer, verify

MAX_SKEW_MS = 60_000
SCHEME = "Stoledger"


class AuthError(Exception):
    pass


def request_bytes(chain: str, method: str, path_and_query: str, ts_ms: int, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return f"{chain}\n{method.upper()}\n{path_and_query}\n{ts_ms}\n{digest}".encode()


def sign_request(signer: Signer, chain: str, method: str, path_and_query: str, ts_ms: int,
                 body: bytes = b"") -> str:
    sig = signer.sign(HTTP_DOMAIN, request_bytes(chain, method, path_and_query, ts_ms, body))
    return f"{SCHEME} {signer.account}:{ts_ms}:{sig.hex()}"


def verify_request(header: str | None, chain: str, method: str, path_and_query: str,
                   body: bytes, now_ms: int) -> str:
    """The account that signed the request; AuthError says why not."""
    if not header:
        raise AuthError("this route needs a signed request (Authorization: Stoledger ...)")
    scheme, _, credentials = header.partition(" ")
    if scheme != SCHEME:
        raise AuthError(f"Authorization scheme must be {SCHEME}")
    parts = credentials.split(":")
    if len(parts) != 3:
        raise AuthError("Authorization is Stoledger <account>:<ts_ms>:<sig_hex>")
    account, ts_text, sig_hex = parts
    try:
        public_key = bytes.fromhex(account)
        sig = bytes.fromhex(sig_hex)
        ts_ms = int(ts_text)
    except ValueError:
        raise AuthError("account and sig are hex, ts_ms an integer") from None
    if len(public_key) != 32 or account != account.lower():
        raise AuthError("account is 64 lowercase hex characters")
    if abs(now_ms - ts_ms) > MAX_SKEW_MS:
        raise AuthError(f"ts_ms is more than {MAX_SKEW_MS // 1000} s from the node's clock")
    if not verify(public_key, HTTP_DOMAIN,
                  request_bytes(chain, method, path_and_query, ts_ms, body), sig):
        raise AuthError("bad request signature")
    return account
