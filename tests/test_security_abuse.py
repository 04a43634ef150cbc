"""Abuse with the rate limits on: SMS pumping through every path that sends a code, SMS code guessing over
HTTP, the per-IP sign-in limit (generous for a hospital behind one NAT address), lockout across addresses,
bodies over MAX_CONTENT_LENGTH and image bombs.

Already covered elsewhere (not repeated here): the SMS cooldown / daily cap / hourly IP cap in the service
(test_staff_sms.py), captcha single use and replay (test_staff_auth.py), the bind-attempt limit
(test_registry_grants.py), the five-failure lockout (test_foundation_login.py), avatars and scans over
UPLOAD_MAX_BYTES (test_staff_portal.py, test_identity_portal.py).
"""
import io
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from admin_app.extensions import db
from admin_app.models import IdentityVerification, SmsCode, StaffProfile, User
from tests.conftest import DEMO_PASSWORD, STAFF_A, STAFF_B, clone_demo, make_app, outbox_code
from tests.test_identity_helpers import form as verify_form
from tests.test_security_support import dispose, sign_in
from tests.test_staff_portal import edit_form


@pytest.fixture
def limited(template_db, tmp_path):
    """A fresh demo app with rate limits on (memory storage) and small caps so the tests stay quick."""
    def build(**overrides):
        cfg = dict(RATELIMIT_ENABLED=True, SMS_RESEND_COOLDOWN=0, SMS_DAILY_CAP_PER_PHONE=3,
                   SMS_HOURLY_CAP_PER_IP=5, RATELIMIT_STORAGE_URI="memory://")
        cfg.update(overrides)
        application = make_app(tmp_path, clone_demo(template_db, tmp_path, "abuse"), **cfg)
        built.append(application)
        ctx = application.app_context()
        ctx.push()
        contexts.append(ctx)
        return application

    built, contexts = [], []
    yield build
    for ctx in reversed(contexts):
        db.session.remove()
        ctx.pop()
    for application in built:
        dispose(application)


def sms_rows(phone=None) -> int:
    stmt = select(func.count()).select_from(SmsCode)
    if phone:
        stmt = stmt.where(SmsCode.phone == phone)
    return db.session.scalar(stmt)


def ip(addr):
    return {"REMOTE_ADDR": addr}


def test_sms_pumping_is_capped_per_ip_through_every_sending_path(limited):
    app = limited(SMS_HOURLY_CAP_PER_IP=5, SMS_DAILY_CAP_PER_PHONE=100)
    c = app.test_client()
    step_up = sign_in(app, STAFF_A)
    attacker = ip("203.0.113.9")
    # Five different phones (each within its own cap) through five different doors, all from one address.
    posts = [
        lambda: c.post("/sms/send", data={"phone": "13970000001", "purpose": "register"}, environ_base=attacker),
        lambda: c.post("/register", data={"action": "send_code", "phone": "13970000002"}, environ_base=attacker),
        lambda: c.post("/forgot-password", data={"action": "send_code", "phone": "13970000003"},
                       environ_base=attacker),
        lambda: c.post("/institutions/apply", data={"send_sms": "1", "contact_phone": "13970000004"},
                       environ_base=attacker),
        lambda: c.post("/institutions/status", data={"mode": "phone", "send_sms": "1", "phone": "13970000005"},
                       environ_base=attacker),
    ]
    for post in posts:
        assert post().status_code == 200
    assert sms_rows() == 5
    # The sixth, through any door, is refused; nothing is stored or sent.
    for post in posts + [lambda: step_up.post("/grants/bind", data={"send_sms": "1"}, environ_base=attacker)]:
        post()
    resp = c.post("/sms/send", data={"phone": "13970000009", "purpose": "register"}, environ_base=attacker)
    assert resp.status_code == 429 and "网络" in resp.get_json()["error"]
    assert sms_rows() == 5
    # Another address is not affected.
    assert c.post("/sms/send", data={"phone": "13970000009", "purpose": "register"},
                  environ_base=ip("198.51.100.7")).status_code == 200


def test_sms_pumping_one_phone_is_capped_per_day_from_many_addresses(limited):
    app = limited(SMS_DAILY_CAP_PER_PHONE=3, SMS_HOURLY_CAP_PER_IP=1000)
    c = app.test_client()
    victim = "13970000100"
    codes = [c.post("/sms/send", data={"phone": victim, "purpose": "register"},
                    environ_base=ip(f"198.51.100.{k}")).status_code for k in range(1, 7)]
    assert codes == [200, 200, 200, 429, 429, 429]
    # Other purposes share the phone's daily cap: the victim's phone gets no more messages today.
    assert c.post("/sms/send", data={"phone": victim, "purpose": "institution"},
                  environ_base=ip("198.51.100.50")).status_code == 429
    assert sms_rows(victim) == 3


def test_sms_resend_cooldown_holds_over_http(limited):
    app = limited(SMS_RESEND_COOLDOWN=60)
    c = app.test_client()
    assert c.post("/sms/send", data={"phone": "13970000200", "purpose": "register"}).status_code == 200
    for k in range(3):
        resp = c.post("/sms/send", data={"phone": "13970000200", "purpose": "register"},
                      environ_base=ip(f"192.0.2.{k + 1}"))
        assert resp.status_code == 429
    assert sms_rows("13970000200") == 1


def test_guessing_an_sms_code_over_http_dies_after_five_tries(limited):
    app = limited()
    c = app.test_client()
    phone = "13970000300"
    assert c.post("/sms/send", data={"phone": phone, "purpose": "register"}).status_code == 200
    code = outbox_code(app, phone, "register")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    body = {"name": "猜码者", "phone": phone, "password": "Abc12345", "password_confirm": "Abc12345"}
    for _ in range(5):
        resp = c.post("/register", data={**body, "sms_code": wrong})
        assert resp.status_code == 200
    resp = c.post("/register", data={**body, "sms_code": code})
    assert resp.status_code == 200 and "获取" in resp.get_data(as_text=True)  # get a new one
    assert db.session.scalar(select(User.id).where(User.phone == phone)) is None


def test_sign_in_ip_limit_is_generous_then_stops_a_flood(limited):
    """300 sign-ins a minute from one address pass (a hospital behind NAT); the flood after that is a 429."""
    app = limited()
    limit = int(app.config["LOGIN_IP_LIMIT"].split()[0])
    assert limit >= 200
    c = app.test_client()
    statuses = [c.post("/login", data={"phone": "1", "password": "x"}).status_code for _ in range(limit)]
    assert set(statuses) == {200}
    assert c.post("/login", data={"phone": "1", "password": "x"}).status_code == 429
    # Another address signs in normally meanwhile.
    resp = app.test_client().post("/login", data={"phone": STAFF_A, "password": DEMO_PASSWORD},
                                  environ_base=ip("198.51.100.77"))
    assert resp.status_code == 302


def test_lockout_holds_across_addresses(limited):
    app = limited()
    for k in range(5):
        app.test_client().post("/login", data={"phone": STAFF_B, "password": f"wrong-{k}x"},
                               environ_base=ip(f"192.0.2.{k + 10}"))
    resp = app.test_client().post("/login", data={"phone": STAFF_B, "password": DEMO_PASSWORD},
                                  environ_base=ip("192.0.2.99"))
    assert resp.status_code == 200 and "锁定" in resp.get_data(as_text=True)


def test_bodies_over_max_content_length_are_413_and_write_nothing(limited):
    app = limited(MAX_CONTENT_LENGTH=200_000, UPLOAD_MAX_BYTES=100_000)
    staff = sign_in(app, STAFF_A)
    uploads = Path(app.config["UPLOAD_FOLDER"])
    files_before = sorted(uploads.rglob("*"))
    version = db.session.scalar(select(StaffProfile.version).where(StaffProfile.phone == STAFF_A))
    big = b"\xff\xd8\xff" + b"0" * 300_000
    data = edit_form(STAFF_A, title="超大")
    data["avatar"] = (io.BytesIO(big), "big.jpg")
    resp = staff.post("/profile", data=data, content_type="multipart/form-data")
    # The profile form is not lost behind a bare 413 page: back to the form, the message on the photo field.
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/profile")
    assert "图片大小不能超过" in staff.get("/profile").get_data(as_text=True)
    resp = sign_in(app, STAFF_B).post("/verify", data=verify_form(front=big), content_type="multipart/form-data")
    assert resp.status_code == 413
    resp = app.test_client().post("/sms/send", data={"phone": "1" * 300_000, "purpose": "register"})
    assert resp.status_code == 413 and resp.is_json
    db.session.expire_all()
    assert db.session.scalar(select(StaffProfile.version).where(StaffProfile.phone == STAFF_A)) == version
    assert db.session.scalar(select(func.count()).select_from(IdentityVerification)) == 0
    assert sorted(uploads.rglob("*")) == files_before


def _bomb_png() -> bytes:
    """A small PNG that decodes to 12,000 x 12,000 pixels (144 Mpx)."""
    out = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(out, "PNG", optimize=True)
    return out.getvalue()


def test_image_bombs_are_refused_without_decoding(limited):
    app = limited()
    bomb = _bomb_png()
    assert len(bomb) < app.config["UPLOAD_MAX_BYTES"]
    staff = sign_in(app, STAFF_A)
    data = edit_form(STAFF_A)
    data["avatar"] = (io.BytesIO(bomb), "bomb.png")
    resp = staff.post("/profile", data=data, content_type="multipart/form-data")
    assert resp.status_code == 200 and "图片尺寸过大" in resp.get_data(as_text=True)
    resp = sign_in(app, STAFF_B).post("/verify", data=verify_form(front=bomb), content_type="multipart/form-data")
    assert resp.status_code == 200
    assert db.session.scalar(select(func.count()).select_from(IdentityVerification)) == 0
