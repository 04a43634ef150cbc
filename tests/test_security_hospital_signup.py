"""A whole hospital signs up from one network address: the captcha escalates, a low address cap no longer refuses."""
import pytest
from sqlalchemy import func, select

from admin_app import production
from admin_app.extensions import db
from admin_app.models import SmsCode, User
from admin_app.services import captcha as captcha_mod
from tests.conftest import DISTRICT_A, SUPER, Login, clone_demo, make_app, outbox_code
from tests.test_security_support import dispose

HOSPITAL = {"REMOTE_ADDR": "203.0.113.77"}  # the hospital's one public (NAT) address
PASSWORD = "Hospital2026"


@pytest.fixture
def hospital_app(template_db, tmp_path, monkeypatch):
    """The demo with the captcha and the rate limits on, as served; the image always reads KKKK."""
    monkeypatch.setattr(captcha_mod, "ALPHABET", "K")
    application = make_app(tmp_path, clone_demo(template_db, tmp_path, "hospital"), CAPTCHA_ENABLED=True,
                           RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://")
    ctx = application.app_context()
    ctx.push()
    yield application
    db.session.remove()
    ctx.pop()
    dispose(application)


def send(client, phone, answer=None, environ=HOSPITAL):
    data = {"phone": phone, "purpose": "register"}
    if answer is not None:
        data["sms_captcha"] = answer
    return client.post("/sms/send", data=data, environ_base=environ)


def sign_up(app, phone: str) -> None:
    """One staff member on his own phone: get a code (answering the image when asked), then register."""
    client = app.test_client()
    resp = send(client, phone)
    if resp.status_code == 428:
        body = resp.get_json()
        assert body["captcha"] is True and "图形验证码" in body["error"]
        assert client.get(body["captcha_url"], environ_base=HOSPITAL).status_code == 200
        resp = send(client, phone, answer="kkkk")  # typed as a person types it
    assert resp.status_code == 200, resp.get_json()
    resp = client.post("/register", environ_base=HOSPITAL, data={
        "name": "张医生", "phone": phone, "password": PASSWORD, "password_confirm": PASSWORD,
        "sms_code": outbox_code(app, phone, "register")})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]


def test_a_hospital_of_over_a_hundred_staff_signs_up_from_one_address(hospital_app):
    phones = [f"1397700{n:04d}" for n in range(101)]
    for phone in phones:
        sign_up(hospital_app, phone)
    assert db.session.scalar(select(func.count()).select_from(User).where(User.phone.in_(phones))) == 101
    # Past the address's generous count every send needed the image, and none was refused.
    assert db.session.scalar(select(func.count()).select_from(SmsCode).where(SmsCode.phone.in_(phones))) == 101


def test_the_address_escalates_from_captcha_to_a_refusal_that_says_when(hospital_app):
    hospital_app.config.update(SMS_CAPTCHA_AFTER_PER_IP=2, SMS_HOURLY_CAP_PER_IP=4)
    c = hospital_app.test_client()
    assert send(c, "13977100001").status_code == 200
    assert send(c, "13977100002").status_code == 200
    # The third needs the image: without it, or with a wrong answer, nothing is stored or sent.
    for answer in (None, "ABCD"):
        c.get("/captcha.png", environ_base=HOSPITAL)
        resp = send(c, "13977100003", answer)
        assert resp.status_code == 428 and resp.get_json()["captcha"] is True
        assert "请先输入图形验证码" in resp.get_json()["error"]
    assert outbox_code(hospital_app, "13977100003") is None
    c.get("/captcha.png", environ_base=HOSPITAL)
    assert send(c, "13977100003", "KKKK").status_code == 200
    c.get("/captcha.png", environ_base=HOSPITAL)
    assert send(c, "13977100004", "KKKK").status_code == 200
    # Past the high count even a right answer is refused, with the time to wait.
    c.get("/captcha.png", environ_base=HOSPITAL)
    resp = send(c, "13977100005", "KKKK")
    assert resp.status_code == 429 and "分钟后再试" in resp.get_json()["error"]
    assert outbox_code(hospital_app, "13977100005") is None
    # Another address is not affected.
    assert send(c, "13977100005", environ={"REMOTE_ADDR": "198.51.100.8"}).status_code == 200


def test_without_javascript_the_form_shows_the_image_when_it_is_needed(hospital_app):
    hospital_app.config.update(SMS_CAPTCHA_AFTER_PER_IP=0)
    c = hospital_app.test_client()
    html = c.get("/register", environ_base=HOSPITAL).get_data(as_text=True)
    assert "data-sms-captcha hidden" in html  # not asked for before it is needed
    resp = c.post("/register", data={"action": "send_code", "phone": "13977100009"}, environ_base=HOSPITAL)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "请先输入图形验证码" in html
    assert "data-sms-captcha hidden" not in html and 'name="sms_captcha"' in html and "/captcha.png" in html
    assert c.get("/captcha.png", environ_base=HOSPITAL).status_code == 200  # the browser loads the image
    resp = c.post("/register", data={"action": "send_code", "phone": "13977100009", "sms_captcha": "KKKK"},
                  environ_base=HOSPITAL)
    assert "请先输入图形验证码" not in resp.get_data(as_text=True)
    assert outbox_code(hospital_app, "13977100009", "register")


def test_platform_admins_see_the_sms_budget_alarm(hospital_app):
    hospital_app.config.update(SMS_DAILY_BUDGET=2, CAPTCHA_ENABLED=False)
    c = hospital_app.test_client()
    for n in range(3):
        assert send(c, f"1397710002{n}").status_code == 200
    login = Login(hospital_app)
    assert "data-sms-budget-alarm" in login(SUPER).get("/admin/").get_data(as_text=True)
    assert "data-sms-budget-alarm" not in login(DISTRICT_A).get("/admin/").get_data(as_text=True)
    hospital_app.config["SMS_DAILY_BUDGET"] = 10
    assert "data-sms-budget-alarm" not in login(SUPER).get("/admin/").get_data(as_text=True)


@pytest.mark.parametrize(("workers", "storage", "refused"), [
    (5, "memory://", True), (5, "redis://127.0.0.1:6379/0", False), (1, "memory://", False)])
def test_the_production_entry_refuses_per_process_limits_under_several_workers(workers, storage, refused):
    cfg = {"SECRET_KEY": "x" * 48, "PII_KEY": "k", "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://h/db",
           "WEB_WORKERS": workers, "RATELIMIT_STORAGE_URI": storage}
    found = production.problems(cfg)
    assert any("RATELIMIT_STORAGE_URI" in p for p in found) is refused
