"""The audit trail (/admin/audit/): read-only, scoped, filterable by actor, action and date."""
from flask_babel import gettext as _, lazy_gettext as _l

from ..i18n import N_
from ..models import AuditLog
from ..services.audit import describe
from .base import SecureModelView
from .formatters import label, local_time
from .staff import LocalDateBetweenFilter, TextContainsFilter, TextEqualFilter

# Audit action code -> label msgid. Codes missing here are shown as they are.
AUDIT_ACTIONS = {
    "review_approve": N_("Review: approved"),
    "review_reject": N_("Review: rejected"),
    "review_revert": N_("Review: approval reverted"),
    "export_staff": N_("Exported the staff list"),
    "view_id_number": N_("Viewed a full document number"),
    "login_failed": N_("Sign-in failed"),
    "register": N_("Registered an account"),
    "password_change_failed": N_("Password change failed"),
    "account_update": N_("Updated account information"),
    "application_submitted": N_("New-institution application submitted"),
    "application_approved": N_("New-institution application included"),
    "application_rejected": N_("New-institution application rejected"),
    "institution_created": N_("Institution created"),
    "institution_updated": N_("Institution updated"),
    "institution_moved": N_("Supervising institution changed"),
    "confirmation_code_viewed": N_("Viewed the unit confirmation code"),
    "confirmation_code_regenerated": N_("Regenerated the unit confirmation code"),
    "grant_code_issued": N_("Authorization code issued"),
    "grant_code_expired_reset": N_("Expired authorization code revoked"),
    "grant_bound": N_("Authorization code bound"),
    "grant_authorized_directly": N_("Authorized directly"),
    "assistant_added": N_("Assistant admin added"),
    "assistant_removed": N_("Assistant admin removed"),
    "manager_transferred": N_("Business manager transferred"),
    "identity.submit": N_("Identity verification submitted"),
    "identity.view_number": N_("Viewed a verification document number"),
    "identity.changed": N_("Identity changed"),
}
TARGET_TYPES = {
    "staff_profile": N_("Staff profile"),
    "user": N_("User"),
    "phone": N_("Mobile number"),
    "institution": N_("Institution"),
    "institution_application": N_("New-institution application"),
    "admin_grant": N_("Authorization"),
    "identity_verification": N_("Identity verification"),
}


class ActionFilter(TextEqualFilter):
    """操作: the known actions offered by label; any other code typed into the URL still filters exactly."""

    def __init__(self):
        super().__init__(AuditLog.action, _l("Action"),
                         options=lambda: [(code, _(msgid)) for code, msgid in AUDIT_ACTIONS.items()])


def _details(view, context, model, name):
    """The details as a sentence (the detail page gives it in full)."""
    text = describe(model.action, model.details)
    return text if len(text) <= 160 else text[:157] + "…"


def _actor(view, context, model, name):
    actor = model.actor
    return f"{actor.name or ''} {actor.phone}".strip() if actor is not None else ""


class AuditLogView(SecureModelView):
    can_view_details = True
    column_list = ("created_at", "actor", "action", "target_type", "target_id", "institution", "details", "ip")
    column_details_list = column_list
    column_labels = {"created_at": _l("Time"), "actor": _l("Actor"), "action": _l("Action"),
                     "target_type": _l("Target type"), "target_id": _l("Target"), "institution": _l("Institution"),
                     "ip": _l("IP address"), "details": _l("Details")}
    column_sortable_list = ("created_at", "action")
    column_default_sort = [("created_at", True), ("id", True)]
    column_formatters = {"created_at": local_time, "action": label(AUDIT_ACTIONS, "action"),
                         "target_type": label(TARGET_TYPES, "target_type"), "actor": _actor, "details": _details}
    column_formatters_detail = {**column_formatters,
                                "details": lambda v, c, m, n: describe(m.action, m.details, full=True)}

    def __init__(self, **kwargs):
        # Built per view: dotted-path filters bind to the model of the view that owns them.
        self.column_filters = [
            ActionFilter(),
            TextEqualFilter("actor.phone", _l("Actor's mobile number")),
            TextContainsFilter("actor.name", _l("Actor's name")),
            LocalDateBetweenFilter(AuditLog.created_at, _l("Time")),
        ]
        super().__init__(AuditLog, name=_l("Audit log"), endpoint="audit", **kwargs)
