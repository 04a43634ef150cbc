"""A unit's admins (services.grants' rules): direct authorization, assistants and the transfer of the manager role.

A manager adds and removes assistants (辅助管理员) and transfers the manager role (业务负责人转移) in one
transaction; an issuer may bind a subordinate's manager grant to a verified ID number directly (直接授权). Each
needs step-up verification (the actor's password plus an SMS code) and writes its audit row in the same
transaction; a refused request writes nothing.
"""
from flask_babel import gettext as _
from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import AdminGrant, Institution, User
from ..models.types import utcnow
from . import ServiceError, row_ids, sessions
from .audit import record
from .grants import (
    GrantNotFound,
    _activate,
    _check_belongs,
    _commit_or_refuse,
    _drop_other_roles,
    _fresh_code,
    _has_active_manager,
    _not_expired,
    check_step_up,
    code_ttl,
    is_verified,
    require_issuable,
)
from .scope import Scope, programme_clause

# --------------------------------------------------------------------------------- direct authorization

def find_verified(*, phone: str | None = None, id_type: str | None = None, id_number: str | None = None) -> User:
    """A verified user by phone or by document number (blind index), or a clear refusal."""
    from .identity import check_document, indexes_for

    user = None
    if phone:
        user = db.session.scalar(select(User).where(User.phone == phone))
    elif id_number:
        number = check_document(id_type or "resident_id", id_number, lookup=True)  # IdentityError is a ServiceError
        user = db.session.scalar(select(User).where(User.id_type == (id_type or "resident_id"),
                                                    User.id_number_index.in_(indexes_for(id_type or "resident_id",
                                                                                         number))))
    else:
        raise ServiceError(_("Please enter the person's mobile number or ID number."))
    if user is None or not user.is_active or not is_verified(user):
        raise ServiceError(_("No user with this number has passed real-name verification; the person must "
                             "register and complete real-name verification first."))
    return user


def authorize_directly(scope: Scope, actor, institution_id, id_type: str, id_number: str,
                       password: str | None, sms_code: str | None) -> AdminGrant:
    """直接授权: the issuer binds a subordinate's manager grant to a verified identity number."""
    institution = require_issuable(scope, institution_id)
    target = find_verified(id_type=id_type, id_number=id_number)
    _check_belongs(target, institution)
    pid = scope.programme_id
    if _has_active_manager(institution.id, pid):
        raise ServiceError(_("This institution already has a business manager; revoke the authorization first."))
    check_step_up(actor, password, sms_code)
    now = utcnow()
    _drop_other_roles(target.id, institution.id, now, pid)
    live = db.session.scalar(select(AdminGrant).where(
        AdminGrant.institution_id == institution.id, AdminGrant.role == "manager", AdminGrant.state == "issued",
        _not_expired(now), programme_clause(pid)).order_by(AdminGrant.issued_at.desc()).limit(1))
    if live is not None:
        if not _activate(live.id, None, target, now):
            db.session.rollback()
            raise ServiceError(_("The authorization code has just been used; please reload the page."))
        grant_id = live.id
    else:
        grant = AdminGrant(institution_id=institution.id, programme_id=pid, role="manager", code=_fresh_code(),
                           state="active",
                           user_id=target.id, issued_by_id=actor.id, issued_at=now, expires_at=now + code_ttl(),
                           activated_at=now)
        db.session.add(grant)
        try:
            db.session.flush()
        except IntegrityError as exc:
            db.session.rollback()
            raise ServiceError(_("This institution already has a business manager.")) from exc
        grant_id = grant.id
    record("grant_authorized_directly", target_type="admin_grant", target_id=grant_id,
           institution_id=institution.id, actor_id=actor.id, details={"role": "manager", "user_id": target.id})
    _commit_or_refuse(_("This institution already has a business manager."))
    return db.session.get(AdminGrant, grant_id)



# ----------------------------------------------------------------------------------- assistants, transfer

def require_manager(scope: Scope, institution_id) -> Institution:
    """The institution if the scope's user is its active manager; otherwise GrantNotFound."""
    ids = row_ids([institution_id])
    if not ids or scope.roles.get(ids[0]) != "manager":
        raise GrantNotFound(_("Only the business manager of this institution may do this."))
    return db.session.get(Institution, ids[0])


def _manager_and_target(scope: Scope, actor, institution_id, phone, id_type, id_number):
    """The institution the actor manages and the verified person of it named by phone or ID number."""
    institution = require_manager(scope, institution_id)
    target = find_verified(phone=phone, id_type=id_type, id_number=id_number)
    if target.id == actor.id:
        raise ServiceError(_("You are already the business manager of this institution."))
    _check_belongs(target, institution)
    return institution, target


def add_assistant(scope: Scope, actor, institution_id, *, phone: str | None = None, id_type: str | None = None,
                  id_number: str | None = None, password: str | None = None,
                  sms_code: str | None = None) -> AdminGrant:
    """添加辅助管理员: the manager gives a verified user of the institution an assistant grant."""
    institution, target = _manager_and_target(scope, actor, institution_id, phone, id_type, id_number)
    if db.session.scalar(select(exists().where(AdminGrant.institution_id == institution.id,
                                               AdminGrant.user_id == target.id, AdminGrant.state == "active",
                                               programme_clause(scope.programme_id)))):
        raise ServiceError(_("This person is already an admin of this institution."))
    check_step_up(actor, password, sms_code)
    now = utcnow()
    grant = AdminGrant(institution_id=institution.id, programme_id=scope.programme_id, role="assistant", code=None,
                       state="active",
                       user_id=target.id, issued_by_id=actor.id, issued_at=now, activated_at=now)
    db.session.add(grant)
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise ServiceError(_("This person is already an admin of this institution.")) from exc
    record("assistant_added", target_type="admin_grant", target_id=grant.id, institution_id=institution.id,
           actor_id=actor.id, details={"role": "assistant", "user_id": target.id})
    _commit_or_refuse(_("This person is already an admin of this institution."))
    return grant


def _same_programme(grant: AdminGrant, scope: Scope) -> bool:
    """The grant belongs to the programme whose rights the scope holds."""
    if scope.programme_id is not None:
        return grant.programme_id == scope.programme_id
    return bool(grant.programme.is_default)


def remove_assistant(scope: Scope, actor, grant_id, password: str | None, sms_code: str | None) -> None:
    """移除辅助管理员 (with step-up)."""
    ids = row_ids([grant_id])
    grant = db.session.get(AdminGrant, ids[0]) if ids else None
    if (grant is None or grant.role != "assistant" or scope.roles.get(grant.institution_id) != "manager"
            or not _same_programme(grant, scope)):
        raise GrantNotFound(_("Only the business manager of this institution may do this."))
    if grant.state != "active":
        raise ServiceError(_("This assistant admin has already been removed."))
    check_step_up(actor, password, sms_code)
    now = utcnow()
    res = db.session.execute(update(AdminGrant).where(AdminGrant.id == grant.id, AdminGrant.state == "active")
                             .values(state="reset", reset_at=now).execution_options(synchronize_session=False))
    if res.rowcount != 1:
        db.session.rollback()
        raise ServiceError(_("This assistant admin has already been removed."))
    record("assistant_removed", target_type="admin_grant", target_id=grant.id, institution_id=grant.institution_id,
           actor_id=actor.id, details={"role": "assistant", "user_id": grant.user_id})
    sessions.end_all_for([grant.user_id])
    db.session.commit()
    db.session.expire_all()


def transfer_manager(scope: Scope, actor, institution_id, *, phone: str | None = None, id_type: str | None = None,
                     id_number: str | None = None, password: str | None = None,
                     sms_code: str | None = None) -> AdminGrant:
    """转移业务负责人: in one transaction the actor's manager grant ends and the target's begins."""
    institution, target = _manager_and_target(scope, actor, institution_id, phone, id_type, id_number)
    check_step_up(actor, password, sms_code)
    now = utcnow()
    mine = db.session.execute(
        update(AdminGrant).where(AdminGrant.institution_id == institution.id, AdminGrant.role == "manager",
                                 AdminGrant.state == "active", AdminGrant.user_id == actor.id,
                                 programme_clause(scope.programme_id))
        .values(state="reset", reset_at=now).returning(AdminGrant.id)
        .execution_options(synchronize_session=False)).all()
    if len(mine) != 1:
        db.session.rollback()
        raise ServiceError(_("You are no longer the business manager of this institution."))
    _drop_other_roles(target.id, institution.id, now, scope.programme_id)
    grant = AdminGrant(institution_id=institution.id, programme_id=scope.programme_id, role="manager", code=None,
                       state="active", user_id=target.id,
                       issued_by_id=actor.id, issued_at=now, activated_at=now)
    db.session.add(grant)
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise ServiceError(_("The transfer could not be completed; please reload the page and try again.")) from exc
    record("manager_transferred", target_type="admin_grant", target_id=grant.id, institution_id=institution.id,
           actor_id=actor.id, details={"from_user_id": actor.id, "to_user_id": target.id,
                                       "previous_grant_id": mine[0][0]})
    sessions.end_all_for([actor.id])  # the former manager's other sessions; the one transferring stays
    _commit_or_refuse(_("The transfer could not be completed; please reload the page and try again."))
    db.session.expire_all()
    return grant
