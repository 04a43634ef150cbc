"""Helpers shared by the review tests (issue 4): demo lookups, pending rows, action posts, flashes."""
from datetime import timedelta

from sqlalchemy import func, select, update

from admin_app.extensions import db
from admin_app.models import AuditLog, ReviewEvent, StaffProfile, StatusCounter, User
from admin_app.models.types import utcnow
from admin_app.services.counters import reconcile
from admin_app.services.scope import scope_for

STAFF_URL = "/admin/staff/"
ACTION_URL = "/admin/staff/action/"
EXPORT_URL = "/admin/staff/export/xlsx/"


def user(phone: str) -> User:
    return db.session.scalar(select(User).where(User.phone == phone))


def scope_of(phone: str):
    return scope_for(user(phone))


def profile(phone: str) -> StaffProfile:
    return db.session.scalar(select(StaffProfile).where(StaffProfile.phone == phone))


def profiles_of(admin_phone: str, *statuses: str) -> list[StaffProfile]:
    """Profiles of the admin's own institution in these statuses, newest first."""
    inst = user(admin_phone).institution_id
    stmt = select(StaffProfile).where(StaffProfile.institution_id == inst)
    if statuses:
        stmt = stmt.where(StaffProfile.status.in_(statuses))
    return list(db.session.scalars(stmt.order_by(StaffProfile.submitted_at.desc(), StaffProfile.id.desc())))


def make_pending(admin_phone: str, n: int) -> list[int]:
    """Make at least n profiles of the admin's institution pending (待审核); returns their ids."""
    inst = user(admin_phone).institution_id
    ids = [p.id for p in profiles_of(admin_phone, "submitted")]
    if len(ids) < n:
        others = db.session.scalars(select(StaffProfile.id).where(
            StaffProfile.institution_id == inst, StaffProfile.status != "submitted").order_by(StaffProfile.id)
            .limit(n - len(ids))).all()
        now = utcnow()
        for k, pid in enumerate(others):
            db.session.execute(update(StaffProfile).where(StaffProfile.id == pid).values(
                status="submitted", submitted_at=now - timedelta(minutes=k + 1), last_reason=None))
        db.session.commit()
        reconcile()
        ids += list(others)
    assert len(ids) >= n
    return ids[:n]


def counters_match_rows() -> bool:
    """The maintained counters equal a GROUP BY over the profiles."""
    real = {(i, s): n for i, s, n in db.session.execute(
        select(StaffProfile.institution_id, StaffProfile.status, func.count())
        .where(StaffProfile.institution_id.is_not(None))
        .group_by(StaffProfile.institution_id, StaffProfile.status))}
    kept = {(i, s): n for i, s, n in db.session.execute(
        select(StatusCounter.institution_id, StatusCounter.status, StatusCounter.n)) if n}
    return real == kept


def post_action(client, action, ids, reason=None, url=STAFF_URL, **extra):
    data = {"action": action, "rowid": [str(i) for i in ids], "url": url, **extra}
    if reason is not None:
        data["reason"] = reason
    return client.post(ACTION_URL, data=data)


def flashes(client) -> list[tuple[str, str]]:
    """Flashed (category, message) pairs waiting in the client's session (consumed)."""
    with client.session_transaction() as sess:
        return list(sess.pop("_flashes", []))


def events_for(ids) -> list[ReviewEvent]:
    return list(db.session.scalars(select(ReviewEvent).where(ReviewEvent.profile_id.in_(list(ids)))
                                   .order_by(ReviewEvent.id)))


def audit_rows(action: str) -> list[AuditLog]:
    return list(db.session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


def snapshot():
    """Everything a refused request must leave untouched."""
    return (
        db.session.execute(select(StaffProfile.id, StaffProfile.status, StaffProfile.version,
                                  StaffProfile.last_reason).order_by(StaffProfile.id)).all(),
        db.session.scalar(select(func.count()).select_from(ReviewEvent)),
        db.session.execute(select(StatusCounter.institution_id, StatusCounter.status, StatusCounter.n)
                           .order_by(StatusCounter.institution_id, StatusCounter.status)).all(),
        db.session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action.like("review_%"))),
    )


def grid_ids(html: str) -> list[int]:
    """Row ids of a rendered grid page, in order."""
    import re

    return [int(x) for x in re.findall(r'name="rowid" class="action-checkbox" value="(\d+)"', html)]
