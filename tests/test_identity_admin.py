"""/admin/verification/: the scoped queue, detail with scans and the full number, approve / reject, end to end."""
import re
import threading

import pytest
from sqlalchemy import select

from admin_app.extensions import db
from admin_app.models import AuditLog, IdentityVerification
from admin_app.services import verification as svc
from admin_app.services.crypto import decrypt
from admin_app.services.identity import index_for
from admin_app.services.scope import scope_for
from tests.conftest import DISTRICT_A, DISTRICT_B, PROVINCE, STAFF_A, STAFF_B, SUPER, UNIT_A, UNIT_B
from tests.test_identity_helpers import (
    post_verify,
    requests_of,
    resident_id,
    snapshot,
    staff_client,
    text_of,
    user_by_phone,
)

URL = "/admin/verification/"


@pytest.fixture
def pending(app):
    """STAFF_A (unit A, under district A) has a pending resident-ID request; returns (request id, number)."""
    number = resident_id(seq=111)
    assert post_verify(staff_client(app, STAFF_A), number=number).status_code == 302
    [req] = requests_of(user_by_phone(STAFF_A))
    return req.id, number


def act(client, action, ids, reason=None, url=URL):
    data = {"action": action, "rowid": [str(i) for i in ids], "url": url}
    if reason is not None:
        data["reason"] = reason
    return client.post(URL + "action/", data=data)


def flashes(client) -> str:
    return text_of(client.get(URL))


def status_of(req_id: int) -> str:
    db.session.expire_all()
    return db.session.get(IdentityVerification, req_id).status


def test_done_when_submit_approve_verified_end_to_end(app, login):
    """A user submits a resident ID with scans, the platform admin approves it, the user is verified."""
    number = resident_id(seq=222)
    staff = staff_client(app, STAFF_A)
    assert post_verify(staff, number=number, name="张晓明").status_code == 302

    admin = login(SUPER)
    html = text_of(admin.get(URL))
    assert "张晓明" in html and number[:6] + "*****" + number[-3:] in html and number not in html
    req_id = int(re.search(r'name="rowid"[^>]*value="(\d+)"', html).group(1))
    detail = text_of(admin.get(f"{URL}details/?id={req_id}"))
    assert number in detail and f"scan/{req_id}/front" in detail and f"scan/{req_id}/back" in detail
    assert admin.get(f"{URL}scan/{req_id}/front").mimetype == "image/jpeg"

    resp = act(admin, "approve", [req_id], url=f"{URL}details/?id={req_id}")
    assert resp.status_code == 302
    assert "已通过 1 条" in text_of(admin.get(resp.headers["Location"]))

    user = user_by_phone(STAFF_A)
    assert user.identity_status == "verified" and svc.is_verified(user)
    assert user.id_type == "resident_id" and decrypt(user.id_number_enc) == number
    assert user.id_number_index == index_for("resident_id", number)
    assert user.id_number_masked == number[:6] + "*****" + number[-3:]
    assert svc.find_verified_user("resident_id", number).id == user.id  # the grant page finds the person
    page = text_of(staff.get("/verify"))
    assert 'data-identity-status="verified"' in page and "认证成功" in page
    actions = set(db.session.scalars(select(AuditLog.action).where(AuditLog.target_id == str(req_id))))
    assert {"identity.submit", "identity.view_number", "identity.approve"} <= actions


def test_queue_for_in_scope_admins(app, login, pending):
    req_id, number = pending
    for phone in (SUPER, PROVINCE, DISTRICT_A, UNIT_A):
        html = text_of(login(phone).get(URL))
        assert f'value="{req_id}"' in html, phone
        assert "待审核" in html and "北京市西城区疾病预防控制中心" in html
    for phone in (DISTRICT_B, UNIT_B):
        html = text_of(login(phone).get(URL))
        assert f'value="{req_id}"' not in html, phone


def test_pending_first_and_status_filter(app, login, pending):
    req_id, _ = pending
    other = staff_client(app, STAFF_B)
    assert post_verify(other, number=resident_id(seq=112), name="李晓红").status_code == 302
    [other_req] = requests_of(user_by_phone(STAFF_B))
    superuser = user_by_phone(SUPER)
    svc.reject([req_id], superuser.id, scope_for(superuser), "模糊")
    admin = login(SUPER)
    html = text_of(admin.get(URL))
    ids = [int(i) for i in re.findall(r'name="rowid"[^>]*value="(\d+)"', html)]
    assert ids == [other_req.id, req_id]  # the pending one first
    html = text_of(admin.get(URL + "?flt0_0=rejected"))
    assert re.findall(r'name="rowid"[^>]*value="(\d+)"', html) == [str(req_id)]


def test_list_has_labelled_bulk_controls_without_inline_handlers(login, pending):
    html = text_of(login(SUPER).get(URL))
    assert re.search(r'<label for="bulk-reason"', html)
    assert 'name="action" value="approve"' in html and 'name="action" value="reject"' in html
    queue = html[html.index('class="verification-queue"'):]
    queue = queue[:queue.index("</form>")]
    assert "onclick" not in queue


def test_staff_may_not_open_the_queue(app, pending):
    staff = staff_client(app, STAFF_B)
    assert staff.get(URL).status_code == 403
    assert staff.get(f"{URL}details/?id={pending[0]}").status_code == 403
    before = snapshot()
    assert act(staff, "approve", [pending[0]]).status_code == 403
    assert snapshot() == before
    assert app.test_client().get(URL).status_code == 302  # anonymous: sign in


def test_reviewer_outside_scope_gets_404_and_is_skipped(app, login, pending):
    req_id, number = pending
    outsider = login(DISTRICT_B)
    assert outsider.get(f"{URL}details/?id={req_id}").status_code == 404
    assert outsider.get(f"{URL}scan/{req_id}/front").status_code == 404
    before = snapshot()
    resp = act(outsider, "approve", [req_id])
    assert resp.status_code == 302
    assert "1 条已跳过" in flashes(outsider)
    resp = act(outsider, "reject", [req_id], reason="不清晰")
    assert snapshot() == before
    assert status_of(req_id) == "pending"
    assert number not in text_of(outsider.get(URL))


def test_detail_shows_full_number_to_in_scope_admin_audited(app, login, pending):
    req_id, number = pending
    admin = login(UNIT_A)
    before = db.session.scalar(select(db.func.count()).select_from(AuditLog)
                               .where(AuditLog.action == "identity.view_number"))
    html = text_of(admin.get(f"{URL}details/?id={req_id}"))
    assert number in html and "张晓明" in html and "居民身份证" in html
    assert re.search(r'<label for="detail-reason"', html)
    rows = db.session.scalars(select(AuditLog).where(AuditLog.action == "identity.view_number")).all()
    assert len(rows) == before + 1 and rows[-1].actor_id == user_by_phone(UNIT_A).id
    assert rows[-1].institution_id == user_by_phone(STAFF_A).institution_id
    assert number not in str(rows[-1].details)


def test_scan_route_checks_scope_and_side(login, pending):
    req_id, _ = pending
    admin = login(DISTRICT_A)
    resp = admin.get(f"{URL}scan/{req_id}/back")
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "private, no-store"
    assert admin.get(f"{URL}scan/{req_id}/other").status_code == 404
    assert admin.get(f"{URL}scan/{req_id + 1000}/front").status_code == 404


def test_approving_twice_second_is_skipped(app, login, pending):
    req_id, _ = pending
    first, second = login(SUPER), login(UNIT_A)
    act(first, "approve", [req_id])
    before = snapshot()
    resp = act(second, "approve", [req_id])
    assert resp.status_code == 302
    assert "1 条已跳过" in flashes(second)
    assert snapshot() == before
    approvals = db.session.scalars(select(AuditLog).where(AuditLog.action == "identity.approve")).all()
    assert len(approvals) == 1


def test_approving_at_once_has_one_winner(app, pending):
    req_id, _ = pending
    actors = [user_by_phone(SUPER), user_by_phone(UNIT_A)]
    scopes = [scope_for(a) for a in actors]
    ids = [a.id for a in actors]
    barrier, results = threading.Barrier(2), []

    def run(actor_id, scope):
        with app.app_context():
            barrier.wait()
            results.append(svc.approve([req_id], actor_id, scope).moved)
            db.session.remove()

    threads = [threading.Thread(target=run, args=(i, s)) for i, s in zip(ids, scopes, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 1]
    assert len(db.session.scalars(select(AuditLog).where(AuditLog.action == "identity.approve")).all()) == 1


def test_reject_without_reason_answers_with_reason_form(app, login, pending):
    req_id, _ = pending
    admin = login(SUPER)
    before = snapshot()
    resp = act(admin, "reject", [req_id], reason="   ")
    html = text_of(resp)
    assert resp.status_code == 200 and "请填写驳回原因" in html
    assert f'name="rowid" value="{req_id}"' in html and 'name="action" value="reject"' in html
    assert re.search(r'<label for="reason"', html)
    assert snapshot() == before
    resp = act(admin, "reject", [req_id], reason="x" * 501)
    assert resp.status_code == 200 and "500" in text_of(resp)
    assert snapshot() == before
    resp = act(admin, "reject", [req_id], reason="证件照片不清晰，请重新上传")
    assert resp.status_code == 302 and "已驳回 1 条" in flashes(admin)
    assert status_of(req_id) == "rejected"
    user = user_by_phone(STAFF_A)
    assert user.identity_status == "rejected" and not svc.is_verified(user)
    with app.test_request_context("/"):
        status = svc.verification_status(user)
    assert (status.code, status.label) == ("rejected", "认证失败") and status.reason == "证件照片不清晰，请重新上传"


def test_bulk_approve_in_scope_rows_only(app, login):
    a = staff_client(app, STAFF_A)
    b = staff_client(app, STAFF_B)
    assert post_verify(a, number=resident_id(seq=301)).status_code == 302
    assert post_verify(b, number=resident_id(seq=302), name="李晓红").status_code == 302
    ids = [requests_of(user_by_phone(p))[0].id for p in (STAFF_A, STAFF_B)]
    officer = login(DISTRICT_A)  # holds A's unit, not B's
    act(officer, "approve", ids + ["999999"])
    assert [status_of(i) for i in ids] == ["verified", "pending"]
    page = flashes(officer)
    assert "已通过 1 条" in page and "2 条已跳过" in page


def test_bad_ids_are_refused(login, pending):
    admin = login(SUPER)
    before = snapshot()
    act(admin, "approve", ["abc"])
    page = flashes(admin)
    assert "选择无效" in page or "所选记录无效" in page
    assert snapshot() == before


def test_conflict_at_approval_is_refused(app, login, pending):
    """Two accounts with requests for one number (they raced past the submission check): one wins."""
    req_id, number = pending
    other = user_by_phone(STAFF_B)
    values = {k: getattr(db.session.get(IdentityVerification, req_id), k)
              for k in ("id_type", "id_number_enc", "id_number_index", "id_number_masked", "front_image")}
    other.identity_status = "pending"
    twin = IdentityVerification(user_id=other.id, name="李晓红", status="pending", **values)
    db.session.add(twin)
    db.session.commit()
    twin_id = twin.id
    admin = login(SUPER)
    act(admin, "approve", [req_id, twin_id])
    assert [status_of(req_id), status_of(twin_id)] == ["verified", "pending"]
    assert "1 条已跳过：该证件号码已在其他账号完成实名认证" in flashes(admin)
    before = snapshot()
    act(admin, "approve", [twin_id])  # the number now belongs to STAFF_A
    assert snapshot() == before and status_of(twin_id) == "pending"


def test_unique_constraint_is_the_last_line(app, login, pending, monkeypatch):
    """Should the pre-check miss a holder (a race), the database refuses and nothing is written."""
    req_id, number = pending
    other = user_by_phone(STAFF_B)
    other.id_type, other.id_number_index = "resident_id", index_for("resident_id", number)
    db.session.commit()
    monkeypatch.setattr(svc, "_holders", lambda indexes: {})
    before = snapshot()
    admin = login(SUPER)
    act(admin, "approve", [req_id])
    assert "该证件号码已在其他账号完成实名认证，本次未做任何更改" in flashes(admin)
    assert snapshot() == before and status_of(req_id) == "pending"


def test_reviewer_cannot_decide_own_request(app, login):
    admin_user = user_by_phone(UNIT_A)
    admin_user.identity_status = "unverified"
    db.session.commit()
    own = staff_client(app, UNIT_A)
    assert post_verify(own, number=resident_id(seq=401), name="西城疾控管理员").status_code == 302
    [req] = requests_of(admin_user)
    admin = login(UNIT_A)
    html = text_of(admin.get(f"{URL}details/?id={req.id}"))
    assert "不能审核本人的认证申请" in html and 'value="approve"' not in html
    before = snapshot()
    act(admin, "approve", [req.id])
    assert snapshot() == before and status_of(req.id) == "pending"
    act(login(DISTRICT_A), "approve", [req.id])  # the level above may
    assert status_of(req.id) == "verified"


def test_english_labels(login, pending):
    html = text_of(login(SUPER).get(URL + "?lang=en"))
    assert "Pending review" in html and "Approve selected" in html


def test_queue_is_read_only_apart_from_the_decisions(login, pending):
    req_id, _ = pending
    su = login(SUPER)
    assert su.get(URL + "new/").status_code in (302, 403, 404)
    assert su.get(f"{URL}edit/?id={req_id}").status_code in (302, 403, 404)
    su.post(URL + "delete/", data={"id": str(req_id)})
    assert status_of(req_id) == "pending"


def test_search_by_name_and_phone(login, pending):
    req_id, _ = pending
    admin = login(SUPER)
    for term in ("张晓明", STAFF_A[-6:]):
        html = text_of(admin.get(URL + "?search=" + term))
        assert re.findall(r'name="rowid"[^>]*value="(\d+)"', html) == [str(req_id)], term
    html = text_of(admin.get(URL + "?search=nobody"))
    assert 'name="rowid"' not in html
