"""The confirmed staff import: the uploaded file kept between dry run and confirmation, the confirm token, and
the background job (services.jobs) that writes the rows chunk by chunk and invites the new accounts by SMS.

The file of a dry run waits in EXPORT_FOLDER (mode 600) as tmp-import-<token>.xlsx; the jobs' orphan sweep
removes it after an hour. The report's `confirm` token is signed (SECRET_KEY), names that file, its SHA-256 and
the admin, and lives an hour. Confirming renames the file first (only one of two concurrent confirmations can),
then queues the job; the job reads and judges the file again under its owner's scope as it is then.
"""
import hashlib
import os
import secrets
from datetime import datetime
from pathlib import Path

from flask import current_app
from flask_babel import force_locale, gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import bindparam, insert, literal_column, update

from ..extensions import db
from ..models import ReviewEvent, StaffProfile, User
from ..models.types import utcnow
from . import ServiceError, jobs, notices
from .audit import record
from .clock import local_day
from .counters import add, bump
from .identity import KeyMismatch, ensure_key
from .profile_changes import SENT_BACK
from .scope import scope_for
from .staff_import import CHUNK, UNUSABLE_PASSWORD, context, judge_chunk, key_message
from .staff_import_file import read_sheet

KIND = "staff_import"
TOKEN_AGE = 3600
EDITABLE = ("draft", "submitted", "unit_rejected", "rejected")  # statuses an import may update (not LOCKED)
SEAL_KEYS = ("id_type", "id_number_enc", "id_number_index", "id_number_masked")


class ImportRaced(Exception):
    """A profile changed between the chunk's read and its write: the chunk is rolled back and judged again."""


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="hwr-staff-import")


def _held(token: str, suffix: str = "xlsx") -> Path:
    return jobs.export_folder() / f"tmp-import-{token}.{suffix}"


def hold(raw: bytes, user_id: int) -> str:
    """Keep a dry run's file for its confirmation; returns the signed confirm token."""
    token = secrets.token_hex(16)
    with jobs.open_private(_held(token)) as fh:
        fh.write(raw)
    return _serializer().dumps({"f": token, "u": user_id, "h": hashlib.sha256(raw).hexdigest()})


def hold_report(report, user_id: int) -> str:
    """Write a dry run's full row-by-row report as XLSX for its admin to download; returns the signed token."""
    token = secrets.token_hex(16)
    with jobs.open_private(_held(f"report-{token}")) as fh:
        write_results(report.rows, fh, None)
    return _serializer().dumps({"r": token, "u": user_id})


def held_report(signed: str, user) -> Path | None:
    """The report file of this token, when it is this user's, not older than TOKEN_AGE and still there."""
    try:
        data = _serializer().loads(signed or "", max_age=TOKEN_AGE)
    except BadSignature:
        return None
    token = str(data.get("r", ""))
    if data.get("u") != user.id or len(token) != 32 or not token.isalnum():
        return None
    path = _held(f"report-{token}")
    return path if path.is_file() else None


def confirm(signed: str, user, locale: str, ip: str | None, base_url: str) -> str:
    """Start the job of a dry run this user saw; returns the job id. ServiceError for a stale or used token."""
    stale = _("This dry run has expired or has already been confirmed. Please upload the file again.")
    try:
        data = _serializer().loads(signed or "", max_age=TOKEN_AGE)
    except BadSignature:
        raise ServiceError(stale) from None
    token = str(data.get("f", ""))
    if data.get("u") != user.id or len(token) != 32 or not token.isalnum():
        raise ServiceError(stale)
    try:
        ensure_key()  # before the file is claimed: on a node with the wrong PII key the dry run stays confirmable
    except KeyMismatch:
        raise ServiceError(key_message()) from None
    claimed = _held(token, "claimed")
    try:
        os.rename(_held(token), claimed)  # atomic: a second confirmation finds nothing to claim
    except FileNotFoundError:
        raise ServiceError(stale) from None
    if hashlib.sha256(claimed.read_bytes()).hexdigest() != data.get("h"):
        claimed.unlink(missing_ok=True)
        raise ServiceError(stale)
    try:
        return jobs.enqueue(KIND, {"file": claimed.name, "locale": locale, "ip": ip, "base_url": base_url,
                                   "at": utcnow().isoformat()}, user)
    except Exception:
        claimed.unlink(missing_ok=True)
        raise


# ---- the job ---------------------------------------------------------------------------------------------

def run_import_job(job, progress):
    """Handler of staff_import jobs: judge and write the held file chunk by chunk; returns the result sheet."""
    params = job.params or {}
    src = jobs.export_folder() / str(params.get("file", ""))
    owned = jobs.export_folder() / f"{job.id}.src"
    os.rename(src, owned)  # the job's own now: removed with it, whatever happens
    try:
        raw = owned.read_bytes()
    finally:
        owned.unlink(missing_ok=True)
    user = db.session.get(User, job.owner_id)
    with force_locale(params.get("locale") or current_app.config["BABEL_DEFAULT_LOCALE"]):
        sheet = read_sheet(raw)
        ctx = context(scope_for(user), user.id)
        progress(0, len(sheet.rows))
        results, seen, invited = [], {}, 0
        for start in range(0, len(sheet.rows), CHUNK):
            rows = sheet.rows[start:start + CHUNK]
            for attempt in range(2):
                seen_before = dict(seen)
                judged = judge_chunk(ctx, rows, seen)
                try:
                    write_chunk(ctx, judged, job.id, params.get("ip"))
                    break
                except ImportRaced:
                    db.session.rollback()
                    seen.clear()
                    seen.update(seen_before)
                    if attempt:
                        raise
            results.extend(r for r, _p in judged)
            invited += invite([(r, p) for r, p in judged if p and r.outcome == "create"], ctx,
                              current_app.config.get("PUBLIC_URL") or params.get("base_url") or "/")
            progress(start + len(rows))
        path = jobs.output_path(job.id)
        at = datetime.fromisoformat(params["at"]) if params.get("at") else utcnow()
        with jobs.open_private(path) as fh:
            write_results(results, fh, invited)
        from .export import download_names

        return path, download_names(_("Staff import result"), "staff-import", "result", at)[0]


def _jsonable(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def write_chunk(ctx, judged, job_id: str, ip: str | None) -> None:
    """One transaction: bulk INSERT of new accounts and profiles, bulk UPDATE of existing ones, their review
    events, the counters and one audit row."""
    ensure_key()
    now = utcnow()
    today = local_day(now)
    creates = [(r, p) for r, p in judged if p is not None and r.outcome == "create"]
    updates = [(r, p) for r, p in judged if p is not None and r.outcome == "update"]
    user_ids = {}
    if creates:
        rows = []
        for _r, p in creates:
            a = p["account"]
            rows.append(dict(phone=a["phone"], name=a["name"], password_hash=UNUSABLE_PASSWORD,
                             institution_id=a["institution_id"], region_code=a["region_code"],
                             department=a["department"], identity_status="unverified", is_superuser=False,
                             active=True, failed_logins=0, created_at=now, email=a["email"],
                             **(p["seal"] or dict.fromkeys(SEAL_KEYS))))
        # Core, not ORM bulk insert: the ORM leaves None keys out and splits the batch wherever they differ.
        t = User.__table__
        user_ids = {phone: uid for uid, phone in db.session.execute(insert(t).returning(t.c.id, t.c.phone), rows)}
    changes, types, days, events = {}, {}, {}, []
    fresh, edits, accounts = [], [], []
    for r, p in creates + updates:
        a, values, user = p["account"], p["profile"], p["user"]
        uid = user.id if user is not None else user_ids[a["phone"]]
        p["uid"] = uid  # the invitation names its account: the dashboard's failed-notice panel scopes by it
        row = dict(name=a["name"], phone=a["phone"], department=a["department"], institution_id=a["institution_id"],
                   status=r.status, submitted_at=now if r.status == "submitted" else None, updated_at=now, **values)
        profile = user.profile if user is not None else None
        if user is not None:
            seal = p["seal"] or {k: getattr(user, k) for k in SEAL_KEYS}
            # A blank email cell keeps the address the person gave on his account page.
            accounts.append(dict(b_id=user.id, name=a["name"], department=a["department"],
                                 email=a["email"] or user.email,
                                 institution_id=a["institution_id"], region_code=a["region_code"], **seal))
        if profile is None:
            fresh.append(dict(row, user_id=uid, version=1, created_at=now))
            old = None
        else:
            old = {k: getattr(profile, k) for k in row if k not in ("status", "submitted_at", "updated_at")}
            # Back after a reject or revert: the grid marks it 重新提交, as review.submit does for the staff form.
            again = profile.resubmitted or (profile.status in SENT_BACK and r.status == "submitted")
            edits.append(dict(row, b_id=profile.id, b_version=profile.version, version=profile.version + 1,
                              resubmitted=again))
            add(changes, (profile.institution_id, profile.status), -1)
            if profile.status != "draft":
                add(types, (profile.institution_id, profile.status, profile.personnel_type or ""), -1)
                if profile.submitted_at is not None:
                    add(days, (profile.institution_id, local_day(profile.submitted_at)), -1)
        add(changes, (a["institution_id"], r.status), 1)
        if r.status == "submitted":
            add(types, (a["institution_id"], "submitted", values.get("personnel_type") or ""), 1)
            add(days, (a["institution_id"], today), 1)
            diff = None if old is None else {k: [_jsonable(old[k]), _jsonable(v)] for k, v in row.items()
                                             if k in old and old[k] != v}
            events.append((uid, profile.status if profile is not None else None, diff))
    profile_ids = {}
    if fresh:
        t = StaffProfile.__table__
        profile_ids = {u: i for i, u in db.session.execute(insert(t).returning(t.c.id, t.c.user_id), fresh)}
    if edits:
        t = StaffProfile.__table__
        cols = [k for k in edits[0] if not k.startswith("b_")]
        res = db.session.execute(
            update(t).where(t.c.id == bindparam("b_id"), t.c.version == bindparam("b_version"),
                            # literal SQL: an expanding IN parameter cannot run as executemany (2+ updates a chunk)
                            t.c.status.in_([literal_column(f"'{st}'") for st in EDITABLE]))
            .values({c: bindparam(c) for c in cols}), edits)
        if res.rowcount != len(edits):
            raise ImportRaced()
        profile_ids.update({p["user"].id: p["user"].profile.id for r, p in updates if p["user"].profile is not None})
    if accounts:
        t = User.__table__
        cols = [k for k in accounts[0] if k != "b_id"]
        db.session.execute(update(t).where(t.c.id == bindparam("b_id")).values({c: bindparam(c) for c in cols}),
                           accounts)
    if events:
        db.session.execute(insert(ReviewEvent), [dict(
            profile_id=profile_ids[uid], actor_id=ctx.actor_id, action="submit", level=None, from_status=frm,
            to_status="submitted", changes=diff or None, ip=ip, created_at=now) for uid, frm, diff in events])
    if creates or updates:
        record("staff_import", target_type="staff_profile", actor_id=ctx.actor_id, ip=ip,
               institution_id=ctx.scope.institution_ids[0] if ctx.scope.institution_ids else None,
               details={"job": job_id, "created": len(creates), "updated": len(updates),
                        "refused": sum(1 for r, p in judged if p is None),
                        "rows": [judged[0][0].row, judged[-1][0].row]})
    bump(changes, types=types, days=days)  # last before the commit: the root's subtree counters are shared
    db.session.commit()


def invite(created, ctx, base_url: str) -> int:
    """Queue an SMS for each new account (after the chunk's commit) inviting the person to set a password through
    忘记密码; the notice queue (services.notices) sends, retries and limits them. Returns how many were queued."""
    names = {row.id: row.name for rows in ctx.by_name.values() for row in rows}
    link = base_url.rstrip("/") + "/forgot-password"
    items = []
    for r, p in created:
        unit = names.get(p["account"]["institution_id"]) or _("Your unit")
        items.append(dict(phone=r.phone, user_id=p.get("uid"), kind="invite", purpose="invite", message=_(
            "%(unit)s has registered you in the Health Workforce Registry. Open %(url)s, get a code with this "
            "mobile number and set your password, then sign in and check your profile.", unit=unit, url=link)))
    return len(notices.queue(items)) if items else 0


def write_results(results, fh, invited: int | None) -> None:
    """The result sheet the job's page offers (and the dry run's full report, invited None): one line per row."""
    import xlsxwriter

    from .staff_import import outcome_label

    wb = xlsxwriter.Workbook(fh, {"in_memory": True})
    ws = wb.add_worksheet(_("Import result") if invited is not None else _("Dry run"))
    head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    for col, title in enumerate((_("Row"), _("Name"), _("Mobile number"), _("Result"), _("Status"), _("Note"))):
        ws.write_string(0, col, title, head)
    for i, r in enumerate(results, start=1):
        ws.write_number(i, 0, r.row)
        for col, text in enumerate((r.name, r.phone, outcome_label(r.outcome), outcome_label(r.status or ""),
                                    r.reason), start=1):
            ws.write_string(i, col, str(text or ""))
    if invited is not None:
        ws.write_string(len(results) + 2, 0, _("Invitations queued for sending by SMS: %(n)d", n=invited))
    ws.set_column(1, 2, 16)
    ws.set_column(5, 5, 60)
    ws.freeze_panes(1, 0)
    wb.close()
