"""PII at rest: Fernet encryption and an HMAC blind index, both keyed from PII_KEY."""
import base64
import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


def _key_bytes(key: str | None = None) -> bytes:
    key = key or current_app.config["PII_KEY"]
    if not key:
        raise RuntimeError("PII_KEY is not configured")
    return key.encode()


def _subkey(purpose: bytes, key: str | None = None) -> bytes:
    # Separate keys for encryption and indexing, so one leaking does not give the other.
    return _derive(purpose, _key_bytes(key))


@lru_cache(maxsize=16)
def _derive(purpose: bytes, key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(key)


def fernet(key: str | None = None) -> Fernet:
    """The Fernet instance for PII_KEY (a urlsafe base64 32-byte key, or any secret string)."""
    return _fernet(_subkey(b"hwr-pii-encryption", key))


@lru_cache(maxsize=16)
def _fernet(subkey: bytes) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(subkey))


def encrypt(value: str, key: str | None = None) -> str:
    """Encrypt a PII string for storage."""
    return fernet(key).encrypt(value.encode()).decode()


def decrypt(token: str, key: str | None = None) -> str:
    """Decrypt a stored PII string."""
    return fernet(key).decrypt(token.encode()).decode()


def blind_index(value: str, key: str | None = None) -> str:
    """Deterministic HMAC-SHA256 of a normalized value: equality lookups without decrypting."""
    return hmac.new(_subkey(b"hwr-pii-blind-index", key), value.encode(), hashlib.sha256).hexdigest()
