"""The scope rule: an admin of institution X sees everything under X's path, and nothing else.

End to end through the scoped grids (/admin/institution/, /admin/audit/) and directly through
services.scope.restrict for every model it knows.
"""
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select
from stdnum.cn import uscc

from admin_app.extensions import db
from admin_app.models import (
    AdminGrant,
    AuditLog,
    IdentityVerification,
    Institution,
    InstitutionApplication,
    Region,
    ReviewEvent,
    StaffProfile,
    User,
)
from admin_app.services.audit import record
from admin_app.services.scope import Scope, institution_in_scope, restrict, scope_for
from tests.conftest import DEMO_PASSWORD, DISTRICT_A, DISTRICT_B, PROVINCE, STAFF_A, STAFF_B, SUPER, UNIT_A, UNIT_B

NATION = "国家卫生健康委员会"
BEIJING = "北京市卫生健康委员会"
GUANGDONG = "广东省卫生健康委员会"
XICHENG = "北京市西城区卫生健康委员会"  # district A
CHAOYANG = "北京市朝阳区卫生健康委员会"  # district B
XICHENG_CDC = "北京市西城区疾病预防控制中心"  # unit A
XICHENG_HOSPITAL = "北京市西城区人民医院"  # another unit under district A
CHAOYANG_CDC = "北京市朝阳区疾病预防控制中心"  # unit B
TIANHE = "广州市天河区卫生健康局"

ADMINS = (SUPER, PROVINCE, DISTRICT_A, UNIT_A, DISTRICT_B, UNIT_B)
HOME = {PROVINCE: BEIJING, DISTRICT_A: XICHENG, UNIT_A: XICHENG_CDC, DISTRICT_B: CHAOYANG, UNIT_B: CHAOYANG_CDC}


def make_uscc(n: int) -> str:
    """A valid unified social credit code, different for each n."""
    body = f"12110000MB{n:07d}"
    return body + uscc.calc_check_digit(body)


def inst(name: str) -> Institution:
    return db.session.scalar(select(Institution).where(Institution.name == name))


def user(phone: str) -> User:
    return db.session.scalar(select(User).where(User.phone == phone))


def subtree_ids(phone: str) -> set[int]:
    """Ids of the institutions a demo admin may see, computed from the tree without the scope service."""
    everything = db.session.scalars(select(Institution)).all()
    if phone == SUPER:
        return {i.id for i in everything}
    root = inst(HOME[phone])
    return {i.id for i in everything if i.path.startswith(root.path)}


def listed_ids(html: str) -> set[int]:
    """Row ids of a Flask-Admin list page (from each row's details link)."""
    return {int(x) for x in re.findall(r"details/\?id=(\d+)", html)}


# -- the institution grid ---------------------------------------------------------------------------------


def test_district_a_officer_sees_only_district_a_institutions(login):
    officer = login(DISTRICT_A)
    html = officer.get("/admin/institution/").get_data(as_text=True)
    shown = listed_ids(html)
    assert shown == subtree_ids(DISTRICT_A)
    assert inst(XICHENG_HOSPITAL).id in shown
    assert inst(CHAOYANG_CDC).id not in shown and inst(CHAOYANG).id not in shown
    assert inst(BEIJING).id not in shown  # not upwards either
    assert CHAOYANG_CDC not in html


def test_province_officer_sees_both_districts_and_their_units(login):
    html = login(PROVINCE).get("/admin/institution/").get_data(as_text=True)
    shown = listed_ids(html)
    assert shown == subtree_ids(PROVINCE)
    assert {inst(XICHENG).id, inst(CHAOYANG).id, inst(XICHENG_CDC).id, inst(CHAOYANG_CDC).id} <= shown
    assert inst(TIANHE).id not in shown and inst(GUANGDONG).id not in shown and inst(NATION).id not in shown


def test_unit_admin_sees_only_its_own_unit(login):
    html = login(UNIT_A).get("/admin/institution/").get_data(as_text=True)
    assert listed_ids(html) == {inst(XICHENG_CDC).id}


def test_superuser_sees_every_institution(login):
    html = login(SUPER).get("/admin/institution/").get_data(as_text=True)
    assert listed_ids(html) == subtree_ids(SUPER)


def test_every_demo_admin_sees_exactly_their_subtree_in_the_institution_grid(login):
    for phone in ADMINS:
        html = login(phone).get("/admin/institution/").get_data(as_text=True)
        assert listed_ids(html) == subtree_ids(phone), phone


def test_searching_the_grid_never_reaches_outside_the_scope(login):
    officer = login(DISTRICT_A)
    html = officer.get("/admin/institution/?search=" + "朝阳").get_data(as_text=True)
    assert listed_ids(html) == set()
    html = officer.get("/admin/institution/?search=" + "疾病预防控制中心").get_data(as_text=True)
    assert listed_ids(html) == {inst(XICHENG_CDC).id}


def test_sibling_district_institution_details_are_a_404(login):
    officer = login(DISTRICT_A)
    assert officer.get(f"/admin/institution/details/?id={inst(XICHENG_CDC).id}").status_code == 200
    for name in (CHAOYANG, CHAOYANG_CDC, BEIJING, NATION):
        resp = officer.get(f"/admin/institution/details/?id={inst(name).id}")
        assert resp.status_code == 404, name
        assert CHAOYANG_CDC not in resp.get_data(as_text=True)


@pytest.mark.parametrize("bad_id", ["999999", "abc", "", "1 OR 1=1"])
def test_nonexistent_or_malformed_ids_are_a_404(login, bad_id):
    assert login(DISTRICT_A).get(f"/admin/institution/details/?id={bad_id}").status_code in (302, 404)


def test_institutions_are_never_created_or_deleted_from_the_grid(login):
    """New institutions come through applications; none is deleted (staff and history hang from them)."""
    su = login(SUPER)
    target = inst(XICHENG_CDC).id
    assert su.get("/admin/institution/new/").status_code in (302, 403, 404)
    su.post("/admin/institution/delete/", data={"id": str(target)})
    assert db.session.get(Institution, target) is not None


def test_the_grid_shows_region_names_not_codes(login):
    html = login(UNIT_A).get("/admin/institution/").get_data(as_text=True)
    assert "西城区" in html and "&lt;Region" not in html


# -- who may enter at all ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/admin/", "/admin/institution/", "/admin/audit/",
                                  "/admin/institution/details/?id=1"])
def test_anonymous_visitors_are_sent_to_login_with_next(client, path):
    resp = client.get(path)
    assert resp.status_code == 302
    loc = urlsplit(resp.headers["Location"])
    assert loc.path == "/login"
    assert parse_qs(loc.query)["next"] == [path]


def test_following_next_after_login_returns_to_the_requested_grid(client):
    loc = client.get("/admin/audit/").headers["Location"]
    resp = client.post(loc, data={"phone": DISTRICT_A, "password": DEMO_PASSWORD})
    assert resp.status_code == 302 and resp.headers["Location"] == "/admin/audit/"
    assert client.get("/admin/audit/").status_code == 200


@pytest.mark.parametrize("path", ["/admin/", "/admin/institution/", "/admin/audit/"])
def test_staff_without_an_admin_grant_get_403(app, path):
    c = app.test_client()
    c.post("/login", data={"phone": STAFF_A, "password": DEMO_PASSWORD})
    resp = c.get(path)
    assert resp.status_code == 403
    assert "您无权访问此页面" in resp.get_data(as_text=True)


def test_a_revoked_grant_takes_the_back_office_away(login):
    officer = login(DISTRICT_A)
    assert officer.get("/admin/institution/").status_code == 200
    grant = db.session.scalar(select(AdminGrant).where(AdminGrant.user_id == user(DISTRICT_A).id))
    grant.state = "reset"
    db.session.commit()
    assert officer.get("/admin/institution/").status_code == 403


def test_a_second_client_does_not_inherit_the_first_ones_sign_in(app, login):
    """Guards the test harness itself: each request has its own `g` (current user, cached scope)."""
    assert login(SUPER).get("/admin/").status_code == 200
    assert app.test_client().get("/admin/").status_code == 302


# -- the audit grid ---------------------------------------------------------------------------------------


@pytest.fixture
def audit_rows(app):
    """One audit row about each of a few institutions, told apart by their target ids."""
    rows = {}
    for name in (NATION, BEIJING, XICHENG, XICHENG_CDC, XICHENG_HOSPITAL, CHAOYANG, CHAOYANG_CDC, TIANHE):
        rows[name] = record("probe", target_type="institution", target_id=f"probe-{inst(name).id}",
                            institution_id=inst(name).id, actor_id=user(SUPER).id)
    rows[None] = record("probe", target_type="system", target_id="probe-none", actor_id=user(SUPER).id)
    db.session.commit()
    return {k: v.id for k, v in rows.items()}


def test_district_a_officer_sees_only_audit_rows_of_district_a(login, audit_rows):
    html = login(DISTRICT_A).get("/admin/audit/?page_size=1000").get_data(as_text=True)
    shown = listed_ids(html)
    assert {audit_rows[XICHENG], audit_rows[XICHENG_CDC], audit_rows[XICHENG_HOSPITAL]} <= shown
    assert not shown & {audit_rows[CHAOYANG], audit_rows[CHAOYANG_CDC], audit_rows[BEIJING], audit_rows[NATION],
                        audit_rows[TIANHE], audit_rows[None]}


def test_province_officer_sees_audit_rows_of_both_districts(login, audit_rows):
    shown = listed_ids(login(PROVINCE).get("/admin/audit/?page_size=1000").get_data(as_text=True))
    assert {audit_rows[n] for n in (BEIJING, XICHENG, XICHENG_CDC, CHAOYANG, CHAOYANG_CDC)} <= shown
    assert not shown & {audit_rows[NATION], audit_rows[TIANHE], audit_rows[None]}


def test_unit_admin_sees_only_its_units_audit_rows(login, audit_rows):
    shown = listed_ids(login(UNIT_A).get("/admin/audit/?page_size=1000").get_data(as_text=True))
    assert audit_rows[XICHENG_CDC] in shown
    assert not shown & {audit_rows[n] for n in (XICHENG, XICHENG_HOSPITAL, CHAOYANG_CDC, None)}


def test_superuser_sees_every_audit_row_including_system_ones(login, audit_rows):
    shown = listed_ids(login(SUPER).get("/admin/audit/?page_size=1000").get_data(as_text=True))
    assert set(audit_rows.values()) <= shown


def test_sibling_district_audit_row_details_are_a_404(login, audit_rows):
    officer = login(DISTRICT_A)
    assert officer.get(f"/admin/audit/details/?id={audit_rows[XICHENG_CDC]}").status_code == 200
    assert officer.get(f"/admin/audit/details/?id={audit_rows[CHAOYANG_CDC]}").status_code == 404
    assert officer.get(f"/admin/audit/details/?id={audit_rows[None]}").status_code == 404


# -- services.scope.restrict, model by model -------------------------------------------------------------


@pytest.fixture
def scoped_world(app):
    """Rows of every scoped model in unit A, unit B and Guangdong (outside the Beijing province)."""
    su = user(SUPER)
    tianhe = inst(TIANHE)
    gd_profile = db.session.scalar(select(StaffProfile).join(Institution, Institution.id == StaffProfile.institution_id)
                                   .where(Institution.path.like(tianhe.path + "%")).limit(1))
    staff = [user(STAFF_A), user(STAFF_B), db.session.get(User, gd_profile.user_id)]
    for k, name in enumerate((XICHENG_CDC, CHAOYANG_CDC, TIANHE)):
        db.session.add(InstitutionApplication(
            name=f"新建诊所{k}", uscc=make_uscc(k), parent_id=inst(name).id, category="other", region_code="110000",
            address="地址", contact_name="联系人", contact_phone="13912345678"))
        record("probe", institution_id=inst(name).id)
    for u in staff:
        db.session.add(IdentityVerification(user_id=u.id, id_type="passport", id_number_enc="x",
                                            id_number_index=f"idx-{u.id}", id_number_masked="E1*****78",
                                            name=u.name, front_image="front.jpg"))
        db.session.add(ReviewEvent(profile_id=u.profile.id, actor_id=su.id, action="submit", to_status="submitted"))
    db.session.add(AdminGrant(institution_id=tianhe.id, role="manager", state="issued", code="TIANHE23",
                              issued_by_id=su.id))
    db.session.commit()


def _institution_of(model, row) -> int | None:
    """The institution a row belongs to, computed in Python (the independent oracle for restrict)."""
    if model is Institution:
        return row.id
    if model in (StaffProfile, User, AdminGrant, AuditLog):
        return row.institution_id
    if model is InstitutionApplication:
        return row.parent_id
    if model is IdentityVerification:
        return db.session.get(User, row.user_id).institution_id
    if model is ReviewEvent:
        return db.session.get(StaffProfile, row.profile_id).institution_id
    raise AssertionError(model)


SCOPED_MODELS = (Institution, StaffProfile, User, AdminGrant, AuditLog, InstitutionApplication,
                 IdentityVerification, ReviewEvent)


@pytest.mark.parametrize("model", SCOPED_MODELS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("phone", ADMINS)
def test_restrict_keeps_exactly_the_rows_of_the_admins_subtree(scoped_world, model, phone):
    scope = scope_for(user(phone))
    allowed = subtree_ids(phone)
    every = db.session.scalars(select(model)).unique().all()
    expected = {r.id for r in every
                if phone == SUPER or _institution_of(model, r) in allowed}
    got = {r.id for r in db.session.scalars(restrict(select(model), model, scope)).unique()}
    assert got == expected
    assert expected, "the fixture should give every model rows in every scope"
    if phone != SUPER:
        assert got != {r.id for r in every}, "a non-superuser never sees everything in this demo"


@pytest.fixture
def national_officer(scoped_world) -> User:
    """An officer of the root commission: his scope reaches every institution."""
    from admin_app.models.types import utcnow

    root = db.session.scalar(select(Institution).where(Institution.parent_id.is_(None)))
    officer = User(phone="13900009999", name="国家专员", password_hash="x", institution_id=root.id,
                   region_code=root.region_code)
    db.session.add(officer)
    db.session.flush()
    db.session.add(AdminGrant(institution_id=root.id, role="manager", state="active", user_id=officer.id,
                              activated_at=utcnow()))
    record("probe")  # a system row: no institution
    db.session.commit()
    return officer


@pytest.mark.parametrize("model", SCOPED_MODELS, ids=lambda m: m.__name__)
def test_an_officer_over_the_whole_tree_sees_every_row_of_an_institution_and_none_without_one(national_officer,
                                                                                             model):
    # The rule asks no list of every institution then (7 ms a statement at 15,000 institutions on SQLite), and
    # still leaves out what belongs to no institution (system audit rows, accounts not yet in a unit).
    scope = scope_for(national_officer)
    every = db.session.scalars(select(model)).unique().all()
    expected = {r.id for r in every if _institution_of(model, r) is not None}
    statement = restrict(select(model), model, scope)
    assert {r.id for r in db.session.scalars(statement).unique()} == expected
    if model is not Institution:
        assert "institution.path" not in str(statement)
    if model in (AuditLog, User):
        assert expected != {r.id for r in every}, "the fixture has rows of no institution"


@pytest.mark.parametrize("model", SCOPED_MODELS, ids=lambda m: m.__name__)
def test_restrict_works_on_legacy_queries_too(scoped_world, model):
    scope = scope_for(user(DISTRICT_A))
    legacy = {r.id for r in restrict(db.session.query(model), model, scope)}
    modern = {r.id for r in db.session.scalars(restrict(select(model), model, scope)).unique()}
    assert legacy == modern


@pytest.mark.parametrize("model", SCOPED_MODELS, ids=lambda m: m.__name__)
def test_a_user_with_no_grant_sees_nothing(scoped_world, model):
    scope = scope_for(user(STAFF_A))
    assert not scope.is_admin
    assert db.session.scalars(restrict(select(model), model, scope)).unique().all() == []
    assert db.session.scalars(restrict(select(model), model, Scope(user_id=None))).unique().all() == []


def test_restrict_refuses_a_model_it_has_no_rule_for(app):
    with pytest.raises(TypeError):
        restrict(select(Region), Region, scope_for(user(DISTRICT_A)))


def test_scope_comes_from_active_grants_only(app):
    officer = user(DISTRICT_A)
    db.session.add(AdminGrant(institution_id=inst(CHAOYANG).id, role="manager", state="issued",
                              user_id=officer.id, code="ISSUED23"))
    db.session.commit()
    scope = scope_for(officer)
    assert scope.paths == (inst(XICHENG).path,)
    assert scope.roles == {inst(XICHENG).id: "manager"}


def test_institution_in_scope_refuses_a_path_into_another_subtree(app):
    scope = scope_for(user(DISTRICT_A))
    assert institution_in_scope(inst(XICHENG_CDC).id, scope)
    assert institution_in_scope(inst(XICHENG).id, scope)
    assert not institution_in_scope(inst(CHAOYANG_CDC).id, scope)
    assert not institution_in_scope(inst(BEIJING).id, scope)
    assert not institution_in_scope(None, scope)
    assert not institution_in_scope(10 ** 9, scope)


def test_path_prefixes_do_not_leak_into_ids_that_share_digits(app):
    """/1/2/ must not cover /1/23/: paths end with a slash, so a prefix is always a whole ancestor."""
    scope = Scope(user_id=1, paths=("/1/2/",))
    assert scope.covers_path("/1/2/5/")
    assert not scope.covers_path("/1/23/")
    assert not scope.covers_path("/1/")
