"""The rights of one programme (业务) as its platform admin sees them on /admin/programme/rights/, and 解除授权.

Rules:
- Only the platform admin lists a programme's rights here (other admins manage theirs from the programme's page).
- A row is an institution with live rights in the programme: its manager (or unactivated code) and assistants.
- 解除授权 returns the chosen institutions to their original state in this programme only (services.grants.reset:
  every live grant there ends, the former admins' sessions end, an audit row per grant, one commit);
  批量解除未激活授权码 ends only the unactivated codes. The other programmes' rights of the same institutions stay.
"""
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import func, select

from ..extensions import db
from ..models import AdminGrant, Institution, Programme
from . import ServiceError, row_id, row_ids
from .grants import LIVE_STATES, ResetResult, reset
from .scope import scope_for

PAGE_SIZE = 50


@dataclass
class RightsRow:
    """One institution's live rights in the programme."""

    institution: Institution
    manager: AdminGrant | None = None  # the active manager, else the newest unactivated code
    assistants: list[AdminGrant] = field(default_factory=list)


@dataclass
class RightsPage:
    programme: Programme
    rows: list[RightsRow]
    total: int  # institutions with live rights
    page: int
    pages: int


def require_platform_admin(actor) -> None:
    """Refuse (ServiceError) anyone but the platform admin."""
    if not getattr(actor, "is_superuser", False):
        raise ServiceError(_("Only the platform admin manages the rights of a programme."))


def require_programme(programme_id) -> Programme:
    """The programme (active or not) a rights page names; ServiceError (a 404) otherwise."""
    pk = row_id(programme_id)
    programme = db.session.get(Programme, pk) if pk else None
    if programme is None:
        raise ServiceError(_("No such programme."))
    return programme


def _live(programme: Programme):
    return (AdminGrant.programme_id == programme.id) & AdminGrant.state.in_(LIVE_STATES)


def rights_page(actor, programme: Programme, page=1) -> RightsPage:
    """One page of the institutions holding live rights in the programme, in tree order (three queries)."""
    require_platform_admin(actor)
    total = db.session.scalar(select(func.count(func.distinct(AdminGrant.institution_id))).where(_live(programme)))
    pages = max(1, -(-(total or 0) // PAGE_SIZE))
    page = min(max(row_id(page) or 1, 1), pages)
    ids = list(db.session.scalars(
        select(Institution.id).where(Institution.id.in_(select(AdminGrant.institution_id).where(_live(programme))))
        .order_by(Institution.path).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)))
    rows = {i.id: RightsRow(i) for i in db.session.scalars(
        select(Institution).where(Institution.id.in_(ids)).order_by(Institution.path))} if ids else {}
    for g in db.session.scalars(select(AdminGrant).where(_live(programme), AdminGrant.institution_id.in_(ids))
                                .order_by(AdminGrant.issued_at, AdminGrant.id)) if ids else ():
        row = rows[g.institution_id]
        if g.role == "assistant":
            row.assistants.append(g)
        elif row.manager is None or row.manager.state != "active":  # the active manager outranks a code
            row.manager = g
    return RightsPage(programme, list(rows.values()), total or 0, page, pages)


def chosen(actor, programme: Programme, institution_ids) -> list[RightsRow]:
    """The chosen institutions that hold live rights in the programme (the confirmation lists them)."""
    require_platform_admin(actor)
    ids = row_ids(institution_ids)[:PAGE_SIZE * 4]
    if not ids:
        return []
    held = set(db.session.scalars(select(AdminGrant.institution_id).where(_live(programme),
                                                                           AdminGrant.institution_id.in_(ids))))
    return [RightsRow(i) for i in db.session.scalars(select(Institution).where(Institution.id.in_(held))
                                                      .order_by(Institution.path))]


def revoke(actor, programme: Programme, institution_ids, *, only_unactivated: bool = False) -> ResetResult:
    """解除授权 (or 批量解除未激活授权码) of the chosen institutions in this programme only."""
    require_platform_admin(actor)
    return reset(scope_for(actor, programme.id), actor, institution_ids, only_unactivated=only_unactivated)
