"""Issue 26 in Chromium: a staff member signed in on a computer and on his phone finds 登录设备 in the menu under his
name, sees both sessions (this one marked), ends the computer's after the confirmation, and the computer is sent to
the login page with a plain message. Screenshots: tests/artifacts/sessions-*.png (1366 and 390 px)."""
import pytest
from playwright.sync_api import expect

from tests.browser.slow import script_held
from tests.browser.test_a11y import AXE, AXE_PATH, axe_violations, report
from tests.browser.test_journeys import PHONE, new_page, screenshots
from tests.browser.test_personal_centre import sign_in_from_login_page
from tests.conftest import STAFF_A

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(module_live_server):
    return module_live_server


def test_ending_the_other_device_from_the_phone(browser, server, artifacts):
    computer_ctx, computer, _errors = new_page(browser)
    sign_in_from_login_page(computer, server.url, STAFF_A)
    phone_ctx, phone, errors = new_page(browser)
    phone.set_viewport_size(PHONE)
    phone_ctx.route(server.url + AXE_PATH, lambda route: route.fulfill(
        status=200, content_type="application/javascript", body=AXE.read_text(encoding="utf-8")))
    sign_in_from_login_page(phone, server.url, STAFF_A)
    phone.goto(server.url + "/me")
    phone.locator("[data-user-menu] > summary").click()
    phone.locator("[data-user-menu]").get_by_role("link", name="登录设备").click()
    expect(phone).to_have_url(server.url + "/sessions")
    rows = phone.locator("[data-session-id]")
    expect(rows).to_have_count(2)
    expect(phone.locator("[data-session-id][data-current]")).to_contain_text("本设备")
    violations = axe_violations(phone, server.url)
    assert violations == [], report(violations)
    screenshots(phone, artifacts, "sessions-list")
    dialogs = []
    phone.on("dialog", lambda d: dialogs.append(d.message))
    phone.locator("[data-session-id]:not([data-current])").get_by_role("button", name="结束会话").click()
    expect(phone.locator(".alert-success")).to_contain_text("会话已结束")
    assert dialogs and "该设备需要重新登录" in dialogs[0]
    expect(rows).to_have_count(1)
    computer.goto(server.url + "/me")
    expect(computer).to_have_url(server.url + "/login?next=%2Fme")
    expect(computer.locator(".alert")).to_contain_text("登录已失效，请重新登录")
    screenshots(computer, artifacts, "sessions-ended-login")
    assert errors == []
    computer_ctx.close()
    phone_ctx.close()


def test_on_a_slow_phone_ending_a_session_asks_first_before_the_page_script_ran(browser, server):
    computer_ctx, computer, _errors = new_page(browser)
    sign_in_from_login_page(computer, server.url, STAFF_A)
    phone_ctx = browser.new_context(viewport=PHONE, locale="zh-CN")
    phone = phone_ctx.new_page()
    dialogs = []
    phone.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))  # a tap by mistake: 取消
    sign_in_from_login_page(phone, server.url, STAFF_A)
    with script_held(phone, "**/js/portal.js"):  # the page's script still on its way
        phone.goto(server.url + "/sessions", wait_until="commit")
        phone.locator("[data-session-id]:not([data-current])").first.get_by_role("button", name="结束会话").click()
        assert dialogs and "该设备需要重新登录" in dialogs[0], dialogs
        shown = phone.locator("[data-session-id]").count()
    phone.reload()
    expect(phone.locator("[data-session-id]")).to_have_count(shown)  # nothing ended
    computer.goto(server.url + "/me")
    expect(computer).to_have_url(server.url + "/me")  # the computer is still signed in
    computer_ctx.close()
    phone_ctx.close()
