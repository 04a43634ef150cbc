"""预置管理员手机号: a commission officer names the phone of a subordinate unit's admin; whoever signs up or signs in
with that phone becomes the unit's admin without an authorization code (the staff-reporting manual: a unit admin
registers "with the phone used for the daily report" and lands on the unit's 上报人员列表).

Rules:
- An officer pre-registers phones for institutions strictly below his own (scope.covers_below); the platform
  superuser for any. One live pre-registration per (institution, phone), kept by a partial unique index.
- The claim (claim_for, called by every sign-in and the sign-up) is one conditional UPDATE per row (unclaimed and
  not revoked), so a phone's row is claimed once however many devices sign in at the same instant. The claimer
  becomes the business manager when the unit has none, else an assistant admin (one active manager per unit, kept
  by the database's index: of two claims racing for the manager role one becomes manager, the other assistant).
  A person whose work unit is another institution is not made its admin (the grants' rule); the row stays
  unclaimed and he is told whom to ask.
- Revoking (撤销) works as a grant reset (解除授权): the admin right the claim gave ends, the person's sessions end,
  an audit row per change, one commit.
"""
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..forms.validators import normalize_phone
from ..models import AdminGrant, Institution, Preregistration, User
from ..models.types import utcnow
from . import ServiceError, row_id, row_ids, sessions
from .audit import record
from .scope import Scope, programme_clause, restrict

NAME_MAX = 32


class OutOfScope(ServiceError):
    """The institution is not strictly below one the officer administers (or does not exist)."""


def search_below(scope: Scope, q: str | None, limit: int = 20) -> list[Institution]:
    """Institutions strictly below the scope's own whose name or pinyin initials match q (the form's search picker);
    a q past bounds.QUERY_TEXT_MAX is a ServiceError."""
    from .institutions import search_institutions

    if not (q or "").strip():
        return []
    stmt = select(Institution)
    clause = scope.below_clause(Institution.path)
    if clause is not None:
        stmt = stmt.where(clause)
    return search_institutions(q.strip(), limit=limit, base_query=stmt)


def chosen_below(scope: Scope, institution_id) -> Institution | None:
    """The chosen institution if it lies strictly below the scope's own (the picker shows it again), else None."""
    try:
        return require_below(scope, institution_id)
    except OutOfScope:
        return None


def require_below(scope: Scope, institution_id) -> Institution:
    """The institution if it lies strictly below the scope's own; otherwise OutOfScope (no hint whether it exists)."""
    pk = row_id(institution_id)
    inst = db.session.get(Institution, pk) if pk else None
    if inst is None or not scope.covers_below(inst.path):
        raise OutOfScope(_("This institution is not under an institution you administer; you can pre-register "
                           "admin phones only for your subordinate units."))
    return inst


def preregister(scope: Scope, actor, institution_id, phone: str, name: str) -> Preregistration:
    """Pre-register `phone` as the admin phone of a subordinate institution; audited, one commit."""
    inst = require_below(scope, institution_id)
    number = normalize_phone(phone or "")
    if number is None:
        raise ServiceError(_("Please enter a valid mainland China mobile number."))
    name = " ".join((name or "").split())
    if not name or len(name) > NAME_MAX:
        raise ServiceError(_("Please enter the admin's real name (at most %(n)d characters).", n=NAME_MAX))
    duplicate = _("This mobile number is already pre-registered as an admin phone of %(name)s.", name=inst.name)
    if db.session.scalar(select(Preregistration.id).where(Preregistration.institution_id == inst.id,
                                                          Preregistration.phone == number,
                                                          Preregistration.revoked_at.is_(None))):
        raise ServiceError(duplicate)
    row = Preregistration(institution_id=inst.id, phone=number, name=name, created_by_id=actor.id,
                          created_at=utcnow())
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError as exc:  # the same phone pre-registered by another officer a moment ago
        db.session.rollback()
        raise ServiceError(duplicate) from exc
    record("preregistration_created", target_type="admin_preregistration", target_id=row.id,
           institution_id=inst.id, actor_id=actor.id, details={"phone": number})
    db.session.commit()
    return row


@dataclass
class ClaimResult:
    claimed: list = field(default_factory=list)  # (institution, role)
    refused: list = field(default_factory=list)  # institutions whose pre-registration the person could not claim


def claim_for(user: User) -> ClaimResult:
    """Make the signed-in `user` the admin of every unit that pre-registered his phone; commits when anything
    changed. Called by each sign-in and by the sign-up."""
    result = ClaimResult()
    rows = db.session.scalars(select(Preregistration).where(
        Preregistration.phone == user.phone, Preregistration.claimed_by_id.is_(None),
        Preregistration.revoked_at.is_(None)).order_by(Preregistration.id)).all()
    for row in rows:
        inst = row.institution
        if user.institution_id is not None and user.institution_id != inst.id:
            result.refused.append(inst)
            continue
        try:
            role = _claim(row, user)
        except ServiceError:  # lost both races (manager and assistant) at once: signing in still goes on
            db.session.rollback()
            continue
        if role is not None:
            result.claimed.append((inst, role))
    return result


def _claim(row: Preregistration, user: User) -> str | None:
    """Claim one row for the user (one conditional UPDATE) and give the admin right; the role, or None if lost."""
    now = utcnow()
    won = db.session.execute(update(Preregistration).where(
        Preregistration.id == row.id, Preregistration.claimed_by_id.is_(None), Preregistration.revoked_at.is_(None))
        .values(claimed_by_id=user.id, claimed_at=now).execution_options(synchronize_session=False)).rowcount
    if won != 1:
        db.session.rollback()
        return None
    # Pre-registration grants the right in the default programme (the workforce registration the manual describes).
    existing = db.session.scalar(select(AdminGrant).where(
        AdminGrant.institution_id == row.institution_id, AdminGrant.user_id == user.id, AdminGrant.state == "active",
        programme_clause(None)))
    grant = existing or _new_grant(row, user, now)
    if user.institution_id is None:  # an admin works in his unit: his account shows it
        user.institution_id = row.institution_id
        user.region_code = user.region_code or row.institution.region_code
    db.session.execute(update(Preregistration).where(Preregistration.id == row.id).values(grant_id=grant.id)
                       .execution_options(synchronize_session=False))
    record("preregistration_claimed", target_type="admin_preregistration", target_id=row.id,
           institution_id=row.institution_id, actor_id=user.id, details={"role": grant.role, "grant_id": grant.id})
    db.session.commit()
    return grant.role


def _new_grant(row: Preregistration, user: User, now) -> AdminGrant:
    """The business manager when the unit has none, else an assistant admin; the database decides a race."""
    for role in ("manager", "assistant"):
        grant = AdminGrant(institution_id=row.institution_id, role=role, state="active", user_id=user.id,
                           issued_by_id=row.created_by_id, issued_at=now, activated_at=now)
        try:
            with db.session.begin_nested():  # a savepoint: losing the manager race keeps the claim
                db.session.add(grant)
                db.session.flush()
        except IntegrityError:
            continue
        return grant
    raise ServiceError(_("This institution already has a business manager."))


@dataclass
class RevokeResult:
    requested: int
    revoked: int = 0
    rights_ended: int = 0
    out_of_scope: int = 0


def revoke(scope: Scope, actor, ids) -> RevokeResult:
    """撤销: end the selected pre-registrations in scope and, as a grant reset does, the admin right each claim gave
    (the person's sessions end with it). One commit; rows outside the scope are left alone and counted."""
    wanted = row_ids(ids)
    result = RevokeResult(requested=len(wanted))
    if not wanted:
        return result
    allowed = set(db.session.scalars(restrict(select(Preregistration.id).where(Preregistration.id.in_(wanted)),
                                              Preregistration, scope)))
    result.out_of_scope = len(wanted) - len(allowed)
    if not allowed:
        return result
    now = utcnow()
    rows = db.session.execute(
        update(Preregistration).where(Preregistration.id.in_(allowed), Preregistration.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by_id=actor.id)
        .returning(Preregistration.id, Preregistration.institution_id, Preregistration.grant_id)
        .execution_options(synchronize_session=False)).all()
    grant_ids = [r.grant_id for r in rows if r.grant_id]
    ended = db.session.execute(
        update(AdminGrant).where(AdminGrant.id.in_(grant_ids), AdminGrant.state == "active")
        .values(state="reset", reset_at=now)
        .returning(AdminGrant.id, AdminGrant.institution_id, AdminGrant.role, AdminGrant.user_id)
        .execution_options(synchronize_session=False)).all() if grant_ids else []
    for r in rows:
        record("preregistration_revoked", target_type="admin_preregistration", target_id=r.id,
               institution_id=r.institution_id, actor_id=actor.id)
    for gid, inst_id, role, user_id in ended:
        record("grant_reset", target_type="admin_grant", target_id=gid, institution_id=inst_id, actor_id=actor.id,
               details={"role": role, "user_id": user_id, "preregistration": True})
    sessions.end_all_for([r.user_id for r in ended])  # as after 解除授权: they sign in again as what they now are
    db.session.commit()
    db.session.expire_all()
    result.revoked, result.rights_ended = len(rows), len(ended)
    return result
