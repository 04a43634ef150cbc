"""The review state machine (services/review.py) on its own: rules, levels, counters, chunks."""
import pytest
from sqlalchemy import select

from admin_app.extensions import db
from admin_app.models import Institution, StaffProfile
from admin_app.services import ServiceError, review
from admin_app.services.scope import Scope
from tests.conftest import DISTRICT_A, PROVINCE, STAFF_A, SUPER, UNIT_A, UNIT_B
from tests.test_review_support import (
    counters_match_rows,
    events_for,
    make_pending,
    profile,
    profiles_of,
    scope_of,
    user,
)


@pytest.mark.parametrize("ids, expected", [(["3", "1", "3", " 2 "], [1, 2, 3]), ([], []), ((5,), [5])])
def test_parse_ids(ids, expected):
    assert review.parse_ids(ids) == expected


@pytest.mark.parametrize("bad", [["x"], ["0"], ["-4"], ["2147483648"], ["1_000"], ["٣"], [None], ["+5"]])
def test_parse_ids_refuses(bad):
    with pytest.raises(ServiceError):
        review.parse_ids(bad)


def test_check_reason():
    assert review.check_reason("  原因 ", True) == "原因"
    assert review.check_reason("", False) is None
    for bad in ("", " ", "x" * 501):
        with pytest.raises(ServiceError):
            review.check_reason(bad, True)


def test_unknown_action_and_missing_reason_write_nothing(app):
    p = profile(STAFF_A)
    with pytest.raises(ServiceError):
        review.transition("delete", [p.id], user(UNIT_A).id, scope_of(UNIT_A))
    with pytest.raises(ServiceError):
        review.transition("reject", [p.id], user(UNIT_A).id, scope_of(UNIT_A), reason=" ")
    assert profile(STAFF_A).status == "submitted" and not events_for([p.id])


def test_levels_follow_the_scope(app):
    a = profile(STAFF_A)
    inst = db.session.get(Institution, a.institution_id)
    assert review.levels_for(inst.id, inst.path, scope_of(UNIT_A)) == (1,)
    assert review.levels_for(inst.id, inst.path, scope_of(DISTRICT_A)) == (2,)
    assert review.levels_for(inst.id, inst.path, scope_of(PROVINCE)) == (2,)
    assert review.levels_for(inst.id, inst.path, scope_of(UNIT_B)) == ()
    assert review.levels_for(inst.id, inst.path, scope_of(SUPER)) == (1, 2)
    assert review.levels_for(inst.id, inst.path, Scope(user_id=None)) == ()
    assert [t.action for t in review.available("submitted", inst.id, inst.path, scope_of(UNIT_A))] == [
        "approve", "reject"]
    assert [t.action for t in review.available("unit_approved", inst.id, inst.path, scope_of(UNIT_A))] == ["revert"]
    assert [t.action for t in review.available("unit_approved", inst.id, inst.path, scope_of(DISTRICT_A))] == [
        "approve", "reject"]
    assert [t.action for t in review.available("approved", inst.id, inst.path, scope_of(DISTRICT_A))] == ["revert"]
    assert review.available("submitted", inst.id, inst.path, scope_of(DISTRICT_A)) == []
    assert review.available("draft", inst.id, inst.path, scope_of(SUPER)) == []


def test_resubmitting_a_pending_profile_keeps_the_counters(app):
    p = profile(STAFF_A)
    assert p.status == "submitted"
    p.department = "发热门诊"
    review.submit(p, p.user_id, {"department": ["检验科", "发热门诊"]})
    assert counters_match_rows()
    db.session.expire_all()
    assert profile(STAFF_A).version == 2


def test_large_selections_are_chunked(app, monkeypatch):
    monkeypatch.setattr(review, "CHUNK", 4)
    ids = make_pending(UNIT_A, 11)
    res = review.transition("approve", ids + [profile(STAFF_A).id], user(UNIT_A).id, scope_of(UNIT_A))
    assert res.moved == len(set(ids + [profile(STAFF_A).id])) and res.by_level == {1: res.moved}
    assert len(events_for(ids)) == 11 and counters_match_rows()


def test_superuser_approve_moves_each_row_one_step_only(app):
    pending = make_pending(UNIT_A, 2)
    unit_ok = [p.id for p in profiles_of(UNIT_A, "unit_approved")][:2]
    res = review.transition("approve", pending + unit_ok, user(SUPER).id, scope_of(SUPER))
    assert res.by_level == {1: 2, 2: 2}
    got = dict(db.session.execute(select(StaffProfile.id, StaffProfile.status)
                                  .where(StaffProfile.id.in_(pending + unit_ok))).all())
    assert {got[i] for i in pending} == {"unit_approved"} and {got[i] for i in unit_ok} == {"approved"}
    assert counters_match_rows()


def test_versions_hold_each_row_to_what_was_seen(app):
    ids = make_pending(UNIT_A, 2)
    v = dict(db.session.execute(select(StaffProfile.id, StaffProfile.version).where(StaffProfile.id.in_(ids))).all())
    res = review.transition("approve", ids, user(UNIT_A).id, scope_of(UNIT_A),
                            versions={ids[0]: v[ids[0]], ids[1]: v[ids[1]] + 1})
    assert (res.moved, res.skipped) == (1, 1)
