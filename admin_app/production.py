"""The production entry's rules: refuse unsafe settings, trust one proxy hop, Secure cookies."""
from werkzeug.middleware.proxy_fix import ProxyFix

# Values that must never run in production: the example file's and well-known placeholders.
_DEFAULT_SECRETS = {"", "change-me", "dev", "secret", "test-secret-key"}


def problems(cfg) -> list[str]:
    """What makes this configuration unfit for production (empty when fine)."""
    out = []
    if str(cfg.get("SECRET_KEY") or "") in _DEFAULT_SECRETS or len(str(cfg.get("SECRET_KEY") or "")) < 32:
        out.append("SECRET_KEY is missing, a default, or shorter than 32 characters (set FLASK_SECRET_KEY)")
    if not cfg.get("PII_KEY") or str(cfg.get("PII_KEY")).startswith("a Fernet key"):
        out.append("PII_KEY is missing (set FLASK_PII_KEY; losing it loses every identity number)")
    if str(cfg.get("SQLALCHEMY_DATABASE_URI", "")).startswith("sqlite"):
        out.append("the database is SQLite; production runs on PostgreSQL (set FLASK_SQLALCHEMY_DATABASE_URI)")
    workers = int(cfg.get("WEB_WORKERS") or 1)
    if workers > 1 and str(cfg.get("RATELIMIT_STORAGE_URI") or "memory://").startswith("memory://"):
        # Each worker would count on its own and forget on every recycle: every limit multiplied and reset.
        out.append(f"rate limits are kept per process (RATELIMIT_STORAGE_URI memory://) under {workers} workers; "
                   "set FLASK_RATELIMIT_STORAGE_URI to Redis (redis://host:6379/0)")
    return out


def apply(app) -> None:
    """Check the configuration (raise with every problem listed) and harden the app for HTTPS behind nginx."""
    found = problems(app.config)
    if found:
        raise RuntimeError("Refusing to start in production:\n  - " + "\n  - ".join(found))
    app.config.update(SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True, PREFERRED_URL_SCHEME="https")
    app.config.setdefault("LOG_JSON", True)
    # nginx is the one proxy in front: take the client address and scheme from its headers, nothing more.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
