"""Issue 25 in Chromium: the health-talent manual's user at home, from the login page, by clicking.

(1) A staff member signs in, is told to verify, finds 实名认证 in the personal centre's tabs, submits, sees
待审核, and once approved finds 添加业务; the menu under his name leads to 修改密码 and 退出. (2) On a 390 px
phone a unit admin goes from the back office to his own 个人信息中心 through the name menu and back again.
(3) On a phone, a unit search that finds nothing points to the institution library and 补增申请.
Screenshots go to tests/artifacts/ (pc-*.png).
"""
import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from admin_app.extensions import db
from admin_app.models import IdentityVerification, User
from admin_app.services import verification
from tests.browser.slow import landed, script_held, unfold_admin_navbar
from tests.browser.test_journeys import DESKTOP, PHONE, new_page, screenshots
from tests.conftest import DEMO_PASSWORD, STAFF_A, STAFF_B, UNIT_A
from tests.test_identity_helpers import image_bytes

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(module_live_server):
    return module_live_server


def sign_in_from_login_page(page: Page, base: str, phone: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=phone]", phone)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.locator("main button[type=submit]").click()
    landed(page, re.compile(r"^(?!.*/login)"))  # the landing page, its scripts run


def tab(page: Page, name: str):
    return page.get_by_role("navigation", name="个人信息中心").get_by_role("link", name=name, exact=True)


def open_name_menu(page: Page):
    page.locator("[data-user-menu] > summary").click()
    return page.locator("[data-user-menu] .user-menu-list")


def approve_latest_request(app, phone: str) -> None:
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.phone == phone))
        req_id = db.session.scalar(select(IdentityVerification.id).where(IdentityVerification.user_id == user_id)
                                   .order_by(IdentityVerification.id.desc()))
        assert verification.approve([req_id], None, verification.SYSTEM_SCOPE).moved == 1
        db.session.remove()


def test_1_staff_member_is_told_to_verify_verifies_and_finds_add_business(browser, server, artifacts, tmp_path):
    base = server.url
    context, page, errors = new_page(browser)
    sign_in_from_login_page(page, base, STAFF_A)
    expect(page).to_have_url(base + "/me")
    prompt = page.locator("[data-verify-prompt]")
    expect(prompt).to_contain_text("请按提示进行实名认证")
    identity = page.locator("[data-identity-status]")
    expect(identity).to_have_attribute("data-identity-status", "unverified")
    expect(identity.locator(".identity-status-label")).to_have_text("未认证")
    expect(tab(page, "个人信息中心")).to_have_attribute("aria-current", "page")
    expect(tab(page, "添加业务")).to_have_count(0)  # not before verification
    card = page.locator("#work-unit")
    expect(card).to_contain_text("北京市西城区疾病预防控制中心")
    expect(card).to_contain_text("北京市西城区卫生健康委员会")
    expect(card).to_contain_text(re.compile(r"12110102MB\d{7}[0-9A-Z]"))
    screenshots(page, artifacts, "pc-me-unverified")

    tab(page, "实名认证").click()
    expect(page).to_have_url(base + "/verify")
    expect(tab(page, "实名认证")).to_have_attribute("aria-current", "page")
    for side in ("front", "back"):
        path = tmp_path / f"{side}.jpg"
        path.write_bytes(image_bytes())
        page.set_input_files(f"#{side}_image", str(path))
    page.locator("main form button[type=submit]").click()
    expect(page.get_by_text("等待审核", exact=False).first).to_be_visible()
    screenshots(page, artifacts, "pc-verify-pending")

    tab(page, "个人信息中心").click()
    expect(identity).to_have_attribute("data-identity-status", "pending")
    expect(identity.locator(".identity-status-label")).to_have_text("待审核")

    approve_latest_request(server.app, STAFF_A)
    tab(page, "个人信息中心").click()
    expect(identity).to_have_attribute("data-identity-status", "verified")
    expect(identity.locator(".identity-status-label")).to_have_text("认证成功")
    page.locator("#business").get_by_role("link", name="添加业务").click()
    expect(page).to_have_url(base + "/grants/bind")
    expect(tab(page, "添加业务")).to_have_attribute("aria-current", "page")
    screenshots(page, artifacts, "pc-bind")

    open_name_menu(page).get_by_role("link", name="修改密码").click()
    expect(page).to_have_url(base + "/password")
    expect(tab(page, "修改密码")).to_have_attribute("aria-current", "page")
    menu = open_name_menu(page)
    expect(menu.get_by_role("link")).to_have_text(["个人信息中心", "修改密码", "修改账户信息", "编辑档案", "登录设备",
                                                       "帮助"])
    page.screenshot(path=str(artifacts / "pc-name-menu-1366x768.png"))
    menu.get_by_role("button", name="退出").click()
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.get_by_text("您已退出登录。")).to_be_visible()
    assert errors == []
    context.close()


def test_2_on_a_phone_a_unit_admin_goes_from_the_back_office_to_his_personal_centre_and_back(browser, server,
                                                                                            artifacts):
    base = server.url
    context, page, errors = new_page(browser)
    page.set_viewport_size(PHONE)
    sign_in_from_login_page(page, base, UNIT_A)
    expect(page).to_have_url(re.compile(r"/admin/"))
    unfold_admin_navbar(page)  # the back office's navbar is folded on a phone
    menu = open_name_menu(page)
    expect(menu).to_be_visible()
    page.screenshot(path=str(artifacts / "pc-admin-name-menu-390x844.png"), full_page=True)
    menu.get_by_role("link", name="个人信息中心").click()
    expect(page).to_have_url(base + "/me")
    expect(page.locator("[data-identity-status]")).to_have_attribute("data-identity-status", "verified")
    expect(page.locator("[data-businesses]")).to_contain_text("业务负责人")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"/me scrolls sideways by {overflow}px on a phone"
    page.screenshot(path=str(artifacts / "pc-me-admin-390x844.png"), full_page=True)
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=str(artifacts / "pc-me-admin-1366x768.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.get_by_role("link", name="进入管理后台").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))
    assert errors == []
    context.close()


def test_3_on_a_phone_an_empty_unit_search_points_to_the_institution_registration(browser, server, artifacts):
    base = server.url
    context, page, errors = new_page(browser)
    page.set_viewport_size(PHONE)
    sign_in_from_login_page(page, base, STAFF_B)
    tab(page, "账户信息").click()
    expect(page).to_have_url(base + "/account")
    hint = page.locator("[data-unit-empty]")
    expect(hint).to_be_hidden()
    page.fill("#institution_q", "火星第一人民医院")  # portal.js searches as one types
    expect(hint).to_be_visible()
    expect(hint.get_by_role("link")).to_have_text(["机构库查询", "补增申请", "查询申请"])
    page.fill("#institution_q", "朝阳疾控")
    expect(page.locator("[data-unit-results] button").first).to_be_visible()
    expect(hint).to_be_hidden()
    page.fill("#institution_q", "火星第一人民医院")
    expect(hint).to_be_visible()
    hint.scroll_into_view_if_needed()
    screenshots(page, artifacts, "pc-account-empty-search")
    page.set_viewport_size(PHONE)
    hint.get_by_role("link", name="补增申请").click()
    expect(page).to_have_url(base + "/institutions/apply")
    assert errors == []
    context.close()


def test_on_a_slow_phone_a_unit_typed_before_the_script_ran_is_still_searched(browser, server):
    base = server.url
    context, page, errors = new_page(browser)
    page.set_viewport_size(PHONE)
    sign_in_from_login_page(page, base, STAFF_B)
    with script_held(page, "**/js/portal.js"):
        page.goto(base + "/account", wait_until="commit")
        page.fill("#institution_q", "火星第一人民医院")
    expect(page.locator("[data-unit-empty]")).to_be_visible()
    assert errors == []
    context.close()


def test_on_a_slow_phone_a_province_chosen_before_the_script_ran_still_fills_the_cities(browser, server):
    base = server.url
    context, page, errors = new_page(browser)
    page.set_viewport_size(PHONE)
    sign_in_from_login_page(page, base, STAFF_B)
    with script_held(page, "**/js/portal.js"):
        page.goto(base + "/account", wait_until="commit")
        page.select_option("#province", "120000")  # 天津市, while the script is still on its way
    page.select_option("#city", "120100")  # filled by portal.js from /api/regions
    expect(page.locator("#region_code option")).not_to_have_count(1)
    assert errors == []
    context.close()
