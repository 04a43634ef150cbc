"""Several programmes in Chromium: the platform admin adds one from the back office menu (a bad code first), and a
unit admin of a participating institution finds it among 我参与的业务 on /me and enters it, on a 390 px phone and a
1366 px desktop. axe-core finds no WCAG 2.1 A/AA violation on the new pages. Screenshots: tests/artifacts/prog-*."""
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.axe import wcag_violations
from tests.browser.test_personal_centre import sign_in_from_login_page
from tests.conftest import SUPER, UNIT_A
from tests.test_registry_support import DISTRICT_A_NAME

pytestmark = pytest.mark.browser
WIDTHS = (390, 1366)


@pytest.fixture(scope="module")
def server(module_live_server):
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
    page.get_by_label("业务名称").fill("人才评价")
    page.get_by_label("业务代码").fill("Workforce")  # taken by the default programme
    page.get_by_label("参与机构").fill(DISTRICT_A_NAME)
    page.locator("form.admin-form [type=submit]").first.click()
    expect(page.locator("form.admin-form")).to_contain_text("业务代码 workforce 已被其他业务使用")
    assert_accessible(page, server, "programme form with an error")
    page.screenshot(path=str(artifacts / "prog-form-error-1366.png"), full_page=True)
    page.get_by_label("业务代码").fill("talent")
    page.locator("form.admin-form [type=submit]").first.click()
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
