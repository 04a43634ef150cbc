"""批量导入 on the staff grid (/admin/staff/import/…): the upload page, the template, the dry-run report, the
confirmation and the import job's progress page. The rules are services.staff_import*; this only answers."""
import io
import os

from flask import abort, current_app, jsonify, redirect, request, send_file
from flask_admin import expose
from flask_babel import get_locale, gettext as _
from flask_login import current_user

from ..i18n import N_
from ..models.types import utcnow
from ..services import ServiceError, jobs, staff_import, staff_import_job
from ..services.audit import client_ip
from ..services.export import XLSX_MIMETYPE, content_disposition, download_names
from ..services.scope import current_scope
from ..services.staff_import_file import ImportFileError, max_bytes, max_rows, write_template

TEMPLATE = "admin/staff/import.html"
# Rows the report page lists (refused ones first); the full row-by-row report is the downloadable XLSX. 100 rows
# keep the page of a 5,000-row file near 42 KB instead of 1 MB, and hold more refusals than one correction round
# usually has.
ROWS_SHOWN = 100


class StaffImportMixin:
    """The staff grid's import pages; jobs of kind staff_import run services.staff_import_job."""

    import_progress_title = N_("Importing staff")

    def _import_page(self, report=None, error=None, token=None, status=200, report_url=None):
        return self.render(TEMPLATE, report=report, error=error, confirm_token=token, report_url=report_url,
                           rows_shown=ROWS_SHOWN,
                           post_url=self.get_url(".import_view"), template_url=self.get_url(".import_template"),
                           back_url=self.get_url(".index_view"), max_rows=max_rows(),
                           max_mb=max(1, max_bytes() // (1 << 20)),
                           outcome_label=staff_import.outcome_label), status

    @expose("/import/", methods=("GET", "POST"))
    def import_view(self):
        """GET: the upload form. POST `file`: the dry-run report. POST `confirm`: start the job."""
        if request.method == "GET":
            return self._import_page()
        if request.form.get("confirm"):
            try:
                job_id = staff_import_job.confirm(request.form["confirm"], current_user, str(get_locale()),
                                                  client_ip(), request.host_url)
            except ServiceError as e:
                return self._import_page(error=str(e), status=409)
            return self.redirect_to_job(job_id)
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            return self._import_page(error=_("Please choose the Excel file to import."), status=400)
        raw = upload.stream.read(max_bytes() + 1)
        try:
            report = staff_import.dry_run(raw, current_scope(), current_user.id)
        except ImportFileError as e:
            return self._import_page(error=str(e), status=400)
        token = staff_import_job.hold(raw, current_user.id) if report.refused == 0 else None
        report_url = self.get_url(".import_report", t=staff_import_job.hold_report(report, current_user.id))
        return self._import_page(report=report, token=token, report_url=report_url)

    def redirect_to_job(self, job_id: str):
        return redirect(self.get_url(".import_job", job_id=job_id), code=303)

    @expose("/import/template.xlsx")
    def import_template(self):
        """The template: the questionnaire's columns, drop-downs, a frozen header, an instruction sheet."""
        fh = io.BytesIO()
        write_template(fh, staff_import.unit_names(current_scope()))
        fh.seek(0)
        name, ascii_name = download_names(_("Staff import template"), "staff-import-template", "blank", utcnow())
        resp = send_file(fh, mimetype=XLSX_MIMETYPE, as_attachment=True, download_name=name, max_age=0)
        resp.headers["Content-Disposition"] = content_disposition(name, ascii_name)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @expose("/import/report.xlsx")
    def import_report(self):
        """A dry run's full row-by-row report (XLSX), for the admin who ran it, within the hour."""
        path = staff_import_job.held_report(request.args.get("t", ""), current_user)
        if path is None:
            abort(404)
        name, ascii_name = download_names(_("Staff import dry run"), "staff-import", "dry-run", utcnow())
        resp = send_file(path, mimetype=XLSX_MIMETYPE, as_attachment=True, download_name=name, max_age=0)
        resp.headers["Content-Disposition"] = content_disposition(name, ascii_name)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    # ---- the job's pages -----------------------------------------------------------------------------

    def _import_job_or_404(self, job_id):
        job = jobs.get_for(job_id, current_user)
        if job is None or job.kind != staff_import_job.KIND:
            abort(404)
        return job

    def _import_status(self, job) -> dict:
        failed = None
        if job.status == "failed":
            failed = (_("The import was interrupted: the server running it stopped. The rows listed as written "
                        "are saved; please upload the file again for the rest.")
                      if (job.error or "").startswith(jobs.WORKER_LOST)
                      else _("The import failed; the chunks already written are saved. Please upload the file "
                             "again to see what is left."))
        return {"id": job.id, "status": job.status, "done": job.done, "total": job.total,
                "percent": 100 if job.status == "done" else int(job.done * 100 / job.total) if job.total else 0,
                "download_url": self.get_url(".import_job_download", job_id=job.id) if job.status == "done"
                else None, "error": failed}

    @expose("/import/jobs/<string(length=32):job_id>")
    def import_job(self, job_id):
        job = self._import_job_or_404(job_id)
        return self.render("admin/staff/import_job.html", job=job, status=self._import_status(job),
                           status_url=self.get_url(".import_job_status", job_id=job.id),
                           back_url=self.get_url(".index_view"), import_url=self.get_url(".import_view"),
                           retention=current_app.config.get("EXPORT_RETENTION_HOURS", 24))

    @expose("/import/jobs/<string(length=32):job_id>.json")
    def import_job_status(self, job_id):
        resp = jsonify(self._import_status(self._import_job_or_404(job_id)))
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @expose("/import/jobs/<string(length=32):job_id>/result.xlsx")
    def import_job_download(self, job_id):
        job = self._import_job_or_404(job_id)
        if job.status != "done" or not job.file_path or not os.path.exists(job.file_path):
            abort(404)
        name = job.download_name or "import-result.xlsx"
        resp = send_file(job.file_path, mimetype=XLSX_MIMETYPE, as_attachment=True, download_name=name, max_age=0)
        resp.headers["Content-Disposition"] = content_disposition(name, "staff-import-result.xlsx")
        resp.headers["Cache-Control"] = "no-store"
        return resp
