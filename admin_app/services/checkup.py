"""`flask check`: what Django's `check` is to a project, for the data. Read-only; every finding names its fix.

Counters against a fresh GROUP BY, the PII key against the data's fingerprint, export jobs whose worker is gone,
files in EXPORT_FOLDER no job owns, uploaded images the database names but the disk lacks, SMS notices that
failed or wait too long.
"""
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, literal, select, union

from ..extensions import db
from ..models import ExportJob, IdentityVerification, StaffProfile
from ..models.types import utcnow
from . import counters, fingerprint, jobs, notices
from .uploads import image_path


@dataclass
class Finding:
    name: str
    ok: bool
    detail: str


def _pii_key() -> Finding:
    problem = fingerprint.problem()
    if problem:
        return Finding("pii_key", False, problem)
    return Finding("pii_key", True, f"the data's fingerprint {', '.join(fingerprint.stored() or [])} is in this "
                                    f"node's key ring ({', '.join(fingerprint.ring_fingerprints())})")


def _counters() -> Finding:
    wrong = counters.drift()
    if wrong:
        rows = ", ".join(f"{table}: {n} row(s)" for table, n in wrong.items())
        return Finding("counters", False, f"counters differ from the staff table ({rows}); "
                                          "run `flask reconcile-counters`")
    return Finding("counters", True, "every counter equals a fresh count of the staff table")


def _stuck_jobs() -> Finding:
    now = utcnow()
    waited = timedelta(seconds=float(current_app.config.get("JOB_TIMEOUT", 3600)))
    stuck = db.session.scalar(select(func.count()).select_from(ExportJob).where(
        ((ExportJob.status == "running")
         & (func.coalesce(ExportJob.heartbeat_at, ExportJob.created_at) < now - jobs.lease()))
        | ((ExportJob.status == "queued") & (ExportJob.created_at < now - waited))))
    if stuck:
        return Finding("jobs", False, f"{stuck} export job(s) stuck: their worker stopped (no heartbeat within "
                                      "JOB_LEASE_SECONDS) or none took them; the next export, status poll or "
                                      "cleanup fails them and removes their files")
    return Finding("jobs", True, "no stuck export job")


def _orphans() -> Finding:
    found = jobs.orphans()
    if found:
        names = ", ".join(p.name for p in found[:5])
        return Finding("export_files", False, f"{len(found)} file(s) in {jobs.export_folder()} belong to no live "
                                              f"job ({names}); the next cleanup removes them")
    return Finding("export_files", True, "no orphan export file")


def _missing_uploads() -> Finding:
    names = union(
        select(literal("avatar").label("kind"), StaffProfile.avatar.label("name"))
        .where(StaffProfile.avatar.is_not(None)).distinct(),
        select(literal("scan"), IdentityVerification.front_image)
        .where(IdentityVerification.front_image.is_not(None)),
        select(literal("scan"), IdentityVerification.back_image)
        .where(IdentityVerification.back_image.is_not(None)))
    missing = [f"{kind}/{name}" for kind, name in db.session.execute(names) if image_path(kind, name) is None]
    if missing:
        return Finding("uploads", False, f"{len(missing)} uploaded image(s) named in the database are missing "
                                         f"from {current_app.config['UPLOAD_FOLDER']} ({', '.join(missing[:5])}); "
                                         "restore them from a backup")
    return Finding("uploads", True, "every uploaded image the database names is on disk")


def _notices() -> Finding:
    failed, stuck = notices.problems()
    if failed or stuck:
        return Finding("notices", False, f"{failed} SMS notice(s) failed after their retries, {stuck} overdue in the "
                                         "queue (the gateway or the worker is down); when it is back, run "
                                         "`flask notices-send --retry-failed`")
    return Finding("notices", True, "no failed or overdue SMS notice")


def run_checks() -> list[Finding]:
    """Every check, in order; a check that cannot run is itself a failed finding."""
    out = []
    for check in (_pii_key, _counters, _stuck_jobs, _orphans, _missing_uploads, _notices):
        try:
            out.append(check())
        except Exception as e:  # report and go on: one broken check must not hide the others
            db.session.rollback()
            out.append(Finding(check.__name__.strip("_"), False, f"could not check: {type(e).__name__}: {e}"))
    db.session.rollback()
    return out
