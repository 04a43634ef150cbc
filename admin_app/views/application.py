"""/admin/application/ — new-institution applications (补增申请) under the admin's scope: include or refuse."""
from flask import flash, request
from flask_admin.actions import action
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user

from ..forms.registry import ReasonForm
from ..models import InstitutionApplication
from ..models.application import APPLICATION_STATUSES
from ..models.institution import CATEGORIES
from ..services import ServiceError, applications
from ..services.scope import current_scope
from .base import SecureModelView
from .formatters import label, local_time


class ApplicationView(SecureModelView):
    list_template = "admin/application/list.html"
    details_template = "admin/application/details.html"
    column_list = ("name", "uscc", "parent", "category", "region", "contact_name", "contact_phone", "status",
                   "created_at")
    column_details_list = ("name", "uscc", "parent", "category", "region", "address", "contact_name",
                           "contact_phone", "status", "reason", "institution", "created_at", "reviewed_at", "ip")
    column_labels = {"name": _l("Institution name"), "uscc": _l("Unified social credit code"),
                     "parent": _l("Supervising institution"), "category": _l("Category"), "region": _l("Region"),
                     "address": _l("Address"), "contact_name": _l("Contact person"),
                     "contact_phone": _l("Contact mobile number"), "status": _l("Review status"),
                     "reason": _l("Reason"), "institution": _l("Included as"), "created_at": _l("Submitted"),
                     "reviewed_at": _l("Reviewed"), "ip": _l("IP address")}
    column_searchable_list = ("name", "uscc", "contact_phone")
    column_filters = ("status",)
    column_default_sort = ("created_at", True)
    column_formatters = {"status": label(APPLICATION_STATUSES, "status"), "category": label(CATEGORIES, "category"),
                         "created_at": local_time, "reviewed_at": local_time,
                         "region": lambda v, c, m, n: m.region.name if m.region else ""}
    column_formatters_detail = column_formatters

    def __init__(self, **kwargs):
        super().__init__(InstitutionApplication, name=_l("Institution applications"), endpoint="application",
                         **kwargs)

    def get_empty_list_message(self):
        return _("No new-institution applications.")

    def _report(self, result) -> None:
        if result.moved:
            msg = (_("%(n)d application(s) included; the institutions are now in the library.", n=result.moved)
                   if result.action == "approve" else _("%(n)d application(s) refused.", n=result.moved))
            flash(msg, "success")
        for name, message in result.errors:
            flash(_("%(name)s could not be included: %(message)s", name=name, message=message), "danger")
        if result.skipped:
            flash(_("%(n)d selected application(s) were already handled or are outside your jurisdiction; "
                    "they were skipped.", n=result.skipped), "warning")

    @action("approve", _l("Include (approve)"), _l("Include the selected applications in the institution library?"))
    def action_approve(self, ids):
        self._report(applications.approve(current_scope(), current_user, ids))

    @action("reject", _l("Refuse (with reason)"))
    def action_reject(self, ids):
        form = ReasonForm()
        if "reason" in request.form and form.validate():
            try:
                result = applications.reject(current_scope(), current_user, ids, form.reason.data)
            except ServiceError as e:
                form.reason.errors = [str(e)]
            else:
                self._report(result)
                return None
        # Without a reason: answer with a reason form that keeps the chosen rows.
        return self.render("admin/application/reason.html", form=form, ids=ids,
                           action_url=self.get_url(".action_view"), return_url=self.get_url(".index_view"),
                           show_errors="reason" in request.form)
