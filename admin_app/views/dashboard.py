"""The /admin/ dashboard: status counts of the signed-in admin's scope."""
from flask_admin import expose
from sqlalchemy import func, select

from ..extensions import db
from ..i18n import N_
from ..models.grant import ROLES
from ..models import Institution, StatusCounter
from ..services.scope import current_scope, restrict
from .base import SecureIndexView

# Count cards: label msgid -> statuses summed.
CARDS = (
    (N_("Reported"), ("submitted", "unit_rejected", "unit_approved", "rejected", "approved")),
    (N_("Pending review"), ("submitted",)),
    (N_("Rejected (all levels)"), ("unit_rejected", "rejected")),
    (N_("Unit approved"), ("unit_approved",)),
    (N_("Approved by institution"), ("approved",)),
)


def status_counts(scope) -> dict[str, int]:
    """Profiles per status over the scope, from the maintained counters (never a scan of the staff table)."""
    stmt = (select(StatusCounter.status, func.coalesce(func.sum(StatusCounter.n), 0))
            .join(Institution, Institution.id == StatusCounter.institution_id)
            .group_by(StatusCounter.status))
    stmt = restrict(stmt, Institution, scope)
    return {s: int(n) for s, n in db.session.execute(stmt)}


class DashboardView(SecureIndexView):
    @expose("/")
    def index(self):
        scope = current_scope()
        counts = status_counts(scope)
        cards = [(label, sum(counts.get(s, 0) for s in statuses), statuses) for label, statuses in CARDS]
        roots = db.session.scalars(select(Institution).where(Institution.id.in_(scope.institution_ids))
                                   .order_by(Institution.path)).all() if not scope.is_superuser else \
            db.session.scalars(select(Institution).where(Institution.parent_id.is_(None))).all()
        return self.render("admin/dashboard.html", cards=cards, roots=roots, scope=scope, roles=ROLES)
