"""The audit trail, read-only and scoped."""
from flask_babel import lazy_gettext as _l

from ..models import AuditLog
from .base import SecureModelView
from .formatters import local_time


class AuditLogView(SecureModelView):
    can_view_details = True
    column_list = ("created_at", "actor", "action", "target_type", "target_id", "institution", "ip")
    column_details_list = column_list + ("details",)
    column_labels = {"created_at": _l("Time"), "actor": _l("Actor"), "action": _l("Action"),
                     "target_type": _l("Target type"), "target_id": _l("Target"), "institution": _l("Institution"),
                     "ip": _l("IP address"), "details": _l("Details")}
    column_filters = ("action", "created_at", "actor.phone")
    column_default_sort = ("created_at", True)
    column_formatters = {"created_at": local_time}

    def __init__(self, **kwargs):
        super().__init__(AuditLog, name=_l("Audit log"), endpoint="audit", **kwargs)
