"""The audit trail (/admin/audit/): read-only, scoped, filterable by actor, action and date."""
from flask import abort, current_app
from flask_admin import expose
from flask_babel import gettext as _, lazy_gettext as _l

from ..i18n import N_
from ..models import AuditLog
from ..services import jobs
from ..services.audit import AUDIT_ACTIONS, TARGET_TYPES, describe, record_alone
from ..services.audit_export import audit_export_query, write_audit_xlsx
from ..services.export import COLUMN_SETS, describe_filters, download_names, filters_text, scope_names
from ..services.scope import current_scope
from .base import SecureModelView
from .export_pages import XlsxExportMixin
from .formatters import label, local_time
from .staff_filters import LocalDateBetweenFilter, TextContainsFilter, TextEqualFilter


class ActionFilter(TextEqualFilter):
    """操作: the known actions offered by label; any other code typed into the URL still filters exactly."""

    def __init__(self):
        super().__init__(AuditLog.action, _l("Action"),
                         options=lambda: [(code, _(msgid)) for code, msgid in AUDIT_ACTIONS.items()])


# Which grid an export row's recorded filters belong to (their labels are that grid's filters).
EXPORT_GRIDS = {"export_staff": "staff", "export_audit": "audit"}


def _grid_filters(view, action: str) -> list:
    endpoint = EXPORT_GRIDS.get(action)
    if endpoint is None:
        return []
    grid = next((v for v in view.admin._views if getattr(v, "endpoint", None) == endpoint), None)
    return list(getattr(grid, "_filters", None) or ())


def details_text(view, action: str, details, full: bool = False) -> str:
    """The details as a sentence (services.audit.describe); an export's recorded filters (stable codes) and column
    set in the reader's language, through the labels of the grid it was made from."""
    if isinstance(details, dict) and action in EXPORT_GRIDS:
        details = dict(details)
        if details.get("filters"):
            details["filters"] = filters_text(_grid_filters(view, action), details["filters"])
        code = details.get("columns")
        if code in COLUMN_SETS:
            details["columns"] = _(COLUMN_SETS[code][0])
    return describe(action, details, full)


def _details(view, context, model, name):
    """The details as a sentence, shortened for the grid (the detail page gives it in full)."""
    text = details_text(view, model.action, model.details)
    return text if len(text) <= 160 else text[:157] + "…"


def _actor(view, context, model, name):
    actor = model.actor
    return f"{actor.name or ''} {actor.phone}".strip() if actor is not None else ""


def audit_view(app=None) -> "AuditLogView":
    """The app's audit grid view (views are built per app by init_admin)."""
    return next(v for admin in (app or current_app).extensions["admin"] for v in admin._views
                if isinstance(v, AuditLogView))


def _run_audit_export(job, progress):
    """Handler of audit_xlsx jobs: the app's audit view runs the export."""
    return audit_view().run_export_job(job, progress)


class AuditLogView(XlsxExportMixin, SecureModelView):
    can_view_details = True
    can_export = True  # the export link of the list's menu; the export itself is ours (XlsxExportMixin)
    export_types = ["xlsx"]
    export_job_kind = "audit_xlsx"
    export_progress_title = N_("Exporting the audit log")
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
                                "details": lambda v, c, m, n: details_text(v, m.action, m.details, full=True)}

    def __init__(self, **kwargs):
        # Built per view: dotted-path filters bind to the model of the view that owns them.
        self.column_filters = [
            ActionFilter(),
            TextEqualFilter("actor.phone", _l("Actor's mobile number")),
            TextContainsFilter("actor.name", _l("Actor's name")),
            LocalDateBetweenFilter(AuditLog.created_at, _l("Time")),
        ]
        super().__init__(AuditLog, name=_l("Audit log"), endpoint="audit", **kwargs)
        jobs.register(self.export_job_kind, _run_audit_export)

    @expose("/export/<export_type>/")
    def export(self, export_type):
        """GET /admin/audit/export/xlsx/: the grid's scoped, filtered rows in its order, ready to print."""
        if export_type != "xlsx":
            abort(404)
        return self._export()

    def _export_plan(self, view_args):
        column = self._get_column_by_idx(view_args.sort)
        total, query = self.get_list(0, column[0] if column else None, view_args.sort_desc, view_args.search,
                                     view_args.filters, execute=False, page_size=0)
        return view_args, column, query, int(total or 0)

    def _write_export(self, query, fh, exported_at, progress=None) -> int:
        return write_audit_xlsx(audit_export_query(query), fh, scope_names(current_scope())[0], exported_at,
                                progress, details_text=lambda action, d: details_text(self, action, d, full=True))

    def _audit_export(self, rows, view_args, column, actor_id=None, job_id=None, ip=None) -> None:
        scope = current_scope()
        details = {"rows": rows, "filters": describe_filters(self._filters, view_args.filters),
                   "search": view_args.search, "sort": column[0] if column else None,
                   "desc": bool(view_args.sort_desc)}
        if job_id:
            details["job"] = job_id
        record_alone("export_audit", target_type=None, actor_id=actor_id, ip=ip, details=details,
                     institution_id=scope.institution_ids[0] if scope.institution_ids else None)

    def _export_names(self, exported_at):
        return download_names(_("Audit log"), "audit-log", scope_names(current_scope())[1], exported_at)
