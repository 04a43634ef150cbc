"""An incremental sync that finds 100 changes among the national data: `/fhir/Practitioner?_lastUpdated=gt<last>`.

One process over the national bench data (bench/national: BENCH_DIR/national.db or BENCH_DATABASE_URL). Inside one
transaction that is rolled back at the end (nothing stays written), BENCH_CHANGES approved profiles spread over the
whole table get an updated_at just after the newest there is: what a day of approvals and edits leaves for the
nightly sync. A national consuming system (a transient ApiClient on the root: no row of its own) then asks
services.fhir_api for everything changed since the newest stamp before them, exactly what the view serves, without
HTTP and the audit INSERT. Timed (after a warm-up, medians): that sync's page, which must hold exactly the changes;
counted: its statements; shown: the plan of its page statement (which index, whether anything is sorted).

Run it from two checkouts over the same data to compare code and schema (before and after the (updated_at, id)
index of migration d7e3b9a1c5f4). BENCH_REPS (default 9), BENCH_CHANGES (default 100).
"""
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench" / "national"))

from sqlalchemy import event, func, select, update  # noqa: E402
from werkzeug.datastructures import MultiDict  # noqa: E402

REPS = int(os.environ.get("BENCH_REPS", "9"))
CHANGES = int(os.environ.get("BENCH_CHANGES", "100"))


def main() -> None:
    import common

    from admin_app.extensions import db
    from admin_app.models import ApiClient, Institution, StaffProfile
    from admin_app.services import api_search, fhir_api

    url = common.database_url()
    app = common.make_app(url)
    with app.test_request_context("/fhir/Practitioner"):
        root = db.session.scalars(select(Institution).where(Institution.parent_id.is_(None))
                                  .order_by(Institution.id)).first()
        client = ApiClient(id=0, name="bench", institution_id=root.id, full_id=False)
        client.institution = root
        approved = db.session.scalar(select(func.count()).select_from(StaffProfile)
                                     .where(StaffProfile.status == api_search.PUBLISHED))
        total = db.session.scalar(select(func.count()).select_from(StaffProfile))
        last_sync = db.session.scalar(select(func.max(StaffProfile.updated_at)))
        # Every (approved // CHANGES)-th approved profile by id: the changes spread over the whole table.
        step = max(1, approved // CHANGES)
        numbered = (select(StaffProfile.id, func.row_number().over(order_by=StaffProfile.id).label("n"))
                    .where(StaffProfile.status == api_search.PUBLISHED).subquery())
        chosen = list(db.session.scalars(select(numbered.c.id).where(numbered.c.n % step == 0)
                                         .order_by(numbered.c.id).limit(CHANGES)))
        for i, pid in enumerate(chosen):  # uncommitted: rolled back below
            db.session.execute(update(StaffProfile).where(StaffProfile.id == pid)
                               .values(updated_at=last_sync + timedelta(seconds=1, microseconds=i)))
        args = MultiDict({"_lastUpdated": "gt" + last_sync.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                          "_count": str(CHANGES)})
        base = "http://bench/fhir/"

        def sync():
            return fhir_api.run_search("Practitioner", args, client, base).body

        body = sync()  # also the warm-up
        pulled = sorted(int(e["resource"]["id"]) for e in body.get("entry", []))
        assert pulled == sorted(chosen), f"the sync found {len(pulled)} rows, not the {len(chosen)} changed"
        statements: list[tuple[str, object]] = []

        def listen(conn, cursor_, statement, parameters, context, executemany):
            statements.append((statement, parameters))

        event.listen(db.engine, "before_cursor_execute", listen)
        sync()
        event.remove(db.engine, "before_cursor_execute", listen)
        page_sql, page_params = [(s, p) for s, p in statements if "FROM staff_profile" in s][-1]
        conn = db.session.connection()
        engine = db.engine.dialect.name
        if engine == "sqlite":
            plan = " / ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + page_sql, page_params))
            version = "SQLite " + db.session.scalar(select(func.sqlite_version()))
        else:
            plan = " / ".join(r[0].strip() for r in conn.exec_driver_sql("EXPLAIN " + page_sql, page_params)
                              if any(w in r[0] for w in ("Scan", "Sort", "Limit", "Index Cond")))
            version = "PostgreSQL " + db.session.scalar(select(func.current_setting("server_version")))
        times = []
        for _rep in range(REPS):
            db.session.expire_all()
            t0 = time.perf_counter()
            sync()
            times.append((time.perf_counter() - t0) * 1000)
        db.session.rollback()  # the changes were never committed
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"- {stamp}, `{os.environ.get('BENCH_LABEL', 'this checkout')}`: {version}, {total:,} staff "
          f"({approved:,} approved), {len(chosen)} changed; sync page median **{statistics.median(times):.1f} ms** "
          f"(min {min(times):.1f}, {REPS} runs; {os.cpu_count()} cores, Python {platform.python_version()}), "
          f"{len(statements)} statement(s); plan: {plan}")


if __name__ == "__main__":
    main()
