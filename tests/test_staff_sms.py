"""SMS codes: services.sms and POST /sms/send (console and http backends, limits, single use)."""
import json
import logging
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from admin_app.extensions import db
from admin_app.models import SmsCode, User
from admin_app.services.sms import SmsError, check_code, send_code
from tests.conftest import STAFF_A, sms_outbox

NEW = "13987650001"


@pytest.fixture(autouse=True)
def request_ctx(app):
    """Services translate their messages, which needs a request (the app's locale selector reads it)."""
    with app.test_request_context():
        yield


outbox = sms_outbox


def last_code(app, phone=NEW) -> str:
    return [m for m in outbox(app) if m["phone"] == phone][-1]["code"]


def rows(phone=NEW) -> int:
    return db.session.scalar(select(func.count()).select_from(SmsCode).where(SmsCode.phone == phone))


def age_codes(seconds: int, phone=NEW) -> None:
    """Move every code of a phone into the past instead of waiting."""
    for row in db.session.scalars(select(SmsCode).where(SmsCode.phone == phone)):
        row.created_at -= timedelta(seconds=seconds)
        row.expires_at -= timedelta(seconds=seconds)
    db.session.commit()


def test_send_stores_a_hash_and_writes_the_outbox(app):
    send_code(NEW, "register", ip="10.0.0.1")
    code = last_code(app)
    line = outbox(app)[-1]
    assert set(line) >= {"phone", "purpose", "code", "sent_at"} and line["purpose"] == "register"
    assert len(code) == 6 and code.isdigit()
    row = db.session.scalar(select(SmsCode).where(SmsCode.phone == NEW))
    assert row.code_hash != code and code not in row.code_hash and len(row.code_hash) == 64
    assert (row.expires_at - row.created_at).total_seconds() == app.config["SMS_CODE_TTL"]


def test_code_is_single_use(app):
    send_code(NEW, "register")
    code = last_code(app)
    check_code(NEW, "register", code)
    with pytest.raises(SmsError, match="验证码无效或已使用"):
        check_code(NEW, "register", code)


def test_full_width_and_spaced_code_is_accepted(app):
    send_code(NEW, "register")
    code = last_code(app)
    spaced = " ".join(chr(ord(c) + 0xFEE0) for c in code)  # full-width digits with spaces
    check_code(NEW, "register", spaced)


def test_code_is_bound_to_purpose_and_phone(app):
    send_code(NEW, "register")
    code = last_code(app)
    with pytest.raises(SmsError):
        check_code(NEW, "institution", code)
    with pytest.raises(SmsError):
        check_code("13987650002", "register", code)
    check_code(NEW, "register", code)  # still alive for its own phone and purpose


def test_expired_code_is_refused(app):
    send_code(NEW, "register")
    code = last_code(app)
    age_codes(app.config["SMS_CODE_TTL"] + 1)
    with pytest.raises(SmsError, match="验证码已过期"):
        check_code(NEW, "register", code)


def test_wrong_tries_count_and_the_fifth_kills_the_code(app):
    send_code(NEW, "register")
    code = last_code(app)
    wrong = f"{(int(code) + 1) % 10 ** 6:06d}"
    with pytest.raises(SmsError, match="还可尝试 4 次"):
        check_code(NEW, "register", wrong)
    for _ in range(3):
        with pytest.raises(SmsError):
            check_code(NEW, "register", wrong)
    with pytest.raises(SmsError, match="错误次数过多"):
        check_code(NEW, "register", wrong)
    with pytest.raises(SmsError):
        check_code(NEW, "register", code)  # the right code no longer works


def test_malformed_code_does_not_use_a_try(app):
    send_code(NEW, "register")
    with pytest.raises(SmsError, match="6 位数字"):
        check_code(NEW, "register", "12ab")
    assert db.session.scalar(select(SmsCode.attempts).where(SmsCode.phone == NEW)) == 0


def test_cooldown_then_a_newer_code_supersedes_the_older(app):
    send_code(NEW, "register")
    first = last_code(app)
    with pytest.raises(SmsError, match="秒后") as e:
        send_code(NEW, "register")
    assert e.value.status == 429 and rows() == 1
    age_codes(app.config["SMS_RESEND_COOLDOWN"] + 1)
    send_code(NEW, "register")
    second = last_code(app)
    if first != second:
        with pytest.raises(SmsError):
            check_code(NEW, "register", first)
    check_code(NEW, "register", second)


def test_cooldown_is_per_purpose(app):
    send_code(NEW, "register")
    send_code(NEW, "institution")
    assert rows() == 2


def test_daily_cap_per_phone(app):
    cap = app.config["SMS_DAILY_CAP_PER_PHONE"]
    for i in range(cap):
        send_code(NEW, "institution", ip=f"10.0.1.{i}")
        age_codes(app.config["SMS_RESEND_COOLDOWN"] + 1)
    with pytest.raises(SmsError, match="今日") as e:
        send_code(NEW, "institution", ip="10.0.2.1")
    assert e.value.status == 429 and rows() == cap
    age_codes(24 * 3600)  # a day later the phone may receive codes again
    send_code(NEW, "institution", ip="10.0.2.1")


def test_hourly_cap_per_ip(app):
    app.config["SMS_HOURLY_CAP_PER_IP"] = 3
    for i in range(3):
        send_code(f"1398765010{i}", "institution", ip="10.9.9.9")
    with pytest.raises(SmsError, match="网络") as e:
        send_code("13987650109", "institution", ip="10.9.9.9")
    assert e.value.status == 429 and rows("13987650109") == 0
    send_code("13987650109", "institution", ip="10.9.9.10")  # another address is not affected


def test_register_refuses_a_registered_phone(app):
    with pytest.raises(SmsError, match="已注册") as e:
        send_code(STAFF_A, "register")
    assert e.value.status == 409 and rows(STAFF_A) == 0 and not outbox(app)


def test_reset_for_an_unknown_phone_sends_nothing_but_looks_the_same(app):
    send_code(NEW, "reset_password")
    assert not outbox(app)
    assert rows() == 1  # the limits count it like any other send
    with pytest.raises(SmsError, match="秒后"):
        send_code(NEW, "reset_password")
    send_code(STAFF_A, "reset_password")
    assert outbox(app)[-1]["phone"] == STAFF_A


# ---- POST /sms/send ----------------------------------------------------------------------------------

def test_api_sends(client, app):
    r = client.post("/sms/send", data={"phone": "139 8765 0001", "purpose": "register"})
    assert r.status_code == 200 and r.json == {"ok": True}
    assert outbox(app)[-1]["phone"] == NEW


@pytest.mark.parametrize("data, status, text", [
    ({"phone": "12345678901", "purpose": "register"}, 400, "手机号码"),
    ({"phone": "", "purpose": "register"}, 400, "手机号码"),
    ({"phone": "010-12345678", "purpose": "register"}, 400, "手机号码"),
    ({"phone": NEW, "purpose": "bogus"}, 400, "用途"),
    ({"phone": STAFF_A, "purpose": "register"}, 409, "已注册"),
    ({"phone": NEW, "purpose": "step_up"}, 401, "登录"),
])
def test_api_refuses_bad_input_with_json(client, app, data, status, text):
    r = client.post("/sms/send", data=data)
    assert r.status_code == status and r.json["ok"] is False and text in r.json["error"]
    assert db.session.scalar(select(func.count()).select_from(SmsCode)) == 0 and not outbox(app)


def test_api_cooldown_is_429(client):
    assert client.post("/sms/send", data={"phone": NEW, "purpose": "register"}).status_code == 200
    r = client.post("/sms/send", data={"phone": NEW, "purpose": "register"})
    assert r.status_code == 429 and "秒后" in r.json["error"] and rows() == 1


def test_step_up_goes_only_to_ones_own_phone(login, app):
    c = login(STAFF_A)
    r = c.post("/sms/send", data={"phone": NEW, "purpose": "step_up"})
    assert r.status_code == 400 and "本人" in r.json["error"] and rows() == 0
    r = c.post("/sms/send", data={"purpose": "step_up"})
    assert r.status_code == 200 and outbox(app)[-1]["phone"] == STAFF_A


def test_api_accepts_a_json_body(client):
    r = client.post("/sms/send", json={"phone": NEW, "purpose": "institution"})
    assert r.status_code == 200 and rows() == 1


# ---- http backend against a local stub gateway -------------------------------------------------------

class Gateway:
    """A stub SMS gateway on 127.0.0.1 answering with `status`; holds requests while `hold` is clear."""

    def __init__(self):
        self.status = 200
        self.received = []
        self.hold = threading.Event()
        self.hold.set()
        self.arrived = threading.Event()
        gw = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                gw.received.append(json.loads(body))
                gw.arrived.set()
                gw.hold.wait(10)
                try:
                    self.send_response(gw.status)
                    self.end_headers()
                    self.wfile.write(b"{}")
                except OSError:  # the app gave up waiting (the timeout test)
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.hold.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway(app):
    gw = Gateway()
    app.config.update(SMS_BACKEND="http", SMS_HTTP_URL=gw.url, SMS_HTTP_TIMEOUT=5)
    yield gw
    gw.close()


def test_http_backend_delivers_json(app, gateway, caplog):
    caplog.set_level(logging.DEBUG)
    send_code(NEW, "register")
    (msg,) = gateway.received
    assert msg["phone"] == NEW and msg["purpose"] == "register" and len(msg["code"]) == 6
    assert msg["code"] in msg["text"]
    assert msg["code"] not in caplog.text  # only the console backend may write the code anywhere
    assert not outbox(app)
    check_code(NEW, "register", msg["code"])


@pytest.mark.parametrize("status", [500, 404, 302])
def test_http_gateway_error_is_a_clear_message_and_leaves_no_usable_code(client, app, gateway, status):
    gateway.status = status
    r = client.post("/sms/send", data={"phone": NEW, "purpose": "register"})
    assert r.status_code == 503 and r.json["ok"] is False and "短信发送失败" in r.json["error"]
    assert rows() == 0
    code = gateway.received[-1]["code"]
    with pytest.raises(SmsError):
        check_code(NEW, "register", code)
    gateway.status = 200  # no cooldown after a failed send: the person may try again at once
    assert client.post("/sms/send", data={"phone": NEW, "purpose": "register"}).status_code == 200


def test_http_gateway_timeout(app, gateway):
    app.config["SMS_HTTP_TIMEOUT"] = 0.2
    gateway.hold.clear()  # the gateway never answers in time
    with pytest.raises(SmsError, match="短信发送失败") as e:
        send_code(NEW, "register")
    gateway.hold.set()
    assert e.value.status == 503 and rows() == 0


def test_http_gateway_unreachable(app, gateway):
    gateway.close()
    with pytest.raises(SmsError, match="短信发送失败"):
        send_code(NEW, "register")
    assert rows() == 0


def test_a_pending_send_blocks_a_concurrent_second_send(app, gateway):
    """While the gateway is being called, the inserted row already holds the cooldown."""
    gateway.hold.clear()
    errors = []

    def first():
        with app.test_request_context():
            try:
                send_code(NEW, "register")
            except SmsError as e:  # pragma: no cover - reported below
                errors.append(e)

    t = threading.Thread(target=first)
    t.start()
    try:
        assert gateway.arrived.wait(10), "the first send never reached the gateway"
        with pytest.raises(SmsError, match="秒后|稍等"):
            send_code(NEW, "register")
    finally:
        gateway.hold.set()
        t.join(10)
    assert not errors
    db.session.expire_all()
    assert rows() == 1
    check_code(NEW, "register", gateway.received[0]["code"])


def test_user_table_untouched_by_sms(app):
    before = db.session.scalar(select(func.count()).select_from(User))
    send_code(NEW, "register")
    assert db.session.scalar(select(func.count()).select_from(User)) == before
