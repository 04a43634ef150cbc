"""Security headers on every kind of response (HTML, JSON, files, redirects, every error page, static), the
session cookie's flags, and logs that never hold passwords, SMS codes or full ID numbers.

The basic header and cookie checks for a few pages live in test_foundation_config.py; these extend them to
the other kinds of responses.
"""
import logging
import re

from tests.conftest import DEMO_PASSWORD, STAFF_A, STAFF_B, UNIT_A, make_app, outbox_code
from tests.test_identity_helpers import post_verify, resident_id, staff_client
from tests.test_review_support import profile
from tests.test_security_support import dispose
from tests.test_staff_portal import edit_form


def assert_headers(resp, where):
    csp = resp.headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, (where, csp)
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0], where
    assert resp.headers.get("X-Content-Type-Options") == "nosniff", where
    assert resp.headers.get("Referrer-Policy") in ("same-origin", "strict-origin-when-cross-origin",
                                                   "no-referrer"), where
    assert resp.headers.get("X-Frame-Options") == "DENY", where


def test_headers_on_every_kind_of_response(app, login, client):
    staff = login(STAFF_A)
    unit = login(UNIT_A)
    pid = profile(STAFF_A).id
    cases = {
        "static css": (client.get("/static/css/portal.css"), 200),
        "admin static": (client.get("/admin/static/bootstrap/bootstrap4/js/popper.min.js"), None),
        "favicon": (client.get("/favicon.ico"), 200),
        "captcha image": (client.get("/captcha.png"), 200),
        "json api": (client.get("/api/regions"), 200),
        "json api error": (client.get("/api/regions?parent=abc"), 400),
        "json sms error": (client.post("/sms/send", data={"purpose": "x"}), 400),
        "redirect": (client.get("/me"), 302),
        "html 404": (client.get("/nowhere"), 404),
        "html 403": (staff.get("/admin/"), 403),
        "html 405": (client.get("/logout"), 405),
        "avatar image": (staff.get(f"/profile/{pid}/avatar"), 200),
        "xlsx export": (unit.get(f"/admin/staff/export/xlsx/?search={STAFF_A}"), 200),
        "admin grid": (unit.get("/admin/staff/"), 200),
        "portal page": (staff.get("/me"), 200),
    }
    for where, (resp, status) in cases.items():
        if status is not None:
            assert resp.status_code == status, (where, resp.status_code)
        assert_headers(resp, where)
    # Files a person uploaded are never sniffed or rendered as anything else.
    assert cases["avatar image"][0].mimetype in ("image/jpeg", "image/png")
    assert "no-store" in cases["xlsx export"][0].headers.get("Cache-Control", "")


def test_headers_on_413_429_and_500_pages(template_db, tmp_path):
    from tests.conftest import clone_demo

    app = make_app(tmp_path, clone_demo(template_db, tmp_path), MAX_CONTENT_LENGTH=1024, RATELIMIT_ENABLED=True,
                   LOGIN_IP_LIMIT="2 per minute", PROPAGATE_EXCEPTIONS=False)

    def boom():
        raise RuntimeError("secret internal detail")

    app.add_url_rule("/__boom", "boom", boom)
    with app.app_context():
        c = app.test_client()
        resp = c.post("/login", data={"phone": "x" * 5000})
        assert resp.status_code == 413
        assert_headers(resp, "413")
        for _ in range(3):
            resp = c.post("/login", data={"phone": "1", "password": "1"})
        assert resp.status_code == 429
        assert_headers(resp, "429")
        resp = c.get("/__boom")
        assert resp.status_code == 500
        assert_headers(resp, "500")
        assert "secret internal detail" not in resp.get_data(as_text=True)
        assert "Traceback" not in resp.get_data(as_text=True)
        # the JSON flavour of an error page carries them too
        resp = c.post("/sms/send", data={"phone": "x" * 5000})
        assert resp.status_code == 413 and resp.is_json
        assert_headers(resp, "413 json")
    dispose(app)


def test_session_cookie_flags_after_sign_in_and_on_every_set_cookie(client, app):
    resp = client.post("/login", data={"phone": STAFF_A, "password": DEMO_PASSWORD})
    cookies = resp.headers.getlist("Set-Cookie")
    assert cookies
    for cookie in cookies:
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie, cookie
    # A cookie set on an anonymous page (the captcha's answer lives in the session) has the same flags.
    resp = app.test_client().get("/captcha.png")
    for cookie in resp.headers.getlist("Set-Cookie"):
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie, cookie
    # The session is signed and holds no captcha answer in the clear.
    assert app.config["SESSION_COOKIE_HTTPONLY"] and app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_logs_hold_no_passwords_codes_or_full_id_numbers(app, login, caplog):
    """Everything logged (all loggers at DEBUG, werkzeug included) through a day of typical use."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="werkzeug")
    # SQLAlchemy keeps its loggers at WARNING unless asked: ask, so every statement and its parameters are read too.
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    app.config.update(SMS_RESEND_COOLDOWN=0)
    secrets_seen = []
    new_phone, new_password = "13955550001", "Secret#Pass2024"
    wrong_password = "WrongGuess#777"
    # Sign-up with an SMS code.
    c = app.test_client()
    assert c.post("/sms/send", data={"phone": new_phone, "purpose": "register"}).status_code == 200
    code = outbox_code(app, new_phone, "register")
    secrets_seen += [code, new_password]
    resp = c.post("/register", data={"name": "日志测试", "phone": new_phone, "password": new_password,
                                     "password_confirm": new_password, "sms_code": code})
    assert resp.status_code == 302
    # Sign-in, a failed sign-in, a wrong SMS code.
    secrets_seen.append(wrong_password)
    assert app.test_client().post("/login", data={"phone": new_phone, "password": wrong_password}).status_code == 200
    assert app.test_client().post("/login", data={"phone": new_phone, "password": new_password}).status_code == 302
    # A profile saved with a new ID number.
    number = resident_id(seq=733)
    secrets_seen.append(number)
    staff = login(STAFF_A)
    resp = staff.post("/profile", data=edit_form(STAFF_A, id_type="resident_id", id_number=number),
                      content_type="multipart/form-data")
    assert resp.status_code == 302
    # A password change.
    changed = "Changed#Pass2025"
    secrets_seen.append(changed)
    assert staff.post("/password", data={"old_password": DEMO_PASSWORD, "password": changed,
                                         "password_confirm": changed}).status_code == 302
    # Verification with another ID number.
    number_b = resident_id(seq=734)
    secrets_seen.append(number_b)
    assert post_verify(staff_client(app, STAFF_B), number=number_b).status_code == 302
    # The export (which holds full numbers) and the full-number view.
    unit = login(UNIT_A)
    assert unit.get("/admin/staff/export/xlsx/").status_code == 200
    assert unit.post("/admin/staff/details/id-number/", data={"id": str(profile(STAFF_A).id)}).status_code == 200
    # A reset code requested and used.
    assert app.test_client().post("/sms/send", data={"phone": STAFF_B, "purpose": "reset_password"}).status_code == 200
    reset_code = outbox_code(app, STAFF_B, "reset_password")
    secrets_seen.append(reset_code)
    assert app.test_client().post("/forgot-password", data={"phone": STAFF_B, "sms_code": reset_code,
                                                            "password": "Reset#Pass2026",
                                                            "password_confirm": "Reset#Pass2026"}).status_code == 302
    secrets_seen.append("Reset#Pass2026")

    records = [r for r in caplog.records
               # The console SMS backend's own line is its purpose (development only): the message it "sends".
               if not (r.name == "admin_app.services.sms" and r.funcName == "_console")]
    text = "\n".join(f"{r.name} {r.getMessage()} {r.args!r} {getattr(r, 'exc_text', '') or ''}" for r in records)
    for secret in secrets_seen:
        # Whole tokens only: a random 6-digit SMS code may equal six digits of a hash, a phone number or the
        # microseconds of a SQLite timestamp (".123456").
        boundary = r"(?<![0-9A-Za-z.]){}(?![0-9A-Za-z])" if secret.isdigit() else "{}"
        assert secret and not re.search(boundary.format(re.escape(secret)), text), \
            f"a secret reached the logs: {secret[:3]}…"
    # No digit run long enough to be a full ID number (18 characters) at all; not counting runs inside hex
    # strings (random upload names and hashes start with 18 digits about once in 5,000).
    assert not re.search(r"(?<![0-9a-fA-F])\d{17}[\dXx](?![0-9a-fA-F])", text)
    # The capture works: the console backend's line was seen (and left out above), and SQL was logged.
    assert any(r.funcName == "_console" for r in caplog.records)
    assert any(r.name.startswith("sqlalchemy.engine") for r in records)
