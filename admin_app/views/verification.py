"""The real-name verification queue (/admin/verification/): scoped list, detail with scans, approve / reject."""
from flask import abort, flash, request
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.sqla.filters import FilterEqual
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import joinedload

from ..models import IdentityVerification
from ..models.user import ID_TYPES
from ..models.verification import VERIFICATION_STATUSES
from ..services import ServiceError
from ..services.scope import current_scope
from ..services.verification import REASON_MAX, approve, reject, reveal_number, scan_path
from .base import SecureModelView
from .formatters import label, local_time
from .verify import send_scan


def _institution(view, context, model, name):
    inst = model.user.institution if model.user is not None else None
    return inst.name if inst is not None else ""


def _options(mapping):
    return lambda: [(code, _(text)) for code, text in mapping.items()]


class IdentityVerificationView(SecureModelView):
    list_template = "admin/verification/list.html"
    details_template = "admin/verification/details.html"
    column_list = ("created_at", "name", "id_type", "id_number_masked", "user.institution", "status")
    column_labels = {"created_at": _l("Submitted at"), "name": _l("Name"), "id_type": _l("Document type"),
                     "id_number_masked": _l("Document number"), "user.institution": _l("Institution"),
                     "status": _l("Status"), "user.phone": _l("Mobile phone")}
    column_sortable_list = ("created_at", "name", "id_type", "status")
    column_searchable_list = ("name", "user.phone")
    # 'pending' sorts before 'rejected' and 'verified': the queue shows what waits first, oldest first.
    column_default_sort = [("status", False), ("created_at", False)]
    column_formatters = {"created_at": local_time, "id_type": label(ID_TYPES, "id_type"),
                         "status": label(VERIFICATION_STATUSES, "status"), "user.institution": _institution}

    def __init__(self, **kwargs):
        self.column_filters = [
            FilterEqual(IdentityVerification.status, _l("Status"), options=_options(VERIFICATION_STATUSES)),
            FilterEqual(IdentityVerification.id_type, _l("Document type"), options=_options(ID_TYPES)),
        ]
        super().__init__(IdentityVerification, name=_l("Real-name verification review"), endpoint="verification",
                         **kwargs)

    def get_query(self):
        return super().get_query().options(joinedload(IdentityVerification.user))

    def render(self, template, **kwargs):
        if template == self.details_template and kwargs.get("model") is not None:
            model = kwargs["model"]  # get_one() has checked the scope: the full number, audit-logged
            kwargs["full_number"] = reveal_number(model, current_user.id)
            kwargs["can_decide"] = model.status == "pending" and model.user_id != current_user.id
            kwargs["reason_max"] = REASON_MAX
            kwargs["id_types"], kwargs["statuses"] = ID_TYPES, VERIFICATION_STATUSES
        elif template == self.list_template:
            kwargs["reason_max"] = REASON_MAX
        return super().render(template, **kwargs)

    @expose("/scan/<int:request_id>/<side>")
    def scan(self, request_id: int, side: str):
        """A scan of a request in scope; anything else (out of scope, no such side) is a 404."""
        path = scan_path(self.get_one(request_id), side)
        if path is None:
            abort(404)
        return send_scan(path)

    # Single decisions (detail page buttons) and bulk ones (ticked rows) both arrive here.
    @action("approve", _l("Approve"))
    def action_approve(self, ids):
        try:
            result = approve(ids, current_user.id, current_scope())
        except ServiceError as e:
            flash(str(e), "error")
            return None
        self._report(result, _("Approved: %(n)d.", n=result.moved))
        return None

    @action("reject", _l("Reject"))
    def action_reject(self, ids):
        reason = request.form.get("reason", "")
        try:
            result = reject(ids, current_user.id, current_scope(), reason)
        except ServiceError as e:
            # Without a (valid) reason: answer with a reason form that keeps the selected rows.
            return self.render("admin/verification/reason.html", ids=ids, error=str(e), reason=reason,
                               return_url=request.form.get("url") or self.get_url(".index_view"),
                               reason_max=REASON_MAX, action_name="reject")
        self._report(result, _("Rejected: %(n)d.", n=result.moved))
        return None

    @staticmethod
    def _report(result, done: str) -> None:
        if result.moved:
            flash(done, "success")
        if result.conflicts:
            flash(_("%(n)d skipped: the document number is already verified on another account.",
                    n=result.conflicts), "error")
        others = result.skipped - result.conflicts
        if others:
            flash(_("%(n)d skipped: already handled, your own request, or outside your jurisdiction.", n=others),
                  "warning")
