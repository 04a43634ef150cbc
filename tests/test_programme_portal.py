"""我参与的业务 on /me and a programme's own page: entering each business, issuing and binding its codes."""
from sqlalchemy import select

from admin_app.extensions import db
from admin_app.models import AdminGrant, User
from admin_app.services import programmes
from tests.conftest import DISTRICT_A, DISTRICT_B, STAFF_A, SUPER, UNIT_A
from tests.test_personal_centre import Links
from tests.test_registry_support import DISTRICT_A_NAME, HOSPITAL_A_NAME, PW, inst, make_user, sms

__all__ = ["sms"]


def user(phone: str) -> User:
    return db.session.scalar(select(User).where(User.phone == phone))


def talent(institutions: str = DISTRICT_A_NAME):
    return programmes.save(None, user(SUPER), name="人才评价", code="talent", description="卫生人才职称评价",
                           institutions=institutions)


def html_of(client, path: str) -> str:
    resp = client.get(path)
    assert resp.status_code == 200, (path, resp.status_code)
    return resp.get_data(as_text=True)


def test_a_unit_admin_sees_his_businesses_and_enters_each(login):
    client = login(UNIT_A)
    me = html_of(client, "/me")
    assert "我参与的业务" in me and 'data-programme="workforce"' in me and "卫生人员上报" in me
    assert Links(me).in_("page")["/admin/"][0] == "进入管理后台"
    assert "/programmes/" not in me
    talent()
    me = html_of(client, "/me")
    assert 'data-programme="talent"' in me and "您所在单位参与本业务" in me
    assert Links(me).in_("page")["/programmes/talent"][0] == "进入人才评价"
    page = html_of(client, "/programmes/talent")
    assert "人才评价" in page and "您在本业务中暂无管理权限" in page and 'id="programme-grants"' not in page


def test_an_unverified_staff_member_is_shown_no_businesses_yet(login):
    talent()
    me = html_of(login(STAFF_A), "/me")
    assert "我参与的业务" not in me and "/programmes/talent" not in me


def test_a_programme_outside_ones_unit_is_neither_shown_nor_opened(login):
    talent()
    client = login(DISTRICT_B)
    assert "/programmes/talent" not in html_of(client, "/me")
    assert client.get("/programmes/talent").status_code == 404
    assert client.post("/programmes/talent/codes", data={"rowid": str(inst(HOSPITAL_A_NAME).id)}).status_code == 404
    assert client.get("/programmes/workforce").status_code == 404  # the default one is the back office
    assert client.get("/programmes/" + "x" * 300).status_code == 404


def test_a_manager_of_a_programme_issues_its_code_and_the_lead_binds_it_into_that_programme(login, sms):
    prog = talent()
    district = inst(DISTRICT_A_NAME)
    db.session.add(AdminGrant(institution_id=district.id, programme_id=prog.id, role="manager", state="active",
                              user_id=user(DISTRICT_A).id))
    db.session.commit()
    client = login(DISTRICT_A)
    me = html_of(client, "/me")
    assert "人才评价" in me and f"{DISTRICT_A_NAME} · 业务负责人" in me
    page = html_of(client, "/programmes/talent")
    hospital = inst(HOSPITAL_A_NAME)
    assert f"{DISTRICT_A_NAME} · 业务负责人" in page and HOSPITAL_A_NAME in page
    assert f'data-institution-id="{hospital.id}" data-grant-state="none"' in page
    assert client.post("/programmes/talent/codes", data={"rowid": []}).status_code == 302  # nothing ticked
    resp = client.post("/programmes/talent/codes", data={"rowid": [str(hospital.id), "99999", "x"]},
                       follow_redirects=True)
    page = resp.get_data(as_text=True)
    assert "已为 1 个机构生成授权码" in page
    [grant] = db.session.scalars(select(AdminGrant).where(AdminGrant.institution_id == hospital.id)).all()
    assert grant.programme_id == prog.id and grant.state == "issued" and grant.code in page
    # the hospital's lead adds the business with that code and lands on the programme's page, not the back office
    lead, _n = make_user("13900000081", "孙院长", hospital)
    lead_client = login("13900000081")
    lead_client.post("/grants/bind", data={"send_sms": "1"})
    resp = lead_client.post("/grants/bind", data={"code": grant.code, "password": PW,
                                                  "sms_code": sms.last("13900000081", "step_up")})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/programmes/talent")
    assert lead_client.get("/admin/").status_code == 403
    assert f"{HOSPITAL_A_NAME} · 业务负责人" in html_of(lead_client, "/programmes/talent")


def test_the_platform_admin_opens_a_programme_page_from_the_grid_and_authorizes_its_institutions(login):
    talent()
    client = login(SUPER)
    grid = html_of(client, "/admin/programme/")
    assert Links(grid).in_("page")["/programmes/talent"][0] == "业务页面"
    page = html_of(client, "/programmes/talent")
    assert f'data-institution-id="{inst(DISTRICT_A_NAME).id}"' in page  # the participating institution itself


def test_a_deactivated_programme_leaves_the_personal_centre(login):
    prog = talent()
    programmes.set_active([prog.id], False, user(SUPER))
    client = login(UNIT_A)
    assert "/programmes/talent" not in html_of(client, "/me")
    assert client.get("/programmes/talent").status_code == 404


# --------------------------------------------------------------------------- the grant grid's programme choice

def test_the_grant_grid_issues_codes_of_the_chosen_programme_with_the_default_preselected(login):
    prog = talent()
    hospital = inst(HOSPITAL_A_NAME)
    client = login(SUPER)
    grid = html_of(client, "/admin/grant/?search=" + HOSPITAL_A_NAME)
    assert 'name="programme"' in grid and '<option value="workforce" selected>' in grid and "人才评价" in grid
    grid = html_of(client, "/admin/grant/?programme=talent&search=" + HOSPITAL_A_NAME)
    assert '<option value="talent" selected>' in grid and 'type="hidden" name="programme" value="talent"' in grid
    resp = client.post("/admin/grant/action/", data={"action": "generate", "rowid": str(hospital.id),
                                                     "programme": "talent", "url": "/admin/grant/?programme=talent"})
    assert resp.status_code == 302
    [grant] = db.session.scalars(select(AdminGrant).where(AdminGrant.institution_id == hospital.id)).all()
    assert grant.programme_id == prog.id  # the workforce grid of the same hospital still has no code
    assert 'data-grant-state="none"' in html_of(client, "/admin/grant/?search=" + HOSPITAL_A_NAME)
    assert grant.code in html_of(client, "/admin/grant/?programme=talent&search=" + HOSPITAL_A_NAME)


def test_an_officer_without_a_right_in_a_programme_is_offered_only_the_default_one_and_refused_another(login):
    talent()
    client = login(DISTRICT_A)
    assert "data-grant-programme" not in html_of(client, "/admin/grant/")  # one choice: no menu
    assert client.get("/admin/grant/?programme=talent").status_code == 404
    hospital = inst(HOSPITAL_A_NAME)
    resp = client.post("/admin/grant/action/", data={"action": "generate", "rowid": str(hospital.id),
                                                     "programme": "talent"})
    assert resp.status_code == 404
    assert db.session.scalars(select(AdminGrant).where(AdminGrant.institution_id == hospital.id)).all() == []
