"""Sign-in sessions held on the server, so that signing out, a password change or an ended session takes effect
at once on every node, and an idle session ends by itself.

Flask's signed cookie still carries the small per-visitor values (language, CSRF token, captcha challenge, flashed
messages); what makes a visitor signed in is a random token in it whose SHA-256 names a `user_session` row. No row,
no sign-in: a copy of the cookie is worth nothing once the row is gone. Design notes: README, Operations.
"""
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from flask import current_app, g, has_request_context, request, session
from flask_babel import gettext as _
from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.orm.attributes import set_committed_value

from ..extensions import db
from ..models import UserSession
from . import ServiceError, clock, row_id
from .audit import client_ip, record

SESSION_KEY = "_sid"  # the token's key in the signed cookie
# Flask-Login's keys: removing them signs the visitor out for this request and the next ones.
LOGIN_KEYS = ("_user_id", "_fresh", "_id", SESSION_KEY)
PURGE_BATCH = 500  # expired rows removed per sign-in: bounded work for the person signing in


class SessionNotFound(ServiceError):
    """No active session of this user has that id (another person's sessions are not found either)."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def idle_timeout() -> timedelta:
    """SESSION_IDLE_TIMEOUT: a session unused this long has ended."""
    return timedelta(seconds=int(current_app.config["SESSION_IDLE_TIMEOUT"]))


def _expired(now: datetime):
    """SQL: the session has passed its absolute end or has been idle too long."""
    return or_(UserSession.expires_at <= now, UserSession.last_seen_at <= now - idle_timeout())


def _active(now: datetime):
    return (UserSession.expires_at > now) & (UserSession.last_seen_at > now - idle_timeout())


def purge_expired(now: datetime | None = None, limit: int = PURGE_BATCH) -> int:
    """Delete up to `limit` ended sessions of anyone (run at each sign-in: no cron needed). Caller commits."""
    now = now or clock.utcnow()
    # SKIP LOCKED (PostgreSQL): two nodes purging at once take different rows instead of waiting or deadlocking.
    ids = select(UserSession.id).where(_expired(now)).order_by(UserSession.id).limit(limit).with_for_update(
        skip_locked=True)
    return db.session.execute(delete(UserSession).where(UserSession.id.in_(ids))
                              .execution_options(synchronize_session=False)).rowcount


def start(user) -> UserSession:
    """A new session for `user` who has just signed in: a row, and its token in the cookie. Commits."""
    now = clock.utcnow()
    purge_expired(now)
    previous = session.get(SESSION_KEY) if has_request_context() else None
    if isinstance(previous, str) and previous:  # signing in over another sign-in in this browser replaces it
        db.session.execute(delete(UserSession).where(UserSession.token_hash == _hash(previous)))
    token = secrets.token_urlsafe(32)
    agent = request.headers.get("User-Agent", "")[:512] if has_request_context() else ""
    row = UserSession(user_id=user.id, token_hash=_hash(token), created_at=now, last_seen_at=now,
                      expires_at=now + current_app.permanent_session_lifetime, ip=client_ip(),
                      user_agent=agent or None)
    db.session.add(row)
    db.session.commit()
    if has_request_context():
        session[SESSION_KEY] = token
        g.hwr_session = row
    return row


def end_current() -> None:
    """Signing out: the current session's row is deleted, so a copy of the cookie stops working. Commits."""
    token = session.pop(SESSION_KEY, None) if has_request_context() else None
    g.pop("hwr_session", None)
    if isinstance(token, str) and token:
        db.session.execute(delete(UserSession).where(UserSession.token_hash == _hash(token)))
        db.session.commit()


# The session of a request, by its token: built once, run before every signed-in request.
_BY_TOKEN = select(UserSession).where(UserSession.token_hash == bindparam("token_hash"))


def check_request() -> str | None:
    """Before each request: None when the visitor is anonymous or his session is valid (then it is in g).

    Otherwise the visitor is signed out for this request and 'expired' (idle or past its end) or 'ended'
    (signed out elsewhere, ended from the list, a password change) says why.
    """
    if "_user_id" not in session:
        return None
    token = session.get(SESSION_KEY)
    now = clock.utcnow()
    row = db.session.scalar(_BY_TOKEN, {"token_hash": _hash(token)}) \
        if isinstance(token, str) and token else None
    reason = None
    if row is None or str(row.user_id) != str(session.get("_user_id")):
        reason = "ended"
    elif row.expires_at <= now or row.last_seen_at <= now - idle_timeout():
        reason = "expired"
        db.session.execute(delete(UserSession).where(UserSession.id == row.id))
        db.session.commit()
    if reason:
        for key in LOGIN_KEYS:
            session.pop(key, None)
        g.pop("_login_user", None)  # a user Flask-Login may already have loaded for this request
        return reason
    g.hwr_session = row
    _touch(row, now)
    return None


def _touch(row: UserSession, now: datetime) -> None:
    """Record 'last seen' at most once per SESSION_TOUCH_INTERVAL.

    A write per request would put every page and every grid request of every signed-in person on the shared
    primary, and make a browser's parallel requests wait on one row's lock; a minute's precision is plenty for an
    idle timeout of half an hour.
    """
    if now - row.last_seen_at < timedelta(seconds=int(current_app.config["SESSION_TOUCH_INTERVAL"])):
        return
    ip = client_ip()
    # A plain UPDATE: a row deleted meanwhile (signed out in another tab) matches nothing instead of raising.
    db.session.execute(update(UserSession).where(UserSession.id == row.id).values(last_seen_at=now, ip=ip)
                       .execution_options(synchronize_session=False))
    db.session.commit()
    set_committed_value(row, "last_seen_at", now)
    set_committed_value(row, "ip", ip)


def loaded_user(user_id: str):
    """The user of the session checked for this request (loaded with it: no second query), else None."""
    row = g.get("hwr_session")
    if row is not None and str(row.user_id) == str(user_id):
        return row.user
    return None


def current_id() -> int | None:
    """The id of this request's session row, if signed in."""
    row = g.get("hwr_session") if has_request_context() else None
    return row.id if row is not None else None


def list_for(user) -> list[UserSession]:
    """The user's active sessions, most recently used first."""
    now = clock.utcnow()
    return list(db.session.scalars(select(UserSession).where(UserSession.user_id == user.id, _active(now))
                                   .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())))


def end_one(user, session_id) -> bool:
    """End one of the user's own active sessions; True when it was the current one (the caller signs out).

    Audited; commits. Another person's session is not found, like one that has already ended.
    """
    sid = row_id(session_id)
    now = clock.utcnow()
    row = db.session.scalar(select(UserSession).where(UserSession.id == sid, UserSession.user_id == user.id,
                                                      _active(now))) if sid else None
    if row is None:
        raise SessionNotFound(_("This session has already ended or does not exist."))
    current = row.id == current_id()
    record("session_ended", target_type="user", target_id=user.id, institution_id=user.institution_id,
           actor_id=user.id, details={"session_id": row.id, "ip": row.ip, "browser": describe_agent(row.user_agent)})
    db.session.execute(delete(UserSession).where(UserSession.id == row.id))
    db.session.commit()
    return current


def end_others(user) -> int:
    """End every session of the user but the current one; how many ended. Audited; commits."""
    n = end_all_for([user.id], keep_current=True)
    record("sessions_ended_others", target_type="user", target_id=user.id, institution_id=user.institution_id,
           actor_id=user.id, details={"sessions_ended": n})
    db.session.commit()
    return n


def end_all_for(user_ids, keep_current: bool = True) -> int:
    """End the sessions of these users (a password change, a revoked grant); the caller's own session stays when
    `keep_current`. In the caller's transaction: the caller commits with its own change."""
    ids = [i for i in {row_id(u) for u in user_ids} if i]
    if not ids:
        return 0
    stmt = delete(UserSession).where(UserSession.user_id.in_(ids))
    keep = current_id() if keep_current else None
    if keep is not None:
        stmt = stmt.where(UserSession.id != keep)
    return db.session.execute(stmt.execution_options(synchronize_session=False)).rowcount


@dataclass(frozen=True)
class Agent:
    browser: str
    system: str
    device: str


@lru_cache(maxsize=256)
def parse_agent(user_agent: str | None) -> Agent:
    """Browser, system and device names from a User-Agent header (ua-parser's rules); '' for what it cannot tell."""
    from ua_parser import parse

    result = parse(user_agent or "")

    def named(part, *fields) -> str:
        if part is None or part.family in (None, "Other"):
            return ""
        version = ".".join(str(v) for v in (getattr(part, f) for f in fields) if v)
        return f"{part.family} {version}".strip()

    device = "" if result.device is None or result.device.family in ("Other", "Mac", None) else result.device.family
    return Agent(browser=named(result.user_agent, "major"), system=named(result.os, "major", "minor"),
                 device=device)


def describe_agent(user_agent: str | None) -> str:
    """A readable browser line: 'Chrome 120 · Windows 10', 'WeChat Browser 8 · iOS 17.1 · iPhone'."""
    agent = parse_agent(user_agent)
    parts = [p for p in (agent.browser, agent.system, agent.device) if p]
    if parts:
        return " · ".join(parts)
    return (user_agent or "")[:60] or _("Unknown browser")
