"""Races: two reviewers on the same rows, and a staff edit against an approval (SQLite and PostgreSQL)."""
import threading

import pytest
from sqlalchemy import event, select

from admin_app.extensions import db
from admin_app.models import ReviewEvent, StaffProfile
from admin_app.services import ServiceError
from admin_app.services.review import submit, transition
from tests.conftest import STAFF_A, SUPER, UNIT_A
from tests.test_review_support import counters_match_rows, events_for, make_pending, profile, scope_of, user


def run_in_threads(app, *jobs, timeout=30):
    """Run each job(app) in its own thread with its own app context (own session and connection)."""
    results, errors = [None] * len(jobs), []

    def runner(k, job):
        try:
            with app.app_context():
                results[k] = job()
                db.session.remove()
        except Exception as e:  # noqa: BLE001 - reported to the test below
            errors.append(e)

    threads = [threading.Thread(target=runner, args=(k, job), name=f"job{k}") for k, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "a job hung"
    assert not errors, errors
    return results


def test_two_reviewers_at_once_one_wins_each_row(app):
    ids = make_pending(UNIT_A, 20)
    admin, su = user(UNIT_A).id, user(SUPER).id
    s_admin, s_su = scope_of(UNIT_A), scope_of(SUPER)
    barrier = threading.Barrier(2)

    def job(actor, scope, action, reason=None):
        def run():
            barrier.wait()
            return transition(action, ids, actor, scope, reason, levels=(1,))
        return run

    r1, r2 = run_in_threads(app, job(admin, s_admin, "approve"), job(su, s_su, "reject", "两人同时操作"))
    assert r1.moved + r2.moved == 20 and r1.skipped + r2.skipped == 20
    db.session.expire_all()
    events = events_for(ids)
    assert len(events) == 20 and len({e.profile_id for e in events}) == 20
    rows = db.session.execute(select(StaffProfile.id, StaffProfile.status).where(StaffProfile.id.in_(ids))).all()
    moved_by = {e.profile_id: e.to_status for e in events}
    assert all(moved_by[i] == s for i, s in rows)
    assert counters_match_rows()


def test_second_reviewer_waits_for_the_first_and_is_told(app):
    """Reviewer 1's UPDATE holds the rows; reviewer 2 blocks on them, then finds nothing left to move."""
    ids = make_pending(UNIT_A, 10)
    admin, su = user(UNIT_A).id, user(SUPER).id
    s_admin, s_su = scope_of(UNIT_A), scope_of(SUPER)
    first_updated, second_updating = threading.Event(), threading.Event()

    def is_update(statement):
        return statement.lstrip().upper().startswith("UPDATE STAFF_PROFILE")

    def mark_second(conn, cursor, statement, params, context, executemany):
        if threading.current_thread().name == "job1" and is_update(statement):
            second_updating.set()  # reviewer 2 now issues its UPDATE and blocks on reviewer 1's locks

    def hold(conn, cursor, statement, params, context, executemany):
        if threading.current_thread().name == "job0" and is_update(statement):
            first_updated.set()
            second_updating.wait(10)  # keep reviewer 1's transaction open until reviewer 2 has sent its UPDATE

    def first():
        return transition("approve", ids, admin, s_admin, levels=(1,))

    def second():
        first_updated.wait(10)
        return transition("reject", ids, su, s_su, "晚到的驳回", levels=(1,))

    event.listen(db.engine, "after_cursor_execute", hold)
    event.listen(db.engine, "before_cursor_execute", mark_second)
    try:
        r1, r2 = run_in_threads(app, first, second)
    finally:
        event.remove(db.engine, "after_cursor_execute", hold)
        event.remove(db.engine, "before_cursor_execute", mark_second)
    assert (r1.moved, r1.skipped) == (10, 0)
    assert (r2.moved, r2.skipped) == (0, 10)
    db.session.expire_all()
    assert {e.action for e in events_for(ids)} == {"approve"}
    assert counters_match_rows()


def _staff_edit(app, loaded_version_gate=None, department="发热门诊"):
    """The staff portal's save: load the profile, change it, submit (conditional on what was loaded)."""
    p = db.session.scalar(select(StaffProfile).where(StaffProfile.phone == STAFF_A))
    if loaded_version_gate:
        loaded_version_gate()
    p.department = department
    submit(p, p.user_id, {"department": ["?", department]})


def test_approval_between_load_and_save_refuses_the_edit(app):
    p = profile(STAFF_A)
    admin = user(UNIT_A)

    def approve_meanwhile():
        run_in_threads(app, lambda: transition("approve", [p.id], admin.id, scope_of(UNIT_A)))

    with pytest.raises(ServiceError):
        _staff_edit(app, approve_meanwhile)
    db.session.expire_all()
    p = profile(STAFF_A)
    assert p.status == "unit_approved" and p.department != "发热门诊"
    assert [e.action for e in events_for([p.id])] == ["approve"]
    assert counters_match_rows()


def test_edit_saved_before_the_approval_is_reviewed_again(app):
    p = profile(STAFF_A)
    seen = p.version
    _staff_edit(app)  # saved after the admin loaded the card at version `seen`
    res = transition("approve", [p.id], user(UNIT_A).id, scope_of(UNIT_A), versions={p.id: seen})
    assert (res.moved, res.skipped) == (0, 1)
    db.session.expire_all()
    p = profile(STAFF_A)
    assert p.status == "submitted" and p.department == "发热门诊"


def test_concurrent_edit_and_approval_never_leave_an_unreviewed_change_approved(app):
    admin, scope = user(UNIT_A).id, scope_of(UNIT_A)
    pid = profile(STAFF_A).id
    for round_ in range(6):
        seen = db.session.scalar(select(StaffProfile.version).where(StaffProfile.id == pid))
        barrier = threading.Barrier(2)
        dept = f"科室{round_}"

        def staff():
            p = db.session.get(StaffProfile, pid)
            p.department = dept
            barrier.wait()
            try:
                submit(p, p.user_id, {"department": ["", dept]})
                return True
            except ServiceError:
                return False

        def reviewer():
            barrier.wait()
            return transition("approve", [pid], admin, scope, versions={pid: seen}).moved

        saved, approved = run_in_threads(app, staff, reviewer)
        db.session.expire_all()
        p = db.session.get(StaffProfile, pid)
        history = list(db.session.scalars(select(ReviewEvent).where(ReviewEvent.profile_id == pid)
                                          .order_by(ReviewEvent.id.desc())))
        if p.status == "unit_approved":
            # Approved: the approval is the last event and the department is the one it saw.
            assert history[0].action == "approve" and not saved and p.department != dept
        else:
            assert p.status == "submitted" and saved and p.department == dept and not approved
        assert saved != bool(approved)  # exactly one of them went through
        assert counters_match_rows()
        if p.status == "unit_approved":  # put it back for the next round
            transition("revert", [pid], admin, scope, "下一轮")
            p = db.session.get(StaffProfile, pid)
            p.department = "检验科"
            submit(p, p.user_id, None)
        db.session.expire_all()
