"""SMS verification codes: issue, deliver, check; the limits are counted from the sms_code table."""
# A code is 6 digits from `secrets`, stored as an HMAC, bound to phone + purpose, alive SMS_CODE_TTL seconds,
# killed after SMS_MAX_TRIES wrong tries, consumed by its first successful check, and superseded by a newer
# code for the same phone + purpose. Backends: "console" (log + one JSON line in SMS_OUTBOX) and "http".
# send_notice delivers a text without a code (review notices) through the same backends.
import hashlib
import hmac
import json
import logging
import secrets
import unicodedata
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

from flask import current_app, g, has_request_context, request
from flask_babel import gettext as _
from sqlalchemy import delete, func, select, update

from ..extensions import db
from ..i18n import N_
from ..models import SmsCode, User
from ..models.types import utcnow
from . import ServiceError, captcha
from .audit import client_ip

PURPOSES = ("register", "reset_password", "step_up", "institution", "login")
# Purposes whose code only an existing account receives; for any other phone the row is stored, never delivered.
ACCOUNT_ONLY = ("reset_password", "login")
# What the message says the code is for (translated when the message is built).
PURPOSE_LABELS = {
    "register": N_("registration"),
    "reset_password": N_("password reset"),
    "step_up": N_("identity confirmation"),
    "institution": N_("institution application"),
    "login": N_("sign-in"),
}
log = logging.getLogger(__name__)


class SmsError(ServiceError):
    """A refused send or check; `status` is the HTTP status an API answers with."""

    captcha_required = False

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class SmsCaptchaRequired(SmsError):
    """Many codes went to one network address this hour: the next send needs the image captcha answered."""

    captcha_required = True

    def __init__(self, message: str):
        super().__init__(message, 428)


def _digest(phone: str, purpose: str, code: str) -> str:
    # Keyed, and bound to phone + purpose: a leaked table row cannot be replayed for another phone or purpose.
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, f"{phone}|{purpose}|{code}".encode(), hashlib.sha256).hexdigest()


def _check_purpose(purpose: str) -> None:
    if purpose not in PURPOSES:
        raise SmsError(_("Unknown verification code purpose."))


def normalize_code(code: str) -> str:
    """Half-width digits without spaces: what people paste from a message."""
    text = unicodedata.normalize("NFKC", code or "")
    return "".join(ch for ch in text if not ch.isspace())


def send_code(phone: str, purpose: str, ip: str | None = None, captcha_answer: str | None = None) -> None:
    """Issue and deliver a code for an 11-digit phone + purpose; raise SmsError when a limit or the gateway refuses."""
    # For reset_password and login an unknown phone gets a row that is never delivered: the answer and the limits
    # look the same whether or not the phone has an account.
    _check_purpose(purpose)
    cfg = current_app.config
    ip = ip if ip is not None else client_ip()
    if captcha_answer is None and has_request_context():
        # Every sending door (the JSON endpoint and each form's 获取验证码 button) posts the answer as sms_captcha.
        captcha_answer = request.form.get("sms_captcha")
    now = utcnow()
    exists = db.session.scalar(select(User.id).where(User.phone == phone)) is not None
    if purpose == "register" and exists:
        raise SmsError(_("This mobile number is already registered; please sign in or reset the password."), 409)
    _check_limits(phone, purpose, ip, now, captcha_answer)
    code = f"{secrets.randbelow(10 ** 6):06d}"
    # Inserted unusable (expires at creation) so the cooldown covers a concurrent second send while the
    # gateway is being called; it becomes usable only after delivery succeeded.
    row = SmsCode(phone=phone, purpose=purpose, code_hash=_digest(phone, purpose, code), attempts=0, ip=ip,
                  created_at=now, expires_at=now)
    db.session.add(row)
    db.session.flush()
    recent = db.session.scalar(select(func.count()).select_from(SmsCode).where(
        SmsCode.phone == phone, SmsCode.purpose == purpose, SmsCode.id != row.id,
        SmsCode.created_at > now - timedelta(seconds=cfg["SMS_RESEND_COOLDOWN"])))
    if recent:
        db.session.rollback()
        raise SmsError(_("A code was sent just now; please wait a minute before asking again."), 429)
    row_id = row.id
    db.session.commit()
    deliver = purpose not in ACCOUNT_ONLY or exists
    if deliver:
        try:
            _backend(cfg["SMS_BACKEND"])(phone, purpose, code)
        except SmsError:
            db.session.execute(delete(SmsCode).where(SmsCode.id == row_id))
            db.session.commit()
            raise
    # A newer code supersedes every older unused one for the same phone and purpose.
    db.session.execute(update(SmsCode).where(
        SmsCode.phone == phone, SmsCode.purpose == purpose, SmsCode.used_at.is_(None), SmsCode.id != row_id)
        .values(used_at=now))
    db.session.execute(update(SmsCode).where(SmsCode.id == row_id)
                       .values(expires_at=now + timedelta(seconds=cfg["SMS_CODE_TTL"])))
    db.session.commit()


def _check_limits(phone: str, purpose: str, ip: str | None, now: datetime, captcha_answer: str | None = None) -> None:
    cfg = current_app.config
    last = db.session.scalar(select(func.max(SmsCode.created_at)).where(
        SmsCode.phone == phone, SmsCode.purpose == purpose))
    wait = cfg["SMS_RESEND_COOLDOWN"] - ((now - last).total_seconds() if last else cfg["SMS_RESEND_COOLDOWN"])
    if wait > 0:
        raise SmsError(_("A code was sent just now; please wait %(n)d seconds before asking again.",
                         n=max(1, int(wait + 0.999))), 429)
    today = db.session.scalar(select(func.count()).select_from(SmsCode).where(
        SmsCode.phone == phone, SmsCode.created_at > now - timedelta(days=1)))
    if today >= cfg["SMS_DAILY_CAP_PER_PHONE"]:
        raise SmsError(_("Too many codes were sent to this mobile number today; please try again tomorrow."), 429)
    if ip:
        _check_address(purpose, ip, now, captcha_answer)


def _check_address(purpose: str, ip: str, now: datetime, captcha_answer: str | None) -> None:
    """Escalate per network address: a hospital behind one NAT address signs up freely, a pump is stopped."""
    # The per-phone cooldown and daily cap are the defence against pumping one number; against pumping many numbers
    # from one address a low cap would also stop a whole hospital's sign-up day, so past a generous count the send
    # needs the image captcha (a person answers it in seconds, a script cannot), and only past a very high one is
    # it refused until the hour has passed.
    cfg = current_app.config
    since = now - timedelta(hours=1)
    hour = db.session.scalar(select(func.count()).select_from(SmsCode).where(
        SmsCode.ip == ip, SmsCode.created_at > since))
    if hour >= cfg["SMS_HOURLY_CAP_PER_IP"]:
        oldest = db.session.scalar(select(func.min(SmsCode.created_at)).where(
            SmsCode.ip == ip, SmsCode.created_at > since))
        minutes = max(1, int(((oldest + timedelta(hours=1)) - now).total_seconds() // 60) + 1) if oldest else 60
        raise SmsError(_("Too many codes were requested from your network; please try again in %(n)d minutes.",
                         n=minutes), 429)
    if (purpose != "step_up" and cfg["CAPTCHA_ENABLED"] and hour >= cfg["SMS_CAPTCHA_AFTER_PER_IP"]
            and not captcha.check(captcha_answer or "")):
        if has_request_context():
            g.sms_captcha_needed = True  # the re-rendered form shows the image captcha beside the button
        raise SmsCaptchaRequired(_("Many codes were requested from your network; please enter the characters in "
                                   "the image, then get the code again."))


def sent_today() -> int:
    """Codes issued since the start of the local (Beijing) day: what the SMS budget is measured against."""
    from .clock import local_day_start_utc

    return db.session.scalar(select(func.count()).select_from(SmsCode).where(
        SmsCode.created_at >= local_day_start_utc()))


def budget_alarm() -> tuple[int, int] | None:
    """(sent today, budget) when today's codes passed SMS_DAILY_BUDGET, else None (0 turns the alarm off)."""
    budget = int(current_app.config.get("SMS_DAILY_BUDGET") or 0)
    if budget <= 0:
        return None
    sent = sent_today()
    return (sent, budget) if sent > budget else None


def check_code(phone: str, purpose: str, code: str, *, commit: bool = True) -> None:
    """Accept and consume the newest live code for phone + purpose, or raise SmsError."""
    # A wrong try is committed at once: it must count even though the caller's form fails. With commit=False a
    # success is only flushed, so the caller commits the consumption together with its own change.
    _check_purpose(purpose)
    code = normalize_code(code)
    if len(code) != 6 or not code.isdigit():
        raise SmsError(_("The verification code has 6 digits."))
    now = utcnow()
    row = db.session.scalar(select(SmsCode).where(
        SmsCode.phone == phone, SmsCode.purpose == purpose, SmsCode.used_at.is_(None))
        .order_by(SmsCode.created_at.desc(), SmsCode.id.desc()).limit(1))
    if row is None:
        raise SmsError(_("The verification code is not valid or has already been used; please get a new one."))
    if row.expires_at <= now:
        raise SmsError(_("The verification code has expired; please get a new one."))
    max_tries = current_app.config["SMS_MAX_TRIES"]
    if not hmac.compare_digest(row.code_hash, _digest(phone, purpose, code)):
        # One UPDATE, so concurrent wrong tries all count; the last allowed one kills the code.
        db.session.execute(update(SmsCode).where(SmsCode.id == row.id).values(attempts=SmsCode.attempts + 1))
        db.session.execute(update(SmsCode).where(SmsCode.id == row.id, SmsCode.attempts >= max_tries)
                           .values(used_at=now))
        db.session.commit()
        db.session.refresh(row)
        left = max_tries - row.attempts
        if left <= 0:
            raise SmsError(_("Too many wrong tries; this code no longer works. Please get a new one."))
        raise SmsError(_("The verification code is wrong; %(n)d tries left.", n=left))
    # Conditional on being unused: of two concurrent correct checks only one consumes the code.
    res = db.session.execute(update(SmsCode).where(SmsCode.id == row.id, SmsCode.used_at.is_(None),
                                                   SmsCode.attempts < max_tries)
                             .values(used_at=now).execution_options(synchronize_session=False))
    if res.rowcount != 1:
        db.session.rollback()
        raise SmsError(_("The verification code is not valid or has already been used; please get a new one."))
    if commit:
        db.session.commit()


def _message(purpose: str, code: str) -> str:
    minutes = max(1, current_app.config["SMS_CODE_TTL"] // 60)
    return _("Your verification code for %(what)s is %(code)s, valid for %(n)d minutes. Do not share it.",
             what=_(PURPOSE_LABELS[purpose]), code=code, n=minutes)


def _backend(name: str):
    try:
        return {"console": _console, "http": _http}[name]
    except KeyError as exc:
        raise RuntimeError(f"unknown SMS_BACKEND {name!r}") from exc


def _console(phone: str, purpose: str, code: str) -> None:
    """Development backend: log the message and append it to the outbox file (that is its purpose)."""
    text = _message(purpose, code)
    log.info("SMS to %s: %s", phone, text)
    line = {"phone": phone, "purpose": purpose, "code": code, "text": text,
            "sent_at": datetime.now(UTC).isoformat(timespec="seconds")}
    with open(current_app.config["SMS_OUTBOX"], "a", encoding="utf-8") as fh:
        fh.write(json.dumps(line, ensure_ascii=False) + "\n")


def _http(phone: str, purpose: str, code: str) -> None:
    """POST {phone, purpose, code, text} as JSON to SMS_HTTP_URL; any failure becomes a clear SmsError."""
    _post({"phone": phone, "purpose": purpose, "code": code, "text": _message(purpose, code)}, purpose)


def send_notice(phone: str, message: str, purpose: str = "notice") -> None:
    """Deliver a notice (no code) through SMS_BACKEND: an outbox line with `message`, or a POST; SmsError on failure."""
    # Callers are the notice queue's workers (services/notices.py), which retry and record a failure.
    name = current_app.config["SMS_BACKEND"]
    if name == "console":
        log.info("SMS notice to %s: %s", phone, message)
        line = {"phone": phone, "purpose": purpose, "code": None, "message": message,
                "sent_at": datetime.now(UTC).isoformat(timespec="seconds")}
        with open(current_app.config["SMS_OUTBOX"], "a", encoding="utf-8") as fh:
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    elif name == "http":
        _post({"phone": phone, "purpose": purpose, "message": message, "text": message}, purpose)
    else:
        raise RuntimeError(f"unknown SMS_BACKEND {name!r}")


def _post(payload: dict, purpose: str) -> None:
    """POST one message as JSON to SMS_HTTP_URL; a refusal or an unreachable gateway becomes SmsError (503)."""
    cfg = current_app.config
    body = json.dumps(payload, ensure_ascii=False).encode()
    req = urllib.request.Request(cfg["SMS_HTTP_URL"], data=body, method="POST",
                                 headers={"Content-Type": "application/json; charset=utf-8"})
    failed = _("The SMS could not be sent; please try again later.")
    try:
        with urllib.request.urlopen(req, timeout=float(cfg["SMS_HTTP_TIMEOUT"])) as resp:
            status = resp.status
    except urllib.error.HTTPError as e:
        # Never log the request body: it holds the code.
        log.warning("SMS gateway answered %s for purpose %s", e.code, purpose)
        raise SmsError(failed, 503) from e
    except (urllib.error.URLError, OSError, ValueError) as e:
        log.warning("SMS gateway unreachable for purpose %s: %s", purpose, type(e).__name__)
        raise SmsError(failed, 503) from e
    if not 200 <= status < 300:
        log.warning("SMS gateway answered %s for purpose %s", status, purpose)
        raise SmsError(failed, 503)

