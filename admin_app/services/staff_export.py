"""The staff grid's export rules: which rows (the grid's own listing), the audit row, the background job.

services.export writes the sheet; this module decides what goes into it and records who took it.
"""
from datetime import datetime
from pathlib import Path

from flask import current_app
from flask_babel import force_locale, get_timezone, gettext as _

from ..extensions import db
from ..models import User
from . import export as writer
from .audit import record
from .export import UndecryptableNumber, export_query
from .scope import scope_for
from .staff_listing import StaffListing


def download_name() -> str:
    """已上报人员-20261206-2130.xlsx: the file name a staff export is offered under (local time)."""
    stamp = datetime.now(get_timezone()).strftime("%Y%m%d-%H%M")
    return f"{_('Reported staff')}-{stamp}.xlsx"


def write_listing(listing, fh, progress=None, tmpdir: Path | None = None) -> int:
    """Write every row of a StaffListing (its scope, criteria, search and order) into `fh`; returns the count.

    UndecryptableNumber when a row's document number cannot be opened (the session is rolled back: no audit row).
    """
    try:
        return writer.write_staff_xlsx(export_query(listing.query()), fh, progress=progress, tmpdir=tmpdir)
    except UndecryptableNumber:
        db.session.rollback()
        raise


def audit_export(listing, rows: int, filters: list, actor_id: int | None = None, job_id: str | None = None) -> None:
    """Record (and commit) the audit row of a staff export: how many rows, under which filters (as the grid names
    them), search and sort."""
    scope = listing.scope
    details = {"rows": rows, "filters": filters, "search": listing.search, "sort": listing.sort,
               "desc": listing.desc}
    if job_id:
        details["job"] = job_id
    record("export_staff", target_type="staff_profile", actor_id=actor_id,
           institution_id=scope.institution_ids[0] if scope.institution_ids else None, details=details)
    db.session.commit()


def job_params(listing, filters: list, locale: str, total: int) -> dict:
    """What a staff_xlsx job carries to rebuild the listing: criteria, search, sort, the audit's filter names."""
    return {"criteria": [list(c) for c in listing.criteria], "search": listing.search, "sort": listing.sort,
            "desc": listing.desc, "filters": filters, "locale": locale, "total": total}


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
        path = jobs.output_path(job.id)
        with jobs.open_private(path) as fh:  # decrypted numbers: owner only; removed if the job fails
            rows = write_listing(listing, fh, progress=progress, tmpdir=jobs.temp_dir(job.id))
        audit_export(listing, rows, params.get("filters") or [], actor_id=user.id, job_id=job.id)
        progress(rows, rows)
        return path, download_name()
