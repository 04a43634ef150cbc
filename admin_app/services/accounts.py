"""Accounts: password rules, hashing, sign-in with lockout."""
import re
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ..models import User
from ..models.types import utcnow
from . import ServiceError
from .audit import record

# A real hash to compare against when the phone is unknown, so timing does not reveal which phones exist.
_DUMMY_HASH = None


def password_problem(password: str) -> str | None:
    """Why a password is too weak, or None: at least 8 characters with letters and digits."""
    if len(password or "") < 8:
        return _("The password must have at least 8 characters.")
    if len(password) > 128:
        return _("The password must have at most 128 characters.")
    if not re.search(r"[A-Za-z]", password) or not re.search(r"\d", password):
        return _("The password must contain both letters and digits.")
    return None


def hash_password(password: str) -> str:
    """Werkzeug scrypt hash."""
    return generate_password_hash(password, method="scrypt")


def authenticate(phone: str, password: str) -> User:
    """Return the user for phone + password, or raise ServiceError; counts failures and locks the phone."""
    global _DUMMY_HASH
    user = db.session.scalar(select(User).where(User.phone == phone))
    _refuse_if_locked(user)
    if user is None:
        _DUMMY_HASH = _DUMMY_HASH or hash_password("not-a-real-password-1")
        check_password_hash(_DUMMY_HASH, password or "")
    if user is None or not check_password_hash(user.password_hash, password or ""):
        left = _count_failure(user, phone, "unknown_phone" if user is None else "bad_password")
        # Warn before the lock, as people expect: how many tries are left on this phone.
        raise ServiceError(_("Wrong phone number or password; %(n)d tries left before the phone is locked.", n=left))
    return _signed_in(user)


def authenticate_by_sms(phone: str, sms_code: str) -> User:
    """手机快捷登录: the user for phone + a `login` SMS code, under the same lockout as the password sign-in."""
    from .sms import SmsError, check_code

    user = db.session.scalar(select(User).where(User.phone == phone))
    _refuse_if_locked(user)
    try:
        # An unknown phone got a code row that was never delivered: its checks fail like a wrong code would.
        check_code(phone, "login", sms_code, commit=False)
        if user is None:  # a guessed code for a phone with no account: answered as a wrong one
            db.session.rollback()
            raise SmsError(_("The verification code is not valid or has already been used; please get a new one."))
    except SmsError as e:
        if not normalize_code_shape(sms_code):
            raise  # a malformed code is a typing slip, not a guess: no lockout count
        left = _count_failure(user, phone, "unknown_phone" if user is None else "bad_sms_code")
        raise SmsError(_("%(reason)s (%(n)d more failed sign-ins lock this phone.)", reason=str(e), n=left)) from e
    return _signed_in(user)


def normalize_code_shape(code: str | None) -> bool:
    """True when a typed SMS code has the shape of one (6 digits, after the usual clean-up)."""
    from .sms import normalize_code

    text = normalize_code(code or "")
    return len(text) == 6 and text.isdigit()


def _refuse_if_locked(user: User | None) -> None:
    """A locked phone is refused before any password or code is looked at."""
    now = utcnow()
    if user is not None and user.locked_until and user.locked_until > now:
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        raise ServiceError(_("Too many failed attempts; this phone is locked. Try again in %(n)d minutes.", n=minutes))


def _count_failure(user: User | None, phone: str, reason: str) -> int:
    """Count a failed sign-in on the phone (known or not, alike), audit it, commit; raise when it locks the phone.

    Returns the tries left before the lock."""
    cfg = current_app.config
    now = utcnow()
    if user is None:
        record("login_failed", target_type="phone", target_id=phone, details={"reason": reason})
        db.session.commit()
        # The same words as for a known phone, tries counted alike, so the answer does not tell which phones exist.
        n = _unknown_phone_failures(phone, now - timedelta(minutes=cfg["LOGIN_LOCK_MINUTES"]))
        if n >= cfg["LOGIN_MAX_FAILURES"]:
            raise ServiceError(_("Too many failed attempts; this phone is locked for %(n)d minutes.",
                                 n=cfg["LOGIN_LOCK_MINUTES"]))
        return cfg["LOGIN_MAX_FAILURES"] - n
    # One UPDATE, so concurrent failures all count.
    db.session.execute(update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1))
    db.session.refresh(user)
    locked = user.failed_logins >= cfg["LOGIN_MAX_FAILURES"]
    if locked:
        user.locked_until = now + timedelta(minutes=cfg["LOGIN_LOCK_MINUTES"])
        user.failed_logins = 0
    record("login_failed", target_type="user", target_id=user.id, institution_id=user.institution_id,
           actor_id=user.id, details={"reason": reason, "locked": locked})
    db.session.commit()
    if locked:
        raise ServiceError(_("Too many failed attempts; this phone is locked for %(n)d minutes.",
                             n=cfg["LOGIN_LOCK_MINUTES"]))
    return cfg["LOGIN_MAX_FAILURES"] - user.failed_logins


def _signed_in(user: User) -> User:
    """The checks passed: refuse a disabled account, clear the failure count, note the time; commits."""
    if not user.is_active:
        db.session.rollback()
        raise ServiceError(_("This account has been disabled."))
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = utcnow()
    db.session.commit()
    return user


def _unknown_phone_failures(phone: str, since) -> int:
    """Failed sign-ins on a phone with no account within the lock window, read from the audit log."""
    from sqlalchemy import func

    from ..models import AuditLog

    return db.session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.created_at > since, AuditLog.action == "login_failed", AuditLog.target_type == "phone",
        AuditLog.target_id == phone)) or 0


def create_account(name: str, phone: str, password: str) -> User:
    """Register a staff account (phone already verified by SMS); refuses a phone that is taken. Caller commits."""
    from sqlalchemy.exc import IntegrityError

    if db.session.scalar(select(User.id).where(User.phone == phone)) is not None:
        raise ServiceError(_("This mobile number is already registered; please sign in or reset the password."))
    problem = password_problem(password)
    if problem:
        raise ServiceError(problem)
    user = User(phone=phone, name=(name or "").strip(), password_hash=hash_password(password))
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError as exc:  # a concurrent sign-up with the same phone won
        db.session.rollback()
        raise ServiceError(
            _("This mobile number is already registered; please sign in or reset the password.")) from exc
    record("register", target_type="user", target_id=user.id, actor_id=user.id)
    return user


def set_password(user: User, password: str, action: str) -> int:
    """Store a new password, clear the lockout (a reset is how a locked-out person gets back in) and end the
    person's other sessions in the same commit (the one making the change stays); returns how many ended."""
    from . import sessions

    problem = password_problem(password)
    if problem:
        raise ServiceError(problem)
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    ended = sessions.end_all_for([user.id], keep_current=True)
    record(action, target_type="user", target_id=user.id, institution_id=user.institution_id, actor_id=user.id,
           details={"sessions_ended": ended})
    db.session.commit()
    return ended


def change_password(user: User, old_password: str, new_password: str) -> None:
    """Signed-in change: the old password must match; wrong tries count towards the same lockout as sign-in."""
    cfg = current_app.config
    now = utcnow()
    if user.locked_until and user.locked_until > now:
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        raise ServiceError(_("Too many failed attempts; this phone is locked. Try again in %(n)d minutes.", n=minutes))
    if not check_password_hash(user.password_hash, old_password or ""):
        db.session.execute(update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1))
        db.session.refresh(user)
        if user.failed_logins >= cfg["LOGIN_MAX_FAILURES"]:
            user.locked_until = now + timedelta(minutes=cfg["LOGIN_LOCK_MINUTES"])
            user.failed_logins = 0
        record("password_change_failed", target_type="user", target_id=user.id, institution_id=user.institution_id,
               actor_id=user.id)
        db.session.commit()
        raise ServiceError(_("The current password is wrong."))
    set_password(user, new_password, "password_change")


def register_account(name: str, phone: str, password: str, sms_code: str) -> User:
    """Sign-up: refuse a taken phone, check the register SMS code, create the account; one commit."""
    from .sms import check_code

    if db.session.scalar(select(User.id).where(User.phone == phone)) is not None:
        raise ServiceError(_("This mobile number is already registered; please sign in or reset the password."))
    check_code(phone, "register", sms_code, commit=False)
    user = create_account(name, phone, password)
    db.session.commit()
    return user


def reset_password_by_sms(phone: str, sms_code: str, password: str) -> User:
    """Forgot password: the reset_password SMS code proves the phone; sets the password and clears the lockout."""
    from .sms import SmsError, check_code

    problem = password_problem(password)
    if problem:
        raise ServiceError(problem)
    user = db.session.scalar(select(User).where(User.phone == phone))
    if user is None:
        # No code was ever delivered to an unknown phone, so "expired" or "wrong, N tries left" would mislead;
        # the answer points to sign-up without saying more than the sign-up form itself says.
        raise SmsError(_("The verification code is not right. If this mobile number has no account yet, "
                         "please register first."))
    check_code(phone, "reset_password", sms_code, commit=False)
    set_password(user, password, "password_reset")
    return user
