"""The maintained counters always equal a fresh GROUP BY of the staff table (DESIGN.md, "Known pitfalls: Counts").

StatusCounter, TypeCounter and SubmissionCounter are changed in the same transaction as every review transition
and staff submission, never recounted on the way. A property test drives random series of level-1 and level-2
approvals, rejections and reverts on random rows (many in the wrong status, out of the actor's scope, at a stale
version or not existing: those must be skipped, not counted), staff resubmissions (of rejected profiles,
drafts, pending ones) that change the personnel type, account edits that move a profile to another unit, and
newcomers' first profiles; after every single step all three counters and their subtree twins (the sums over each
institution's subtree) are compared with GROUP BYs written here (not with counters.reconcile()), and each
review's moved/skipped figures with a model of the state machine.

Every example starts from the same rows (the demo as the app fixture copied it, restored and reconciled at the
start of the example), so a failure replays and shrinks to a short series of steps.
"""
import io
from collections import Counter
from datetime import date, timedelta
from unittest.mock import patch

from hypothesis import HealthCheck, example, given, settings, strategies as st
from PIL import Image
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import aliased
from stdnum.cn import ric
from werkzeug.datastructures import FileStorage

from admin_app.extensions import db
from admin_app.models import (
    Institution,
    ReviewEvent,
    StaffProfile,
    StatusCounter,
    SubmissionCounter,
    SubtreeStatusCounter,
    SubtreeSubmissionCounter,
    SubtreeTypeCounter,
    TypeCounter,
    User,
)
from admin_app.services import ServiceError, review as review_service
from admin_app.services.counters import day_expr, reconcile
from admin_app.services.crypto import blind_index, encrypt
from admin_app.services.identity import mask
from admin_app.services.profiles import questions_for, save_account, save_profile
from admin_app.services.review import transition
from admin_app.services.scope import scope_for
from tests.conftest import DISTRICT_A, DISTRICT_B, PROVINCE, SUPER, UNIT_A, UNIT_B

ADMINS = (UNIT_A, UNIT_B, DISTRICT_A, DISTRICT_B, PROVINCE, SUPER)
REASON = "照片不清晰"
# The review state machine as DESIGN.md tabulates it: (action, level) -> [(from, to)].
MACHINE = {
    ("approve", 1): [("submitted", "unit_approved")],
    ("reject", 1): [("submitted", "unit_rejected")],
    ("revert", 1): [("unit_approved", "unit_rejected")],
    ("approve", 2): [("unit_approved", "approved")],
    ("reject", 2): [("unit_approved", "rejected")],
    ("revert", 2): [("approved", "unit_rejected")],
}
STAFF_EDITABLE = {"draft", "submitted", "unit_rejected", "rejected"}
USER_COLUMNS = ("id", "name", "email", "region_code", "institution_id", "department")
# Every change a step makes to a profile changes one of these (the version, for reviews and submissions).
WATCHED = ("id", "status", "version", "institution_id", "department", "personnel_type", "name")
# Modest by default (one app, a few seconds); HYPOTHESIS_PROFILE=thorough runs many more series.
EXAMPLES = 25 if settings.default.max_examples < 1000 else 400


# ---- the truth: GROUP BYs over staff_profile, and what the counters hold ------------------------------------

def truth() -> dict:
    ptype = func.coalesce(StaffProfile.personnel_type, "")
    day = day_expr(StaffProfile.submitted_at)
    reported = StaffProfile.status != "draft"
    return {
        "status": {(i, s): n for i, s, n in db.session.execute(
            select(StaffProfile.institution_id, StaffProfile.status, func.count())
            .group_by(StaffProfile.institution_id, StaffProfile.status))},
        "type": {(i, s, t): n for i, s, t, n in db.session.execute(
            select(StaffProfile.institution_id, StaffProfile.status, ptype, func.count())
            .where(reported).group_by(StaffProfile.institution_id, StaffProfile.status, ptype))},
        "day": {(i, str(d)): n for i, d, n in db.session.execute(
            select(StaffProfile.institution_id, day, func.count())
            .where(reported, StaffProfile.submitted_at.is_not(None))
            .group_by(StaffProfile.institution_id, day))},
        **subtree_truth(),
    }


def subtree_truth() -> dict:
    """The subtree counters' truth: each institution's profiles and those of every institution below it, by a
    join on paths (the way the dashboard summed them before it had the subtree counters)."""
    anc, sub = aliased(Institution), aliased(Institution)
    under = (select(anc.id.label("anc"), sub.id.label("sub"))
             .join(sub, sub.path.like(anc.path.concat("%"))).subquery())
    ptype = func.coalesce(StaffProfile.personnel_type, "")
    day = day_expr(StaffProfile.submitted_at)
    reported = StaffProfile.status != "draft"
    joined = lambda *cols: select(under.c.anc, *cols, func.count()).join(  # noqa: E731
        StaffProfile, StaffProfile.institution_id == under.c.sub).group_by(under.c.anc, *cols)
    return {
        "subtree_status": {(i, s): n for i, s, n in db.session.execute(joined(StaffProfile.status))},
        "subtree_type": {(i, s, t): n for i, s, t, n in db.session.execute(
            joined(StaffProfile.status, ptype).where(reported))},
        "subtree_day": {(i, str(d)): n for i, d, n in db.session.execute(
            joined(day).where(reported, StaffProfile.submitted_at.is_not(None)))},
    }


def kept() -> dict:
    """The counters' nonzero rows (a counter may keep a row at zero; it must never go below)."""
    status = db.session.execute(select(StatusCounter.institution_id, StatusCounter.status, StatusCounter.n)).all()
    types = db.session.execute(select(TypeCounter.institution_id, TypeCounter.status, TypeCounter.personnel_type,
                                      TypeCounter.n)).all()
    days = db.session.execute(select(SubmissionCounter.institution_id, SubmissionCounter.day,
                                     SubmissionCounter.n)).all()
    sub_status = db.session.execute(select(SubtreeStatusCounter.institution_id, SubtreeStatusCounter.status,
                                           SubtreeStatusCounter.n)).all()
    sub_types = db.session.execute(select(SubtreeTypeCounter.institution_id, SubtreeTypeCounter.status,
                                          SubtreeTypeCounter.personnel_type, SubtreeTypeCounter.n)).all()
    sub_days = db.session.execute(select(SubtreeSubmissionCounter.institution_id, SubtreeSubmissionCounter.day,
                                         SubtreeSubmissionCounter.n)).all()
    return {
        "subtree_status": {(i, s): n for i, s, n in sub_status if n},
        "subtree_type": {(i, s, t): n for i, s, t, n in sub_types if n},
        "subtree_day": {(i, d.isoformat() if isinstance(d, date) else str(d)): n for i, d, n in sub_days if n},
        "status": {(i, s): n for i, s, n in status if n},
        "type": {(i, s, t): n for i, s, t, n in types if n},
        "day": {(i, d.isoformat() if isinstance(d, date) else str(d)): n for i, d, n in days if n},
    }


def diff(want: dict, got: dict) -> dict:
    """Per counter: key -> (GROUP BY, counter) wherever they differ."""
    out = {}
    for name in want:
        keys = set(want[name]) | set(got[name])
        bad = {k: (want[name].get(k, 0), got[name].get(k, 0)) for k in keys
               if want[name].get(k, 0) != got[name].get(k, 0)}
        if bad:
            out[name] = dict(sorted(bad.items(), key=repr))
    return out


def assert_counters_equal_group_by(after: str) -> None:
    db.session.expire_all()
    bad = diff(truth(), kept())
    assert not bad, f"counters differ from a fresh GROUP BY after {after}: {{key: (GROUP BY, counter)}} {bad}"


# ---- rows and scopes, read independently of the services ------------------------------------------------

def rows() -> dict[int, tuple]:
    """id -> (status, institution_id, version, personnel_type)."""
    db.session.expire_all()
    return {i: (s, inst, v, t) for i, s, inst, v, t in db.session.execute(
        select(StaffProfile.id, StaffProfile.status, StaffProfile.institution_id, StaffProfile.version,
               StaffProfile.personnel_type))}


def reachable(actor: User, institutions: dict[int, tuple]) -> dict[int, set]:
    """level -> institutions whose staff the actor reviews at that level (DESIGN.md: own ones; strictly lower)."""
    scope = scope_for(actor)
    if actor.is_superuser:
        return {1: set(institutions), 2: {i for i, (_path, parent) in institutions.items() if parent is not None}}
    return {1: set(scope.institution_ids),
            2: {i for i, (path, _parent) in institutions.items()
                if any(path.startswith(p) and path != p for p in scope.paths)}}


def pick(pool: list, k: int):
    return pool[k % len(pool)] if pool else None


# ---- steps ----------------------------------------------------------------------------------------------

indices = st.integers(min_value=0, max_value=10**6)
review_steps = st.fixed_dictionaries({
    "kind": st.just("review"),
    "actor": st.sampled_from(ADMINS),
    "action": st.sampled_from(("approve", "reject", "revert")),
    "levels": st.sampled_from(((1,), (2,), (1, 2))),
    "ready": st.lists(indices, max_size=8),  # rows the action may move (in scope, in the source status)
    "local": st.lists(indices, max_size=8),  # rows of institutions the actor reviews, any status
    "anywhere": st.lists(indices, max_size=6),  # any rows: mostly out of scope
    "ghost": st.booleans(),  # an id no profile has
    "versions": st.sampled_from((None, None, "current", "stale_half")),
    "reason": st.sampled_from((REASON, REASON, REASON, None)),
    "as_strings": st.booleans(),  # the grid posts ids as strings
    "repeat": st.booleans(),  # an id ticked twice counts once
    "chunk": st.sampled_from((None, None, None, 2, 3)),  # ids per UPDATE made tiny: moves across chunks add up
})
edit_steps = st.fixed_dictionaries({
    "kind": st.just("edit"),
    "pool": st.sampled_from(("rejected", "editable", "draft", "any")),
    "pick": indices,
    "personnel_type": st.sampled_from((None, "sampling", "testing", "both")),  # None: keep it
    "stale": st.sampled_from((False, False, False, True)),  # the form was loaded before the last change
})
move_steps = st.fixed_dictionaries({
    "kind": st.just("move"),
    "pool": st.sampled_from(("rejected", "editable", "draft", "any")),
    "pick": indices,
    "target": indices,
    "department": st.booleans(),
})
newcomer_steps = st.fixed_dictionaries({
    "kind": st.just("newcomer"),
    "target": indices,
    "personnel_type": st.sampled_from(("sampling", "testing", "both")),
})
series = st.lists(st.one_of(review_steps, review_steps, edit_steps, move_steps, newcomer_steps),
                  min_size=1, max_size=10)


def review(actor, action, levels, ready=(), local=(), anywhere=(), ghost=False, versions=None, reason=REASON,
           as_strings=False, repeat=False, chunk=None) -> dict:
    return dict(kind="review", actor=actor, action=action, levels=levels, ready=list(ready), local=list(local),
                anywhere=list(anywhere), ghost=ghost, versions=versions, reason=reason, as_strings=as_strings,
                repeat=repeat, chunk=chunk)


# One series always run (it reaches every kind of step): both levels, stale versions, a refusal, the superuser
# at both levels at once, a rejected profile resubmitted with another type, a move to another district's unit.
STORY = [
    review(UNIT_A, "approve", (1,), ready=range(4), local=(5, 6), anywhere=(7, 8), ghost=True, as_strings=True,
           repeat=True),
    review(DISTRICT_A, "approve", (2,), ready=range(3), anywhere=(40, 41), versions="stale_half"),
    review(PROVINCE, "revert", (2,), ready=range(2), local=(3,)),
    review(DISTRICT_B, "reject", (2,), ready=range(2), local=(9,), reason=None),
    review(DISTRICT_A, "reject", (2,), ready=range(2), local=(9,)),
    dict(kind="edit", pool="rejected", pick=0, personnel_type="sampling", stale=False),
    dict(kind="edit", pool="rejected", pick=0, personnel_type="testing", stale=False),
    dict(kind="move", pool="editable", pick=3, target=12, department=False),
    dict(kind="move", pool="any", pick=5, target=20, department=True),
    dict(kind="move", pool="draft", pick=0, target=30, department=False),
    dict(kind="edit", pool="draft", pick=1, personnel_type="both", stale=False),
    dict(kind="newcomer", target=12, personnel_type="testing"),
    review(SUPER, "approve", (1, 2), ready=range(6), anywhere=(1, 2, 3), chunk=2),
    dict(kind="edit", pool="editable", pick=1, personnel_type=None, stale=True),
    review(UNIT_B, "reject", (1,), ready=range(3), local=range(3), versions="current"),
]


def do_review(step: dict, ctx: dict) -> str:
    actor = db.session.scalar(select(User).where(User.phone == step["actor"]))
    before = rows()
    levels = reachable(actor, ctx["institutions"])
    local_pool = sorted(i for i, (_s, inst, _v, _t) in before.items()
                        if any(inst in levels[lvl] for lvl in step["levels"]))
    sources = {(frm, lvl) for lvl in step["levels"] for frm, _to in MACHINE[(step["action"], lvl)]}
    ready_pool = sorted(i for i, (s, inst, _v, _t) in before.items()
                        if any(s == frm and inst in levels[lvl] for frm, lvl in sources))
    ids = ({pick(ready_pool, k) for k in step["ready"]} | {pick(local_pool, k) for k in step["local"]}
           | {pick(ctx["ids"], k) for k in step["anywhere"]})
    ids.discard(None)
    if step["ghost"]:
        ids.add(ctx["ghost"])
    ids = sorted(ids)
    versions = None
    if step["versions"]:
        versions = {i: before[i][2] - (1 if step["versions"] == "stale_half" and n % 2 else 0)
                    for n, i in enumerate(ids) if i in before}
    # The model: each level in turn moves the rows it may act on that are in the source status (and at the
    # version held); a row moved at level 1 is not moved again at level 2 in the same call.
    expected, remaining = {}, {i for i in ids if i in before}
    for lvl in (1, 2):
        if lvl not in step["levels"]:
            continue
        for frm, to in MACHINE[(step["action"], lvl)]:
            for i in sorted(remaining):
                status, inst, version, _t = before[i]
                if status == frm and inst in levels[lvl] and (versions is None or versions.get(i) == version):
                    expected[i] = to
        remaining -= set(expected)
    label = (f"{step['actor']} {step['action']} at levels {step['levels']} on {len(ids)} ids "
             f"(expected to move {len(expected)})")
    given_ids = [str(i) for i in ids] if step["as_strings"] else list(ids)
    if step["repeat"]:
        given_ids += given_ids[:2]
    if step["reason"] is None and step["action"] != "approve":
        return refused(lambda: transition(step["action"], given_ids, actor.id, scope_for(actor), None,
                                          levels=step["levels"], versions=versions),
                       label, before, ctx, "refused: no reason")
    with patch.object(review_service, "CHUNK", step["chunk"] or review_service.CHUNK):
        result = transition(step["action"], given_ids, actor.id, scope_for(actor), step["reason"],
                            levels=step["levels"], versions=versions)
    after = rows()
    assert (result.requested, result.moved, result.skipped) == (len(ids), len(expected), len(ids) - len(expected)), \
        (label, result)
    for i, (status, inst, version, ptype) in after.items():
        if i in expected:
            assert (status, inst, version, ptype) == (expected[i], before[i][1], before[i][2] + 1, before[i][3]), \
                (label, i, before[i], after[i])
        else:
            assert after[i] == before[i], f"{label}: row {i} was skipped but changed: {before[i]} -> {after[i]}"
    ctx["seen"]["rows moved"] += len(expected)
    ctx["seen"]["rows skipped"] += len(ids) - len(expected)
    return label


def staff_pool(kind: str, before: dict) -> list[int]:
    wanted = {"rejected": {"unit_rejected", "rejected"}, "editable": STAFF_EDITABLE, "draft": {"draft"}}.get(kind)
    return sorted(i for i, (s, *_x) in before.items() if wanted is None or s in wanted)


def profile_form(p: StaffProfile, ptype: str) -> dict:
    """The profile page as a staff member saves it again (no new photo, no new document number)."""
    birth = p.birth_date
    start = p.work_start_date if p.work_start_date and p.work_start_date >= birth + timedelta(days=18 * 366) \
        else min(birth + timedelta(days=18 * 366), date.today())
    data = {"version": str(p.version), "id_type": "resident_id", "id_number": "", "personnel_type": ptype,
            "education": p.education or "bachelor", "title_level": p.title_level or "none",
            "title": p.title or "检验技师", "position": p.position, "work_start_date": start, "pcr_years": "3"}
    data.update({q: "yes" for q in questions_for(ptype)})
    return data


def picked_staff(step: dict):
    """(rows before, profile id, profile, its user) of the staff member the step picks, or None."""
    before = rows()
    pid = pick(staff_pool(step["pool"], before), step["pick"])
    if pid is None:
        return None
    p = db.session.get(StaffProfile, pid)
    return before, pid, p, db.session.get(User, p.user_id)


def refused(save, label: str, before: dict, ctx: dict, why: str = "refused") -> str:
    """The save (or action) must be refused by a ServiceError and change no row."""
    try:
        save()
    except ServiceError:
        db.session.rollback()
    else:
        raise AssertionError(f"{label}: accepted")
    assert rows() == before, f"{label}: a refused change changed rows"
    ctx["seen"]["refused"] += 1
    return f"{label} ({why})"


def do_edit(step: dict, ctx: dict) -> str:
    picked = picked_staff(step)
    if picked is None:
        return "edit: nobody in the pool"
    before, pid, p, staff = picked
    ptype = step["personnel_type"] or p.personnel_type or "both"
    data = profile_form(p, ptype)
    if step["stale"]:
        data["version"] = str(p.version - 1)
    status = p.status
    label = (f"staff of profile {pid} ({status}) saves the profile as {ptype}"
             + (" from a stale form" if step["stale"] else ""))
    if status not in STAFF_EDITABLE or step["stale"]:
        return refused(lambda: save_profile(staff, data), label, before, ctx)
    save_profile(staff, data)
    after = rows()
    assert after[pid][0] == "submitted" and after[pid][3] == ptype, (label, after[pid])
    ctx["seen"]["type changes" if ptype != before[pid][3] else "resubmissions"] += 1
    assert {i: r for i, r in after.items() if i != pid} == {i: r for i, r in before.items() if i != pid}, label
    return label


def do_move(step: dict, ctx: dict) -> str:
    picked = picked_staff(step)
    if picked is None:
        return "move: nobody in the pool"
    before, pid, p, staff = picked
    target = db.session.get(Institution, pick(ctx["institution_ids"], step["target"]))
    department = staff.department
    if step["department"]:
        department = "发热门诊" if department != "发热门诊" else "检验科"
    status = p.status
    label = f"staff of profile {pid} ({status}) moves to institution {target.id}, department {department}"
    kwargs = dict(name=staff.name, email=staff.email, region_code=staff.region_code, institution_id=target.id,
                  confirmation_code=target.confirmation_code, department=department)
    if status not in STAFF_EDITABLE:
        return refused(lambda: save_account(staff, **kwargs), label, before, ctx)
    changed = target.id != p.institution_id or department != p.department
    save_account(staff, **kwargs)
    after = rows()
    want_status = status if status == "draft" or not changed else "submitted"
    assert after[pid][:2] == (want_status, target.id), (label, after[pid])
    ctx["seen"]["unit moves" if target.id != before[pid][1] else "department changes"] += changed
    assert {i: r for i, r in after.items() if i != pid} == {i: r for i, r in before.items() if i != pid}, label
    return label


def png() -> FileStorage:
    out = io.BytesIO()
    Image.new("RGB", (60, 80), (40, 120, 200)).save(out, "PNG")
    out.seek(0)
    return FileStorage(stream=out, filename="me.png", content_type="image/png")


def do_newcomer(step: dict, ctx: dict) -> str:
    """A new member of staff (account filled in, identity on file) saves a first profile: a new row, counted."""
    before = rows()
    target = db.session.get(Institution, pick(ctx["institution_ids"], step["target"]))
    while True:  # numbers no account holds (newcomers of earlier examples keep their accounts)
        ctx["newcomers"] += 1
        birth = date(1980, 1, 1) + timedelta(days=ctx["newcomers"])
        body = f"110102{birth:%Y%m%d}{ctx['newcomers'] % 500 * 2 + 1:03d}"
        number = body + ric.calc_check_digit(body + "0")
        index = blind_index(f"resident_id:{number}")
        if not db.session.scalar(select(User.id).where(User.id_number_index == index)):
            break
    staff = User(phone=f"139{ctx['newcomers']:08d}", name="新同事", password_hash="x", region_code="110102",
                 institution_id=target.id, department="检验科", id_type="resident_id", id_number_enc=encrypt(number),
                 id_number_index=index, id_number_masked=mask(number))
    db.session.add(staff)
    db.session.commit()
    data = {"version": "", "id_type": "resident_id", "id_number": "", "personnel_type": step["personnel_type"],
            "education": "bachelor", "title_level": "junior", "title": "检验技师", "position": None,
            "work_start_date": birth + timedelta(days=22 * 366), "pcr_years": "2"}
    data.update({q: "no" for q in questions_for(step["personnel_type"])})
    p = save_profile(staff, data, avatar_file=png())
    after = rows()
    assert after[p.id] == ("submitted", target.id, 1, step["personnel_type"]), after[p.id]
    assert {i: r for i, r in after.items() if i != p.id} == before
    ctx["seen"]["newcomers"] += 1
    return f"a newcomer at institution {target.id} submits a first profile as {step['personnel_type']}"


STEPS = {"review": do_review, "edit": do_edit, "move": do_move, "newcomer": do_newcomer}


# ---- the tests ------------------------------------------------------------------------------------------

def test_counters_equal_a_fresh_group_by_after_any_series_of_reviews_and_staff_edits(app):
    profiles_start = [dict(r) for r in db.session.execute(select(StaffProfile.__table__)).mappings()]
    users_start = [dict(r) for r in db.session.execute(
        select(*[User.__table__.c[c] for c in USER_COLUMNS])
        .where(User.id.in_(select(StaffProfile.user_id)))).mappings()]
    institutions = {i: (path, parent) for i, path, parent in db.session.execute(
        select(Institution.id, Institution.path, Institution.parent_id))}
    ids = sorted(r["id"] for r in profiles_start)
    watched_start = {r["id"]: tuple(r[c] for c in WATCHED[1:]) for r in profiles_start}
    user_of = {r["id"]: r["user_id"] for r in profiles_start}
    ctx = {"ids": ids, "ghost": ids[-1] + 10_000, "institutions": institutions,
           "institution_ids": sorted(institutions), "seen": Counter(), "newcomers": 0}
    assert_counters_equal_group_by("building the demo")

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(steps=series)
    @example(steps=STORY)
    def run(steps):
        # The same rows at the start of every example (so a failure replays), counters rebuilt for them:
        # newcomers' profiles removed, the rows the last example changed put back.
        db.session.rollback()
        new = select(StaffProfile.id).where(StaffProfile.id.not_in(ids))
        db.session.execute(delete(ReviewEvent).where(ReviewEvent.profile_id.in_(new)))
        db.session.execute(delete(StaffProfile).where(StaffProfile.id.not_in(ids)))
        watched = lambda: {i: tuple(now) for i, *now in db.session.execute(  # noqa: E731
            select(*[StaffProfile.__table__.c[c] for c in WATCHED]))}
        changed = {i for i, now in watched().items() if now != watched_start[i]}
        if changed:
            db.session.execute(update(StaffProfile), [r for r in profiles_start if r["id"] in changed])
            users = {user_of[i] for i in changed}
            db.session.execute(update(User), [u for u in users_start if u["id"] in users])
        db.session.commit()
        assert watched() == watched_start
        reconcile()
        assert_counters_equal_group_by("restoring the demo rows")
        done = []
        for step in steps:
            label = STEPS[step["kind"]](step, ctx)
            done.append(label)
            assert_counters_equal_group_by(" -> ".join(done))

    run()
    # The strategy reaches every kind of change, and requests that are skipped or refused.
    seen = ctx["seen"]
    assert all(seen[k] for k in ("rows moved", "rows skipped", "refused", "type changes", "unit moves",
                                 "newcomers")), seen


def test_reconcile_counters_command_repairs_counters_corrupted_by_hand(app):
    want = truth()
    some_status = db.session.execute(select(StatusCounter.institution_id, StatusCounter.status)
                                     .where(StatusCounter.n > 0).limit(1)).one()
    some_type = db.session.execute(select(TypeCounter.institution_id, TypeCounter.status, TypeCounter.personnel_type)
                                   .where(TypeCounter.n > 0).limit(1)).one()
    some_day = db.session.execute(select(SubmissionCounter.institution_id, SubmissionCounter.day)
                                  .where(SubmissionCounter.n > 0).limit(1)).one()
    db.session.execute(update(StatusCounter).where(StatusCounter.institution_id == some_status[0],
                                                   StatusCounter.status == some_status[1])
                       .values(n=StatusCounter.n + 5))
    db.session.execute(delete(StatusCounter).where(StatusCounter.status == "approved"))
    db.session.execute(update(TypeCounter).where(TypeCounter.institution_id == some_type[0],
                                                 TypeCounter.status == some_type[1],
                                                 TypeCounter.personnel_type == some_type[2]).values(n=-3))
    db.session.execute(delete(TypeCounter).where(TypeCounter.personnel_type == "testing"))
    db.session.execute(update(SubmissionCounter).where(SubmissionCounter.institution_id == some_day[0],
                                                       SubmissionCounter.day == some_day[1])
                       .values(n=SubmissionCounter.n + 2))
    db.session.add(SubmissionCounter(institution_id=some_day[0], day=date(2001, 1, 1), n=4))
    db.session.execute(update(SubtreeTypeCounter).where(SubtreeTypeCounter.n > 0).values(n=SubtreeTypeCounter.n + 7))
    db.session.commit()
    broken = diff(want, kept())
    assert set(broken) == {"status", "type", "day", "subtree_type"}, broken

    result = app.test_cli_runner().invoke(args=["reconcile-counters"])

    assert result.exit_code == 0, result.output
    assert f"counter rows: {len(want['status'])}" in result.output
    db.session.expire_all()
    assert diff(want, kept()) == {}
    assert truth() == want  # the command counts; it never touches a profile


def test_scope_totals_count_nested_and_separate_grants_once(app):
    """An officer holding a district, a unit inside it and a unit of another district: the cards and the grid's
    totals from the subtree counters equal a count of the staff of that union, each person once."""
    from admin_app.services.counters import reported_total, status_counts
    from admin_app.services.scope import Scope

    insts = {i: p for i, p in db.session.execute(select(Institution.id, Institution.path))}
    districts = [p for p in insts.values() if p.count("/") == 4 and any(q.startswith(p) and q != p
                                                                       for q in insts.values())]
    a, b = districts[0], districts[1]
    unit_in_a = next(q for q in insts.values() if q.startswith(a) and q != a)
    staffed = set(db.session.scalars(select(StaffProfile.institution_id).where(StaffProfile.status != "draft")))
    unit_in_b = next(q for i, q in insts.items() if q.startswith(b) and q != b and i in staffed)
    paths = (a, unit_in_a, unit_in_b)
    scope = Scope(user_id=1, paths=tuple(sorted(paths)), institution_ids=tuple(sorted(
        i for i, p in insts.items() if p in paths)))
    covered = [i for i, p in insts.items() if any(p.startswith(r) for r in paths)]
    want = dict(db.session.execute(select(StaffProfile.status, func.count())
                                   .where(StaffProfile.institution_id.in_(covered)).group_by(StaffProfile.status)).all())
    assert want and {k: v for k, v in status_counts(scope).items() if v} == want
    reported = {"submitted", "unit_approved", "approved", "unit_rejected", "rejected"}
    assert reported_total(scope, reported) == sum(n for s, n in want.items() if s != "draft")
    # Within the path of a unit in scope, of the district above a unit in scope, and of one outside the scope.
    only_b = [i for i, p in insts.items() if p.startswith(unit_in_b)]
    n_b = db.session.scalar(select(func.count()).where(StaffProfile.institution_id.in_(only_b),
                                                       StaffProfile.status.in_(reported)))
    assert reported_total(scope, reported, path=unit_in_b) == n_b
    assert reported_total(scope, reported, path=b) == n_b  # the district itself is not in scope: its unit is
    outside = next(p for p in districts if not any(p.startswith(r) or r.startswith(p) for r in paths))
    assert reported_total(scope, reported, path=outside) == 0
