"""Does telling 1,000 rejected staff by SMS slow the bulk reject? (issue 21, part 3)

One process, one database (SQLite in $BENCH_DIR/notices/, or an empty PostgreSQL database given as
BENCH_NOTICES_DATABASE_URL: it is emptied first), the real views through Flask's test
client signed in as the demo unit admin. The same 1,000 pending staff of one unit are rejected in one POST, reset,
and rejected again, interleaved in a rotating order between three contenders:

- off:    the reject with notices switched off (services.notices.after_review replaced by a no-op): the baseline;
- thread: the default backend: the 1,000 notices are stored after the commit and handed to a worker thread; the
          action is timed to its answer, the delivery (1,000 outbox lines) until the worker finished;
- inline: the worker's whole job done inside the request (what the RQ worker does elsewhere), as an upper bound.

Every run checks 1,000 rows moved and, with notices, 1,000 outbox lines with purpose `notice` and 1,000 sent rows.
Prints a Markdown section for bench/RESULTS.md. BENCH_REPS (default 7), BENCH_NOTICES (default 1000).
"""
import os
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sqlalchemy import delete, select, update  # noqa: E402

REPS = int(os.environ.get("BENCH_REPS", "7"))
N = int(os.environ.get("BENCH_NOTICES", "1000"))
BENCH_DIR = Path(os.environ.get("BENCH_DIR", "/work/bench-data")) / "notices"
UNIT_ADMIN, PASSWORD = "13800000003", "Demo@12345"
REASON = "身份证照片不清晰，职称与证书不一致，请按证书修改后重新提交"


def build_app():
    from admin_app import create_app

    shutil.rmtree(BENCH_DIR, ignore_errors=True)
    BENCH_DIR.mkdir(parents=True)
    # Its own variable: the run empties the database it is given (never point it at the national bench's).
    url = os.environ.get("BENCH_NOTICES_DATABASE_URL") or f"sqlite:///{BENCH_DIR / 'notices.db'}"
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-only", "WTF_CSRF_ENABLED": False,
        "PII_KEY": "YmVuY2gtb25seS1waWkta2V5LWJlbmNoLW9ubHktcGk=", "CAPTCHA_ENABLED": False,
        "RATELIMIT_ENABLED": False, "SMS_OUTBOX": str(BENCH_DIR / "sms_outbox.jsonl"),
        "UPLOAD_FOLDER": str(BENCH_DIR / "uploads"), "SESSION_COOKIE_SECURE": False})
    return app, url


def prepare(app) -> list[int]:
    """Migrated schema, the demo, and N extra staff in the unit admin's unit, all pending; their ids."""
    from flask_migrate import upgrade

    from admin_app.extensions import db
    from admin_app.models import Institution, StaffProfile, User
    from admin_app.seed import build_demo, generate_staff

    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        upgrade(directory=str(ROOT / "migrations"))
        build_demo(200)
        unit = db.session.get(Institution, db.session.scalar(select(User.institution_id)
                                                             .where(User.phone == UNIT_ADMIN)))
        generate_staff(N, seed=7, units=[unit])
        admin_profile = db.session.scalar(select(StaffProfile.id).join(User, User.id == StaffProfile.user_id)
                                          .where(User.phone == UNIT_ADMIN))
        ids = list(db.session.scalars(select(StaffProfile.id).where(
            StaffProfile.institution_id == unit.id, StaffProfile.id != (admin_profile or 0))
            .order_by(StaffProfile.id.desc()).limit(N)))
        assert len(ids) == N
        return ids


def reset(app, ids) -> None:
    """The N staff pending again, their events and notices gone, the counters true, the outbox empty."""
    from admin_app.extensions import db
    from admin_app.models import ReviewEvent, SmsNotice, StaffProfile
    from admin_app.models.types import utcnow
    from admin_app.services.counters import reconcile

    with app.app_context():
        db.session.execute(update(StaffProfile).where(StaffProfile.id.in_(ids)).values(
            status="submitted", submitted_at=utcnow(), last_reason=None, resubmitted=False))
        db.session.execute(delete(ReviewEvent).where(ReviewEvent.profile_id.in_(ids)))
        db.session.execute(delete(SmsNotice))
        db.session.commit()
        reconcile()
    Path(app.config["SMS_OUTBOX"]).unlink(missing_ok=True)


def check(app, ids, told: bool) -> None:
    from admin_app.extensions import db
    from admin_app.models import SmsNotice, StaffProfile

    with app.app_context():
        moved = db.session.scalar(select(db.func.count()).select_from(StaffProfile).where(
            StaffProfile.id.in_(ids), StaffProfile.status == "unit_rejected"))
        sent = db.session.scalar(select(db.func.count()).select_from(SmsNotice).where(SmsNotice.status == "sent"))
    outbox = Path(app.config["SMS_OUTBOX"])
    lines = outbox.read_text(encoding="utf-8").count('"purpose": "notice"') if outbox.exists() else 0
    want = N if told else 0
    if moved != N or sent != want or lines != want:
        raise SystemExit(f"run check failed: moved {moved}, sent {sent}, outbox lines {lines} (want {N}/{want})")


def main() -> None:
    from admin_app.services import notices, review

    app, url = build_app()
    t0 = time.perf_counter()
    ids = prepare(app)
    print(f"prepared {N} pending staff in {time.perf_counter() - t0:.1f}s ({url.split(':')[0]})", file=sys.stderr)
    client = app.test_client()
    resp = client.post("/login", data={"phone": UNIT_ADMIN, "password": PASSWORD})
    assert resp.status_code == 302 and "/login" not in resp.headers["Location"]
    real = notices.after_review
    action = {"action": "reject", "rowid": [str(i) for i in ids], "reason": REASON, "url": "/admin/staff/"}
    times = {"off": [], "thread": [], "inline": []}
    delivery = []
    order = list(times)
    for rep in range(REPS + 1):  # the first round warms up and is not counted
        for contender in order[rep % 3:] + order[:rep % 3]:
            reset(app, ids)
            review.notices.after_review = real if contender != "off" else (lambda *a, **k: 0)
            app.config["NOTICE_BACKEND"] = "thread" if contender == "off" else contender
            t = time.perf_counter()
            resp = client.post("/admin/staff/action/", data=action)
            took = (time.perf_counter() - t) * 1000
            notices.wait()
            done = (time.perf_counter() - t) * 1000
            review.notices.after_review = real
            assert resp.status_code == 302, resp.status_code
            check(app, ids, told=contender != "off")
            if rep:
                times[contender].append(took)
                if contender == "thread":
                    delivery.append(done)
            print(f"rep {rep} {contender}: {took:.0f} ms", file=sys.stderr)
    med = {k: statistics.median(v) for k, v in times.items()}
    engine = "PostgreSQL" if url.startswith("postgresql") else f"SQLite {__import__('sqlite3').sqlite_version}"
    print(f"### Review notices: bulk reject of {N:,} — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
    print(f"- `python bench/notices/run.py` ({engine}; {os.cpu_count()} cores, Python {platform.python_version()});"
          f" the demo plus {N:,} pending staff in one unit, rejected in one POST by its unit admin; {REPS} runs of"
          " each contender after a warm-up, interleaved in a rotating order; medians in ms\n")
    print("| contender | reject of 1,000 (answer) | ratio to no notices |")
    print("|---|---|---|")
    print(f"| no notices (baseline) | {med['off']:.0f} | 1.00 |")
    print(f"| notices, thread backend (default) | {med['thread']:.0f} | {med['thread'] / med['off']:.2f} |")
    print(f"| notices sent inside the request (inline) | {med['inline']:.0f} | {med['inline'] / med['off']:.2f} |")
    print(f"\n- delivery with the thread backend: all {N:,} outbox lines written {statistics.median(delivery):.0f} ms"
          " (median) after the POST began; every run checked 1,000 rows moved, 1,000 `notice` lines, 1,000 sent rows")


if __name__ == "__main__":
    main()
