"""Commission officers (issue 5): the grid over their subtree, unit/region columns and filters, level-2 review."""
import json
import re

import pytest
from sqlalchemy import select, update

from admin_app.extensions import db
from admin_app.models import Institution, StaffProfile
from admin_app.services.counters import reconcile
from admin_app.views.staff import InstitutionFilter, RegionFilter, StaffProfileView
from tests.conftest import DISTRICT_A, DISTRICT_B, PROVINCE, STAFF_A, STAFF_B, SUPER, UNIT_A
from tests.test_review_support import (
    ACTION_URL,
    STAFF_URL,
    counters_match_rows,
    flashes,
    grid_ids,
    make_pending,
    post_action,
    profile,
    profiles_of,
    snapshot,
)

INST_FLT = next(i for i, f in enumerate(StaffProfileView.column_filters) if isinstance(f, InstitutionFilter))
REGION_FLT = next(i for i, f in enumerate(StaffProfileView.column_filters) if isinstance(f, RegionFilter))


def inst(name: str) -> Institution:
    return db.session.scalar(select(Institution).where(Institution.name == name))


def subtree_ids(root: Institution, *statuses) -> set[int]:
    stmt = (select(StaffProfile.id).join(Institution, Institution.id == StaffProfile.institution_id)
            .where(Institution.path.like(root.path + "%"), StaffProfile.status != "draft"))
    if statuses:
        stmt = stmt.where(StaffProfile.status.in_(statuses))
    return set(db.session.scalars(stmt))


def listed(client, **args) -> set[int]:
    html = client.get(STAFF_URL, query_string={"flt0_0": "reported", "page_size": 1000, **args}).get_data(as_text=True)
    return set(grid_ids(html))


def statuses(ids) -> dict[int, str]:
    return dict(db.session.execute(select(StaffProfile.id, StaffProfile.status).where(StaffProfile.id.in_(ids))).all())


# ---- the grid at several depths ------------------------------------------------------------------------

@pytest.mark.parametrize("phone,root", [(DISTRICT_A, "北京市西城区卫生健康委员会"),
                                        (DISTRICT_B, "北京市朝阳区卫生健康委员会"),
                                        (PROVINCE, "北京市卫生健康委员会"), (SUPER, "国家卫生健康委员会")])
def test_each_officer_lists_exactly_their_subtree(login, phone, root):
    c = login(phone)
    assert listed(c) == subtree_ids(inst(root))


def test_district_officer_sees_every_unit_of_the_district_with_unit_and_region_columns(login):
    c = login(DISTRICT_A)
    html = c.get(STAFF_URL, query_string={"flt0_0": "reported", "page_size": 1000}).get_data(as_text=True)
    assert "<th" in html and "单位" in html and "地区" in html
    units = {i.name for i in db.session.scalars(select(Institution).where(
        Institution.parent_id == inst("北京市西城区卫生健康委员会").id))}
    shown = {u for u in units if u in html}
    assert len(shown) >= 2  # several units of the district, one grid
    assert "西城区" in html and "朝阳区疾病预防控制中心" not in html
    assert STAFF_A in html and STAFF_B not in html


def test_province_officer_sees_both_districts(login):
    c = login(PROVINCE)
    ids = listed(c)
    assert profile(STAFF_A).id in ids and profile(STAFF_B).id in ids
    assert ids == subtree_ids(inst("北京市西城区卫生健康委员会")) | subtree_ids(inst("北京市朝阳区卫生健康委员会"))


def test_officer_grid_sql_is_constant_with_the_unit_joined(login, count_queries):
    c = login(PROVINCE)
    c.get(STAFF_URL)
    seen = {}
    total = len(subtree_ids(inst("北京市卫生健康委员会")))
    for size in (20, 100):
        with count_queries() as q:
            html = c.get(STAFF_URL, query_string={"flt0_0": "reported", "page_size": size}).get_data(as_text=True)
        assert len(grid_ids(html)) == min(size, total) and total > 20
        seen[size] = q.statements
    assert len(seen[20]) == len(seen[100]) <= 6, seen[100]  # 6: is there a unit panel (issue 22)
    page = [s for s in seen[100] if "FROM staff_profile" in s and "LIMIT" in s]
    assert len(page) == 1 and "JOIN institution" in page[0] and "region" in page[0]
    # With the unit filter the page still carries its own total: no extra statement per row either.
    unit = inst("北京市西城区疾病预防控制中心")
    with count_queries() as q:
        html = c.get(STAFF_URL, query_string={"flt0_0": "reported", f"flt1_{INST_FLT}": unit.id,
                                              "page_size": 100}).get_data(as_text=True)
    # user, grants, roots, cards, the unit, its subtree ids, the total from the counters, the page.
    assert set(grid_ids(html)) == subtree_ids(unit) and len(q.statements) <= 9, q.statements  # 9: the unit panel


# ---- the unit and region filters ------------------------------------------------------------------------

def test_unit_filter_covers_the_subtree_and_never_another_jurisdiction(login):
    c = login(PROVINCE)
    district = inst("北京市西城区卫生健康委员会")
    assert listed(c, **{f"flt1_{INST_FLT}": district.id}) == subtree_ids(district)
    unit = inst("北京市朝阳区疾病预防控制中心")
    assert listed(c, **{f"flt1_{INST_FLT}": unit.id}) == subtree_ids(unit)
    a = login(DISTRICT_A)
    assert listed(a, **{f"flt1_{INST_FLT}": unit.id}) == set()  # a sibling's unit: nothing, not its rows
    assert listed(a, **{f"flt1_{INST_FLT}": "abc"}) == subtree_ids(district)  # invalid value ignored


def test_region_filter(login):
    c = login(PROVINCE)
    assert listed(c, **{f"flt1_{REGION_FLT}": "110105"}) == subtree_ids(inst("北京市朝阳区卫生健康委员会"))
    assert listed(c, **{f"flt1_{REGION_FLT}": "110000"}) == subtree_ids(inst("北京市卫生健康委员会"))
    assert listed(login(DISTRICT_A), **{f"flt1_{REGION_FLT}": "110105"}) == set()


def lookup(client, name, query=""):
    resp = client.get(f"{STAFF_URL}ajax/lookup/", query_string={"name": name, "query": query, "limit": 50})
    assert resp.status_code == 200
    return json.loads(resp.get_data(as_text=True))


def test_unit_picker_offers_only_institutions_in_scope(login):
    a = login(DISTRICT_A)
    names = [n for _i, n in lookup(a, "institution")]
    assert names and all("西城区" in n for n in names)
    assert lookup(a, "institution", "朝阳") == []
    assert lookup(a, "institution", "%") == []
    p = [n for _i, n in lookup(login(PROVINCE), "institution", "疾病预防控制中心")]
    assert any("西城区" in n for n in p) and any("朝阳区" in n for n in p) and not any("广州" in n for n in p)
    assert [n for _c, n in lookup(a, "region")] == ["西城区"]
    assert login(UNIT_A).get(f"{STAFF_URL}ajax/lookup/?name=nope").status_code == 404
    assert login(STAFF_A).get(f"{STAFF_URL}ajax/lookup/?name=institution").status_code == 403


def test_grid_page_carries_the_picker_settings(login):
    html = login(DISTRICT_A).get(STAFF_URL).get_data(as_text=True)
    data = json.loads(re.search(r'id="institution-picker-data">(.*?)</script>', html, re.S).group(1))
    assert data["institution"]["arg"] == str(INST_FLT)
    assert data["institution"]["url"].startswith(STAFF_URL + "ajax/lookup/")
    assert data["region"]["arg"] == str(REGION_FLT)


# ---- sibling districts: 404 by id -----------------------------------------------------------------------

def test_sibling_district_staff_and_institution_by_id_are_404(login):
    a = login(DISTRICT_A)
    assert a.get(f"{STAFF_URL}details/?id={profile(STAFF_B).id}").status_code == 404
    assert a.get(f"{STAFF_URL}details/?id={profile(STAFF_A).id}").status_code == 200
    sibling = inst("北京市朝阳区疾病预防控制中心")
    assert a.get(f"/admin/institution/details/?id={sibling.id}").status_code == 404
    assert a.get(f"/admin/institution/details/?id={inst('北京市西城区疾病预防控制中心').id}").status_code == 200


# ---- level-2 review -------------------------------------------------------------------------------------

def test_officer_approves_a_units_unit_approved_staff_in_bulk(login):
    unit = inst("北京市西城区疾病预防控制中心")
    waiting = subtree_ids(unit, "unit_approved")
    assert waiting
    c = login(DISTRICT_A)
    qs = f"?flt0_0=unit_approved&flt1_{INST_FLT}={unit.id}"
    resp = c.post(ACTION_URL + qs, data={"action": "approve", "select_all": "1", "rowid": [str(min(waiting))],
                                         "url": STAFF_URL + qs})
    assert resp.status_code == 302
    assert set(statuses(waiting).values()) == {"approved"}
    assert flashes(c) == [("success", f"已通过 {len(waiting)} 人。审核级别：机构审核")]
    assert counters_match_rows()
    assert not subtree_ids(unit, "unit_approved")


def test_officer_rejects_and_reverts_at_level_two(login):
    ua = sorted(subtree_ids(inst("北京市朝阳区卫生健康委员会"), "unit_approved"))[:2]
    assert len(ua) == 2
    c = login(PROVINCE)
    post_action(c, "reject", ua, reason="材料不全")
    assert set(statuses(ua).values()) == {"rejected"}
    assert flashes(c)[0][1] == "已驳回 2 人。审核级别：机构审核"
    approved = sorted(subtree_ids(inst("北京市朝阳区卫生健康委员会"), "approved"))[:2]
    post_action(c, "revert", approved, reason="复核发现问题")
    assert set(statuses(approved).values()) == {"unit_rejected"}
    assert counters_match_rows()


def test_officer_trying_level_one_on_a_lower_units_pending_row_is_refused(login):
    pending = make_pending(UNIT_A, 2)
    c = login(DISTRICT_A)
    before = snapshot()
    post_action(c, "approve", pending)
    (category, message), = flashes(c)
    assert category == "error"
    assert message == "未处理：所选人员中有 2 人仍待所在单位审核；机构审核只处理单位审核已通过的人员。"
    assert snapshot() == before
    post_action(c, "reject", pending, reason="越级驳回")
    assert flashes(c)[0][0] == "error" and snapshot() == before


def test_unit_admin_cannot_act_at_level_two(login):
    ua = [p.id for p in profiles_of(UNIT_A, "unit_approved")][:2]
    ap = [p.id for p in profiles_of(UNIT_A, "approved")][:2]
    c = login(UNIT_A)
    before = statuses(ua + ap)
    post_action(c, "approve", ua)
    assert flashes(c)[0][0] == "error"
    post_action(c, "revert", ap, reason="想退回")
    assert flashes(c)[0][0] == "error"
    assert statuses(ua + ap) == before


def test_officer_acts_at_level_one_on_their_own_institutions_staff(login):
    district = inst("北京市西城区卫生健康委员会")
    pid = make_pending(UNIT_A, 1)[0]
    db.session.execute(update(StaffProfile).where(StaffProfile.id == pid).values(institution_id=district.id))
    db.session.commit()
    reconcile()
    c = login(DISTRICT_A)
    post_action(c, "approve", [pid])
    assert flashes(c) == [("success", "已通过 1 人。审核级别：单位审核")]
    assert statuses([pid])[pid] == "unit_approved"
    # Its own unit-approved staff are not "strictly lower": the officer cannot also approve them at level 2.
    post_action(c, "approve", [pid])
    assert flashes(c)[0][0] == "error" and statuses([pid])[pid] == "unit_approved"
    # The province above approves them at level 2.
    post_action(login(PROVINCE), "approve", [pid])
    assert statuses([pid])[pid] == "approved" and counters_match_rows()


def test_sibling_officer_cannot_act_on_the_other_district(login):
    ua = [p.id for p in profiles_of(UNIT_A, "unit_approved")][:3]
    c = login(DISTRICT_B)
    before = snapshot()
    post_action(c, "approve", ua)
    assert flashes(c)[0][0] == "error" and snapshot() == before
