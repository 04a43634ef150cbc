"""Browser journeys of the entry pages (issue 19): 手机快捷登录 from the login page on a phone and a desktop, and
axe-core on the new pages (0 serious or critical violations)."""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_a11y import AXE, AXE_PATH, axe_violations, report, unlabeled_controls
from tests.conftest import STAFF_A, UNIT_A, outbox_code

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def server(module_live_server):
    module_live_server.app.config.update(SMS_RESEND_COOLDOWN=0)
    return module_live_server


def new_page(browser, server, viewport):
    context = browser.new_context(viewport=viewport, locale="zh-CN")
    context.route(server.url + AXE_PATH, lambda route: route.fulfill(
        status=200, content_type="application/javascript", body=AXE.read_text(encoding="utf-8")))
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" and "favicon" not in m.text
            else None)
    return context, page


def assert_accessible(page, server) -> None:
    violations = axe_violations(page, server.url)
    assert violations == [], report(violations)
    assert unlabeled_controls(page) == []
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px"


@pytest.mark.parametrize("viewport, phone, home", [(PHONE, STAFF_A, "/me"), (DESKTOP, UNIT_A, "/admin/staff/")],
                         ids=["390px-staff", "1366px-unit-admin"])
def test_quick_sign_in_by_phone_from_the_login_page(browser, server, artifacts, viewport, phone, home):
    context, page = new_page(browser, server, viewport)
    page.goto(server.url + "/login")
    page.get_by_role("link", name="手机快捷登录").click()
    expect(page).to_have_url(server.url + "/login/sms")
    assert_accessible(page, server)
    page.fill("input[name=phone]", phone)
    page.click("button[data-sms-send]")  # portal.js posts /sms/send purpose=login and counts down
    expect(page.locator(".sms-status")).to_contain_text("验证码已发送")
    code = outbox_code(server.app, phone, "login")
    assert code and re.fullmatch(r"\d{6}", code)
    # A wrong code first: refused in Chinese on the re-rendered form, tied to its field.
    page.fill("input[name=sms_code]", f"{(int(code) + 1) % 1_000_000:06d}")
    page.click("button[value=login]")
    expect(page.locator("#sms_code-error")).to_contain_text("验证码错误")
    assert_accessible(page, server)
    page.screenshot(path=str(artifacts / f"entry-sms-login-{viewport['width']}.png"), full_page=True)
    page.fill("input[name=sms_code]", code)
    page.click("button[value=login]")
    expect(page).to_have_url(server.url + home)
    assert page.errors == []
    context.close()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390px", "1366px"])
def test_help_is_reached_from_the_login_page_and_shows_the_support_phone(browser, server, artifacts, viewport):
    context, page = new_page(browser, server, viewport)
    page.goto(server.url + "/login")
    expect(page.locator(".login-qr img")).to_be_visible() if viewport is DESKTOP else None
    assert_accessible(page, server)
    page.locator("[data-footer-help]").click()
    expect(page).to_have_url(server.url + "/help")
    expect(page.locator("[data-support-phone]")).to_have_text("010-84533392")
    # The QR code image loaded (a PNG the browser decoded).
    assert page.evaluate("document.querySelector('.qr-img').naturalWidth") > 0
    assert_accessible(page, server)
    page.screenshot(path=str(artifacts / f"entry-help-{viewport['width']}.png"), full_page=True)
    assert page.errors == []
    context.close()
