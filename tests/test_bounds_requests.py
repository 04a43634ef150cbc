"""Hostile query strings and forms (issues 18 and 27): each request the outside testers sent answers below 500,
with a Chinese message where the user can act, and no response header grows with the input."""
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from admin_app.extensions import db
from admin_app.models import StaffProfile
from admin_app.services import ServiceError, bounds
from tests.conftest import DISTRICT_A, STAFF_A, SUPER, UNIT_A
from tests.test_review_support import flashes, grid_ids

GRIDS = ("staff", "institution", "application", "grant", "verification", "audit")
HEADER_MAX = 4096  # nginx's default proxy buffer: a longer response header is a 502 in production


def headers_bounded(resp) -> None:
    longest = max(len(k) + len(v) for k, v in resp.headers.items())
    assert longest < HEADER_MAX, {k: len(v) for k, v in resp.headers.items()}


def page(resp) -> str:
    assert resp.status_code == 200, (resp.status_code, resp.headers.get("Location"))
    headers_bounded(resp)
    return resp.get_data(as_text=True)


# ------------------------------------------------------------------------------------ filters (issue 18)

def test_officer_repeating_a_filter_1500_times_gets_it_applied_once(app, login):
    officer = login(DISTRICT_A)
    once = grid_ids(page(officer.get("/admin/staff/?flt0_0=submitted")))
    repeated = "&".join(f"flt{i}_0=submitted" for i in range(1500))
    html = page(officer.get(f"/admin/staff/?{repeated}"))
    assert grid_ids(html) == once and once
    assert "最多同时使用" not in html  # the same filter given twice is one filter


def test_officer_giving_too_many_different_filters_is_told_the_rest_were_ignored(app, login):
    officer = login(DISTRICT_A)
    many = "&".join(f"flt{i}_3=科室{i}" for i in range(1500))  # 科室 equals …: 1,500 different values
    html = page(officer.get(f"/admin/staff/?{many}"))
    assert "最多同时使用 20 个筛选条件" in html


@pytest.mark.parametrize("url", [
    "/admin/staff/?flt0_5=9999-12-31+to+9999-12-31",
    "/admin/staff/?flt0_5=0001-01-01+to+0001-01-02",
    "/admin/audit/?flt0_3=0001-01-01+to+9999-12-31",
])
def test_a_date_at_the_edge_of_the_calendar_is_refused_with_a_message(app, login, url):
    html = page(login(SUPER).get(url))
    assert "日期须在 1900-01-01 至 2100-12-31 之间" in html


def test_a_date_filter_that_is_no_date_is_refused_with_a_message(app, login):
    html = page(login(SUPER).get("/admin/audit/?flt0_3=yesterday+to+today"))
    assert "不是有效日期" in html


def test_a_date_range_inside_the_calendar_still_filters(app, login):
    html = page(login(SUPER).get("/admin/staff/?flt0_5=1900-01-01+to+2100-12-31"))
    assert "日期须在" not in html and grid_ids(html)


def test_export_with_a_date_outside_the_calendar_returns_to_the_grid_with_the_message(app, login):
    su = login(SUPER)
    resp = su.get("/admin/staff/export/xlsx/?flt0_5=0001-01-01+to+9999-12-31")
    assert resp.status_code == 302, resp.status_code  # not an export of every row the filter would have hidden
    headers_bounded(resp)
    assert urlsplit(resp.headers["Location"]).path == "/admin/staff/"
    assert any("日期须在" in m for _c, m in flashes(su))


# ------------------------------------------------------------------------------- page numbers (issue 27)

@pytest.mark.parametrize("grid", GRIDS)
def test_huge_or_odd_page_numbers_are_bounded_on_every_grid(app, login, grid):
    su = login(SUPER)
    for number in ("99999999999999999999999", "9223372036854775808", "461168601842738790"):
        assert "最多可翻到第 100001 页" in page(su.get(f"/admin/{grid}/?page={number}")), number
    for number in ("-5", "-99999999999999999999", "1e9", "٣", "0x10", ""):
        page(su.get(f"/admin/{grid}/?page={number}"))


# ------------------------------------------------------------------------------------------ search text

@pytest.mark.parametrize("grid", GRIDS)
def test_a_search_of_50000_characters_is_not_run_and_the_grid_says_so(app, login, grid):
    html = page(login(SUPER).get(f"/admin/{grid}/?search={'A' * 50_000}"))
    assert "搜索内容最多 100 个字符，本次未执行搜索" in html


def test_a_search_of_many_words_keeps_the_first_five(app, login):
    html = page(login(SUPER).get("/admin/institution/?search=" + "+".join(["北京"] * 30)))
    assert "搜索最多支持 5 个关键词" in html


def test_staff_searching_a_unit_with_49999_characters_gets_a_message_on_the_form(app, login):
    staff = login(STAFF_A)
    html = page(staff.post("/account", data={"action": "search", "institution_q": "x" * 49_999}))
    assert "搜索内容最多 64 个字符" in html


def test_the_unit_search_still_finds_units(app, login):
    html = page(login(STAFF_A).post("/account", data={"action": "search", "institution_q": "西城疾控"}))
    assert "北京市西城区疾病预防控制中心" in html and "搜索内容最多" not in html


# --------------------------------------------------------------------------------------- return urls

@pytest.mark.parametrize("grid", ["staff", "application", "verification"])
def test_a_bulk_action_with_an_oversized_or_foreign_return_url_goes_back_to_its_grid(app, login, grid):
    su = login(SUPER)
    for url in ("/" + "a" * 100_000, "https://evil.example/", "//evil.example/x", "/\\evil"):
        resp = su.post(f"/admin/{grid}/action/", data={"action": "approve", "rowid": ["2147483647"], "url": url})
        assert resp.status_code == 302
        headers_bounded(resp)
        assert urlsplit(resp.headers["Location"]).path == f"/admin/{grid}/", url


def test_a_bulk_action_keeps_a_proper_return_url(app, login):
    resp = login(SUPER).post("/admin/application/action/", data={
        "action": "approve", "rowid": ["2147483647"], "url": "/admin/application/?flt0_0=pending"})
    assert resp.headers["Location"].endswith("/admin/application/?flt0_0=pending")


def test_a_bulk_action_over_more_rows_than_allowed_is_refused_as_a_whole(app, login):
    app.config["REVIEW_SELECT_ALL_MAX"] = 3
    ids = db.session.scalars(select(StaffProfile.id).where(StaffProfile.status == "submitted").limit(4)).all()
    unit = login(UNIT_A)
    resp = unit.post("/admin/staff/action/", data={"action": "approve", "rowid": [str(i) for i in ids] * 2})
    assert resp.status_code == 302
    assert any("一次最多处理 3 条记录" in m for _c, m in flashes(unit))
    assert db.session.scalars(select(StaffProfile.status).where(StaffProfile.id.in_(ids))).all() == ["submitted"] * 4


def test_signing_in_from_an_overlong_admin_address_keeps_the_location_header_small(app):
    resp = app.test_client().get(f"/admin/institution/?search={'A' * 50_000}")
    assert resp.status_code == 302
    headers_bounded(resp)
    assert "/login?next=" in resp.headers["Location"]


# ------------------------------------------------------------------------------------- the rules alone

def test_grid_args_dedupe_cap_and_bound(plain_app):
    with plain_app.app_context():
        pairs = [("flt0_0", "a"), ("flt1_0", "a"), ("flt2_9", "x"), ("page", "12345678901234567890"),
                 ("page", "3"), ("sort", "-1"), ("desc", "1"), ("search", " 张  三 "), ("url", "//evil"),
                 ("after", "c" * 600), ("pn", "2")]
        kept, messages = bounds.grid_args(pairs, {"0": None, "5": "date_range"})
        assert kept == [("flt0_0", "a"), ("page", "100000"), ("desc", "1"), ("search", "张 三"), ("pn", "2")]
        assert len(messages) == 1  # the page was bounded


def test_days_and_ranges(plain_app):
    with plain_app.test_request_context():
        assert bounds.day_range("1900-01-01 to 2100-12-31")
        for bad in ("0001-01-01 to 2000-01-01", "2000-01-01", "2000-02-30 to 2000-03-01", "2001-01-01 to 2000-01-01",
                    "2000-01-01 to 99999-01-01"):
            with pytest.raises(ServiceError):
                bounds.day_range(bad)


def test_return_urls(plain_app):
    with plain_app.app_context():
        assert bounds.return_url("/admin/staff/?flt0_0=submitted") == "/admin/staff/?flt0_0=submitted"
        for bad in (None, "", "x", "//evil", "https://evil/", "/\\evil", "/a\r\nSet-Cookie: x", "/" + "a" * 2048):
            assert bounds.return_url(bad) is None


def test_an_export_job_whose_stored_arguments_are_out_of_bounds_fails_instead_of_exporting_other_rows(app, tmp_path):
    from admin_app.models import ExportJob, User
    from admin_app.services import jobs

    app.config.update(EXPORT_FOLDER=str(tmp_path / "exports"), JOB_BACKEND="thread")
    su = db.session.scalar(select(User).where(User.phone == SUPER))
    # Criteria the grid would never store (it bounds them first): a job carrying them exports nothing.
    job_id = jobs.enqueue("staff_xlsx", {"criteria": [["submitted_between", "0001-01-01 to 9999-12-31"]],
                                         "locale": "zh_Hans_CN", "total": 1}, su)
    jobs.wait(job_id, timeout=60)
    job = db.session.get(ExportJob, job_id)
    db.session.refresh(job)
    assert job.status == "failed" and "1900-01-01" in (job.error or ""), (job.status, job.error)
    many = [["department", f"科室{i}"] for i in range(50)] + [["status", "reported"]] * 50
    job_id = jobs.enqueue("staff_xlsx", {"criteria": many, "locale": "zh_Hans_CN", "total": 1}, su)
    jobs.wait(job_id, timeout=60)
    job = db.session.get(ExportJob, job_id)
    db.session.refresh(job)
    assert job.status == "failed" and "20" in (job.error or ""), (job.status, job.error)


def test_a_local_day_range_has_utc_bounds_at_both_edges_of_the_calendar(plain_app):
    from datetime import date, datetime

    from admin_app.services import clock

    with plain_app.test_request_context():
        start, end = clock.utc_range(date(1900, 1, 1), date(2100, 12, 31))
        assert start < datetime(1900, 1, 1) and end < datetime(2101, 1, 1)
        with pytest.raises(ValueError):
            clock.utc_range(date(1, 1, 1), date(1, 1, 2))
