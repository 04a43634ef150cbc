"""Background jobs (big staff exports) with their state in the database.

The interface, which any backend keeps:

- ``enqueue(kind, params, requester) -> job id``: stores an ExportJob row (status ``queued``) and hands its id to
  the configured backend;
- ``run(job_id)``: executes one job inside an application context: marks it ``running``, calls the handler
  registered for its kind with ``(job, progress)``, then stores ``done`` (file path, finished_at, expires_at =
  now + EXPORT_RETENTION_HOURS) or ``failed``; ``progress(done, total)`` writes the counts (handlers call it
  every few thousand rows) so a status page can poll them;
- ``cleanup()``: deletes jobs (and files) past ``expires_at``.

Backends are chosen by ``JOB_BACKEND``. The embedded default ``"thread"`` starts one daemon thread per job with its
own app context (and so its own database session); ``"inline"`` runs the job at once in the caller. ``"rq"`` is the
production backend: it enqueues ``run_in_new_app(job_id)`` on the Redis queue ``JOB_QUEUE`` (default
``hwr-exports``) at ``REDIS_URL`` (``FLASK_REDIS_URL``; ``JOB_REDIS_URL`` is accepted too), and a worker on any
machine runs it: ``flask --app wsgi jobs-worker`` (or ``rq worker --url redis://... hwr-exports`` started in the
project directory with the same ``FLASK_*`` environment). The job function builds its own app from the environment,
the job carries everything it needs (requester id, request arguments, locale) in ``params``, and its state and
progress are read from the database by the web processes. Files go to ``EXPORT_FOLDER`` (default
``instance/exports``), which must then be storage shared by the web nodes and the workers.
"""
import contextlib
import os
import secrets
import shutil
import threading
from datetime import UTC, timedelta
from pathlib import Path

import click
from flask import current_app
from sqlalchemy import delete, func, select, update

from ..extensions import db
from ..models import ExportJob
from ..models.types import utcnow

HANDLERS: dict = {}  # kind -> callable(job, progress) -> (file path, download name)
_threads: dict[str, threading.Thread] = {}


def register(kind: str, handler) -> None:
    """Declare the function that runs jobs of this kind."""
    HANDLERS[kind] = handler


def export_folder() -> Path:
    folder = Path(current_app.config.get("EXPORT_FOLDER") or os.path.join(current_app.instance_path, "exports"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class ThreadBackend:
    """In-process: a thread per job, each with its own app context."""

    def submit(self, app, job_id: str) -> None:
        t = threading.Thread(target=_thread_main, args=(app, job_id), name=f"job-{job_id[:8]}", daemon=True)
        _threads[job_id] = t
        t.start()


class InlineBackend:
    """Runs the job at once in the caller's process (CLI use, debugging)."""

    def submit(self, app, job_id: str) -> None:
        _thread_main(app, job_id)


DEFAULT_QUEUE = "hwr-exports"
RUN_FUNCTION = "admin_app.services.jobs.run_in_new_app"


def redis_url(app) -> str:
    url = app.config.get("REDIS_URL") or app.config.get("JOB_REDIS_URL") or ""
    if not url:
        raise RuntimeError("JOB_BACKEND 'rq' needs REDIS_URL (set FLASK_REDIS_URL=redis://host:6379/0)")
    return url


def rq_queue(app):
    """The RQ queue export jobs go to (Redis at REDIS_URL, name JOB_QUEUE)."""
    from redis import Redis
    from rq import Queue

    conn = Redis.from_url(redis_url(app), socket_connect_timeout=5)
    return Queue(app.config.get("JOB_QUEUE") or DEFAULT_QUEUE, connection=conn)


class RQBackend:
    """Redis/RQ: the job id goes to a Redis queue; `flask jobs-worker` (or `rq worker`) on any node runs it."""

    def submit(self, app, job_id: str) -> None:
        timeout = int(app.config.get("JOB_TIMEOUT", 3600))
        rq_queue(app).enqueue(RUN_FUNCTION, job_id, job_id=f"hwr-{job_id}", job_timeout=timeout,
                              result_ttl=3600, failure_ttl=7 * 86400,
                              description=f"export job {job_id}")


BACKENDS = {"thread": ThreadBackend, "inline": InlineBackend, "rq": RQBackend}


def _backend():
    name = current_app.config.get("JOB_BACKEND", "thread")
    if name not in BACKENDS:
        raise RuntimeError(f"unknown JOB_BACKEND {name!r}")
    return BACKENDS[name]()


def enqueue(kind: str, params: dict, requester) -> str:
    """Store a queued job for `requester` (a User) and hand it to the backend; returns its id."""
    if kind not in HANDLERS:
        raise ValueError(f"no handler for job kind {kind!r}")
    cleanup()
    job = ExportJob(id=secrets.token_hex(16), kind=kind, owner_id=requester.id, params=params, status="queued")
    db.session.add(job)
    db.session.commit()
    try:
        _backend().submit(current_app._get_current_object(), job.id)
    except Exception as e:  # e.g. Redis unreachable: the job must not sit "queued" forever
        _set(job.id, status="failed", error=f"could not queue: {type(e).__name__}", finished_at=utcnow())
        raise
    return job.id


def _thread_main(app, job_id: str) -> None:
    with app.app_context():
        try:
            run(job_id)
        finally:
            db.session.remove()


def _set(job_id: str, only_if: str | None = None, **values) -> int:
    # Its own connection and transaction: the handler may be streaming rows through the session meanwhile.
    stmt = update(ExportJob).where(ExportJob.id == job_id)
    if only_if is not None:  # e.g. "done" only for a job still running (not failed by the reaper meanwhile)
        stmt = stmt.where(ExportJob.status == only_if)
    with db.engine.begin() as conn:
        return conn.execute(stmt.values(**values)).rowcount


def _retention() -> timedelta:
    return timedelta(hours=float(current_app.config.get("EXPORT_RETENTION_HOURS", 24)))


def lease() -> timedelta:
    """How long a running job may go without a heartbeat before its worker counts as dead."""
    return timedelta(seconds=float(current_app.config.get("JOB_LEASE_SECONDS", 120)))


def output_path(job_id: str) -> Path:
    """Where a job writes its file: EXPORT_FOLDER/<job id>.xlsx."""
    return export_folder() / f"{job_id}.xlsx"


def temp_dir(job_id: str) -> Path:
    """A private folder (mode 700) for the job's temp files (XlsxWriter's tmpdir), inside EXPORT_FOLDER."""
    path = export_folder() / f"{job_id}.tmp"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def open_private(path: Path):
    """Open a new file for writing, readable by its owner only (it holds decrypted personal data)."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")


def remove_files(job_id: str) -> None:
    """Delete whatever a job left in EXPORT_FOLDER (its file, its temp folder)."""
    for path in export_folder().glob(f"{job_id}.*"):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


class _Heartbeat:
    """Renews the job's lease every quarter lease while the handler runs (a killed worker stops renewing it)."""

    def __init__(self, app, job_id: str):
        self.app, self.job_id, self.stop = app, job_id, threading.Event()
        self.every = max(lease().total_seconds() / 4, 0.05)
        self.thread = threading.Thread(target=self._beat, name=f"lease-{job_id[:8]}", daemon=True)

    def _beat(self) -> None:
        with self.app.app_context():
            while not self.stop.wait(self.every):
                with contextlib.suppress(Exception):  # a missed beat is retried; the lease is several beats long
                    _set(self.job_id, heartbeat_at=utcnow())

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def run(job_id: str) -> None:
    """Execute one job in the current app context (any backend's worker calls this)."""
    job = db.session.get(ExportJob, job_id)
    if job is None or job.status != "queued":
        return
    _set(job_id, status="running", heartbeat_at=utcnow())

    def progress(done: int, total: int | None = None) -> None:
        values = {"done": done, "heartbeat_at": utcnow()}
        if total is not None:
            values["total"] = total
        _set(job_id, **values)

    try:
        with _Heartbeat(current_app._get_current_object(), job_id):
            path, name = HANDLERS[job.kind](job, progress)
    except Exception as e:  # the job fails, the worker lives on, and nothing of it stays on disk
        db.session.rollback()
        current_app.logger.exception("job %s failed", job_id)
        remove_files(job_id)
        now = utcnow()
        _set(job_id, status="failed", error=str(e)[:500], finished_at=now, expires_at=now + _retention())
        return
    finally:
        shutil.rmtree(export_folder() / f"{job_id}.tmp", ignore_errors=True)
    now = utcnow()
    if not _set(job_id, only_if="running", status="done", file_path=str(path), download_name=name,
                finished_at=now, expires_at=now + _retention()):
        remove_files(job_id)  # the reaper failed it meanwhile: its file must not outlive it


WORKER_LOST = "worker_lost"


def reap(now=None, job_id: str | None = None) -> int:
    """Fail running jobs whose lease ran out (their worker died: kill -9, OOM, a lost node) and queued jobs no
    worker took within JOB_TIMEOUT, and delete what they left behind; returns how many."""
    now = now or utcnow()
    stale_running = (ExportJob.status == "running") & (
        func.coalesce(ExportJob.heartbeat_at, ExportJob.created_at) < now - lease())
    waited = timedelta(seconds=float(current_app.config.get("JOB_TIMEOUT", 3600)))
    stale_queued = (ExportJob.status == "queued") & (ExportJob.created_at < now - waited)
    stmt = select(ExportJob.id).where(stale_running | stale_queued)
    if job_id is not None:
        stmt = stmt.where(ExportJob.id == job_id)
    dead = list(db.session.scalars(stmt))
    for jid in dead:
        with db.engine.begin() as conn:  # conditional: a heartbeat that lands first keeps the job alive
            res = conn.execute(update(ExportJob).where(ExportJob.id == jid, stale_running | stale_queued).values(
                status="failed", error=f"{WORKER_LOST}: the worker stopped (no heartbeat within the lease)",
                finished_at=now, expires_at=now + _retention()))
        if res.rowcount:
            current_app.logger.warning("job %s failed: its worker stopped without finishing it", jid)
            remove_files(jid)
    if dead:
        db.session.expire_all()
    return len(dead)


_worker_app = None  # set by `flask jobs-worker` before forking: its work horses reuse that app
_worker_pid = None


def run_in_new_app(job_id: str) -> None:
    """Entry point for an external worker (RQ): builds the app from the environment (FLASK_* variables,
    instance/config.py) unless the worker command already did, then runs the job in its own app context."""
    from .. import create_app

    app, own = (_worker_app, False) if _worker_app is not None else (create_app(), True)
    with app.app_context():
        if not own and _worker_pid is not None and os.getpid() != _worker_pid:
            db.engine.dispose(close=False)  # a forked work horse never uses the parent's pooled connections
        try:
            run(job_id)
        finally:
            db.session.remove()
            if own:
                db.engine.dispose()


@click.command("jobs-worker")
@click.option("--burst", is_flag=True, help="Run the queued jobs, then exit (cron, tests).")
@click.option("--queue", "queue_name", default=None, help=f"Queue name (default JOB_QUEUE or {DEFAULT_QUEUE}).")
def worker_cmd(burst: bool, queue_name: str | None):
    """Run the RQ worker for background export jobs (JOB_BACKEND=rq, REDIS_URL)."""
    global _worker_app, _worker_pid
    from rq import Worker

    app = current_app._get_current_object()
    queue = rq_queue(app)
    if queue_name:
        from rq import Queue

        queue = Queue(queue_name, connection=queue.connection)
    _worker_app, _worker_pid = app, os.getpid()
    db.engine.dispose()  # nothing pooled is inherited by the forked work horses
    click.echo(f"jobs-worker: queue {queue.name} at {redis_url(app).split('@')[-1]}")
    Worker([queue], connection=queue.connection).work(burst=burst, logging_level="INFO")


def wait(job_id: str, timeout: float | None = None) -> None:
    """Join the job's thread (tests, CLI); a no-op for jobs not run by this process's thread backend."""
    t = _threads.pop(job_id, None)
    if t is not None:
        t.join(timeout)


def owner_of(job: ExportJob):
    """The user who asked for the job (its export runs under his scope)."""
    from ..models import User

    return db.session.get(User, job.owner_id)


def get_for(job_id: str, user) -> ExportJob | None:
    """The job if this user may see it (its requester, or the platform superuser), else None."""
    text = str(job_id or "")
    if len(text) != 32 or not all(c in "0123456789abcdef" for c in text):
        return None
    job = db.session.get(ExportJob, text)
    if job is None or not (job.owner_id == user.id or user.is_superuser):
        return None
    if job.status in ("queued", "running") and reap(job_id=job.id):
        db.session.refresh(job)
    if job.expires_at is not None and job.expires_at <= utcnow():
        return None
    return job


def cleanup(now=None) -> int:
    """Delete jobs past their expiry and their files, fail dead ones, remove orphan files; returns how many jobs."""
    now = now or utcnow()
    reap(now)
    remove_orphans(now)
    expired = db.session.execute(select(ExportJob.id, ExportJob.file_path).where(ExportJob.expires_at <= now)).all()
    for _id, path in expired:
        if path:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
    if expired:
        db.session.execute(delete(ExportJob).where(ExportJob.id.in_([i for i, _p in expired])))
        db.session.commit()
    return len(expired)


def orphans(now=None) -> list[Path]:
    """Files in EXPORT_FOLDER no live job owns: a dead or deleted job's leftovers, a killed request's temp folder
    (tmp-*, older than an hour)."""
    now = now or utcnow()
    folder = export_folder()
    live = {i: p for i, p in db.session.execute(select(ExportJob.id, ExportJob.file_path).where(
        ExportJob.status.in_(("queued", "running", "done"))))}
    out = []
    for path in folder.iterdir():
        stem = path.name.split(".", 1)[0]
        if stem in live and (path.is_dir() or live[stem] in (None, str(path))):
            continue  # a live job's file or temp folder
        if path.name.startswith("tmp-") and now.replace(tzinfo=UTC).timestamp() - path.stat().st_mtime < 3600:
            continue  # an export streaming in a request right now
        out.append(path)
    return sorted(out)


def remove_orphans(now=None) -> int:
    """Delete orphans(); returns how many."""
    found = orphans(now)
    for path in found:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return len(found)
