"""The staff card /admin/staff/details/: content, masked number and its audited reveal, scope, history, buttons."""
import pytest

from admin_app.extensions import db
from admin_app.services.crypto import decrypt
from tests.conftest import DISTRICT_A, STAFF_A, STAFF_B, UNIT_A, UNIT_B
from tests.test_review_support import STAFF_URL, audit_rows, post_action, profile, user

CARD = STAFF_URL + "details/?id={}"
REVEAL = STAFF_URL + "details/id-number/"


def test_card_shows_the_profile_like_the_original(login):
    p, u = profile(STAFF_A), user(STAFF_A)
    html = login(UNIT_A).get(CARD.format(p.id)).get_data(as_text=True)
    assert p.name in html and 'data-status="submitted"' in html and "待审核" in html
    assert p.phone in html and u.id_number_masked in html
    assert decrypt(u.id_number_enc) not in html  # masked until asked for
    assert "居民身份证" in html
    for label in ("工作信息", "人员性质", "所在地区", "所在单位", "科室", "职称", "职务", "从业时间", "从业年限",
                  "审核记录"):
        assert label in html, label
    assert "北京市-北京市-西城区" in html  # region path from the account's region
    assert p.institution.name in html
    assert "岁" in html
    if p.personnel_type in ("testing", "both"):
        assert "检测信息" in html and "是否具有PCR资质证书" in html
    if p.personnel_type in ("sampling", "both"):
        assert "采样信息" in html


def test_card_offers_the_buttons_this_admin_may_use(login):
    p = profile(STAFF_A)
    html = login(UNIT_A).get(CARD.format(p.id)).get_data(as_text=True)
    assert 'data-action="approve"' in html and 'data-action="reject"' in html and 'data-action="revert"' not in html
    html = login(DISTRICT_A).get(CARD.format(p.id)).get_data(as_text=True)
    assert 'data-action=' not in html  # pending at the unit: nothing for the district yet


def test_reveal_full_number_is_audited(login):
    p, u = profile(STAFF_A), user(STAFF_A)
    c = login(UNIT_A)
    resp = c.post(REVEAL, data={"id": str(p.id)})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and decrypt(u.id_number_enc) in html
    assert resp.headers["Cache-Control"] == "no-store"
    row, = audit_rows("view_id_number")
    assert row.actor_id == user(UNIT_A).id and row.target_id == str(u.id)
    assert row.institution_id == p.institution_id and row.details == {"profile_id": p.id}


@pytest.mark.parametrize("pid", ["abc", "", "-1", "0", "99999999", "10000000000000000000000"])
def test_reveal_refuses_bad_ids(login, pid):
    resp = login(UNIT_A).post(REVEAL, data={"id": pid})
    assert resp.status_code == 404 and not audit_rows("view_id_number")


def test_other_unit_gets_404_everywhere(login):
    p = profile(STAFF_A)
    c = login(UNIT_B)
    assert c.get(CARD.format(p.id)).status_code == 404
    assert c.post(REVEAL, data={"id": str(p.id)}).status_code == 404
    assert not audit_rows("view_id_number")
    assert login(UNIT_A).get(CARD.format(profile(STAFF_B).id)).status_code == 404


@pytest.mark.parametrize("pid", ["abc", "1.5", "-3", "99999999999999999999999", "%00"])
def test_bad_card_ids_are_404(login, pid):
    assert login(UNIT_A).get(STAFF_URL + "details/", query_string={"id": pid}).status_code == 404


def test_history_newest_first_with_reason_and_level(login):
    p = profile(STAFF_A)
    c = login(UNIT_A)
    post_action(c, "reject", [p.id], reason="第一次驳回")
    p.status = "submitted"  # as if the staff member resubmitted
    db.session.commit()
    post_action(c, "approve", [p.id])
    html = c.get(CARD.format(p.id)).get_data(as_text=True)
    history = html[html.index("review-history"):]
    assert history.index('data-event="approve"') < history.index('data-event="reject"')
    assert "第一次驳回" in history and "单位审核" in history and "西城疾控管理员" in history


def test_card_avatar_uses_the_portal_route_when_present(app, login):
    p = profile(STAFF_A)
    html = login(UNIT_A).get(CARD.format(p.id)).get_data(as_text=True)
    if "portal.avatar" in app.view_functions:
        assert f"/profile/{p.id}/avatar" in html
    else:
        assert "暂无头像" in html


def test_reject_from_the_card_without_reason_asks_for_it(login):
    p = profile(STAFF_A)
    c = login(UNIT_A)
    resp = post_action(c, "reject", [p.id], reason="", url=CARD.format(p.id), version=str(p.version))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and f'name="version" value="{p.version}"' in html
    assert profile(STAFF_A).status == "submitted"
