"""Several programmes (业务) on one platform: rights are per programme; the default one keeps every old behaviour."""
import pytest
from sqlalchemy import select

from admin_app.extensions import db
from admin_app.models import AdminGrant, Programme, User
from admin_app.services import ServiceError, grant_team, grants, programmes
from admin_app.services.scope import scope_for
from tests.conftest import DISTRICT_A, STAFF_A, SUPER, UNIT_A
from tests.test_registry_support import HOSPITAL_A_NAME, PW, UNIT_A_NAME, inst, make_user, sms

__all__ = ["sms"]


def user(phone: str) -> User:
    return db.session.scalar(select(User).where(User.phone == phone))


def add_programme(code: str = "talent", *roots) -> Programme:
    """A second programme (人才评价) taking part in the given institutions' subtrees, added by the superuser."""
    names = "\n".join(r.name for r in roots) or UNIT_A_NAME
    return programmes.save(None, user(SUPER), name="人才评价", code=code, description="", institutions=names)


def grant_right(person: User, institution, programme: Programme, role: str = "manager") -> AdminGrant:
    g = AdminGrant(institution_id=institution.id, programme_id=programme.id, role=role, state="active",
                   user_id=person.id)
    db.session.add(g)
    db.session.commit()
    return g


def test_every_existing_right_belongs_to_the_default_programme(app):
    default = programmes.default_programme()
    assert default.code == "workforce" and default.name == "卫生人员上报" and default.active
    rights = db.session.scalars(select(AdminGrant)).all()
    assert rights and {g.programme_id for g in rights} == {default.id}


def test_a_right_in_another_programme_does_not_open_the_workforce_grid(app, login):
    staff = user(STAFF_A)
    talent = add_programme()
    grant_right(staff, inst(UNIT_A_NAME), talent)
    assert not scope_for(staff).is_admin  # the back office asks the default programme
    assert scope_for(staff, talent.id).institution_ids == (inst(UNIT_A_NAME).id,)
    client = login(STAFF_A)
    for path in ("/admin/", "/admin/staff/", "/admin/grant/"):
        assert client.get(path).status_code == 403, path


def test_the_default_programme_keeps_the_unit_admins_grid(app, login):
    talent = add_programme()
    assert scope_for(user(UNIT_A), talent.id).institution_ids == ()  # no right in the new one
    assert login(UNIT_A).get("/admin/staff/").status_code == 200


def test_a_unit_has_one_manager_per_programme_and_codes_bind_into_their_own_programme(app, sms):
    unit = inst(UNIT_A_NAME)
    talent = add_programme("talent", inst("北京市西城区卫生健康委员会"))
    district = user(DISTRICT_A)
    grant_right(district, inst("北京市西城区卫生健康委员会"), talent)
    result = grants.issue_codes(scope_for(district, talent.id), district, [unit.id])
    assert len(result.issued) == 1  # the unit's workforce manager does not stop a talent code
    code = result.issued[0][1]
    lead, _number = make_user("13900000071", "李业务", unit)
    grants.bind_code(lead, code, PW, sms.send("13900000071", "step_up"))
    assert [(g.role, g.user_id) for g in grants.admins_of(unit.id, talent.id)] == [("manager", lead.id)]
    assert [g.user.phone for g in grants.admins_of(unit.id)] == [UNIT_A]  # the workforce manager stays
    assert not scope_for(lead).is_admin and scope_for(lead, talent.id).roles == {unit.id: "manager"}
    # the same unit's talent grant state is its own; the workforce grid still shows the old one
    assert grants.grant_states([unit.id], talent.id)[unit.id].grant.user_id == lead.id
    assert grants.grant_states([unit.id])[unit.id].grant.user.phone == UNIT_A


def test_revoking_in_one_programme_leaves_the_other_alone(app):
    unit = inst(UNIT_A_NAME)
    talent = add_programme()
    grant_right(user(STAFF_A), unit, talent)
    result = grants.reset(scope_for(user(SUPER), talent.id), user(SUPER), [unit.id])
    assert result.grants == 1
    assert scope_for(user(UNIT_A)).institution_ids == (unit.id,)  # the workforce manager keeps his right
    assert scope_for(user(STAFF_A), talent.id).institution_ids == ()


def test_an_assistant_added_in_a_programme_is_an_assistant_there_only(app, sms):
    unit = inst(UNIT_A_NAME)
    talent = add_programme()
    manager, _n = make_user("13900000072", "王经理", unit)
    helper, _n = make_user("13900000073", "赵助理", unit)
    grant_right(manager, unit, talent)
    grant_team.add_assistant(scope_for(manager, talent.id), manager, unit.id, phone=helper.phone, password=PW,
                             sms_code=sms.send(manager.phone, "step_up"))
    assert scope_for(helper, talent.id).roles == {unit.id: "assistant"} and not scope_for(helper).is_admin
    # the workforce manager cannot remove it from the back office: it is not a right of his programme
    [assistant] = [g for g in grants.admins_of(unit.id, talent.id) if g.role == "assistant"]
    unit_admin = user(UNIT_A)
    with pytest.raises(grants.GrantNotFound):
        grant_team.remove_assistant(scope_for(unit_admin), unit_admin, assistant.id, PW, "000000")


def test_a_code_of_a_deactivated_programme_binds_nothing(app):
    hospital = inst(HOSPITAL_A_NAME)
    talent = add_programme("talent", hospital)
    code = grants.issue_codes(scope_for(user(SUPER), talent.id), user(SUPER), [hospital.id]).issued[0][1]
    assert programmes.set_active([talent.id], False, user(SUPER)).changed == 1
    with pytest.raises(ServiceError, match="已停用"):
        grants.lookup_code(code)


def test_the_default_programme_cannot_be_deactivated(app):
    default = programmes.default_programme()
    result = programmes.set_active([default.id], False, user(SUPER))
    assert result.changed == 0 and result.refused_default == 1
    db.session.refresh(default)
    assert default.active
