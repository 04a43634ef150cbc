"""Image captcha for sign-in: the answer lives in the session as an HMAC, single use, case-insensitive."""
import hashlib
import hmac
import secrets
import time
import unicodedata

from flask import current_app, session

# No 0/O, 1/I/L: the image distorts letters and people type what they see.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LENGTH = 4
LIFETIME = 600  # seconds an image stays answerable
_KEY = "captcha"


def _digest(nonce: str, answer: str) -> str:
    # The session cookie is signed, not encrypted: keep only a keyed hash of the answer in it.
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, f"captcha|{nonce}|{answer}".encode(), hashlib.sha256).hexdigest()


def _normalize(answer: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", answer or "") if not ch.isspace()).upper()


def new_image() -> bytes:
    """A fresh captcha PNG; its answer replaces any earlier one in the session."""
    from captcha.image import ImageCaptcha

    answer = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    nonce = secrets.token_urlsafe(12)
    session[_KEY] = {"n": nonce, "h": _digest(nonce, answer), "t": int(time.time())}
    return ImageCaptcha(width=160, height=60).generate(answer).getvalue()


def check(answer: str) -> bool:
    """True when `answer` matches the image last shown; the challenge is spent either way."""
    challenge = session.pop(_KEY, None)
    if not isinstance(challenge, dict) or not answer:
        return False
    nonce, digest, issued = challenge.get("n"), challenge.get("h"), challenge.get("t", 0)
    if not nonce or not digest or time.time() - issued > LIFETIME:
        return False
    if not _first_use(nonce):
        return False  # a replayed copy of an old session cookie
    return hmac.compare_digest(digest, _digest(nonce, _normalize(answer)))


def _first_use(nonce: str) -> bool:
    """Remember spent challenges in the rate-limit storage (shared by processes when it is Redis)."""
    from ..extensions import limiter

    try:
        return limiter.storage.incr(f"hwr-captcha/{nonce}", LIFETIME) == 1
    except Exception:  # storage not available (rate limiting switched off): the session pop still applies
        return True
