"""Issue 21, part 3: the staff member is told by SMS when his profile is rejected, reverted or finally approved."""
import logging

import pytest
from sqlalchemy import select

from admin_app.extensions import db
from admin_app.models import SmsNotice, StaffProfile
from admin_app.services import checkup, notices
from tests.conftest import DISTRICT_A, UNIT_A, clone_demo, make_app, sms_outbox
from tests.test_ops_jobs import _signal_handlers_restored, redis_url  # noqa: F401  (redis-server, RQ signals)
from tests.test_review_support import flashes, make_pending, post_action, profile

REASON = "身份证正反面照片不清晰，请重新拍照上传，并核对职称信息是否与证书一致，然后重新提交审核"


def notice_lines(app) -> list[dict]:
    return [m for m in sms_outbox(app) if m["purpose"] == "notice"]


def phones_of(ids) -> dict[int, str]:
    return dict(db.session.execute(select(StaffProfile.id, StaffProfile.phone).where(StaffProfile.id.in_(ids))).all())


def test_a_bulk_reject_writes_one_outbox_line_per_staff_member_with_the_reason(app, login):
    ids = make_pending(UNIT_A, 12)
    resp = post_action(login(UNIT_A), "reject", ids, reason=REASON)
    assert resp.status_code == 302
    lines = notice_lines(app)
    assert sorted(m["phone"] for m in lines) == sorted(phones_of(ids).values())
    first = lines[0]
    # The reason's first words, the way back (/me), and the system's name as the signature.
    assert first["message"].startswith("【卫生健康人员信息管理系统】您的人员档案审核未通过。原因：身份证正反面照片"
                                       "不清晰")
    assert REASON[:40] in first["message"] and REASON not in first["message"] and "…" in first["message"]
    assert first["message"].endswith("请登录修改后重新提交：http://localhost/me")
    assert first["code"] is None and first["sent_at"]
    rows = db.session.scalars(select(SmsNotice)).all()
    assert len(rows) == 12 and {(r.kind, r.status, r.attempts) for r in rows} == {("reject", "sent", 0)}


def test_a_reject_queues_its_notices_in_one_insert_after_the_commit(app, login, count_queries):
    ids = make_pending(UNIT_A, 20)
    c = login(UNIT_A)
    with count_queries() as q:
        post_action(c, "reject", ids, reason="请补充职称证书")
    statements = [" ".join(s.split()[:3]).upper() for s in q.statements]
    assert sum(s.startswith("INSERT INTO SMS_NOTICE") for s in statements) == 1
    assert len(notice_lines(app)) == 20


def test_a_reverted_staff_member_is_told_why_and_where_to_fix_it(app, login):
    pid = make_pending(UNIT_A, 1)[0]
    c = login(UNIT_A)
    post_action(c, "approve", [pid])
    assert notice_lines(app) == []  # a unit approval is not the final word: nobody is told yet
    post_action(c, "revert", [pid], reason="工作单位填写有误")
    line, = notice_lines(app)
    assert line["phone"] == phones_of([pid])[pid]
    assert "您的人员档案已被退审。原因：工作单位填写有误。请登录修改后重新提交" in line["message"]


def test_the_final_approval_sends_a_short_notice(app, login):
    pid = make_pending(UNIT_A, 1)[0]
    post_action(login(UNIT_A), "approve", [pid])
    post_action(login(DISTRICT_A), "approve", [pid])
    assert db.session.get(StaffProfile, pid).status == "approved"
    line, = notice_lines(app)
    assert line["message"] == "【卫生健康人员信息管理系统】您的人员档案已审核通过。详情：http://localhost/me"


def test_a_gateway_failure_is_retried_then_recorded_and_the_reject_still_stands(app, login):
    app.config.update(SMS_BACKEND="http", SMS_HTTP_URL="http://127.0.0.1:9/sms", NOTICE_RETRY_SECONDS=0,
                      NOTICE_MAX_ATTEMPTS=3)
    ids = make_pending(UNIT_A, 3)
    c = login(UNIT_A)
    post_action(c, "reject", ids, reason="请补充材料")
    (category, message), = flashes(c)
    assert category == "success" and message.startswith("已驳回 3 人")
    assert {db.session.get(StaffProfile, i).status for i in ids} == {"unit_rejected"}
    rows = db.session.scalars(select(SmsNotice)).all()
    assert {(r.status, r.attempts) for r in rows} == {("failed", 3)}
    assert all([t["retry_in"] for t in r.tries] == [0, 0, None] for r in rows)  # two waits, then given up
    assert rows[0].last_error.startswith("SmsError")
    finding, = [f for f in checkup.run_checks() if f.name == "notices"]
    assert not finding.ok and "3 SMS notice(s) failed" in finding.detail
    result = app.test_cli_runner().invoke(args=["check"])
    assert result.exit_code != 0 and "notices-send --retry-failed" in result.output

    app.config.update(SMS_BACKEND="console")  # the gateway is back: ops send them again
    result = app.test_cli_runner().invoke(args=["notices-send", "--retry-failed"])
    assert result.exit_code == 0 and "3 failed notice(s) queued again" in result.output, result.output
    db.session.expire_all()
    assert {r.status for r in db.session.scalars(select(SmsNotice))} == {"sent"}
    assert len(notice_lines(app)) == 3
    assert next(f for f in checkup.run_checks() if f.name == "notices").ok


def test_a_notice_that_cannot_be_queued_never_undoes_the_review(app, login, monkeypatch, caplog):
    def broken(*args):
        raise RuntimeError("database of notices unavailable")

    monkeypatch.setattr(notices, "queue_profiles", broken)
    ids = make_pending(UNIT_A, 2)
    c = login(UNIT_A)
    with caplog.at_level(logging.ERROR, logger="admin_app.services.notices"):
        post_action(c, "reject", ids, reason="请补充材料")
    assert {db.session.get(StaffProfile, i).status for i in ids} == {"unit_rejected"}
    assert flashes(c)[0][0] == "success"
    assert "could not be queued" in caplog.text


def test_one_phone_gets_at_most_the_hourly_number_of_notices(app, caplog):
    app.config["NOTICE_MAX_PER_PHONE_HOUR"] = 2
    phone = profile("13800000010").phone
    item = dict(phone=phone, kind="reject", message="测试通知")
    with caplog.at_level(logging.WARNING, logger="admin_app.services.notices"):
        assert len(notices.queue([item, item])) == 2
        assert notices.queue([item]) == []  # the third within the hour is dropped, and logged
    assert "dropped" in caplog.text
    assert len(notice_lines(app)) == 2
    statuses = sorted(r.status for r in db.session.scalars(select(SmsNotice)))
    assert statuses == ["dropped", "sent", "sent"]
    other = dict(item, phone="13800000011")
    assert len(notices.queue([other])) == 1  # the limit is per phone


def test_only_the_final_approval_and_profiles_with_a_phone_are_told(app, login):
    pid = make_pending(UNIT_A, 1)[0]
    assert notices.after_review("approve", [(pid, "unit_approved")], None) == 0
    db.session.execute(StaffProfile.__table__.update().where(StaffProfile.id == pid).values(phone=""))
    db.session.commit()
    assert notices.after_review("reject", [(pid, "unit_rejected")], "x") == 0
    assert notice_lines(app) == []


def test_the_hourly_limit_holds_for_review_notices_too(app, login, caplog):
    app.config["NOTICE_MAX_PER_PHONE_HOUR"] = 1
    ids = make_pending(UNIT_A, 3)
    assert notices.after_review("reject", [(i, "unit_rejected") for i in ids], "x") == 3
    with caplog.at_level(logging.WARNING, logger="admin_app.services.notices"):
        assert notices.after_review("revert", [(i, "unit_rejected") for i in ids[:2]], "y") == 0
    assert "dropped" in caplog.text
    rows = db.session.scalars(select(SmsNotice).order_by(SmsNotice.id)).all()
    assert [(r.kind, r.status) for r in rows] == [("reject", "sent")] * 3 + [("revert", "dropped")] * 2
    assert len(notice_lines(app)) == 3


@pytest.fixture
def rq_notice_app(template_db, tmp_path, redis_url):  # noqa: F811
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    application = make_app(tmp_path, clone_demo(template_db, tmp_path), JOB_BACKEND="rq", REDIS_URL=redis_url,
                           NOTICE_BACKEND=None)
    ctx = application.app_context()
    ctx.push()
    yield application
    db.session.remove()
    db.engine.dispose()
    ctx.pop()


def test_with_rq_notices_wait_in_redis_until_the_worker_sends_them(rq_notice_app):
    from rq import Queue, SimpleWorker

    from admin_app.services import jobs
    from tests.conftest import Login

    ids = make_pending(UNIT_A, 3)
    post_action(Login(rq_notice_app)(UNIT_A), "reject", ids, reason="请补充材料")
    assert notice_lines(rq_notice_app) == []  # the web process only queued them
    assert {r.status for r in db.session.scalars(select(SmsNotice))} == {"queued"}
    queue = jobs.rq_queue(rq_notice_app)
    jobs._worker_app = rq_notice_app
    try:
        SimpleWorker([Queue(queue.name, connection=queue.connection)], connection=queue.connection).work(burst=True)
    finally:
        jobs._worker_app = None
    db.session.expire_all()
    assert {r.status for r in db.session.scalars(select(SmsNotice))} == {"sent"}
    assert len(notice_lines(rq_notice_app)) == 3
