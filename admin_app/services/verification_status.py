"""A user's identity status (实名认证状态) and the lookups of verification requests, for any page.

Part of services.verification (the one home of the identity rules), which re-exports these names.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..i18n import N_
from ..models import IdentityVerification, User
from .crypto import decrypt
from .identity import IdentityError, check_document, indexes_for
from .uploads import image_path

SIDES = ("front", "back")
# User.identity_status -> label msgid (the words of the health-talent platform's manual).
STATUS_LABELS = {
    "unverified": N_("Unverified"),
    "pending": N_("Pending review"),
    "verified": N_("Verified"),
    "rejected": N_("Verification failed"),
}


@dataclass(frozen=True)
class IdentityStatus:
    """What to show a user about their identity: code, translated label, the rejection reason, the request."""

    code: str  # unverified | pending | verified | rejected
    label: str
    reason: str | None = None
    request: IdentityVerification | None = None

    @property
    def can_submit(self) -> bool:
        return self.code in ("unverified", "rejected")


def own_request(request_id: int, user_id: int) -> IdentityVerification | None:
    """The user's own verification request with this id, or None (anybody else's is None too)."""
    return db.session.scalars(select(IdentityVerification).where(
        IdentityVerification.id == request_id, IdentityVerification.user_id == user_id)).first()


def latest_request(user_id: int) -> IdentityVerification | None:
    return db.session.scalars(select(IdentityVerification).where(IdentityVerification.user_id == user_id)
                              .order_by(IdentityVerification.created_at.desc(), IdentityVerification.id.desc())
                              .limit(1)).first()


def verification_status(user) -> IdentityStatus:
    """The user's identity status for any page (/verify, /me): code, label (translated), reason if rejected."""
    code = user.identity_status if user.identity_status in STATUS_LABELS else "unverified"
    req = latest_request(user.id)
    reason = req.reason if code == "rejected" and req is not None and req.status == "rejected" else None
    return IdentityStatus(code=code, label=_(STATUS_LABELS[code]), reason=reason, request=req)


def is_verified(user) -> bool:
    """True when the user's identity has been verified (admin grants require it)."""
    return bool(user is not None and user.identity_status == "verified" and user.id_number_index)


def find_verified_user(id_type: str, number: str) -> User | None:
    """The account holding this verified identity (for granting admin rights directly by ID number), or None."""
    try:
        number = check_document(id_type, number, lookup=True)
    except IdentityError:
        return None
    return db.session.scalars(select(User).where(User.id_type == id_type,
                                                 User.id_number_index.in_(indexes_for(id_type, number)),
                                                 User.identity_status == "verified")).first()


def full_number(req: IdentityVerification) -> str:
    """The decrypted number of a request (the caller checks scope and writes the audit row)."""
    return decrypt(req.id_number_enc)


def scan_path(req: IdentityVerification, side: str) -> Path | None:
    """The stored scan of one side of a request, or None."""
    if side not in SIDES:
        return None
    return image_path("scan", req.front_image if side == "front" else req.back_image)
