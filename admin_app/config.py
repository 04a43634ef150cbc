"""Configuration defaults; instance/config.py and FLASK_* environment variables override them."""
import secrets
from datetime import timedelta
from pathlib import Path


class DefaultConfig:
    """Embedded defaults: SQLite in instance/, console SMS, captcha on."""

    SECRET_KEY = None  # filled from instance/config.py, written on first start
    PII_KEY = None
    PII_OLD_KEYS: list = []  # keys that still decrypt (and find by blind index) during a rotation; never encrypt
    SQLALCHEMY_DATABASE_URI = None  # None means sqlite:///<instance>/registry.db
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    SMS_BACKEND = "console"
    SMS_HTTP_URL = ""
    SMS_HTTP_TIMEOUT = 5
    SMS_CODE_TTL = 300
    SMS_MAX_TRIES = 5
    SMS_RESEND_COOLDOWN = 60
    SMS_DAILY_CAP_PER_PHONE = 10
    # Per network address and hour: past SMS_CAPTCHA_AFTER_PER_IP codes a send needs the image captcha, past
    # SMS_HOURLY_CAP_PER_IP it is refused (a whole hospital behind one NAT address signs up on one morning).
    SMS_CAPTCHA_AFTER_PER_IP = 30
    SMS_HOURLY_CAP_PER_IP = 1000
    # Codes per local day past which platform admins see an alarm on the dashboard (0: no alarm).
    SMS_DAILY_BUDGET = 20_000
    CAPTCHA_ENABLED = True
    # 帮助 and 客服电话 (issue 19): the number people call (the staff-reporting manual's 客户服务电话), an optional
    # help text replacing the built-in one (plain text; a blank line starts a paragraph), and the address the login
    # page's QR code points at (empty: the address the request came to).
    SUPPORT_PHONE = "010-84533392"
    HELP_TEXT = ""
    PUBLIC_URL = ""
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_ENABLED = True  # always present: the shared Limiter would otherwise keep the previous app's setting
    RATELIMIT_HEADERS_ENABLED = False
    LOGIN_IP_LIMIT = "300 per minute"
    LOGIN_MAX_FAILURES = 5
    LOGIN_LOCK_MINUTES = 15
    UPLOAD_MAX_BYTES = 5 * 1024 * 1024
    MAX_CONTENT_LENGTH = 16 * 1024 * 1024
    GRANT_CODE_TTL_DAYS = 30
    # Per signed-in user (then per IP): wrong codes cannot be tried fast enough to guess one.
    GRANT_BIND_LIMIT = "10 per minute;30 per hour"
    # Step-up forms of the back office (direct authorization, assistants, transfer), per user.
    GRANT_STEP_UP_LIMIT = "20 per hour"
    # Public registry pages, per IP (a hospital behind one NAT address applies rarely; queries are cheap).
    REGISTRY_APPLY_LIMIT = "20 per hour"
    REGISTRY_STATUS_LIMIT = "60 per hour"
    REGISTRY_SEARCH_LIMIT = "120 per minute"
    # The machine APIs (/fhir/, /api/v1/), per consuming system (per IP for calls without a valid token).
    API_RATE_LIMIT = "600 per minute"
    API_SOFTWARE_NAME = "Health Workforce Registry"
    BABEL_DEFAULT_LOCALE = "zh_Hans_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ("zh_Hans_CN", "en")
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False  # True under the production entry point (HTTPS behind nginx)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME = timedelta(hours=8)  # a sign-in session's absolute lifetime
    SESSION_IDLE_TIMEOUT = 1800  # seconds: a sign-in session unused this long has ended
    SESSION_TOUCH_INTERVAL = 60  # seconds: "last seen" is written at most this often per session
    WTF_CSRF_TIME_LIMIT = 8 * 3600
    FLASK_ADMIN_SWATCH = "cerulean"
    PAGE_SIZE = 50
    # A 1-character search word (or 2 digits) is LIKE-scanned only when the grid reaches at most this many rows.
    SEARCH_SCAN_MAX_ROWS = 20_000
    # SQLite reads a page by walking the report-time index when at least this many rows and this share of all are
    # asked for (a unit's (unit, status) ranges otherwise); PostgreSQL's planner decides by its statistics.
    GRID_WALK_MIN_ROWS = 20_000
    GRID_WALK_SHARE = 0.02
    # A registered worker's age in whole years today (from a resident ID or a typed birth date); a work start
    # before the ID_MIN_AGE-th birthday is refused too (services/identity.py).
    ID_MIN_AGE = 16
    ID_MAX_AGE = 100
    EXPORT_JOB_THRESHOLD = 50_000  # larger exports run as background jobs with a progress page
    EXPORT_MAX_ROWS = 1_000_000  # larger ones are refused
    IMPORT_MAX_ROWS = 5000  # staff rows per import file (批量导入); more are refused
    IMPORT_MAX_BYTES = None  # None: UPLOAD_MAX_BYTES
    EXPORT_RETENTION_HOURS = 24  # finished export files are kept this long
    EXPORT_FOLDER = None  # None: instance/exports; a storage root shared by nodes in production
    BACKUP_FOLDER = None  # None: instance/backups (restore staging and the safety copies of restores)
    JOB_LEASE_SECONDS = 120  # a running job whose worker sent no heartbeat for this long has died: it is failed
    # Review notices (services/notices.py): per phone and hour at most NOTICE_MAX_PER_PHONE_HOUR (the rest dropped
    # and logged); a gateway failure retried NOTICE_MAX_ATTEMPTS tries in all, waiting NOTICE_RETRY_SECONDS, then
    # twice that, …; sent by NOTICE_BACKEND (None: JOB_BACKEND's). Their link to /me starts with PUBLIC_URL.
    NOTICE_MAX_PER_PHONE_HOUR = 5
    NOTICE_MAX_ATTEMPTS = 3
    NOTICE_RETRY_SECONDS = 30
    NOTICE_BACKEND = None
    JOB_BACKEND = "thread"  # "thread" (in-process, embedded default), "inline"; see services/jobs.py
    PRODUCTION = False  # FLASK_PRODUCTION=true: the gunicorn entry; refuses unsafe settings (production.py)
    WEB_WORKERS = 1  # set by gunicorn.conf.py: several workers need a shared (Redis) limiter storage
    LOG_JSON = False  # one JSON object per log line with the request id (on by default in production)
    LOG_LEVEL = "INFO"


INSTANCE_CONFIG_TEMPLATE = '''# Local secrets, written on first start. Never commit this file.
SECRET_KEY = {secret!r}
PII_KEY = {pii!r}
'''


def ensure_instance_config(instance_path: str) -> Path:
    """Write instance/config.py with fresh random SECRET_KEY and PII_KEY if it does not exist yet."""
    from cryptography.fernet import Fernet

    path = Path(instance_path) / "config.py"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        text = INSTANCE_CONFIG_TEMPLATE.format(secret=secrets.token_urlsafe(48), pii=Fernet.generate_key().decode())
        # Exclusive create: two processes starting at once must not overwrite each other's keys.
        try:
            with open(path, "x", encoding="utf-8") as fh:
                fh.write(text)
            path.chmod(0o600)
        except FileExistsError:
            pass
    return path
