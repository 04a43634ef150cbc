"""The national officer's whole-registry export as a background job, in this fresh process: memory and progress.

    python bench/national/export_job.py [GRID_QUERY]          (BENCH_DATABASE_URL / BENCH_DIR as run.py)

Signs in as the national officer and asks GET /admin/staff/export/xlsx/?GRID_QUERY (default: every reported
profile) the way the grid's export button does. Over EXPORT_JOB_THRESHOLD rows the view queues a staff_xlsx job
(services.jobs) and redirects to its progress page; the job runs in a worker thread of this process (the
"thread" backend, as the app runs without Redis) while this thread polls the progress page's JSON (done / total
/ percent) and reads this process's RSS every 5 seconds. Prints one JSON object: RSS just before the request,
the peak during the job (VmHWM reset just before it), the rows, the seconds, the progress samples.
"""
import json
import os
import sys
import threading
import time
import zipfile

from common import NATIONAL_PHONE, database_url, make_app
from export_one import reset_peak, status_mb
from run import login
from sqlalchemy import create_engine, text


def sheet_rows(path) -> int:
    with zipfile.ZipFile(path) as z:
        name = next(n for n in z.namelist() if n.startswith("xl/worksheets/sheet"))
        n, tail = 0, b""
        with z.open(name) as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                data = tail + chunk
                n += data.count(b"<row ")
                tail = data[-4:]
    return n - 1  # the header


def main() -> None:
    query = sys.argv[1] if len(sys.argv) > 1 else ""
    url = database_url()
    export_dir = os.environ.get("BENCH_EXPORT_DIR", "/tmp/bench-export-job")
    app = make_app(url, JOB_BACKEND="thread", EXPORT_FOLDER=export_dir)
    client = login(app, NATIONAL_PHONE)
    import gc

    gc.collect()
    base = status_mb("VmRSS")
    window = reset_peak()
    samples: list[dict] = []
    watch = create_engine(url)
    t0 = time.perf_counter()
    resp = client.get("/admin/staff/export/xlsx/" + (f"?{query}" if query else ""))
    location = resp.headers.get("Location", "")
    if resp.status_code != 302 or "/jobs/" not in location:
        raise SystemExit(f"the export did not start a job: {resp.status_code} {location}")
    job_id = location.rstrip("/").rsplit("/", 1)[-1]
    while True:  # the progress page's own poll (it also keeps the sign-in alive past SESSION_IDLE_TIMEOUT)
        got = client.get(f"/admin/staff/jobs/{job_id}.json")
        if got.status_code != 200:
            raise SystemExit(f"the progress JSON answered {got.status_code}")
        state = got.get_json()
        samples.append({"s": round(time.perf_counter() - t0, 1), "status": state["status"], "done": state["done"],
                        "total": state["total"], "percent": state["percent"], "rss_mb": round(status_mb("VmRSS"), 1)})
        if state["status"] in ("done", "failed"):
            break
        time.sleep(5)
    seconds = time.perf_counter() - t0
    peak = status_mb("VmHWM") if window else None
    with watch.connect() as conn:
        path, error = conn.execute(text("SELECT file_path, error FROM export_job WHERE id = :i"), {"i": job_id}).one()
    watch.dispose()
    rows = sheet_rows(path) if path else None
    size = os.path.getsize(path) if path else None
    if path:
        os.unlink(path)  # decrypted numbers (under the bench's own key) do not stay on disk
    moving = [s for s in samples if s["status"] == "running"]
    print(json.dumps({"job": job_id, "status": samples[-1]["status"], "error": error, "rows": rows, "bytes": size,
                      "seconds": round(seconds, 1), "rss_before_mb": round(base, 1),
                      "peak_during_mb": round(peak, 1) if peak else None,
                      "peak_over_before_mb": round(peak - base, 1) if peak else None,
                      "max_sampled_rss_mb": max(s["rss_mb"] for s in samples),
                      "samples": len(samples),
                      "progress": [(s["s"], s["done"], s["total"]) for s in moving[:: max(1, len(moving) // 12)]],
                      "threads": threading.active_count()}, ensure_ascii=False))


if __name__ == "__main__":
    main()
