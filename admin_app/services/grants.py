"""Admin grants (机构业务授权): authorization codes, binding and reset (the people of a unit: grant_team.py).

Rules (DESIGN.md, AdminGrant):
- An admin of P (manager or assistant) issues manager codes for P's *direct* children; the platform superuser
  for any institution. Codes are 8 characters of services.codes.ALPHABET, single use, expire after
  GRANT_CODE_TTL_DAYS, and are shown only to that issuing scope.
- A verified user binds a code (self-service) or the issuer binds it directly to a verified ID number.
  Binding is one conditional UPDATE (`state='issued' AND code=… AND not expired`), so of two people binding
  one code exactly one wins; the partial unique index keeps one active manager per institution.
- Reset (解除授权) returns an institution to its original state: every live grant of it (manager code,
  manager, assistants) becomes `reset`. Batch reset of unactivated codes (批量解除未激活授权码) only touches
  issued codes. Scope is computed from active grants on every request, so access ends at once.
- A manager adds and removes assistants (辅助管理员) and transfers the manager role (业务负责人转移) in
  one transaction. Binding, direct authorization, assistants and transfer need step-up verification:
  the actor's password plus an SMS code sent to the actor's own phone (purpose step_up).
Every change writes an audit row in the same transaction; a refused request writes nothing.
"""
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import and_, exists, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash

from ..extensions import db
from ..models import AdminGrant, Institution, User
from ..models.types import utcnow
from . import ServiceError, row_ids, sessions
from .audit import record
from .codes import ALPHABET, new_code, normalize_code
from .scope import Scope, programme_clause

CODE_LENGTH = 8
LIVE_STATES = ("issued", "active")


class GrantNotFound(ServiceError):
    """The institution or grant is not there for this admin (views answer 404)."""


# ---------------------------------------------------------------------------------------------- helpers

def is_verified(user) -> bool:
    """Real-name verified (the verification service decides)."""
    from .verification import is_verified as verified

    return verified(user)


def mask_name(name: str | None) -> str:
    """张晓明 → 张*明, 张三 → 张*."""
    name = (name or "").strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_phone(phone: str | None) -> str:
    """13800000010 → 138****0010."""
    phone = phone or ""
    return phone[:3] + "****" + phone[-4:] if len(phone) == 11 else phone


def masked_person(user) -> str:
    """How a bound person shows in grids: masked name and phone."""
    if user is None:
        return ""
    return f"{mask_name(user.name)} {mask_phone(user.phone)}".strip()


def code_ttl() -> timedelta:
    return timedelta(days=int(current_app.config["GRANT_CODE_TTL_DAYS"]))


def issuable_clause(scope: Scope):
    """Institutions this scope issues codes for: direct children of its institutions (superuser: all)."""
    if scope.is_superuser:
        return None
    if not scope.institution_ids:
        return Institution.id.is_(None)
    return Institution.parent_id.in_(scope.institution_ids)


def issuable_query(scope: Scope):
    """SELECT Institution narrowed to what the scope issues codes for (the /admin/grant/ rows)."""
    stmt = select(Institution)
    clause = issuable_clause(scope)
    return stmt if clause is None else stmt.where(clause)


def can_issue_for(scope: Scope, institution: Institution | None) -> bool:
    if institution is None:
        return False
    return scope.is_superuser or institution.parent_id in scope.institution_ids


def require_issuable(scope: Scope, institution_id) -> Institution:
    """The institution if this scope issues for it; otherwise GrantNotFound (a 404, not a hint)."""
    ids = row_ids([institution_id])
    inst = db.session.get(Institution, ids[0]) if ids else None
    if not can_issue_for(scope, inst):
        raise GrantNotFound(_("This institution is not a direct subordinate of an institution you administer."))
    return inst


def _allowed_ids(scope: Scope, ids: list[int]) -> list[int]:
    if not ids:
        return []
    stmt = select(Institution.id).where(Institution.id.in_(ids))
    clause = issuable_clause(scope)
    if clause is not None:
        stmt = stmt.where(clause)
    return list(db.session.scalars(stmt))


def _not_expired(now: datetime):
    return (AdminGrant.expires_at.is_(None)) | (AdminGrant.expires_at > now)


# ------------------------------------------------------------------------------------------ grant state

@dataclass(frozen=True)
class GrantState:
    """What the grid shows for one institution: 未生成 / 未激活 (code) / 已过期 / 已激活 (person)."""

    state: str  # none | issued | expired | active
    grant: AdminGrant | None = None

    @property
    def code(self) -> str | None:
        return self.grant.code if self.grant is not None and self.state in ("issued", "expired") else None


def grant_states(institution_ids, programme_id: int | None = None) -> dict[int, GrantState]:
    """The manager grant state of each institution in one programme (one query for a whole page)."""
    ids = row_ids(institution_ids)
    if not ids:
        return {}
    rows = db.session.scalars(
        select(AdminGrant).where(AdminGrant.institution_id.in_(ids), AdminGrant.role == "manager",
                                 AdminGrant.state.in_(LIVE_STATES), programme_clause(programme_id))
        .order_by(AdminGrant.issued_at, AdminGrant.id)).all()
    now = utcnow()
    out = {i: GrantState("none") for i in ids}
    for g in rows:
        current = out[g.institution_id]
        if current.state == "active":
            continue  # an active manager outranks any code issued alongside it
        if g.state == "active":
            out[g.institution_id] = GrantState("active", g)
        else:
            expired = g.expires_at is not None and g.expires_at <= now
            if current.state == "none" or (current.state == "expired" and not expired):
                out[g.institution_id] = GrantState("expired" if expired else "issued", g)
    return out


def admins_of(institution_id: int, programme_id: int | None = None) -> list[AdminGrant]:
    """Active grants of an institution in one programme, manager first."""
    return list(db.session.scalars(
        select(AdminGrant).where(AdminGrant.institution_id == institution_id, AdminGrant.state == "active",
                                 programme_clause(programme_id))
        .order_by(AdminGrant.role.desc(), AdminGrant.activated_at, AdminGrant.id)))


def managed_institutions(scope: Scope) -> list[Institution]:
    """Institutions where the scope's user is the active manager (where assistants and transfer are run)."""
    ids = [i for i, role in scope.roles.items() if role == "manager"]
    if not ids:
        return []
    return list(db.session.scalars(select(Institution).where(Institution.id.in_(ids)).order_by(Institution.path)))


# --------------------------------------------------------------------------------------------- step-up

def send_step_up_code(user) -> None:
    """Send a step-up SMS code to the user's own phone."""
    from . import sms

    sms.send_code(user.phone, "step_up")


def check_step_up(user, password: str | None, sms_code: str | None) -> None:
    """Password of the signed-in user plus an SMS code sent to their own phone (purpose step_up).

    On success the SMS code is consumed in the caller's transaction (flushed, committed with its change,
    rolled back with it when the change is refused). A wrong SMS code counts at once (the SMS service).
    """
    from . import sms

    if not password:
        raise ServiceError(_("Please enter your sign-in password to confirm it is you."))
    if not sms_code or not sms_code.strip():
        raise ServiceError(_("Please enter the SMS verification code sent to your own phone."))
    if not check_password_hash(user.password_hash, password):
        raise ServiceError(_("The sign-in password is wrong; identity confirmation failed."))
    sms.check_code(user.phone, "step_up", sms_code, commit=False)


# ----------------------------------------------------------------------------------------------- issue

@dataclass
class IssueResult:
    requested: int
    issued: list = field(default_factory=list)  # (institution, code)
    already: int = 0  # had a live code or an active manager
    out_of_scope: int = 0


def _fresh_code() -> str:
    for _attempt in range(20):
        code = new_code(CODE_LENGTH)
        if not db.session.scalar(select(AdminGrant.id).where(AdminGrant.code == code)):
            return code
    raise ServiceError(_("Could not generate a unique authorization code; please try again."))


def issue_codes(scope: Scope, actor, institution_ids) -> IssueResult:
    """Generate a manager authorization code for each chosen direct subordinate that has none.

    An institution with an active manager or an unexpired code is left alone (reset it first); an expired
    code is replaced. One commit. (Two admins issuing for one institution at the same instant may both
    succeed; the codes then race at binding, where the conditional UPDATE and the one-active-manager index
    let exactly one win.)
    """
    ids = row_ids(institution_ids)
    allowed = _allowed_ids(scope, ids)
    result = IssueResult(requested=len(ids), out_of_scope=len(ids) - len(allowed))
    if not allowed:
        return result
    in_programme = programme_clause(scope.programme_id)
    now = utcnow()
    expires = now + code_ttl()
    # Expired, never-bound codes die so a new one can take their place.
    stale = db.session.execute(
        update(AdminGrant).where(AdminGrant.institution_id.in_(allowed), AdminGrant.role == "manager",
                                 AdminGrant.state == "issued", AdminGrant.expires_at <= now, in_programme)
        .values(state="reset", reset_at=now).returning(AdminGrant.id, AdminGrant.institution_id)
        .execution_options(synchronize_session=False)).all()
    for gid, inst_id in stale:
        record("grant_code_expired_reset", target_type="admin_grant", target_id=gid, institution_id=inst_id,
               actor_id=actor.id)
    institutions = {i.id: i for i in db.session.scalars(select(Institution).where(Institution.id.in_(allowed)))}
    for inst_id in allowed:
        live = exists().where(AdminGrant.institution_id == inst_id, AdminGrant.role == "manager",
                              AdminGrant.state.in_(LIVE_STATES), in_programme)
        if db.session.scalar(select(live)):
            result.already += 1
            continue
        code = _fresh_code()
        grant = AdminGrant(institution_id=inst_id, programme_id=scope.programme_id, role="manager", code=code,
                           state="issued", issued_by_id=actor.id, issued_at=now, expires_at=expires)
        db.session.add(grant)
        db.session.flush()
        record("grant_code_issued", target_type="admin_grant", target_id=grant.id, institution_id=inst_id,
               actor_id=actor.id, details={"role": "manager", "expires_at": expires.isoformat(timespec="seconds")})
        result.issued.append((institutions[inst_id], code))
    db.session.commit()
    return result


# ------------------------------------------------------------------------------------------------ bind

def _check_belongs(user, institution: Institution, message: str | None = None) -> None:
    """A person administers their own work unit (or one not chosen yet): another institution is refused."""
    if user.institution_id is not None and user.institution_id != institution.id:
        raise ServiceError(message or _("This person's work unit is not %(name)s; only a member of the "
                                        "institution (or someone without a work unit yet) can become its admin.",
                                        name=institution.name))


def lookup_code(code: str) -> AdminGrant:
    """The issued, unexpired manager grant a typed code names, or a clear refusal."""
    code = normalize_code(code)
    if not code:
        raise ServiceError(_("Please enter the authorization code."))
    if len(code) != CODE_LENGTH or any(ch not in ALPHABET for ch in code):
        raise ServiceError(_("The authorization code is not correct; please check it and try again."))
    grant = db.session.scalar(select(AdminGrant).where(AdminGrant.code == code))
    if grant is None:
        raise ServiceError(_("The authorization code is not correct; please check it and try again."))
    if grant.state == "reset":
        raise ServiceError(_("This authorization code has been revoked; please ask your superior for a new one."))
    if grant.state == "active":
        raise ServiceError(_("This authorization code has already been used."))
    if grant.expires_at is not None and grant.expires_at <= utcnow():
        raise ServiceError(_("This authorization code has expired; please ask your superior for a new one."))
    if not grant.programme.active:
        raise ServiceError(_("The business of this authorization code (%(name)s) has been deactivated.",
                             name=grant.programme.name))
    return grant


def _activate(grant_id: int, code: str | None, user: User, now: datetime) -> bool:
    """The one conditional UPDATE that turns an issued code into an active manager grant."""
    conds = [AdminGrant.id == grant_id, AdminGrant.state == "issued", _not_expired(now)]
    if code is not None:
        conds.append(AdminGrant.code == code)
    try:
        res = db.session.execute(update(AdminGrant).where(and_(*conds))
                                 .values(state="active", user_id=user.id, activated_at=now)
                                 .execution_options(synchronize_session=False))
    except IntegrityError as exc:  # the one-active-manager index: someone else became manager meanwhile
        db.session.rollback()
        raise ServiceError(_("This institution already has a business manager.")) from exc
    return res.rowcount == 1


def _drop_other_roles(user_id: int, institution_id: int, now: datetime, programme_id: int | None) -> None:
    """An assistant who becomes manager gives up the assistant grant (one active role per institution and
    programme)."""
    db.session.execute(update(AdminGrant).where(AdminGrant.institution_id == institution_id,
                                                AdminGrant.user_id == user_id, AdminGrant.role == "assistant",
                                                AdminGrant.state == "active", programme_clause(programme_id))
                       .values(state="reset", reset_at=now).execution_options(synchronize_session=False))


def _has_active_manager(institution_id: int, programme_id: int | None) -> bool:
    return bool(db.session.scalar(select(exists().where(
        AdminGrant.institution_id == institution_id, AdminGrant.role == "manager", AdminGrant.state == "active",
        programme_clause(programme_id)))))


def _commit_or_refuse(message: str) -> None:
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise ServiceError(message) from exc


def bind_code(user, code: str, password: str | None, sms_code: str | None) -> AdminGrant:
    """/grants/bind: a verified user binds an authorization code and becomes the institution's manager."""
    if not is_verified(user):
        raise ServiceError(_("Please complete real-name verification before binding an authorization code."))
    grant = lookup_code(code)
    institution = grant.institution
    _check_belongs(user, institution, _("This authorization code belongs to another institution (%(name)s), not "
                                        "to your work unit; please check the code with your superior.",
                                        name=institution.name))
    if _has_active_manager(institution.id, grant.programme_id):
        raise ServiceError(_("This institution already has a business manager; ask your superior to revoke the "
                             "authorization first."))
    check_step_up(user, password, sms_code)
    now = utcnow()
    _drop_other_roles(user.id, institution.id, now, grant.programme_id)
    if not _activate(grant.id, grant.code, user, now):
        db.session.rollback()
        raise ServiceError(_("This authorization code has just been used or is no longer valid."))
    record("grant_bound", target_type="admin_grant", target_id=grant.id, institution_id=institution.id,
           actor_id=user.id, details={"role": "manager", "user_id": user.id, "programme_id": grant.programme_id})
    _commit_or_refuse(_("This institution already has a business manager."))
    db.session.refresh(grant)
    return grant


# ----------------------------------------------------------------------------------------------- reset

@dataclass
class ResetResult:
    requested: int
    institutions: int = 0  # institutions that had something reset
    grants: int = 0
    out_of_scope: int = 0

    @property
    def untouched(self) -> int:
        return self.requested - self.out_of_scope - self.institutions


def reset(scope: Scope, actor, institution_ids, *, only_unactivated: bool = False) -> ResetResult:
    """解除授权 (every live grant of the institutions) or 批量解除未激活授权码 (issued codes only).

    One conditional UPDATE … RETURNING over the rows in scope, one audit row per grant, one commit.
    """
    ids = row_ids(institution_ids)
    allowed = _allowed_ids(scope, ids)
    result = ResetResult(requested=len(ids), out_of_scope=len(ids) - len(allowed))
    if not allowed:
        return result
    now = utcnow()
    conds = [AdminGrant.institution_id.in_(allowed), programme_clause(scope.programme_id)]
    if only_unactivated:
        conds += [AdminGrant.state == "issued", AdminGrant.role == "manager"]
    else:
        conds.append(AdminGrant.state.in_(LIVE_STATES))
    rows = db.session.execute(
        update(AdminGrant).where(and_(*conds)).values(state="reset", reset_at=now)
        .returning(AdminGrant.id, AdminGrant.institution_id, AdminGrant.role, AdminGrant.user_id)
        .execution_options(synchronize_session=False)).all()
    action = "grant_unactivated_reset" if only_unactivated else "grant_reset"
    for gid, inst_id, role, user_id in rows:
        record(action, target_type="admin_grant", target_id=gid, institution_id=inst_id, actor_id=actor.id,
               details={"role": role, "user_id": user_id})
    sessions.end_all_for([r[3] for r in rows if r[3]])  # the former admins sign in again, as what they now are
    db.session.commit()
    db.session.expire_all()
    result.grants = len(rows)
    result.institutions = len({r[1] for r in rows})
    return result
