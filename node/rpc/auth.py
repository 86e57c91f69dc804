"""Signed HTTP requests (PROTOCOL.md, "Signed requests").

    Authorization: Stoledger <account>:<ts_ms>:<sig_hex>
    sig signs b"stoledger:http:v1\\x00" + chain + "\\n" + METHOD + "\\n" + path_and_query
              + "\\n" + ts_ms + "\\n" + hex(sha256(body))
"""

from __future__ import annotations

import hashlib
import re

from consensus.crypto import HTTP_DOMAIN, Signer, verify

MAX_SKEW_MS = 60_000
SCHEME = "Stoledger"


# The whole header, exactly: the account as 64 lowercase hex characters, ts_ms as 1..19 ASCII
# digits (no sign, no "_", no spaces, no other scripts' digits, which int() would all take), the
# signature as 128 lowercase hex characters. One spelling per request, so the access log
# records a canonical account id.
HEADER = re.compile(r"Stoledger ([0-9a-f]{64}):([0-9]{1,19}):([0-9a-f]{128})")


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
    if not header.startswith(SCHEME + " "):
        raise AuthError(f"Authorization scheme must be {SCHEME}")
    match = HEADER.fullmatch(header)
    if match is None:
        raise AuthError("Authorization is Stoledger <account>:<ts_ms>:<sig_hex>: account 64 "
                        "lowercase hex characters, ts_ms ASCII digits, sig 128 lowercase hex "
                        "characters")
    account, ts_text, sig_hex = match.groups()
    public_key, ts_ms, sig = bytes.fromhex(account), int(ts_text), bytes.fromhex(sig_hex)
    if abs(now_ms - ts_ms) > MAX_SKEW_MS:
        raise AuthError(f"ts_ms is more than {MAX_SKEW_MS // 1000} s from the node's clock")
    if not verify(public_key, HTTP_DOMAIN,
                  request_bytes(chain, method, path_and_query, ts_ms, body), sig):
        raise AuthError("bad request signature")
    return account
