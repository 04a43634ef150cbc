"""The national officer's dashboard (GET /admin/) measured as the CPU it costs, which a busy machine does not inflate.

    python bench/national/dashboard_cpu.py [REPS]             (BENCH_DATABASE_URL as run.py; PostgreSQL on this host)

Each request's wall time, the CPU of this process's thread for it, and the CPU of the PostgreSQL backends serving
this process (utime + stime from /proc/<pid>/stat, so the cluster must run on this machine); their sum is the
request's cost on an idle machine (two cores: app and database each have one). Prints one JSON object of medians.
"""
import json
import os
import statistics
import sys
import time

from common import NATIONAL_PHONE, database_url, make_app
from run import login
from sqlalchemy import create_engine, text

TICK = os.sysconf("SC_CLK_TCK")
NAME = f"dash-bench-{os.getpid()}"


def backend_cpu(watch) -> float:
    """Seconds of CPU the backends of this process have used so far."""
    with watch.connect() as conn:
        pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE application_name = :n"), {"n": NAME}).scalars()
        total = 0
        for pid in pids:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of proc(5))
    return total / TICK


def main() -> None:
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    url = database_url()
    app = make_app(url, SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"application_name": NAME}})
    client = login(app, NATIONAL_PHONE)
    watch = create_engine(url)
    for _ in range(3):  # warm-up: caches, the first compiled statements
        assert client.get("/admin/").status_code == 200
    walls, own, db_cpu = [], [], []
    for _ in range(reps):
        b0, c0, t0 = backend_cpu(watch), time.thread_time(), time.perf_counter()
        resp = client.get("/admin/")
        t1, c1 = time.perf_counter(), time.thread_time()
        if resp.status_code != 200:
            raise SystemExit(f"/admin/ answered {resp.status_code}")
        walls.append((t1 - t0) * 1000)
        own.append((c1 - c0) * 1000)
        db_cpu.append((backend_cpu(watch) - b0) * 1000)
    watch.dispose()
    total = [a + b for a, b in zip(own, db_cpu, strict=True)]
    print(json.dumps({"reps": reps, "wall_ms_median": round(statistics.median(walls), 1),
                      "app_cpu_ms_median": round(statistics.median(own), 1),
                      "db_cpu_ms_median": round(statistics.median(db_cpu), 1),
                      "cpu_ms_median": round(statistics.median(total), 1),
                      "cpu_ms_p90": round(sorted(total)[int(0.9 * (len(total) - 1))], 1),
                      "load": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
