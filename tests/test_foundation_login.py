"""Signing in and out: Chinese messages, the phone lockout, and `next` that only ever stays on this site."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from admin_app.extensions import db
from admin_app.models import AuditLog, User
from admin_app.models.types import utcnow
from tests.conftest import DEMO_PASSWORD, DISTRICT_A, UNIT_A


def user(phone: str) -> User:
    return db.session.scalar(select(User).where(User.phone == phone))


def sign_in(client, phone, password=DEMO_PASSWORD, next_=None):
    return client.post("/login", query_string={"next": next_} if next_ is not None else None,
                       data={"phone": phone, "password": password, "captcha": ""})


def test_the_login_page_is_a_chinese_form_with_phone_and_password(client):
    resp = client.get("/login")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert '<html lang="zh-CN">' in html
    assert 'name="phone"' in html and 'name="password"' in html
    assert "登录" in html and "手机" in html and "密码" in html


def test_a_wrong_password_is_refused_with_a_chinese_message_and_the_form_again(client):
    resp = sign_in(client, DISTRICT_A, "Wrong12345")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "手机号或密码错误，还可尝试 4 次" in html
    assert f'value="{DISTRICT_A}"' in html  # the phone is kept, the password is not
    assert "Wrong12345" not in html
    assert client.get("/admin/").status_code == 302


def test_an_unknown_phone_gets_the_same_message_as_a_wrong_password(client):
    html = sign_in(client, "13999999999", "Whatever123").get_data(as_text=True)
    assert "手机号或密码错误，还可尝试 4 次" in html


def test_a_malformed_phone_is_refused_by_the_form(client):
    html = sign_in(client, "12345", "Whatever123").get_data(as_text=True)
    assert "请输入有效的中国大陆手机号码。" in html


def test_the_phone_may_be_typed_with_spaces_or_plus_86(client):
    resp = sign_in(client, "+86 138 0000 0002")
    assert resp.status_code == 302 and resp.headers["Location"] == "/admin/"


def test_five_failures_lock_the_phone_for_fifteen_minutes(client):
    for left in (4, 3, 2, 1):
        html = sign_in(client, DISTRICT_A, "Wrong12345").get_data(as_text=True)
        assert f"手机号或密码错误，还可尝试 {left} 次" in html
    fifth = sign_in(client, DISTRICT_A, "Wrong12345").get_data(as_text=True)
    assert "失败次数过多，该手机号已锁定 15 分钟。" in fifth
    locked = user(DISTRICT_A).locked_until
    assert timedelta(minutes=14) < locked - utcnow() <= timedelta(minutes=15)
    # even the right password is refused while the lock lasts
    resp = sign_in(client, DISTRICT_A)
    assert resp.status_code == 200 and "已被锁定" in resp.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_failed_sign_ins_are_audit_logged_without_the_password(client):
    for _ in range(2):
        sign_in(client, DISTRICT_A, "Wrong12345")
    rows = db.session.scalars(select(AuditLog).where(AuditLog.action == "login_failed")).all()
    assert len(rows) == 2
    assert all(r.institution_id == user(DISTRICT_A).institution_id for r in rows)
    assert all("Wrong12345" not in repr(r.details) for r in rows)


def test_the_lock_lifts_after_its_time_and_a_success_clears_the_count(client):
    for _ in range(5):
        sign_in(client, DISTRICT_A, "Wrong12345")
    u = user(DISTRICT_A)
    u.locked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert sign_in(client, DISTRICT_A).status_code == 302
    u = user(DISTRICT_A)
    assert u.failed_logins == 0 and u.locked_until is None and u.last_login_at is not None


def test_failures_on_one_phone_do_not_lock_another(client):
    for _ in range(5):
        sign_in(client, DISTRICT_A, "Wrong12345")
    assert sign_in(client, UNIT_A).status_code == 302


def test_a_disabled_account_cannot_sign_in(client):
    u = user(DISTRICT_A)
    u.active = False
    db.session.commit()
    resp = sign_in(client, DISTRICT_A)
    assert resp.status_code == 200 and "该账号已被停用。" in resp.get_data(as_text=True)


# -- next ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["/admin/audit/", "/admin/institution/?search=%E8%A5%BF%E5%9F%8E"])
def test_a_relative_next_is_followed(client, target):
    resp = sign_in(client, DISTRICT_A, next_=target)
    assert resp.headers["Location"] == target


@pytest.mark.parametrize("target", ["https://evil.example/", "http://evil.example", "//evil.example/x",
                                    "\\\\evil.example", "/\\evil.example", "\\/evil.example",
                                    "javascript:alert(1)", "admin/", "/\r\nSet-Cookie:x=1", "/\t/evil.example",
                                    "https:evil.example"])
def test_an_external_or_odd_next_is_ignored(client, target):
    resp = sign_in(client, DISTRICT_A, next_=target)
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/admin/", target


# -- sign out --------------------------------------------------------------------------------------------


def test_signing_out_ends_the_session(login):
    c = login(DISTRICT_A)
    resp = c.post("/logout")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")
    assert c.get("/admin/").status_code == 302


def test_sign_out_is_a_post_only(login):
    c = login(DISTRICT_A)
    assert c.get("/logout").status_code == 405
    assert c.get("/admin/").status_code == 200


def test_the_root_sends_visitors_to_login_and_admins_to_the_back_office(client, login):
    assert client.get("/").headers["Location"].startswith("/login")
    assert login(DISTRICT_A).get("/").headers["Location"] == "/admin/"


def test_passwords_are_stored_as_scrypt_hashes(app):
    assert user(DISTRICT_A).password_hash.startswith("scrypt:")
    assert db.session.scalar(select(func.count()).select_from(User).where(User.password_hash == DEMO_PASSWORD)) == 0
