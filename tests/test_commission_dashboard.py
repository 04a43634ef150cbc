"""The commission dashboard (issue 5): figures from counters equal GROUP BY over the rows, drill-down, scope."""
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from admin_app.extensions import db
from admin_app.models import Institution, StaffProfile, SubmissionCounter, TypeCounter
from admin_app.models.types import utcnow
from admin_app.services import counters
from admin_app.services.library import move_institution
from admin_app.services.profiles import save_account
from admin_app.services.review import submit, transition
from admin_app.services.scope import scope_for
from tests.conftest import DISTRICT_A, DISTRICT_B, PROVINCE, STAFF_A, STAFF_B, SUPER, UNIT_A
from tests.test_review_support import counters_match_rows, make_pending, profile, user

ROW_COLS = ("reported", "pending", "rejected", "unit_approved", "approved", "sampling", "testing")


def inst(name: str) -> Institution:
    return db.session.scalar(select(Institution).where(Institution.name == name))


def truth(root: Institution) -> dict:
    """A child row's figures by a plain GROUP BY over the staff table of the subtree."""
    rows = db.session.execute(
        select(StaffProfile.status, StaffProfile.personnel_type, func.count())
        .join(Institution, Institution.id == StaffProfile.institution_id)
        .where(Institution.path.like(root.path + "%"), StaffProfile.status != "draft")
        .group_by(StaffProfile.status, StaffProfile.personnel_type)).all()

    def by(*ss):
        return sum(n for s, _t, n in rows if s in ss)

    def typed(types):
        return sum(n for _s, t, n in rows if t in types)

    return {"reported": sum(n for *_x, n in rows), "pending": by("submitted"),
            "rejected": by("unit_rejected", "rejected"), "unit_approved": by("unit_approved"),
            "approved": by("approved"), "sampling": typed(("sampling", "both")),
            "testing": typed(("testing", "both"))}


def shown_rows(html: str) -> dict[int, dict]:
    out = {}
    for cid, body in re.findall(r'<tr data-child="(\d+)">(.*?)</tr>', html, re.S):
        out[int(cid)] = {col: int(v) for col, v in re.findall(r'data-col="(\w+)">(\d+)<', body)}
    return out


def chart(html: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="dashboard-data">(.*?)</script>', html,
                                re.S).group(1))


def counters_equal_rows() -> bool:
    ptype = func.coalesce(StaffProfile.personnel_type, "")
    real = {(i, s, t): n for i, s, t, n in db.session.execute(
        select(StaffProfile.institution_id, StaffProfile.status, ptype, func.count())
        .where(StaffProfile.status != "draft").group_by(StaffProfile.institution_id, StaffProfile.status, ptype))}
    kept = {(i, s, t): n for i, s, t, n in db.session.execute(
        select(TypeCounter.institution_id, TypeCounter.status, TypeCounter.personnel_type, TypeCounter.n)) if n}
    day = counters.day_expr(StaffProfile.submitted_at)
    real_days = {(i, str(d)): n for i, d, n in db.session.execute(
        select(StaffProfile.institution_id, day, func.count())
        .where(StaffProfile.status != "draft", StaffProfile.submitted_at.is_not(None))
        .group_by(StaffProfile.institution_id, day))}
    kept_days = {(i, d.isoformat()): n for i, d, n in db.session.execute(
        select(SubmissionCounter.institution_id, SubmissionCounter.day, SubmissionCounter.n)) if n}
    return real == kept and real_days == kept_days and counters_match_rows()


def check_dashboard(client, node: Institution | None):
    html = client.get("/admin/" + (f"?institution={node.id}" if node else "")).get_data(as_text=True)
    rows = shown_rows(html)
    assert rows, html[:300]
    for cid, shown in rows.items():
        want = truth(db.session.get(Institution, cid))
        assert shown == {k: want[k] for k in ROW_COLS}, (cid, shown, want)
    return html


def test_counters_and_dashboard_equal_counted_rows_after_a_series_of_changes(app, login):
    assert counters_equal_rows()
    su, officer, unit_admin = user(SUPER), user(DISTRICT_A), user(UNIT_A)
    # Submissions (new days), approvals at both levels, rejections, reverts.
    # 张晓明 (STAFF_A) moves unit below, which his own profile allows only while it is not approved: keep him out.
    pending = [pid for pid in make_pending(UNIT_A, 7) if pid != profile(STAFF_A).id][:6]
    for pid in pending[:3]:
        p = db.session.get(StaffProfile, pid)
        p.department = "发热门诊"
        p.personnel_type = "testing" if p.personnel_type != "testing" else "both"
        submit(p, p.user_id, {"department": ["x", "发热门诊"]})
    assert transition("approve", pending[:4], unit_admin.id, scope_for(unit_admin)).moved == 4
    assert transition("reject", pending[4:], unit_admin.id, scope_for(unit_admin), reason="照片不清晰").moved == 2
    assert transition("approve", pending[:2], officer.id, scope_for(officer)).moved == 2
    assert transition("reject", pending[2:3], officer.id, scope_for(officer), reason="资料不全").moved == 1
    assert transition("revert", pending[:1], user(PROVINCE).id, scope_for(user(PROVINCE)), reason="复核").moved == 1
    assert counters_equal_rows()
    # A staff member moves to a unit of the other district (account page: move, then resubmission).
    staff = user(STAFF_A)
    target = inst("北京市朝阳区疾病预防控制中心")
    save_account(staff, name=staff.name, email=staff.email, region_code=staff.region_code, institution_id=target.id,
                 confirmation_code=target.confirmation_code, department=staff.department)
    assert profile(STAFF_A).institution_id == target.id
    assert counters_equal_rows()
    # An old submission day: a resubmission moves the profile from that day to today.
    p = profile(STAFF_B)
    p.submitted_at = utcnow() - timedelta(days=3)
    db.session.commit()
    counters.reconcile()
    p = profile(STAFF_B)
    p.department = "检验科"
    submit(p, p.user_id, {"department": ["", "检验科"]})
    assert counters_equal_rows()
    # A unit moves under the sibling district: its counters go with it, the subtree sums follow the paths.
    unit = inst("北京市西城区综合医院") or db.session.scalars(select(Institution).where(
        Institution.parent_id == inst("北京市西城区卫生健康委员会").id,
        Institution.id != user(UNIT_A).institution_id)).first()
    move_institution(scope_for(su), su, unit.id, inst("北京市朝阳区卫生健康委员会").id)
    db.session.commit()
    assert counters_equal_rows()
    assert counters.drift() == {}  # the subtree counters of the old and the new ancestors included
    for phone, node in ((PROVINCE, None), (DISTRICT_A, None), (DISTRICT_B, None), (SUPER, None),
                        (PROVINCE, inst("北京市朝阳区卫生健康委员会")), (SUPER, inst("北京市卫生健康委员会"))):
        check_dashboard(login(phone), node)
    before = db.session.execute(select(TypeCounter.institution_id, TypeCounter.status, TypeCounter.personnel_type,
                                       TypeCounter.n).where(TypeCounter.n != 0).order_by(
        TypeCounter.institution_id, TypeCounter.status, TypeCounter.personnel_type)).all()
    counters.reconcile()  # flask reconcile-counters: nothing to repair
    after = db.session.execute(select(TypeCounter.institution_id, TypeCounter.status, TypeCounter.personnel_type,
                                      TypeCounter.n).order_by(
        TypeCounter.institution_id, TypeCounter.status, TypeCounter.personnel_type)).all()
    assert before == after


def test_province_sees_a_row_per_district_and_the_daily_line(login):
    html = check_dashboard(login(PROVINCE), None)
    rows = shown_rows(html)
    assert set(rows) == {inst("北京市西城区卫生健康委员会").id, inst("北京市朝阳区卫生健康委员会").id}
    data = chart(html)
    assert data["labels"] == ["北京市朝阳区卫生健康委员会", "北京市西城区卫生健康委员会"]
    a = truth(inst("北京市朝阳区卫生健康委员会"))
    approved = db.session.execute(
        select(StaffProfile.personnel_type, func.count())
        .join(Institution, Institution.id == StaffProfile.institution_id)
        .where(Institution.path.like(inst("北京市朝阳区卫生健康委员会").path + "%"), StaffProfile.status == "approved")
        .group_by(StaffProfile.personnel_type)).all()
    assert data["sampling"][0] == sum(n for t, n in approved if t in ("sampling", "both"))
    assert data["testing"][0] == sum(n for t, n in approved if t in ("testing", "both"))
    assert len(data["days"]) == 30 and len(data["submissions"]) == 30
    since = utcnow() - timedelta(days=40)
    recent = db.session.scalar(select(func.count()).select_from(StaffProfile).join(
        Institution, Institution.id == StaffProfile.institution_id).where(
        Institution.path.like(inst("北京市卫生健康委员会").path + "%"), StaffProfile.status != "draft",
        StaffProfile.submitted_at >= since))
    assert sum(data["submissions"]) <= recent and a["reported"] > 0
    assert "北京市西城区卫生健康委员会" in html and "各机构审核通过的采样、检测人员" in html and "每日上报人数" in html


def test_district_officer_sees_only_the_district_and_drills_into_a_unit(login):
    c = login(DISTRICT_A)
    html = check_dashboard(c, None)
    district = inst("北京市西城区卫生健康委员会")
    kids = set(db.session.scalars(select(Institution.id).where(Institution.parent_id == district.id)))
    assert set(shown_rows(html)) == kids
    assert "朝阳" not in html
    unit = db.session.get(Institution, user(UNIT_A).institution_id)
    assert f'href="/admin/?institution={unit.id}"' in html
    drill = c.get(f"/admin/?institution={unit.id}")
    page = drill.get_data(as_text=True)
    assert drill.status_code == 200 and unit.name in page
    assert f'href="/admin/?institution={district.id}"' in page and 'href="/admin/"' in page  # breadcrumb up
    counts = [int(n) for n in re.findall(r'data-card="\d+">\s*(\d+)\s*<', page)]
    t = truth(unit)
    assert counts == [t["reported"], t["pending"], t["rejected"], t["unit_approved"], t["approved"]]
    # The cards link to the grid filtered by status and by this unit.
    assert re.search(rf'href="/admin/staff/\?flt0_0=unit_approved&amp;flt1_\d+={unit.id}"', page)


@pytest.mark.parametrize("value", ["SIBLING", "PARENT", "abc", "-1", "99999999", "1.5", ""])
def test_drill_down_outside_the_scope_is_404(login, value):
    ids = {"SIBLING": inst("北京市朝阳区卫生健康委员会").id, "PARENT": inst("北京市卫生健康委员会").id}
    assert login(DISTRICT_A).get(f"/admin/?institution={ids.get(value, value)}").status_code == 404


def test_superuser_sees_every_root_and_province_both_districts(login):
    html = login(SUPER).get("/admin/").get_data(as_text=True)
    roots = set(db.session.scalars(select(Institution.id).where(Institution.parent_id.is_(None))))
    assert set(shown_rows(html)) == roots
    p = login(SUPER).get(f"/admin/?institution={inst('北京市卫生健康委员会').id}").get_data(as_text=True)
    assert "北京市西城区卫生健康委员会" in p and "北京市朝阳区卫生健康委员会" in p


def test_dashboard_reads_counters_not_the_staff_table(login, count_queries):
    c = login(PROVINCE)
    c.get("/admin/")
    with count_queries() as q:
        assert c.get("/admin/").status_code == 200
    assert not [s for s in q.statements if "staff_profile" in s.lower()], q.statements
    n_province = len(q.statements)
    c = login(SUPER)
    c.get("/admin/")
    with count_queries() as q:
        c.get(f"/admin/?institution={inst('国家卫生健康委员会').id}")
    assert len(q.statements) <= n_province + 2  # constant: no statement per child
    # The per-child figures and the daily line read the subtree counters by key: no join of each child to the
    # institutions below it, whose cost grew with the number of units in the country.
    subtree = [s for s in q.statements if "subtree_type_counter" in s or "subtree_submission_counter" in s]
    assert len(subtree) == 2 and not [s for s in q.statements if "LIKE" in s and "counter" in s], q.statements


def test_no_inline_script_and_charts_from_the_vendored_library(login):
    html = login(PROVINCE).get("/admin/").get_data(as_text=True)
    assert "/static/vendor/chartjs/chart.umd.min.js" in html and "/static/js/admin_dashboard.js" in html
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    # Only the page's own asset links: the random nonce and CSRF token may spell "cdn" (about once in 700 pages).
    assert "cdn" not in " ".join(re.findall(r'(?:src|href)="[^"]*"', html)).lower()
