"""Shared fixtures: a demo database built once per run, copied fresh for every test.

SQLite by default; the same suite runs on PostgreSQL when TEST_DATABASE_URL is set (each test gets a
database cloned from a template database).
"""
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from admin_app import create_app
from admin_app.extensions import db
from admin_app.i18n import compile_catalogs

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
DEMO_PASSWORD = "Demo@12345"
SUPER, PROVINCE, DISTRICT_A, UNIT_A, DISTRICT_B, UNIT_B = (
    "13800000000", "13800000001", "13800000002", "13800000003", "13800000004", "13800000005")
STAFF_A, STAFF_B = "13800000010", "13800000011"
DEMO_STAFF = 200  # enough for every status in every unit's neighbourhood, quick to copy

compile_catalogs()

# Hypothesis: no deadlines (a shared 2-core CI box has noisy timings), a moderate number of examples.
# The gate is derandomized: the same examples on every run, so a red CI can be replayed and a green one is not luck;
# HYPOTHESIS_PROFILE=thorough explores at random.
settings.register_profile("ci", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow],
                          derandomize=True)
settings.register_profile("thorough", deadline=None, max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(config, items):
    """Tests marked `postgres` need TEST_DATABASE_URL; CI runs the suite a second time with it set."""
    if PG_URL:
        return
    skip = pytest.mark.skip(reason="needs TEST_DATABASE_URL (PostgreSQL)")
    for item in items:
        if item.get_closest_marker("postgres"):
            item.add_marker(skip)


def base_config(tmp: Path, uri: str) -> dict:
    """Test configuration: fixed keys, no captcha, no rate limits, no CSRF unless a test turns them on."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "PII_KEY": "dGVzdC1waWkta2V5LXRlc3QtcGlpLWtleS10ZXN0LXA=",
        "SQLALCHEMY_DATABASE_URI": uri,
        "WTF_CSRF_ENABLED": False,
        "CAPTCHA_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "UPLOAD_FOLDER": str(tmp / "uploads"),
        "BACKUP_FOLDER": str(tmp / "backups"),
        "EXPORT_FOLDER": str(tmp / "exports"),  # export and import files never land in the checkout's instance/
        "SMS_OUTBOX": str(tmp / "sms_outbox.jsonl"),
        "NOTICE_BACKEND": "inline",  # review notices are sent before the action returns: no thread outlives a test
        "SERVER_NAME": None,
    }


def _pg_admin_engine():
    url = make_url(PG_URL)
    return create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT"), url.database


def _pg_recreate(name: str, template: str | None = None) -> None:
    eng, _ = _pg_admin_engine()
    with eng.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    eng.dispose()


def _db_uri(name: str) -> str:
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def template_db(tmp_path_factory):
    """Build the schema (create_all: tests only), regions and a small demo once; return how to clone it."""
    tmp = tmp_path_factory.mktemp("template")
    if PG_URL:
        base = make_url(PG_URL).database
        # One template per xdist worker: a worker recreating a shared template would drop the other's clone source.
        name = f"{base}_tpl_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
        _pg_recreate(name)
        uri = _db_uri(name)
    else:
        uri = f"sqlite:///{tmp / 'template.db'}"
    app = create_app(base_config(tmp, uri))
    with app.app_context():
        db.create_all()
        from admin_app.seed import build_demo

        build_demo(staff_count=DEMO_STAFF)
        db.session.remove()
        db.engine.dispose()
    return {"uri": uri, "uploads": tmp / "uploads", "name": make_url(uri).database}  # sqlite: the file path


def _clone(template_db, tmp: Path, label: str = "run") -> str:
    if PG_URL:
        name = f"{make_url(PG_URL).database}_{label}_{os.getpid()}"
        _pg_recreate(name, template_db["name"])
        return _db_uri(name)
    target = tmp / "test.db"
    shutil.copy(template_db["name"], target)
    return f"sqlite:///{target}"


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in its own app context, as in production.

    The fixtures below keep an app context pushed for the test body; Flask reuses a pushed app context
    for a request, so without this `g` (Flask-Login's current user, the cached scope, the CSP nonce) and
    the database session would leak from one request, and one client, into the next. After each request
    the test's own session is expired, so objects the test holds show what the request committed.
    """

    def open(self, *args, **kwargs):
        if self.preserve_context:  # `with client:` wants to inspect the request's context afterwards
            return super().open(*args, **kwargs)
        with self.application.app_context():
            resp = super().open(*args, **kwargs)
        db.session.expire_all()
        return resp


def make_app(tmp: Path, uri: str, **overrides):
    """An app over `uri` with the test configuration (and any overrides) and the isolated test client."""
    application = create_app({**base_config(tmp, uri), **overrides})
    application.test_client_class = IsolatedClient
    return application


def clone_demo(template_db, tmp: Path, label: str = "run") -> str:
    """A fresh copy of the demo database (and its uploads) for one app; returns its URI."""
    uri = _clone(template_db, tmp, label)
    shutil.copytree(template_db["uploads"], tmp / "uploads", dirs_exist_ok=True)
    return uri


@pytest.fixture
def app(template_db, tmp_path):
    """A fresh copy of the demo database for this test."""
    application = make_app(tmp_path, clone_demo(template_db, tmp_path))
    ctx = application.app_context()
    ctx.push()
    yield application
    db.session.remove()
    db.engine.dispose()
    ctx.pop()


@pytest.fixture(scope="session")
def plain_app(tmp_path_factory):
    """An app with the test configuration and no data, for code that needs config, a locale or a request."""
    tmp = tmp_path_factory.mktemp("plain")
    return make_app(tmp, f"sqlite:///{tmp / 'unused.db'}")


@pytest.fixture
def empty_app(tmp_path):
    """An app over an empty schema (no regions, no demo)."""
    if PG_URL:
        name = f"{make_url(PG_URL).database}_empty_{os.getpid()}"
        _pg_recreate(name)
        uri = _db_uri(name)
    else:
        uri = f"sqlite:///{tmp_path / 'empty.db'}"
    application = make_app(tmp_path, uri)
    ctx = application.app_context()
    ctx.push()
    db.create_all()
    yield application
    db.session.remove()
    db.engine.dispose()
    ctx.pop()


@pytest.fixture
def client(app):
    return app.test_client()


class Login:
    """Sign test clients in as the demo users."""

    def __init__(self, app):
        self.app = app

    def __call__(self, phone: str, password: str = DEMO_PASSWORD, client=None):
        client = client or self.app.test_client()
        resp = client.post("/login", data={"phone": phone, "password": password, "captcha": ""})
        assert resp.status_code == 302 and "/login" not in resp.headers["Location"], resp.get_data(as_text=True)[:500]
        return client


@pytest.fixture
def login(app):
    """login(phone) -> a test client signed in as that demo user."""
    return Login(app)


def sms_outbox(app) -> list[dict]:
    """Every message the console SMS backend wrote to app.config["SMS_OUTBOX"], oldest first."""
    path = Path(app.config["SMS_OUTBOX"])
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def outbox_code(app, phone: str, purpose: str | None = None) -> str | None:
    """The newest code sent to phone (for purpose, when given), or None."""
    codes = [m["code"] for m in sms_outbox(app)
             if m["phone"] == phone and purpose in (None, m["purpose"]) and m.get("code")]  # notices carry none
    return codes[-1] if codes else None


def csrf_token_from(html: str) -> str:
    """The CSRF token of a rendered form."""
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'name="csrf-token" content="([^"]+)"', html)
    return m.group(1) if m else ""


class QueryCounter:
    """Collects the SQL statements run while active."""

    def __init__(self):
        self.statements: list[str] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(statement)


@pytest.fixture
def count_queries(app):
    """with count_queries() as q: ...; q.statements lists the SQL run inside."""
    from contextlib import contextmanager

    from sqlalchemy import event

    @contextmanager
    def counting():
        counter = QueryCounter()
        event.listen(db.engine, "before_cursor_execute", counter)
        try:
            yield counter
        finally:
            event.remove(db.engine, "before_cursor_execute", counter)

    return counting


def pytest_report_header(config):
    return f"database: {'PostgreSQL ' + make_url(PG_URL).render_as_string() if PG_URL else 'SQLite'}"
