"""The flask commands: seed-demo, create-superuser, gen-staff, reconcile-counters.

load-regions is tested in test_foundation_regions.
"""
import os
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import make_url
from stdnum.cn import ric
from werkzeug.security import check_password_hash

from admin_app.extensions import db
from admin_app.models import AdminGrant, Institution, Region, StaffProfile, StatusCounter, User
from admin_app.models.profile import STATUSES
from admin_app.seed import DEMO_LOGINS
from admin_app.services.crypto import decrypt
from admin_app.services.identity import index_for, mask
from tests.conftest import (
    DEMO_PASSWORD,
    DISTRICT_A,
    DISTRICT_B,
    PG_URL,
    PROVINCE,
    STAFF_A,
    STAFF_B,
    SUPER,
    UNIT_A,
    UNIT_B,
    _db_uri,
    _pg_recreate,
    make_app,
)

DEMO_PHONES = (SUPER, PROVINCE, DISTRICT_A, UNIT_A, DISTRICT_B, UNIT_B, STAFF_A, STAFF_B)


def run(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def n(model, *where) -> int:
    stmt = select(func.count()).select_from(model)
    return db.session.scalar(stmt.where(*where) if where else stmt)


def counters() -> dict:
    return {(i, s): c for i, s, c in db.session.execute(
        select(StatusCounter.institution_id, StatusCounter.status, StatusCounter.n)) if c}


def group_by_counts() -> dict:
    return {(i, s): c for i, s, c in db.session.execute(
        select(StaffProfile.institution_id, StaffProfile.status, func.count())
        .group_by(StaffProfile.institution_id, StaffProfile.status))}


def profile(phone: str) -> StaffProfile:
    return db.session.scalar(select(StaffProfile).where(StaffProfile.phone == phone))


# -- seed-demo -------------------------------------------------------------------------------------------


@pytest.fixture
def seeded(empty_app):
    result = run(empty_app, "seed-demo")
    assert result.exit_code == 0, result.output
    return result


def test_seed_demo_on_an_empty_database_prints_the_eight_demo_logins(seeded):
    assert DEMO_PASSWORD in seeded.output
    for phone in DEMO_PHONES:
        assert phone in seeded.output
    assert [p for p, _ in DEMO_LOGINS] == list(DEMO_PHONES)


def test_every_demo_login_signs_in_with_the_demo_password(seeded, empty_app):
    for phone in DEMO_PHONES:
        u = db.session.scalar(select(User).where(User.phone == phone))
        assert u is not None and u.active, phone
        assert check_password_hash(u.password_hash, DEMO_PASSWORD)
    c = empty_app.test_client()
    resp = c.post("/login", data={"phone": UNIT_A, "password": DEMO_PASSWORD})
    assert resp.status_code == 302 and resp.headers["Location"] == "/admin/staff/"  # a unit admin: 上报人员列表


def test_the_demo_tree_is_a_centre_two_provinces_four_districts_and_forty_units(seeded):
    by_depth = dict(db.session.execute(select(Institution.depth, func.count()).group_by(Institution.depth)).all())
    assert by_depth == {0: 1, 1: 2, 2: 4, 3: 40}
    for i in db.session.scalars(select(Institution)):
        parent = db.session.get(Institution, i.parent_id) if i.parent_id else None
        assert i.path == (parent.path if parent else "/") + f"{i.id}/"


def test_the_demo_admins_hold_active_grants_on_their_institutions(seeded):
    expected = {PROVINCE: "北京市卫生健康委员会", DISTRICT_A: "北京市西城区卫生健康委员会",
                UNIT_A: "北京市西城区疾病预防控制中心", DISTRICT_B: "北京市朝阳区卫生健康委员会",
                UNIT_B: "北京市朝阳区疾病预防控制中心"}
    for phone, name in expected.items():
        rows = db.session.execute(
            select(Institution.name, AdminGrant.role).join(AdminGrant, AdminGrant.institution_id == Institution.id)
            .join(User, User.id == AdminGrant.user_id)
            .where(User.phone == phone, AdminGrant.state == "active")).all()
        assert [tuple(r) for r in rows] == [(name, "manager")], phone
    su = db.session.scalar(select(User).where(User.phone == SUPER))
    assert su.is_superuser and n(AdminGrant, AdminGrant.user_id == su.id) == 0


def test_the_demo_staff_are_2000_in_every_status_with_the_two_named_ones_pending(seeded):
    assert n(StaffProfile) == 2000
    statuses = dict(db.session.execute(select(StaffProfile.status, func.count()).group_by(StaffProfile.status)).all())
    assert set(statuses) == set(STATUSES)
    assert all(v > 0 for v in statuses.values())
    a, b = profile(STAFF_A), profile(STAFF_B)
    assert a.status == b.status == "submitted"
    assert a.institution.name == "北京市西城区疾病预防控制中心"
    assert b.institution.name == "北京市朝阳区疾病预防控制中心"


def test_every_demo_identity_number_is_valid_and_stored_sealed(seeded, empty_app):
    users = db.session.scalars(select(User).where(User.id_number_enc.is_not(None))).all()
    assert len(users) == 2006
    numbers = set()
    for u in users:
        number = decrypt(u.id_number_enc)
        assert ric.is_valid(number), number
        assert u.id_number_masked == mask(number)
        assert u.id_number_index == index_for(u.id_type, number)
        numbers.add(number)
    profiles = db.session.scalars(select(StaffProfile)).all()
    for p in profiles:
        number = decrypt(p.user.id_number_enc)
        assert p.birth_date == ric.get_birth_date(number)
        assert p.gender == ("male" if int(number[16]) % 2 else "female")


def test_the_demo_counters_match_the_profiles(seeded):
    assert counters() == group_by_counts()


def test_the_demo_avatars_exist_as_files(seeded, empty_app):
    folder = Path(empty_app.config["UPLOAD_FOLDER"]) / "avatar"
    used = set(db.session.scalars(select(StaffProfile.avatar).where(StaffProfile.avatar.is_not(None))))
    assert used and all((folder / name).is_file() for name in used)


def test_seed_demo_is_deterministic(empty_app, tmp_path):
    assert run(empty_app, "seed-demo", "--staff", "120").exit_code == 0
    first = db.session.execute(select(User.phone, User.name, StaffProfile.status, Institution.name)
                               .join(StaffProfile, StaffProfile.user_id == User.id)
                               .join(Institution, Institution.id == StaffProfile.institution_id)
                               .order_by(User.phone)).all()
    other_dir = tmp_path / "second"
    other_dir.mkdir()
    if PG_URL:
        name = f"{make_url(PG_URL).database}_second_{os.getpid()}"
        _pg_recreate(name)
        other = make_app(other_dir, _db_uri(name))
    else:
        other = make_app(other_dir, f"sqlite:///{other_dir / 'second.db'}")
    with other.app_context():
        db.create_all()
        assert run(other, "seed-demo", "--staff", "120").exit_code == 0
        second = db.session.execute(select(User.phone, User.name, StaffProfile.status, Institution.name)
                                    .join(StaffProfile, StaffProfile.user_id == User.id)
                                    .join(Institution, Institution.id == StaffProfile.institution_id)
                                    .order_by(User.phone)).all()
        db.session.remove()
        db.engine.dispose()
    assert first == second and len(first) == 120


def test_seed_demo_refuses_a_database_that_already_has_users(seeded, empty_app):
    before = n(User)
    again = run(empty_app, "seed-demo")
    assert again.exit_code != 0
    assert "not empty" in again.output
    assert n(User) == before


def test_seed_demo_if_empty_does_nothing_on_a_seeded_database(seeded, empty_app):
    before = (n(User), n(Institution), n(StaffProfile))
    again = run(empty_app, "seed-demo", "--if-empty")
    assert again.exit_code == 0 and "not seeded" in again.output
    assert (n(User), n(Institution), n(StaffProfile)) == before


def test_seed_demo_if_empty_seeds_an_empty_database(empty_app):
    result = run(empty_app, "seed-demo", "--if-empty", "--staff", "50")
    assert result.exit_code == 0 and "demo ready" in result.output
    assert n(StaffProfile) == 50 and n(Region) > 3000


# -- create-superuser -----------------------------------------------------------------------------------


def test_create_superuser_makes_a_platform_admin_who_can_sign_in(empty_app):
    result = run(empty_app, "create-superuser", "--phone", "+86 139 1234 5678", "--name", " 王管理 ",
                 "--password", "Strong123")
    assert result.exit_code == 0, result.output
    u = db.session.scalar(select(User).where(User.phone == "13912345678"))
    assert u.is_superuser and u.name == "王管理"
    assert u.password_hash != "Strong123" and check_password_hash(u.password_hash, "Strong123")
    c = empty_app.test_client()
    assert c.post("/login", data={"phone": "13912345678", "password": "Strong123"}).headers["Location"] == "/admin/"


@pytest.mark.parametrize("phone", ["12345", "010-12345678", "2391234567", "139123456789"])
def test_create_superuser_refuses_a_bad_phone(empty_app, phone):
    result = run(empty_app, "create-superuser", "--phone", phone, "--name", "x", "--password", "Strong123")
    assert result.exit_code == 1 and "mobile" in result.output
    assert n(User) == 0


@pytest.mark.parametrize("password, message", [("short1", "至少需要 8 位"), ("lettersonly", "同时包含字母和数字"),
                                               ("1234567890", "同时包含字母和数字")])
def test_create_superuser_refuses_a_weak_password(empty_app, password, message):
    result = run(empty_app, "create-superuser", "--phone", "13912345678", "--name", "x", "--password", password)
    assert result.exit_code == 1 and message in result.output
    assert n(User) == 0


def test_create_superuser_refuses_an_existing_phone(seeded, empty_app):
    result = run(empty_app, "create-superuser", "--phone", UNIT_A, "--name", "x", "--password", "Strong123")
    assert result.exit_code != 0 and "already exists" in result.output
    assert not db.session.scalar(select(User.is_superuser).where(User.phone == UNIT_A))


# -- gen-staff and reconcile-counters ----------------------------------------------------------------------


def test_gen_staff_adds_staff_with_profiles_valid_ids_and_right_counters(app):
    users, profiles = n(User), n(StaffProfile)
    result = run(app, "gen-staff", "--count", "500", "--seed", "3")
    assert result.exit_code == 0, result.output
    assert "generated 500 staff" in result.output
    assert (n(User), n(StaffProfile)) == (users + 500, profiles + 500)
    assert db.session.scalar(select(func.count(func.distinct(User.phone)))) == users + 500
    assert counters() == group_by_counts()
    newest = db.session.scalars(select(User).order_by(User.id.desc()).limit(500)).all()
    assert all(ric.is_valid(decrypt(u.id_number_enc)) for u in newest)
    leaves = set(db.session.scalars(select(Institution.id).where(
        Institution.id.not_in(select(Institution.parent_id).where(Institution.parent_id.is_not(None))))))
    assert {u.institution_id for u in newest} <= leaves


def test_gen_staff_can_run_again_without_clashing(app):
    assert run(app, "gen-staff", "--count", "100").exit_code == 0
    assert run(app, "gen-staff", "--count", "100").exit_code == 0
    assert db.session.scalar(select(func.count(func.distinct(User.phone)))) == n(User)


def test_gen_staff_needs_institutions_first(empty_app):
    result = run(empty_app, "gen-staff", "--count", "10")
    assert result.exit_code != 0
    assert n(User) == 0


def test_gen_staff_refuses_a_count_below_one(app):
    assert run(app, "gen-staff", "--count", "0").exit_code != 0


def test_reconcile_counters_rebuilds_them_from_the_profiles(app):
    truth = group_by_counts()
    db.session.execute(update(StatusCounter).values(n=StatusCounter.n + 7))
    db.session.execute(delete(StatusCounter).where(StatusCounter.status == "approved"))
    db.session.commit()
    assert counters() != truth
    result = run(app, "reconcile-counters")
    assert result.exit_code == 0 and f"counter rows: {len(truth)}" in result.output
    assert counters() == truth


def test_gen_staff_with_institutions_builds_a_four_level_tree_with_paths_and_counters(empty_app):
    result = run(empty_app, "gen-staff", "--count", "300", "--institutions", "60", "--seed", "5")
    assert result.exit_code == 0, result.output
    assert "generated 300 staff" in result.output
    insts = {i.id: i for i in db.session.scalars(select(Institution))}
    assert len(insts) == 60
    by_depth = {}
    for i in insts.values():
        parent = insts.get(i.parent_id)
        assert i.path == (parent.path if parent else "/") + f"{i.id}/"
        assert i.depth == (parent.depth + 1 if parent else 0) == i.path.count("/") - 2
        assert i.name_initials and i.confirmation_code
        by_depth.setdefault(i.depth, []).append(i)
    assert sorted(by_depth) == [0, 1, 2, 3]
    (nation,) = by_depth[0]
    assert nation.name == "国家卫生健康委员会" and nation.region_code is None
    for p in by_depth[1]:
        assert p.name.endswith("卫生健康委员会") and p.region_code.endswith("0000")
        assert db.session.get(Region, p.region_code).level == "province"
    for d in by_depth[2]:
        region = db.session.get(Region, d.region_code)
        assert region.level == "county" and region.code[:2] == insts[d.parent_id].region_code[:2]
        assert region.name in d.name and d.name.endswith("卫生健康委员会")
    with_children = {i.parent_id for i in insts.values()}
    leaves = {i.id for i in insts.values() if i.id not in with_children}
    assert leaves == {i.id for i in by_depth[3]}  # every district commission has units; units have none
    assert all(i.region_code == insts[i.parent_id].region_code for i in by_depth[3])
    per_unit = dict(db.session.execute(select(StaffProfile.institution_id, func.count())
                                       .group_by(StaffProfile.institution_id)).all())
    assert set(per_unit) <= leaves and sum(per_unit.values()) == 300 and max(per_unit.values()) <= 5000
    assert n(User) == 300 and counters() == group_by_counts()
    users = db.session.scalars(select(User)).all()
    assert all(ric.is_valid(decrypt(u.id_number_enc)) for u in users[:50])
    assert len({u.id_number_index for u in users}) == 300


def test_gen_staff_with_institutions_refuses_a_database_that_has_institutions(app):
    before = n(Institution)
    result = run(app, "gen-staff", "--count", "10", "--institutions", "60")
    assert result.exit_code != 0 and "institutions already" in result.output
    assert n(Institution) == before


def test_unit_sizes_are_skewed_capped_and_add_up():
    from admin_app.seed import tree_shape, unit_sizes

    sizes = unit_sizes(1_000_000, 1665)
    assert sum(sizes) == 1_000_000 and max(sizes) == 5000
    assert 3 <= sum(1 for s in sizes if s == 5000) <= 60  # a few at the cap
    assert sorted(sizes)[len(sizes) // 2] < 600  # most units are small
    assert tree_shape(2000) == (31, 303, 1665)
    assert sum(tree_shape(60)) == 59
