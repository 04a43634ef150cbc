"""Programmes (业务) on one platform: adding, editing and deactivating them, and who takes part in which.

Rules:
- A programme has a name, a unique code (lower-case letters, digits and hyphens; it names the programme's page
  /programmes/<code>), a description, and the institutions that take part: each listed institution with every
  institution below it (a subtree list, typed as names or unified social credit codes).
- The default programme (workforce registration, 卫生人员上报) takes part in every institution; its code stays,
  it cannot be deactivated, and its rights are the ones the back office (/admin/) asks (services.scope).
- A user takes part in a programme where he holds an active right (manager or assistant), or whose participating
  institutions include his work unit. Rights in a deactivated programme show nowhere and bind no code.
Every change writes an audit row in its transaction; a refused request writes nothing.
"""
import re
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import exists, func, literal, or_, select, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import AdminGrant, Institution, Programme
from ..models.grant import ROLES
from ..models.programme import programme_institution
from . import ServiceError, row_ids
from .audit import record
from .profiles import FieldErrors

CODE_RE = re.compile(r"^[a-z][a-z0-9-]{1,31}$")
NAME_MAX, DESCRIPTION_MAX, INSTITUTIONS_MAX = 64, 500, 50


def default_programme() -> Programme:
    """The workforce-registration programme (the migration creates it)."""
    return db.session.scalar(select(Programme).where(Programme.is_default).order_by(Programme.id).limit(1))


def by_code(code: str | None, *, active_only: bool = True) -> Programme | None:
    """The programme with this code (active ones only, unless asked), or None."""
    code = (code or "").strip().lower()
    if not code or len(code) > 32:
        return None
    stmt = select(Programme).where(Programme.code == code)
    if active_only:
        stmt = stmt.where(Programme.active)
    return db.session.scalar(stmt)


def all_programmes(*, active_only: bool = True) -> list[Programme]:
    """Programmes, the default first, then by name."""
    stmt = select(Programme).order_by(Programme.is_default.desc(), Programme.name)
    if active_only:
        stmt = stmt.where(Programme.active)
    return list(db.session.scalars(stmt))


def grid_query():
    """Every programme, as the legacy Query the /admin/programme/ grid pages (platform admins only)."""
    return db.session.query(Programme)


def grid_count_query():
    """count(*) of the programmes (the grid's pager total)."""
    return db.session.query(func.count()).select_from(Programme)


# -------------------------------------------------------------------------------------------- editing

def institutions_text(programme: Programme | None) -> str:
    """The participating institutions as the form shows them: one per line, by unified code or else by name."""
    if programme is None:
        return ""
    return "\n".join(i.uscc or i.name for i in programme.institutions)


def resolve_institutions(text: str | None) -> list[Institution]:
    """Participating institutions from lines of names or unified social credit codes; unknown ones are refused."""
    lines = []
    for raw in (text or "").replace("，", "\n").replace(",", "\n").splitlines():
        line = raw.strip()
        if line and line not in lines:
            lines.append(line)
    if len(lines) > INSTITUTIONS_MAX:
        raise FieldErrors({"institutions": _("At most %(n)d participating institutions; list a supervising "
                                             "institution instead of its subordinates.", n=INSTITUTIONS_MAX)})
    found: list[Institution] = []
    for line in lines:
        if len(line) > 128:
            raise FieldErrors({"institutions": _("Unknown institution: %(name)s", name=line[:20] + "…")})
        rows = list(db.session.scalars(select(Institution).where(
            or_(Institution.uscc == line.upper(), Institution.name == line)).limit(2)))
        if not rows:
            raise FieldErrors({"institutions": _("Unknown institution: %(name)s", name=line)})
        if len(rows) > 1:
            raise FieldErrors({"institutions": _("Several institutions are named %(name)s; enter its unified social "
                                                 "credit code instead.", name=line)})
        if rows[0] not in found:
            found.append(rows[0])
    return found


def save(programme: Programme | None, actor, *, name: str | None, code: str | None, description: str | None,
         institutions: str | None) -> Programme:
    """Add a programme (programme None) or change one; FieldErrors names every refused field."""
    name, code, description = (name or "").strip(), (code or "").strip().lower(), (description or "").strip()
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = _("Please enter the programme name.")
    elif len(name) > NAME_MAX:
        errors["name"] = _("The programme name may have at most %(n)d characters.", n=NAME_MAX)
    is_default = programme is not None and programme.is_default
    if is_default and code != programme.code:
        errors["code"] = _("The code of the default programme cannot be changed.")
    elif not code:
        errors["code"] = _("Please enter the programme code.")
    elif not CODE_RE.match(code):
        errors["code"] = _("The code must be 2 to 32 lower-case letters, digits or hyphens, starting with a letter.")
    elif db.session.scalar(select(Programme.id).where(Programme.code == code,
                                                      Programme.id != (programme.id if programme else 0))):
        errors["code"] = _("The code %(code)s is already used by another programme.", code=code)
    if len(description) > DESCRIPTION_MAX:
        errors["description"] = _("The description may have at most %(n)d characters.", n=DESCRIPTION_MAX)
    chosen: list[Institution] = []
    try:
        chosen = resolve_institutions(institutions)
    except FieldErrors as e:
        errors.update(e.errors)
    if "institutions" not in errors:
        if is_default and chosen:
            errors["institutions"] = _("The default programme takes part in every institution; leave this empty.")
        elif not is_default and not chosen:
            errors["institutions"] = _("Please enter at least one participating institution.")
    if errors:
        raise FieldErrors(errors)
    created = programme is None
    if created:
        programme = Programme(code=code, name=name, description=description, active=True, is_default=False)
        db.session.add(programme)
    else:
        programme.code, programme.name, programme.description = code, name, description
    programme.institutions = chosen
    try:
        db.session.flush()
    except IntegrityError as exc:  # another admin took the code at the same instant
        db.session.rollback()
        raise FieldErrors({"code": _("The code %(code)s is already used by another programme.", code=code)}) from exc
    record("programme_created" if created else "programme_changed", target_type="programme", target_id=programme.id,
           actor_id=actor.id, details={"name": name, "code": code, "institution_ids": [i.id for i in chosen]})
    db.session.commit()
    return programme


@dataclass
class ActiveResult:
    changed: int = 0
    refused_default: int = 0


def set_active(ids, active: bool, actor) -> ActiveResult:
    """Deactivate (停用) or reactivate programmes; the default programme is never deactivated."""
    ids = row_ids(ids)
    result = ActiveResult()
    if not ids:
        return result
    if not active:
        result.refused_default = db.session.scalar(
            select(func.count()).select_from(Programme).where(Programme.id.in_(ids), Programme.is_default)) or 0
    stmt = update(Programme).where(Programme.id.in_(ids), Programme.active != active)
    if not active:
        stmt = stmt.where(Programme.is_default.is_(False))
    rows = db.session.execute(stmt.values(active=active).returning(Programme.id)
                              .execution_options(synchronize_session=False)).all()
    for (pid,) in rows:
        record("programme_activated" if active else "programme_deactivated", target_type="programme",
               target_id=pid, actor_id=actor.id)
    db.session.commit()
    db.session.expire_all()
    result.changed = len(rows)
    return result


# ------------------------------------------------------------------------------------- who takes part

@dataclass
class Role:
    institution_id: int
    institution: str
    role: str  # manager | assistant
    label: str  # translated


@dataclass
class Participation:
    """One programme a user takes part in: his rights there, and whether his unit takes part."""

    programme: Programme
    roles: list[Role] = field(default_factory=list)
    by_unit: bool = False


def roles_in(user, programme_id: int) -> list[Role]:
    """The user's active rights in one programme, by institution."""
    return _rights(user, programme_id).get(programme_id, [])


def _rights(user, programme_id: int | None = None) -> dict[int, list[Role]]:
    """Active rights of the user in active programmes: programme id -> roles."""
    stmt = (select(AdminGrant.programme_id, Institution.id, Institution.name, AdminGrant.role)
            .join(Institution, Institution.id == AdminGrant.institution_id)
            .join(Programme, Programme.id == AdminGrant.programme_id)
            .where(AdminGrant.user_id == user.id, AdminGrant.state == "active", Programme.active)
            .order_by(Institution.path))
    if programme_id is not None:
        stmt = stmt.where(AdminGrant.programme_id == programme_id)
    by_programme: dict[int, list[Role]] = {}
    for pid, iid, iname, role in db.session.execute(stmt):
        by_programme.setdefault(pid, []).append(Role(iid, iname, role, _(ROLES.get(role, role))))
    return by_programme


def unit_takes_part(programme: Programme, institution: Institution | None) -> bool:
    """True when the institution lies in the programme's participating subtrees (the default: every one)."""
    if institution is None:
        return False
    if programme.is_default:
        return True
    return any(institution.path.startswith(i.path) for i in programme.institutions)


def participations(user) -> list[Participation]:
    """The programmes the user takes part in (我参与的业务), the default first, then by name (two queries)."""
    rights = _rights(user)
    unit = user.institution
    if unit is None:
        in_unit = literal(False)
    else:
        # The unit lies in one of the programme's participating subtrees: `unit.path LIKE institution.path || '%'`.
        in_unit = Programme.is_default | exists().where(
            programme_institution.c.programme_id == Programme.id,
            programme_institution.c.institution_id == Institution.id,
            literal(unit.path).like(Institution.path.concat("%")))
    rows = db.session.execute(select(Programme, in_unit.label("in_unit")).where(Programme.active)
                              .order_by(Programme.is_default.desc(), Programme.name)).all()
    return [Participation(p, rights.get(p.id, []), bool(by_unit)) for p, by_unit in rows
            if rights.get(p.id) or by_unit]


def require_active(code: str | None) -> Programme:
    """The active, non-default programme of a /programmes/<code> page, or ServiceError (a 404)."""
    programme = by_code(code)
    if programme is None or programme.is_default:
        raise ServiceError(_("No such programme."))
    return programme


# ------------------------------------------------------------------------------------ a programme's page

DESK_ROWS_MAX = 500


@dataclass
class Desk:
    """What /programmes/<code> shows one user: his roles, and the authorization of the institutions he authorizes."""

    programme: Programme
    roles: list[Role]
    by_unit: bool
    rows: list[Institution]  # the institutions whose codes he issues in this programme
    states: dict  # institution id -> grants.GrantState in this programme


def desk(user, programme: Programme) -> Desk:
    """The programme's page for this user; ServiceError when he takes no part in it (the view answers 404)."""
    from .grants import grant_states
    from .scope import scope_for

    scope = scope_for(user, programme.id)
    roles = roles_in(user, programme.id)
    by_unit = unit_takes_part(programme, user.institution)
    if not (roles or by_unit or scope.is_superuser):
        raise ServiceError(_("No such programme."))
    if scope.is_superuser:  # the platform admin authorizes the participating institutions themselves first
        rows = list(programme.institutions)
    elif scope.institution_ids:
        rows = list(db.session.scalars(select(Institution).where(Institution.parent_id.in_(scope.institution_ids))
                                       .order_by(Institution.path).limit(DESK_ROWS_MAX)))
    else:
        rows = []
    return Desk(programme, roles, by_unit, rows, grant_states([i.id for i in rows], programme.id))


def issuing_programmes(user, scope) -> list[Programme]:
    """The programmes whose codes this back-office user may issue: every active one for the platform admin, else
    the active ones he holds a right in (the default first)."""
    stmt = select(Programme).where(Programme.active).order_by(Programme.is_default.desc(), Programme.name)
    if not scope.is_superuser:
        stmt = stmt.where(Programme.is_default | Programme.id.in_(
            select(AdminGrant.programme_id).where(AdminGrant.user_id == user.id, AdminGrant.state == "active")))
    return list(db.session.scalars(stmt))


def teams(scope) -> list[tuple[Institution, list[AdminGrant]]]:
    """The institutions whose business manager the scope's user is in its programme, each with its active admins
    (the programme's 业务助理 page)."""
    from .grants import admins_of, managed_institutions

    return [(inst, admins_of(inst.id, scope.programme_id)) for inst in managed_institutions(scope)]
