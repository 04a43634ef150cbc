"""Several programmes in Chromium: the platform admin adds one from the back office menu (a bad code first, a
participating institution found with the search picker), a unit admin of a participating institution finds it among
我参与的业务 on /me and enters it; as its business manager he adds then revokes an assistant; an officer pre-registers a
unit admin's phone by searching the unit; on a 390 px phone and a 1366 px desktop. axe-core finds no WCAG 2.1 A/AA
violation on the new pages. Screenshots: tests/artifacts/prog-*."""
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.axe import wcag_violations
from tests.browser.slow import landed
from tests.browser.test_personal_centre import sign_in_from_login_page
from tests.conftest import DISTRICT_A, SUPER, UNIT_A, outbox_code
from tests.test_registry_support import DISTRICT_A_NAME, HOSPITAL_A_NAME, PW, UNIT_A_NAME, inst, make_user

pytestmark = pytest.mark.browser
WIDTHS = (390, 1366)


@pytest.fixture(scope="module")
def server(module_live_server):
    # Step-up codes are sent twice a minute here; the cooldown is the SMS tests' business.
    module_live_server.app.config.update(SMS_RESEND_COOLDOWN=0, SMS_DAILY_CAP_PER_PHONE=10_000,
                                         SMS_HOURLY_CAP_PER_IP=10_000)
    return module_live_server


def new_page(browser, server, width: int) -> tuple[Page, list[str]]:
    context = browser.new_context(viewport={"width": width, "height": 844}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "favicon" not in m.text else None)
    return page, errors


def assert_accessible(page: Page, server, label: str) -> None:
    found = wcag_violations(page)
    assert not found, f"{label}: {found}"
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{label} scrolls sideways by {overflow}px"


def test_1_the_platform_admin_adds_a_programme_from_the_menu(browser, server, artifacts):
    page, errors = new_page(browser, server, 1366)
    sign_in_from_login_page(page, server.url, SUPER)
    expect(page).to_have_url(re.compile(r"/admin/"))
    page.get_by_role("link", name="业务管理").click()
    expect(page).to_have_url(re.compile(r"/admin/programme/"))
    expect(page.locator("table")).to_contain_text("卫生人员上报")
    assert_accessible(page, server, "programme list")
    page.locator("[data-add-programme]").click()
    landed(page, re.compile(r"/admin/programme/new/"))  # the unit search is portal.js's
    page.get_by_label("业务名称").fill("人才评价")
    page.get_by_label("业务代码").fill("Workforce")  # taken by the default programme
    # the participating institution is found with the search picker and added as a line
    page.get_by_label("搜索机构").fill("西城区卫生健康委")
    page.locator("[data-unit-results] [role=option]", has_text=DISTRICT_A_NAME).first.click()
    expect(page.locator("textarea#institutions")).to_have_value(re.compile(r"^\S+$"))
    page.locator("form.admin-form input[type=submit]").first.click()
    expect(page.locator("form.admin-form")).to_contain_text("业务代码 workforce 已被其他业务使用")
    assert_accessible(page, server, "programme form with an error")
    page.screenshot(path=str(artifacts / "prog-form-error-1366.png"), full_page=True)
    page.get_by_label("业务代码").fill("talent")
    page.locator("form.admin-form input[type=submit]").first.click()
    expect(page).to_have_url(re.compile(r"/admin/programme/"))
    expect(page.locator("table")).to_contain_text("人才评价")
    expect(page.locator("table")).to_contain_text(DISTRICT_A_NAME)
    page.screenshot(path=str(artifacts / "prog-list-1366.png"), full_page=True)
    assert not errors, errors


@pytest.mark.parametrize("width", WIDTHS)
def test_2_a_unit_admin_sees_the_programme_on_his_personal_centre_and_enters_it(browser, server, artifacts, width):
    page, errors = new_page(browser, server, width)
    sign_in_from_login_page(page, server.url, UNIT_A)
    page.goto(server.url + "/me")
    businesses = page.locator("[data-businesses]")
    expect(businesses.locator('[data-programme="workforce"]')).to_contain_text("卫生人员上报")
    expect(businesses.locator('[data-programme="talent"]')).to_contain_text("您所在单位参与本业务")
    assert_accessible(page, server, f"/me at {width}")
    page.locator("#business").screenshot(path=str(artifacts / f"prog-me-{width}.png"))
    page.get_by_role("link", name="进入人才评价").click()
    expect(page).to_have_url(re.compile(r"/programmes/talent$"))
    expect(page.locator("h1")).to_have_text("人才评价")
    expect(page.locator("[data-programme-roles]")).to_contain_text("您在本业务中暂无管理权限")
    assert_accessible(page, server, f"programme page at {width}")
    page.screenshot(path=str(artifacts / f"prog-page-{width}.png"), full_page=True)
    assert not errors, errors


def step_up(page: Page, form, server, phone: str) -> None:
    """获取验证码 (the form is posted and comes back), then the password and the code sent to one's own phone."""
    form().get_by_role("button", name="获取验证码").click()
    expect(page.locator(".alert-success").first).to_contain_text("验证码已发送")
    form().get_by_label("登录密码").fill(PW)
    form().get_by_label("短信验证码").fill(outbox_code(server.app, phone, "step_up"))


@pytest.mark.parametrize("width", WIDTHS)
def test_3_the_programme_manager_adds_then_revokes_an_assistant(browser, server, artifacts, width):
    helper_phone = f"139111140{width % 100:02d}"
    with server.app.app_context():
        from admin_app.extensions import db
        from admin_app.models import AdminGrant, Programme, User

        prog = db.session.query(Programme).filter_by(code="talent").one()
        unit = inst(UNIT_A_NAME)
        manager = db.session.query(User).filter_by(phone=UNIT_A).one()
        if not db.session.query(AdminGrant).filter_by(programme_id=prog.id, user_id=manager.id).count():
            db.session.add(AdminGrant(institution_id=unit.id, programme_id=prog.id, role="manager", state="active",
                                      user_id=manager.id))
            db.session.commit()
        make_user(helper_phone, "韩助理", unit)
    page, errors = new_page(browser, server, width)
    sign_in_from_login_page(page, server.url, UNIT_A)
    page.goto(server.url + "/me")
    page.get_by_role("link", name="进入人才评价").click()
    page.get_by_role("link", name="业务助理").click()
    expect(page).to_have_url(re.compile(r"/programmes/talent/team"))
    add = lambda: page.locator("form[data-team-add]")  # noqa: E731 - the form is drawn again after each post
    add().locator("input[name=add-phone]").fill(helper_phone)
    step_up(page, add, server, UNIT_A)
    add().get_by_role("button", name="添加", exact=True).click()
    expect(page.locator(".alert-success").first).to_contain_text("为辅助管理员")
    row = page.locator('[data-grant-role="assistant"]')
    expect(row).to_have_count(1)
    expect(row).to_contain_text("韩*理")
    assert_accessible(page, server, f"programme team at {width}")
    page.screenshot(path=str(artifacts / f"prog-team-{width}.png"), full_page=True)
    row.get_by_role("link", name="解除授权").click()
    confirm = lambda: page.locator("#confirm-remove")  # noqa: E731
    expect(confirm()).to_contain_text("确认解除该业务助理的授权")
    step_up(page, confirm, server, UNIT_A)
    assert_accessible(page, server, f"revoke confirmation at {width}")
    page.screenshot(path=str(artifacts / f"prog-team-confirm-{width}.png"), full_page=True)
    confirm().get_by_role("button", name="确认解除授权").click()
    expect(page.locator(".alert-success").first).to_contain_text("辅助管理员已移除")
    expect(page.locator('[data-grant-role="assistant"]')).to_have_count(0)
    assert not errors, errors


@pytest.mark.parametrize("width", WIDTHS)
def test_4_an_officer_pre_registers_a_phone_by_searching_the_unit(browser, server, artifacts, width):
    phone = f"139111150{width % 100:02d}"
    page, errors = new_page(browser, server, width)
    sign_in_from_login_page(page, server.url, DISTRICT_A)
    page.goto(server.url + "/admin/preregistration/")
    page.locator("[data-prereg-new]").click()
    landed(page, re.compile(r"/admin/preregistration/new/"))
    page.get_by_label("搜索机构").fill("人民医院")
    page.locator("[data-unit-results] [role=option]", has_text=HOSPITAL_A_NAME).first.click()
    expect(page.locator("select#institution_id option:checked")).to_contain_text(HOSPITAL_A_NAME)
    page.get_by_label("管理员手机号").fill(phone)
    page.get_by_label("管理员姓名").fill("王预置")
    assert_accessible(page, server, f"pre-registration form at {width}")
    page.screenshot(path=str(artifacts / f"prog-prereg-form-{width}.png"), full_page=True)
    page.locator("form.admin-form input[type=submit]").first.click()
    expect(page).to_have_url(re.compile(r"/admin/preregistration/"))
    expect(page.locator("table")).to_contain_text(phone)
    expect(page.locator("table")).to_contain_text(HOSPITAL_A_NAME)
    assert not errors, errors
