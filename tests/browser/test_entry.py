"""Browser journeys of the entry pages (issue 19): 手机快捷登录 from the login page on a phone and a desktop, and
axe-core on the new pages (0 serious or critical violations)."""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.axe import report, serious_violations, wcag_violations
from tests.browser.slow import landed
from tests.browser.test_a11y import unlabeled_controls
from tests.conftest import DEMO_PASSWORD, DISTRICT_A, STAFF_A, UNIT_A, outbox_code
from tests.test_registry_support import HOSPITAL_A_NAME

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
PREREG_PHONE, NEW_PASSWORD = "13911114444", "Wang@2026pass"


@pytest.fixture(scope="module")
def server(module_live_server):
    module_live_server.app.config.update(SMS_RESEND_COOLDOWN=0)
    return module_live_server


def new_page(browser, server, viewport):
    context = browser.new_context(viewport=viewport, locale="zh-CN")
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" and "favicon" not in m.text
            else None)
    return context, page


def assert_accessible(page, server, back_office: bool = False) -> None:
    """0 serious/critical axe violations (and, in the back office, 0 WCAG 2.1 A/AA ones); no sideways scroll."""
    violations = serious_violations(page) + (wcag_violations(page) if back_office else [])
    assert violations == [], report(violations)
    if not back_office:  # Flask-Admin's grid search box is named by its placeholder (axe accepts it)
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
    page.locator("button.btn-primary[value=login]").click()
    expect(page.locator("#sms_code-error")).to_contain_text("验证码错误")
    assert_accessible(page, server)
    page.screenshot(path=str(artifacts / f"entry-sms-login-{viewport['width']}.png"), full_page=True)
    page.fill("input[name=sms_code]", code)
    page.press("input[name=sms_code]", "Enter")  # Enter signs in (it does not ask for another code)
    expect(page).to_have_url(server.url + home)
    assert page.errors == []
    context.close()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390px", "1366px"])
def test_who_forgot_the_password_is_offered_the_sms_sign_in(browser, server, artifacts, viewport):
    context, page = new_page(browser, server, viewport)
    page.goto(server.url + "/login")
    page.get_by_role("link", name="忘记密码？").click()
    landed(page, server.url + "/forgot-password")
    assert_accessible(page, server)
    page.screenshot(path=str(artifacts / f"entry-forgot-password-{viewport['width']}.png"), full_page=True)
    page.get_by_role("link", name="改用短信验证码登录").click()
    landed(page, server.url + "/login/sms")
    expect(page.locator("input[name=sms_code]")).to_be_visible()
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
    page.wait_for_function("() => { const i = document.querySelector('.qr-img'); "
                           "return i.complete && i.naturalWidth > 0; }")
    assert_accessible(page, server)
    page.screenshot(path=str(artifacts / f"entry-help-{viewport['width']}.png"), full_page=True)
    assert page.errors == []
    context.close()


def test_an_officer_pre_registers_a_phone_and_that_person_signs_up_onto_the_staff_list(browser, server, artifacts):
    """预置管理员手机号: from the back-office menu, a district officer names the admin phone of a subordinate hospital;
    that person registers with it and lands on the hospital's 上报人员列表; the officer then sees it claimed."""
    base = server.url
    context, officer = new_page(browser, server, DESKTOP)
    officer.goto(base + "/login")
    officer.fill("input[name=phone]", DISTRICT_A)
    officer.fill("input[name=password]", DEMO_PASSWORD)
    officer.click("button[value=login]")
    landed(officer, base + "/admin/")
    officer.locator("#admin-navbar-collapse").get_by_role("link", name="预置管理员手机号").click()
    expect(officer).to_have_url(re.compile(r"/admin/preregistration/$"))
    assert_accessible(officer, server, back_office=True)
    officer.locator("[data-prereg-new]").click()
    landed(officer, re.compile(r"/admin/preregistration/new/"))  # the unit search is portal.js's
    officer.get_by_label("搜索机构").fill("人民医院")  # the unit is found by searching, as on every picker
    officer.locator("[data-unit-results] [role=option]", has_text=HOSPITAL_A_NAME).first.click()
    expect(officer.locator("select#institution_id option:checked")).to_contain_text(HOSPITAL_A_NAME)
    officer.fill("#phone", "1391111")  # a slip first: refused on the form in Chinese
    officer.fill("#name", "王预置")
    officer.locator("input[type=submit].btn-primary").click()
    expect(officer.locator("form.admin-form")).to_contain_text("请输入有效的中国大陆手机号")
    assert_accessible(officer, server, back_office=True)
    officer.fill("#phone", PREREG_PHONE)
    officer.locator("input[type=submit].btn-primary").click()
    expect(officer).to_have_url(re.compile(r"/admin/preregistration/"))
    row = officer.locator("table tbody tr", has_text=PREREG_PHONE)
    expect(row.locator("[data-prereg-state]")).to_have_text("未认领")
    officer.screenshot(path=str(artifacts / "entry-prereg-list-1366.png"), full_page=True)

    # The hospital's admin registers on his phone with the pre-registered number.
    phone_ctx, page = new_page(browser, server, PHONE)
    page.goto(base + "/register")
    page.fill("#name", "王预置")
    page.fill("#phone", PREREG_PHONE)
    page.fill("#password", NEW_PASSWORD)
    page.fill("#password_confirm", NEW_PASSWORD)
    page.click("button[data-sms-send]")
    expect(page.locator(".sms-status")).to_contain_text("验证码已发送")
    page.fill("#sms_code", outbox_code(server.app, PREREG_PHONE, "register"))
    page.click("button.btn-primary[value=register]")
    expect(page).to_have_url(base + "/admin/staff/")
    expect(page.locator("main")).to_contain_text(HOSPITAL_A_NAME)
    page.screenshot(path=str(artifacts / "entry-prereg-claimed-390.png"), full_page=True)
    assert page.errors == []
    phone_ctx.close()

    officer.reload()
    expect(row.locator("[data-prereg-state]")).to_have_text("已认领")
    assert officer.errors == []
    context.close()
