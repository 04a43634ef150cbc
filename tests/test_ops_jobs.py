"""The Redis/RQ export-job backend (JOB_BACKEND=rq) and `flask jobs-worker`, against a real redis-server."""
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis.exceptions

from admin_app.extensions import db
from admin_app.models import ExportJob, User
from admin_app.services import jobs
from tests.conftest import DISTRICT_A, Login, clone_demo, make_app

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """A throwaway redis-server on a free loopback port (Debian's redis-server package)."""
    if not os.path.exists(REDIS_SERVER):
        pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
    redis = pytest.importorskip("redis")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    tmp = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                redis.Redis.from_url(url, socket_connect_timeout=1).ping()
                break
            except redis.RedisError:
                assert proc.poll() is None and time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture
def rq_app(template_db, tmp_path, redis_url):
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    application = make_app(tmp_path, clone_demo(template_db, tmp_path), JOB_BACKEND="rq", REDIS_URL=redis_url,
                           EXPORT_JOB_THRESHOLD=10, EXPORT_FOLDER=str(tmp_path / "shared-exports"))
    ctx = application.app_context()
    ctx.push()
    yield application
    jobs._worker_app = jobs._worker_pid = None
    db.session.remove()
    db.engine.dispose()
    ctx.pop()


@pytest.fixture(autouse=True)
def _signal_handlers_restored():
    """An RQ worker run in this process installs its SIGINT/SIGTERM handlers and leaves them: restore ours, or a
    later signal to this (xdist worker) process would raise rq's StopRequested in whatever runs then."""
    import signal

    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def _start_export(app) -> str:
    resp = Login(app)(DISTRICT_A).get("/admin/staff/export/xlsx/")
    assert resp.status_code == 302 and "/admin/staff/jobs/" in resp.headers["Location"]
    return resp.headers["Location"].rstrip("/").rsplit("/", 1)[-1]


def test_an_rq_job_waits_in_redis_until_a_worker_runs_it(rq_app):
    from rq import Queue, SimpleWorker

    job_id = _start_export(rq_app)
    queue = jobs.rq_queue(rq_app)
    assert queue.name == jobs.DEFAULT_QUEUE and queue.count == 1
    assert db.session.get(ExportJob, job_id).status == "queued"  # no thread ran it in the web process

    jobs._worker_app = rq_app  # what `flask jobs-worker` does before its work horses run
    SimpleWorker([Queue(queue.name, connection=queue.connection)], connection=queue.connection).work(burst=True)

    db.session.expire_all()
    job = db.session.get(ExportJob, job_id)
    assert job.status == "done" and job.total > 10 and job.done == job.total, (job.status, job.error)
    path = Path(job.file_path)
    assert path.parent == Path(rq_app.config["EXPORT_FOLDER"]) and path.read_bytes()[:2] == b"PK"
    assert queue.count == 0


def test_the_jobs_worker_command_runs_queued_jobs(rq_app):
    job_id = _start_export(rq_app)
    result = rq_app.test_cli_runner().invoke(args=["jobs-worker", "--burst"])
    assert result.exit_code == 0, result.output
    assert f"queue {jobs.DEFAULT_QUEUE}" in result.output
    db.session.expire_all()
    job = db.session.get(ExportJob, job_id)
    assert job.status == "done" and Path(job.file_path).read_bytes()[:2] == b"PK", (job.status, job.error)


def test_the_job_function_builds_its_own_app_from_the_environment(rq_app, monkeypatch):
    """A plain `rq worker` has no app: run_in_new_app makes one from FLASK_* (here: the test database)."""
    job_id = _start_export(rq_app)
    monkeypatch.setenv("FLASK_SQLALCHEMY_DATABASE_URI", rq_app.config["SQLALCHEMY_DATABASE_URI"])
    monkeypatch.setenv("FLASK_PII_KEY", rq_app.config["PII_KEY"])
    monkeypatch.setenv("FLASK_SECRET_KEY", rq_app.config["SECRET_KEY"])
    monkeypatch.setenv("FLASK_EXPORT_FOLDER", rq_app.config["EXPORT_FOLDER"])
    jobs._worker_app = None
    jobs.run_in_new_app(job_id)
    db.session.expire_all()
    job = db.session.get(ExportJob, job_id)
    assert job.status == "done" and Path(job.file_path).read_bytes()[:2] == b"PK", (job.status, job.error)


def test_an_unreachable_redis_fails_the_job_instead_of_leaving_it_queued(rq_app):
    rq_app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    user = db.session.query(User).filter_by(phone=DISTRICT_A).one()
    with rq_app.test_request_context("/admin/staff/export/xlsx/"), pytest.raises(redis.exceptions.ConnectionError):
        jobs.enqueue("staff_xlsx", {"criteria": [], "locale": "en", "total": 0}, user)
    db.session.expire_all()
    job = db.session.query(ExportJob).one()
    assert job.status == "failed" and "could not queue" in job.error


def test_the_rq_backend_needs_a_redis_url(rq_app):
    rq_app.config["REDIS_URL"] = ""
    with pytest.raises(RuntimeError, match="REDIS_URL"):
        jobs.rq_queue(rq_app)
