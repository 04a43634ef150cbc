"""Issue 22, the review rules staff and unit admins trust: no one reviews himself, a bulk action acts on what
the admin saw (the race of a unit's 通过 and a superuser's 驳回), history and lock words say what happened.
SQLite and PostgreSQL (TEST_DATABASE_URL)."""
import threading

from sqlalchemy import func, select, update

from admin_app.extensions import db
from admin_app.models import ReviewEvent, StaffProfile
from admin_app.services.review import transition
from tests.conftest import STAFF_A, SUPER, UNIT_A
from tests.test_review_races import run_in_threads
from tests.test_review_support import counters_match_rows, make_pending, post_action, profile, scope_of, user


def make_admin_a_staff_member(admin_phone=UNIT_A) -> int:
    """The unit admin is also staff of his unit: one of its pending profiles becomes his; returns its id."""
    pid = make_pending(admin_phone, 1)[0]
    db.session.execute(update(StaffProfile).where(StaffProfile.id == pid).values(user_id=user(admin_phone).id))
    db.session.commit()
    return pid


def status_of(pid: int) -> str:
    db.session.expire_all()
    return db.session.scalar(select(StaffProfile.status).where(StaffProfile.id == pid))


# ---- no one reviews himself ---------------------------------------------------------------------------------

def test_unit_admin_cannot_approve_his_own_profile_through_the_service(app):
    own = make_admin_a_staff_member()
    others = [i for i in make_pending(UNIT_A, 3) if i != own][:2]
    result = transition("approve", [own, *others], user(UNIT_A).id, scope_of(UNIT_A))
    assert result.moved == 2 and result.own == 1 and result.skipped == 1
    assert status_of(own) == "submitted"
    assert all(status_of(i) == "unit_approved" for i in others)
    assert not db.session.scalars(select(ReviewEvent).where(ReviewEvent.profile_id == own,
                                                            ReviewEvent.action == "approve")).all()
    assert counters_match_rows()


def test_his_own_profile_is_left_to_the_level_above(app):
    own = make_admin_a_staff_member()
    assert transition("approve", [own], user(UNIT_A).id, scope_of(UNIT_A)).moved == 0
    # The platform superuser (another admin) reviews it at the unit's level.
    assert transition("approve", [own], user(SUPER).id, scope_of(SUPER), levels=(1,)).moved == 1
    assert status_of(own) == "unit_approved"


# ---- a bulk action acts on what the admin saw ---------------------------------------------------------------

def versions_of(ids) -> dict:
    return dict(db.session.execute(select(StaffProfile.id, StaffProfile.version).where(StaffProfile.id.in_(ids))).all())


def test_a_unit_approval_and_a_superuser_rejection_of_the_same_pending_rows(app):
    """Both pages showed the rows pending. The unit's 通过 lands; the superuser's 驳回, meant for pending rows,
    must not land as a level-2 rejection of rows the unit has just approved."""
    ids = make_pending(UNIT_A, 6)
    seen = versions_of(ids)  # what both admins' pages showed
    last_event = db.session.scalar(select(func.max(ReviewEvent.id))) or 0
    admin, su = user(UNIT_A).id, user(SUPER).id
    s_admin, s_su = scope_of(UNIT_A), scope_of(SUPER)
    barrier = threading.Barrier(2)

    def unit_approves():
        barrier.wait()
        return transition("approve", ids, admin, s_admin, versions=dict(seen))

    def superuser_rejects():
        barrier.wait()
        return transition("reject", ids, su, s_su, "资料不全", versions=dict(seen))

    r1, r2 = run_in_threads(app, unit_approves, superuser_rejects)
    assert r1.moved + r2.moved == 6 and r1.changed + r2.changed == 6
    db.session.expire_all()
    events = db.session.scalars(select(ReviewEvent).where(ReviewEvent.id > last_event)).all()
    assert len(events) == 6 and all(e.level == 1 for e in events)  # never a level-2 rejection
    assert {e.to_status for e in events} <= {"unit_approved", "unit_rejected"}
    assert not any(s == "rejected" for s in map(status_of, ids))
    assert counters_match_rows()


def test_without_versions_the_action_acts_as_before(app, login):
    """The contract: action + rowid (+ reason) still works for outside callers that post no versions."""
    ids = make_pending(UNIT_A, 2)
    transition("approve", ids[:1], user(UNIT_A).id, scope_of(UNIT_A))
    c = login(SUPER)
    post_action(c, "reject", ids, reason="资料不全")
    assert [status_of(i) for i in ids] == ["rejected", "unit_rejected"]


# ---- history and lock words -----------------------------------------------------------------------------------

def test_history_and_lock_text_use_the_status_words(app, login):
    p = profile(STAFF_A)
    transition("approve", [p.id], user(UNIT_A).id, scope_of(UNIT_A))
    c = login(STAFF_A)
    html = c.get("/me").get_data(as_text=True)
    assert "单位审核已通过，资料已锁定" in html and "已审核通过" not in html
    item = html[html.index('data-action="approve"'):]
    assert item[:item.index("</li>")].count("单位审核已通过") >= 1
    card = login(UNIT_A).get(f"/admin/staff/details/?id={p.id}").get_data(as_text=True)
    row = card[card.index('data-event="approve"'):]
    assert "单位审核已通过" in row[:row.index("</tr>")]
    transition("revert", [p.id], user(UNIT_A).id, scope_of(UNIT_A), "请补充证书")
    html = c.get("/me").get_data(as_text=True)
    assert "退审" in html and "单位审核未通过（已驳回）" in html
