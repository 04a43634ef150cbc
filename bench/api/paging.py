"""A full pull through the machine APIs' `next` links: does page 10,000 cost what page 1 does? (issue 16)

One process over the national bench data (`bench/national/prepare.py` builds it: BENCH_DIR/national.db, or the
PostgreSQL database named by BENCH_DATABASE_URL). A national consuming system (a transient ApiClient on the root
institution: nothing is written) reads `/fhir/Practitioner?_count=N` pages through services.fhir_api, exactly what
the view serves, without the HTTP layer and the per-call audit INSERT. Page 10,000's cursor is found once beforehand
(the last row of page 9,999, by one OFFSET query in the set-up, not timed). Timed, interleaved, medians:

- page 1 (no cursor) and page 10,000 (its cursor): the keyset seek;
- the peer: page 10,000 of the same query by OFFSET, what a pager without a cursor would run.

Also counts the statements per page. Prints a Markdown section for bench/RESULTS.md.
BENCH_REPS (default 15), BENCH_COUNT (default 50: smaller when fewer than 10,000 pages are approved), BENCH_PAGE.
"""
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench" / "national"))

from sqlalchemy import event, func, select  # noqa: E402
from werkzeug.datastructures import MultiDict  # noqa: E402

REPS = int(os.environ.get("BENCH_REPS", "15"))
COUNT = int(os.environ.get("BENCH_COUNT", "50"))
PAGE = int(os.environ.get("BENCH_PAGE", "10000"))


def main() -> None:
    import common

    from admin_app.extensions import db
    from admin_app.models import ApiClient, Institution, StaffProfile, User
    from admin_app.services import api_search, fhir_api, keyset
    from admin_app.services.api_clients import scope_of
    from admin_app.services.scope import restrict

    url = common.database_url()
    app = common.make_app(url)
    with app.test_request_context("/fhir/Practitioner"):
        root = db.session.scalars(select(Institution).where(Institution.parent_id.is_(None))
                                  .order_by(Institution.id)).first()
        client = ApiClient(id=0, name="bench", institution_id=root.id, full_id=False)
        client.institution = root
        assert client not in db.session  # transient: the bench writes nothing
        scope = scope_of(client)
        ordered = restrict(select(StaffProfile.submitted_at, StaffProfile.id)
                           .where(StaffProfile.status == api_search.PUBLISHED, StaffProfile.submitted_at.is_not(None)),
                           StaffProfile, scope).order_by(StaffProfile.submitted_at, StaffProfile.id)
        approved = db.session.scalar(select(func.count()).select_from(ordered.subquery()))
        count = min(COUNT, approved // PAGE)
        if count < 1:
            sys.exit(f"only {approved} approved staff: fewer than {PAGE} pages")
        last_of_previous = db.session.execute(ordered.offset((PAGE - 1) * count - 1).limit(1)).one()
        cursor = keyset.encode_cursor(*last_of_previous)
        base = "http://bench/fhir/"
        first_args, deep_args = MultiDict({"_count": str(count)}), MultiDict({"_count": str(count), "_cursor": cursor})
        peer = (restrict(select(StaffProfile, User.email, User.id_type, User.id_number_enc)
                         .join(User, User.id == StaffProfile.user_id)
                         .where(StaffProfile.status == api_search.PUBLISHED, StaffProfile.submitted_at.is_not(None)),
                         StaffProfile, scope)
                .order_by(StaffProfile.submitted_at, StaffProfile.id).offset((PAGE - 1) * count).limit(count))

        statements: list[str] = []

        def listen(conn, cursor_, statement, parameters, context, executemany):
            statements.append(statement)

        def first():
            return fhir_api.run_search("Practitioner", first_args, client, base).body

        def deep():
            return fhir_api.run_search("Practitioner", deep_args, client, base).body

        def offset_peer():
            return db.session.execute(peer).all()

        # What each page is: the deep page is the rows right after the cursor, by the OFFSET peer too.
        deep_ids = [e["resource"]["id"] for e in deep()["entry"]]
        assert deep_ids == [str(r[0].id) for r in offset_peer()], "the cursor page differs from the OFFSET page"
        per_page = {}
        for name, fn in (("first", first), ("deep", deep)):
            event.listen(db.engine, "before_cursor_execute", listen)
            fn()
            event.remove(db.engine, "before_cursor_execute", listen)
            per_page[name] = len(statements)
            statements.clear()
        times: dict[str, list[float]] = {"first": [], "deep": [], "offset": []}
        contenders = [("first", first), ("deep", deep), ("offset", offset_peer)]
        for fn in (f for _n, f in contenders):
            fn()  # warm-up
        for rep in range(REPS):
            for name, fn in contenders[rep % 3:] + contenders[:rep % 3]:  # rotating order
                db.session.expire_all()
                t0 = time.perf_counter()
                fn()
                times[name].append((time.perf_counter() - t0) * 1000)
        med = {k: statistics.median(v) for k, v in times.items()}
        engine = db.engine.dialect.name
        version = db.session.scalar(select(func.sqlite_version())) if engine == "sqlite" else "PostgreSQL"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"#### FHIR `next` paging at {approved:,} approved of the national data — {stamp}\n")
    print(f"- `python bench/api/paging.py` ({'SQLite ' + version if engine == 'sqlite' else version}; "
          f"{os.cpu_count()} cores, Python {platform.python_version()}); a national consuming system, "
          f"`/fhir/Practitioner?_count={count}` through services.fhir_api (no HTTP, no audit INSERT); "
          f"{REPS} runs of each after a warm-up, interleaved in a rotating order; medians in ms\n")
    print("| page | ms | ratio to page 1 | statements |")
    print("|---|---|---|---|")
    print(f"| page 1 (no cursor) | {med['first']:.1f} | 1.00 | {per_page['first']} |")
    print(f"| page {PAGE:,} (`next` cursor: keyset seek) | {med['deep']:.1f} | {med['deep'] / med['first']:.2f} "
          f"| {per_page['deep']} |")
    print(f"| page {PAGE:,} by OFFSET (the peer, bare SQL) | {med['offset']:.1f} | {med['offset'] / med['first']:.2f} "
          f"| 1 |")
    print(f"\n- page {PAGE:,} holds the same {count} rows by cursor and by OFFSET (checked); the cursor page's plan is "
          "the index seek of tests/test_api_fhir.py::test_a_page_is_a_keyset_seek_in_the_query_plan")


if __name__ == "__main__":
    main()
