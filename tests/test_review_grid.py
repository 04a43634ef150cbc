"""The review grid /admin/staff/: cards, default view, scope, search, filters, sorting, paging, SQL cost."""
import re

import pytest
from sqlalchemy import select, update

from admin_app.extensions import db
from admin_app.models import StaffProfile
from admin_app.services.counters import reconcile
from admin_app.services.identity import sealed
from tests.conftest import DISTRICT_A, STAFF_A, STAFF_B, SUPER, UNIT_A, UNIT_B
from tests.test_review_support import STAFF_URL, grid_ids, make_pending, profile, profiles_of, user


def card_numbers(html: str) -> dict[str, int]:
    return {k: int(n) for k, n in re.findall(
        r'data-card="(\w+)"[^>]*>\s*<div class="card-body[^"]*">\s*<div[^>]*>[^<]*</div>\s*'
        r'<div class="count-card">(\d+)</div>', html)}


def test_list_offers_the_contract_actions_cards_and_columns(login):
    html = login(UNIT_A).get(STAFF_URL).get_data(as_text=True)
    for name in ("approve", "reject", "revert"):
        assert f'"{name}"' in html
    for label in ("上报数", "待审核", "已驳回", "单位通过", "机构通过", "姓名", "性别", "手机号", "人员性质", "科室",
                  "状态", "上报时间", "导出 Excel"):
        assert label in html, label


def test_cards_come_from_the_counters_of_the_scope(login):
    html = login(UNIT_A).get(STAFF_URL).get_data(as_text=True)
    rows = profiles_of(UNIT_A)
    by = lambda *s: sum(1 for p in rows if p.status in s)  # noqa: E731
    assert card_numbers(html) == {
        "reported": by("submitted", "unit_rejected", "unit_approved", "rejected", "approved"),
        "submitted": by("submitted"), "rejected_all": by("unit_rejected", "rejected"),
        "unit_approved": by("unit_approved"), "approved": by("approved")}


def test_arrival_shows_everything_reported_newest_first(login):
    html = login(UNIT_A).get(STAFF_URL).get_data(as_text=True)
    reported = profiles_of(UNIT_A, "submitted", "unit_rejected", "unit_approved", "rejected", "approved")
    assert grid_ids(html) == [p.id for p in reported][:50]
    assert 'data-card="reported" aria-current="true"' in html


def test_each_card_filters_the_grid(login):
    c = login(UNIT_A)
    html = c.get(STAFF_URL).get_data(as_text=True)
    links = dict((v, u.replace("&amp;", "&")) for u, v in re.findall(r'href="([^"]+)"\s+data-card="(\w+)"', html))
    groups = {"reported": ("submitted", "unit_rejected", "unit_approved", "rejected", "approved"),
              "submitted": ("submitted",), "rejected_all": ("unit_rejected", "rejected"),
              "unit_approved": ("unit_approved",), "approved": ("approved",)}
    for card, statuses in groups.items():
        page = c.get(links[card] + "&page_size=1000").get_data(as_text=True)
        expected = {p.id for p in profiles_of(UNIT_A, *statuses)}
        assert set(grid_ids(page)) == expected, card
        assert f"({len(expected)})" in page  # the list tab's total


def test_drafts_are_not_listed(login):
    c = login(UNIT_A)
    drafts = {p.id for p in profiles_of(UNIT_A, "draft")}
    assert drafts
    listed = set(grid_ids(c.get(STAFF_URL + "?flt0_0=reported&page_size=1000").get_data(as_text=True)))
    assert listed and not listed & drafts
    assert c.get(f"{STAFF_URL}details/?id={min(drafts)}").status_code == 404


def test_unit_admin_sees_only_own_unit(login):
    c = login(UNIT_A)
    html = c.get(STAFF_URL + "?flt0_0=reported&page_size=1000").get_data(as_text=True)
    own = {p.id for p in profiles_of(UNIT_A) if p.status != "draft"}
    assert set(grid_ids(html)) == own
    assert STAFF_B not in html and STAFF_A in html
    other = profile(STAFF_B)
    assert c.get(f"{STAFF_URL}details/?id={other.id}").status_code == 404


def test_district_officer_sees_units_below(login):
    html = login(DISTRICT_A).get(STAFF_URL + "?flt0_0=reported&page_size=1000").get_data(as_text=True)
    assert STAFF_A in html and STAFF_B not in html


def test_staff_member_and_anonymous_are_kept_out(app, login):
    assert login(STAFF_A).get(STAFF_URL).status_code == 403
    resp = app.test_client().get(STAFF_URL)
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_search_by_name_phone_fragment_and_exact_document_number(app, login):
    c = login(UNIT_A)
    me = profile(STAFF_A)
    for term in (me.name, me.name[1:], STAFF_A, STAFF_A[-4:]):
        ids = grid_ids(c.get(STAFF_URL, query_string={"search": term, "flt0_0": "reported"}).get_data(as_text=True))
        assert me.id in ids, term
    # The exact document number finds the person through the blind index; a fragment of it does not.
    from admin_app.services.crypto import decrypt

    number = decrypt(user(STAFF_A).id_number_enc)
    found = grid_ids(c.get(STAFF_URL, query_string={"search": number.lower(), "flt0_0": "reported"})
                     .get_data(as_text=True))
    assert found == [me.id]
    assert grid_ids(c.get(STAFF_URL, query_string={"search": number[:10], "flt0_0": "reported"})
                    .get_data(as_text=True)) == []
    # Another unit's staff stays out of reach even by their exact number.
    other = decrypt(user(STAFF_B).id_number_enc)
    assert grid_ids(c.get(STAFF_URL, query_string={"search": other, "flt0_0": "reported"}).get_data(as_text=True)) == []


def test_an_identity_number_is_looked_up_by_its_blind_index_alone(app, login, count_queries):
    """Names are letters and a phone has 11 digits: an 18-character number matches neither, and asking the name and
    phone indexes for it cost 22 ms of SQL at 15 million staff (its digit trigrams are in every other phone)."""
    from admin_app.services.crypto import decrypt

    c = login(SUPER)
    number = decrypt(user(STAFF_A).id_number_enc)
    for term, expected in ((number, [profile(STAFF_A).id]), ("110101199001011237", []), ("123456789012", [])):
        with count_queries() as q:
            html = c.get(STAFF_URL, query_string={"search": term, "flt0_0": "reported"}).get_data(as_text=True)
        assert grid_ids(html) == expected, term
        sql = " ".join(q.statements).lower()
        assert "staff_search" not in sql and "like" not in sql and "%%" not in sql, term


def test_search_by_passport_number(app, login):
    u = user(STAFF_A)
    for k, v in sealed("passport", "E12345678").items():
        setattr(u, k, v)
    db.session.commit()
    html = login(UNIT_A).get(STAFF_URL, query_string={"search": "e12345678", "flt0_0": "reported"}) \
        .get_data(as_text=True)
    assert grid_ids(html) == [profile(STAFF_A).id]


@pytest.mark.parametrize("term", ["%", "_", "\\", "%%", "张_", "'", "%' OR 1=1 --"])
def test_search_wildcards_are_literal(login, term):
    html = login(UNIT_A).get(STAFF_URL, query_string={"search": term, "flt0_0": "reported"}).get_data(as_text=True)
    assert grid_ids(html) == []


def test_search_escapes_like_wildcards_in_names(login):
    p = profile(STAFF_A)
    p.name = "张_100%"
    db.session.commit()
    c = login(UNIT_A)
    assert grid_ids(c.get(STAFF_URL, query_string={"search": "_100%", "flt0_0": "reported"})
                    .get_data(as_text=True)) == [p.id]


def test_filters_personnel_type_department_answer_and_dates(login):
    c = login(UNIT_A)
    all_rows = [p for p in profiles_of(UNIT_A) if p.status != "draft"]
    html = c.get(STAFF_URL).get_data(as_text=True)
    # Filter indexes are those of the filter definitions in StaffProfileView.column_filters.
    idx = {name: i for i, name in enumerate(("status", "personnel_type", "gender", "dept_eq", "dept_like",
                                             "submitted", "pcr_certificate"))}
    assert "是否具有PCR资质证书" in html

    def listed(**flt):
        qs = {"page_size": 1000, "flt0_0": "reported"}
        qs.update({f"flt{k + 1}_{idx[name]}": v for k, (name, v) in enumerate(flt.items())})
        return set(grid_ids(c.get(STAFF_URL, query_string=qs).get_data(as_text=True)))

    assert listed(personnel_type="testing") == {p.id for p in all_rows if p.personnel_type == "testing"}
    dept = all_rows[0].department
    assert listed(dept_eq=dept) == {p.id for p in all_rows if p.department == dept}
    assert listed(dept_like=dept[1:3]) == {p.id for p in all_rows if dept[1:3] in (p.department or "")}
    assert listed(pcr_certificate="1") == {p.id for p in all_rows if p.pcr_certificate is True}
    day = all_rows[0].submitted_at
    from datetime import timedelta

    local = (day + timedelta(hours=8)).date()  # Asia/Shanghai
    expected = {p.id for p in all_rows if (p.submitted_at + timedelta(hours=8)).date() == local}
    assert listed(submitted=f"{local} to {local}") == expected and expected


def test_invalid_filter_values_are_ignored_with_a_message(login):
    c = login(UNIT_A)
    resp = c.get(STAFF_URL + "?flt0_0=bogus&flt1_1=pilot&flt2_5=yesterday")
    assert resp.status_code == 200


@pytest.mark.parametrize("qs", ["page=-3", "page=99999999999999999999", "sort=99", "sort=-1", "page_size=100000",
                                "desc=x", "search=" + "x" * 5000])
def test_odd_paging_arguments_do_not_break_the_page(login, qs):
    assert login(UNIT_A).get(STAFF_URL + "?" + qs).status_code == 200


def test_sorting_by_name_and_page_sizes(login):
    c = login(UNIT_A)
    rows = [p for p in profiles_of(UNIT_A) if p.status != "draft"]
    html = c.get(STAFF_URL + "?flt0_0=reported&sort=0&page_size=1000").get_data(as_text=True)
    ids = grid_ids(html)
    names = [db.session.get(StaffProfile, i).name for i in ids]
    assert names == sorted(names) and len(ids) == len(rows)
    small = grid_ids(c.get(STAFF_URL + "?flt0_0=reported&page_size=20").get_data(as_text=True))
    second = grid_ids(c.get(STAFF_URL + "?flt0_0=reported&page_size=20&page=1").get_data(as_text=True))
    assert len(small) == min(20, len(rows)) and not set(small) & set(second)


def test_a_sort_on_a_shown_but_unsortable_column_lists_in_the_default_order(login):
    for phone in (UNIT_A, SUPER):
        c = login(phone)
        default = grid_ids(c.get(STAFF_URL + "?flt0_0=reported").get_data(as_text=True))
        for idx in range(-1, 16):  # every column index a link could carry, and some beyond the columns
            r = c.get(f"{STAFF_URL}?flt0_0=reported&sort={idx}")
            assert r.status_code == 200, (phone, idx)
        header = c.get(STAFF_URL).get_data(as_text=True)
        shown = re.findall(r'<th class="column-header col-([a-z_]+)"', header)
        unsortable = [idx for idx, name in enumerate(shown) if name in ("institution", "institution_id")]
        assert unsortable, shown
        for idx in unsortable:
            html = c.get(f"{STAFF_URL}?flt0_0=reported&sort={idx}").get_data(as_text=True)
            assert grid_ids(html) == default, (phone, shown[idx])


def test_list_page_sql_is_constant_and_scoped(app, login, count_queries):
    make_pending(UNIT_A, 20)
    c = login(UNIT_A)
    c.get(STAFF_URL)  # warm up
    counts = {}
    for size in (20, 100):
        with count_queries() as q:
            assert c.get(f"{STAFF_URL}?flt0_0=reported&page_size={size}").status_code == 200
        counts[size] = q.statements
    # The same statements whatever the page size: no query per row (6: the unit panel above the cards is one).
    assert len(counts[20]) == len(counts[100]) <= 6, counts[100]
    joined = "\n".join(counts[100]).lower()
    # No COUNT over the staff table at all: the total comes from the status counters.
    assert not re.search(r"count\(\*\)[^;]*from staff_profile", joined), joined
    # Every query on the staff table is scoped.
    for s in counts[100]:
        if "from staff_profile" in s.lower():
            assert "institution" in s.lower(), s
    # With a search the page query carries its own total (count(*) OVER ()): still one scoped statement.
    with count_queries() as q:
        c.get(f"{STAFF_URL}?search=1&page_size=100").get_data(as_text=True)
    counted = [s for s in q.statements if "count(*)" in s.lower()]
    assert len(counted) == 1 and "over ()" in counted[0].lower() and "institution" in counted[0].lower()
    # user, grants (which also tell whether the scope holds every root institution), the unit panel, the cards'
    # counters (the scope's own subtree counters: no need to ask whether the scope is everything), the page.
    assert len(q.statements) == 5


def test_search_total_is_right_on_every_page(login):
    c = login(UNIT_A)
    rows = [p for p in profiles_of(UNIT_A) if p.status != "draft" and "1" in p.phone]
    assert len(rows) > 20
    for page in (0, 1, 50):
        html = c.get(STAFF_URL, query_string={"search": "1", "flt0_0": "reported", "page_size": 20,
                                              "page": page}).get_data(as_text=True)
        assert f"上报人员列表 ({len(rows)})" in html
        assert len(grid_ids(html)) == (0 if page == 50 else min(20, len(rows) - 20 * page))


def test_superuser_sees_everything(login):
    html = login(SUPER).get(STAFF_URL + "?flt0_0=reported&page_size=1000").get_data(as_text=True)
    assert STAFF_A in html and STAFF_B in html


def test_pending_filter_not_forced_when_nothing_waits(login):
    db.session.execute(update(StaffProfile).where(StaffProfile.status == "submitted").values(status="approved"))
    db.session.commit()
    reconcile()
    html = login(UNIT_B).get(STAFF_URL).get_data(as_text=True)
    assert len(grid_ids(html)) == len([p for p in profiles_of(UNIT_B) if p.status != "draft"])
    assert 'data-card="reported" aria-current="true"' in html


def test_english_interface(login):
    c = login(UNIT_A)
    html = c.get(STAFF_URL + "?lang=en").get_data(as_text=True)
    assert "Pending review" in html and "Export Excel" in html
    c.get(STAFF_URL + "?lang=zh_Hans_CN")


def test_unit_b_admin_cannot_see_unit_a(login):
    c = login(UNIT_B)
    a = profile(STAFF_A)
    assert c.get(f"{STAFF_URL}details/?id={a.id}").status_code == 404
    html = c.get(STAFF_URL + "?flt0_0=reported&page_size=1000").get_data(as_text=True)
    assert a.id not in grid_ids(html)
    assert db.session.scalar(select(StaffProfile.status).where(StaffProfile.id == a.id)) == "submitted"
