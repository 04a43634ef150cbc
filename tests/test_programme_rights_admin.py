"""授权管理 of a programme (/admin/programme/rights/): the platform admin sees who holds which right in a programme
other than the default and revokes (解除授权) them after a confirmation, in that programme only."""
from sqlalchemy import select

from admin_app.extensions import db
from admin_app.models import AdminGrant, AuditLog
from admin_app.services import programmes
from tests.conftest import DISTRICT_A, SUPER, UNIT_A
from tests.test_personal_centre import Links
from tests.test_programme_rights import grant_right, user
from tests.test_registry_support import DISTRICT_A_NAME, HOSPITAL_A_NAME, UNIT_A_NAME, inst, make_user


def talent_with_rights():
    """人才评价 in district A: UNIT_A manages unit A there with an assistant; the hospital has an unactivated code."""
    prog = programmes.save(None, user(SUPER), name="人才评价", code="talent", description="",
                           institutions=DISTRICT_A_NAME)
    unit, hospital = inst(UNIT_A_NAME), inst(HOSPITAL_A_NAME)
    grant_right(user(UNIT_A), unit, prog)
    grant_right(make_user("13911113001", "赵助理", unit)[0], unit, prog, role="assistant")
    db.session.add(AdminGrant(institution_id=hospital.id, programme_id=prog.id, role="manager", state="issued",
                              code="ABCDEFGH"))
    db.session.commit()
    return prog, unit, hospital


def live(prog, institution) -> list[str]:
    db.session.expire_all()
    return [g.role for g in db.session.scalars(select(AdminGrant).where(
        AdminGrant.programme_id == prog.id, AdminGrant.institution_id == institution.id,
        AdminGrant.state.in_(("issued", "active"))).order_by(AdminGrant.id))]


def test_the_platform_admin_revokes_a_programme_right_after_confirming_and_the_default_one_stays(login):
    prog, unit, hospital = talent_with_rights()
    client = login(SUPER)
    grid = client.get("/admin/programme/").get_data(as_text=True)
    url = f"/admin/programme/rights/?id={prog.id}"
    assert Links(grid).in_("page")[url][0] == "授权管理"
    page = client.get(url).get_data(as_text=True)
    assert UNIT_A_NAME in page and HOSPITAL_A_NAME in page and "ABCDEFGH" in page and "赵*理" in page
    # the first post asks; nothing changes until confirmed
    resp = client.post(f"/admin/programme/rights/revoke/?id={prog.id}", data={"rowid": [str(unit.id)], "mode": "all"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "确认解除以下机构的授权" in html and 'name="confirm" value="1"' in html
    assert live(prog, unit) == ["manager", "assistant"]
    resp = client.post(f"/admin/programme/rights/revoke/?id={prog.id}",
                       data={"rowid": [str(unit.id)], "mode": "all", "confirm": "1"}, follow_redirects=True)
    assert "已解除 1 个机构的授权" in resp.get_data(as_text=True)
    assert live(prog, unit) == [] and live(prog, hospital) == ["manager"]
    assert len(db.session.scalars(select(AuditLog).where(AuditLog.action == "grant_reset")).all()) == 2
    assert login(UNIT_A).get("/admin/").status_code == 200  # his right in the default programme is untouched


def test_batch_revoking_unactivated_codes_leaves_active_rights(login):
    prog, unit, hospital = talent_with_rights()
    client = login(SUPER)
    resp = client.post(f"/admin/programme/rights/revoke/?id={prog.id}",
                       data={"rowid": [str(unit.id), str(hospital.id)], "mode": "unactivated", "confirm": "1"})
    assert resp.status_code == 302
    assert live(prog, hospital) == [] and live(prog, unit) == ["manager", "assistant"]


def test_nothing_chosen_or_hostile_ids_are_refused_with_a_message_and_others_get_no_page(login):
    prog, unit, _hospital = talent_with_rights()
    client = login(SUPER)
    for rowids in ([], ["x", "-1", "9" * 40], [str(inst(DISTRICT_A_NAME).id)]):  # the district holds no right
        resp = client.post(f"/admin/programme/rights/revoke/?id={prog.id}",
                           data={"rowid": rowids, "mode": "all", "confirm": "1"}, follow_redirects=True)
        assert "请至少选择一个在本业务中已获授权的机构" in resp.get_data(as_text=True)
    assert live(prog, unit) == ["manager", "assistant"]
    for bad in ("999999", "x", "9" * 40, ""):
        assert client.get(f"/admin/programme/rights/?id={bad}").status_code == 404
    default = programmes.default_programme()
    assert client.get(f"/admin/programme/rights/?id={default.id}").status_code == 302  # the grant grid
    for phone in (DISTRICT_A, UNIT_A):
        other = login(phone)
        assert other.get(f"/admin/programme/rights/?id={prog.id}").status_code == 403
        resp = other.post(f"/admin/programme/rights/revoke/?id={prog.id}",
                          data={"rowid": [str(unit.id)], "mode": "all", "confirm": "1"})
        assert resp.status_code == 403
    assert live(prog, unit) == ["manager", "assistant"]
