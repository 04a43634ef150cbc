"""预置管理员手机号 (issue 19): an officer pre-registers a subordinate unit's admin phone; whoever signs up or signs in
with it becomes the unit's admin and lands on its 上报人员列表; revoking works as a grant reset."""
import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from admin_app.extensions import db
from admin_app.models import AdminGrant, Institution, Preregistration, User
from admin_app.services import ServiceError, preregistration as svc
from admin_app.services.scope import scope_for
from tests.conftest import DISTRICT_A, DISTRICT_B, STAFF_A, SUPER, UNIT_A, outbox_code
from tests.test_registry_support import HOSPITAL_A_NAME, HOSPITAL_B_NAME, PW, inst, make_user

NEW_ADMIN, SECOND = "13911112222", "13911113333"


def prereg(client, institution_id, phone=NEW_ADMIN, name="王预置"):
    return client.post("/admin/preregistration/new/", data={"institution_id": str(institution_id), "phone": phone,
                                                             "name": name})


def rows(phone=NEW_ADMIN) -> list[Preregistration]:
    db.session.expire_all()
    return list(db.session.scalars(select(Preregistration).where(Preregistration.phone == phone)))


def grants_of(phone) -> list[tuple[int, str, str]]:
    return db.session.execute(select(AdminGrant.institution_id, AdminGrant.role, AdminGrant.state)
                              .join(User, User.id == AdminGrant.user_id).where(User.phone == phone)).all()


def sign_up(app, phone, name="王预置"):
    client = app.test_client()
    assert client.post("/sms/send", data={"phone": phone, "purpose": "register"}).get_json() == {"ok": True}
    resp = client.post("/register", data={"name": name, "phone": phone, "password": PW, "password_confirm": PW,
                                          "sms_code": outbox_code(app, phone, "register")})
    return client, resp


def test_an_officer_pre_registers_and_the_person_signs_up_onto_the_unit_staff_list(app, login):
    officer = login(DISTRICT_A)
    hospital = inst(HOSPITAL_A_NAME)
    form = officer.get("/admin/preregistration/new/").get_data(as_text=True)
    assert 'name="institution_id_q"' in form and HOSPITAL_A_NAME not in form  # a search, not a list of thousands
    # without JavaScript: the Search button re-renders the form with the matches among his subordinates only
    form = officer.post("/admin/preregistration/new/", data={
        "institution_id_q": "人民医院", "find_unit": "institution_id", "phone": NEW_ADMIN}).get_data(as_text=True)
    assert f'<option selected value="{hospital.id}">' in form and HOSPITAL_B_NAME not in form and rows() == []
    resp = prereg(officer, hospital.id, phone="139 1111 2222")
    assert resp.status_code == 302
    (row,) = rows()
    assert (row.institution_id, row.name, row.state) == (hospital.id, "王预置", "unclaimed")
    listing = officer.get("/admin/preregistration/").get_data(as_text=True)
    assert NEW_ADMIN in listing and "未认领" in listing
    client, resp = sign_up(app, NEW_ADMIN)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/staff/")
    assert grants_of(NEW_ADMIN) == [(hospital.id, "manager", "active")]
    user = db.session.scalar(select(User).where(User.phone == NEW_ADMIN))
    assert user.institution_id == hospital.id
    grid = client.get("/admin/staff/")
    assert grid.status_code == 200 and HOSPITAL_A_NAME in grid.get_data(as_text=True)
    listing = officer.get("/admin/preregistration/").get_data(as_text=True)
    assert "已认领" in listing and 'data-prereg-state="claimed"' in listing
    assert rows()[0].claimed_by_id == user.id


def test_an_existing_account_claims_by_signing_in_with_the_password_or_an_sms_code(app, login):
    hospital = inst(HOSPITAL_A_NAME)
    make_user(NEW_ADMIN, "王已有", verified=False)
    make_user(SECOND, "李已有", verified=False)
    svc.preregister(scope_for(db.session.scalar(select(User).where(User.phone == DISTRICT_A))),
                    db.session.scalar(select(User).where(User.phone == DISTRICT_A)), hospital.id, NEW_ADMIN, "王已有")
    officer = login(DISTRICT_A)
    assert prereg(officer, hospital.id, phone=SECOND, name="李已有").status_code == 302
    resp = app.test_client().post("/login", data={"phone": NEW_ADMIN, "password": PW, "captcha": ""})
    assert resp.headers["Location"].endswith("/admin/staff/")
    # The unit now has its manager: the second pre-registered phone becomes an assistant admin, here by SMS.
    sms_client = app.test_client()
    sms_client.post("/sms/send", data={"phone": SECOND, "purpose": "login"})
    resp = sms_client.post("/login/sms", data={"phone": SECOND, "sms_code": outbox_code(app, SECOND, "login"),
                                               "captcha": ""})
    assert resp.headers["Location"].endswith("/admin/staff/")
    assert grants_of(NEW_ADMIN) == [(hospital.id, "manager", "active")]
    assert grants_of(SECOND) == [(hospital.id, "assistant", "active")]


def test_a_raced_claim_gives_the_right_once(app, login):
    login(DISTRICT_A)
    officer = db.session.scalar(select(User).where(User.phone == DISTRICT_A))
    hospital = inst(HOSPITAL_A_NAME)
    row = svc.preregister(scope_for(officer), officer, hospital.id, NEW_ADMIN, "王预置")
    user, _ = make_user(NEW_ADMIN, "王预置", verified=False)
    stale = db.session.get(Preregistration, row.id)
    assert svc._claim(stale, user) == "manager"
    # A second device signing in at the same instant held the row as unclaimed: its conditional UPDATE loses.
    assert svc._claim(stale, user) is None
    assert svc.claim_for(user).claimed == []
    assert grants_of(NEW_ADMIN) == [(hospital.id, "manager", "active")]


def test_an_out_of_scope_institution_is_refused_in_chinese_and_nothing_is_written(app, login):
    officer = login(DISTRICT_A)
    for target in (inst(HOSPITAL_B_NAME).id, inst("北京市西城区卫生健康委员会").id, 99999999, "abc"):
        resp = prereg(officer, target)
        html = resp.get_data(as_text=True)
        assert resp.status_code == 200, target
        assert "只能为下级单位预置管理员手机号" in html or "请选择机构" in html, target
    assert rows() == []


def test_a_unit_admin_has_no_units_below_and_is_not_offered_the_page(app, login):
    unit = login(UNIT_A)
    assert 'href="/admin/preregistration/"' not in unit.get("/admin/staff/").get_data(as_text=True)
    own = db.session.scalar(select(User).where(User.phone == UNIT_A)).institution_id
    assert "只能为下级单位" in prereg(unit, own).get_data(as_text=True)
    assert rows() == []
    assert 'href="/admin/preregistration/"' in login(DISTRICT_A).get("/admin/grant/").get_data(as_text=True)


@pytest.mark.parametrize("phone, name, message", [("1234", "王预置", "请输入有效的中国大陆手机号"),
                                                  ("", "王预置", "请输入管理员的手机号"),
                                                  (NEW_ADMIN, "", "请输入真实姓名"),
                                                  (NEW_ADMIN, "王<script>", "姓名只能包含")])
def test_malformed_input_is_refused_on_the_form(app, login, phone, name, message):
    html = prereg(login(DISTRICT_A), inst(HOSPITAL_A_NAME).id, phone=phone, name=name).get_data(as_text=True)
    assert message in html
    assert db.session.scalar(select(Preregistration.id)) is None


def test_a_duplicate_phone_for_the_same_unit_is_refused(app, login):
    officer = login(DISTRICT_A)
    hospital = inst(HOSPITAL_A_NAME)
    assert prereg(officer, hospital.id).status_code == 302
    html = prereg(officer, hospital.id).get_data(as_text=True)
    assert "已预置为" in html and len(rows()) == 1
    # The database holds the rule too (two officers at the same instant).
    db.session.add(Preregistration(institution_id=hospital.id, phone=NEW_ADMIN, name="x"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_a_person_of_another_unit_is_not_made_its_admin(app, login):
    officer = login(DISTRICT_A)
    assert prereg(officer, inst(HOSPITAL_A_NAME).id, phone=STAFF_A).status_code == 302
    resp = app.test_client().post("/login", data={"phone": STAFF_A, "password": PW, "captcha": ""},
                                  follow_redirects=True)
    assert "工作单位" in resp.get_data(as_text=True)
    assert grants_of(STAFF_A) == [] and rows(STAFF_A)[0].state == "unclaimed"


def test_revoking_ends_the_claimed_right_and_the_sessions_as_a_grant_reset(app, login):
    officer = login(DISTRICT_A)
    hospital = inst(HOSPITAL_A_NAME)
    prereg(officer, hospital.id)
    admin, _resp = sign_up(app, NEW_ADMIN)
    assert admin.get("/admin/staff/").status_code == 200
    row = rows()[0]
    # The sibling district's officer cannot revoke it.
    sibling = login(DISTRICT_B)
    sibling.post("/admin/preregistration/action/", data={"action": "revoke", "rowid": str(row.id)})
    assert rows()[0].revoked_at is None and grants_of(NEW_ADMIN)[0][2] == "active"
    resp = officer.post("/admin/preregistration/action/", data={"action": "revoke", "rowid": str(row.id)},
                        follow_redirects=True)
    assert "已撤销" in resp.get_data(as_text=True)
    listed = officer.get("/admin/preregistration/").get_data(as_text=True)
    assert 'badge' in listed and "已撤销" in listed and "已解除" not in listed  # the state, in the button's word
    assert rows()[0].state == "revoked" and grants_of(NEW_ADMIN) == [(hospital.id, "manager", "reset")]
    # Signed out at once, as after 解除授权; signing in again gives no admin right back.
    assert "/login" in admin.get("/admin/staff/").headers["Location"]
    again = app.test_client().post("/login", data={"phone": NEW_ADMIN, "password": PW, "captcha": ""})
    assert again.headers["Location"].endswith("/me")
    # The phone may be pre-registered anew after a revoke.
    assert prereg(officer, hospital.id).status_code == 302 and len(rows()) == 2


def test_the_superuser_pre_registers_anywhere_and_an_officer_sees_only_his_subordinates(app, login):
    root = login(SUPER)
    assert prereg(root, inst(HOSPITAL_B_NAME).id, phone=SECOND).status_code == 302
    assert SECOND not in login(DISTRICT_A).get("/admin/preregistration/").get_data(as_text=True)
    assert SECOND in login(DISTRICT_B).get("/admin/preregistration/").get_data(as_text=True)
    with pytest.raises(ServiceError):
        svc.require_below(scope_for(db.session.scalar(select(User).where(User.phone == DISTRICT_B))),
                          db.session.scalar(select(Institution.id).where(Institution.name == HOSPITAL_A_NAME)))


def test_a_claim_that_loses_every_race_still_lets_the_person_sign_in(app, login, monkeypatch):
    officer = login(DISTRICT_A)
    assert prereg(officer, inst(HOSPITAL_A_NAME).id).status_code == 302
    make_user(NEW_ADMIN, "王预置", verified=False)

    def lost(row, user, now):
        raise ServiceError("本机构已有业务负责人。")

    monkeypatch.setattr(svc, "_new_grant", lost)
    resp = app.test_client().post("/login", data={"phone": NEW_ADMIN, "password": PW, "captcha": ""})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/me")
    assert grants_of(NEW_ADMIN) == [] and rows()[0].state == "unclaimed"  # nothing half-written; claimable later


def test_the_unit_search_of_the_form_offers_only_units_strictly_below_the_officer(app, login):
    officer = login(DISTRICT_A)
    found = officer.get("/admin/preregistration/institutions/?q=西城").get_json()
    names = [r["name"] for r in found]
    assert HOSPITAL_A_NAME in names
    assert "北京市西城区卫生健康委员会" not in names and HOSPITAL_B_NAME not in names  # not his own, not his sibling's
    assert all(set(r) == {"id", "name", "code", "parent"} for r in found)
    assert officer.get("/admin/preregistration/institutions/?q=").get_json() == []
    assert login(DISTRICT_B).get("/admin/preregistration/institutions/?q=西城区人民医院").get_json() == []
    assert login(STAFF_A).get("/admin/preregistration/institutions/?q=西城").status_code == 403
    # a hostile query answers an empty list or a Chinese refusal, never a 500
    for q in ("%", "_", "\\", "' OR '1'='1", "张" * 5000, "\x00"):
        resp = officer.get("/admin/preregistration/institutions/", query_string={"q": q})
        assert resp.status_code in (200, 400), q
        assert resp.status_code == 200 or q == "\x00"  # a NUL is refused before any view (views/security.py)


def test_the_form_refuses_a_unit_outside_the_scope_and_a_hostile_search_with_a_message(app, login):
    officer = login(DISTRICT_A)
    html = prereg(officer, inst(HOSPITAL_B_NAME).id).get_data(as_text=True)
    assert "只能为下级单位预置管理员手机号" in html and rows() == []
    html = officer.post("/admin/preregistration/new/", data={"institution_id_q": "张" * 500, "find_unit": "1"}
                        ).get_data(as_text=True)
    assert 'id="institution_id_q-error"' in html and rows() == []
    html = officer.post("/admin/preregistration/new/", data={"institution_id_q": "没有这个机构", "find_unit": "1"}
                        ).get_data(as_text=True)
    assert "没有符合搜索条件的机构" in html
