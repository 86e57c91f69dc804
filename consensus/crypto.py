"""Ed25519 signing with domain separation (pure computation, no I/O).

Every signed byte string starts with a domain prefix so that a signature made for one purpose
(a transaction, a commit vote, an HTTP request, a consensus message) can never be replayed as
another. The prefixes are part of PROTOCOL.md.
"""

from __future__ import annotations

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

TX_DOMAIN = b"stoledger:tx:v1\x00"
COMMIT_DOMAIN = b"stoledger:commit:v1\x00"
HTTP_DOMAIN = b"stoledger:http:v1\x00"
CONSENSUS_DOMAIN = b"stoledger:pbft:v1\x00"
HANDSHAKE_DOMAIN = b"stoledger:p2p:v1\x00"
CHECKPOINT_DOMAIN = b"stoledger:checkpoint:v1\x00"

PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64


class Signer:
    """Holds one Ed25519 secret (a 32-byte seed) and signs with it."""

    __slots__ = ("_key", "public_key")

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise ValueError("an Ed25519 seed is 32 bytes")
        self._key = SigningKey(seed)
        self.public_key: bytes = bytes(self._key.verify_key)

    @classmethod
    def generate(cls) -> Signer:
        return cls(bytes(SigningKey.generate()))

    @property
    def seed(self) -> bytes:
        return bytes(self._key)

    @property
    def account(self) -> str:
        return self.public_key.hex()

    def sign(self, domain: bytes, message: bytes) -> bytes:
        return self._key.sign(domain + message).signature


_verify_keys: dict[bytes, VerifyKey] = {}
_VERIFY_KEY_CACHE_LIMIT = 100_000  # accounts; bounded so a flood of new senders cannot grow it


def verify(public_key: bytes, domain: bytes, message: bytes, signature: bytes) -> bool:
    """True if `signature` is `public_key`'s signature of `domain + message`."""
    if len(public_key) != PUBLIC_KEY_BYTES or len(signature) != SIGNATURE_BYTES:
        return False
    key = _verify_keys.get(public_key)
    if key is None:
        try:
            key = VerifyKey(public_key)
        except Exception:
            return False
        if len(_verify_keys) >= _VERIFY_KEY_CACHE_LIMIT:
            _verify_keys.clear()
        _verify_keys[public_key] = key
    try:
        key.verify(domain + message, signature)
    except (BadSignatureError, ValueError):
        return False
    return True
