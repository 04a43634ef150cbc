"""The export machinery a grid mixes in (the audit log's; the staff grid's follows the same steps): the file is
exactly the grid's scoped, filtered rows; small ones stream in the request, large ones run as a background job
with a progress page, too large ones are refused; every export is audited with the requester's address."""
import os
import tempfile
from datetime import datetime

from flask import abort, current_app, flash, g, jsonify, redirect, request, send_file
from flask_admin import expose
from flask_admin.model.base import ViewArgs
from flask_babel import force_locale, get_locale, gettext as _
from flask_login import current_user

from ..models.types import utcnow
from ..services import jobs
from ..services.audit import client_ip
from ..services.export import XLSX_MIMETYPE, content_disposition, describe_filters, filter_code
from ..services.scope import scope_for


class ExportJobPagesMixin:
    """The pages of a grid's background export jobs (progress, status JSON, download), for jobs of
    `export_job_kind` only; the file is offered under its UTF-8 name with an ASCII fallback (content_disposition)."""

    export_job_kind = ""
    export_progress_title = ""

    def _job_or_404(self, job_id):
        job = jobs.get_for(job_id, current_user)
        if job is None or job.kind != self.export_job_kind:
            abort(404)  # unknown, expired, someone else's or another grid's: the same answer
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
                           title=_(self.export_progress_title) if self.export_progress_title else None,
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
        name = job.download_name or "export.xlsx"
        resp = send_file(job.file_path, mimetype=XLSX_MIMETYPE, as_attachment=True, download_name=name, max_age=0)
        resp.headers["Content-Disposition"] = content_disposition(name, (job.params or {}).get("ascii_name", ""))
        resp.headers["Cache-Control"] = "no-store"
        return resp


class XlsxExportMixin(ExportJobPagesMixin):
    """Subclasses name `export_job_kind`, `export_progress_title` and implement `_export_plan(view_args)` ->
    (view_args, sort column, query, total), `_write_export(query, fh, exported_at, progress=None)` -> rows,
    `_audit_export(rows, view_args, column, actor_id=None, job_id=None, ip=None)` (records and commits) and
    `_export_names(exported_at)` -> (UTF-8 name, ASCII name)."""

    def export_url_path(self) -> str:
        return (self.admin.url or "/admin") + "/" + self.endpoint + "/export/xlsx/"

    def _list_url(self, view_args) -> str:
        """The grid with the same arguments (where a refused export sends the user back)."""
        return self.get_url(".index_view", **request.args.to_dict())

    def _export(self):
        """GET .../export/xlsx/: refuse, hand to a job, or stream the file."""
        view_args = self._get_list_extra_args()
        view_args, column, query, total = self._export_plan(view_args)
        limit = int(current_app.config.get("EXPORT_MAX_ROWS", 1_000_000))
        if total > limit:
            flash(_("%(n)d rows match; an export holds at most %(max)d. Please narrow the filter.",
                    n=total, max=limit), "error")
            return redirect(self._list_url(view_args))
        if total > int(current_app.config.get("EXPORT_JOB_THRESHOLD", 50_000)):
            # The address goes with the job: its audit row is written away from this request.
            at = utcnow()
            job_id = jobs.enqueue(self.export_job_kind, {**self._criteria(view_args),
                                                         "locale": str(get_locale()), "total": total,
                                                         "ip": client_ip(), "at": at.isoformat(),
                                                         "ascii_name": self._export_names(at)[1]}, current_user)
            return redirect(self.get_url(".job_view", job_id=job_id))
        at = utcnow()
        # Under EXPORT_FOLDER, not the system temp directory; send_file streams it and closes it after the response.
        fh = tempfile.TemporaryFile(dir=jobs.export_folder())  # noqa: SIM115
        try:
            rows = self._write_export(query, fh, at)
            self._audit_export(rows, view_args, column)
            fh.seek(0)
        except Exception:
            fh.close()
            raise
        name, ascii_name = self._export_names(at)
        resp = send_file(fh, mimetype=XLSX_MIMETYPE, as_attachment=True, download_name=name, max_age=0)
        resp.headers["Content-Disposition"] = content_disposition(name, ascii_name)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    def _criteria(self, view_args) -> dict:
        """What a job keeps of the grid's request: its validated filters as stable codes (the audit row's own:
        column, operation, value), the search and the sort; never the raw query string."""
        return {"criteria": describe_filters(self._filters, view_args.filters), "search": view_args.search or None,
                "sort": view_args.sort, "desc": bool(view_args.sort_desc)}

    def _view_args(self, params: dict) -> ViewArgs:
        """The grid's arguments rebuilt from a job's criteria, each filter value validated again by its filter;
        ValueError for one this grid no longer has or no longer accepts (the job fails rather than widen)."""
        by_code = {filter_code(flt): (idx, flt) for idx, flt in enumerate(self._filters or ())}
        filters = []
        for item in params.get("criteria") or ():
            idx, flt = by_code.get((item.get("column"), item.get("op")), (None, None))
            value = item.get("value")
            if flt is None or not isinstance(value, str) or not flt.validate(value):
                raise ValueError(f"export criterion not accepted by this grid: {item!r}")
            filters.append((idx, str(flt.name), value))
        sort = params.get("sort")
        if sort is not None and (not isinstance(sort, int) or self._get_column_by_idx(sort) is None):
            raise ValueError(f"export sort not accepted by this grid: {sort!r}")
        return ViewArgs(page=0, page_size=0, sort=sort, sort_desc=1 if params.get("desc") else 0,
                        search=params.get("search"), filters=filters)

    def run_export_job(self, job, progress):
        """The job: the same code path, rebuilt from the validated criteria the job carries, under the requester's
        scope and language; audited with the requester's address. The request context only carries the scope."""
        user = jobs.owner_of(job)
        params = job.params or {}
        if "criteria" not in params:
            raise ValueError("this export job carries no criteria")
        with current_app.test_request_context(self.export_url_path()), \
                force_locale(params.get("locale") or current_app.config["BABEL_DEFAULT_LOCALE"]):
            g.hwr_scope = scope_for(user)
            view_args, column, query, total = self._export_plan(self._view_args(params))
            at = datetime.fromisoformat(params["at"]) if params.get("at") else utcnow()
            progress(0, total)
            path = jobs.output_path(job.id)
            with jobs.open_private(path) as fh:  # owner only; removed if the job fails
                rows = self._write_export(query, fh, at, progress=progress)
            self._audit_export(rows, view_args, column, actor_id=user.id, job_id=job.id, ip=params.get("ip"))
            progress(rows, rows)
            return path, self._export_names(at)[0]
