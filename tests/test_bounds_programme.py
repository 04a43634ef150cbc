"""Hostile input to the programme pages (业务助理, 授权管理) and the institution search pickers (issue 19): every
answer is below 500 with bounded headers, and nothing is written."""
from sqlalchemy import func, select

from admin_app.extensions import db
from admin_app.models import AdminGrant, Preregistration, Programme
from tests.conftest import DISTRICT_A, SUPER, UNIT_A
from tests.test_bounds_property import LONG, NASTY, NUMBERS, check
from tests.test_programme_team import talent_managed_by

VALUES = NUMBERS[:8] + LONG[:3] + NASTY


def snapshot() -> tuple:
    db.session.expire_all()
    return tuple(db.session.scalar(select(func.count()).select_from(m)) for m in (AdminGrant, Preregistration,
                                                                                  Programme)) + (
        db.session.scalar(select(func.count()).select_from(AdminGrant).where(AdminGrant.state == "active")),)


def test_hostile_values_on_the_programme_team_pages_are_answered_without_a_write(login):
    talent_managed_by()
    before = snapshot()
    manager = login(UNIT_A)
    for v in VALUES:
        check(manager.get("/programmes/talent/team", query_string={"institution": v, "remove": v}), ("team", v))
        check(manager.get("/programmes/" + v[:300] + "/team"), ("code", v[:40]))
        for url, prefix, fields in (("assistant", "add", ("institution_id", "by", "phone", "id_type", "id_number")),
                                    ("assistant/remove", "remove", ("grant_id",)),
                                    ("transfer", "transfer", ("institution_id", "by", "phone", "confirm"))):
            data = {f"{prefix}-{f}": v for f in fields} | {f"{prefix}-password": v, f"{prefix}-sms_code": v}
            check(manager.post(f"/programmes/talent/team/{url}", data=data), (url, v[:40]))
    assert snapshot() == before


def test_hostile_values_on_the_rights_page_and_the_pickers_are_answered_without_a_write(login):
    prog = talent_managed_by()
    before = snapshot()
    admin, officer = login(SUPER), login(DISTRICT_A)
    for v in VALUES:
        check(admin.get("/admin/programme/rights/", query_string={"id": v, "page": v}), ("rights", v[:40]))
        check(admin.get("/admin/programme/rights/", query_string={"id": prog.id, "page": v}), ("page", v[:40]))
        check(admin.post(f"/admin/programme/rights/revoke/?id={v[:200]}", data={"rowid": [v, v], "mode": v}),
              ("revoke", v[:40]))
        check(admin.post("/admin/programme/new/", data={"name": "", "code": "", "institutions": v,
                                                        "institutions_q": v, "find_unit": "1"}), ("find", v[:40]))
        check(admin.post("/admin/programme/new/", data={"institutions_pick": v, "add_unit": "1"}), ("add", v[:40]))
        check(officer.get("/admin/preregistration/institutions/", query_string={"q": v}), ("picker", v[:40]))
        check(officer.post("/admin/preregistration/new/", data={"institution_id": v, "institution_id_q": v,
                                                                "phone": v, "name": v}), ("prereg", v[:40]))
    # only the confirmation of a revoke for the real programme reaches the rows; hostile rowids name none
    check(admin.post(f"/admin/programme/rights/revoke/?id={prog.id}", data={"rowid": list(VALUES), "confirm": "1"}),
          "rowids")
    assert snapshot() == before
