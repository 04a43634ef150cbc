"""PII at rest: Fernet encryption and an HMAC blind index, keyed from a key ring.

`PII_KEY` encrypts; the keys in `PII_OLD_KEYS` (a list; env FLASK_PII_OLD_KEYS as JSON) still decrypt and still
find rows by blind index, so a key can be rotated while the application serves (services.keys). A key's
fingerprint (a keyed hash, never the key) ties the data, and every backup, to the key that opens it.
"""
import base64
import hashlib
import hmac
import json
import os
import time
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

__all__ = ["InvalidToken", "blind_index", "blind_index_many", "blind_indexes", "decrypt", "encrypt", "encrypt_many",
           "fingerprint", "ring"]


def _key_bytes(key: str | None = None) -> bytes:
    key = key or current_app.config["PII_KEY"]
    if not key:
        raise RuntimeError("PII_KEY is not configured")
    return key.encode()


def old_keys(config=None) -> list[str]:
    """PII_OLD_KEYS as a list (a JSON list or one key when it arrives as text from the environment)."""
    value = (config if config is not None else current_app.config).get("PII_OLD_KEYS") or []
    if isinstance(value, str):
        text = value.strip()
        try:
            value = json.loads(text) if text.startswith("[") else [text] if text else []
        except ValueError:
            raise RuntimeError("PII_OLD_KEYS must be a JSON list of keys") from None
    return [str(k) for k in value if k]


def ring(config=None) -> list[str]:
    """The key ring: PII_KEY first (it encrypts), then PII_OLD_KEYS (decrypt only), without repeats."""
    cfg = config if config is not None else current_app.config
    first = cfg.get("PII_KEY")
    if not first:
        raise RuntimeError("PII_KEY is not configured")
    keys = [first]
    for key in old_keys(cfg):
        if key not in keys:
            keys.append(key)
    return keys


def _subkey(purpose: bytes, key: str | None = None) -> bytes:
    # Separate keys for encryption, indexing and the fingerprint, so one leaking does not give another.
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


@lru_cache(maxsize=8)
def _multi(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([fernet(k) for k in keys])


def encrypt(value: str, key: str | None = None) -> str:
    """Encrypt a PII string for storage (under PII_KEY unless a key is given)."""
    return fernet(key).encrypt(value.encode()).decode()


def encrypt_many(values: list[str], key: str | None = None) -> list[str]:
    """encrypt() of many strings at once (bulk loads): the same Fernet tokens (spec 0x80), each with its own IV,
    built with one AES cipher for the batch instead of one Fernet call per value (a third of the cost)."""
    subkey = _subkey(b"hwr-pii-encryption", key)
    signing, block = subkey[:16], algorithms.AES(subkey[16:])
    ecb = Cipher(block, modes.ECB()).encryptor()  # CBC below, chained by hand one block column at a time
    head = b"\x80" + int(time.time()).to_bytes(8, "big")
    plain = []
    for v in values:
        b = v.encode()
        n = 16 - len(b) % 16
        plain.append(b + bytes((n,)) * n)  # PKCS7, as Fernet pads
    ivs = os.urandom(16 * len(values))
    out: list = [None] * len(values)
    by_len: dict[int, list[int]] = {}
    for k, p in enumerate(plain):
        by_len.setdefault(len(p), []).append(k)
    keyed = hmac.new(signing, digestmod=hashlib.sha256)
    for size, members in by_len.items():
        prev = [ivs[16 * k:16 * k + 16] for k in members]
        cipher = [bytearray() for _ in members]
        for j in range(0, size, 16):
            mixed = b"".join((int.from_bytes(plain[k][j:j + 16], "little") ^ int.from_bytes(prev[m], "little"))
                             .to_bytes(16, "little") for m, k in enumerate(members))
            enc = ecb.update(mixed)
            prev = [enc[16 * m:16 * m + 16] for m in range(len(members))]
            for m in range(len(members)):
                cipher[m] += prev[m]
        for m, k in enumerate(members):
            basic = head + ivs[16 * k:16 * k + 16] + bytes(cipher[m])
            h = keyed.copy()
            h.update(basic)
            out[k] = base64.urlsafe_b64encode(basic + h.digest()).decode()
    return out


def decrypt(token: str, key: str | None = None) -> str:
    """Decrypt a stored PII string with the given key, or with any key of the ring; InvalidToken otherwise."""
    if key is not None:
        return fernet(key).decrypt(token.encode()).decode()
    return _multi(tuple(ring())).decrypt(token.encode()).decode()


def opening_key(token: str, keys: list[str]) -> str | None:
    """The first of `keys` that decrypts this token, or None."""
    for key in keys:
        try:
            fernet(key).decrypt(token.encode())
            return key
        except InvalidToken:
            continue
    return None


def blind_index(value: str, key: str | None = None) -> str:
    """Deterministic HMAC-SHA256 of a normalized value: equality lookups without decrypting."""
    return hmac.new(_subkey(b"hwr-pii-blind-index", key), value.encode(), hashlib.sha256).hexdigest()


def blind_index_many(values: list[str], key: str | None = None) -> list[str]:
    """blind_index() of many values (bulk loads): the key derived once."""
    keyed = hmac.new(_subkey(b"hwr-pii-blind-index", key), digestmod=hashlib.sha256)
    out = []
    for v in values:
        h = keyed.copy()  # the keyed state once; copying it is cheaper than keying again
        h.update(v.encode())
        out.append(h.hexdigest())
    return out


def blind_indexes(value: str) -> list[str]:
    """The value's blind index under every key of the ring (PII_KEY's first): lookups find rows under any."""
    return [blind_index(value, k) for k in ring()]


def fingerprint(key: str | None = None) -> str:
    """A short public name of a key (16 hex digits of a keyed hash): safe to store and print, useless to decrypt."""
    return hmac.new(_subkey(b"hwr-pii-fingerprint", key), b"hwr-pii-key", hashlib.sha256).hexdigest()[:16]
