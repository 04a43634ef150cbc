"""A unit admin opens the registry in a real browser, signs in, and reads the counts of their unit in Chinese."""
import re
import subprocess

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

from admin_app.extensions import db
from admin_app.models import Institution, StaffProfile
from tests.conftest import DEMO_PASSWORD, UNIT_A

pytestmark = pytest.mark.browser

UNIT_A_NAME = "北京市西城区疾病预防控制中心"
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
LABELS = ("上报数", "待审核", "已驳回", "单位通过", "机构通过")
STATUSES = (("submitted", "unit_rejected", "unit_approved", "rejected", "approved"), ("submitted",),
            ("unit_rejected", "rejected"), ("unit_approved",), ("approved",))


def expected_cards(live_server) -> list[str]:
    """The unit's counts by a GROUP BY over the staff table (not the counters the page reads)."""
    with live_server.app.app_context():
        counts = dict(db.session.execute(
            select(StaffProfile.status, func.count()).join(Institution, Institution.id == StaffProfile.institution_id)
            .where(Institution.name == UNIT_A_NAME).group_by(StaffProfile.status)).all())
        db.session.remove()
    return [str(sum(counts.get(s, 0) for s in statuses)) for statuses in STATUSES]


def open_page(browser: Browser, viewport: dict) -> tuple[Page, list[str]]:
    """A fresh Chinese-locale page and the list its console errors (CSP violations among them) go to."""
    context = browser.new_context(viewport=viewport, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page, errors


def sign_in(page: Page, base: str, phone: str = UNIT_A) -> None:
    page.get_by_label("手机").fill(phone)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()


def no_horizontal_scroll(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_chinese_font_is_installed_for_chromium():
    """Without fonts-noto-cjk Chromium draws every Chinese character as an empty box."""
    match = subprocess.run(["fc-match", "sans-serif:lang=zh-cn"], capture_output=True, text=True, check=True).stdout
    assert "CJK" in match, match


@pytest.mark.parametrize("size, viewport", [("1366x768", DESKTOP), ("390x844", PHONE)])
def test_unit_admin_signs_in_and_sees_the_units_counts_in_chinese(browser, live_server, artifacts, size, viewport):
    page, errors = open_page(browser, viewport)
    page.goto(live_server.url + "/login")
    expect(page).to_have_title(re.compile("登录"))
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert no_horizontal_scroll(page)
    page.screenshot(path=str(artifacts / f"login-{size}.png"), full_page=True)

    sign_in(page, live_server.url)
    expect(page).to_have_url(live_server.url + "/admin/staff/")  # a unit admin lands on 上报人员列表
    page.goto(live_server.url + "/admin/")
    expect(page.locator(".count-card").first).to_be_visible()
    for label in LABELS:
        expect(page.get_by_text(label, exact=True).first).to_be_visible()
    shown = [t.strip() for t in page.locator(".count-card").all_inner_texts()]
    assert shown == expected_cards(live_server)
    expect(page.get_by_text(UNIT_A_NAME).first).to_be_visible()
    assert no_horizontal_scroll(page)
    page.screenshot(path=str(artifacts / f"dashboard-{size}.png"), full_page=True)
    assert errors == []
    page.context.close()


def test_a_grid_link_sends_a_visitor_through_login_and_back(browser, live_server, artifacts):
    page, errors = open_page(browser, DESKTOP)
    page.goto(live_server.url + "/admin/institution/")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    sign_in(page, live_server.url)
    expect(page).to_have_url(live_server.url + "/admin/institution/")
    expect(page.get_by_role("cell", name=UNIT_A_NAME)).to_be_visible()
    assert page.locator("table tbody tr").count() == 1  # the unit admin's scope is its own unit
    page.screenshot(path=str(artifacts / "institutions-1366x768.png"), full_page=True)
    assert errors == []
    page.context.close()


def test_the_language_switch_turns_the_back_office_english_and_back(browser, live_server):
    page, errors = open_page(browser, DESKTOP)
    page.goto(live_server.url + "/login")
    sign_in(page, live_server.url)
    expect(page.get_by_text("待审核", exact=True).first).to_be_visible()
    page.get_by_role("link", name="English").click()
    expect(page.get_by_text("Pending review", exact=True).first).to_be_visible()
    page.get_by_role("link", name="中文").click()
    expect(page.get_by_text("待审核", exact=True).first).to_be_visible()
    page.locator("[data-user-menu] > summary").click()  # 退出 sits in the menu under the user's name
    page.get_by_role("button", name="退出", exact=True).click()
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.get_by_text("您已退出登录。")).to_be_visible()
    assert errors == []
    page.context.close()
