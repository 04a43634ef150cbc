"""The /admin/ dashboard: counts, per-child table and charts of the signed-in admin's scope (from counters)."""
from flask import abort, flash, redirect, request
from flask_admin import expose
from flask_babel import gettext as _
from flask_login import current_user

from ..i18n import N_
from ..models.grant import ROLES
from ..services import dashboard as figures, notices
from ..services.clock import local_text
from ..services.scope import current_scope
from ..services.sms import budget_alarm
from .base import SecureIndexView

# Count cards: label msgid -> statuses summed.
CARDS = (
    (N_("Reported"), ("submitted", "unit_rejected", "unit_approved", "rejected", "approved")),
    (N_("Pending review"), ("submitted",)),
    (N_("Rejected (all levels)"), ("unit_rejected", "rejected")),
    (N_("Unit approved"), ("unit_approved",)),
    (N_("Approved by institution"), ("approved",)),
)
# The staff grid's status filter value of each card, in CARDS order.
CARD_FILTERS = ("reported", "submitted", "rejected_all", "unit_approved", "approved")
NOTICES_SHOWN = 10  # the latest failed notices listed; the count and the button cover all of them


class DashboardView(SecureIndexView):
    def _staff_view(self):
        return next((v for v in self.admin._views if getattr(v, "endpoint", None) == "staff"), None)

    @expose("/")
    def index(self):
        scope = current_scope()
        raw = request.args.get("institution")
        if raw is not None:
            node = figures.resolve(scope, raw)
            if node is None:
                abort(404)  # not an institution, or not one of this admin's
        else:
            node = figures.home(scope)
        data = figures.dashboard(scope, node)
        totals = data["totals"]
        staff = self._staff_view()

        def grid(status_value, institution_id=None):
            return staff.grid_url(status_value, institution_id) if staff is not None else None

        node_id = node.id if node is not None else None
        cards = [(label, totals.count(*statuses), grid(value, node_id))
                 for (label, statuses), value in zip(CARDS, CARD_FILTERS, strict=True)]
        rows = [{"inst": inst, "fig": fig, "drill": self.get_url(".index", institution=inst.id),
                 "grid": grid("reported", inst.id)} for inst, fig in data["children"]]
        chart = {
            "labels": [inst.name for inst, _fig in data["children"]],
            "sampling": [fig["approved_sampling"] for _inst, fig in data["children"]],
            "testing": [fig["approved_testing"] for _inst, fig in data["children"]],
            "days": [d[5:] for d, _n in data["daily"]],
            "submissions": [n for _d, n in data["daily"]],
            "text": {"sampling": _("Sampling staff approved"), "testing": _("Testing staff approved"),
                     "submissions": _("Staff reported")},
        }
        roots = figures.scope_institutions(scope) if node is None or node_id in scope.institution_ids else []
        return self.render("admin/dashboard.html", cards=cards, roots=roots, scope=scope, roles=ROLES, node=node,
                           crumbs=figures.breadcrumb(scope, node), rows=rows, own=data["own"],
                           total=data["total"], chart=chart, home_url=self.get_url(".index"),
                           node_grid=grid("reported", node_id) if node is not None else None,
                           sms_alarm=budget_alarm() if scope.is_superuser else None,
                           notices=notices.failed_for(scope, NOTICES_SHOWN), notice_kinds=notices.KINDS,
                           local_text=local_text, resend_url=self.get_url(".resend_notices"))

    @expose("/notices/resend", methods=("POST",))
    def resend_notices(self):
        """Send the failed SMS notices of this admin's scope again (the dashboard's 重新发送 button)."""
        n = notices.resend_failed(current_scope(), current_user.id)
        if n:
            flash(_("%(n)d failed SMS notices were queued to be sent again.", n=n), "success")
        else:
            flash(_("There were no failed SMS notices to send again."), "info")
        return redirect(self.get_url(".index"), code=303)
