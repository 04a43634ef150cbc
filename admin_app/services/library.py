"""The institution library in the back office: edits, moves in the tree, confirmation codes (单位确认码)."""
from flask_babel import gettext as _
from sqlalchemy import case, func, literal, select, update

from ..extensions import db
from ..models import Institution
from ..models.institution import CATEGORIES
from . import ServiceError, row_id
from .audit import record
from .codes import new_code
from .counters import shift_subtree
from .institutions import initials
from .scope import Scope, is_unit_admin


class InstitutionNotFound(ServiceError):
    """Not there, or not in the admin's scope (views answer 404)."""


def get_in_scope(scope: Scope, institution_id) -> Institution:
    pk = row_id(institution_id)
    if pk is None:
        raise InstitutionNotFound(_("The institution does not exist."))
    inst = db.session.get(Institution, pk)
    if inst is None or not scope.covers_path(inst.path):
        raise InstitutionNotFound(_("The institution does not exist."))
    return inst


def unit_panel(scope: Scope) -> dict | None:
    """For a unit admin (his institutions have none below them): his unit's id, name and 单位确认码, shown above
    the count cards of 上报人员列表 as in the manual; None for commission officers and the superuser."""
    if not is_unit_admin(scope):  # the scope already knows whether its institutions have any below them
        return None
    row = db.session.execute(
        select(Institution.id, Institution.name, Institution.confirmation_code)
        .where(Institution.id.in_(scope.institution_ids)).order_by(Institution.id).limit(1)).first()
    return {"id": row.id, "name": row.name, "code": row.confirmation_code} if row else None


def can_manage_code(scope: Scope, inst: Institution) -> bool:
    """The confirmation code is for the admins of that very institution (and the platform superuser)."""
    return scope.is_superuser or inst.id in scope.institution_ids


def _code_institution(scope: Scope, institution_id) -> Institution:
    inst = get_in_scope(scope, institution_id)
    if not can_manage_code(scope, inst):
        raise InstitutionNotFound(_("Only the admins of this institution may see its confirmation code."))
    return inst


def view_confirmation_code(scope: Scope, actor, institution_id) -> Institution:
    """Show the unit confirmation code (audit-logged)."""
    inst = _code_institution(scope, institution_id)
    record("confirmation_code_viewed", target_type="institution", target_id=inst.id, institution_id=inst.id,
           actor_id=actor.id)
    db.session.commit()
    return inst


def regenerate_confirmation_code(scope: Scope, actor, institution_id) -> Institution:
    """A fresh unit confirmation code; the old one stops working at once (audit-logged)."""
    inst = _code_institution(scope, institution_id)
    code = new_code(8)
    while code == inst.confirmation_code:
        code = new_code(8)
    inst.confirmation_code = code
    record("confirmation_code_regenerated", target_type="institution", target_id=inst.id, institution_id=inst.id,
           actor_id=actor.id)
    db.session.commit()
    return inst


def update_institution(scope: Scope, actor, institution_id, *, name: str, category: str, address: str) -> dict:
    """Edit name, category and address; returns the changes (old → new), audit-logged."""
    inst = get_in_scope(scope, institution_id)
    name = " ".join((name or "").split())
    address = " ".join((address or "").split())
    if not name:
        raise ServiceError(_("Please enter the institution name."))
    if len(name) > 128:
        raise ServiceError(_("The institution name must have at most %(n)d characters.", n=128))
    if category not in CATEGORIES:
        raise ServiceError(_("Unknown institution category."))
    if len(address) > 255:
        raise ServiceError(_("The address must have at most %(n)d characters.", n=255))
    if name != inst.name and db.session.scalar(select(Institution.id).where(
            Institution.parent_id == inst.parent_id, Institution.name == name, Institution.id != inst.id)):
        raise ServiceError(_("An institution with this name already exists under the same supervising institution."))
    changes = {}
    for attr, value in (("name", name), ("category", category), ("address", address)):
        if getattr(inst, attr) != value:
            changes[attr] = [getattr(inst, attr), value]
            setattr(inst, attr, value)
    if "name" in changes:
        inst.name_initials = initials(name)
    if changes:
        record("institution_updated", target_type="institution", target_id=inst.id, institution_id=inst.id,
               actor_id=actor.id, details={"changes": changes})
    db.session.commit()
    return changes


def move_institution(scope: Scope, actor, institution_id, new_parent_id) -> int:
    """Superuser only: put an institution under another parent; its subtree's paths in one UPDATE.

    Returns how many institutions (the moved one and its descendants) got a new path.
    """
    if not scope.is_superuser:
        raise InstitutionNotFound(_("Only the platform administrator may move an institution."))
    inst = get_in_scope(scope, institution_id)
    parent = get_in_scope(scope, new_parent_id)
    if parent.id == inst.id or parent.path.startswith(inst.path):
        raise ServiceError(_("An institution cannot be moved under itself or one of its subordinates."))
    if parent.id == inst.parent_id:
        raise ServiceError(_("The institution is already under this supervising institution."))
    if db.session.scalar(select(Institution.id).where(Institution.parent_id == parent.id,
                                                      Institution.name == inst.name)):
        raise ServiceError(_("An institution with this name already exists under the same supervising institution."))
    old_prefix, new_prefix = inst.path, f"{parent.path}{inst.id}/"
    delta = parent.depth + 1 - inst.depth
    old_parent_id = inst.parent_id
    # The subtree's staff now count for the new ancestors, not the old ones.
    shift_subtree(inst.id, old_prefix, new_prefix)
    # Paths hold only digits and slashes: no LIKE escaping needed.
    res = db.session.execute(
        update(Institution).where(Institution.path.like(old_prefix + "%"))
        .values(path=literal(new_prefix) + func.substr(Institution.path, len(old_prefix) + 1),
                depth=Institution.depth + delta,
                parent_id=case((Institution.id == inst.id, parent.id), else_=Institution.parent_id))
        .execution_options(synchronize_session=False))
    record("institution_moved", target_type="institution", target_id=inst.id, institution_id=inst.id,
           actor_id=actor.id, details={"from_parent_id": old_parent_id, "to_parent_id": parent.id,
                                       "old_path": old_prefix, "new_path": new_prefix, "subtree": res.rowcount})
    db.session.commit()
    db.session.expire_all()
    return res.rowcount
