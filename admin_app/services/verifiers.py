"""The identity verifier interface (services.verification's pluggable part) and the default, manual one.

The class is chosen by the ``IDENTITY_VERIFIER`` config key (a dotted path, ``package.module:Class`` or
``package.module.Class``); a government identity service implements :class:`Verifier`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from werkzeug.utils import import_string

DEFAULT_VERIFIER = "admin_app.services.verifiers:ManualVerifier"


@dataclass(frozen=True)
class VerificationRequest:
    """What a verifier is given: a plain snapshot, never an ORM row (external services get no session)."""

    id: int
    user_id: int
    id_type: str
    number: str  # the full, normalized document number
    name: str
    front_path: Path | None
    back_path: Path | None


@dataclass(frozen=True)
class Decision:
    """A verifier's verdict: approved, or rejected with a reason shown to the user."""

    approved: bool
    reason: str | None = None


class Verifier:
    """Interface of an identity verifier.

    `submit` is called once per new request, after it has been committed as pending. Return a Decision to
    settle the request at once, or None to leave it in the manual queue (also the fallback when the call
    raises: the request simply stays pending). A verifier that answers later (a callback, a polling job)
    settles the request with :func:`services.verification.apply_decision`.
    """

    def submit(self, request: VerificationRequest) -> Decision | None:  # pragma: no cover - interface
        raise NotImplementedError


class ManualVerifier(Verifier):
    """The default: every request waits for a human in /admin/verification/."""

    def submit(self, request: VerificationRequest) -> Decision | None:
        return None


def get_verifier() -> Verifier:
    """The configured verifier of this app (instantiated once per app)."""
    path = current_app.config.get("IDENTITY_VERIFIER") or DEFAULT_VERIFIER
    cache = current_app.extensions.setdefault("identity_verifier", {})
    if path not in cache:
        obj = import_string(path)
        cache[path] = obj() if isinstance(obj, type) else obj
    return cache[path]
