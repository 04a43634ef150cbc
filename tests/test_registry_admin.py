"""Back office of the registry: /admin/application/ (include / refuse) and /admin/institution/ (codes, edits, moves)."""
import threading

from sqlalchemy import select

from admin_app.extensions import db
from admin_app.models import Institution, InstitutionApplication, User
from admin_app.services import applications as svc
from admin_app.services.codes import ALPHABET
from admin_app.services.scope import scope_for
from tests.conftest import DISTRICT_A, DISTRICT_B, PROVINCE, STAFF_A, SUPER, UNIT_A
from tests.test_registry_support import (
    DISTRICT_A_NAME,
    DISTRICT_B_NAME,
    HOSPITAL_A_NAME,
    UNIT_A_NAME,
    applications,
    audits,
    count,
    inst,
    uscc_for,
)


def new_application(parent: Institution, n: int = 1, name: str | None = None) -> InstitutionApplication:
    row = InstitutionApplication(name=name or f"示范诊所{n}", uscc=uscc_for(n), parent_id=parent.id,
                                 category="primary_care", region_code="110102", address="示范路1号",
                                 contact_name="王明", contact_phone="13912340001", status="pending")
    db.session.add(row)
    db.session.commit()
    return row


def act(client, action, *rows, **extra):
    return client.post("/admin/application/action/", data={"action": action, "rowid": [str(r.id) for r in rows],
                                                           "url": "/admin/application/", **extra})


def test_application_grid_is_scoped(login):
    a = new_application(inst(DISTRICT_A_NAME), 1)
    b = new_application(inst(DISTRICT_B_NAME), 2)
    deep = new_application(inst(UNIT_A_NAME), 3)  # under a child of district A
    html = login(DISTRICT_A).get("/admin/application/").get_data(as_text=True)
    assert a.name in html and deep.name in html and b.name not in html
    assert 'value="approve"' in html and 'value="reject"' in html
    html = login(PROVINCE).get("/admin/application/").get_data(as_text=True)
    assert a.name in html and b.name in html
    c = login(DISTRICT_B)
    assert c.get(f"/admin/application/details/?id={a.id}").status_code == 404
    assert c.get(f"/admin/application/details/?id={b.id}").status_code == 200
    assert login(STAFF_A).get("/admin/application/").status_code == 403


def test_approve_creates_the_institution_once(login):
    district = inst(DISTRICT_A_NAME)
    a = new_application(district, 1)
    c = login(DISTRICT_A)
    assert act(c, "approve", a).status_code == 302
    assert act(c, "approve", a).status_code == 302  # a double approval
    [row] = applications(InstitutionApplication.id == a.id)
    assert row.status == "included" and row.institution_id and row.reviewed_by_id
    created = db.session.get(Institution, row.institution_id)
    assert created.parent_id == district.id and created.path == f"{district.path}{created.id}/"
    assert created.depth == district.depth + 1 and created.uscc == uscc_for(1) and created.region_code == "110102"
    assert len(created.confirmation_code) == 8 and set(created.confirmation_code) <= set(ALPHABET)
    assert count(Institution, Institution.name == a.name) == 1
    assert audits("application_approved") == 1 and audits("institution_created") == 1
    html = c.get("/admin/application/").get_data(as_text=True)
    assert "已被处理或不在您的管辖范围内" in html
    # the new institution is now a child of district A: it shows in the grant grid, 未生成
    assert a.name in c.get("/admin/grant/").get_data(as_text=True)


def test_concurrent_approvals_include_once(app):
    a = new_application(inst(DISTRICT_A_NAME), 1)
    officers = [db.session.scalar(select(User).where(User.phone == p)).id for p in (DISTRICT_A, PROVINCE)]
    barrier = threading.Barrier(2)
    moved = []

    def run(uid):
        with app.app_context():
            user = db.session.get(User, uid)
            barrier.wait()
            moved.append(svc.approve(scope_for(user), user, [a.id]).moved)
            db.session.remove()

    threads = [threading.Thread(target=run, args=(uid,)) for uid in officers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(moved) == [0, 1]
    assert count(Institution, Institution.name == a.name) == 1


def test_approve_out_of_scope_is_skipped(login):
    a = new_application(inst(DISTRICT_A_NAME), 1)
    c = login(DISTRICT_B)
    act(c, "approve", a)
    assert applications(InstitutionApplication.id == a.id)[0].status == "pending"
    assert count(Institution, Institution.name == a.name) == 0
    assert "已被处理或不在您的管辖范围内" in c.get("/admin/application/").get_data(as_text=True)


def test_approve_refuses_a_duplicate_that_appeared_meanwhile(login):
    a = new_application(inst(DISTRICT_A_NAME), 1, name=HOSPITAL_A_NAME)  # slipped in before the library had it
    c = login(DISTRICT_A)
    act(c, "approve", a)
    assert applications(InstitutionApplication.id == a.id)[0].status == "pending"
    assert "未能收录" in c.get("/admin/application/").get_data(as_text=True)


def test_reject_asks_for_a_reason_and_keeps_the_rows(login):
    a, b = new_application(inst(DISTRICT_A_NAME), 1), new_application(inst(DISTRICT_A_NAME), 2)
    c = login(DISTRICT_A)
    resp = act(c, "reject", a, b)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'name="reason"' in html
    assert f'name="rowid" value="{a.id}"' in html and f'name="rowid" value="{b.id}"' in html
    html = act(c, "reject", a, b, reason="   ").get_data(as_text=True)
    assert "请填写原因" in html
    assert {r.status for r in applications()} == {"pending"}
    assert act(c, "reject", a, b, reason="证照信息不符").status_code == 302
    rows = applications()
    assert {(r.status, r.reason) for r in rows} == {("rejected", "证照信息不符")}
    assert audits("application_rejected") == 2


def test_detail_page_offers_the_decision(login):
    a = new_application(inst(DISTRICT_A_NAME), 1)
    html = login(DISTRICT_A).get(f"/admin/application/details/?id={a.id}").get_data(as_text=True)
    assert 'value="approve"' in html and 'value="reject"' in html and "待审核" in html


# ------------------------------------------------------------------------------------------ institutions

def test_confirmation_code_for_the_institutions_own_admins(login):
    unit = inst(UNIT_A_NAME)
    old = unit.confirmation_code
    c = login(UNIT_A)
    html = c.get(f"/admin/institution/details/?id={unit.id}").get_data(as_text=True)
    assert "/admin/institution/code/" in html and old not in html  # not on the detail page itself
    html = c.get(f"/admin/institution/code/?id={unit.id}").get_data(as_text=True)
    assert old in html and audits("confirmation_code_viewed") == 1
    resp = c.post("/admin/institution/code/", data={"id": str(unit.id)})
    assert resp.status_code == 302
    db.session.expire_all()
    assert unit.confirmation_code != old and len(unit.confirmation_code) == 8
    assert audits("confirmation_code_regenerated") == 1
    # the parent's officer (in scope, but not an admin of the unit itself) and others get a 404
    for phone in (DISTRICT_A, DISTRICT_B):
        other = login(phone)
        assert other.get(f"/admin/institution/code/?id={unit.id}").status_code == 404
        assert other.post("/admin/institution/code/", data={"id": str(unit.id)}).status_code == 404
    assert audits("confirmation_code_viewed") == 1


def test_edit_name_category_address_through_the_service(login):
    unit = inst(HOSPITAL_A_NAME)
    c = login(DISTRICT_A)
    assert c.get(f"/admin/institution/edit/?id={unit.id}").status_code == 200
    resp = c.post(f"/admin/institution/edit/?id={unit.id}",
                  data={"name": "北京市西城区第一人民医院", "category": "general_hospital", "address": "西城区1号"})
    assert resp.status_code == 302
    db.session.expire_all()
    assert (unit.name, unit.address, unit.name_initials[:6]) == ("北京市西城区第一人民医院", "西城区1号", "bjsxcq")
    assert audits("institution_updated") == 1
    # a duplicate name under the same parent is refused, nothing written
    html = c.post(f"/admin/institution/edit/?id={unit.id}",
                  data={"name": UNIT_A_NAME, "category": "general_hospital", "address": "x"}).get_data(as_text=True)
    assert "同一主管单位下已有同名机构" in html
    db.session.expire_all()
    assert unit.name == "北京市西城区第一人民医院" and audits("institution_updated") == 1
    # out of scope: 404
    assert login(DISTRICT_B).get(f"/admin/institution/edit/?id={unit.id}").status_code == 404


def test_superuser_moves_a_subtree_in_one_update(login, count_queries):
    district = inst(DISTRICT_A_NAME)
    guangdong = inst("广东省卫生健康委员会")
    children = db.session.scalars(select(Institution).where(Institution.parent_id == district.id)).all()
    assert children
    su = login(SUPER)
    assert su.get(f"/admin/institution/move/?id={district.id}").status_code == 200
    with count_queries() as q:
        resp = su.post(f"/admin/institution/move/?id={district.id}", data={"parent_id": str(guangdong.id)})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    updates = [s for s in q.statements if s.lstrip().upper().startswith("UPDATE INSTITUTION")]
    assert len(updates) == 1
    db.session.expire_all()
    assert district.parent_id == guangdong.id and district.path == f"{guangdong.path}{district.id}/"
    assert district.depth == guangdong.depth + 1
    for ch in children:
        assert ch.path == f"{district.path}{ch.id}/" and ch.depth == district.depth + 1
    assert audits("institution_moved") == 1
    # the Beijing officer no longer sees the district's units; the moved district's own officer still does
    assert HOSPITAL_A_NAME not in login(PROVINCE).get("/admin/institution/?search=人民医院").get_data(as_text=True)
    assert HOSPITAL_A_NAME in login(DISTRICT_A).get("/admin/institution/?search=人民医院").get_data(as_text=True)


def test_move_refusals(login):
    district = inst(DISTRICT_A_NAME)
    unit = inst(UNIT_A_NAME)
    su = login(SUPER)
    html = su.post(f"/admin/institution/move/?id={district.id}", data={"parent_id": str(unit.id)}
                   ).get_data(as_text=True)
    assert "不能将机构移到其自身或其下级机构之下" in html
    for phone in (PROVINCE, DISTRICT_A):
        assert login(phone).get(f"/admin/institution/move/?id={unit.id}").status_code == 404
        assert login(phone).post(f"/admin/institution/move/?id={unit.id}",
                                 data={"parent_id": str(inst(DISTRICT_B_NAME).id)}).status_code == 404
    db.session.expire_all()
    assert unit.parent_id == district.id
