"""The personal centre (个人信息中心): real-name status, work unit, business entries (业务入口) of one user."""
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..i18n import N_
from ..models import AdminGrant, Institution
from ..models.grant import ROLES
from ..models.institution import CATEGORIES
from .programmes import participations
from .scope import current_scope
from .verification import IdentityStatus, is_verified, verification_status

# identity status -> the prompt shown right after signing in or up (None: nothing to ask).
PROMPTS = {
    "unverified": N_("You have not completed real-name verification; please verify your identity as prompted."),
    "rejected": N_("Your real-name verification failed; please correct the information and submit again."),
}


@dataclass(frozen=True)
class WorkUnit:
    """The 工作单位 card: what the manual says the unit search shows (机构编码、主管单位、机构类别)."""

    name: str
    code: str | None  # the unified social credit code (机构编码); legacy units may have none
    parent: str | None  # 主管单位
    category: str  # 机构类别, translated


@dataclass(frozen=True)
class Business:
    """One business the user takes part in: the institution and the role held there."""

    institution: str
    role: str  # translated


@dataclass(frozen=True)
class Centre:
    """Everything /me shows besides the staff profile."""

    identity: IdentityStatus
    unit: WorkUnit | None
    can_add_business: bool  # verified: 添加业务 (/grants/bind)
    is_admin: bool  # holds admin rights: the back office
    businesses: list[Business] = field(default_factory=list)
    programmes: list = field(default_factory=list)  # services.programmes.Participation: 我参与的业务


def work_unit(institution: Institution | None) -> WorkUnit | None:
    """The work-unit card of an institution (None when no unit is chosen yet)."""
    if institution is None:
        return None
    return WorkUnit(name=institution.name, code=institution.uscc or None,
                    parent=institution.parent.name if institution.parent is not None else None,
                    category=_(CATEGORIES.get(institution.category, CATEGORIES["other"])))


def businesses_of(user) -> list[Business]:
    """The active grants (业务负责人 / 辅助管理员) the user holds, by institution name."""
    rows = db.session.execute(
        select(Institution.name, AdminGrant.role).join(AdminGrant, AdminGrant.institution_id == Institution.id)
        .where(AdminGrant.user_id == user.id, AdminGrant.state == "active").order_by(Institution.name)).all()
    return [Business(institution=name, role=_(ROLES.get(role, role))) for name, role in rows]


def centre_for(user) -> Centre:
    """The personal centre of the signed-in user."""
    scope = current_scope()
    verified = is_verified(user)  # 我参与的业务 is shown once the identity is verified (manual 004)
    return Centre(identity=verification_status(user), unit=work_unit(user.institution),
                  can_add_business=verified, is_admin=scope.is_admin,
                  businesses=businesses_of(user) if scope.paths and not verified else [],
                  programmes=participations(user) if verified else [])


def verification_prompt(user) -> str | None:
    """What to tell a user who has just signed in or up about real-name verification (None: nothing)."""
    msgid = PROMPTS.get(user.identity_status or "unverified")
    return _(msgid) if msgid else None
