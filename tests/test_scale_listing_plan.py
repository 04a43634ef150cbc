"""The grid's engine on its own (services.staff_listing): no request, no view, just a scope and criteria.

Per case, which statements it runs and which index a page is read by: the total from the counters, the capped
count, the keyset page, the page carrying its own total, and the SQLite index hint of each kind of list.
"""
import re

import pytest
from sqlalchemy import select, update

from admin_app.extensions import db
from admin_app.models import StaffProfile
from admin_app.services.keyset import decode_cursor, encode_cursor
from admin_app.services.staff_criteria import Criterion, ScopeFigures
from admin_app.services.staff_listing import (
    COALESCED,
    SORT_INDEXES,
    SORTABLE,
    UNIT_SORT_INDEXES,
    StaffListing,
    row_key,
)
from admin_app.views.staff import staff_view
from tests.conftest import DISTRICT_A, SUPER, UNIT_A
from tests.test_review_support import scope_of, user
from tests.test_scale_mechanisms import REPORTED, capture_sql, page_statement, query_plan, reported_in_order

PAGE = 5


def staff_reads(seen) -> list[str]:
    """The captured statements that read the staff table (counters and institutions are other tables)."""
    return [s for s, _p in seen if re.search(r"\bfrom staff_profile\b", s.lower())]


def unit_rows(status: str) -> list[int]:
    """The unit admin's rows with this status, in the grid's default order."""
    inst = user(UNIT_A).institution_id
    return list(db.session.scalars(
        select(StaffProfile.id).where(StaffProfile.institution_id == inst, StaffProfile.status == status)
        .order_by(StaffProfile.submitted_at.desc(), StaffProfile.id.desc())))


def sqlite() -> bool:
    return db.engine.dialect.name == "sqlite"


def test_a_units_status_list_takes_its_total_from_the_counters_and_reads_one_page(app):
    expected = unit_rows("submitted")
    assert expected
    listing = StaffListing(scope_of(UNIT_A), [Criterion("status", "submitted")])
    with capture_sql() as seen:
        page = listing.page(0, PAGE)
    assert page.total == len(expected) and [r.id for r in page.rows] == expected[:PAGE]
    assert page.capped is None and page.more is None
    # The staff table is read once, for the page; the total is a sum of counter rows, never a COUNT.
    reads = staff_reads(seen)
    assert len(reads) == 1 and "count(" not in reads[0].lower(), reads
    assert any("status_counter" in s.lower() for s, _p in seen)
    statement, parameters = page_statement(seen)
    if sqlite():  # a small list: its (unit, status, report time) range covers the condition and the order
        assert "INDEXED BY ix_staff_profile_inst_status_submitted" in statement
        assert "ix_staff_profile_inst_status_submitted" in query_plan(statement, parameters)
    else:
        assert "INDEXED BY" not in statement  # PostgreSQL plans by its statistics


def test_shared_figures_read_the_counters_once_for_the_cards_and_the_page(app):
    figures = ScopeFigures(scope_of(UNIT_A))
    cards = figures.counts()
    listing = StaffListing(figures.scope, [Criterion("status", "submitted")], figures=figures)
    with capture_sql() as seen:
        page = listing.page(0, PAGE)
    assert page.total == cards["submitted"]
    assert [s for s, _p in seen if "counter" in s.lower()] == []  # the cards' read served the total
    assert len(seen) == 1  # just the page


def test_a_filter_the_counters_cannot_answer_over_a_wide_scope_is_counted_up_to_the_cap(app):
    app.config["SEARCH_SCAN_MAX_ROWS"] = 0  # every scope counts as wide, as a province's does at national scale
    males = db.session.scalar(select(db.func.count()).select_from(StaffProfile).where(
        StaffProfile.status.in_(REPORTED), StaffProfile.gender == "male"))
    cap = 3
    assert males > cap + 1
    listing = StaffListing(scope_of(SUPER), [Criterion("gender", "male")])
    with capture_sql() as seen:
        page = listing.page(0, PAGE, cap=cap)
    assert page.total == cap + 1 and page.capped == cap and len(page.rows) == PAGE
    counts = [s for s in staff_reads(seen) if "count(" in s.lower()]
    assert len(counts) == 1 and re.search(r"limit", counts[0], re.I), counts  # at most cap + 1 rows counted
    statement, _parameters = page_statement(seen)
    if sqlite():
        assert "NOT INDEXED" in counts[0]  # everything in reach: the first cap + 1 matches in storage order
        assert "INDEXED BY ix_staff_profile_submitted" in statement  # many match: walk the report-time order
    else:
        assert "INDEXED BY" not in statement and "NOT INDEXED" not in counts[0]
    # Under the cap the count is exact and says so.
    exact = StaffListing(scope_of(SUPER), [Criterion("gender", "male")]).page(0, PAGE, cap=males + 10)
    assert exact.total == males and exact.capped is None


def test_a_keyset_page_seeks_past_its_cursor_without_offset_or_count(app):
    order = reported_in_order()
    row = db.session.get(StaffProfile, order[9])
    listing = StaffListing(scope_of(SUPER), [Criterion("status", "reported")])
    with capture_sql() as seen:
        page = listing.page(0, PAGE, keyset=("after", (row.submitted_at, row.id)))
    assert [r.id for r in page.rows] == order[10:10 + PAGE]
    assert page.more == {"after": True, "before": True} and page.total == len(order)
    statement, parameters = page_statement(seen)
    assert re.search(r"\(staff_profile\.submitted_at, staff_profile\.id\) < \(", statement), statement
    assert "offset" not in statement.lower() or list(parameters)[-1] == 0, (statement, parameters)
    assert all("count(" not in s.lower() for s in staff_reads(seen))
    # Backwards from the same cursor: the rows just above it, in the grid's order.
    back = StaffListing(scope_of(SUPER), [Criterion("status", "reported")]).page(
        0, PAGE, keyset=("before", (row.submitted_at, row.id)))
    assert [r.id for r in back.rows] == order[9 - PAGE:9]
    cursor = encode_cursor(back.rows[0].submitted_at, back.rows[0].id)
    assert cursor  # a page's first row is a valid cursor for the page before it


def test_a_search_page_carries_its_own_total_in_one_statement(app):
    me = db.session.scalar(select(StaffProfile).where(StaffProfile.status.in_(REPORTED)).limit(1))
    listing = StaffListing(scope_of(SUPER), [], search=me.phone)
    with capture_sql() as seen:
        page = listing.page(0, PAGE, keyset=("after", None))
    assert me.id in [r.id for r in page.rows] and page.total == len(page.rows)
    reads = staff_reads(seen)
    counted = [s for s in reads if "count(*) over ()" in s.lower()]
    assert len(counted) == 1 and not [s for s in reads if re.search(r"select count\(\*\) as", s.lower())], reads


@pytest.mark.parametrize("who, criteria, sort, search, index", [
    (SUPER, [("status", "reported")], None, None, "INDEXED BY ix_staff_profile_submitted"),
    (SUPER, [("status", "submitted")], None, None, "INDEXED BY ix_staff_profile_status_submitted"),
    (SUPER, [], "name", None, "INDEXED BY ix_staff_profile_name"),
    (SUPER, [], "phone", None, "INDEXED BY ix_staff_profile_phone"),
    (SUPER, [], "gender", None, "INDEXED BY ix_staff_profile_sort_gender"),
    (SUPER, [], "personnel_type", None, "INDEXED BY ix_staff_profile_sort_personnel_type"),
    (SUPER, [], "department", None, "INDEXED BY ix_staff_profile_sort_department"),
    (SUPER, [], "status", None, "INDEXED BY ix_staff_profile_sort_status"),
    (SUPER, [], "submitted_at", None, "INDEXED BY ix_staff_profile_submitted"),
    (UNIT_A, [("status", "submitted")], None, None, "INDEXED BY ix_staff_profile_inst_status_submitted"),
    # A unit's rows, sorted: a range of the unit's own index of that order (never the registry-wide one).
    (UNIT_A, [], "name", None, "INDEXED BY ix_staff_profile_unit_name"),
    (UNIT_A, [], "gender", None, "INDEXED BY ix_staff_profile_unit_gender"),
    (UNIT_A, [("gender", "male")], "department", None, "INDEXED BY ix_staff_profile_unit_department"),
    (UNIT_A, [], "submitted_at", None, "INDEXED BY ix_staff_profile_unit_submitted_at"),
    (UNIT_A, [("status", "reported")], None, None, "INDEXED BY ix_staff_profile_unit_submitted_at"),
    # A district's units, sorted: their (unit, status) ranges, then sorted.
    (DISTRICT_A, [], "name", None, "INDEXED BY ix_staff_profile_inst_status_submitted"),
    (UNIT_A, [("department", "检验科")], None, None, None),  # the counters cannot size it: the planner decides
])
def test_the_index_each_kind_of_list_is_read_by(app, who, criteria, sort, search, index):
    listing = StaffListing(scope_of(who), [Criterion(*c) for c in criteria], search, sort, desc=True)
    with capture_sql() as seen:
        listing.page(0, PAGE)
    statement, parameters = page_statement(seen)
    hints = re.findall(r"(?:NOT INDEXED|INDEXED BY \w+)", statement)
    if not sqlite():
        assert hints == []
        return
    assert hints == ([index] if index else []), statement
    if index:
        assert index.split()[-1] in query_plan(statement, parameters)


@pytest.mark.parametrize("sort, kind", [(None, "name"), ("name", "name"), (None, "phone")])
def test_on_postgresql_a_search_counts_every_match_before_its_page_is_cut(app, sort, kind):
    """A LIMIT straight over count(*) OVER () let PostgreSQL price the page as if it stopped early, and walk the
    order's index through every row in the country (a 2-character name at 15M staff: 158 s instead of 90 ms)."""
    if sqlite():
        pytest.skip("SQLite starts from a search's matches by its index hint")
    someone = db.session.scalar(select(StaffProfile).where(StaffProfile.status.in_(REPORTED)).limit(1))
    search = someone.name[:2] if kind == "name" else someone.phone[-4:]
    listing = StaffListing(scope_of(SUPER), [], search=search, sort=sort)
    with capture_sql() as seen:
        page = listing.page(0, PAGE, keyset=("after", None))
    statement, parameters = page_statement(seen)
    conn = db.session.connection()
    # The demo's few rows make reading the matches and sorting them cheapest anyway; at 15M the order's index
    # looked cheaper. Make it so here: a LIMIT straight over the window then shows in the plan.
    for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
        conn.exec_driver_sql(f"SET LOCAL {setting} = off")
    plan = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar()

    def limits_over_a_window(node) -> int:
        kids = node.get("Plans", [])
        here = node["Node Type"] == "Limit" and any(k["Node Type"] == "WindowAgg" for k in kids)
        return here + sum(limits_over_a_window(k) for k in kids)

    assert limits_over_a_window(plan[0]["Plan"]) == 0, plan
    want = StaffListing(scope_of(SUPER), [], search=search, sort=sort).query().with_entities(StaffProfile.id).all()
    assert page.total == len(want) and page.rows and [r.id for r in page.rows] == [i for (i,) in want][:len(page.rows)]


def test_a_search_over_a_wide_scope_starts_from_its_matches(app):
    app.config["SEARCH_SCAN_MAX_ROWS"] = 0
    listing = StaffListing(scope_of(SUPER), [], search="王小")
    with capture_sql() as seen:
        listing.page(0, PAGE)
    statement, _parameters = page_statement(seen)
    assert ("NOT INDEXED" in statement) == sqlite()


def test_the_listing_rows_are_the_scope_and_criteria_and_nothing_else(app):
    inst = user(UNIT_A).institution_id
    other = StaffListing(scope_of(UNIT_A), [Criterion("institution", "999999")])
    assert other.page(0, PAGE).total == 0 and other.query().all() == []
    mine = StaffListing(scope_of(UNIT_A), [Criterion("institution", str(inst))])
    assert {p.institution_id for p in mine.query()} == {inst}
    with pytest.raises(ValueError):
        StaffListing(scope_of(UNIT_A), sort="id_number_enc")


def test_the_grid_offers_exactly_the_sorts_the_listing_plans(app):
    assert tuple(staff_view(app).column_sortable_list) == SORTABLE


@pytest.mark.parametrize("answer, expected", [("1", True), ("0", False)])
def test_a_yes_no_answer_criterion_compares_a_boolean(app, answer, expected):
    listing = StaffListing(scope_of(SUPER), [Criterion("pcr_certificate", answer)])
    with capture_sql() as seen:
        rows = listing.query().all()
    direct = db.session.scalars(select(StaffProfile.id).where(
        StaffProfile.status.in_(REPORTED), StaffProfile.pcr_certificate.is_(expected))).all()
    assert rows and sorted(r.id for r in rows) == sorted(direct)
    # A literal boolean, as Flask-Admin's own boolean filter writes it (psycopg refuses a string for a boolean).
    assert re.search(r"pcr_certificate = (1|0|true|false)\b", staff_reads(seen)[0], re.I), staff_reads(seen)[0]


# ---- keyset pages in every order ---------------------------------------------------------------------------


def in_grid_order(who: str, sort: str, desc: bool) -> list[int]:
    """The listing's ids in (sort key, id) order, NULL read as empty text, sorted here rather than by SQL."""
    listing = StaffListing(scope_of(who), [Criterion("status", "reported")])
    rows = [(row_key(sort, r), r.id) for r in listing.query()]
    return [i for _k, i in sorted(rows, reverse=desc)]


def walk(who: str, sort: str, desc: bool, size: int = PAGE) -> list[list[int]]:
    """Every page of a sorted listing, each sought after the previous page's last row."""
    pages, cursor = [], None
    while True:
        listing = StaffListing(scope_of(who), [Criterion("status", "reported")], sort=sort, desc=desc)
        page = listing.page(0, size, keyset=("after", cursor))
        pages.append([r.id for r in page.rows])
        if not page.more["after"]:
            return pages
        last = page.rows[-1]
        cursor = (row_key(sort, last), last.id)


@pytest.mark.parametrize("desc", [False, True], ids=["up", "down"])
@pytest.mark.parametrize("sort", SORTABLE)
def test_an_officer_pages_any_order_by_cursor_and_sees_each_row_once(app, sort, desc):
    pages = walk(SUPER, sort, desc)
    assert sum(pages, []) == in_grid_order(SUPER, sort, desc)
    assert all(len(p) == PAGE for p in pages[:-1]) and pages[-1]
    # Back from the third page's first row: exactly the second page, in the grid's order.
    third = db.session.get(StaffProfile, pages[2][0])
    back = StaffListing(scope_of(SUPER), [Criterion("status", "reported")], sort=sort, desc=desc).page(
        0, PAGE, keyset=("before", (row_key(sort, third), third.id)))
    assert [r.id for r in back.rows] == pages[1] and back.more == {"after": True, "before": True}


@pytest.mark.parametrize("sort", ["name", "department", "status"])
def test_a_unit_admin_pages_a_sorted_list_by_cursor(app, sort):
    pages = walk(UNIT_A, sort, True, size=3)
    assert len(pages) > 2 and sum(pages, []) == in_grid_order(UNIT_A, sort, True)


def test_a_missing_department_sorts_as_empty_text_first_on_both_engines(app):
    first = in_grid_order(SUPER, "department", False)[-1]  # the last row, ascending
    db.session.execute(update(StaffProfile).where(StaffProfile.id == first).values(department=None))
    db.session.commit()
    up = StaffListing(scope_of(SUPER), [Criterion("status", "reported")], sort="department").page(0, PAGE)
    assert up.rows[0].id == min(i for i in in_grid_order(SUPER, "department", False)
                                if db.session.get(StaffProfile, i).department in (None, ""))
    pages = walk(SUPER, "department", True)
    assert sum(pages, []) == in_grid_order(SUPER, "department", True)  # and last, descending, by cursor too


def sort_index_plan(statement: str, parameters) -> str:
    """The plan of a page statement when the engine may not sort: only an index of that order can serve it."""
    conn = db.session.connection()
    if conn.dialect.name == "sqlite":
        return query_plan(statement, parameters)
    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    conn.exec_driver_sql("SET LOCAL enable_sort = off")
    conn.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
    return "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, parameters).all())


@pytest.mark.parametrize("sort", SORTABLE)
def test_a_deep_page_of_any_order_is_one_range_of_its_index_and_costs_the_statements_of_page_one(app, sort):
    order = in_grid_order(SUPER, sort, True)
    row = db.session.get(StaffProfile, order[3 * PAGE - 1])
    first = StaffListing(scope_of(SUPER), [Criterion("status", "reported")], sort=sort, desc=True)
    with capture_sql() as seen_first:
        first.page(0, PAGE, keyset=("after", None))
    deep = StaffListing(scope_of(SUPER), [Criterion("status", "reported")], sort=sort, desc=True)
    with capture_sql() as seen:
        page = deep.page(0, PAGE, keyset=("after", (row_key(sort, row), row.id)))
    assert [r.id for r in page.rows] == order[3 * PAGE:4 * PAGE]
    assert len(seen) == len(seen_first) and all("count(" not in s.lower() for s in staff_reads(seen))
    statement, parameters = page_statement(seen)
    key = re.escape(f"coalesce(staff_profile.{sort}, '')" if sort in COALESCED else f"staff_profile.{sort}")
    if sqlite() and sort in COALESCED:
        # SQLite seeks an expression index by the key alone, so the cursor is two seeks: the rest of its key by
        # id, then the keys beyond it.
        assert re.search(rf"{key} = \? AND staff_profile\.id < \?", statement), statement
        assert re.search(rf"{key} < \?", statement) and "UNION ALL" in statement, statement
    else:
        assert re.search(rf"\({key}, staff_profile\.id\) < \(", statement), statement
    assert "offset" not in statement.lower() or list(parameters)[-1] == 0, (statement, parameters)
    plan = sort_index_plan(statement, parameters)
    assert SORT_INDEXES[sort] in plan, plan
    if sqlite():  # every read of the order's index is a seek (SEARCH), never a walk from its start (SCAN)
        assert f"INDEXED BY {SORT_INDEXES[sort]}" in statement
        reads = [line for line in plan.splitlines() if SORT_INDEXES[sort] in line]
        assert reads and all("SEARCH" in line for line in reads), plan


@pytest.mark.parametrize("sort", sorted(UNIT_SORT_INDEXES))
def test_a_unit_admins_deep_page_of_any_order_is_one_range_of_the_units_own_index(app, sort):
    """A unit's sorted page once read every row of the unit and sorted them (19 ms at 1M staff, 28 ms at 15M)."""
    order = in_grid_order(UNIT_A, sort, True)
    assert len(order) > 2 * 3
    row = db.session.get(StaffProfile, order[3 - 1])
    listing = StaffListing(scope_of(UNIT_A), [Criterion("status", "reported")], sort=sort, desc=True)
    with capture_sql() as seen:
        page = listing.page(0, 3, keyset=("after", (row_key(sort, row), row.id)))
    assert [r.id for r in page.rows] == order[3:6]
    assert all("count(" not in s.lower() for s in staff_reads(seen))
    statement, parameters = page_statement(seen)
    assert re.search(r"staff_profile\.institution_id IN \((\?|%)", statement), statement  # one unit: its id
    plan = sort_index_plan(statement, parameters)
    assert UNIT_SORT_INDEXES[sort] in plan, plan
    if sqlite():  # seeks within the unit's range (SEARCH … institution_id=?), never a walk from its start
        reads = [line for line in plan.splitlines() if UNIT_SORT_INDEXES[sort] in line]
        assert reads and all("SEARCH" in line and "institution_id=?" in line for line in reads), plan


def test_a_filter_on_a_sorted_column_keeps_its_plan_on_sqlite(app):
    """The coalesced sort indexes are invisible to a plain filter (SQLite once picked such an index for it)."""
    listing = StaffListing(scope_of(UNIT_A), [Criterion("gender", "male")])
    with capture_sql() as seen:
        listing.page(0, PAGE)
    statement, parameters = page_statement(seen)
    assert "ix_staff_profile_sort_" not in query_plan(statement, parameters)


@pytest.mark.parametrize("raw, sort, expected", [
    ("检验科-42", "department", ("检验科", 42)), ("-7", "department", ("", 7)), ("a-b-9", "name", ("a-b", 9)),
    ("male-0", "gender", None), ("male", "gender", None), ("x" * 65 + "-3", "name", None), ("m\x00-3", "name", None),
    ("male-99999999999", "gender", None), ("20261201000000000000-5", "submitted_at", (None, 5)),
    ("检验科-42", "submitted_at", None),
])
def test_a_cursor_names_its_orders_value_and_id_or_nothing(raw, sort, expected):
    got = decode_cursor(raw, sort)
    if expected is None or expected[0] is not None:
        assert got == expected
    else:
        assert got is not None and got[1] == expected[1]
    if got is not None:
        assert decode_cursor(encode_cursor(*got), sort) == got
