"""Health Workforce Registry: the application factory."""
import os
from pathlib import Path

from flask import Flask, has_request_context, request, session
from sqlalchemy import event
from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
from sqlalchemy.engine import Engine

from .config import DefaultConfig, ensure_instance_config
from .extensions import babel, csrf, db, limiter, login_manager, migrate


def create_app(test_config: dict | None = None) -> Flask:
    """Build an app: defaults, then instance/config.py, then FLASK_* env, then test_config."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_object(DefaultConfig)
    os.makedirs(app.instance_path, exist_ok=True)
    if test_config is None:
        # The production entry never invents keys: they come from the environment or instance/config.py.
        if os.environ.get("FLASK_PRODUCTION", "").lower() not in ("1", "true", "yes", "on"):
            ensure_instance_config(app.instance_path)
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env()
    else:
        app.config.from_prefixed_env()
        app.config.update(test_config)
    _finish_config(app)
    if app.config.get("PRODUCTION"):
        from . import production

        production.apply(app)
    from . import logs

    logs.init_app(app)

    db.init_app(app)
    from .services import last_updated  # noqa: F401  (registers the sync marks on every session's flush)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"),
                     render_as_batch=True, compare_type=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    from flask_babel import get_locale

    app.jinja_env.globals["get_locale"] = get_locale
    limiter.init_app(app)

    from . import cli, views

    views.register(app)
    cli.register(app)
    # Browsers ask for /favicon.ico on every site; answer it instead of logging a 404 per page.
    app.add_url_rule("/favicon.ico", "favicon", lambda: app.send_static_file("favicon.ico"))
    return app


def _finish_config(app: Flask) -> None:
    cfg = app.config
    if not cfg.get("SQLALCHEMY_DATABASE_URI"):
        cfg["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(app.instance_path, "registry.db")
    uri = cfg["SQLALCHEMY_DATABASE_URI"]
    opts = dict(cfg.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if uri.startswith("postgresql"):
        # psycopg 3 switches to generic plans after 5 executions, which made indexed searches 100x slower.
        opts.setdefault("connect_args", {}).setdefault("prepare_threshold", None)
        opts.setdefault("pool_pre_ping", True)
    cfg["SQLALCHEMY_ENGINE_OPTIONS"] = opts
    for key in ("CAPTCHA_ENABLED", "SESSION_COOKIE_SECURE", "PRODUCTION", "LOG_JSON"):
        # FLASK_* values arrive JSON-decoded when they can be (true, 1) and as text otherwise (yes, on).
        if isinstance(cfg.get(key), str):
            cfg[key] = cfg[key].strip().lower() in ("1", "true", "yes", "on")
        elif isinstance(cfg.get(key), int):
            cfg[key] = bool(cfg[key])
    cfg["UPLOAD_MAX_BYTES"] = int(cfg["UPLOAD_MAX_BYTES"])
    cfg.setdefault("UPLOAD_FOLDER", os.path.join(app.instance_path, "uploads"))
    cfg.setdefault("SMS_OUTBOX", os.path.join(app.instance_path, "sms_outbox.jsonl"))
    from . import i18n

    # However the process was started (make, flask run, gunicorn), the Chinese catalogs are compiled or it refuses.
    translations = i18n.TRANSLATIONS
    domains = i18n.ensure_catalogs(translations)
    # One catalog per area (Flask-Babel merges domains listed with their directories).
    cfg["BABEL_DOMAIN"] = ";".join(domains)
    cfg["BABEL_TRANSLATION_DIRECTORIES"] = ";".join([str(translations)] * len(domains))
    cfg["RATELIMIT_STORAGE_URI"] = cfg.get("RATELIMIT_STORAGE_URI") or "memory://"


def select_locale() -> str:
    """zh_Hans_CN unless the user chose English (?lang=en, kept in the session)."""
    from flask import current_app

    if not has_request_context():  # CLI commands, background jobs: the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    langs = current_app.config["LANGUAGES"]
    chosen = request.args.get("lang")
    if chosen in langs:
        session["lang"] = chosen
    return session.get("lang") if session.get("lang") in langs else current_app.config["BABEL_DEFAULT_LOCALE"]


def _sqlite_table_hint(_compiler, table, text):
    """`with_hint(Model, "INDEXED BY ix_...", "sqlite")` renders after the table name, as SQLite's syntax wants.

    SQLAlchemy's SQLite compiler drops table hints (the base compiler's default); the staff grid names the
    index SQLite should read a page by when its planner, which has no statistics, would guess badly.
    """
    return text


SQLiteCompiler.get_from_hint_text = _sqlite_table_hint


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """Foreign keys on, WAL so reads go on during bulk writes, a busy timeout instead of instant errors."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()
