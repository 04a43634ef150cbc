"""National scale (issue 9): the mechanisms that keep the grid fast at a million staff, locked in without timings.

Keyset pages, no COUNT over the staff table, the fragment-search indexes (FTS5 trigram, name bigrams, phone 4-digit
grams and suffixes on SQLite; pg_trgm and the name_bigrams and phone_quadgrams GIN indexes on PostgreSQL) and the query
plans that use them.
"""
import re
from contextlib import contextmanager
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st
from sqlalchemy import delete, event, select, text, update

from admin_app.extensions import db
from admin_app.models import ReviewEvent, StaffProfile, search
from admin_app.models.types import utcnow
from admin_app.services.keyset import decode_cursor, encode_cursor
from admin_app.services.search import term_condition
from admin_app.services.staff_listing import COALESCED, SORT_INDEXES, UNIT_SORT_INDEXES
from admin_app.views.staff import staff_view
from tests.conftest import SUPER, UNIT_A
from tests.test_review_support import STAFF_URL, flashes, grid_ids, profiles_of

REPORTED = ("submitted", "unit_rejected", "unit_approved", "rejected", "approved")


def reported_in_order() -> list[int]:
    """Every reported profile's id in the grid's default order (newest report first)."""
    return list(db.session.scalars(select(StaffProfile.id).where(StaffProfile.status.in_(REPORTED))
                                   .order_by(StaffProfile.submitted_at.desc(), StaffProfile.id.desc())))


def pager_link(html: str, which: str) -> str | None:
    m = re.search(rf'href="([^"]+)" data-page="{which}"', html)
    return m.group(1).replace("&amp;", "&") if m else None


@contextmanager
def capture_sql():
    """(statement, parameters) of every query run inside."""
    seen = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", grab)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", grab)


def query_plan(statement: str, parameters) -> str:
    """The engine's plan for one captured statement (SQLite EXPLAIN QUERY PLAN, PostgreSQL EXPLAIN)."""
    conn = db.session.connection()
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
        return "\n".join(r[-1] for r in rows)
    # The demo tables are tiny, so the planner would rightly scan them (or walk the order index and filter);
    # forbid both to see which index can answer the condition.
    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    conn.exec_driver_sql("SET LOCAL enable_indexscan = off")
    return "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, parameters).all())


def page_statement(seen) -> tuple[str, object]:
    """The captured statement that reads the grid's rows (it joins the unit for the page)."""
    pages = [(s, p) for s, p in seen
             if "from staff_profile" in s.lower() and "left outer join institution" in s.lower()]
    assert len(pages) == 1, [s for s, _p in seen]
    return pages[0]


# ---- keyset paging -------------------------------------------------------------------------------------


def test_an_officer_walks_every_page_by_cursor_and_sees_each_row_once(login):
    c = login(SUPER)
    expected = reported_in_order()
    url, seen, pages = f"{STAFF_URL}?flt0_0=reported&page_size=20", [], 0
    while url:
        html = c.get(url).get_data(as_text=True)
        ids = grid_ids(html)
        assert ids, url
        seen += ids
        pages += 1
        assert f"第 {pages} 页" in html
        url = pager_link(html, "next")
    assert seen == expected
    assert pages == -(-len(expected) // 20)


def test_the_previous_page_link_returns_exactly_the_previous_page(login):
    c = login(SUPER)
    first = c.get(f"{STAFF_URL}?flt0_0=reported&page_size=20").get_data(as_text=True)
    second = c.get(pager_link(first, "next")).get_data(as_text=True)
    third = c.get(pager_link(second, "next")).get_data(as_text=True)
    back = c.get(pager_link(third, "prev")).get_data(as_text=True)
    assert grid_ids(back) == grid_ids(second)
    assert grid_ids(c.get(pager_link(back, "prev")).get_data(as_text=True)) == grid_ids(first)
    assert pager_link(first, "prev") is None and pager_link(first, "first") is None


def test_deep_pages_seek_by_cursor_and_never_count_or_offset(login):
    c = login(SUPER)
    order = reported_in_order()
    row = db.session.get(StaffProfile, order[99])
    cursor = encode_cursor(row.submitted_at, row.id)
    with capture_sql() as seen:
        html = c.get(f"{STAFF_URL}?flt0_0=reported&page_size=20&after={cursor}").get_data(as_text=True)
    assert grid_ids(html) == order[100:120]
    statement, params = page_statement(seen)
    # SQLAlchemy's SQLite dialect writes LIMIT ? OFFSET 0 for any limit; anything else would be a real OFFSET.
    assert "offset" not in statement.lower() or list(params)[-1] == 0, (statement, params)
    assert re.search(r"\(staff_profile\.submitted_at, staff_profile\.id\) < \(", statement), statement
    joined = "\n".join(s for s, _p in seen).lower()
    assert not re.search(r"count\(\*\)[^;]*from staff_profile", joined)


def test_equal_report_times_neither_repeat_nor_skip_rows_across_pages(login):
    same = utcnow().replace(microsecond=0) - timedelta(days=400)
    ids = [p.id for p in profiles_of(UNIT_A, *REPORTED)][:7]
    db.session.execute(update(StaffProfile).where(StaffProfile.id.in_(ids)).values(submitted_at=same))
    db.session.commit()
    c = login(SUPER)
    url, seen = f"{STAFF_URL}?flt0_0=reported&page_size=3", []
    while url:
        html = c.get(url).get_data(as_text=True)
        seen += grid_ids(html)
        url = pager_link(html, "next")
    assert seen == reported_in_order()


@pytest.mark.parametrize("raw", ["x", "2026-1", "99999999999999999999-1", "20261201000000000000-0",
                                 "20261301000000000000-5", "20261201000000000000-99999999999", "' OR 1=1 --"])
def test_a_malformed_cursor_shows_the_first_page(login, raw):
    assert decode_cursor(raw) is None
    c = login(SUPER)
    first = grid_ids(c.get(f"{STAFF_URL}?flt0_0=reported&page_size=20").get_data(as_text=True))
    resp = c.get(STAFF_URL, query_string={"flt0_0": "reported", "page_size": 20, "after": raw})
    assert resp.status_code == 200 and grid_ids(resp.get_data(as_text=True)) == first


def test_a_sorted_grid_pages_by_cursor_and_its_links_keep_the_order(login):
    c = login(SUPER)
    view = staff_view(c.application)
    sort = [col for col, _label in view._list_columns].index("department")
    url, seen, pages = f"{STAFF_URL}?flt0_0=reported&page_size=20&sort={sort}&desc=1", [], 0
    while url:
        html = c.get(url).get_data(as_text=True)
        seen += grid_ids(html)
        pages += 1
        assert f"第 {pages} 页" in html and "page=1" not in html
        url = pager_link(html, "next")
        assert url is None or (f"sort={sort}" in url and "desc=1" in url and "after=" in url), url
    rows = dict(db.session.execute(select(StaffProfile.id, StaffProfile.department)
                                   .where(StaffProfile.id.in_(seen))).all())
    assert seen == sorted(seen, key=lambda i: (rows[i] or "", i), reverse=True)
    assert seen == reported_in_order_by("department") and pages > 2
    # An older numbered link (?page=) still answers, by OFFSET.
    numbered = c.get(f"{STAFF_URL}?flt0_0=reported&page_size=20&sort={sort}&desc=1&page=1").get_data(as_text=True)
    assert grid_ids(numbered) == seen[20:40]


def reported_in_order_by(column: str) -> list[int]:
    key = db.func.coalesce(getattr(StaffProfile, column), "")
    return list(db.session.scalars(select(StaffProfile.id).where(StaffProfile.status.in_(REPORTED))
                                   .order_by(key.desc(), StaffProfile.id.desc())))


# ---- fragment search -----------------------------------------------------------------------------------


def rename(profile_id: int, name: str) -> None:
    db.session.execute(update(StaffProfile).where(StaffProfile.id == profile_id).values(name=name))
    db.session.commit()


def search_ids(client, term: str) -> set[int]:
    html = client.get(STAFF_URL, query_string={"flt0_0": "reported", "page_size": 1000, "search": term})
    return set(grid_ids(html.get_data(as_text=True)))


def test_two_and_three_character_chinese_names_are_found_through_the_indexes(login):
    target = reported_in_order()[5]
    rename(target, "欧阳子涵")
    c = login(SUPER)
    for term in ("欧阳", "阳子", "子涵", "欧阳子", "阳子涵", "欧阳子涵"):
        assert target in search_ids(c, term), term
    assert target not in search_ids(c, "欧子")


def test_a_renamed_staff_member_is_found_by_the_new_name_only(login):
    target = reported_in_order()[3]
    rename(target, "司马相如")
    rename(target, "诸葛孔明")
    c = login(SUPER)
    assert target in search_ids(c, "孔明") and target in search_ids(c, "诸葛孔")
    assert target not in search_ids(c, "相如") and target not in search_ids(c, "司马相")


def test_a_phone_fragment_is_found_and_percent_is_literal(login):
    c = login(SUPER)
    rows = db.session.execute(select(StaffProfile.id, StaffProfile.phone).where(
        StaffProfile.status.in_(REPORTED))).all()
    fragment = rows[0].phone[-5:]
    assert search_ids(c, fragment) == {i for i, p in rows if fragment in p}
    assert search_ids(c, "1%3") == set()


def set_phone(profile_id: int, phone: str) -> None:
    db.session.execute(update(StaffProfile).where(StaffProfile.id == profile_id).values(phone=phone))
    db.session.commit()


def test_a_changed_phone_is_found_by_its_new_digits_only(login):
    target = reported_in_order()[2]
    set_phone(target, "19912345678")
    set_phone(target, "19987654321")
    c = login(SUPER)
    for term in ("8765", "987654", "9876543", "19987654321"):
        assert target in search_ids(c, term), term
    for term in ("1234", "2345678", "19912345678"):
        assert target not in search_ids(c, term), term


def test_a_phone_holding_a_fragments_grams_out_of_order_is_not_found(login):
    """"12345678" is found through the grams 1234 and 5678; a phone holding both apart does not hold it."""
    holder, other = reported_in_order()[:2]
    set_phone(holder, "13912345678")
    set_phone(other, "15678901234")
    c = login(SUPER)
    assert search_ids(c, "12345678") == {holder}
    assert search_ids(c, "１２３４５６７８") == {holder}  # full-width digits, as a phone keyboard may type them


def test_a_single_character_over_a_wide_scope_is_refused_with_a_message(app, login):
    app.config["SEARCH_SCAN_MAX_ROWS"] = 10
    c = login(SUPER)
    html = c.get(STAFF_URL, query_string={"flt0_0": "reported", "search": "王"}).get_data(as_text=True)
    assert grid_ids(html) == []
    assert "太短" in html


def test_a_single_character_is_searched_inside_a_unit(login):
    c = login(UNIT_A)
    rows = [p for p in profiles_of(UNIT_A, *REPORTED)]
    char = rows[0].name[0]
    assert search_ids(c, char) == {p.id for p in rows if char in p.name}
    assert not [m for cat, m in flashes(c) if "太短" in m]


def test_search_and_filter_pages_use_their_indexes(login):
    c = login(SUPER)
    checks = {
        "欧阳子": r"staff_search VIRTUAL TABLE INDEX|ix_staff_profile_name_trgm",
        "欧阳": r"staff_name_gram USING PRIMARY KEY|ix_staff_profile_name_bigrams",
        "138": r"staff_search VIRTUAL TABLE INDEX|ix_staff_profile_phone_quadgrams",
        "3800": r"staff_phone_gram USING PRIMARY KEY \(gram=\?\)|ix_staff_profile_phone_quadgrams",
        "13800": r"staff_phone_suffix USING PRIMARY KEY \(suffix>\? AND suffix<\?\)|ix_staff_profile_phone_quadgrams",
        "1380019": r"staff_phone_suffix USING PRIMARY KEY \(suffix>\? AND suffix<\?\)|ix_staff_profile_phone_quadgrams",
        "13800138000": r"USING COVERING INDEX ix_staff_profile_phone|Index Cond: \(\(phone\)",
    }
    for term, used in checks.items():
        with capture_sql() as seen:
            assert c.get(STAFF_URL, query_string={"flt0_0": "reported", "search": term}).status_code == 200
        if db.engine.dialect.name == "sqlite":
            plan = query_plan(*page_statement(seen))  # the page as the grid reads it, hint included
        else:
            # PostgreSQL plans by statistics the demo's 200 rows cannot give; ask whether the condition itself
            # is answered by the index, as it is at a million rows (bench/RESULTS.md). The table's other b-trees
            # are hidden from fragments (dropped inside a savepoint): reading a whole one of 200 beats any index.
            stmt = select(StaffProfile.id).where(term_condition(term, narrow=False)).compile(db.engine)
            savepoint = db.session.begin_nested()
            if len(term) < 11:
                conn = db.session.connection()
                btrees = conn.exec_driver_sql(
                    "SELECT string_agg(quote_ident(c.relname), ', ') FROM pg_index i JOIN pg_class c "
                    "ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam WHERE i.indrelid = 'staff_profile'"
                    "::regclass AND a.amname = 'btree' AND NOT i.indisprimary AND NOT i.indisunique").scalar()
                conn.exec_driver_sql(f"DROP INDEX {btrees}")
            plan = query_plan(str(stmt), stmt.params)
            savepoint.rollback()
        assert re.search(used, plan), f"{term}: {plan}"
        assert not re.search(r"(?m)^SCAN staff_profile$|Seq Scan on staff_profile", plan), plan
    with capture_sql() as seen:
        assert c.get(STAFF_URL, query_string={"flt0_0": "submitted"}).status_code == 200
    plan = query_plan(*page_statement(seen))
    assert re.search(r"ix_staff_profile_status_submitted|ix_staff_profile_inst_status_submitted", plan), plan


NAME_CHARS = "王李张欧阳子涵伟芳"


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(alphabet=NAME_CHARS, min_size=1, max_size=6),
       term=st.text(alphabet=NAME_CHARS, min_size=2, max_size=4))
def test_the_indexed_search_agrees_with_plain_substring_matching(app, name, term):
    """Whatever the names, the indexed condition selects exactly the rows whose name or phone holds the term."""
    rows = db.session.execute(select(StaffProfile.id).order_by(StaffProfile.id).limit(3)).scalars().all()
    for k, pid in enumerate(rows):
        rename(pid, name if k == 0 else name[::-1] + "某")
    found = set(db.session.scalars(select(StaffProfile.id).where(term_condition(term, narrow=False))))
    names = dict(db.session.execute(select(StaffProfile.id, StaffProfile.name)).all())
    phones = dict(db.session.execute(select(StaffProfile.id, StaffProfile.phone)).all())
    assert found == {i for i, n in names.items() if term in n or term in phones[i]}


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(phones=st.lists(st.one_of(st.just(""), st.text(alphabet="0189", min_size=4, max_size=11)),
                      min_size=3, max_size=3),
       term=st.text(alphabet="0189", min_size=3, max_size=11))
@example(phones=["1899999", "8999", ""], term="89999")  # the range's end for a fragment ending in 9
@example(phones=["10000000000", "000001", "1000"], term="00000")  # a fragment held twice in one phone
def test_the_phone_fragment_search_agrees_with_plain_substring_matching(app, phones, term):
    """Whatever the phones (repeated fragments, short or none), digits of 3-11 find exactly the phones holding
    them: through the grams (4 digits; on PostgreSQL 3-10) and the suffixes (SQLite, 5-10; a range ending in 9
    included), kept up by each change of phone."""
    rows = db.session.execute(select(StaffProfile.id).order_by(StaffProfile.id).limit(3)).scalars().all()
    for pid, phone in zip(rows, phones, strict=True):
        set_phone(pid, phone)
    found = set(db.session.scalars(select(StaffProfile.id).where(term_condition(term, narrow=False))))
    phones = dict(db.session.execute(select(StaffProfile.id, StaffProfile.phone)).all())
    assert found == {i for i, p in phones.items() if term in p}


def test_the_search_indexes_hold_every_profile(app):
    """What the side tables hold is exactly the profiles' grams and suffixes, after a profile is deleted too."""
    gone = db.session.scalars(select(StaffProfile.id).order_by(StaffProfile.id)).first()
    db.session.execute(delete(ReviewEvent).where(ReviewEvent.profile_id == gone))
    db.session.execute(delete(StaffProfile).where(StaffProfile.id == gone))
    conn = db.session.connection()
    total = db.session.scalar(select(text("count(*)")).select_from(StaffProfile))
    if conn.dialect.name == "sqlite":
        assert conn.exec_driver_sql("SELECT count(*) FROM staff_search").scalar() == total
        grams = conn.exec_driver_sql("SELECT count(DISTINCT staff_id) FROM staff_name_gram").scalar()
        assert grams == db.session.scalar(select(text("count(*)")).select_from(StaffProfile).where(
            text("length(name) >= 2")))
        phones = db.session.execute(select(StaffProfile.id, StaffProfile.phone)).all()
        grams = {tuple(r) for r in conn.exec_driver_sql("SELECT staff_id, gram FROM staff_phone_gram")}
        assert grams == {(i, p[k:k + 4]) for i, p in phones for k in range(len(p or "") - 3)}
        suffixes = {tuple(r) for r in conn.exec_driver_sql("SELECT staff_id, suffix FROM staff_phone_suffix")}
        assert suffixes == {(i, p[k:]) for i, p in phones for k in range(len(p or "") - 4)}
    else:
        names = {r[0] for r in conn.exec_driver_sql(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'staff_profile'")}
        assert set(search.RAW_INDEXES) <= names


def test_type_and_unit_filter_totals_come_from_the_counters_not_a_count(login, count_queries):
    from admin_app.models import Institution

    c = login(SUPER)
    district = db.session.scalar(select(Institution).where(Institution.name == "北京市西城区卫生健康委员会"))
    subtree = set(db.session.scalars(select(Institution.id).where(Institution.path.startswith(district.path))))
    rows = db.session.execute(select(StaffProfile.institution_id, StaffProfile.personnel_type).where(
        StaffProfile.status.in_(REPORTED))).all()
    for args, expected in (({"flt1_1": "testing"}, sum(1 for _i, t in rows if t == "testing")),
                           ({"flt1_12": district.id}, sum(1 for i, _t in rows if i in subtree)),
                           ({"flt1_1": "sampling", "flt2_12": district.id},
                            sum(1 for i, t in rows if t == "sampling" and i in subtree))):
        with count_queries() as q:
            html = c.get(STAFF_URL, query_string={**args, "page_size": 1000}).get_data(as_text=True)
        assert len(grid_ids(html)) == expected and f"({expected})" in html, args
        joined = "\n".join(q.statements).lower()
        assert not re.search(r"count\(\*\)[^;]*from staff_profile", joined), args


# ---- filters the counters cannot answer ----------------------------------------------------------------

GENDER = "flt0_2"  # the grid's 性别 filter


def male_reported_in_order() -> list[int]:
    return list(db.session.scalars(select(StaffProfile.id).where(
        StaffProfile.status.in_(REPORTED), StaffProfile.gender == "male")
        .order_by(StaffProfile.submitted_at.desc(), StaffProfile.id.desc())))


def test_a_wide_filter_the_counters_cannot_answer_is_counted_only_up_to_the_cap(app, login, count_queries):
    # Every male staff member in the country is half a million rows: counted up to the select-all cap only.
    app.config.update(SEARCH_SCAN_MAX_ROWS=10, REVIEW_SELECT_ALL_MAX=3)
    expected = male_reported_in_order()
    assert len(expected) > 25
    c = login(SUPER)
    url, seen = f"{STAFF_URL}?{GENDER}=male&page_size=20", []
    with count_queries() as q:
        html = c.get(url).get_data(as_text=True)
    counts = [s for s in q.statements if re.search(r"count\(\*\)", s, re.I) and "staff_profile" in s.lower()]
    assert len(counts) == 1 and re.search(r"LIMIT", counts[0], re.I), counts
    assert "超过 3 人" in html and "符合条件的人员超过 3 人，请先缩小筛选范围。" in html
    assert "select-all-matching" not in html  # selecting them all would be refused anyway
    assert "第 1 页" in html and "共" not in re.search(r'aria-current="page"><span class="page-link">([^<]*)', html)[1]
    while url:  # the pages still reach every match, by cursor
        html = c.get(url).get_data(as_text=True)
        seen += grid_ids(html)
        url = pager_link(html, "next")
    assert seen == expected


def test_a_wide_filter_with_few_matches_shows_the_exact_total(app, login):
    app.config.update(SEARCH_SCAN_MAX_ROWS=10)
    expected = male_reported_in_order()
    html = login(SUPER).get(STAFF_URL, query_string={GENDER: "male", "page_size": 20}).get_data(as_text=True)
    assert f"({len(expected)})" in html and "超过" not in html
    assert f"选择全部符合条件的 {len(expected)} 人" in html
    assert grid_ids(html) == expected[:20]


def test_the_dashboard_reads_each_childs_subtree_counters_by_key(login):
    from admin_app.models import Institution, TypeCounter
    from admin_app.services.dashboard import subtree_figures

    c = login(SUPER)
    with capture_sql() as seen:
        assert c.get("/admin/").status_code == 200
    subtree = [(s, p) for s, p in seen if "subtree_type_counter" in s]
    assert subtree, [s for s, _p in seen]
    if db.engine.dialect.name == "sqlite":
        for statement, parameters in subtree:
            plan = query_plan(statement, parameters)
            assert re.search(r"SEARCH subtree_type_counter USING (INDEX|PRIMARY KEY)", plan), plan
            assert not re.search(r"SCAN subtree_type_counter", plan), plan
    # Whatever the plan, each child's figures are its whole subtree's counters.
    paths = dict(db.session.execute(select(Institution.id, Institution.path)).all())
    counters = db.session.execute(select(TypeCounter.institution_id, TypeCounter.status, TypeCounter.n)).all()
    figures = subtree_figures(list(paths))
    for child, path in paths.items():
        expected = {}
        for inst, status, n in counters:
            if paths[inst].startswith(path) and n:
                expected[status] = expected.get(status, 0) + n
        assert {k: v for k, v in figures[child].by_status.items() if v} == expected, path


# ---- sorted pages --------------------------------------------------------------------------------------


def test_each_sort_index_serves_its_columns_order(app):
    view = staff_view(app)
    assert set(SORT_INDEXES) <= set(view.column_sortable_list)
    conn = db.session.connection()
    for column, index in SORT_INDEXES.items():
        key = f"coalesce({column}, '')" if column in COALESCED else column
        stmt = f"SELECT id FROM staff_profile ORDER BY {key} DESC, id DESC LIMIT 20"
        if conn.dialect.name == "sqlite":
            plan = query_plan(stmt, ())
            assert index in plan and "TEMP B-TREE" not in plan, (column, plan)
        else:
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            conn.exec_driver_sql("SET LOCAL enable_sort = off")
            plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + stmt).all())
            assert f"Index Scan Backward using {index}" in plan or f"Index Only Scan Backward using {index}" in plan, \
                (column, plan)


@pytest.mark.parametrize("column", ["name", "phone"])
def test_a_sorted_national_page_walks_the_columns_index_and_a_unit_its_own_index_of_that_order(app, login, column):
    view = staff_view(app)
    sort = [c for c, _label in view._list_columns].index(column)
    pages = {}
    for who in (SUPER, UNIT_A):
        with capture_sql() as seen:
            html = login(who).get(STAFF_URL, query_string={"flt0_0": "reported", "sort": sort}).get_data(as_text=True)
        pages[who] = page_statement(seen)[0]
        shown = grid_ids(html)
        rows = dict(db.session.execute(select(StaffProfile.id, getattr(StaffProfile, column))
                                       .where(StaffProfile.id.in_(shown))).all())
        assert [(rows[i], i) for i in shown] == sorted((rows[i], i) for i in shown), who
    if db.engine.dialect.name == "sqlite":
        assert f"INDEXED BY {SORT_INDEXES[column]}" in pages[SUPER]
        # A unit's page: a range of (unit, column, id), not its 5,000 rows read and sorted.
        assert f"INDEXED BY {UNIT_SORT_INDEXES[column]}" in pages[UNIT_A]
    else:
        assert "INDEXED BY" not in pages[SUPER] + pages[UNIT_A]  # PostgreSQL plans by its statistics
