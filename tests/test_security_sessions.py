"""Sessions that end: a copied cookie is worthless after logout, a password change or reset, or 'sign out the other
devices'; an idle session ends by itself; each person sees and ends only his own sessions (/sessions)."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from admin_app.extensions import db
from admin_app.models import AuditLog, User, UserSession
from admin_app.models.types import utcnow
from admin_app.services import clock, grants, sessions as svc
from admin_app.services.scope import scope_for
from tests.conftest import DEMO_PASSWORD, STAFF_A, STAFF_B, UNIT_A, outbox_code

CHROME_WIN = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/120.0.0.0 Safari/537.36")
WECHAT_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 "Mobile/15E148 MicroMessenger/8.0.44(0x18002c2f) NetType/WIFI Language/zh_CN")
EXPIRED = "会话已过期，请重新登录"
ENDED = "登录已失效，请重新登录"


def copy_of(client):
    """A second browser holding a copy of `client`'s session cookie (what a thief would replay)."""
    other = client.application.test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    return other


def signed_in(client) -> bool:
    resp = client.get("/sessions")
    return resp.status_code == 200


def lands_on_login_with(client, message: str) -> None:
    resp = client.get("/me")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert message in client.get(resp.headers["Location"]).get_data(as_text=True)


def user(phone: str) -> User:
    return db.session.scalar(select(User).where(User.phone == phone))


def session_ids(phone: str) -> list[int]:
    return list(db.session.scalars(select(UserSession.id).join(User).where(User.phone == phone)
                                   .order_by(UserSession.id)))


def audits(action: str) -> list[AuditLog]:
    return list(db.session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


@pytest.fixture
def frozen(monkeypatch):
    """The sessions' clock, moved by hand: frozen["now"] += timedelta(...)."""
    state = {"now": utcnow()}
    monkeypatch.setattr(clock, "utcnow", lambda: state["now"])
    return state


# ---------------------------------------------------------------------------------------------- replay

def test_a_copied_cookie_stops_working_after_logout(login):
    me = login(STAFF_A)
    thief = copy_of(me)
    assert signed_in(thief)
    assert me.post("/logout").status_code == 302
    lands_on_login_with(thief, ENDED)
    assert not signed_in(me) and session_ids(STAFF_A) == []


def test_a_password_change_signs_out_the_other_devices_and_keeps_this_one(login):
    phone, laptop = login(STAFF_A), login(STAFF_A)
    thief = copy_of(laptop)
    resp = phone.post("/password", data={"old_password": DEMO_PASSWORD, "password": "NewPass123",
                                         "password_confirm": "NewPass123"})
    assert resp.status_code == 302
    assert "其他设备上的登录已全部退出" in phone.get(resp.headers["Location"]).get_data(as_text=True)
    assert signed_in(phone)
    lands_on_login_with(laptop, ENDED)
    assert not signed_in(thief)
    assert len(session_ids(STAFF_A)) == 1
    assert audits("password_change")[-1].details == {"sessions_ended": 1}


def test_a_forgotten_password_reset_signs_out_every_earlier_session(app, login, client):
    earlier = login(STAFF_A)
    thief = copy_of(earlier)
    assert client.post("/sms/send", data={"phone": STAFF_A, "purpose": "reset_password"}).json["ok"]
    resp = client.post("/forgot-password", data={"phone": STAFF_A, "sms_code": outbox_code(app, STAFF_A,
                                                                                           "reset_password"),
                                                 "password": "NewPass123", "password_confirm": "NewPass123"})
    assert resp.status_code == 302
    assert "之前登录的设备已全部退出" in client.get(resp.headers["Location"]).get_data(as_text=True)
    assert not signed_in(earlier) and not signed_in(thief)
    assert session_ids(STAFF_A) == []
    assert signed_in(login(STAFF_A, "NewPass123"))


def test_ending_the_other_sessions_signs_them_out_and_is_audited(login):
    here, there, elsewhere = login(STAFF_A), login(STAFF_A), login(STAFF_A)
    thief = copy_of(there)
    someone_else = login(STAFF_B)
    resp = here.post("/sessions/end-others")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/sessions")
    assert "已结束 2 个其他会话" in here.get("/sessions").get_data(as_text=True)
    assert signed_in(here) and signed_in(someone_else)
    for c in (there, elsewhere, thief):
        assert not signed_in(c)
    [row] = audits("sessions_ended_others")
    assert row.details == {"sessions_ended": 2} and row.actor_id == user(STAFF_A).id
    # nothing left to end: the button is gone and a repeat says so
    assert "退出其他所有设备" not in here.get("/sessions").get_data(as_text=True)
    here.post("/sessions/end-others")
    assert "没有其他会话" in here.get("/sessions").get_data(as_text=True)


def test_ending_one_session_from_the_list(login):
    here, there = login(STAFF_A), login(STAFF_A)
    mine, other = session_ids(STAFF_A)
    resp = here.post("/sessions/end", data={"session_id": str(other)})
    assert resp.status_code == 302
    assert "会话已结束" in here.get("/sessions").get_data(as_text=True)
    assert session_ids(STAFF_A) == [mine] and not signed_in(there) and signed_in(here)
    [row] = audits("session_ended")
    assert row.details["session_id"] == other and row.actor_id == user(STAFF_A).id
    # ending the current one is signing out
    resp = here.post("/sessions/end", data={"session_id": str(mine)})
    assert resp.status_code == 302 and "/login" in resp.headers["Location"] and not signed_in(here)


def test_signing_in_again_in_the_same_browser_replaces_its_session(login):
    browser = login(STAFF_A)
    thief = copy_of(browser)
    login(STAFF_B, client=browser)
    assert session_ids(STAFF_A) == [] and len(session_ids(STAFF_B)) == 1
    assert not signed_in(thief)


# ------------------------------------------------------------------------------------------- the list

def test_the_list_shows_each_session_with_its_browser_and_marks_this_one(login, client):
    client.post("/login", data={"phone": STAFF_A, "password": DEMO_PASSWORD}, headers={"User-Agent": WECHAT_IPHONE},
                environ_base={"REMOTE_ADDR": "10.1.2.3"})
    here = client.application.test_client()
    here.environ_base.update(REMOTE_ADDR="10.9.9.9", HTTP_USER_AGENT=CHROME_WIN)
    login(STAFF_A, client=here)
    html = here.get("/sessions").get_data(as_text=True)
    ids = [int(x) for x in re.findall(r'data-session-id="(\d+)"', html)]
    assert sorted(ids) == session_ids(STAFF_A) and len(ids) == 2
    assert html.count("data-current") == 1 and "本设备" in html
    current = re.search(r'data-session-id="(\d+)" data-current', html).group(1)
    assert int(current) == max(ids)
    assert "WeChat Browser 8 · iOS 17.1 · iPhone" in html and "Chrome 120 · Windows 10" in html
    assert "10.1.2.3" in html and "10.9.9.9" in html
    assert "登录时间" in html and "最近活动" in html and "退出其他所有设备" in html
    # reached from the personal centre and from the back office's user menu
    assert 'href="/sessions"' in here.get("/me").get_data(as_text=True)
    assert 'href="/sessions"' in login(UNIT_A).get("/admin/").get_data(as_text=True)


def test_nobody_sees_or_ends_another_persons_session(login):
    mine = login(STAFF_A)
    other = login(STAFF_B)
    [theirs] = session_ids(STAFF_B)
    assert f'data-session-id="{theirs}"' not in mine.get("/sessions").get_data(as_text=True)
    for bad in (str(theirs), "", "abc", "-1", "99999999999", "1; DROP TABLE user_session"):
        resp = mine.post("/sessions/end", data={"session_id": bad})
        assert resp.status_code == 404 and "该会话已结束或不存在" in resp.get_data(as_text=True), bad
    assert signed_in(other) and session_ids(STAFF_B) == [theirs]
    assert audits("session_ended") == []


def test_ending_sessions_needs_the_csrf_token(app, login):
    here, there = login(STAFF_A), login(STAFF_A)
    app.config["WTF_CSRF_ENABLED"] = True
    assert here.post("/sessions/end-others").status_code == 400
    assert here.post("/sessions/end", data={"session_id": str(session_ids(STAFF_A)[1])}).status_code == 400
    app.config["WTF_CSRF_ENABLED"] = False
    assert signed_in(there)


def test_browser_names_are_readable(plain_app):
    with plain_app.test_request_context():
        assert svc.describe_agent(CHROME_WIN) == "Chrome 120 · Windows 10"
        assert svc.describe_agent("curl/8.5.0") == "curl 8"
        assert svc.describe_agent("") == "未知浏览器"
        assert svc.describe_agent("x" * 300) == "x" * 60  # what no rule knows is shown as sent, shortened


# ---------------------------------------------------------------------------------------- idle timeout

def test_an_idle_session_ends_and_lands_on_the_login_page(app, login, frozen):
    me = login(STAFF_A)
    frozen["now"] += timedelta(seconds=app.config["SESSION_IDLE_TIMEOUT"] - 60)
    assert signed_in(me)  # used in time: 'last seen' moves on
    frozen["now"] += timedelta(seconds=app.config["SESSION_IDLE_TIMEOUT"] - 60)
    assert signed_in(me)
    frozen["now"] += timedelta(seconds=app.config["SESSION_IDLE_TIMEOUT"] + 1)
    resp = me.post("/password", data={"old_password": "x"})  # a form posted after the timeout: no 500, no change
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert EXPIRED in me.get(resp.headers["Location"]).get_data(as_text=True)
    assert session_ids(STAFF_A) == []
    admin = login(UNIT_A)
    frozen["now"] += timedelta(hours=1)
    resp = admin.get("/admin/staff/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_the_absolute_lifetime_ends_even_a_busy_session(app, login, frozen):
    me = login(STAFF_A)
    end = frozen["now"] + app.permanent_session_lifetime
    step = timedelta(seconds=app.config["SESSION_IDLE_TIMEOUT"] // 2)
    while frozen["now"] + step < end:
        frozen["now"] += step
        assert signed_in(me)
    frozen["now"] = end + timedelta(seconds=1)
    lands_on_login_with(me, EXPIRED)


def test_last_seen_is_written_at_most_once_a_minute(login, frozen, count_queries):
    me = login(STAFF_A)
    [sid] = session_ids(STAFF_A)
    frozen["now"] += timedelta(seconds=30)
    with count_queries() as q:
        assert me.get("/me").status_code == 200
    touching = [s for s in q.statements if "user_session" in s]
    assert len(touching) == 1 and touching[0].lstrip().upper().startswith("SELECT")  # one read, no write
    frozen["now"] += timedelta(seconds=31)
    with count_queries() as q:
        assert me.get("/me").status_code == 200
    assert sum(s.lstrip().upper().startswith("UPDATE USER_SESSION") for s in q.statements) == 1
    assert db.session.get(UserSession, sid).last_seen_at == frozen["now"]


def test_ended_sessions_are_purged_when_someone_signs_in(app, login, frozen):
    login(STAFF_A), login(STAFF_A)
    assert len(session_ids(STAFF_A)) == 2
    frozen["now"] += timedelta(seconds=app.config["SESSION_IDLE_TIMEOUT"] + 1)
    login(STAFF_B)
    assert session_ids(STAFF_A) == [] and len(session_ids(STAFF_B)) == 1
    assert db.session.scalar(select(func.count()).select_from(UserSession)) == 1


# --------------------------------------------------------------------------------------------- grants

def test_a_reset_admin_grant_signs_that_admin_out(login):
    admin = login(UNIT_A)
    officer = user("13800000002")
    manager = user(UNIT_A)
    result = grants.reset(scope_for(officer), officer, [manager.institution_id])
    assert result.grants >= 1
    assert not signed_in(admin) and session_ids(UNIT_A) == []
