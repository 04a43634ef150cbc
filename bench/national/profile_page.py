"""Where a grid page's time goes: pyinstrument over N requests of one URL, signed in as one of the bench admins.

    BENCH_DIR=… python bench/national/profile_page.py [unit|district|national] [URL] [N]

Same data and app as run.py (BENCH_DATABASE_URL or BENCH_DIR). Prints the page's median wall and CPU ms, the SQL
statements one request runs and the profile, sampled on this process's CPU clock (PROFILE_WALL=1: the wall
clock): on a shared, loaded box the wall clock mostly measures waiting for a core.
"""
import os
import statistics
import sys
import time

from common import DISTRICT_PHONE, NATIONAL_PHONE, PASSWORD, UNIT_PHONE, database_url, make_app
from pyinstrument import Profiler
from pyinstrument.stack_sampler import get_stack_sampler
from sqlalchemy import event

from admin_app.extensions import db


def main() -> int:
    who = sys.argv[1] if len(sys.argv) > 1 else "unit"
    url = sys.argv[2] if len(sys.argv) > 2 else "/admin/staff/?page_size=20"
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    app = make_app(database_url(), EXPORT_JOB_THRESHOLD=10_000_000)
    phone = {"unit": UNIT_PHONE, "district": DISTRICT_PHONE, "national": NATIONAL_PHONE}[who]
    client = app.test_client()
    resp = client.post("/login", data={"phone": phone, "password": PASSWORD})
    if resp.status_code != 302:
        raise SystemExit(f"login failed: {resp.status_code}")
    for _ in range(3):
        if client.get(url).status_code != 200:
            raise SystemExit(f"GET {url} failed")
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def count(conn, cursor, statement, *args):
        statements.append(statement.split("\n")[0][:100])

    event.listen(engine, "before_cursor_execute", count)
    client.get(url)
    event.remove(engine, "before_cursor_execute", count)
    times, cpu = [], []
    if not os.environ.get("PROFILE_WALL"):
        get_stack_sampler().timer_func = time.process_time
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(n):
        t0, c0 = time.perf_counter(), time.process_time()
        client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    profiler.stop()
    print(f"{url} as {who}: median {statistics.median(times):.1f} ms wall, {statistics.median(cpu):.1f} ms CPU "
          f"over {n}; {len(statements)} statements")
    for s in statements:
        print("  SQL", s)
    print(profiler.output_text(unicode=True, color=False, show_all=False, timeline=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
