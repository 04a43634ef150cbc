"""The staff grid's export rules: which rows (the grid's own listing), the audit row, the background job.

services.export writes the sheet; this module decides what goes into it and records who took it.
"""
from datetime import datetime
from pathlib import Path

from flask import current_app
from flask_babel import force_locale, gettext as _

from ..extensions import db
from ..models import User
from ..models.types import utcnow
from . import export as writer
from .audit import record
from .export import UndecryptableNumber, column_set, download_names, export_query, scope_names
from .scope import scope_for
from .staff_listing import StaffListing


def file_names(scope, exported_at: datetime) -> tuple[str, str]:
    """(上报人员列表-20261206-2130.xlsx, staff-list-<institution code>-20261206-2130.xlsx): the UTF-8 name a staff
    export is offered under and its ASCII fallback, which begins with a letter (local time)."""
    return download_names(_("Reported staff"), "staff-list", scope_names(scope)[1], exported_at)


def write_listing(listing, fh, progress=None, tmpdir: Path | None = None, columns: str = "all",
                  exported_at: datetime | None = None) -> int:
    """Write every row of a StaffListing (its scope, criteria, search and order) into `fh` with the column set
    `columns` ("all" or "common") and the scope's name in the printed header; returns the count.

    UndecryptableNumber when a row's document number cannot be opened (the session is rolled back: no audit row).
    """
    try:
        return writer.write_staff_xlsx(export_query(listing.query()), fh, progress=progress, tmpdir=tmpdir,
                                       columns=column_set(columns), scope_name=scope_names(listing.scope)[0],
                                       exported_at=exported_at)
    except UndecryptableNumber:
        db.session.rollback()
        raise


def audit_export(listing, rows: int, filters: list, actor_id: int | None = None, job_id: str | None = None,
                 ip: str | None = None, columns: str = "all") -> None:
    """Record (and commit) the audit row of a staff export: how many rows, which column set, under which filters
    (stable codes: services.export.describe_filters), search and sort; `ip` is the requester's for a job."""
    scope = listing.scope
    details = {"rows": rows, "columns": column_set(columns), "filters": filters, "search": listing.search,
               "sort": listing.sort, "desc": listing.desc}
    if job_id:
        details["job"] = job_id
    record("export_staff", target_type="staff_profile", actor_id=actor_id, ip=ip,
           institution_id=scope.institution_ids[0] if scope.institution_ids else None, details=details)
    db.session.commit()


def job_params(listing, filters: list, locale: str, total: int, columns: str = "all", ip: str | None = None,
               exported_at: datetime | None = None) -> dict:
    """What a staff_xlsx job carries to rebuild the listing (criteria, search, sort), the audit's filter codes,
    the column set, the requester's address and the time asked (the file's header and names)."""
    at = exported_at or utcnow()
    return {"criteria": [list(c) for c in listing.criteria], "search": listing.search, "sort": listing.sort,
            "desc": listing.desc, "filters": filters, "locale": locale, "total": total,
            "columns": column_set(columns), "ip": ip, "at": at.isoformat(),
            "ascii_name": file_names(listing.scope, at)[1]}


def run_staff_export_job(job, progress):
    """Handler of staff_xlsx jobs: the same listing and writer as the grid's export, under the requester's scope
    and language; returns (file path, download name)."""
    from . import jobs

    params = job.params or {}
    if "criteria" not in params:
        raise ValueError("this staff export job carries no listing criteria")
    user = db.session.get(User, job.owner_id)
    with force_locale(params.get("locale") or current_app.config["BABEL_DEFAULT_LOCALE"]):
        listing = StaffListing(scope_for(user), params["criteria"], params.get("search"), params.get("sort"),
                               bool(params.get("desc")))
        total = listing.total()
        progress(0, total)
        at = datetime.fromisoformat(params["at"]) if params.get("at") else utcnow()
        columns = params.get("columns") or "all"
        path = jobs.output_path(job.id)
        with jobs.open_private(path) as fh:  # decrypted numbers: owner only; removed if the job fails
            rows = write_listing(listing, fh, progress=progress, tmpdir=jobs.temp_dir(job.id), columns=columns,
                                 exported_at=at)
        # The requester's address travels with the job: this row is written far from his request.
        audit_export(listing, rows, params.get("filters") or [], actor_id=user.id, job_id=job.id,
                     ip=params.get("ip"), columns=columns)
        progress(rows, rows)
        return path, file_names(listing.scope, at)[0]
