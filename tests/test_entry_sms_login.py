"""手机快捷登录: POST /sms/send purpose=login and /login/sms — the same checks, lockout and landing as /login."""
import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from admin_app.extensions import db
from admin_app.models import AuditLog, SmsCode, User, UserSession
from tests.conftest import DISTRICT_A, STAFF_A, UNIT_A, outbox_code, sms_outbox

UNKNOWN = "13987659999"


def send(client, phone, purpose="login"):
    return client.post("/sms/send", data={"phone": phone, "purpose": purpose})


def sms_login(client, phone, code, **extra):
    return client.post("/login/sms", data={"phone": phone, "sms_code": code, "captcha": "", **extra})


def feedback(resp) -> str:
    """The error text under the code field."""
    m = re.search(r'id="sms_code-error">([^<]*)<', resp.get_data(as_text=True))
    return m.group(1) if m else ""


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_the_login_page_offers_quick_sign_in_by_phone_beside_the_password_form(client):
    html = client.get("/login").get_data(as_text=True)
    assert "账号密码登录" in html and "手机快捷登录" in html and 'href="/login/sms"' in html
    page = client.get("/login/sms?next=/me").get_data(as_text=True)
    assert 'name="sms_code"' in page and 'name="password"' not in page and 'data-purpose="login"' in page
    assert 'href="/login?next=/me"' in page  # the other tab keeps the way back
    # Found from the pages a user who cannot sign in lands on: 忘记密码 and 帮助.
    for path in ("/forgot-password", "/help"):
        html = client.get(path).get_data(as_text=True)
        assert 'href="/login/sms"' in html and ("改用短信验证码登录" in html or "手机快捷登录" in html), path


def test_a_staff_member_signs_in_with_an_sms_code_and_lands_like_the_password_sign_in(app, client):
    assert send(client, STAFF_A).get_json() == {"ok": True}
    code = outbox_code(app, STAFF_A, "login")
    sessions_before = db.session.scalar(select(func.count()).select_from(UserSession))
    resp = sms_login(client, STAFF_A, code)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/me")
    # A server-side session row, as for the password sign-in (issue 26).
    assert db.session.scalar(select(func.count()).select_from(UserSession)) == sessions_before + 1
    assert client.get("/me").status_code == 200
    # The code died on use.
    again = sms_login(app.test_client(), STAFF_A, code)
    assert again.status_code == 200 and "验证码无效或已使用" in again.get_data(as_text=True)


def test_a_unit_admin_lands_on_the_staff_list_and_next_is_followed(app, client):
    send(client, UNIT_A)
    resp = sms_login(client, UNIT_A, outbox_code(app, UNIT_A, "login"))
    assert resp.headers["Location"].endswith("/admin/staff/")
    other = app.test_client()
    send(other, DISTRICT_A)
    resp = other.post("/login/sms?next=/sessions", data={"phone": DISTRICT_A, "sms_code": outbox_code(
        app, DISTRICT_A, "login"), "captcha": ""})
    assert resp.headers["Location"].endswith("/sessions")


def test_the_no_javascript_get_code_button_sends_the_code_and_re_renders(app, client):
    resp = client.post("/login/sms", data={"phone": STAFF_A, "action": "send_code"})
    assert resp.status_code == 200 and "验证码已发送" in resp.get_data(as_text=True)
    assert outbox_code(app, STAFF_A, "login")


def test_a_wrong_code_is_refused_in_chinese_and_counts_towards_the_lock(app, client):
    send(client, STAFF_A)
    code = outbox_code(app, STAFF_A, "login")
    resp = sms_login(client, STAFF_A, wrong(code))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "验证码错误" in html and "锁定" in html
    user = db.session.scalar(select(User).where(User.phone == STAFF_A))
    assert user.failed_logins == 1
    assert db.session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "login_failed", AuditLog.target_id == str(user.id))) == 1


def test_an_expired_code_is_refused(app, client):
    send(client, STAFF_A)
    code = outbox_code(app, STAFF_A, "login")
    for row in db.session.scalars(select(SmsCode).where(SmsCode.phone == STAFF_A)):
        row.expires_at -= timedelta(minutes=10)
    db.session.commit()
    html = sms_login(client, STAFF_A, code).get_data(as_text=True)
    assert "验证码已过期" in html


def test_five_failures_lock_the_phone_for_both_ways_of_signing_in(app, client):
    send(client, STAFF_A)
    code = outbox_code(app, STAFF_A, "login")
    for _ in range(5):
        html = sms_login(client, STAFF_A, wrong(code)).get_data(as_text=True)
    assert "锁定" in html and "15" in html
    # Locked: neither a right code nor the right password gets in.
    app.config["SMS_RESEND_COOLDOWN"] = 0
    send(client, STAFF_A)
    assert "已被锁定" in sms_login(client, STAFF_A, outbox_code(app, STAFF_A, "login")).get_data(as_text=True)
    resp = client.post("/login", data={"phone": STAFF_A, "password": "Demo@12345", "captcha": ""})
    assert resp.status_code == 200 and "已被锁定" in resp.get_data(as_text=True)


def test_password_failures_lock_the_sms_sign_in_too(app, client):
    for _ in range(5):
        client.post("/login", data={"phone": STAFF_A, "password": "wrong-pass-1", "captcha": ""})
    send(client, STAFF_A)
    html = sms_login(client, STAFF_A, outbox_code(app, STAFF_A, "login")).get_data(as_text=True)
    assert "已被锁定" in html


def test_an_unknown_phone_is_answered_like_any_phone_and_nothing_is_delivered(app, client):
    assert send(client, UNKNOWN).get_json() == {"ok": True}
    assert send(client, STAFF_A).get_json() == {"ok": True}
    assert [m["phone"] for m in sms_outbox(app)] == [STAFF_A]
    # The same refusal, word for word, a known phone gets for a wrong code, counted the same way.
    unknown = feedback(sms_login(client, UNKNOWN, "123456"))
    known = feedback(sms_login(client, STAFF_A, wrong(outbox_code(app, STAFF_A, "login"))))
    assert unknown == known and "验证码错误" in unknown
    assert db.session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "login_failed", AuditLog.target_id == UNKNOWN)) == 1
    # The resend cooldown applies to it as to any phone.
    assert send(client, UNKNOWN).status_code == 429


def test_a_malformed_phone_or_code_is_refused_by_the_form(client):
    assert send(client, "1234").status_code == 400
    html = sms_login(client, "12345", "123456").get_data(as_text=True)
    assert "手机号" in html and "is-invalid" in html
    html = sms_login(client, STAFF_A, "12ab").get_data(as_text=True)
    assert "验证码为 6 位数字" in html
    assert db.session.scalar(select(User.failed_logins).where(User.phone == STAFF_A)) == 0  # a slip, not a guess


def test_an_unknown_purpose_is_still_refused(client):
    assert client.post("/sms/send", data={"phone": STAFF_A, "purpose": "logon"}).status_code == 400


def test_the_captcha_is_required_when_it_is_on(app, client):
    app.config["CAPTCHA_ENABLED"] = True
    send(client, STAFF_A)
    code = outbox_code(app, STAFF_A, "login")
    html = sms_login(client, STAFF_A, code).get_data(as_text=True)
    assert "请输入图形验证码" in html
    assert db.session.scalar(select(User.failed_logins).where(User.phone == STAFF_A)) == 0
    # With the right answer (a challenge put in the session as /captcha.png would), the code signs in.
    from admin_app.services import captcha

    with client.session_transaction() as sess:
        sess[captcha._KEY] = {"n": "nonce-1", "h": captcha._digest("nonce-1", "ABCD"), "t": int(time.time())}
    resp = sms_login(client, STAFF_A, code, captcha="abcd")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/me")


@pytest.mark.parametrize("phone", [STAFF_A])
def test_a_disabled_account_cannot_sign_in_by_sms(app, client, phone):
    user = db.session.scalar(select(User).where(User.phone == phone))
    user.active = False
    db.session.commit()
    send(client, phone)
    html = sms_login(client, phone, outbox_code(app, phone, "login")).get_data(as_text=True)
    assert "账号已被停用" in html
