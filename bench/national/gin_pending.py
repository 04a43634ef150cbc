"""PostgreSQL: what the GIN search indexes' pending lists cost a search, and what shorter lists cost an approval.

    BENCH_DIR=… BENCH_DATABASE_URL=postgresql+psycopg://… python bench/national/gin_pending.py [rounds] [term,term…]

A status change is not a HOT update, so each approval gives every GIN search index (name trigrams, name bigrams,
phone 4-digit grams) a new entry per row, queued in a pending list that every search scans. For each setting of
the three indexes (PostgreSQL's default 4 MB lists; `gin_pending_list_limit = 64` kB; `fastupdate =
off`), in blocks alternated `rounds` times: the lists emptied, then four times the bench unit admin approves 1,000 of
the biggest unit (timed, through the view) and the rows are put back, and each term's grid page statement is timed by
`EXPLAIN ANALYZE` (execution time). Prints medians per setting, and leaves the indexes at the default.
"""
import json
import statistics
import sys
import time

import psycopg
from common import NATIONAL_PHONE, UNIT_PHONE, database_url, make_app, meta_path
from run import login, put_back_approved, q
from sqlalchemy import event, select

from admin_app.extensions import db
from admin_app.models import StaffProfile

INDEXES = ("ix_staff_profile_name_trgm", "ix_staff_profile_name_bigrams", "ix_staff_profile_phone_quadgrams")
SETTINGS = {"default (4 MB lists)": "RESET (fastupdate, gin_pending_list_limit)",
            "64 kB lists": "SET (fastupdate = on, gin_pending_list_limit = 64)",
            "fastupdate off": "SET (fastupdate = off)"}
APPROVE = 1000


def page_statements(app, client, terms) -> dict:
    """The grid's page statement (with its parameters) of a national search for each term."""
    with app.app_context():
        engine = db.engine
    found = {}
    for term in terms:
        seen = []

        def record(conn, cursor, statement, params, context, executemany, seen=seen):
            if "page_total" in statement:
                seen.append((statement, params))

        event.listen(engine, "before_cursor_execute", record)
        if client.get(f"/admin/staff/?page_size=20&search={term}").status_code != 200:
            raise SystemExit(f"search {term!r} failed")
        event.remove(engine, "before_cursor_execute", record)
        found[term] = seen[-1]
    return found


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    terms = sys.argv[2].split(",") if len(sys.argv) > 2 else ["1234"]
    url = database_url()
    if not url.startswith("postgresql"):
        raise SystemExit("gin_pending.py measures PostgreSQL: set BENCH_DATABASE_URL")
    meta = json.loads(meta_path(url).read_text())
    app = make_app(url, EXPORT_JOB_THRESHOLD=10_000_000)
    raw = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
    unit, nation = login(app, UNIT_PHONE), login(app, NATIONAL_PHONE)
    with app.app_context():
        ids = list(db.session.scalars(select(StaffProfile.id).where(
            StaffProfile.institution_id == meta["unit_id"], StaffProfile.status == "submitted")
            .order_by(StaffProfile.id).limit(APPROVE)))
        id_list = ",".join(map(str, ids))
        ptypes = dict(q(f"SELECT personnel_type, count(*) FROM staff_profile WHERE id IN ({id_list}) "
                        "GROUP BY personnel_type").all())
        db.session.remove()
    if len(ids) < APPROVE:
        raise SystemExit(f"the biggest unit has only {len(ids)} reviewable staff")
    statements = page_statements(app, nation, terms)

    def put_back():
        moved = put_back_approved(app, meta["unit_id"], ids, ptypes, fix_counters=True)
        if moved != APPROVE:
            raise SystemExit(f"the approval moved {moved} rows, not {APPROVE}")

    def executed_ms(term) -> float:
        statement, params = statements[term]
        with raw.cursor() as cur:
            cur.execute("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + statement, params)
            return cur.fetchone()[0][0]["Execution Time"]

    def pending_pages() -> int:
        with raw.cursor() as cur:
            cur.execute("CREATE EXTENSION IF NOT EXISTS pgstattuple")
            cur.execute("SELECT sum((pgstatginindex(oid)).pending_pages) FROM pg_class WHERE relname = ANY(%s)",
                        (list(INDEXES),))
            return cur.fetchone()[0]

    results = {name: {"approve": [], "pending": [], **{t: [] for t in terms}} for name in SETTINGS}
    try:
        for r in range(rounds):
            for name, clause in SETTINGS.items():
                with raw.cursor() as cur:
                    for index in INDEXES:
                        cur.execute(f"ALTER INDEX {index} {clause}")
                        cur.execute("SELECT gin_clean_pending_list(%s::regclass)", (index,))
                for _ in range(4):
                    t0 = time.perf_counter()
                    resp = unit.post("/admin/staff/action/", data={"action": "approve", "rowid": ids})
                    if resp.status_code != 302:
                        raise SystemExit(f"approve answered {resp.status_code}")
                    results[name]["approve"].append((time.perf_counter() - t0) * 1000)
                    put_back()
                    results[name]["pending"].append(pending_pages())
                    for term in terms:
                        results[name][term].append(executed_ms(term))
            print(f"round {r + 1}/{rounds} done", flush=True)
    finally:
        with raw.cursor() as cur:
            for index in INDEXES:
                cur.execute(f"ALTER INDEX {index} {SETTINGS['default (4 MB lists)']}")
    print(f"| setting | approve {APPROVE:,}, ms | " + " | ".join(f"search “{t}” SQL, ms" for t in terms)
          + " | pending pages, most |")
    print("|---|---|" + "---|" * len(terms) + "---|")
    for name, res in results.items():
        cells = [f"{statistics.median(res[t]):.2f}" for t in terms]
        print(f"| {name} | {statistics.median(res['approve']):.0f} | " + " | ".join(cells)
              + f" | {max(res['pending'])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
