"""机构业务授权: codes issued → bound → reset through HTTP, bad input, races, assistants, transfer."""
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from admin_app.extensions import db
from admin_app.models import AdminGrant, AuditLog, User
from admin_app.models.types import utcnow
from admin_app.services import ServiceError, grant_team, grants
from admin_app.services.codes import ALPHABET
from admin_app.services.scope import scope_for
from tests.conftest import DISTRICT_A, DISTRICT_B, PROVINCE, STAFF_A, UNIT_A
from tests.test_registry_support import (
    DISTRICT_A_NAME,
    HOSPITAL_A_NAME,
    HOSPITAL_B_NAME,
    PW,
    UNIT_A_NAME,
    audits,
    count,
    grants_of,
    inst,
    make_user,
    sms,
    wrong,
)

__all__ = ["sms"]


def generate(client, *institutions):
    return client.post("/admin/grant/action/", data={"action": "generate", "rowid": [str(i.id) for i in institutions],
                                                     "url": "/admin/grant/"})


def issue(issuer_phone: str, institution) -> AdminGrant:
    """Issue a code as the demo admin `issuer_phone` (service call) and return the grant."""
    issuer = db.session.scalar(select(User).where(User.phone == issuer_phone))
    result = grants.issue_codes(scope_for(issuer), issuer, [institution.id])
    assert len(result.issued) == 1, result
    return [g for g in grants_of(institution) if g.state == "issued"][-1]


def bind_http(client, sms_fixture, phone: str, code: str, password: str = PW, sms_code: str | None = None):
    resp = client.post("/grants/bind", data={"send_sms": "1"})
    assert resp.status_code == 200
    sent = sms_fixture.last(phone, "step_up")
    assert sent
    return client.post("/grants/bind", data={"code": code, "password": password,
                                             "sms_code": sent if sms_code is None else sms_code})


# --------------------------------------------------------------------------------------------- the grid

def test_grid_lists_direct_children_with_their_state(login):
    c = login(DISTRICT_A)
    resp = c.get("/admin/grant/")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert HOSPITAL_A_NAME in html and UNIT_A_NAME in html
    assert HOSPITAL_B_NAME not in html and DISTRICT_A_NAME not in html  # not a sibling's, not itself
    assert 'value="reset"' in html and 'value="reset_unactivated"' in html and 'value="generate"' in html
    assert "未生成" in html and "已激活" in html
    assert "西*****员 138****0003" in html  # the bound person (西城疾控管理员), masked
    assert "onclick=" not in html.split('id="registry_form"')[1]  # no inline handlers (CSP)


def test_generate_one_or_many_codes(app, login):
    c = login(DISTRICT_A)
    h, lab = inst(HOSPITAL_A_NAME), inst("北京市西城区医学检验实验室")
    resp = generate(c, h, lab)
    assert resp.status_code == 302
    for institution in (h, lab):
        [g] = grants_of(institution)
        assert g.state == "issued" and g.role == "manager" and g.user_id is None
        assert len(g.code) == 8 and set(g.code) <= set(ALPHABET)
        ttl = g.expires_at - g.issued_at
        assert timedelta(days=app.config["GRANT_CODE_TTL_DAYS"]) - ttl < timedelta(seconds=5)
    html = c.get("/admin/grant/").get_data(as_text=True)
    assert grants_of(h)[0].code in html and "未激活" in html
    assert audits("grant_code_issued") == 2
    # a second generate leaves a live code alone
    generate(c, h)
    assert len(grants_of(h)) == 1


def test_codes_visible_only_to_the_issuing_scope(login):
    g = issue(DISTRICT_A, inst(HOSPITAL_A_NAME))
    assert g.code in login(DISTRICT_A).get("/admin/grant/").get_data(as_text=True)
    for phone in (PROVINCE, DISTRICT_B, UNIT_A):
        assert g.code not in login(phone).get("/admin/grant/").get_data(as_text=True), phone
    assert g.code not in login(PROVINCE).get("/admin/audit/").get_data(as_text=True)


@pytest.mark.parametrize("issuer,target", [(DISTRICT_B, HOSPITAL_A_NAME),  # a sibling's child
                                           (PROVINCE, HOSPITAL_A_NAME),  # a grandchild
                                           (UNIT_A, DISTRICT_A_NAME)])  # its own parent
def test_generate_outside_direct_children_is_refused(login, issuer, target):
    c = login(issuer)
    t = inst(target)
    before = count(AdminGrant)
    resp = generate(c, t)
    assert resp.status_code == 302
    assert count(AdminGrant) == before
    html = c.get("/admin/grant/").get_data(as_text=True)
    assert "不是您所管理机构的直接下级" in html
    assert c.get(f"/admin/grant/authorize/?id={t.id}").status_code == 404


def test_staff_and_anonymous_cannot_reach_the_grant_grid(app, login):
    assert app.test_client().get("/admin/grant/").status_code == 302
    staff = login(STAFF_A)
    assert staff.get("/admin/grant/").status_code == 403
    assert staff.post("/admin/grant/action/", data={"action": "reset", "rowid": "1"}).status_code == 403


# ------------------------------------------------------------------------------ issue → bind → reset (HTTP)

def test_issue_bind_reset_through_http(app, login, sms):
    hospital = inst(HOSPITAL_A_NAME)
    lead, _number = make_user("13911110001", "刘院长", hospital)
    officer = login(DISTRICT_A)
    assert generate(officer, hospital).status_code == 302
    code = grants_of(hospital)[0].code

    c = login(lead.phone)
    html = c.get("/grants/bind").get_data(as_text=True)
    for name in ("code", "password", "sms_code"):
        assert f'name="{name}"' in html
    assert c.get("/admin/").status_code == 403
    resp = bind_http(c, sms, lead.phone, code.lower())  # typed in lower case: still the code
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    [g] = grants_of(hospital)
    assert (g.state, g.user_id) == ("active", lead.id) and g.activated_at
    assert c.get("/admin/").status_code == 200
    assert "刘*长" in officer.get("/admin/grant/").get_data(as_text=True)

    resp = officer.post("/admin/grant/action/", data={"action": "reset", "rowid": str(hospital.id),
                                                      "url": "/admin/grant/"})
    assert resp.status_code == 302
    [g] = grants_of(hospital)
    assert g.state == "reset" and g.reset_at
    # the very next request is refused: the former admin's sessions ended with the grant
    resp = c.get("/admin/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    c = login(lead.phone)
    assert c.get("/admin/").status_code == 403
    assert c.get("/admin/grant/").status_code == 403
    assert "未生成" in officer.get("/admin/grant/").get_data(as_text=True)  # back to the original state
    for action in ("grant_code_issued", "grant_bound", "grant_reset"):
        assert audits(action) == 1, action
    # a new code can be generated again
    generate(officer, hospital)
    assert [x.state for x in grants_of(hospital)] == ["reset", "issued"]


# ------------------------------------------------------------------------------------------- bad binding

@pytest.fixture
def hospital_code():
    return issue(DISTRICT_A, inst(HOSPITAL_A_NAME))


def _refused_bind(c, sms, user, code, message, **kw):
    before = (count(AuditLog, AuditLog.action == "grant_bound"), count(AdminGrant, AdminGrant.state == "active"))
    resp = bind_http(c, sms, user.phone, code, **kw)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert message in html, html[html.find("alert-danger"):][:400]
    after = (count(AuditLog, AuditLog.action == "grant_bound"), count(AdminGrant, AdminGrant.state == "active"))
    assert after == before


def test_bind_expired_code(login, sms, hospital_code):
    lead, _ = make_user("13911110002", "刘院长", inst(HOSPITAL_A_NAME))
    hospital_code.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    _refused_bind(login(lead.phone), sms, lead, hospital_code.code, "已过期")
    assert grants_of(inst(HOSPITAL_A_NAME))[0].state == "issued"


def test_bind_reset_code(login, sms, hospital_code):
    lead, _ = make_user("13911110003", "刘院长", inst(HOSPITAL_A_NAME))
    officer = login(DISTRICT_A)
    officer.post("/admin/grant/action/",
                 data={"action": "reset_unactivated", "rowid": str(hospital_code.institution_id)})
    _refused_bind(login(lead.phone), sms, lead, hospital_code.code, "已被解除授权")


def test_bind_already_bound_code(login, sms, hospital_code):
    hospital = inst(HOSPITAL_A_NAME)
    first, _ = make_user("13911110004", "刘院长", hospital)
    second, _ = make_user("13911110005", "陈医生", hospital)
    assert bind_http(login(first.phone), sms, first.phone, hospital_code.code).status_code == 302
    _refused_bind(login(second.phone), sms, second, hospital_code.code, "已被使用")


def test_bind_foreign_or_unknown_code(login, sms, hospital_code):
    other, _ = make_user("13911110006", "朝阳医生", inst(HOSPITAL_B_NAME))
    c = login(other.phone)
    _refused_bind(c, sms, other, hospital_code.code, "属于其他机构")
    _refused_bind(c, sms, other, "ABCDEFGH", "授权码不正确")
    _refused_bind(c, sms, other, "0O1IL", "授权码不正确")
    _refused_bind(c, sms, other, "", "请输入授权码")


def test_bind_without_verified_identity(login, sms, hospital_code):
    staff = db.session.scalar(select(User).where(User.phone == STAFF_A))
    assert staff.identity_status != "verified"
    c = login(STAFF_A)
    assert 'data-identity="unverified"' in c.get("/grants/bind").get_data(as_text=True)
    _refused_bind(c, sms, staff, hospital_code.code, "请先完成实名认证")
    unverified, _ = make_user("13911110007", "未认证", inst(HOSPITAL_A_NAME), verified=False)
    _refused_bind(login(unverified.phone), sms, unverified, hospital_code.code, "请先完成实名认证")


def test_bind_wrong_step_up(login, sms, hospital_code):
    lead, _ = make_user("13911110008", "刘院长", inst(HOSPITAL_A_NAME))
    c = login(lead.phone)
    _refused_bind(c, sms, lead, hospital_code.code, "登录密码错误", password="Wrong@12345")
    _refused_bind(c, sms, lead, hospital_code.code, "请输入登录密码", password="")
    sent = sms.send(lead.phone, "step_up")
    _refused_bind(c, sms, lead, hospital_code.code, "验证码错误", sms_code=wrong(sent))
    _refused_bind(c, sms, lead, hospital_code.code, "请输入发送到您本人手机的短信验证码", sms_code="")
    # an SMS code for another purpose does not pass the step-up
    other = sms.send(lead.phone, "institution")
    resp = c.post("/grants/bind", data={"code": hospital_code.code, "password": PW, "sms_code": other})
    assert resp.status_code == 200 and "验证码错误" in resp.get_data(as_text=True)
    assert grants_of(inst(HOSPITAL_A_NAME))[0].state == "issued"


def test_bind_attempts_are_rate_limited(template_db, tmp_path):
    """Per account: wrong codes cannot be tried fast enough to guess one."""
    from tests.conftest import Login, clone_demo, make_app

    application = make_app(tmp_path, clone_demo(template_db, tmp_path), RATELIMIT_ENABLED=True,
                           GRANT_BIND_LIMIT="3 per hour")
    with application.app_context():
        lead, _ = make_user("13911110009", "刘院长")
        c = Login(application)(lead.phone)
        codes = [c.post("/grants/bind", data={"code": "ABCDEFGH", "password": PW, "sms_code": "123456"}).status_code
                 for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        assert c.post("/grants/bind", data={"send_sms": "1"}).status_code == 200  # sending is limited elsewhere
        db.session.remove()
        db.engine.dispose()


# ------------------------------------------------------------------------------------------------ races

def test_two_users_binding_one_code_exactly_one_wins(app, sms, hospital_code):
    hospital = inst(HOSPITAL_A_NAME)
    users = [make_user(f"1391111002{i}", f"候选{i}", hospital)[0] for i in range(2)]
    codes = {u.id: sms.send(u.phone, "step_up") for u in users}
    uids = [u.id for u in users]
    barrier = threading.Barrier(2)
    outcomes = {}

    def run(uid):
        with app.app_context():
            user = db.session.get(User, uid)
            barrier.wait()
            try:
                grants.bind_code(user, hospital_code.code, PW, codes[uid])
                outcomes[uid] = "won"
            except ServiceError as e:
                outcomes[uid] = str(e)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(uid,)) for uid in uids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(v == "won" for v in outcomes.values()) == [False, True], outcomes
    [g] = grants_of(hospital)
    assert g.state == "active" and outcomes[g.user_id] == "won"
    assert audits("grant_bound") == 1


def test_one_active_manager_per_institution_in_the_database(app):
    hospital = inst(HOSPITAL_A_NAME)
    a, _ = make_user("13911110031", "甲", hospital)
    b, _ = make_user("13911110032", "乙", hospital)
    db.session.add(AdminGrant(institution_id=hospital.id, role="manager", state="active", user_id=a.id,
                              code="AAAAAAAA"))
    db.session.commit()
    db.session.add(AdminGrant(institution_id=hospital.id, role="manager", state="active", user_id=b.id,
                              code="BBBBBBBB"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_second_code_of_a_managed_institution_cannot_be_bound(app, sms):
    """Two codes for one institution (issued at the same instant by two admins): only one manager."""
    hospital = inst(HOSPITAL_A_NAME)
    g1 = issue(DISTRICT_A, hospital)
    g2 = AdminGrant(institution_id=hospital.id, role="manager", code="CDEFGHJK", state="issued",
                    expires_at=utcnow() + timedelta(days=1))
    db.session.add(g2)
    db.session.commit()
    a, _ = make_user("13911110041", "甲", hospital)
    b, _ = make_user("13911110042", "乙", hospital)
    grants.bind_code(a, g1.code, PW, sms.send(a.phone, "step_up"))
    with pytest.raises(ServiceError, match="已有业务负责人|already has a business manager"):
        grants.bind_code(b, "CDEFGHJK", PW, sms.send(b.phone, "step_up"))


# ------------------------------------------------------------------------------------------------ reset

def test_reset_by_someone_outside_scope_changes_nothing(login, sms):
    hospital = inst(HOSPITAL_A_NAME)
    lead, _ = make_user("13911110051", "刘院长", hospital)
    g = issue(DISTRICT_A, hospital)
    grants.bind_code(lead, g.code, PW, sms.send(lead.phone, "step_up"))
    for phone in (DISTRICT_B, UNIT_A, PROVINCE):  # a sibling, a child of the issuer, a grandparent
        c = login(phone)
        resp = c.post("/admin/grant/action/",
                      data={"action": "reset", "rowid": str(hospital.id), "url": "/admin/grant/"})
        assert resp.status_code == 302
        assert "不是您所管理机构的直接下级" in c.get("/admin/grant/").get_data(as_text=True)
        assert grants_of(hospital)[0].state == "active", phone
    assert audits("grant_reset") == 0
    assert login(lead.phone).get("/admin/").status_code == 200


def test_batch_reset_unactivated_only_touches_issued_codes(login, sms):
    hospital, lab = inst(HOSPITAL_A_NAME), inst("北京市西城区医学检验实验室")
    unit_a = inst(UNIT_A_NAME)  # has an active manager (13800000003)
    issue(DISTRICT_A, lab)
    g = issue(DISTRICT_A, hospital)
    lead, _ = make_user("13911110061", "刘院长", hospital)
    grants.bind_code(lead, g.code, PW, sms.send(lead.phone, "step_up"))
    c = login(DISTRICT_A)
    resp = c.post("/admin/grant/action/", data={"action": "reset_unactivated",
                                                "rowid": [str(hospital.id), str(lab.id), str(unit_a.id)]})
    assert resp.status_code == 302
    assert [x.state for x in grants_of(lab)] == ["reset"]
    assert [x.state for x in grants_of(hospital)] == ["active"]
    assert [x.state for x in grants_of(unit_a)] == ["active"]
    assert audits("grant_unactivated_reset") == 1


def test_superior_reset_removes_assistants_too(login, sms):
    unit_a = inst(UNIT_A_NAME)
    helper, _ = make_user("13911110071", "助理", unit_a)
    manager = db.session.scalar(select(User).where(User.phone == UNIT_A))
    grant_team.add_assistant(scope_for(manager), manager, unit_a.id, phone=helper.phone, password=PW,
                         sms_code=sms.send(UNIT_A, "step_up"))
    assert login(helper.phone).get("/admin/").status_code == 200
    login(DISTRICT_A).post("/admin/grant/action/", data={"action": "reset", "rowid": str(unit_a.id)})
    assert {x.state for x in grants_of(unit_a)} == {"reset"}
    assert login(UNIT_A).get("/admin/").status_code == 403


# ----------------------------------------------------------------------------------- direct authorization

def test_direct_authorization_by_verified_id_number(login, sms):
    hospital = inst(HOSPITAL_A_NAME)
    lead, number = make_user("13911110081", "刘院长", hospital)
    c = login(DISTRICT_A)
    html = c.get(f"/admin/grant/authorize/?id={hospital.id}").get_data(as_text=True)
    for name in ("id_type", "id_number", "password", "sms_code"):
        assert f'name="{name}"' in html
    c.post(f"/admin/grant/authorize/?id={hospital.id}", data={"send_sms": "1"})
    sent = sms.last(DISTRICT_A, "step_up")
    data = {"id_type": "resident_id", "id_number": number, "password": PW, "sms_code": sent}
    # wrong password first: nothing written, the SMS code survives
    html = c.post(f"/admin/grant/authorize/?id={hospital.id}", data={**data, "password": "Nope@12345"}
                  ).get_data(as_text=True)
    assert "登录密码错误" in html and grants_of(hospital) == []
    resp = c.post(f"/admin/grant/authorize/?id={hospital.id}", data=data)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    [g] = grants_of(hospital)
    assert (g.state, g.user_id, g.role) == ("active", lead.id, "manager")
    assert audits("grant_authorized_directly") == 1
    assert login(lead.phone).get("/admin/").status_code == 200


def test_direct_authorization_uses_the_issued_code(login, sms):
    hospital = inst(HOSPITAL_A_NAME)
    g = issue(DISTRICT_A, hospital)
    lead, number = make_user("13911110082", "刘院长", hospital)
    issuer = db.session.scalar(select(User).where(User.phone == DISTRICT_A))
    grant_team.authorize_directly(scope_for(issuer), issuer, hospital.id, "resident_id", number, PW,
                              sms.send(DISTRICT_A, "step_up"))
    assert [(x.id, x.state, x.user_id) for x in grants_of(hospital)] == [(g.id, "active", lead.id)]


def test_direct_authorization_refusals(login, sms):
    hospital = inst(HOSPITAL_A_NAME)
    unverified, number = make_user("13911110083", "未认证", hospital, verified=False)
    c = login(DISTRICT_A)
    base = {"id_type": "resident_id", "password": PW}
    html = c.post(f"/admin/grant/authorize/?id={hospital.id}",
                  data={**base, "id_number": number, "sms_code": sms.send(DISTRICT_A, "step_up")}
                  ).get_data(as_text=True)
    assert "未找到该号码对应的已实名认证用户" in html
    html = c.post(f"/admin/grant/authorize/?id={hospital.id}",
                  data={**base, "id_number": "110101199001011234", "sms_code": "000000"}).get_data(as_text=True)
    assert "校验位" in html or "未找到" in html
    assert grants_of(hospital) == []
    # unit A already has a manager
    unit_a = inst(UNIT_A_NAME)
    other, other_number = make_user("13911110084", "另一人", unit_a)
    html = c.post(f"/admin/grant/authorize/?id={unit_a.id}",
                  data={**base, "id_number": other_number, "sms_code": "000000"}).get_data(as_text=True)
    assert "已有业务负责人" in html


# -------------------------------------------------------------------------------- assistants and transfer

def test_manager_adds_and_removes_an_assistant(login, sms):
    unit_a = inst(UNIT_A_NAME)
    helper, number = make_user("13911110091", "助理甲", unit_a)
    c = login(UNIT_A)
    html = c.get("/admin/grant/team/").get_data(as_text=True)
    assert UNIT_A_NAME in html and "add-phone" in html and "transfer-phone" in html
    c.post("/admin/grant/team/assistant/", data={"add-institution_id": str(unit_a.id), "send_sms": "1"})
    sent = sms.last(UNIT_A, "step_up")
    data = {"add-institution_id": str(unit_a.id), "add-by": "id", "add-id_type": "resident_id",
            "add-id_number": number, "add-password": PW, "add-sms_code": sent}
    resp = c.post("/admin/grant/team/assistant/", data=data)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    [g] = [x for x in grants_of(unit_a) if x.role == "assistant"]
    assert (g.state, g.user_id) == ("active", helper.id)
    assert audits("assistant_added") == 1
    hc = login(helper.phone)
    assert hc.get("/admin/").status_code == 200
    # an assistant manages no admins
    assert "您不是任何机构的业务负责人" in hc.get("/admin/grant/team/").get_data(as_text=True)
    assert hc.post("/admin/grant/team/assistant/", data={**data, "add-password": PW}).status_code == 404
    # adding the same person twice is refused
    html = c.post("/admin/grant/team/assistant/", data={**data, "add-sms_code": sms.send(UNIT_A, "step_up")}
                  ).get_data(as_text=True)
    assert "已是该机构的管理员" in html
    # remove, with step-up
    resp = c.post("/admin/grant/team/assistant/remove/", data={"remove-grant_id": str(g.id), "remove-password": PW,
                                                              "remove-sms_code": sms.send(UNIT_A, "step_up")})
    assert resp.status_code == 302
    assert audits("assistant_removed") == 1
    resp = hc.get("/admin/")  # the removed assistant's sessions ended with the grant
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert login(helper.phone).get("/admin/").status_code == 403


def test_assistant_must_be_verified_and_of_the_institution(login, sms):
    unit_a = inst(UNIT_A_NAME)
    unverified, _ = make_user("13911110092", "未认证", unit_a, verified=False)
    outsider, _ = make_user("13911110093", "外单位", inst(HOSPITAL_B_NAME))
    c = login(UNIT_A)
    for person, message in ((unverified, "未找到该号码对应的已实名认证用户"), (outsider, "工作单位不是")):
        html = c.post("/admin/grant/team/assistant/", data={
            "add-institution_id": str(unit_a.id), "add-by": "phone", "add-phone": person.phone, "add-password": PW,
            "add-sms_code": sms.send(UNIT_A, "step_up")}).get_data(as_text=True)
        assert message in html
    assert [x.role for x in grants_of(unit_a)] == ["manager"]
    # a manager of another institution cannot add to unit A
    html = login(DISTRICT_A).post("/admin/grant/team/assistant/", data={
        "add-institution_id": str(unit_a.id), "add-by": "phone", "add-phone": outsider.phone, "add-password": PW,
        "add-sms_code": "123456"})
    assert html.status_code == 404


def test_manager_transfer_is_atomic_and_audited(login, sms):
    unit_a = inst(UNIT_A_NAME)
    successor, _ = make_user("13911110101", "接任者", unit_a)
    old = login(UNIT_A)
    data = {"transfer-institution_id": str(unit_a.id), "transfer-by": "phone", "transfer-phone": successor.phone,
            "transfer-password": PW, "transfer-confirm": "y"}
    # wrong SMS: nothing moves
    sent = sms.send(UNIT_A, "step_up")
    html = old.post("/admin/grant/team/transfer/", data={**data, "transfer-sms_code": wrong(sent)}
                    ).get_data(as_text=True)
    assert "验证码错误" in html
    assert [(x.role, x.state) for x in grants_of(unit_a)] == [("manager", "active")]
    resp = old.post("/admin/grant/team/transfer/", data={**data, "transfer-sms_code": sent})
    assert resp.status_code == 302
    states = [(x.role, x.state, x.user_id) for x in grants_of(unit_a)]
    manager = db.session.scalar(select(User).where(User.phone == UNIT_A))
    assert states == [("manager", "reset", manager.id), ("manager", "active", successor.id)]
    assert audits("manager_transferred") == 1
    assert old.get("/admin/").status_code == 403
    assert login(successor.phone).get("/admin/grant/team/").status_code == 200


def test_transfer_to_an_assistant_drops_the_assistant_grant(login, sms):
    unit_a = inst(UNIT_A_NAME)
    helper, _ = make_user("13911110111", "助理", unit_a)
    manager = db.session.scalar(select(User).where(User.phone == UNIT_A))
    grant_team.add_assistant(scope_for(manager), manager, unit_a.id, phone=helper.phone, password=PW,
                         sms_code=sms.send(UNIT_A, "step_up"))
    grant_team.transfer_manager(scope_for(manager), manager, unit_a.id, phone=helper.phone, password=PW,
                            sms_code=sms.send(UNIT_A, "step_up"))
    active = [(x.role, x.user_id) for x in grants_of(unit_a) if x.state == "active"]
    assert active == [("manager", helper.id)]
