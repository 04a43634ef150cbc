"""Issue 22, the review rules staff and unit admins trust: no one reviews himself, a bulk action acts on what
the admin saw (the race of a unit's 通过 and a superuser's 驳回), history and lock words say what happened.
SQLite and PostgreSQL (TEST_DATABASE_URL)."""
import re
import threading

import pytest
from sqlalchemy import func, select, update

from admin_app.extensions import db
from admin_app.models import Institution, ReviewEvent, StaffProfile
from admin_app.services.review import available, transition
from tests.conftest import DISTRICT_A, STAFF_A, SUPER, UNIT_A
from tests.test_review_races import run_in_threads
from tests.test_review_support import counters_match_rows, flashes, make_pending, post_action, profile, scope_of, user


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


def test_the_card_offers_no_buttons_on_ones_own_profile(app, login):
    own = make_admin_a_staff_member()
    p = db.session.get(StaffProfile, own)
    scope = scope_of(UNIT_A)
    assert available(p.status, p.institution_id, p.institution.path, scope, owner_id=p.user_id) == []
    assert [t.action for t in available(p.status, p.institution_id, p.institution.path, scope)] == ["approve",
                                                                                                     "reject"]
    html = login(UNIT_A).get(f"/admin/staff/details/?id={own}").get_data(as_text=True)
    assert "不能审核本人的档案" in html and 'data-action="approve"' not in html


def test_grid_bulk_and_reason_paths_refuse_ones_own_profile(app, login):
    own = make_admin_a_staff_member()
    other = next(i for i in make_pending(UNIT_A, 2) if i != own)
    c = login(UNIT_A)
    post_action(c, "approve", [own, other])
    (category, message), = flashes(c)
    assert "不能审核本人的档案" in message and "通过 1 人" in message.replace("已通过", "通过")
    assert status_of(own) == "submitted" and status_of(other) == "unit_approved"
    post_action(c, "reject", [own], reason="自己驳回自己")
    (category, message), = flashes(c)
    assert category == "error" and "不能审核本人的档案" in message and status_of(own) == "submitted"


def test_select_all_leaves_ones_own_profile_alone(app, login):
    own = make_admin_a_staff_member()
    c = login(UNIT_A)
    post_action(c, "approve", [], select_all="1", url="/admin/staff/?flt0_status_equals=submitted")
    (category, message), = flashes(c)
    assert "不能审核本人的档案" in message and status_of(own) == "submitted"


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


def test_the_second_reviewer_is_told_how_many_rows_moved_since_his_page(app, login):
    ids = make_pending(UNIT_A, 3)
    seen = versions_of(ids)
    transition("approve", ids[:2], user(UNIT_A).id, scope_of(UNIT_A))  # the unit admin, a moment earlier
    c = login(SUPER)
    r = post_action(c, "reject", ids, reason="资料不全",
                    rowversion=[f"{i}:{v}" for i, v in seen.items()])
    assert r.status_code == 302
    (category, message), = flashes(c)
    assert "2 人状态已变化，未处理" in message and category == "warning"
    assert [status_of(i) for i in ids] == ["unit_approved", "unit_approved", "unit_rejected"]


def test_without_versions_the_action_acts_as_before(app, login):
    """The contract: action + rowid (+ reason) still works for outside callers that post no versions."""
    ids = make_pending(UNIT_A, 2)
    transition("approve", ids[:1], user(UNIT_A).id, scope_of(UNIT_A))
    c = login(SUPER)
    post_action(c, "reject", ids, reason="资料不全")
    assert [status_of(i) for i in ids] == ["rejected", "unit_rejected"]


def test_a_malformed_row_version_is_refused_without_a_write(app, login):
    ids = make_pending(UNIT_A, 1)
    c = login(UNIT_A)
    post_action(c, "approve", ids, rowversion=[f"{ids[0]}:x"])
    (category, message), = flashes(c)
    assert category == "error" and status_of(ids[0]) == "submitted"


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


# ---- the grid offers what its reader can do, and shows who is selected ---------------------------------------

def buttons(html: str) -> set[str]:
    bulk = re.search(r'<fieldset[^>]*review-bulk.*?</fieldset>', html, re.S)
    return set(re.findall(r'data-action="(\w+)"', bulk.group(0))) if bulk else set()


@pytest.mark.parametrize("phone, shown, offered", [
    (DISTRICT_A, "submitted", set()),  # pending their unit's review: nothing for the commission yet
    (DISTRICT_A, "unit_approved", {"approve", "reject"}),
    (DISTRICT_A, "approved", {"revert"}),
    (UNIT_A, "submitted", {"approve", "reject"}),
    (UNIT_A, "unit_approved", {"revert"}),
    (UNIT_A, "approved", set()),
])
def test_the_grid_offers_only_the_actions_its_reader_can_take(login, phone, shown, offered):
    html = login(phone).get(f"/admin/staff/?flt0_0={shown}").get_data(as_text=True)
    assert 'name="rowid"' in html
    assert buttons(html) == offered
    assert ("没有待您审核的人员" in html) == (not offered)


def test_each_row_posts_the_version_the_page_showed(login):
    html = login(UNIT_A).get("/admin/staff/?flt0_0=submitted").get_data(as_text=True)
    ids = re.findall(r'name="rowid" class="action-checkbox" value="(\d+)"', html)
    seen = dict(re.findall(r'name="rowversion" value="(\d+):(\d+)"', html))
    assert ids and set(ids) == set(seen)
    assert all(int(seen[i]) == db.session.get(StaffProfile, int(i)).version for i in ids)


def test_the_reason_page_lists_who_is_selected(login):
    ids = make_pending(UNIT_A, 3)
    names = [db.session.get(StaffProfile, i).name for i in ids]
    c = login(UNIT_A)
    r = post_action(c, "reject", ids, rowversion=[f"{i}:{v}" for i, v in versions_of(ids).items()])
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "3 人" in html
    listed = re.search(r'class="selected-names[^"]*">(.*?)</p>', html, re.S).group(1)
    assert all(n in listed for n in names)
    assert len(re.findall(r'name="rowversion"', html)) == 3  # the versions travel on with the reason
    r = post_action(c, "reject", ids, reason="证书照片不清晰", reason_step="1",
                    rowversion=re.findall(r'name="rowversion" value="([\d:]+)"', html))
    assert r.status_code == 302 and all(status_of(i) == "unit_rejected" for i in ids)


def test_a_unit_admin_sees_his_units_name_and_confirmation_code_on_the_list(login):
    unit = db.session.get(Institution, user(UNIT_A).institution_id)
    html = login(UNIT_A).get("/admin/staff/").get_data(as_text=True)
    panel = re.search(r'class="[^"]*unit-panel.*?</div>\s*</div>', html, re.S).group(0)
    assert unit.name in panel and unit.confirmation_code in panel and 'data-copy="#unit-confirmation-code"' in panel
    assert html.index("unit-panel") < html.index("review-cards")  # above the count cards
    assert "unit-panel" not in login(DISTRICT_A).get("/admin/staff/").get_data(as_text=True)
