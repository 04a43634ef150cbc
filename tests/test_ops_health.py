"""Operations: health probes, request ids in JSON logs, and the production entry's refusals."""
import json
import logging

import pytest

from admin_app import create_app
from admin_app.logs import JsonFormatter
from tests.conftest import base_config

STRONG_SECRET = "s" * 48
FERNET = "dGVzdC1waWkta2V5LXRlc3QtcGlpLWtleS10ZXN0LXA="


def test_load_balancer_sees_the_process_up(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.json == {"ok": True}


def test_readiness_reports_the_database(client):
    resp = client.get("/readyz")
    assert resp.status_code == 200 and resp.json["checks"]["database"] == "ok"


def test_readiness_fails_when_the_database_is_gone(tmp_path):
    app = create_app(base_config(tmp_path, f"sqlite:///{tmp_path}/missing/dir/db.sqlite"))
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503 and resp.json["ok"] is False
    assert resp.json["checks"]["database"].startswith("error")


def test_readiness_fails_when_redis_is_unreachable(tmp_path):
    pytest.importorskip("redis")
    cfg = base_config(tmp_path, f"sqlite:///{tmp_path}/db.sqlite") | {"REDIS_URL": "redis://127.0.0.1:1/0"}
    resp = create_app(cfg).test_client().get("/readyz")
    assert resp.status_code == 503 and resp.json["checks"]["redis"].startswith("error")


def test_every_response_carries_a_request_id(client):
    first, second = client.get("/healthz"), client.get("/healthz")
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


def test_a_proxy_request_id_is_kept_and_a_hostile_one_replaced(client):
    kept = client.get("/healthz", headers={"X-Request-ID": "abc12345-proxy"}).headers["X-Request-ID"]
    assert kept == "abc12345-proxy"
    hostile = client.get("/healthz", headers={"X-Request-ID": "<script>alert(1)</script>"}).headers["X-Request-ID"]
    assert "<" not in hostile and len(hostile) == 32


def test_json_log_lines_carry_the_request_id(app):
    record = logging.LogRecord("admin_app", logging.INFO, __file__, 1, "审核完成 %d 人", (3,), None)
    with app.test_request_context("/admin/staff/", headers={"X-Request-ID": "req-12345678"}):
        app.preprocess_request()
        line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "req-12345678" and line["message"] == "审核完成 3 人"
    assert line["path"] == "/admin/staff/"


@pytest.mark.parametrize("override, problem", [
    ({"SECRET_KEY": "change-me"}, "SECRET_KEY"),
    ({"SECRET_KEY": None}, "SECRET_KEY"),
    ({"PII_KEY": None}, "PII_KEY"),
    ({"SQLALCHEMY_DATABASE_URI": "sqlite:///x.db"}, "SQLite"),
])
def test_production_refuses_unsafe_settings(tmp_path, override, problem):
    cfg = base_config(tmp_path, "postgresql+psycopg://u@127.0.0.1:1/x") | {
        "PRODUCTION": True, "SECRET_KEY": STRONG_SECRET, "PII_KEY": FERNET} | override
    with pytest.raises(RuntimeError, match=problem):
        create_app(cfg)


def test_production_serves_secure_cookies_behind_the_proxy(tmp_path):
    cfg = base_config(tmp_path, "postgresql+psycopg://u@127.0.0.1:1/x") | {
        "PRODUCTION": True, "SECRET_KEY": STRONG_SECRET, "PII_KEY": FERNET}
    app = create_app(cfg)
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
    resp = app.test_client().get("/healthz", headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"})
    assert resp.status_code == 200
