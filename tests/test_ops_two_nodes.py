"""Scale-out: two gunicorn nodes on two loopback ports sharing one PostgreSQL and one Redis, plus an RQ worker.

Runs when TEST_DATABASE_URL is set (CI's PostgreSQL run, where nothing may be skipped); Redis comes from Debian's
redis-server package, started here on a free loopback port. Everything runs as in production (FLASK_PRODUCTION=true:
Secure cookies, ProxyFix, JSON logs), so the session cookie is carried by hand over plain http.
"""
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookies import SimpleCookie
from pathlib import Path

import pytest

from tests.conftest import DEMO_PASSWORD, DISTRICT_A, PG_URL, UNIT_A, _db_uri, _pg_admin_engine, _pg_recreate

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SECRET = "two-nodes-secret-key-" + "x" * 32
PII_KEY = "dHdvLW5vZGVzLXBpaS1rZXktdHdvLW5vZGVzLXBpaS0="  # a valid Fernet key, used to seed and to serve
WAIT = 90  # seconds: the bound on every wait below


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _redis_server() -> str:
    path = shutil.which("redis-server") or "/usr/bin/redis-server"
    assert os.path.exists(path), "redis-server is missing: apt-get install -y redis-server (.ci/run does)"
    return path


class Browser:
    """urllib with a hand-kept cookie jar (production cookies are Secure; this client speaks plain http)."""

    def __init__(self):
        self.cookies: dict[str, str] = {}

    def request(self, url: str, data: dict | None = None, timeout: float = 30):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(url, data=body, method="POST" if data is not None else "GET")
        if self.cookies:
            req.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            resp = opener.open(req, timeout=timeout)
        except urllib.error.HTTPError as e:
            resp = e
        with resp:
            payload = resp.read()
            for header in resp.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(header).items():
                    if morsel.get("max-age") == "0" or not morsel.value:
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.value
            return resp.status, resp.headers, payload

    def csrf(self, url: str) -> str:
        status, _h, body = self.request(url)
        assert status == 200, (url, status)
        m = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', body) or \
            re.search(rb'name="csrf-token" content="([^"]+)"', body)
        assert m, f"no CSRF token on {url}"
        return m.group(1).decode()

    def login(self, node: str, phone: str) -> None:
        token = self.csrf(node + "/login")
        status, headers, body = self.request(node + "/login", {"csrf_token": token, "phone": phone,
                                                               "password": DEMO_PASSWORD})
        assert status == 302, (status, body[:500])
        assert "/login" not in headers["Location"]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _until(what: str, check, procs=()):
    """Poll `check` until it returns a truthy value (bounded); fail early when a process died."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        for name, p in procs:
            assert p.poll() is None, f"{name} exited with {p.returncode} while waiting for {what}"
        time.sleep(0.2)
    pytest.fail(f"timed out after {WAIT}s waiting for {what}")


def _answers(url: str):
    try:
        with urllib.request.urlopen(url, timeout=3) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """One database, one Redis, two gunicorn nodes and one RQ worker; everything stopped afterwards."""
    if not PG_URL:  # the postgres marker skips it first; kept for running this file on its own
        pytest.skip("needs TEST_DATABASE_URL (PostgreSQL)")
    tmp = tmp_path_factory.mktemp("two-nodes")
    shared = tmp / "shared"
    (shared / "exports").mkdir(parents=True)
    (shared / "uploads").mkdir()
    name = f"{_db_uri_name()}_twonodes_{os.getpid()}"
    _pg_recreate(name)
    redis_port, port_a, port_b = _free_port(), _free_port(), _free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
    env.update({
        "PYTHONUNBUFFERED": "1",
        "FLASK_SECRET_KEY": SECRET,
        "FLASK_PII_KEY": PII_KEY,
        "FLASK_SQLALCHEMY_DATABASE_URI": _db_uri(name),
        "FLASK_UPLOAD_FOLDER": str(shared / "uploads"),
        "FLASK_SMS_OUTBOX": str(shared / "sms_outbox.jsonl"),
        "FLASK_SMS_BACKEND": "console",
        "FLASK_CAPTCHA_ENABLED": "false",
    })
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    for cmd in (["db", "upgrade"], ["seed-demo", "--staff", "200"]):
        done = subprocess.run(flask + cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"flask {' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}"
    env.update({
        "FLASK_PRODUCTION": "true",
        "FLASK_RATELIMIT_STORAGE_URI": redis_url,
        "FLASK_REDIS_URL": redis_url,
        "FLASK_JOB_BACKEND": "rq",
        "FLASK_EXPORT_JOB_THRESHOLD": "10",
        "FLASK_EXPORT_FOLDER": str(shared / "exports"),
    })
    procs: list[tuple[str, subprocess.Popen]] = []
    logs = {}

    def start(label, cmd):
        logs[label] = open(tmp / f"{label}.log", "wb")  # noqa: SIM115 - the server writes to it; closed in finally
        procs.append((label, subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=logs[label], stderr=subprocess.STDOUT,
                                              start_new_session=True)))

    try:
        start("redis", [_redis_server(), "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                        "--appendonly", "no", "--dir", str(tmp)])
        import redis

        def redis_up():
            try:
                return redis.Redis.from_url(redis_url, socket_connect_timeout=1).ping()
            except redis.RedisError:
                return False

        _until("redis-server", redis_up, procs)
        for label, port in (("node_a", port_a), ("node_b", port_b)):
            start(label, [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "-w", "2", "-b", f"127.0.0.1:{port}",
                          "wsgi:app"])
        start("worker", flask + ["jobs-worker"])
        nodes = (f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}")
        for node in nodes:
            _until(f"{node}/healthz", lambda node=node: _answers(node + "/healthz"), procs)
        yield {"a": nodes[0], "b": nodes[1], "redis": redis_url, "procs": procs, "logs": tmp}
    finally:
        for _label, p in reversed(procs):
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGTERM)
        for _label, p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
        for fh in logs.values():
            fh.close()
        _drop(name)


def _db_uri_name() -> str:
    from sqlalchemy.engine import make_url

    return make_url(PG_URL).database


def _drop(name: str) -> None:
    from sqlalchemy import text

    eng, _ = _pg_admin_engine()
    with eng.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    eng.dispose()


def _tail(cluster, label: str) -> str:
    path = cluster["logs"] / f"{label}.log"
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def test_both_nodes_are_ready_with_the_shared_database_and_redis(cluster):
    for node in (cluster["a"], cluster["b"]):
        status, _h, body = Browser().request(node + "/readyz")
        checks = json.loads(body)["checks"]
        assert status == 200 and checks == {"database": "ok", "pii_key": "ok", "redis": "ok"}, checks


def test_the_sms_cooldown_holds_across_nodes(cluster):
    phone = "13912345678"  # not registered in the demo
    browser = Browser()
    token = browser.csrf(cluster["a"] + "/register")
    status, _h, body = browser.request(cluster["a"] + "/sms/send",
                                       {"csrf_token": token, "phone": phone, "purpose": "register"})
    assert status == 200 and json.loads(body)["ok"] is True, body
    other = Browser()  # another client, on the other node: the cap is per phone, not per session or node
    token = other.csrf(cluster["b"] + "/register")
    status, _h, body = other.request(cluster["b"] + "/sms/send",
                                     {"csrf_token": token, "phone": phone, "purpose": "register"})
    assert status == 429 and json.loads(body)["ok"] is False, (status, body)


def test_a_session_from_one_node_works_on_the_other(cluster):
    browser = Browser()
    browser.login(cluster["a"], UNIT_A)
    status, headers, _b = browser.request(cluster["b"] + "/admin/")
    assert status == 200, (status, headers.get("Location"))
    assert Browser().request(cluster["b"] + "/admin/")[0] in (302, 401, 403)  # and not without it


def test_an_export_job_started_on_one_node_is_run_by_the_worker_and_downloaded_from_the_other(cluster):
    browser = Browser()
    browser.login(cluster["a"], DISTRICT_A)
    status, headers, body = browser.request(cluster["a"] + "/admin/staff/export/xlsx/")
    assert status == 302, (status, body[:300])
    m = re.search(r"/admin/staff/jobs/([0-9a-f]{32})$", headers["Location"])
    assert m, headers["Location"]
    job_id = m.group(1)
    status_url = f"{cluster['b']}/admin/staff/jobs/{job_id}.json"

    def finished():
        code, _h, payload = browser.request(status_url)
        assert code == 200, (code, payload[:300])
        state = json.loads(payload)
        assert state["status"] != "failed", (state, _tail(cluster, "worker"))
        return state if state["status"] == "done" else None

    state = _until(f"export job {job_id} to finish (worker log: {cluster['logs'] / 'worker.log'})", finished,
                   cluster["procs"])
    assert state["total"] > 10 and state["download_url"]
    path = urllib.parse.urlsplit(state["download_url"]).path
    code, headers, payload = browser.request(cluster["b"] + path)
    assert code == 200 and payload[:2] == b"PK", (code, payload[:100])
    assert "attachment" in headers["Content-Disposition"]
