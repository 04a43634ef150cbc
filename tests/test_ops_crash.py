"""The operator's safety net, part two: a worker or a bulk load killed with SIGKILL leaves no stuck job, no file
holding decrypted numbers and no wrong counter (a real subprocess is killed; SQLite and PostgreSQL)."""
import os
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from admin_app.extensions import db
from admin_app.models import ExportJob, StaffProfile
from admin_app.models.types import utcnow
from admin_app.services import counters, jobs
from tests.conftest import PROVINCE
from tests.test_review_support import user

ROOT = Path(__file__).resolve().parent.parent

CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from tests.conftest import make_app
    from admin_app.extensions import db

    tmp, uri, what, arg = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    app = make_app(tmp, uri, EXPORT_FOLDER=str(tmp / "exports"))

    def pause(label):
        print(label, flush=True)
        sys.stdin.read()  # blocks until the parent kills us

    with app.app_context():
        if what == "export":
            from admin_app.services import export, jobs

            export.PROGRESS_EVERY = 5
            real = jobs.HANDLERS["staff_xlsx"]

            def handler(job, progress):
                def report(done, total=None):
                    progress(done, total)
                    if done >= 10 and total is None:
                        pause("PAUSED")
                return real(job, report)

            jobs.register("staff_xlsx", handler)
            jobs.run(arg)
        elif what == "rotate":
            import os
            from admin_app.services import keys

            app.config.update(PII_KEY=os.environ["HWR_NEW_KEY"], PII_OLD_KEYS=[os.environ["HWR_OLD_KEY"]])
            batches = []

            def progress(table, done, last_id):
                batches.append(1)
                if len(batches) == int(arg):
                    pause("PAUSED")  # some batches committed, the rest not started

            keys.rotate_pii_key(progress=progress, batch=20)
        else:
            from admin_app import seed

            batches = []
            real = seed._count

            def count(*a, **kw):
                real(*a, **kw)
                batches.append(1)
                if len(batches) == 3:
                    pause("PAUSED")  # two batches committed; the third's rows and counters written, not committed

            seed._count = count
            seed.generate_staff(int(arg), seed=9, batch=7)
""")


def run_until_paused(app, tmp_path, what: str, arg: str, **env_vars) -> subprocess.Popen:
    """Start the child on this test's database and wait (bounded by the child's life) until it says PAUSED."""
    db.session.remove()
    env = dict(os.environ, PYTHONPATH=str(ROOT), **env_vars)
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), app.config["SQLALCHEMY_DATABASE_URI"],
                             what, arg], cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:  # ends at EOF if the child dies first
        if line.strip() == "PAUSED":
            return proc
    proc.wait()
    raise AssertionError(f"the child never paused: {proc.stderr.read()[-3000:]}")


def kill9(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    proc.stdin.close()
    proc.stdout.close()
    proc.stderr.close()


def test_a_worker_killed_mid_export_leaves_a_failed_job_and_no_file(app, tmp_path, login):
    app.config["EXPORT_FOLDER"] = str(tmp_path / "exports")
    owner = user(PROVINCE)
    job = ExportJob(id="a" * 32, kind="staff_xlsx", owner_id=owner.id, status="queued",
                    params={"criteria": [], "locale": "zh_Hans_CN", "total": 0})
    db.session.add(job)
    db.session.commit()
    proc = run_until_paused(app, tmp_path, "export", job.id)
    try:
        folder = jobs.export_folder()
        db.session.expire_all()
        assert db.session.get(ExportJob, job.id).status == "running"
        out = jobs.output_path(job.id)
        temp = list((folder / f"{job.id}.tmp").iterdir())
        assert out.exists() and temp  # the half-written file and XlsxWriter's temp file of plain-text cells
        assert (out.stat().st_mode & 0o077) == 0 and all((t.stat().st_mode & 0o077) == 0 for t in temp)
    finally:
        kill9(proc)

    # Within the lease nothing is decided; once it ran out, the job is failed and its files are gone.
    assert jobs.reap() == 0 and db.session.get(ExportJob, job.id).status == "running"
    assert jobs.reap(now=utcnow() + jobs.lease() + timedelta(seconds=1)) == 1
    db.session.expire_all()
    dead = db.session.get(ExportJob, job.id)
    assert dead.status == "failed" and dead.error.startswith(jobs.WORKER_LOST) and dead.expires_at is not None
    assert list(folder.iterdir()) == []
    # The requester's progress page says so, in Chinese.
    status = login(PROVINCE).get(f"/admin/staff/jobs/{job.id}.json").json
    assert status["status"] == "failed" and "导出已中断" in status["error"]


def test_the_status_page_itself_fails_a_job_whose_lease_ran_out(app, tmp_path, login):
    """No cleanup run needed: polling the job after its worker died tells the user."""
    app.config.update(EXPORT_FOLDER=str(tmp_path / "exports"), JOB_LEASE_SECONDS=60)
    owner = user(PROVINCE)
    db.session.add(ExportJob(id="b" * 32, kind="staff_xlsx", owner_id=owner.id, status="running", done=100,
                             total=1000, heartbeat_at=utcnow() - timedelta(seconds=61)))
    db.session.commit()
    leftover = jobs.output_path("b" * 32)
    leftover.write_bytes(b"PK half a file")
    status = login(PROVINCE).get(f"/admin/staff/jobs/{'b' * 32}.json").json
    assert status["status"] == "failed" and not leftover.exists()


def test_cleanup_removes_orphan_export_files(app, tmp_path):
    app.config["EXPORT_FOLDER"] = str(tmp_path / "exports")
    folder = jobs.export_folder()
    owner = user(PROVINCE)
    keep = jobs.output_path("c" * 32)
    keep.write_bytes(b"PK done")
    db.session.add(ExportJob(id="c" * 32, kind="staff_xlsx", owner_id=owner.id, status="done", file_path=str(keep),
                             expires_at=utcnow() + timedelta(hours=1)))
    db.session.commit()
    (folder / f"{'d' * 32}.xlsx").write_bytes(b"a deleted job's file")
    (folder / f"{'d' * 32}.tmp").mkdir()
    stale = folder / "tmp-killed-request"
    stale.mkdir()
    fresh = folder / "tmp-streaming-now"
    fresh.mkdir()
    old = (utcnow() - timedelta(hours=2)).timestamp()
    os.utime(stale, (old, old))
    assert jobs.cleanup() == 0
    assert sorted(p.name for p in folder.iterdir()) == sorted([keep.name, fresh.name])


def test_a_bulk_load_killed_mid_run_leaves_exact_counters(app, tmp_path):
    before = db.session.scalar(select(func.count()).select_from(StaffProfile))
    assert counters.drift() == {}
    proc = run_until_paused(app, tmp_path, "gen", "100")
    kill9(proc)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(StaffProfile)) == before + 14  # two batches of 7
    assert counters.drift() == {}


def test_flask_check_passes_on_sound_data_and_names_every_fault(app, tmp_path):
    from admin_app.models import StatusCounter
    from tests.test_security_data_safety import cli

    app.config["EXPORT_FOLDER"] = str(tmp_path / "exports")
    result = cli(app, "check")
    assert result.exit_code == 0 and "all checks passed" in result.output, result.output

    # Counter drift, a stuck job, an orphan file, a missing avatar, then a node with the wrong key.
    db.session.execute(StatusCounter.__table__.update().where(StatusCounter.status == "submitted")
                       .values(n=StatusCounter.n + 1))
    db.session.add(ExportJob(id="e" * 32, kind="staff_xlsx", owner_id=user(PROVINCE).id, status="running",
                             heartbeat_at=utcnow() - timedelta(hours=1)))
    db.session.commit()
    (jobs.export_folder() / "leftover.xlsx").write_bytes(b"PK")
    avatar = db.session.scalar(select(StaffProfile.avatar).where(StaffProfile.avatar.is_not(None)).limit(1))
    (Path(app.config["UPLOAD_FOLDER"]) / "avatar" / avatar).unlink()
    db.session.remove()
    result = cli(app, "check")
    assert result.exit_code != 0
    for name in ("counters", "jobs", "export_files", "uploads"):
        assert f"FAIL  {name}:" in result.output, result.output
    assert "ok    pii_key" in result.output and avatar in result.output
    app.config["PII_KEY"] = "b3RoZXIta2V5LW90aGVyLWtleS1vdGhlci1rZXktb3Q="
    assert "FAIL  pii_key: PII_KEY mismatch" in cli(app, "check").output
