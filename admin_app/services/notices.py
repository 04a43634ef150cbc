"""SMS notices to staff: 驳回 and 退审 with the reason and the link to /me, a short one on final approval.

The manual (000, 3.1) tells unit admins to "notify the rejected person to fix and resubmit"; this does it for them.
A notice is a row of sms_notice, stored after the review has committed and handed to the job backend
(JOB_BACKEND, or NOTICE_BACKEND when set: inline, thread or rq, as for export jobs), whose worker sends it through
the SMS backend (services/sms.send_notice: one outbox line with purpose `notice` on the console backend).
A gateway failure is retried NOTICE_MAX_ATTEMPTS times with a doubling wait from NOTICE_RETRY_SECONDS, every try on
record; then the notice is failed: `flask check` reports it, and the dashboard of each admin whose scope holds the
person lists it with a 重新发送 button (resend_failed, audited), as `flask notices-send --retry-failed` does for all.
At most NOTICE_MAX_PER_PHONE_HOUR notices go to one phone an hour; the rest are stored as dropped and logged.
"""
import logging
import threading
from datetime import timedelta

import click
from flask import current_app, has_request_context, request
from flask_babel import gettext as _
from sqlalchemy import Integer, String, Text, bindparam, func, insert, literal, or_, select, update

from ..extensions import db
from ..i18n import N_
from ..models import Institution, SmsNotice, StaffProfile, User
from ..models.types import UTCDateTime, utcnow
from .audit import record
from .sms import SmsError, send_notice

log = logging.getLogger(__name__)
CHUNK = 5000
REASON_CHARS = 40  # the reason's first words a notice carries; the whole reason is on /me
_threads: list[threading.Thread] = []


# ---- what a notice says --------------------------------------------------------------------------------

def link() -> str:
    """The personal centre's address for a text message: PUBLIC_URL, else the request's host, + /me."""
    base = current_app.config.get("PUBLIC_URL") or (request.host_url if has_request_context() else "")
    return base.rstrip("/") + "/me"


def excerpt(reason: str | None) -> str:
    """The reason's first REASON_CHARS characters on one line, "…" when cut, without a closing full stop."""
    text = " ".join((reason or "").split())
    if len(text) > REASON_CHARS:
        return text[:REASON_CHARS].rstrip() + "…"
    return text.rstrip("。.；;，, ")


def review_message(kind: str, reason: str | None, url: str) -> str:
    """The text of a review notice (reject | revert | approve)."""
    site = _("Health Workforce Registry")
    if kind == "reject":
        return _("[%(site)s] Your staff profile was not approved. Reason: %(reason)s. Please sign in, correct it "
                 "and submit it again: %(link)s", site=site, reason=excerpt(reason), link=url)
    if kind == "revert":
        return _("[%(site)s] The approval of your staff profile was reverted. Reason: %(reason)s. Please sign in, "
                 "correct it and submit it again: %(link)s", site=site, reason=excerpt(reason), link=url)
    return _("[%(site)s] Your staff profile has been approved. Details: %(link)s", site=site, link=url)


def after_review(action: str, moved, reason: str | None) -> int:
    """Queue the notices of a committed review (moved: (profile id, status it got) each); never raises."""
    # Reject and revert tell everyone they moved; of the approvals only the final one (审核已通过) is told.
    kind = action if action in ("reject", "revert") else "approve"
    ids = sorted(pid for pid, to_status in moved if kind != "approve" or to_status == "approved")
    if not ids:
        return 0
    try:
        return len(queue_profiles(ids, kind, review_message(kind, reason, link())))
    except Exception:  # the review stands whatever happens here; ops see it in the log
        db.session.rollback()
        log.exception("review notices (%s, %d) could not be queued", action, len(ids))
        return 0


# ---- the queue -----------------------------------------------------------------------------------------

def queue(items: list[dict]) -> list[int]:
    """Store notices (phone, kind, message; user_id, purpose optional) and hand them to a worker; their ids."""
    # i21a's import invitations use this too (purpose other than "notice" allowed: it is the outbox line's).
    cfg = current_app.config
    limit = int(cfg.get("NOTICE_MAX_PER_PHONE_HOUR", 5))
    now = utcnow()
    phones = sorted({i["phone"] for i in items})
    sent: dict[str, int] = {}
    for start in range(0, len(phones), CHUNK):
        sent.update(db.session.execute(
            select(SmsNotice.phone, func.count()).where(
                SmsNotice.phone.in_(phones[start:start + CHUNK]), SmsNotice.created_at > now - timedelta(hours=1),
                SmsNotice.status != "dropped").group_by(SmsNotice.phone)).all())
    rows, dropped = [], 0
    for item in items:
        n = sent.get(item["phone"], 0)
        status = "queued" if n < limit else "dropped"
        if status == "queued":
            sent[item["phone"]] = n + 1
        else:
            dropped += 1
            log.warning("notice (%s) to %s dropped: %d notices went to this phone within the hour",
                        item["kind"], item["phone"], n)
        rows.append(dict(user_id=item.get("user_id"), phone=item["phone"], purpose=item.get("purpose", "notice"),
                         kind=item["kind"], message=item["message"], status=status, attempts=0,
                         next_attempt_at=now, created_at=now))
    queued = []
    for start in range(0, len(rows), CHUNK):  # one multi-row INSERT per 1,000 (SQLAlchemy's insertmanyvalues)
        queued.extend(i for i, status in db.session.execute(
            insert(SmsNotice).returning(SmsNotice.id, SmsNotice.status), rows[start:start + CHUNK])
            if status == "queued")
    db.session.commit()
    queued.sort()
    if queued:
        dispatch(queued)
    return queued


def queue_profiles(profile_ids: list[int], kind: str, message: str) -> list[int]:
    """Store one notice (the same text) per profile, to its phone, and hand them to a worker; their ids."""
    # INSERT … SELECT from the profiles: the rows are built by the database from 1,000 ids, not sent as 9,000
    # parameters (3-4x faster on PostgreSQL), so the reviewer's answer hardly waits for it.
    limit = int(current_app.config.get("NOTICE_MAX_PER_PHONE_HOUR", 5))
    now = utcnow()
    cols = ["user_id", "phone", "purpose", "kind", "message", "status", "attempts", "next_attempt_at", "created_at"]
    queued = []
    for start in range(0, len(profile_ids), CHUNK):
        chunk = profile_ids[start:start + CHUNK]
        phones = select(StaffProfile.phone).where(StaffProfile.id.in_(chunk))
        full = list(db.session.scalars(
            select(SmsNotice.phone).where(SmsNotice.phone.in_(phones), SmsNotice.created_at > now - timedelta(hours=1),
                                          SmsNotice.status != "dropped")
            .group_by(SmsNotice.phone).having(func.count() >= limit)))
        for status in ("queued", "dropped") if full else ("queued",):
            rows = select(StaffProfile.user_id, StaffProfile.phone, literal("notice", String), literal(kind, String),
                          literal(message, Text), literal(status, String), literal(0, Integer),
                          literal(now, UTCDateTime), literal(now, UTCDateTime)) \
                .where(StaffProfile.id.in_(chunk), StaffProfile.phone != "")
            rows = rows.where(StaffProfile.phone.in_(full) if status == "dropped" else StaffProfile.phone.not_in(full))
            got = db.session.scalars(insert(SmsNotice).from_select(cols, rows).returning(SmsNotice.id)).all()
            if status == "queued":
                queued.extend(got)
        for phone in full:
            log.warning("notice (%s) to %s dropped: %d or more notices went to this phone within the hour",
                        kind, phone, limit)
    db.session.commit()
    queued.sort()
    if queued:
        dispatch(queued)
    return queued


def _backend_name() -> str:
    cfg = current_app.config
    return cfg.get("NOTICE_BACKEND") or cfg.get("JOB_BACKEND", "thread")


def dispatch(ids: list[int]) -> None:
    """Hand stored notices to the configured job backend (a failure leaves them queued for `flask notices-send`)."""
    name = _backend_name()
    app = current_app._get_current_object()
    try:
        if name == "inline":
            deliver(ids)
        elif name == "thread":
            t = threading.Thread(target=_thread_main, args=(app, ids), name="notices", daemon=True)
            _threads.append(t)
            t.start()
        elif name == "rq":
            from .jobs import rq_queue

            rq_queue(app).enqueue("admin_app.services.notices.deliver_in_new_app", ids,
                                  job_timeout=int(app.config.get("JOB_TIMEOUT", 3600)), result_ttl=600,
                                  failure_ttl=7 * 86400, description=f"{len(ids)} notice(s)")
        else:
            raise RuntimeError(f"unknown notice backend {name!r}")
    except Exception:
        db.session.rollback()
        log.exception("%d notice(s) could not be handed to the %s backend; they wait for `flask notices-send`",
                      len(ids), name)


def wait(timeout: float | None = None) -> None:
    """Join the notice threads this process started (tests, the bench)."""
    while _threads:
        _threads.pop().join(timeout)


def _thread_main(app, ids) -> None:
    with app.app_context():
        try:
            deliver(ids)
        except Exception:
            log.exception("notice worker failed")
        finally:
            db.session.remove()


def deliver_in_new_app(ids) -> None:
    """RQ entry point: the worker's app (or one built from the environment) delivers these notices."""
    from .. import create_app
    from . import jobs

    app = jobs._worker_app or create_app()
    with app.app_context():
        try:
            deliver(ids)
        finally:
            db.session.remove()


# ---- delivery ------------------------------------------------------------------------------------------

def _due(now):
    lease = timedelta(seconds=float(current_app.config.get("JOB_LEASE_SECONDS", 120)))
    return or_((SmsNotice.status == "queued") & (SmsNotice.next_attempt_at <= now),
               (SmsNotice.status == "sending") & (SmsNotice.claimed_at < now - lease))  # its worker died


def _claim(ids, now) -> list:
    """Mark the due notices among ids as being sent by this worker and read them (two workers never share one)."""
    out = []
    for start in range(0, len(ids), CHUNK):
        out.extend(db.session.execute(
            update(SmsNotice).where(SmsNotice.id.in_(ids[start:start + CHUNK]), _due(now))
            .values(status="sending", claimed_at=now)
            .returning(SmsNotice.id, SmsNotice.phone, SmsNotice.purpose, SmsNotice.message, SmsNotice.attempts,
                       SmsNotice.tries)
            .execution_options(synchronize_session=False)).all())
    db.session.commit()
    return sorted(out)


def _round(ids) -> None:
    """Send the due notices among ids once; on a gateway failure the rest of the round waits for the retry."""
    cfg = current_app.config
    now = utcnow()
    claimed = _claim(ids, now)
    sent, failed_at = [], None
    for i, (nid, phone, purpose, message, _attempts, _tries) in enumerate(claimed):
        try:
            send_notice(phone, message, purpose)
        except SmsError as e:
            failed_at, error = i, f"{type(e).__name__}: {e}"[:200]
            break
        sent.append(nid)
    for start in range(0, len(sent), CHUNK):
        db.session.execute(update(SmsNotice).where(SmsNotice.id.in_(sent[start:start + CHUNK]))
                           .values(status="sent", sent_at=utcnow()).execution_options(synchronize_session=False))
    if failed_at is not None:
        # The gateway is down for all of them: every notice not sent this round counts one failed try.
        base = float(cfg.get("NOTICE_RETRY_SECONDS", 30))
        most = int(cfg.get("NOTICE_MAX_ATTEMPTS", 3))
        stamp = utcnow()
        params = []
        for nid, phone, _purpose, _text, attempts, tries in claimed[failed_at:]:
            attempts += 1
            last = attempts >= most
            wait = None if last else base * 2 ** (attempts - 1)
            params.append(dict(nid=nid, st="failed" if last else "queued", n=attempts, err=error,
                               nxt=None if last else stamp + timedelta(seconds=wait),
                               tr=[*(tries or []), {"at": stamp.isoformat(timespec="seconds"), "error": error,
                                                    "retry_in": wait}]))
            if last:
                log.error("notice %d to %s failed after %d tries: %s", nid, phone, attempts, error)
        stmt = update(SmsNotice.__table__).where(SmsNotice.__table__.c.id == bindparam("nid")).values(
            status=bindparam("st"), attempts=bindparam("n"), last_error=bindparam("err"),
            next_attempt_at=bindparam("nxt"), tries=bindparam("tr"), claimed_at=None)
        db.session.execute(stmt, params)
    db.session.commit()


def deliver(ids=None) -> None:
    """Send these notices (None: every due one, one round); retry failed ones after their wait, within bounds."""
    if ids is None:
        now = utcnow()
        ids = list(db.session.scalars(select(SmsNotice.id).where(_due(now)).order_by(SmsNotice.id)))
        if ids:
            _round(ids)
        return
    ids = list(ids)
    stop = threading.Event()  # never set: a bounded wait between tries, not a sleep in a request
    for _round_number in range(int(current_app.config.get("NOTICE_MAX_ATTEMPTS", 3)) + 1):
        _round(ids)
        waiting = [t for start in range(0, len(ids), CHUNK) for t in db.session.scalars(
            select(func.min(SmsNotice.next_attempt_at)).where(
                SmsNotice.id.in_(ids[start:start + CHUNK]), SmsNotice.status == "queued")) if t is not None]
        db.session.commit()
        if not waiting:
            return
        nxt = min(waiting)
        delay = (nxt - utcnow()).total_seconds()
        if delay > 0:
            stop.wait(delay)


# ---- failed notices in an admin's scope (the dashboard's panel) -------------------------------------------

KINDS = {"reject": N_("Rejection notice"), "revert": N_("Reversal notice"), "approve": N_("Approval notice"),
         "invite": N_("Import invitation")}


def _failed_in(scope):
    """Failed notices to people of the scope's units (the account's unit: a notice names its user, an import
    invitation of old only its phone), with the person's name."""
    who = or_(User.id == SmsNotice.user_id, (SmsNotice.user_id.is_(None)) & (User.phone == SmsNotice.phone))
    stmt = (select(SmsNotice.id, SmsNotice.kind, SmsNotice.phone, SmsNotice.last_error, SmsNotice.created_at,
                   User.name).join(User, who).where(SmsNotice.status == "failed"))
    clause = scope.path_clause(Institution.path)
    if clause is not None:
        stmt = stmt.join(Institution, Institution.id == User.institution_id).where(clause)
    return stmt


def failed_for(scope, limit: int = 10) -> tuple[int, list]:
    """(how many notices to the scope's people failed, the latest `limit` of them): two queries."""
    base = _failed_in(scope).subquery()
    total = db.session.scalar(select(func.count()).select_from(base)) or 0
    rows = db.session.execute(select(base).order_by(base.c.created_at.desc(), base.c.id.desc()).limit(limit)).all()
    return total, rows


def resend_failed(scope, actor_id: int) -> int:
    """Queue the scope's failed notices again with fresh tries (audited) and hand them to a worker; how many."""
    ids = list(db.session.scalars(select(_failed_in(scope).subquery().c.id)))
    moved = []
    for start in range(0, len(ids), CHUNK):  # status still failed: two admins resending at once send once
        moved.extend(db.session.scalars(update(SmsNotice).where(
            SmsNotice.id.in_(ids[start:start + CHUNK]), SmsNotice.status == "failed")
            .values(status="queued", attempts=0, next_attempt_at=utcnow(), claimed_at=None)
            .returning(SmsNotice.id).execution_options(synchronize_session=False)))
    if not moved:
        db.session.rollback()
        return 0
    record("notices_resent", target_type="sms_notice", actor_id=actor_id,
           institution_id=scope.institution_ids[0] if scope.institution_ids else None,
           details={"count": len(moved), "ids": sorted(moved)[:50]})
    db.session.commit()
    dispatch(sorted(moved))
    return len(moved)


# ---- operations ----------------------------------------------------------------------------------------

def problems() -> tuple[int, int]:
    """(failed notices, queued ones overdue by more than JOB_LEASE_SECONDS): what `flask check` reports."""
    now = utcnow()
    lease = timedelta(seconds=float(current_app.config.get("JOB_LEASE_SECONDS", 120)))
    failed = db.session.scalar(select(func.count()).select_from(SmsNotice).where(SmsNotice.status == "failed"))
    stuck = db.session.scalar(select(func.count()).select_from(SmsNotice).where(
        SmsNotice.status.in_(("queued", "sending")),
        func.coalesce(SmsNotice.claimed_at, SmsNotice.next_attempt_at) < now - lease))
    return failed or 0, stuck or 0


def retry_failed() -> int:
    """Put failed notices back in the queue with fresh tries; returns how many."""
    n = db.session.execute(update(SmsNotice).where(SmsNotice.status == "failed").values(
        status="queued", attempts=0, next_attempt_at=utcnow()).execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return n


@click.command("notices-send")
@click.option("--retry-failed", "again", is_flag=True, help="Queue the failed notices again first.")
def send_cmd(again: bool):
    """Send every due SMS notice now (cron safety net; after a gateway outage, with --retry-failed)."""
    if again:
        click.echo(f"{retry_failed()} failed notice(s) queued again")
    deliver()
    failed, stuck = problems()
    click.echo(f"notices: {failed} failed, {stuck} overdue")
