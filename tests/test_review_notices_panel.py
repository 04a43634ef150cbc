"""Failed SMS notices where the unit admin or officer lands (the dashboard): the count, the people not told, and a
button that sends them again, each admin for his own units only, audited; an empty state otherwise."""
import re

from sqlalchemy import select

from admin_app.extensions import db
from admin_app.models import AuditLog, SmsNotice
from admin_app.models.types import utcnow
from tests.conftest import DISTRICT_A, STAFF_A, UNIT_A, UNIT_B, csrf_token_from
from tests.test_review_notices import notice_lines
from tests.test_review_support import flashes, make_pending, post_action, user

RESEND = "/admin/notices/resend"


def failed_on_dashboard(client) -> int:
    html = client.get("/admin/").get_data(as_text=True)
    return int(re.search(r'class="card mb-3 notice-panel[^"]*"[^>]*data-failed="(\d+)"', html).group(1))


def fail_rejections(app, login, n: int) -> list[int]:
    """A unit admin rejects n people while the SMS gateway is down: their notices fail after every retry."""
    app.config.update(SMS_BACKEND="http", SMS_HTTP_URL="http://127.0.0.1:9/sms", NOTICE_RETRY_SECONDS=0,
                      NOTICE_MAX_ATTEMPTS=2)
    ids = make_pending(UNIT_A, n)
    post_action(login(UNIT_A), "reject", ids, reason="请补充材料")
    assert {s for s in db.session.scalars(select(SmsNotice.status))} == {"failed"}
    return ids


def test_the_dashboard_says_there_are_no_failed_notices(app, login):
    html = login(UNIT_A).get("/admin/").get_data(as_text=True)
    assert 'data-failed="0"' in html and 'id="notices-empty"' in html and "没有发送失败的短信通知" in html
    assert 'id="notices-resend"' not in html


def test_failed_notices_show_to_the_admins_of_the_people_and_are_sent_again_from_the_dashboard(app, login):
    fail_rejections(app, login, 3)
    # An import invitation stored before invitations named their account: found by its phone.
    db.session.add(SmsNotice(user_id=None, phone=STAFF_A, purpose="invite", kind="invite", message="邀请",
                             status="failed", attempts=3, last_error="SmsError: gateway down", created_at=utcnow()))
    db.session.commit()
    unit = login(UNIT_A)
    html = unit.get("/admin/").get_data(as_text=True)
    assert failed_on_dashboard(unit) == 4 and "4 条短信通知经多次重试仍未发送成功" in html
    assert "驳回通知" in html and "导入邀请" in html and user(STAFF_A).name in html and "SmsError" in html
    assert "重新发送 4 条失败的通知" in html
    assert failed_on_dashboard(login(DISTRICT_A)) == 4  # the officer above the unit sees them too
    other = login(UNIT_B)
    assert failed_on_dashboard(other) == 0  # another unit's people: not his to see or send
    assert other.post(RESEND).status_code == 303
    assert flashes(other) == [("info", "没有需要重新发送的失败短信通知。")]
    assert {s for s in db.session.scalars(select(SmsNotice.status))} == {"failed"}

    app.config.update(SMS_BACKEND="console")  # the gateway is back
    resp = unit.post(RESEND)
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/admin/")
    assert flashes(unit) == [("success", "4 条发送失败的短信通知已重新排队发送。")]
    db.session.expire_all()
    assert {s for s in db.session.scalars(select(SmsNotice.status))} == {"sent"}
    assert len(notice_lines(app)) == 3
    audit, = db.session.scalars(select(AuditLog).where(AuditLog.action == "notices_resent")).all()
    assert audit.actor_id == user(UNIT_A).id and audit.details["count"] == 4
    assert failed_on_dashboard(unit) == 0
    assert unit.post(RESEND).status_code == 303 and flashes(unit)[0][0] == "info"  # nothing left: nothing sent twice
    assert len(notice_lines(app)) == 3


def test_resending_needs_the_forms_csrf_token_and_an_admin(app, login):
    fail_rejections(app, login, 1)
    app.config.update(SMS_BACKEND="console")
    unit = login(UNIT_A)
    app.config["WTF_CSRF_ENABLED"] = True
    assert unit.post(RESEND).status_code == 400
    token = csrf_token_from(unit.get("/admin/").get_data(as_text=True))
    assert unit.post(RESEND, data={"csrf_token": token}).status_code == 303
    app.config["WTF_CSRF_ENABLED"] = False
    assert login(STAFF_A).post(RESEND).status_code in (302, 403)
    assert notice_lines(app) and failed_on_dashboard(unit) == 0
