"""The grid page's own cost against its floor, on this process's CPU clock as well as the wall clock.

    BENCH_DIR=… (or BENCH_DATABASE_URL=…) python bench/national/page_cost.py [reps]

run.py times whole pages by the wall clock, which on a shared, loaded box mostly measures waiting for a core.
Here each page (ours, through the views, signed in) and its floor (the bare SQL of the page and its count, as
run.py's floor) are timed interleaved in one process, by wall and by CPU time (time.process_time: SQLite runs
in this process, so its SQL is counted; PostgreSQL's server time is not, so on PostgreSQL the wall ratio is the
one to quote). Prints one markdown table: medians, ratios to the floor.
"""
import json
import statistics
import sys
import time

from common import NATIONAL_PHONE, UNIT_PHONE, database_url, make_app, meta_path
from run import ORDER, REPORTED_SQL, floor_page, get, login, q, sort_sql

from admin_app.extensions import db
from admin_app.views.staff import staff_view


def clocked(fn):
    w, c = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - w) * 1000, (time.process_time() - c) * 1000


def main() -> int:
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    url = database_url()
    meta = json.loads(meta_path(url).read_text())
    app = make_app(url, EXPORT_JOB_THRESHOLD=10_000_000)
    with app.app_context(), app.test_request_context():
        view = staff_view(app)
        base = view.grid_url("reported") + "&page_size=20"
        cols = [c for c, _label in view._list_columns]
        name3 = q("SELECT name FROM staff_profile WHERE length(name) = 3 GROUP BY name "
                  "ORDER BY count(*) DESC LIMIT 1").scalar()
        db.session.remove()
    unit = login(app, UNIT_PHONE)
    nation = login(app, NATIONAL_PHONE)
    unit_where = f"sp.institution_id = {int(meta['unit_id'])} AND sp.{REPORTED_SQL}"
    rows = [
        ("unit admin, page 1", unit, base, unit_where, {}, ORDER),
        ("unit admin, sorted by 科室", unit, base + f"&sort={cols.index('department')}", unit_where, {},
         f" ORDER BY {sort_sql('department')}, sp.id"),
        ("national, page 1", nation, base, f"sp.{REPORTED_SQL}", {}, ORDER),
        ("national, sorted by 姓名", nation, base + f"&sort={cols.index('name')}", f"sp.{REPORTED_SQL}", {},
         " ORDER BY sp.name, sp.id"),
        ("national, search phone fragment “1234”", nation, base + "&search=1234",
         f"sp.{REPORTED_SQL} AND sp.phone LIKE :p", {"p": "%1234%"}, ORDER),
        (f"national, search 3-character name “{name3}”", nation, base + f"&search={name3}",
         f"sp.{REPORTED_SQL} AND sp.name LIKE :p", {"p": f"%{name3}%"}, ORDER),
    ]
    floors = {label: (lambda w=where, p=params, o=order: floor_page(app, w, p, 0, o))
              for label, _c, _u, where, params, order in rows}
    if url.startswith("sqlite"):
        label = "unit admin, page 1 (floor read as before the unit indexes)"
        rows.insert(1, (label, unit, base, unit_where, {}, ORDER))
        # The plan the floor had before the unit indexes: SQLite's planner, which has no statistics, now reads
        # `status <> 'draft'` of a unit by one of them.
        floors[label] = lambda: floor_page(app, unit_where, {}, index="ix_staff_profile_inst_status_submitted")
    out = {label: {"ours": [], "floor": []} for label, *_rest in rows}
    for rep in range(reps + 1):  # the first repetition warms up
        for label, client, page_url, *_floor in rows:
            pair = [("ours", lambda c=client, u=page_url: get(c, u)), ("floor", floors[label])]
            for who, fn in (pair if rep % 2 else pair[::-1]):
                timing = clocked(fn)
                if rep:
                    out[label][who].append(timing)
    print(f"{reps} interleaved repetitions; medians in ms, wall / CPU")
    print("| page | ours wall / CPU | floor wall / CPU | ours/floor wall | ours/floor CPU |")
    print("|---|---|---|---|---|")
    for label, got in out.items():
        ow, oc = (statistics.median(x[i] for x in got["ours"]) for i in (0, 1))
        fw, fc = (statistics.median(x[i] for x in got["floor"]) for i in (0, 1))
        print(f"| {label} | {ow:.1f} / {oc:.1f} | {fw:.1f} / {fc:.1f} | {ow / fw:.2f} | {oc / fc:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
