"""The staff grid's export and its background jobs' pages (/admin/staff/export/…, /admin/staff/jobs/…).

Which rows and columns an export holds, its audit row and the job that writes a big one are services.export's;
this mixin only answers the requests.
"""
import os
import tempfile

from flask import abort, current_app, flash, jsonify, redirect, send_file
from flask_admin import expose
from flask_babel import get_locale, gettext as _
from flask_login import current_user

from ..services import jobs, staff_export as export
from ..services.export import XLSX_MIMETYPE


class StaffExportMixin:
    """export, job_view, job_status and job_download of the staff grid (StaffProfileView)."""

    def _describe_filters(self, filters) -> list:
        """Active filters as [name, operation, value] for the audit row."""
        out = []
        for idx, _name, value in filters or ():
            flt = self._filters[idx]
            out.append([str(flt.name), str(flt.operation()), value])
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
        filters = self._describe_filters(view_args.filters)
        if total > int(current_app.config.get("EXPORT_JOB_THRESHOLD", 50_000)):
            job_id = jobs.enqueue("staff_xlsx", export.job_params(listing, filters, str(get_locale()), total),
                                  current_user)
            return redirect(self.get_url(".job_view", job_id=job_id))
        # Decrypted numbers: under instance/, mode 600; send_file streams it and closes it after the response.
        fh = tempfile.TemporaryFile(dir=jobs.export_folder())  # noqa: SIM115
        try:
            rows = export.write_listing(listing, fh)
            export.audit_export(listing, rows, filters)
            fh.seek(0)
        except export.UndecryptableNumber as e:
            fh.close()
            flash(str(e), "error")
            return redirect(self.get_url(".index_view", **self._list_kwargs(view_args)))
        except Exception:
            fh.close()
            raise
        resp = send_file(fh, mimetype=XLSX_MIMETYPE, as_attachment=True, download_name=export.download_name(),
                         max_age=0)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    # ---- export jobs ---------------------------------------------------------------------------------

    def _job_or_404(self, job_id):
        job = jobs.get_for(job_id, current_user)
        if job is None:
            abort(404)  # unknown, expired, or someone else's: the same answer
        return job

    def _job_status(self, job) -> dict:
        return {"id": job.id, "status": job.status, "done": job.done, "total": job.total,
                "percent": 100 if job.status == "done" else int(job.done * 100 / job.total) if job.total else 0,
                "download_url": self.get_url(".job_download", job_id=job.id) if job.status == "done" else None,
                "error": self._job_error(job)}

    @staticmethod
    def _job_error(job) -> str | None:
        if job.status != "failed":
            return None
        if (job.error or "").startswith(jobs.WORKER_LOST):
            return _("The export was interrupted: the server running it stopped. Please export again.")
        return _("The export failed. Please try again.")

    @expose("/jobs/<string(length=32):job_id>")
    def job_view(self, job_id):
        job = self._job_or_404(job_id)
        return self.render("admin/staff/job.html", job=job, status=self._job_status(job),
                           status_url=self.get_url(".job_status", job_id=job.id),
                           back_url=self.get_url(".index_view"),
                           retention=current_app.config.get("EXPORT_RETENTION_HOURS", 24))

    @expose("/jobs/<string(length=32):job_id>.json")
    def job_status(self, job_id):
        resp = jsonify(self._job_status(self._job_or_404(job_id)))
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @expose("/jobs/<string(length=32):job_id>/download")
    def job_download(self, job_id):
        job = self._job_or_404(job_id)
        if job.status != "done" or not job.file_path or not os.path.exists(job.file_path):
            abort(404)
        resp = send_file(job.file_path, mimetype=XLSX_MIMETYPE, as_attachment=True,
                         download_name=job.download_name or "export.xlsx", max_age=0)
        resp.headers["Cache-Control"] = "no-store"
        return resp
