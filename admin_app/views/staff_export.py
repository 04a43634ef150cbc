"""The staff grid's export and its background jobs' pages (/admin/staff/export/…, /admin/staff/jobs/…).

Which rows and columns an export holds, its audit row and the job that writes a big one are services.export's;
this mixin only answers the requests.
"""
import tempfile

from flask import abort, current_app, flash, redirect, request, send_file
from flask_admin import expose
from flask_babel import get_locale, gettext as _
from flask_login import current_user

from ..i18n import N_
from ..models.types import utcnow
from ..services import jobs, staff_export as export
from ..services.audit import client_ip
from ..services.export import COLUMN_SETS, XLSX_MIMETYPE, column_set, content_disposition, describe_filters
from .export_pages import ExportJobPagesMixin


class StaffExportMixin(ExportJobPagesMixin):
    """export (全部字段 or 常用字段: ?columns=all|common), job_view, job_status and job_download of the staff grid."""

    export_job_kind = "staff_xlsx"
    export_progress_title = N_("Exporting the staff list")

    def export_links(self, list_args: dict) -> list[tuple[str, str, str]]:
        """(code, label, URL) of each column set, for the grid's 导出 Excel menu (the grid's arguments kept)."""
        out = []
        for code, (label, _columns) in COLUMN_SETS.items():
            args = dict(list_args, columns=code) if code != "all" else dict(list_args)
            out.append((code, _(label), self.get_url(".export", export_type="xlsx", **args)))
        return out

    @expose("/export/<export_type>/")
    def export(self, export_type):
        """GET /admin/staff/export/xlsx/: exactly the grid's scoped, filtered, searched rows, in its order.

        Up to EXPORT_JOB_THRESHOLD rows stream in the request; more run as a background job (services.jobs)
        whose page shows the progress; more than EXPORT_MAX_ROWS are refused.
        """
        if export_type != "xlsx":
            abort(404)
        view_args = self._get_list_extra_args()
        listing = self._request_listing(view_args)
        total = listing.total()
        limit = int(current_app.config.get("EXPORT_MAX_ROWS", 1_000_000))
        if total > limit:
            flash(_("%(n)d rows match; an export holds at most %(max)d. Please narrow the filter.",
                    n=total, max=limit), "error")
            return redirect(self.get_url(".index_view", **self._list_kwargs(view_args)))
        filters = describe_filters(self._filters, view_args.filters)  # stable codes, not the exporter's words
        columns = column_set(request.args.get("columns"))
        at = utcnow()
        if total > int(current_app.config.get("EXPORT_JOB_THRESHOLD", 50_000)):
            params = export.job_params(listing, filters, str(get_locale()), total, columns=columns, ip=client_ip(),
                                       exported_at=at)
            job_id = jobs.enqueue(self.export_job_kind, params, current_user)
            return redirect(self.get_url(".job_view", job_id=job_id))
        # Decrypted numbers: under instance/, mode 600; send_file streams it and closes it after the response.
        fh = tempfile.TemporaryFile(dir=jobs.export_folder())  # noqa: SIM115
        try:
            rows = export.write_listing(listing, fh, columns=columns, exported_at=at)
            export.audit_export(listing, rows, filters, columns=columns)
            fh.seek(0)
        except export.UndecryptableNumber as e:
            fh.close()
            flash(str(e), "error")
            return redirect(self.get_url(".index_view", **self._list_kwargs(view_args)))
        except Exception:
            fh.close()
            raise
        name, ascii_name = export.file_names(listing.scope, at)
        resp = send_file(fh, mimetype=XLSX_MIMETYPE, as_attachment=True, download_name=name, max_age=0)
        resp.headers["Content-Disposition"] = content_disposition(name, ascii_name)
        resp.headers["Cache-Control"] = "no-store"
        return resp
