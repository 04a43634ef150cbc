"""Races on PostgreSQL (real row locks and concurrent transactions), each repeated several rounds.

- N reviewers approving and rejecting the same rows at once: exactly one transition per row wins, the review
  events equal the moved count, and the status counters equal a GROUP BY over the profiles.
- A staff edit (review.submit) racing approvals: an approved profile never holds an unreviewed change.
- One authorization code bound by several users at once: exactly one winner.

Skipped on SQLite (no TEST_DATABASE_URL): SQLite serialises writers, so these races cannot happen there; CI
runs the suite again on PostgreSQL, where they run.
"""
import threading

import pytest
from sqlalchemy import func, select

from admin_app.extensions import db
from admin_app.models import AdminGrant, ReviewEvent, StaffProfile, User
from admin_app.services import ServiceError, grants
from admin_app.services.review import submit, transition
from admin_app.services.scope import scope_for
from tests.conftest import DISTRICT_A, STAFF_A, SUPER, UNIT_A
from tests.test_registry_support import HOSPITAL_A_NAME, PW, Sms, inst, make_user
from tests.test_review_support import counters_match_rows, make_pending, profile, scope_of, user
from tests.test_security_support import record_figures

pytestmark = pytest.mark.postgres

WORKERS = 6
ROUNDS = 5
RACES: dict = {}


def run_all(app, jobs, timeout=60):
    """Start every job(…) in its own thread (own app context, session and connection) behind one barrier."""
    barrier = threading.Barrier(len(jobs))
    results, errors = [None] * len(jobs), []

    def runner(k, job):
        try:
            with app.app_context():
                barrier.wait()
                results[k] = job()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))
        finally:
            with app.app_context():
                db.session.remove()

    threads = [threading.Thread(target=runner, args=(k, j)) for k, j in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "a worker hung (deadlock?)"
    assert not errors, errors
    return results


def report(capsys) -> None:
    record_figures("races run", {**RACES, "workers per race": WORKERS}, capsys)


def test_many_reviewers_approve_and_reject_the_same_rows(app, capsys):
    admin, su = user(UNIT_A), user(SUPER)
    actors = [(admin.id, scope_of(UNIT_A)), (su.id, scope_of(SUPER))]
    for _round in range(ROUNDS):
        ids = make_pending(UNIT_A, 30)
        first_event = db.session.scalar(select(func.max(ReviewEvent.id))) or 0

        def job(k):
            actor, scope = actors[k % 2]
            action = "approve" if k % 2 == 0 else "reject"
            # Different orders of the same ids, so row locks are taken in every interleaving.
            order = ids if k % 3 == 0 else list(reversed(ids)) if k % 3 == 1 else ids[1::2] + ids[::2]
            return lambda: transition(action, order, actor, scope, None if action == "approve" else f"并发{k}",
                                      levels=(1,))

        results = run_all(app, [job(k) for k in range(WORKERS)])
        db.session.expire_all()
        assert sum(r.moved for r in results) == len(ids), [r.moved for r in results]
        events = db.session.scalars(select(ReviewEvent).where(ReviewEvent.id > first_event,
                                                              ReviewEvent.profile_id.in_(ids))).all()
        assert len(events) == len(ids) and len({e.profile_id for e in events}) == len(ids)
        final = dict(db.session.execute(select(StaffProfile.id, StaffProfile.status)
                                        .where(StaffProfile.id.in_(ids))).all())
        assert all(final[e.profile_id] == e.to_status for e in events)
        assert counters_match_rows()
        RACES["approve/reject same rows"] = RACES.get("approve/reject same rows", 0) + 1
    report(capsys)


def test_staff_edit_racing_approvals_never_approves_an_unreviewed_change(app, capsys):
    admin, scope = user(UNIT_A).id, scope_of(UNIT_A)
    su, su_scope = user(SUPER).id, scope_of(SUPER)
    pid = profile(STAFF_A).id
    outcomes = {"edit won": 0, "approval won": 0}
    for round_ in range(ROUNDS * 2):
        db.session.expire_all()
        p = db.session.get(StaffProfile, pid)
        if p.status != "submitted":
            transition("revert", [pid], admin, scope, "下一轮")
            p = db.session.get(StaffProfile, pid)
            submit(p, p.user_id, None)
            db.session.expire_all()
        seen = db.session.scalar(select(StaffProfile.version).where(StaffProfile.id == pid))
        seen_dept = db.session.scalar(select(StaffProfile.department).where(StaffProfile.id == pid))
        dept = f"并发科室{round_}"

        def staff():
            p = db.session.get(StaffProfile, pid)
            p.department = dept
            try:
                submit(p, p.user_id, {"department": [seen_dept, dept]})
                return True
            except ServiceError:
                return False

        def reviewer(actor, sc):
            return lambda: transition("approve", [pid], actor, sc, versions={pid: seen}, levels=(1,)).moved

        saved, *approved = run_all(app, [staff, reviewer(admin, scope), reviewer(su, su_scope),
                                         reviewer(admin, scope)])
        db.session.expire_all()
        p = db.session.get(StaffProfile, pid)
        last = db.session.scalars(select(ReviewEvent).where(ReviewEvent.profile_id == pid)
                                  .order_by(ReviewEvent.id.desc()).limit(2)).all()
        assert sum(approved) <= 1
        if p.status == "unit_approved":
            # Approved: what was approved is what the reviewer saw; the edit was refused.
            assert not saved and p.department == seen_dept and last[0].action == "approve"
            outcomes["approval won"] += 1
        else:
            assert p.status == "submitted" and saved and p.department == dept and sum(approved) == 0
            outcomes["edit won"] += 1
        assert counters_match_rows()
        RACES["staff edit vs approval"] = RACES.get("staff edit vs approval", 0) + 1
    assert sum(outcomes.values()) == ROUNDS * 2
    RACES["staff edit vs approval outcomes"] = dict(outcomes)
    report(capsys)


def test_one_grant_code_bound_by_many_users_has_one_winner(app, capsys):
    app.config.update(SMS_RESEND_COOLDOWN=0, SMS_DAILY_CAP_PER_PHONE=10_000, SMS_HOURLY_CAP_PER_IP=10_000)
    sms = Sms(app)
    hospital = inst(HOSPITAL_A_NAME)
    issuer = user(DISTRICT_A)
    candidates = [make_user(f"1392222{k:04d}", f"候选{k}", hospital)[0].id for k in range(WORKERS)]
    for _round in range(ROUNDS):
        result = grants.issue_codes(scope_for(issuer), issuer, [hospital.id])
        assert len(result.issued) == 1, result
        code = result.issued[0][1]
        sms_codes = {uid: sms.send(db.session.get(User, uid).phone, "step_up") for uid in candidates}

        def binder(uid):
            def run():
                try:
                    grants.bind_code(db.session.get(User, uid), code, PW, sms_codes[uid])
                    return "won"
                except ServiceError as e:
                    return str(e)
            return run

        outcomes = run_all(app, [binder(uid) for uid in candidates])
        assert outcomes.count("won") == 1, outcomes
        db.session.expire_all()
        active = db.session.scalars(select(AdminGrant).where(AdminGrant.institution_id == hospital.id,
                                                             AdminGrant.state == "active",
                                                             AdminGrant.role == "manager")).all()
        assert len(active) == 1 and active[0].user_id == candidates[outcomes.index("won")]
        # Revoke for the next round (the issuer's reset), so the institution has no manager again.
        grants.reset(scope_for(issuer), issuer, [hospital.id])
        RACES["grant code bind"] = RACES.get("grant code bind", 0) + 1
    report(capsys)
