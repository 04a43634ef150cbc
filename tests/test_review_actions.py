"""Review actions on POST /admin/staff/action/: approve, reject (reason step), revert, bulk, single, bad input."""
import re

import pytest
from sqlalchemy import select

from admin_app.extensions import db
from admin_app.models import StaffProfile
from tests.conftest import DISTRICT_A, PROVINCE, STAFF_A, STAFF_B, SUPER, UNIT_A, UNIT_B, csrf_token_from
from tests.test_review_support import (
    ACTION_URL,
    STAFF_URL,
    audit_rows,
    counters_match_rows,
    events_for,
    flashes,
    make_pending,
    post_action,
    profile,
    profiles_of,
    snapshot,
    user,
)


def statuses(ids) -> dict[int, str]:
    return dict(db.session.execute(select(StaffProfile.id, StaffProfile.status).where(StaffProfile.id.in_(ids))).all())


def test_unit_admin_approves_twenty_at_once(login):
    ids = make_pending(UNIT_A, 20)
    c = login(UNIT_A)
    resp = post_action(c, "approve", ids)
    assert resp.status_code == 302 and resp.headers["Location"].endswith(STAFF_URL)
    assert set(statuses(ids).values()) == {"unit_approved"}
    (category, message), = flashes(c)
    assert category == "success" and message == "已通过 20 人。审核级别：单位审核"
    events = events_for(ids)
    assert len(events) == 20 and {(e.action, e.level, e.from_status, e.to_status) for e in events} == {
        ("approve", 1, "submitted", "unit_approved")}
    assert {e.actor_id for e in events} == {user(UNIT_A).id}
    assert counters_match_rows()
    audit, = audit_rows("review_approve")
    assert audit.details["moved"] == 20 and audit.institution_id == user(UNIT_A).institution_id


def test_approve_uses_one_update_and_one_event_insert(login, count_queries):
    ids = make_pending(UNIT_A, 20)
    c = login(UNIT_A)
    with count_queries() as q:
        post_action(c, "approve", ids)
    writes = [s.split()[0].upper() + " " + s.split()[1 if s.split()[0].upper() == "UPDATE" else 2].strip('"')
              for s in q.statements if s.split()[0].upper() in ("UPDATE", "INSERT")]
    assert writes.count("UPDATE staff_profile") == 1
    assert writes.count("INSERT review_event") == 1
    assert writes.count("INSERT audit_log") == 1


def test_mixed_selection_reports_skipped_rows(login):
    pending = make_pending(UNIT_A, 3)
    approved = [p.id for p in profiles_of(UNIT_A, "approved")][:2]
    other_unit = profile(STAFF_B).id
    c = login(UNIT_A)
    before = statuses(approved + [other_unit])
    post_action(c, "approve", pending + approved + [other_unit])
    (category, message), = flashes(c)
    assert category == "warning"
    assert message == "已通过 3 人，跳过 3 人（状态已变化或无权审核）。审核级别：单位审核"
    assert statuses(approved + [other_unit]) == before  # never applied
    assert set(statuses(pending).values()) == {"unit_approved"}


def test_reject_without_reason_answers_with_a_reason_form_keeping_the_rows(login):
    ids = make_pending(UNIT_A, 3)
    c = login(UNIT_A)
    before = snapshot()
    resp = post_action(c, "reject", ids)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'name="reason"' in html
    assert sorted(int(x) for x in re.findall(r'name="rowid" value="(\d+)"', html)) == sorted(ids)
    assert 'name="action" value="reject"' in html and 'action="/admin/staff/action/"' in html
    assert 'name="csrf_token"' in html
    assert snapshot() == before  # asked, nothing written
    # Posting the reason form completes the rejection.
    resp = c.post(ACTION_URL, data={"action": "reject", "rowid": [str(i) for i in ids],
                                    "reason": "照片不清晰，请重新上传", "reason_step": "1", "url": STAFF_URL})
    assert resp.status_code == 302
    assert set(statuses(ids).values()) == {"unit_rejected"}
    assert {p.last_reason for p in db.session.scalars(select(StaffProfile).where(StaffProfile.id.in_(ids)))} == {
        "照片不清晰，请重新上传"}
    assert flashes(c)[0][1] == "已驳回 3 人。审核级别：单位审核"
    assert counters_match_rows()


@pytest.mark.parametrize("reason", ["", "   \n\t ", "x" * 501, "长" * 10_000])
def test_bad_reasons_are_refused_on_the_form(login, reason):
    ids = make_pending(UNIT_A, 2)
    c = login(UNIT_A)
    before = snapshot()
    resp = c.post(ACTION_URL, data={"action": "reject", "rowid": [str(i) for i in ids], "reason": reason,
                                    "reason_step": "1", "url": STAFF_URL})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and 'class="invalid-feedback d-block"' in html
    assert ("请填写原因" in html) if not reason.strip() else ("原因最多 500 个字" in html)
    assert sorted(int(x) for x in re.findall(r'name="rowid" value="(\d+)"', html)) == sorted(ids)
    assert snapshot() == before


def test_reason_of_exactly_500_characters_is_accepted(login):
    ids = make_pending(UNIT_A, 1)
    c = login(UNIT_A)
    post_action(c, "reject", ids, reason="原" * 500)
    assert profile_by_id(ids[0]).last_reason == "原" * 500


def profile_by_id(pid: int) -> StaffProfile:
    return db.session.get(StaffProfile, pid)


def test_revert_lets_staff_edit_again(login):
    approved = [p.id for p in profiles_of(UNIT_A, "unit_approved")][:2]
    assert approved
    c = login(UNIT_A)
    post_action(c, "revert", approved, reason="信息有误，请核对后重新提交")
    assert set(statuses(approved).values()) == {"unit_rejected"}
    assert flashes(c)[0][1].startswith("已退审 2 人")
    from admin_app.services.review import STAFF_EDITABLE

    assert all(s in STAFF_EDITABLE for s in statuses(approved).values())
    assert counters_match_rows()


def test_unit_admin_cannot_revert_an_institution_approval(login):
    approved = [p.id for p in profiles_of(UNIT_A, "approved")][:2]
    c = login(UNIT_A)
    before = snapshot()
    post_action(c, "revert", approved, reason="想退回")
    assert flashes(c)[0][0] == "error"
    assert snapshot() == before


def test_district_officer_acts_at_level_two(login):
    ids = [p.id for p in profiles_of(UNIT_A, "unit_approved")][:2]
    pending = make_pending(UNIT_A, 1)
    c = login(DISTRICT_A)
    post_action(c, "approve", ids + pending)
    (category, message), = flashes(c)
    assert message == "已通过 2 人，跳过 1 人（状态已变化或无权审核）。审核级别：机构审核"
    assert set(statuses(ids).values()) == {"approved"} and statuses(pending)[pending[0]] == "submitted"
    post_action(c, "revert", ids, reason="复核不通过")
    assert set(statuses(ids).values()) == {"unit_rejected"}


def test_unit_b_admin_cannot_act_on_unit_a(login):
    ids = make_pending(UNIT_A, 3)
    c = login(UNIT_B)
    before = snapshot()
    for action, reason in (("approve", None), ("reject", "不行"), ("revert", "不行")):
        post_action(c, action, ids, reason=reason)
        assert flashes(c)[0][0] == "error"
    assert snapshot() == before


@pytest.mark.parametrize("rowids", [["abc"], ["1", "2x"], ["-1"], ["1.5"], ["99999999999999999999999"], ["１２"],
                                    ["1e3"], [" "]])
def test_non_numeric_ids_are_refused_whole(login, rowids):
    ids = make_pending(UNIT_A, 1)
    c = login(UNIT_A)
    before = snapshot()
    resp = c.post(ACTION_URL, data={"action": "approve", "rowid": [str(ids[0])] + rowids, "url": STAFF_URL})
    assert resp.status_code == 302
    assert flashes(c) == [("error", "所选记录无效。")]
    assert snapshot() == before


def test_no_selection_is_refused(login):
    c = login(UNIT_A)
    before = snapshot()
    c.post(ACTION_URL, data={"action": "approve", "url": STAFF_URL})
    assert flashes(c) == [("error", "请至少选择一条记录。")]
    assert snapshot() == before


@pytest.mark.parametrize("name", ["delete", "approve_all", "", "APPROVE", "submit", "action_approve"])
def test_forged_action_names_are_refused(login, name):
    ids = make_pending(UNIT_A, 1)
    c = login(UNIT_A)
    before = snapshot()
    resp = c.post(ACTION_URL, data={"action": name, "rowid": [str(ids[0])], "url": STAFF_URL})
    assert resp.status_code == 302
    assert flashes(c) == [("error", "未知的操作。")]
    assert snapshot() == before


def test_post_without_csrf_is_refused(app, login):
    ids = make_pending(UNIT_A, 1)
    c = login(UNIT_A)
    app.config["WTF_CSRF_ENABLED"] = True
    before = snapshot()
    resp = c.post(ACTION_URL, data={"action": "approve", "rowid": [str(ids[0])], "url": STAFF_URL})
    assert resp.status_code == 400
    assert "安全令牌" in resp.get_data(as_text=True)
    resp = c.post(ACTION_URL, data={"action": "approve", "rowid": [str(ids[0])], "csrf_token": "forged"})
    assert resp.status_code == 400
    assert snapshot() == before
    # With the page's token the same post goes through.
    token = csrf_token_from(c.get(STAFF_URL).get_data(as_text=True))
    resp = c.post(ACTION_URL, data={"action": "approve", "rowid": [str(ids[0])], "csrf_token": token, "url": STAFF_URL})
    assert resp.status_code == 302 and statuses(ids)[ids[0]] == "unit_approved"


def test_reason_form_carries_a_working_csrf_token(app, login):
    ids = make_pending(UNIT_A, 2)
    c = login(UNIT_A)
    app.config["WTF_CSRF_ENABLED"] = True
    token = csrf_token_from(c.get(STAFF_URL).get_data(as_text=True))
    html = c.post(ACTION_URL, data={"action": "reject", "rowid": [str(i) for i in ids], "csrf_token": token,
                                    "url": STAFF_URL}).get_data(as_text=True)
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))
    assert form["csrf_token"] and form["action"] == "reject"
    resp = c.post(ACTION_URL, data={**form, "rowid": re.findall(r'name="rowid" value="(\d+)"', html),
                                    "reason": "缺少资质证书"})
    assert resp.status_code == 302 and set(statuses(ids).values()) == {"unit_rejected"}


def test_return_url_must_be_local(login):
    ids = make_pending(UNIT_A, 1)
    c = login(UNIT_A)
    resp = post_action(c, "approve", ids, url="https://evil.example/phish")
    assert resp.headers["Location"].endswith(STAFF_URL)


def test_single_action_from_the_card_is_held_to_the_version_seen(login):
    ids = make_pending(UNIT_A, 1)
    p = profile_by_id(ids[0])
    seen = p.version
    c = login(UNIT_A)
    card = c.get(f"{STAFF_URL}details/?id={p.id}").get_data(as_text=True)
    assert f'name="version" value="{seen}"' in card
    # The staff member saves an edit after the admin opened the card: the approval does not apply unseen.
    p.department = "新科室"
    p.version = seen + 1
    db.session.commit()
    post_action(c, "approve", ids, version=str(seen))
    assert flashes(c)[0][0] == "error" and statuses(ids)[ids[0]] == "submitted"
    post_action(c, "approve", ids, version=str(seen + 1))
    assert statuses(ids)[ids[0]] == "unit_approved"


def test_select_all_matching_the_filter(login):
    ids = make_pending(UNIT_A, 20)
    c = login(UNIT_A)
    resp = c.post(ACTION_URL + "?flt0_0=submitted", data={"action": "approve", "select_all": "1",
                                                          "rowid": [str(ids[0])], "url": STAFF_URL})
    assert resp.status_code == 302
    assert not profiles_of(UNIT_A, "submitted")
    assert set(statuses(ids).values()) == {"unit_approved"}
    assert flashes(c)[0][1].startswith(f"已通过 {len(ids)} 人")


def test_select_all_respects_search_and_scope(login):
    make_pending(UNIT_A, 5)
    waiting = len(profiles_of(UNIT_A, "submitted"))
    target = profile(STAFF_A)
    c = login(UNIT_A)
    c.post(ACTION_URL + f"?flt0_0=submitted&search={STAFF_A}",
           data={"action": "approve", "select_all": "1", "rowid": ["1"], "url": STAFF_URL})
    assert statuses([target.id])[target.id] == "unit_approved"
    assert len(profiles_of(UNIT_A, "submitted")) == waiting - 1
    # The superuser's select-all over everything pending is capped by configuration.
    su = login(SUPER)
    su.application.config["REVIEW_SELECT_ALL_MAX"] = 3
    before = snapshot()
    su.post(ACTION_URL + "?flt0_0=submitted", data={"action": "approve", "select_all": "1", "rowid": ["1"]})
    assert flashes(su)[0][0] == "error" and snapshot() == before


def test_grid_buttons_post_through_the_page_form(login):
    # Every reported row of the unit: pending ones (approve, reject) and unit-approved ones (revert) are shown.
    html = login(UNIT_A).get(STAFF_URL + "?flt0_0=reported").get_data(as_text=True)
    form = re.search(r'<form method="post" action="([^"]+)" id="review_form"', html)
    assert form and form.group(1).startswith(ACTION_URL)
    for name in ("approve", "reject", "revert"):
        assert f'name="action" value="{name}"' in html


def test_province_officer_flash_names_the_level(login):
    ids = [p.id for p in profiles_of(UNIT_A, "unit_approved")][:1]
    c = login(PROVINCE)
    post_action(c, "reject", ids, reason="资料不全")
    assert flashes(c)[0][1] == "已驳回 1 人。审核级别：机构审核"
    assert statuses(ids)[ids[0]] == "rejected"
    assert profile_by_id(ids[0]).last_reason == "资料不全"


def test_staff_sees_rejection_reason_on_me(app, login):
    if "portal.me" not in app.view_functions:
        pytest.skip("the staff portal (/me) is not built yet")
    p = profile(STAFF_A)
    post_action(login(UNIT_A), "reject", [p.id], reason="请上传清晰的证件照片")
    html = login(STAFF_A).get("/me").get_data(as_text=True)
    assert 'data-status="unit_rejected"' in html and "请上传清晰的证件照片" in html


def test_select_all_reject_asks_once_for_the_reason_with_every_matching_row(login):
    ids = make_pending(UNIT_A, 20)
    waiting = {p.id for p in profiles_of(UNIT_A, "submitted")}
    c = login(UNIT_A)
    resp = c.post(ACTION_URL + "?flt0_0=submitted", data={"action": "reject", "select_all": "1",
                                                          "rowid": [str(ids[0])], "url": STAFF_URL})
    html = resp.get_data(as_text=True)
    kept = {int(x) for x in re.findall(r'name="rowid" value="(\d+)"', html)}
    assert resp.status_code == 200 and kept == waiting and 'name="select_all"' not in html
    c.post(ACTION_URL + "?flt0_0=submitted", data={"action": "reject", "rowid": [str(i) for i in kept],
                                                   "reason": "统一退回补充材料", "reason_step": "1", "url": STAFF_URL})
    assert set(statuses(kept).values()) == {"unit_rejected"} and counters_match_rows()
