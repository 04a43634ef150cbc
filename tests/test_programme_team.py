"""业务助理 in a programme other than the default: its business manager adds, revokes and hands over rights on the
programme's own pages (/programmes/<code>/team), as the back office's team page does for the default programme."""
from sqlalchemy import select

from admin_app.extensions import db
from admin_app.models import AdminGrant, AuditLog
from admin_app.services import programmes
from tests.conftest import DISTRICT_A, STAFF_A, SUPER, UNIT_A, UNIT_B
from tests.test_personal_centre import Links
from tests.test_programme_rights import grant_right, user
from tests.test_registry_support import HOSPITAL_B_NAME, PW, UNIT_A_NAME, inst, make_user, sms

__all__ = ["sms"]
TEAM = "/programmes/talent/team"


def talent_managed_by(phone: str = UNIT_A):
    """人才评价, taking part in unit A's subtree, whose business manager there is `phone`."""
    prog = programmes.save(None, user(SUPER), name="人才评价", code="talent", description="",
                           institutions=UNIT_A_NAME)
    grant_right(user(phone), inst(UNIT_A_NAME), prog)
    return prog


def rights(prog, role=None) -> list[AdminGrant]:
    db.session.expire_all()
    stmt = select(AdminGrant).where(AdminGrant.programme_id == prog.id, AdminGrant.state == "active")
    if role:
        stmt = stmt.where(AdminGrant.role == role)
    return list(db.session.scalars(stmt.order_by(AdminGrant.id)))


def audits(action: str) -> int:
    return len(db.session.scalars(select(AuditLog).where(AuditLog.action == action)).all())


def add_data(unit_id: int, phone: str, sms_code: str, **extra) -> dict:
    return {"add-institution_id": str(unit_id), "add-by": "phone", "add-phone": phone, "add-password": PW,
            "add-sms_code": sms_code, **extra}


def test_a_programme_manager_reaches_his_assistants_by_link_adds_one_and_revokes_him_with_confirmation(login, sms):
    prog = talent_managed_by()
    unit = inst(UNIT_A_NAME)
    helper, _n = make_user("13911112001", "韩助理", unit)
    c = login(UNIT_A)
    page = c.get("/programmes/talent").get_data(as_text=True)
    assert Links(page).in_("page")[TEAM][0] == "业务助理"
    html = c.get(TEAM).get_data(as_text=True)
    assert UNIT_A_NAME in html and "data-no-assistants" in html and 'name="add-phone"' in html
    c.post(TEAM + "/assistant", data={"add-institution_id": str(unit.id), "send_sms": "1"})
    resp = c.post(TEAM + "/assistant", data=add_data(unit.id, helper.phone, sms.last(UNIT_A, "step_up")))
    assert resp.status_code == 302 and resp.headers["Location"].endswith(TEAM)
    [g] = rights(prog, "assistant")
    assert g.user_id == helper.id and audits("assistant_added") == 1
    # the right is the programme's only: the back office (the default programme) stays closed to him
    assert login(helper.phone).get("/admin/").status_code == 403
    assert "韩助理"[0] in c.get(TEAM).get_data(as_text=True)
    # 解除授权: a link opens the confirmation with identity confirmation; a wrong code changes nothing
    confirm = c.get(f"{TEAM}?institution={unit.id}&remove={g.id}").get_data(as_text=True)
    assert f'data-confirm-remove="{g.id}"' in confirm and "确认解除授权" in confirm
    html = c.post(TEAM + "/assistant/remove", data={"remove-grant_id": str(g.id), "remove-password": PW,
                                                    "remove-sms_code": "000000"}).get_data(as_text=True)
    assert f'data-confirm-remove="{g.id}"' in html and "验证码" in html and rights(prog, "assistant") == [g]
    resp = c.post(TEAM + "/assistant/remove", data={"remove-grant_id": str(g.id), "remove-password": PW,
                                                    "remove-sms_code": sms.send(UNIT_A, "step_up")})
    assert resp.status_code == 302 and rights(prog, "assistant") == [] and audits("assistant_removed") == 1


def test_bad_input_on_the_assistant_form_is_refused_in_chinese_and_writes_nothing(login, sms):
    prog = talent_managed_by()
    unit = inst(UNIT_A_NAME)
    outsider, _n = make_user("13911112002", "外单位", inst(HOSPITAL_B_NAME))
    member, _n = make_user("13911112004", "本单位", unit)
    c = login(UNIT_A)
    for data, message in (
            (add_data(unit.id, "12345", "123456"), "请输入有效的中国大陆手机号码"),
            (add_data(unit.id, "13911119999", sms.send(UNIT_A, "step_up")), "未找到该号码对应的已实名认证用户"),
            (add_data(unit.id, outsider.phone, sms.send(UNIT_A, "step_up")), "工作单位不是"),
            (add_data(unit.id, UNIT_A, sms.send(UNIT_A, "step_up")), "您已是该机构的业务负责人"),
            (add_data(unit.id, member.phone, "123456", **{"add-password": ""}), "请输入登录密码以确认本人身份"),
            (add_data(unit.id, "1" * 500, "1" * 500), "is-invalid")):
        resp = c.post(TEAM + "/assistant", data=data)
        assert resp.status_code == 200, data
        assert message in resp.get_data(as_text=True), message
    assert [g.role for g in rights(prog)] == ["manager"] and audits("assistant_added") == 0


def test_only_the_programme_manager_of_that_institution_manages_its_assistants(login, sms):
    prog = talent_managed_by()
    unit = inst(UNIT_A_NAME)
    # the default programme's manager of unit B, an officer above unit A and a staff member of unit A
    for phone, status in ((UNIT_B, 404), (DISTRICT_A, 404), (STAFF_A, 200)):
        c = login(phone)
        assert c.get(TEAM).status_code == status, phone
        resp = c.post(TEAM + "/assistant", data=add_data(unit.id, STAFF_A, "123456"))
        assert resp.status_code == 404, phone
    assert "您不是本业务中任何机构的业务负责人" in login(STAFF_A).get(TEAM).get_data(as_text=True)
    # the default programme's manager of unit A cannot touch the programme's assistants through the back office
    helper = grant_right(user(STAFF_A), unit, prog, role="assistant")
    resp = login(UNIT_A).post("/admin/grant/team/assistant/remove/", data={
        "remove-grant_id": str(helper.id), "remove-password": PW, "remove-sms_code": sms.send(UNIT_A, "step_up")})
    assert resp.status_code == 404 and helper in rights(prog, "assistant")
    # nor can an assistant of the programme remove another
    resp = login(STAFF_A).post(TEAM + "/assistant/remove", data={"remove-grant_id": str(helper.id),
                                                                  "remove-password": PW, "remove-sms_code": "1"})
    assert resp.status_code == 404


def test_the_manager_hands_his_right_over_after_confirming_and_leaves_the_team_page(login, sms):
    prog = talent_managed_by()
    unit = inst(UNIT_A_NAME)
    successor, _n = make_user("13911112003", "接任者", unit)
    c = login(UNIT_A)
    data = {"transfer-institution_id": str(unit.id), "transfer-by": "phone", "transfer-phone": successor.phone,
            "transfer-password": PW, "transfer-sms_code": sms.send(UNIT_A, "step_up")}
    html = c.post(TEAM + "/transfer", data=data).get_data(as_text=True)  # not confirmed
    assert "请确认转移业务负责人" in html and rights(prog, "manager")[0].user_id == user(UNIT_A).id
    resp = c.post(TEAM + "/transfer", data={**data, "transfer-confirm": "y"})
    assert resp.status_code == 302
    [manager] = rights(prog, "manager")
    assert manager.user_id == successor.id and audits("manager_transferred") == 1
    assert "您不是本业务中任何机构的业务负责人" in c.get(TEAM).get_data(as_text=True)
    assert login(UNIT_A).get("/admin/").status_code == 200  # his default-programme right is untouched


def test_every_id_on_the_programme_team_page_is_unique_and_every_reference_resolves(login, sms):
    from tests.test_grant_team_ids import assert_ids_sound, parse

    prog = talent_managed_by()
    unit = inst(UNIT_A_NAME)
    helper = grant_right(make_user("13911112005", "助理甲", unit)[0], unit, prog, role="assistant")
    c = login(UNIT_A)
    for html in (c.get(TEAM).get_data(as_text=True),
                 c.get(f"{TEAM}?remove={helper.id}").get_data(as_text=True),
                 c.post(TEAM + "/transfer", data={"transfer-institution_id": str(unit.id), "transfer-by": "phone",
                                                  "transfer-phone": "1" * 40}).get_data(as_text=True),
                 c.post(TEAM + "/assistant/remove", data={"remove-grant_id": str(helper.id),
                                                          "remove-password": "x" * 200}).get_data(as_text=True)):
        page = parse(html)
        assert_ids_sound(page)
        assert all(target in page.ids for target in page.summary_links)
