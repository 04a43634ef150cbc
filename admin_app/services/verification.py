"""Real-name identity verification (实名认证): submissions, the review queue and the identity rules. One home.

Rules kept here and nowhere else:
- a user submits a document (type, number, name, front/back scans); it waits for a verifier;
- one identity belongs to one account: a number verified or held on another account, or waiting in another
  account's pending request, is refused at submission and re-checked at approval (the unique constraint
  ``uq_user_identity`` on User is the last line);
- a pending request cannot be duplicated; submissions per user are capped per 24 hours (VERIFY_DAILY_CAP);
- approval copies the sealed number onto the User and marks the identity verified; rejection needs a reason;
  each review is one conditional UPDATE (``WHERE id IN (...) AND status = 'pending' AND <scope>``), so of two
  reviewers acting at once exactly one wins; a reviewer never decides their own request;
- changing a verified identity number (e.g. on the profile page) sends it back to review: call
  :func:`update_identity` for every change of User.id_type / id_number;
- admin grants require a verified identity: :func:`is_verified`.

Verifiers: :class:`Verifier` is the interface a government identity service implements; the default
:class:`ManualVerifier` leaves every request to the human queue at /admin/verification/. The class is chosen by
the ``IDENTITY_VERIFIER`` config key (a dotted path, ``package.module:Class`` or ``package.module.Class``).
"""
from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import and_, exists, func, select, true, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import IdentityVerification, User
from ..models.types import utcnow
from ..models.user import ID_TYPES
from . import ServiceError, parse_ids
from .audit import record
from .crypto import decrypt, ring
from .identity import IdentityError, check_document, indexes_for, sealed
from .last_updated import touch_accounts
from .scope import Scope, restrict
from .uploads import image_path, save_image

# The verifier interface and a user's identity status live beside this module; callers keep reaching them
# here (services.verification.X), the one home of the identity rules.
from .verification_status import (  # noqa: F401 - re-exported
    SIDES,
    STATUS_LABELS,
    IdentityStatus,
    find_verified_user,
    full_number,
    is_verified,
    latest_request,
    own_request,
    scan_path,
    verification_status,
)
from .verifiers import (  # noqa: F401 - re-exported
    DEFAULT_VERIFIER,
    Decision,
    ManualVerifier,
    VerificationRequest,
    Verifier,
    get_verifier,
)

log = logging.getLogger(__name__)

DEFAULT_DAILY_CAP = 5
REASON_MAX = 500
NAME_MAX = 64
# Documents whose back carries data: the back scan is required; a passport's data page is enough.
BACK_OPTIONAL = frozenset({"passport"})
SYSTEM_SCOPE = Scope(user_id=None, is_superuser=True)  # what an automatic verifier may decide


class VerificationError(ServiceError):
    """A submission was refused; `field` names the form field the message belongs to (None: the whole form)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


# -------------------------------------------------------------------------------------------------- submission

def daily_cap() -> int:
    return int(current_app.config.get("VERIFY_DAILY_CAP", DEFAULT_DAILY_CAP))


def identity_taken(id_index: str | list[str], user_id: int | None) -> bool:
    """True when another account holds this identity (its blind indexes under every key of the ring): on the User
    (any status) or in a pending request."""
    indexes = [id_index] if isinstance(id_index, str) else list(id_index)
    others = User.id != user_id if user_id is not None else true()
    on_user = select(User.id).where(User.id_number_index.in_(indexes), others)
    others_req = IdentityVerification.user_id != user_id if user_id is not None else true()
    in_queue = select(IdentityVerification.id).where(IdentityVerification.id_number_index.in_(indexes),
                                                      IdentityVerification.status == "pending", others_req)
    return bool(db.session.scalar(select(exists(on_user)))) or bool(db.session.scalar(select(exists(in_queue))))


def clean_name(name: str | None) -> str:
    name = unicodedata.normalize("NFKC", name or "").strip()
    name = " ".join(name.split())
    if not name:
        raise VerificationError(_("Please enter your name as shown on the document."), "name")
    if len(name) > NAME_MAX:
        raise VerificationError(_("The name must have at most %(n)d characters.", n=NAME_MAX), "name")
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise VerificationError(_("The name contains characters that are not allowed."), "name")
    return name


def _has_file(f) -> bool:
    return f is not None and bool(getattr(f, "filename", ""))


def taken_message() -> str:
    """Why a number is refused because another account holds it (submission, profile page, approval race)."""
    return _("This document number is already verified or held by another account. If it is yours, "
             "please contact the platform administrator.")


def submit(user, id_type: str, number: str, name: str, front, back) -> IdentityVerification:
    """Check and store a verification request of `user`, then hand it to the verifier.

    Nothing is written when anything is refused (scans already stored are removed again).
    """
    if user.identity_status == "verified":
        raise VerificationError(_("Your identity has already been verified."))
    if _pending_of(user.id) is not None or user.identity_status == "pending":
        raise VerificationError(_("Your verification request is waiting for review; please wait for the result."))
    since = utcnow() - timedelta(days=1)
    recent = db.session.scalar(select(func.count()).select_from(IdentityVerification)
                               .where(IdentityVerification.user_id == user.id,
                                      IdentityVerification.created_at >= since))
    if recent >= daily_cap():
        raise VerificationError(_("You can submit at most %(n)d verification requests in 24 hours; "
                                  "please try again tomorrow.", n=daily_cap()))
    if id_type not in ID_TYPES:
        raise VerificationError(_("Please choose a document type."), "id_type")
    try:
        number = check_document(id_type, number)
    except IdentityError as e:
        raise VerificationError(str(e), "id_number") from e
    name = clean_name(name)
    values = sealed(id_type, number)
    if identity_taken(indexes_for(id_type, number), user.id):
        raise VerificationError(taken_message(), "id_number")
    if not _has_file(front):
        raise VerificationError(_("Please upload a scan of the front of the document."), "front_image")
    if id_type not in BACK_OPTIONAL and not _has_file(back):
        raise VerificationError(_("Please upload a scan of the back of the document."), "back_image")

    stored: list[str] = []
    try:
        try:
            stored.append(save_image(front, "scan"))
        except ServiceError as e:
            raise VerificationError(str(e), "front_image") from e
        if _has_file(back):
            try:
                stored.append(save_image(back, "scan"))
            except ServiceError as e:
                raise VerificationError(str(e), "back_image") from e
        # Claim the user's state atomically: of two submissions racing, only one moves it to pending.
        claimed = db.session.execute(
            update(User).where(User.id == user.id, User.identity_status.in_(("unverified", "rejected")))
            .values(identity_status="pending").execution_options(synchronize_session=False)).rowcount
        if claimed != 1:
            raise VerificationError(_("Your verification request is waiting for review; please wait for the result."))
        req = IdentityVerification(user_id=user.id, name=name, front_image=stored[0],
                                   back_image=stored[1] if len(stored) > 1 else None, status="pending", **values)
        db.session.add(req)
        db.session.flush()
        record("identity.submit", target_type="identity_verification", target_id=req.id,
               institution_id=user.institution_id, details={"id_type": id_type, "number": values["id_number_masked"]},
               actor_id=user.id)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        _remove_scans(stored)
        raise
    db.session.refresh(user)
    _ask_verifier(req)
    return req


def _pending_of(user_id: int) -> IdentityVerification | None:
    return db.session.scalars(select(IdentityVerification).where(IdentityVerification.user_id == user_id,
                                                                 IdentityVerification.status == "pending")).first()


def _remove_scans(names: list[str]) -> None:
    for name in names:
        path = image_path("scan", name)
        if path is not None:
            try:
                path.unlink()
            except OSError:  # pragma: no cover - best effort
                log.warning("could not remove scan %s", name)


def _ask_verifier(req: IdentityVerification) -> None:
    """Hand a committed request to the configured verifier; any failure leaves it in the manual queue."""
    verifier = get_verifier()
    if isinstance(verifier, ManualVerifier):
        return
    try:
        snapshot = VerificationRequest(id=req.id, user_id=req.user_id, id_type=req.id_type, number=full_number(req),
                                       name=req.name, front_path=scan_path(req, "front"),
                                       back_path=scan_path(req, "back"))
        decision = verifier.submit(snapshot)
    except Exception:
        log.exception("identity verifier failed on request %s; left for manual review", req.id)
        return
    if decision is not None:
        try:
            apply_decision(req.id, decision)
        except ServiceError:
            log.warning("verifier decision on request %s could not be applied; left for manual review", req.id)


def apply_decision(request_id: int, decision: Decision, source: str | None = None) -> ReviewResult:
    """Settle one request by an automatic verifier's decision (no human actor; platform-wide scope)."""
    source = source or (current_app.config.get("IDENTITY_VERIFIER") or DEFAULT_VERIFIER)
    if decision.approved:
        return approve([request_id], actor_id=None, scope=SYSTEM_SCOPE, source=source)
    return reject([request_id], actor_id=None, scope=SYSTEM_SCOPE,
                  reason=decision.reason or _("The document could not be verified."), source=source)


# ------------------------------------------------------------------------------------------------------ review

@dataclass
class ReviewResult:
    action: str  # approve | reject
    requested: int
    moved: int = 0
    conflicts: int = 0  # refused because the identity belongs to another account
    moved_ids: list = field(default_factory=list)

    @property
    def skipped(self) -> int:
        """Not moved: already handled, outside the scope, one's own request, or conflicting."""
        return self.requested - self.moved


def check_reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(_("Please give a reason for the rejection."))
    if len(reason) > REASON_MAX:
        raise ServiceError(_("The reason must have at most %(n)d characters.", n=REASON_MAX))
    return reason


def _reviewable(id_list: list[int], actor_id: int | None, scope: Scope) -> list:
    """Conditions of a row this reviewer may decide now: selected, pending, in scope, not their own."""
    cond = [IdentityVerification.id.in_(id_list), IdentityVerification.status == "pending"]
    if actor_id is not None:
        cond.append(IdentityVerification.user_id != actor_id)
    return cond


def _audit_moved(action: str, rows, actor_id: int | None, details: dict) -> None:
    user_ids = {r.user_id for r in rows}
    inst = dict(db.session.execute(select(User.id, User.institution_id).where(User.id.in_(user_ids))).all())
    for r in rows:
        entry = record(action, target_type="identity_verification", target_id=r.id,
                       institution_id=inst.get(r.user_id), details=dict(details, user_id=r.user_id),
                       actor_id=actor_id)
        if actor_id is None:
            entry.actor_id = None  # an automatic verifier decided; not the signed-in user


def _holders(indexes: set[str]) -> dict[str, int]:
    """Blind index -> id of the account holding it on the User table."""
    return dict(db.session.execute(select(User.id_number_index, User.id)
                                   .where(User.id_number_index.in_(indexes))).all())


def approve(ids, actor_id: int | None, scope: Scope, source: str | None = None) -> ReviewResult:
    """Approve pending requests in scope: the sealed number moves onto each User, who becomes verified."""
    id_list = parse_ids(ids)
    result = ReviewResult(action="approve", requested=len(id_list))
    if not id_list:
        return result
    cond = _reviewable(id_list, actor_id, scope)
    candidates = db.session.execute(restrict(
        select(IdentityVerification.id, IdentityVerification.user_id, IdentityVerification.id_number_index,
               IdentityVerification.id_type, IdentityVerification.id_number_enc)
        .where(*cond), IdentityVerification, scope).order_by(IdentityVerification.id)).all()
    # One identity, one account: refuse rows whose number another account already holds, and within the
    # selection let only the oldest request of one number through. During a key rotation one number has a
    # blind index per key of the ring: every one of them is looked up.
    rotating = len(ring()) > 1
    keysets = {c.id: indexes_for(c.id_type, decrypt(c.id_number_enc)) if rotating else [c.id_number_index]
               for c in candidates}
    holders = _holders({i for ks in keysets.values() for i in ks}) if candidates else {}
    ok, seen = [], {}
    for c in candidates:
        indexes = keysets[c.id]
        holder = next((holders[i] for i in indexes if i in holders), c.user_id)
        if holder != c.user_id or seen.get(indexes[0], c.user_id) != c.user_id:
            result.conflicts += 1
            continue
        seen[indexes[0]] = c.user_id
        ok.append(c.id)
    if not ok:
        return result
    now = utcnow()
    try:
        stmt = restrict(update(IdentityVerification).where(*_reviewable(ok, actor_id, scope)), IdentityVerification,
                        scope)
        moved = db.session.execute(
            stmt.values(status="verified", reviewer_id=actor_id, reviewed_at=now, reason=None)
            .returning(IdentityVerification.id, IdentityVerification.user_id, IdentityVerification.id_type,
                       IdentityVerification.id_number_enc, IdentityVerification.id_number_index,
                       IdentityVerification.id_number_masked)
            .execution_options(synchronize_session=False)).all()
        if moved:
            db.session.execute(update(User), [
                dict(id=r.user_id, id_type=r.id_type, id_number_enc=r.id_number_enc,
                     id_number_index=r.id_number_index, id_number_masked=r.id_number_masked,
                     identity_status="verified") for r in moved])
            touch_accounts(r.user_id for r in moved)  # the verified number is what full-ID clients sync
            _audit_moved("identity.approve", moved, actor_id, {"source": source} if source else {})
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise ServiceError(
            _("The document number is already verified on another account; nothing was changed.")) from exc
    result.moved = len(moved)
    result.moved_ids = [r.id for r in moved]
    db.session.expire_all()
    return result


def reject(ids, actor_id: int | None, scope: Scope, reason: str | None, source: str | None = None) -> ReviewResult:
    """Reject pending requests in scope with a reason (≤ 500 characters); the users may submit again."""
    reason = check_reason(reason)
    id_list = parse_ids(ids)
    result = ReviewResult(action="reject", requested=len(id_list))
    if not id_list:
        return result
    now = utcnow()
    stmt = restrict(update(IdentityVerification).where(*_reviewable(id_list, actor_id, scope)), IdentityVerification,
                    scope)
    moved = db.session.execute(
        stmt.values(status="rejected", reviewer_id=actor_id, reviewed_at=now, reason=reason)
        .returning(IdentityVerification.id, IdentityVerification.user_id)
        .execution_options(synchronize_session=False)).all()
    if moved:
        still_pending = exists(select(IdentityVerification.id).where(
            and_(IdentityVerification.user_id == User.id, IdentityVerification.status == "pending")))
        db.session.execute(update(User).where(User.id.in_({r.user_id for r in moved}),
                                              User.identity_status == "pending", ~still_pending)
                           .values(identity_status="rejected").execution_options(synchronize_session=False))
        details = {"reason": reason}
        if source:
            details["source"] = source
        _audit_moved("identity.reject", moved, actor_id, details)
    db.session.commit()
    result.moved = len(moved)
    result.moved_ids = [r.id for r in moved]
    db.session.expire_all()
    return result


def reveal_number(req: IdentityVerification, actor_id: int | None) -> str:
    """The full number for a reviewer's detail page; audit-logged (the caller has checked scope)."""
    number = full_number(req)
    record("identity.view_number", target_type="identity_verification", target_id=req.id,
           institution_id=req.user.institution_id if req.user else None, actor_id=actor_id,
           details={"user_id": req.user_id})
    db.session.commit()
    return number


# ------------------------------------------------------------------------------------ identity changes elsewhere

def update_identity(user, id_type: str, number: str, actor_id: int | None = None) -> str:
    """Set a user's identity document from another form (the staff profile). The one way to change it.

    Returns "unchanged" (same document), "stored" (an unverified/rejected user: the sealed number is stored and
    a rejected status goes back to "unverified", since the rejection was about another document; or a pending
    user giving the very document under review: it is stored and the review goes on) or "review" (a verified
    user changed it: the new number is stored, identity_status goes back to "pending" and a pending request
    carrying the scans on file enters the review queue).
    Raises IdentityError (the number is not valid for its type) / ServiceError (another document while a request
    is pending; a number another account holds), having changed nothing. Does not commit: the caller commits
    together with its own changes (an IntegrityError there on uq_user_identity means another account took the
    number at the same moment).
    """
    if id_type not in ID_TYPES:
        raise IdentityError(_("Unknown document type."))
    values = sealed(id_type, number)  # validates the number for its type
    index = values["id_number_index"]
    if user.id_type == id_type and user.id_number_index == index:
        return "unchanged"
    pending = _pending_of(user.id)
    if (user.identity_status == "pending" or pending is not None) and (
            pending is None or pending.id_type != id_type or pending.id_number_index != index):
            raise ServiceError(_("Your identity verification is under review; the document number cannot be "
                                 "changed until it has been decided."))
    if identity_taken(indexes_for(id_type, number), user.id):
        raise ServiceError(taken_message())
    was_verified = user.identity_status == "verified"
    old_masked = user.id_number_masked
    for key, value in values.items():
        setattr(user, key, value)
    if not was_verified:
        if user.identity_status == "rejected":
            user.identity_status = "unverified"
        record("identity.changed", target_type="user", target_id=user.id, institution_id=user.institution_id,
               details={"from": old_masked, "to": values["id_number_masked"]}, actor_id=actor_id)
        return "stored"
    last = db.session.scalars(select(IdentityVerification).where(IdentityVerification.user_id == user.id,
                                                                 IdentityVerification.status == "verified")
                              .order_by(IdentityVerification.id.desc()).limit(1)).first()
    user.identity_status = "pending"
    req = IdentityVerification(user_id=user.id, name=(last.name if last else None) or user.name or "",
                               front_image=last.front_image if last else "",
                               back_image=last.back_image if last else None, status="pending", **values)
    db.session.add(req)
    db.session.flush()
    record("identity.changed", target_type="identity_verification", target_id=req.id,
           institution_id=user.institution_id, details={"from": old_masked, "to": values["id_number_masked"],
                                                        "back_to_review": True}, actor_id=actor_id)
    return "review"


# Alias under the name the brief suggested.
identity_changed = update_identity
