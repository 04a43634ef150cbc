"""What the subtree counters cost concurrent writers: every change now also locks its ancestors' counter rows up to
the root until it commits, so transactions in different provinces queue on the national rows.

    BENCH_DATABASE_URL=... python bench/national/counter_contention.py [SECONDS] [THREADS...]

Each thread moves one profile's count back and forth in its own unit (a unit of another province for each
thread): one transaction = counters.bump() of a status change (-1 submitted, +1 unit_approved, the same by type)
and its commit, as a review transition bumps them, without the rest of the transition, so the counters' share
shows alone. Each thread count runs twice with the subtree counters (as shipped) and twice with them switched
off (roll_up answering nothing: the own counters only, as before), interleaved; prints transactions per second.
Every change is undone, so the counters end as they began (checked against a fresh GROUP BY at the end).
"""
import statistics
import sys
import threading
import time
from unittest.mock import patch

from common import database_url, make_app
from sqlalchemy import select
from sqlalchemy.orm import aliased

from admin_app.extensions import db
from admin_app.models import Institution
from admin_app.services import counters


def units_in_distinct_provinces(n: int) -> list[int]:
    """One unit (an institution without children) under each of n provinces."""
    out, seen = [], set()
    child = aliased(Institution)
    leaf = ~select(child.id).where(child.parent_id == Institution.id).exists()
    for iid, path in db.session.execute(select(Institution.id, Institution.path).where(leaf, Institution.depth >= 2)
                                        .order_by(Institution.id)):
        province = path.strip("/").split("/")[1]
        if province not in seen:
            seen.add(province)
            out.append(iid)
            if len(out) == n:
                break
    return out


def run(app, units: list[int], seconds: float) -> float:
    """Transactions per second over all threads, each bumping its own unit."""
    done = [0] * len(units)
    stop = time.perf_counter() + seconds

    def worker(k: int, unit: int):
        with app.app_context():
            sign = 1
            while time.perf_counter() < stop:
                counters.bump({(unit, "submitted"): -sign, (unit, "unit_approved"): sign},
                              types={(unit, "submitted", "sampling"): -sign, (unit, "unit_approved", "sampling"): sign})
                db.session.commit()
                sign = -sign
                done[k] += 1
            if sign == -1:  # an odd number of moves: put the last one back
                counters.bump({(unit, "submitted"): 1, (unit, "unit_approved"): -1},
                              types={(unit, "submitted", "sampling"): 1, (unit, "unit_approved", "sampling"): -1})
                db.session.commit()
            db.session.remove()

    threads = [threading.Thread(target=worker, args=(k, u)) for k, u in enumerate(units)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.perf_counter() - t0)


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5
    counts = [int(a) for a in sys.argv[2:]] or [1, 2, 4, 8]
    app = make_app(database_url(), SQLALCHEMY_ENGINE_OPTIONS={"pool_size": max(counts) + 2})
    with app.app_context():
        units = units_in_distinct_provinces(max(counts))
    rows = {}
    for _rep in range(2):
        for n in counts:
            for label in ("subtree", "own only"):
                if label == "own only":
                    with patch.object(counters, "roll_up", lambda deltas, paths: []):
                        tps = run(app, units[:n], seconds)
                else:
                    tps = run(app, units[:n], seconds)
                rows.setdefault((n, label), []).append(tps)
    print("| threads (units in distinct provinces) | own counters only, tx/s | with subtree counters, tx/s | ratio |")
    print("|---|---|---|---|")
    for n in counts:
        own, sub = statistics.median(rows[(n, "own only")]), statistics.median(rows[(n, "subtree")])
        print(f"| {n} | {own:.0f} | {sub:.0f} | {sub / own:.2f} |")
    with app.app_context():
        print("counters exact after the run:", counters.drift() == {})


if __name__ == "__main__":
    main()
