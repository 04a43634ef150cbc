"""Configuration layering (defaults → instance/config.py → FLASK_* environment), security headers, cookies."""
import os
import re
import stat

import pytest
from cryptography.fernet import Fernet
from flask import Flask

from admin_app import create_app
from tests.conftest import DEMO_PASSWORD, DISTRICT_A, make_app


@pytest.fixture
def instance_dir(tmp_path, monkeypatch):
    """create_app() with no test config, over an instance folder of its own and no FLASK_* variables."""
    folder = tmp_path / "instance"
    monkeypatch.setattr(Flask, "auto_find_instance_path", lambda self: str(folder))
    for key in list(os.environ):
        if key.startswith("FLASK_"):
            monkeypatch.delenv(key)
    return folder


def test_first_start_writes_instance_config_with_random_secrets(instance_dir):
    assert not (instance_dir / "config.py").exists()
    app = create_app()
    path = instance_dir / "config.py"
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert app.config["SECRET_KEY"] and app.config["SECRET_KEY"] in text
    assert app.config["PII_KEY"] and app.config["PII_KEY"] in text
    assert len(app.config["SECRET_KEY"]) >= 32
    Fernet(app.config["PII_KEY"])  # a real Fernet key


def test_second_start_keeps_the_same_secrets(instance_dir):
    first = create_app()
    before = (instance_dir / "config.py").read_text()
    second = create_app()
    assert (instance_dir / "config.py").read_text() == before
    assert (second.config["SECRET_KEY"], second.config["PII_KEY"]) == (first.config["SECRET_KEY"],
                                                                       first.config["PII_KEY"])


def test_two_installations_get_different_secrets(instance_dir, tmp_path, monkeypatch):
    a = create_app()
    other = tmp_path / "other"
    monkeypatch.setattr(Flask, "auto_find_instance_path", lambda self: str(other))
    b = create_app()
    assert a.config["SECRET_KEY"] != b.config["SECRET_KEY"]
    assert a.config["PII_KEY"] != b.config["PII_KEY"]


def test_an_existing_instance_config_is_read_and_never_overwritten(instance_dir):
    instance_dir.mkdir()
    (instance_dir / "config.py").write_text('SECRET_KEY = "mine"\nPII_KEY = "also-mine"\nSMS_BACKEND = "http"\n')
    app = create_app()
    assert app.config["SECRET_KEY"] == "mine" and app.config["PII_KEY"] == "also-mine"
    assert app.config["SMS_BACKEND"] == "http"
    assert "mine" in (instance_dir / "config.py").read_text()


def test_defaults_are_sqlite_in_the_instance_folder_console_sms_and_captcha_on(instance_dir):
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "sqlite:///" + str(instance_dir / "registry.db")
    assert app.config["SMS_BACKEND"] == "console"
    assert app.config["CAPTCHA_ENABLED"] is True
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert app.config["BABEL_DEFAULT_LOCALE"] == "zh_Hans_CN"
    assert app.config["UPLOAD_FOLDER"] == str(instance_dir / "uploads")
    assert app.config["SMS_OUTBOX"] == str(instance_dir / "sms_outbox.jsonl")


def test_flask_environment_variables_override_the_instance_file(instance_dir, monkeypatch):
    instance_dir.mkdir()
    (instance_dir / "config.py").write_text('SECRET_KEY = "from-file"\nPII_KEY = "k"\nSMS_BACKEND = "http"\n')
    monkeypatch.setenv("FLASK_SECRET_KEY", "from-env")
    monkeypatch.setenv("FLASK_SMS_BACKEND", "console")
    monkeypatch.setenv("FLASK_SQLALCHEMY_DATABASE_URI", "sqlite:////tmp/elsewhere.db")
    monkeypatch.setenv("FLASK_CAPTCHA_ENABLED", "false")
    monkeypatch.setenv("FLASK_UPLOAD_MAX_BYTES", "1234")
    monkeypatch.setenv("FLASK_RATELIMIT_STORAGE_URI", "memory://")
    monkeypatch.setenv("FLASK_SMS_HTTP_URL", "http://127.0.0.1:9/send")
    app = create_app()
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.config["SMS_BACKEND"] == "console"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "sqlite:////tmp/elsewhere.db"
    assert app.config["CAPTCHA_ENABLED"] is False
    assert app.config["UPLOAD_MAX_BYTES"] == 1234
    assert app.config["SMS_HTTP_URL"] == "http://127.0.0.1:9/send"


@pytest.mark.parametrize("raw, expected", [("true", True), ("1", True), ("yes", True), ("on", True),
                                           ("false", False), ("0", False), ("no", False), ('"off"', False)])
def test_boolean_switches_from_the_environment_are_real_booleans(instance_dir, monkeypatch, raw, expected):
    monkeypatch.setenv("FLASK_CAPTCHA_ENABLED", raw)
    assert create_app().config["CAPTCHA_ENABLED"] is expected


def test_postgresql_urls_get_psycopg_tuned(tmp_path):
    app = make_app(tmp_path, "postgresql+psycopg://u@127.0.0.1:1/x")
    opts = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert opts["connect_args"]["prepare_threshold"] is None
    assert opts["pool_pre_ping"] is True


def test_two_apps_in_one_process_each_get_their_own_admin(tmp_path):
    a = make_app(tmp_path / "a", "sqlite://")
    b = make_app(tmp_path / "b", "sqlite://")
    assert "admin.index" in a.view_functions and "admin.index" in b.view_functions


# -- security headers and cookies ------------------------------------------------------------------------


def assert_security_headers(resp):
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] in ("same-origin", "strict-origin-when-cross-origin", "no-referrer")
    assert resp.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("path", ["/login", "/api/regions?parent=", "/api/regions?parent=x", "/no-such-page",
                                  "/admin/"])
def test_every_response_carries_the_security_headers(client, path):
    assert_security_headers(client.get(path))


def test_back_office_pages_carry_the_security_headers_and_nonce_their_inline_scripts(login):
    resp = login(DISTRICT_A).get("/admin/institution/")
    assert_security_headers(resp)
    nonce = re.search(r"'nonce-([^']+)'", resp.headers["Content-Security-Policy"]).group(1)
    html = resp.get_data(as_text=True)
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or f'nonce="{nonce}"' in tag, tag
    assert "http://" not in " ".join(re.findall(r'(?:src|href)="[^"]*"', html))  # no CDN assets


def test_each_request_gets_its_own_nonce(login):
    c = login(DISTRICT_A)
    first = c.get("/admin/").headers["Content-Security-Policy"]
    second = c.get("/admin/").headers["Content-Security-Policy"]
    assert re.search(r"'nonce-([^']+)'", first).group(1) != re.search(r"'nonce-([^']+)'", second).group(1)


def test_the_session_cookie_is_httponly_and_samesite_lax(client):
    resp = client.post("/login", data={"phone": DISTRICT_A, "password": DEMO_PASSWORD})
    cookie = next(c for c in resp.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # make run serves http://127.0.0.1, where a Secure cookie never comes back


def test_the_session_cookie_is_secure_when_configured_for_https(template_db, tmp_path):
    from tests.conftest import clone_demo

    app = make_app(tmp_path, clone_demo(template_db, tmp_path), SESSION_COOKIE_SECURE=True)
    with app.app_context():
        resp = app.test_client().post("/login", data={"phone": DISTRICT_A, "password": DEMO_PASSWORD})
        cookie = next(c for c in resp.headers.getlist("Set-Cookie") if c.startswith("session="))
        assert "Secure" in cookie and "HttpOnly" in cookie
        from admin_app.extensions import db

        db.session.remove()
        db.engine.dispose()


def test_a_post_without_its_csrf_token_is_refused_in_chinese(template_db, tmp_path):
    from admin_app.extensions import db
    from tests.conftest import clone_demo, csrf_token_from

    app = make_app(tmp_path, clone_demo(template_db, tmp_path), WTF_CSRF_ENABLED=True)
    with app.app_context():
        c = app.test_client()
        resp = c.post("/login", data={"phone": DISTRICT_A, "password": DEMO_PASSWORD})
        assert resp.status_code == 400
        assert "安全令牌" in resp.get_data(as_text=True)
        token = csrf_token_from(c.get("/login").get_data(as_text=True))
        assert token
        resp = c.post("/login", data={"phone": DISTRICT_A, "password": DEMO_PASSWORD, "csrf_token": token})
        assert resp.status_code == 302
        db.session.remove()
        db.engine.dispose()
