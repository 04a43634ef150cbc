"""National-scale bench: ours against stock Flask-Admin and the bare SQL floor, interleaved, in one process.

    python bench/national/prepare.py && python bench/national/run.py      (or: make bench / make bench-pg)

Serves the app (create_app on the bench database, captcha, rate limits and CSRF off) through Flask's test client:
ours through the real views signed in as the right admin; the peer, a stock flask_admin ModelView over
StaffProfile on its own Admin at /bench-stock (bench only, no auth); the floor, the bare SQL of each page. Each
repetition runs every operation once per contender, in a rotating order. Exports run in fresh subprocesses
(export_one.py) for their peak RSS. Any non-200/302 answer or wrong row set is reported and makes the run exit 1.

Environment: BENCH_DATABASE_URL (PostgreSQL) or BENCH_DIR (SQLite file national.db), BENCH_REPS (default 7),
BENCH_EXPORT_REPS (default 3), BENCH_SKIP_STOCK_EXPORT=1, BENCH_OUT (a markdown file for the tables),
BENCH_ONLY=gender,nat_p1 (only these rows, plus the rows their targets compare with; add "export" for exports),
BENCH_CONTENDERS=ours (time only ours: the scaling runs; the floor still checks ours once), BENCH_DEEP_PAGE,
BENCH_SORTS=gender,department (the sorted columns timed at page 1 and at the deep page).
"""
import json
import math
import os
import platform
import re
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from common import DISTRICT_PHONE, NATIONAL_PHONE, PASSWORD, UNIT_PHONE, database_url, engine_name, make_app, meta_path
from sqlalchemy import func, select, text
from werkzeug.security import check_password_hash

from admin_app.extensions import db
from admin_app.models import Institution, StaffProfile, StatusCounter, User
from admin_app.services.counters import bump, status_counts
from admin_app.services.keyset import encode_cursor
from admin_app.services.scope import scope_for
from admin_app.services.staff_listing import COALESCED, StaffListing, sort_key
from admin_app.views.staff import staff_view

HERE = Path(__file__).resolve().parent
REPS = int(os.environ.get("BENCH_REPS", "7"))
EXPORT_REPS = int(os.environ.get("BENCH_EXPORT_REPS", "3"))
PAGE = 20
APPROVE = int(os.environ.get("BENCH_APPROVE", "1000"))
DEEP_PAGE = int(os.environ.get("BENCH_DEEP_PAGE", "20000"))  # 1-based page number
# The "same matches" search rows: a phone fragment and a 3-character name picked to match about these many reported
# staff at any registry size, so a 1M and a 15M run compare the same work (the other search rows pick terms that
# match more people in a bigger registry).
MATCH_TARGET = int(os.environ.get("BENCH_MATCH_TARGET", "300"))
NAME_MATCH_TARGET = int(os.environ.get("BENCH_NAME_MATCH_TARGET", "15"))
REPORTED_SQL = "status <> 'draft'"
ROWID = re.compile(r'name="rowid"[^>]*value="(\d+)"')
PAGE_COLS = ("SELECT sp.id, sp.name, sp.gender, sp.phone, sp.personnel_type, sp.department, sp.status, "
             "sp.submitted_at, i.name, r.name FROM staff_profile sp "
             "LEFT JOIN institution i ON i.id = sp.institution_id LEFT JOIN region r ON r.code = i.region_code")
ORDER = " ORDER BY sp.submitted_at DESC, sp.id DESC"
# Which contenders are timed (BENCH_CONTENDERS=ours for a scaling run: at 15M a stock search or a floor LIKE
# scans every row each repetition). The floor still runs once in the warm-up: ours is checked against its rows.
CONTENDERS = set(os.environ.get("BENCH_CONTENDERS", "ours,stock,floor").split(","))
SORTED_COLUMNS = [c for c in os.environ.get("BENCH_SORTS", "name,gender,personnel_type,department,status").split(",")
                  if c]


def sort_sql(column: str) -> str:
    """The grid's sort key of a column as the floor's SQL writes it."""
    return f"coalesce(sp.{column}, '')" if column in COALESCED else f"sp.{column}"


def matched_terms(scope, sample_phone: str) -> dict:
    """A phone fragment matching about MATCH_TARGET reported staff and a 3-character name matching about
    NAME_MATCH_TARGET, whatever the registry's size.

    Counted as the grid counts a search (StaffListing's exact total, through the search indexes). The phone
    fragment is cut from a sample phone (4-7 digits after its first three); the name is one of the ten commonest
    3-character names held by at most NAME_MATCH_TARGET people. Each is the candidate nearest its target by ratio.
    (No 2-character term can match the same number at 1M and 15M in the generated names: at 15M every
    2-character start is held by more than 2,000 people.)
    """
    def nearest(candidates, target):
        counted = [(term, StaffListing(scope, search=term).total()) for term in dict.fromkeys(candidates)]
        counted = [(t, n) for t, n in counted if n]
        return min(counted, key=lambda tn: abs(math.log(tn[1] / target)))

    fragments = [sample_phone[i:i + n] for n in range(4, 8) for i in range(3, len(sample_phone) - n + 1)]
    names = [n for (n,) in q("SELECT name FROM staff_profile WHERE length(name) = 3 GROUP BY name "
                             "HAVING count(*) <= :t ORDER BY count(*) DESC LIMIT 10", t=NAME_MATCH_TARGET)]
    return {"phone": nearest(fragments, MATCH_TARGET), "name": nearest(names, NAME_MATCH_TARGET)}


failures: list[str] = []


def fail(msg: str) -> None:
    print("!! " + msg, flush=True)
    failures.append(msg)


# -- the stock peer ------------------------------------------------------------------------------------------


def add_stock_admin(app):
    """A stock Flask-Admin ModelView over the staff table on its own Admin (bench only, open to anyone)."""
    from flask_admin import Admin
    from flask_admin.contrib.sqla import ModelView
    from flask_admin.theme import Bootstrap4Theme

    class StockStaffView(ModelView):
        column_searchable_list = ("name", "phone")
        column_filters = ("status", StaffProfile.institution_id, "gender")
        can_export = True
        export_types = ["xlsx"]
        page_size = PAGE
        # The grid's order, so the pages are the same rows; and only reported profiles, as ours lists.
        column_default_sort = [("submitted_at", True), ("id", True)]

        def is_accessible(self):
            return True

        def get_query(self):
            return super().get_query().filter(StaffProfile.status != "draft")

        def get_count_query(self):
            return super().get_count_query().filter(StaffProfile.status != "draft")

    admin = Admin(app, name="stock", url="/bench-stock", endpoint="benchstock", theme=Bootstrap4Theme())
    view = StockStaffView(StaffProfile, db, name="stock", endpoint="stock_staff")
    admin.add_view(view)
    return view


def stock_filter_arg(view, column_name: str, cls_name: str) -> str:
    for i, flt in enumerate(view._filters):
        if type(flt).__name__ == cls_name and getattr(flt.column, "key", None) == column_name:
            return f"flt0_{view.get_filter_arg(i, flt)}"
    raise SystemExit(f"stock view has no {cls_name} on {column_name}")


# -- helpers -------------------------------------------------------------------------------------------------


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1000, out


def get(client, url, want=(200,)):
    resp = client.get(url)
    if resp.status_code not in want:
        raise RuntimeError(f"GET {url} answered {resp.status_code}")
    return resp


def ids_of(html: bytes) -> list[int]:
    return [int(x) for x in ROWID.findall(html.decode("utf-8", "replace"))]


def login(app, phone):
    c = app.test_client()
    resp = c.post("/login", data={"phone": phone, "password": PASSWORD})
    if resp.status_code != 302 or "/login" in resp.headers.get("Location", ""):
        raise SystemExit(f"bench login {phone} failed: {resp.status_code} {resp.headers.get('Location')}")
    return c


def q(sql, **params):
    return db.session.execute(text(sql), params)


def put_back_approved(app, unit_id: int, ids: list[int], ptypes: dict, fix_counters: bool) -> int:
    """Put approved rows of the bench unit back to 待审核, their review events gone (outside any timing); undo the
    counters when the app's approval moved them (ptypes: the rows' personnel types and counts). Returns how many
    had moved."""
    id_list = ",".join(map(str, ids))
    with app.app_context():
        moved = q(f"SELECT count(*) FROM staff_profile WHERE status = 'unit_approved' AND id IN ({id_list})").scalar()
        q(f"UPDATE staff_profile SET status = 'submitted', reviewed_at = NULL, last_reviewer_id = NULL, "
          f"last_reason = NULL WHERE id IN ({id_list})")
        q(f"DELETE FROM review_event WHERE profile_id IN ({id_list})")
        if fix_counters and moved:
            bump({(unit_id, "unit_approved"): -moved, (unit_id, "submitted"): moved},
                 types={**{(unit_id, "unit_approved", t or ""): -n for t, n in ptypes.items()},
                        **{(unit_id, "submitted", t or ""): n for t, n in ptypes.items()}})
        db.session.commit()
        db.session.remove()
    return moved


def floor_page(app, where: str, params: dict, offset: int = 0, order: str = ORDER, index: str | None = None):
    """The bare SQL of a list page: the page and its COUNT (two statements); `index`: SQLite reads both by it."""
    table = f"staff_profile sp INDEXED BY {index}" if index else "staff_profile sp"
    with app.app_context():
        cols = PAGE_COLS.replace("FROM staff_profile sp", f"FROM {table}")
        rows = q(f"{cols} WHERE {where}{order} LIMIT {PAGE} OFFSET {offset}", **params).all()
        total = q(f"SELECT count(*) FROM {table} WHERE {where}", **params).scalar()
        db.session.remove()
    return [r[0] for r in rows], total


def machine(url) -> dict:
    with open("/proc/cpuinfo") as fh:
        cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")),
                   platform.processor())
    with open("/proc/meminfo") as fh:
        mem = next((int(line.split()[1]) // 1024 for line in fh if line.startswith("MemTotal")), 0)
    out = {"cpu": cpu, "cores": os.cpu_count(), "ram_mb": mem, "python": platform.python_version(),
           "sqlite": sqlite3.sqlite_version, "kernel": platform.release()}
    if url.startswith("postgresql"):
        out["postgresql"] = db.session.execute(text("SHOW server_version")).scalar()
    return out


# -- the bench -----------------------------------------------------------------------------------------------


def main() -> int:
    url = database_url()
    meta = json.loads(meta_path(url).read_text())
    app = make_app(url, EXPORT_JOB_THRESHOLD=10_000_000)
    stock = add_stock_admin(app)
    engine = engine_name(url)

    with app.app_context():
        info = machine(url)
        grid_view = staff_view(app)
        with app.test_request_context():
            grid = {v: grid_view.grid_url(v) for v in ("reported", "submitted", "rejected_all")}
            by_name = [c for c, _label in grid_view._list_columns].index("name")
            gender = next(f"flt1_{grid_view.get_filter_arg(i, f)}" for i, f in enumerate(grid_view._filters)
                          if getattr(getattr(f, "column", None), "key", None) == "gender")
        counts = {
            "staff": db.session.scalar(select(func.count()).select_from(StaffProfile)),
            "reported": db.session.scalar(select(func.count()).select_from(StaffProfile)
                                          .where(StaffProfile.status != "draft")),
            "users": db.session.scalar(select(func.count()).select_from(User)),
            "institutions": db.session.scalar(select(func.count()).select_from(Institution)),
            "by_depth": dict(db.session.execute(select(Institution.depth, func.count())
                                                .group_by(Institution.depth)).all()),
        }
        deep_offset = (DEEP_PAGE - 1) * PAGE
        last_before = db.session.execute(
            select(StaffProfile.submitted_at, StaffProfile.id).where(StaffProfile.status != "draft")
            .order_by(StaffProfile.submitted_at.desc(), StaffProfile.id.desc()).offset(deep_offset - 1).limit(1)).one()
        cursor = encode_cursor(*last_before)
        # The sorted orders (issue 20): page 1 and the same deep page, sought by cursor, in each column's order.
        sorts = {}
        for column in SORTED_COLUMNS:
            key = sort_key(column)
            value, pk = db.session.execute(
                select(key, StaffProfile.id).where(StaffProfile.status != "draft")
                .order_by(key, StaffProfile.id).offset(deep_offset - 1).limit(1)).one()
            sorts[column] = ([c for c, _label in grid_view._list_columns].index(column), encode_cursor(value, pk))
        name2 = q("SELECT substr(name, 1, 2) AS g, count(*) FROM staff_profile GROUP BY g "
                  "ORDER BY 2 DESC LIMIT 1").one()
        name3 = q("SELECT name, count(*) FROM staff_profile WHERE length(name) = 3 GROUP BY name "
                  "ORDER BY 2 DESC LIMIT 1").one()
        phone_frag = "1234"
        from admin_app.services.export import reveal_number as safe_decrypt
        some = db.session.execute(select(User.id_number_enc, User.id_number_index, StaffProfile.id)
                                  .join(StaffProfile, StaffProfile.user_id == User.id)
                                  .where(StaffProfile.status != "draft").order_by(StaffProfile.id)
                                  .offset(counts["staff"] // 2).limit(1)).one()
        resident_id, rid_index = safe_decrypt(some[0]), some[1]
        approve_ids = list(db.session.scalars(
            select(StaffProfile.id).where(StaffProfile.institution_id == meta["unit_id"],
                                          StaffProfile.status == "submitted")
            .order_by(StaffProfile.id).limit(APPROVE)))
        if len(approve_ids) < APPROVE:
            raise SystemExit(f"the biggest unit has only {len(approve_ids)} reviewable staff")
        ptypes = dict(db.session.execute(select(StaffProfile.personnel_type, func.count())
                                         .where(StaffProfile.id.in_(approve_ids))
                                         .group_by(StaffProfile.personnel_type)).all())
        scopes = {k: scope_for(db.session.scalar(select(User).where(User.phone == p)))
                  for k, p in (("unit", UNIT_PHONE), ("district", DISTRICT_PHONE), ("all", NATIONAL_PHONE))}
        sample_phone = q("SELECT phone FROM staff_profile WHERE status <> 'draft' AND phone IS NOT NULL "
                         "ORDER BY id LIMIT 1 OFFSET :o", o=counts["staff"] // 3).scalar()
        same = matched_terms(scopes["all"], sample_phone)
        db.session.remove()

    def reset_approved(fix_counters: bool):
        """Put the 1,000 rows back to 待审核 (outside the timing); undo the counters when ours moved them."""
        return put_back_approved(app, meta["unit_id"], approve_ids, ptypes, fix_counters)

    reset_approved(False)
    with app.app_context():  # the counters must match the table before ours reads them
        total_counted = db.session.scalar(select(func.sum(StatusCounter.n)))
        if total_counted != counts["staff"]:
            from admin_app.services.counters import reconcile
            reconcile()
        db.session.remove()

    clients = {k: login(app, p) for k, p in (("unit", UNIT_PHONE), ("district", DISTRICT_PHONE),
                                            ("national", NATIONAL_PHONE))}
    anon = app.test_client()
    sbase = "/bench-stock/stock_staff/"
    s_status_eq = stock_filter_arg(stock, "status", "FilterEqual")
    s_inst_eq = stock_filter_arg(stock, "institution_id", "IntEqualFilter")
    s_gender_eq = stock_filter_arg(stock, "gender", "FilterEqual")
    ps = f"&page_size={PAGE}"
    unit_where = f"sp.institution_id = {int(meta['unit_id'])} AND sp.{REPORTED_SQL}"

    # -- operations: name -> {contender: fn() returning the page ids (or None)} ----------------------------------

    def ours_list(client, url):
        return lambda: ids_of(get(client, url).data)

    def stock_list(url):
        return lambda: ids_of(get(anon, url).data)

    def floor(where, params=None, offset=0, order=ORDER):
        return lambda: floor_page(app, where, params or {}, offset, order)[0]

    def phone_floor(term):
        """The bare SQL of a phone-fragment page: LIKE, which PostgreSQL answers by the phone gram index's
        containment (it has no phone trigram index since migration e8a1f3c6b2d9; SQLite scans)."""
        if engine != "postgresql" or len(term) < 4:
            return floor(f"sp.{REPORTED_SQL} AND sp.phone LIKE :p", {"p": f"%{term}%"})
        grams = sorted({term[i:i + 4] for i in (*range(0, len(term) - 3, 4), len(term) - 4)})
        return floor(f"sp.{REPORTED_SQL} AND phone_quadgrams(sp.phone) @> CAST(:g AS text[]) "
                     "AND sp.phone LIKE :p", {"g": grams, "p": f"%{term}%"})

    def ours_counts(key):
        def run():
            with app.app_context():
                out = status_counts(scopes[key])
                db.session.remove()
            return out
        return run

    def floor_counts(path):
        def run():
            with app.app_context():
                # Institutions first, then each one's staff by the (institution, status) index: SQLite's planner
                # otherwise walks the whole status index (13 s at 1M); CROSS JOIN fixes its loop order.
                join = "CROSS JOIN" if engine == "sqlite" else "JOIN"
                out = dict(q(f"SELECT sp.status, count(*) FROM institution i {join} staff_profile sp "
                             "ON sp.institution_id = i.id WHERE i.path LIKE :p GROUP BY sp.status", p=path + "%").all())
                db.session.remove()
            return out
        return run

    def floor_dashboard():
        with app.app_context():
            # One GROUP BY over the staff, then its groups summed into each child's subtree by path.
            out = q("SELECT c.id, t.status, t.personnel_type, sum(t.n) FROM (SELECT institution_id, status, "
                    "personnel_type, count(*) AS n FROM staff_profile WHERE status <> 'draft' "
                    "GROUP BY institution_id, status, personnel_type) t "
                    "JOIN institution s ON s.id = t.institution_id "
                    "JOIN institution c ON c.parent_id = :root AND s.path LIKE c.path || '%' "
                    "GROUP BY c.id, t.status, t.personnel_type", root=meta["nation_id"]).all()
            db.session.remove()
        return len(out)

    id_list = ",".join(map(str, approve_ids))

    def ours_approve():
        resp = clients["unit"].post("/admin/staff/action/", data={"action": "approve", "rowid": approve_ids})
        if resp.status_code != 302:
            raise RuntimeError(f"approve answered {resp.status_code}")

    def floor_approve():
        with app.app_context():
            now = datetime.utcnow()
            q(f"UPDATE staff_profile SET status = 'unit_approved', version = version + 1, reviewed_at = :now, "
              f"last_reviewer_id = :a, last_reason = NULL WHERE id IN ({id_list}) AND status = 'submitted'",
              now=now, a=meta["unit_user"])
            db.session.execute(text("INSERT INTO review_event (profile_id, actor_id, action, level, from_status, "
                                    "to_status, created_at) VALUES (:p, :a, 'approve', 1, 'submitted', "
                                    "'unit_approved', :now)"),
                               [{"p": i, "a": meta["unit_user"], "now": now} for i in approve_ids])
            db.session.commit()
            db.session.remove()

    def stock_approve():
        with app.app_context():
            q(f"UPDATE staff_profile SET status = 'unit_approved' WHERE id IN ({id_list})")
            db.session.commit()
            db.session.remove()

    def ours_login():
        c = app.test_client()
        resp = c.post("/login", data={"phone": UNIT_PHONE, "password": PASSWORD})
        if resp.status_code != 302:
            raise RuntimeError(f"login answered {resp.status_code}")

    def floor_login():
        with app.app_context():
            h = q('SELECT password_hash FROM "user" WHERE phone = :p', p=UNIT_PHONE).scalar()
            db.session.remove()
        if not check_password_hash(h, PASSWORD):
            raise RuntimeError("floor login: wrong hash")

    n_unit = f"{meta['unit_name']} ({meta['unit_staff']} staff)"
    ops = [
        # (key, label, {contender: fn}, target, check)
        ("unit_p1", f"unit admin list page 1 — {n_unit}", {
            "ours": ours_list(clients["unit"], grid["reported"] + ps),
            "stock": stock_list(f"{sbase}?{s_inst_eq}={meta['unit_id']}"),
            "floor": floor(unit_where)}, ("stock", 0.4), "ids"),
        ("nat_p1", "commission (national) list page 1 over 1M", {
            "ours": ours_list(clients["national"], grid["reported"] + ps),
            "stock": stock_list(sbase),
            "floor": floor(f"sp.{REPORTED_SQL}")}, ("stock", 0.4), "ids"),
        ("nat_deep", f"page {DEEP_PAGE:,} (ours: keyset cursor; stock ?page; floor OFFSET)", {
            "ours": ours_list(clients["national"], grid["reported"] + ps + f"&after={cursor}"),
            "stock": stock_list(f"{sbase}?page={DEEP_PAGE - 1}"),
            "floor": floor(f"sp.{REPORTED_SQL}", offset=deep_offset)}, ("nat_p1", 1.2), "ids"),
        ("filtered", "filtered page (status 待审核), national", {
            "ours": ours_list(clients["national"], grid["submitted"] + ps),
            "stock": stock_list(f"{sbase}?{s_status_eq}=submitted"),
            "floor": floor("sp.status = 'submitted'")}, ("stock", 0.4), "ids"),
        ("gender", "filter the counters cannot answer (性别 男), national: ours counts up to 10,000", {
            "ours": ours_list(clients["national"], grid["reported"] + f"&{gender}=male" + ps),
            "stock": stock_list(f"{sbase}?{s_gender_eq}=male"),
            "floor": floor(f"sp.{REPORTED_SQL} AND sp.gender = 'male'")}, ("stock", 0.4), "ids"),
        ("sorted", "national list sorted by 姓名 (name), page 1 (stock sorts without the id tiebreaker)", {
            "ours": ours_list(clients["national"], grid["reported"] + ps + f"&sort={by_name}"),
            "stock": stock_list(f"{sbase}?sort={[c for c, _l in stock._list_columns].index('name')}"),
            "floor": floor(f"sp.{REPORTED_SQL}", order=" ORDER BY sp.name, sp.id")}, ("stock", 0.4),
         "ids-ours"),
        *[op for column, (idx, deep_cursor) in sorts.items() for op in (
            (f"sort_{column}", f"national list sorted by {column}, page 1", {
                "ours": ours_list(clients["national"], grid["reported"] + ps + f"&sort={idx}"),
                "floor": floor(f"sp.{REPORTED_SQL}", order=f" ORDER BY {sort_sql(column)}, sp.id")}, None, "ids"),
            (f"sort_{column}_deep", f"national list sorted by {column}, page {DEEP_PAGE:,} (cursor; floor OFFSET)", {
                "ours": ours_list(clients["national"], grid["reported"] + ps + f"&sort={idx}&after={deep_cursor}"),
                "floor": floor(f"sp.{REPORTED_SQL}", offset=deep_offset,
                               order=f" ORDER BY {sort_sql(column)}, sp.id")}, (f"sort_{column}", 1.2), "ids"))],
        ("unit_sort", f"unit admin list sorted by department, page 1 — {n_unit}", {
            "ours": ours_list(clients["unit"], grid["reported"] + ps + f"&sort={sorts['department'][0]}"),
            "floor": floor(unit_where, order=f" ORDER BY {sort_sql('department')}, sp.id")}, None, "ids"),
        ("phone", f"search phone fragment “{phone_frag}”, national", {
            "ours": ours_list(clients["national"], grid["reported"] + ps + f"&search={phone_frag}"),
            "stock": stock_list(f"{sbase}?search={phone_frag}"),
            "floor": phone_floor(phone_frag)},
         ("stock", 0.05), "ids"),
        ("name2", f"search 2-character name “{name2[0]}” ({name2[1]} names start so), national", {
            "ours": ours_list(clients["national"], grid["reported"] + ps + f"&search={name2[0]}"),
            "stock": stock_list(f"{sbase}?search={name2[0]}"),
            "floor": floor(f"sp.{REPORTED_SQL} AND sp.name LIKE :p", {"p": f"%{name2[0]}%"})}, ("stock", 0.05), "ids"),
        ("name3", f"search 3-character name “{name3[0]}” ({name3[1]} staff), national", {
            "ours": ours_list(clients["national"], grid["reported"] + ps + f"&search={name3[0]}"),
            "stock": stock_list(f"{sbase}?search={name3[0]}"),
            "floor": floor(f"sp.{REPORTED_SQL} AND sp.name LIKE :p", {"p": f"%{name3[0]}%"})}, ("stock", 0.05), "ids"),
        ("phone_same", f"search phone fragment “{same['phone'][0]}” ({same['phone'][1]:,} staff: ~{MATCH_TARGET} "
                       "at any size), national", {
            "ours": ours_list(clients["national"], grid["reported"] + ps + f"&search={same['phone'][0]}"),
            "floor": phone_floor(same["phone"][0])}, None, "ids"),
        ("name_same", f"search 3-character name “{same['name'][0]}” ({same['name'][1]:,} staff: "
                      f"~{NAME_MATCH_TARGET} at any size), national", {
            "ours": ours_list(clients["national"], grid["reported"] + ps + f"&search={same['name'][0]}"),
            "floor": floor(f"sp.{REPORTED_SQL} AND sp.name LIKE :p", {"p": f"%{same['name'][0]}%"})}, None, "ids"),
        ("rid", "search exact resident ID, national (stock cannot: LIKE on name/phone finds 0)", {
            "ours": ours_list(clients["national"], grid["reported"] + ps + f"&search={resident_id}"),
            "stock": stock_list(f"{sbase}?search={resident_id}"),
            "floor": floor(f"sp.{REPORTED_SQL} AND sp.user_id IN (SELECT id FROM \"user\" WHERE "
                           f"id_type = 'resident_id' AND id_number_index = :i)", {"i": rid_index})}, None, "ids-ours"),
        ("cnt_unit", "count cards, unit", {"ours": ours_counts("unit"), "floor": floor_counts(meta["unit_path"])},
         ("floor", 0.1), "counts"),
        ("cnt_district", f"count cards, district ({meta['district_name']})",
         {"ours": ours_counts("district"), "floor": floor_counts(meta["district_path"])}, ("floor", 0.1), "counts"),
        ("cnt_all", "count cards, everything (national)",
         {"ours": ours_counts("all"), "floor": floor_counts(meta["nation_path"])}, ("floor", 0.1), "counts"),
        ("dashboard", "dashboard GET /admin/ as national officer (floor: per-province GROUP BY)", {
            "ours": lambda: get(clients["national"], "/admin/") and None, "floor": floor_dashboard}, None, None),
        ("approve", "approve 1,000 selected (stock: one plain UPDATE; floor: UPDATE + 1,000 event INSERTs)", {
            "ours": ours_approve, "stock": stock_approve, "floor": floor_approve}, ("floor", 1.5), "approve"),
        ("login", "one login (POST /login; floor: SELECT + scrypt check)", {"ours": ours_login, "floor": floor_login},
         None, None),
    ]

    only = {k for k in os.environ.get("BENCH_ONLY", "").split(",") if k}
    if only:  # a quick look at some rows (and the rows their targets compare with); exports only when asked
        wanted = only | {o[3][0] for o in ops if o[0] in only and o[3] and o[3][0] not in ("stock", "floor")}
        ops = [o for o in ops if o[0] in wanted]
    results: dict = {k: {} for k, *_ in ops}

    def run_once(key, contender, fn, check, verify: bool):
        ms, out = timed(fn)
        if key == "approve":
            moved = reset_approved(contender == "ours")
            if moved != len(approve_ids):
                fail(f"{key}/{contender}: moved {moved} rows, not {len(approve_ids)}")
        elif verify and check in ("ids", "ids-ours"):
            expect = expected[key]
            if contender == "ours" and out != expect:
                fail(f"{key}/ours: rows {out[:5]}… ({len(out)}) differ from the floor's {expect[:5]}… ({len(expect)})")
            if contender == "stock" and check == "ids" and out != expect:
                fail(f"{key}/stock: rows {out[:5]}… ({len(out)}) differ from the floor's {expect[:5]}… ({len(expect)})")
        elif verify and check == "counts" and contender == "ours":
            floor_out = ops_by_key[key][2]["floor"]()
            if {k: v for k, v in out.items() if v} != floor_out:
                fail(f"{key}/ours: counts {out} differ from GROUP BY {floor_out}")
        return ms

    ops_by_key = {o[0]: o for o in ops}
    expected = {}
    print(f"bench on {engine}: {counts}", flush=True)
    print("warm-up and checks…", flush=True)
    for key, _label, fns, _target, check in ops:
        if check in ("ids", "ids-ours"):
            expected[key] = fns["floor"]()
            if not expected[key]:
                fail(f"{key}: the floor returns no rows")
        for contender, fn in fns.items():
            if contender not in CONTENDERS:
                continue
            try:
                run_once(key, contender, fn, check, verify=True)
            except Exception as e:  # noqa: BLE001 - reported loudly, the run goes on and exits 1
                fail(f"{key}/{contender}: {type(e).__name__}: {e}")
    broken = {f.split("/")[0] + "/" + f.split("/")[1].split(":")[0] for f in failures if "/" in f}
    if engine == "postgresql":
        # Every approval queues entries in the GIN search indexes' pending lists, which every search scans until a
        # list reaches 4 MB and is merged (RESULTS, sixth pass): where in that cycle a run starts is the data
        # set's history, not its size. Empty lists, so a 1M and a 15M run go through the same cycle.
        with app.app_context():
            q("SELECT gin_clean_pending_list(c.oid) FROM pg_class c JOIN pg_am a ON a.oid = c.relam "
              "WHERE a.amname = 'gin' AND c.relname LIKE 'ix_staff_profile_%'").all()
            db.session.commit()
            db.session.remove()
    t_start = time.perf_counter()
    for rep in range(REPS):
        for key, _label, fns, _target, check in ops:
            order = [(c, fn) for c, fn in fns.items() if c in CONTENDERS]
            order = order[rep % len(order):] + order[:rep % len(order)] if order else order
            for contender, fn in order:
                if f"{key}/{contender}" in broken:
                    continue
                try:
                    results[key].setdefault(contender, []).append(run_once(key, contender, fn, check, verify=False))
                except Exception as e:  # noqa: BLE001
                    fail(f"{key}/{contender} rep {rep}: {type(e).__name__}: {e}")
                    broken.add(f"{key}/{contender}")
        print(f"  repetition {rep + 1}/{REPS} done ({time.perf_counter() - t_start:.0f}s)", flush=True)

    exports = run_exports(url, grid["rejected_all"]) if not only or "export" in only else {}
    table = report(engine, info, counts, meta, ops, results, exports)
    print(table)
    out = os.environ.get("BENCH_OUT")
    if out:
        Path(out).write_text(table, encoding="utf-8")
    if failures:
        print(f"\n{len(failures)} FAILURE(S):\n  " + "\n  ".join(failures))
        return 1
    return 0


def run_exports(url, ours_url) -> dict:
    """Each export in a fresh subprocess (time and peak RSS), ours and the floor interleaved, stock once."""
    out: dict = {"ours": [], "floor": [], "stock": []}
    plan = []
    for rep in range(EXPORT_REPS):
        plan += ["ours", "floor"] if rep % 2 == 0 else ["floor", "ours"]
    if os.environ.get("BENCH_SKIP_STOCK_EXPORT") != "1":
        plan.append("stock")
    plan = [who for who in plan if who in CONTENDERS]
    for who in plan:
        print(f"  export {who}…", flush=True)
        proc = subprocess.run([sys.executable, str(HERE / "export_one.py"), who, ours_url], capture_output=True,
                              text=True)
        if proc.returncode != 0:
            fail(f"export/{who}: exit {proc.returncode}: {proc.stderr.strip()[-800:]}")
            continue
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        out[who].append(res)
    rows = {r["rows"] for v in out.values() for r in v}
    if len(rows) > 1:
        fail(f"export: row counts differ between contenders: {out}")
    return out


def stats(xs):
    if not xs:
        return None, None
    med = statistics.median(xs)
    p90 = statistics.quantiles(xs, n=10, method="inclusive")[8] if len(xs) > 1 else xs[0]
    return med, p90


def fmt(x):
    return "—" if x is None else (f"{x:,.0f}" if x >= 100 else f"{x:.1f}" if x >= 10 else f"{x:.2f}")


def ratio(a, b):
    return "—" if a is None or not b else f"{a / b:.3f}"


def report(engine, info, counts, meta, ops, results, exports) -> str:
    lines = [f"### {engine} — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", ""]
    pg = f", PostgreSQL {info['postgresql']} (throwaway cluster, fsync off)" if "postgresql" in info else ""
    lines.append(f"- machine: {info['cpu']}, {info['cores']} cores, {info['ram_mb']:,} MB RAM, "
                 f"kernel {info['kernel']}; Python {info['python']}, SQLite {info['sqlite']}{pg}")
    lines.append(f"- rows: {counts['staff']:,} staff ({counts['reported']:,} reported), {counts['users']:,} users, "
                 f"{counts['institutions']:,} institutions by depth {counts['by_depth']}; biggest unit "
                 f"{meta['unit_staff']:,} staff")
    gen = meta.get("gen_staff_s")
    lines.append(f"- data built once: gen-staff {gen if gen is not None else '?'} s, whole build "
                 f"{meta.get('build_total_s', '?')} s (first migration, load-regions, gen-staff, later migrations); "
                 f"last `flask db upgrade` {meta.get('upgrade_s', '?')} s")
    lines.append(f"- {REPS} interleaved repetitions after one checked warm-up; ms; ratios of medians; "
                 "password hash: Werkzeug scrypt (scrypt:32768:8:1)")
    lines += ["", "| operation | ours med / p90 | stock med / p90 | floor med / p90 | ours/stock | ours/floor "
                  "| target | |",
              "|---|---|---|---|---|---|---|---|"]
    med = {k: {c: stats(v)[0] for c, v in r.items()} for k, r in results.items()}
    for key, label, _fns, target, _check in ops:
        r = results[key]
        cells = []
        for c in ("ours", "stock", "floor"):
            m, p = stats(r.get(c, []))
            cells.append("—" if m is None else f"{fmt(m)} / {fmt(p)}")
        o, s, f = (med[key].get(c) for c in ("ours", "stock", "floor"))
        verdict, tgt = "", "—"
        if target:
            ref, k = target
            base = {"stock": s, "floor": f}.get(ref, med.get(ref, {}).get("ours"))
            tgt = f"≤ {k} × " + ({"stock": "stock", "floor": "floor"}.get(ref) or "our page 1")
            verdict = ("PASS" if o <= k * base else "MISS") if o is not None and base else "n/a"
        if any(fl.startswith(key + "/") for fl in failures):
            verdict = (verdict + " WRONG/ERROR").strip()
        lines.append(f"| {label} | {cells[0]} | {cells[1]} | {cells[2]} | {ratio(o, s)} | {ratio(o, f)} "
                     f"| {tgt} | {verdict} |")
    ex = {k: v for k, v in exports.items() if v}
    if ex:
        rows = next(iter(ex.values()))[0]["rows"]
        lines += ["", f"Export of {rows:,} rows XLSX (status 已驳回, national scope), each in a fresh process: "
                  "ms; peak RSS during the export (VmHWM reset just before it), the RSS just before it, and the "
                  "process's ru_maxrss (imports included).", "",
                  "| contender | runs | median ms | peak RSS during export MB | RSS before MB | ru_maxrss MB "
                  "| file MB |",
                  "|---|---|---|---|---|---|---|"]
        for who in ("ours", "stock", "floor"):
            v = ex.get(who)
            if not v:
                continue
            lines.append(f"| {who} | {len(v)} | {statistics.median(r['ms'] for r in v):,.0f} | "
                         f"{max(r['export_peak_mb'] for r in v):.0f} | {max(r['base_mb'] for r in v):.0f} | "
                         f"{max(r['peak_mb'] for r in v):.0f} | "
                         f"{statistics.median(r['bytes'] for r in v) / 1e6:.1f} |")
        if ex.get("ours") and ex.get("floor"):
            o = statistics.median(r["ms"] for r in ex["ours"])
            f = statistics.median(r["ms"] for r in ex["floor"])
            peak = max(r["export_peak_mb"] for r in ex["ours"])
            ok = o <= 1.1 * f and peak < 150
            lines.append(f"\nours/floor {o / f:.2f} (target ≤ 1.1), ours peak {peak:.0f} MB (target < 150): "
                         f"{'PASS' if ok else 'MISS'}"
                         + (f"; ours/stock {o / statistics.median(r['ms'] for r in ex['stock']):.3f}"
                            if ex.get("stock") else ""))
    if failures:
        lines += ["", "Failures:", *[f"- {f}" for f in failures]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
