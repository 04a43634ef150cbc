"""Accessibility from the keyboard alone (issue 31): a unit admin selects named rows and approves, adds a filter;
a blank reject reason and a portal form sent with an error are announced (a focused role=alert summary); /me
reflows at 320 CSS px (200 % zoom on a phone). Screenshots of the focused controls go to tests/artifacts/.
Every page's axe check is test_a11y_crawl.py's."""
import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from admin_app.extensions import db
from admin_app.models import StaffProfile, User
from tests.browser.axe import report, wcag_violations
from tests.browser.slow import landed, script_held
from tests.conftest import DEMO_PASSWORD, STAFF_A, UNIT_A

pytestmark = pytest.mark.browser

@pytest.fixture(scope="module")
def server(module_live_server):
    return module_live_server


def sign_in(browser, server, phone: str, width: int) -> Page:
    """A new browser context at `width`, signed in from the keyboard (Tab to each box, Enter)."""
    context = browser.new_context(viewport={"width": width, "height": 844}, locale="zh-CN")
    page = context.new_page()
    page.goto(server.url + "/login")
    tab_to(page, "main input[name=phone]")
    page.keyboard.type(phone)
    tab_to(page, "main input[name=password]")
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    landed(page, re.compile(r"/admin/"))  # the landing page, its scripts run
    return page


def tab_to(page: Page, selector: str, back: bool = False, limit: int = 80) -> None:
    """Press Tab (or Shift+Tab) until the focused element matches selector."""
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        if page.evaluate("s => !!document.activeElement && document.activeElement.matches(s)", selector):
            return
    pytest.fail(f"{selector} cannot be reached with Tab")


def test_a_unit_admin_selects_named_rows_and_approves_by_keyboard(browser, server, artifacts):
    page = sign_in(browser, server, UNIT_A, 1366)
    first = page.evaluate("""() => document.querySelector(
        'a[href], button, input:not([type=hidden]), select, textarea, summary').textContent.trim()""")
    assert first == "跳到主要内容"  # the first thing Tab reaches
    tab_to(page, "a[data-card=submitted]")  # the 待审核 card: rows this admin can approve (the grid shows every status)
    page.keyboard.press("Enter")
    expect(page.locator("a[data-card=submitted]")).to_have_attribute("aria-current", "true")
    landed(page, re.compile(r"/admin/staff/"))  # the rows' names (aria-label) are a11y.js's
    tab_to(page, "input.action-checkbox")
    names = []
    for _ in range(2):
        label = page.evaluate("document.activeElement.getAttribute('aria-label')")
        assert re.fullmatch(r"选择 \S+ 1\d\d\*{4}\d{4}", label), label
        names.append(label)
        page.keyboard.press("Space")
        page.keyboard.press("Tab")
        tab_to(page, "input.action-checkbox")
    page.screenshot(path=str(artifacts / "a11y-focused-row-checkbox.png"))
    assert page.locator("input.action-rowtoggle").get_attribute("aria-label").startswith("选择本页全部")
    tab_to(page, "button[data-action=approve]", back=True)
    page.once("dialog", lambda d: d.accept())
    page.keyboard.press("Enter")
    status = page.locator("main [role=status]").first
    expect(status).to_contain_text("2")
    # Adding a filter from the keyboard puts focus in the new filter's row, named by the filter.
    rows = 1  # the 待审核 card's filter, kept after the action
    expect(page.locator("table.filters tr")).to_have_count(rows)
    landed(page, shows=status)  # the filter menu opens by Bootstrap's script, which runs by the load event
    tab_to(page, "li.dropdown:has(> .field-filters) > a.dropdown-toggle")
    page.keyboard.press("Enter")
    expect(page.locator(".field-filters")).to_be_visible()
    tab_to(page, ".field-filters a.filter")
    filter_name = page.evaluate("document.activeElement.textContent.trim()")
    page.keyboard.press("Enter")
    expect(page.locator("table.filters tr")).to_have_count(rows + 1)
    focused = page.evaluate("[!!document.activeElement.closest('table.filters'), "
                            "document.activeElement.getAttribute('aria-label')]")
    assert focused[0] and filter_name in (focused[1] or ""), focused
    page.screenshot(path=str(artifacts / "a11y-focused-new-filter.png"))
    page.context.close()


def focused(page: Page, selector: str) -> bool:
    return page.evaluate("s => !!document.activeElement && document.activeElement.matches(s)", selector)


def test_a_portal_form_sent_with_an_error_is_announced_and_takes_focus(browser, server, artifacts):
    """Keyboard only, on a phone: sign in without a password; the page's summary (role=alert) takes focus, says
    what is wrong, and its link leads to the password box; with the password typed there, Enter signs in."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    page.goto(server.url + "/login")
    tab_to(page, "main input[name=phone]")
    page.keyboard.type(STAFF_A)
    page.keyboard.press("Enter")  # no password
    summary = page.locator(".error-summary[role=alert]")
    expect(summary).to_be_focused()
    expect(summary.locator("h2")).to_have_text("表单未提交：有 1 处需要更正")
    expect(summary.locator("a[href='#password']")).to_have_text(re.compile(r"^密码：\S+"))
    assert page.title().startswith("错误：")
    page.keyboard.press("Tab")
    assert focused(page, ".error-summary a[href='#password']")
    page.screenshot(path=str(artifacts / "a11y-error-summary-link-focused.png"))
    page.keyboard.press("Enter")  # the summary's link takes the user to the field
    assert focused(page, "input[name=password]")
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(server.url + "/me")
    context.close()


def test_on_a_slow_phone_a_user_typing_in_a_field_keeps_focus_when_the_error_summary_script_runs(browser, server):
    """The summary takes focus when the page comes back, not later: one who has gone on typing in a field before
    a11y.js arrived keeps typing there."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    page.goto(server.url + "/login")
    page.fill("main input[name=phone]", STAFF_A)
    password = page.locator("main input[name=password]")
    with script_held(page, "**/js/a11y.js"):
        page.locator("main button[type=submit]").click()  # no password
        expect(page.locator(".error-summary[role=alert]")).to_be_visible()
        password.click()
        page.keyboard.type(DEMO_PASSWORD[:4])
    page.wait_for_load_state("load")  # a11y.js has run
    page.keyboard.type(DEMO_PASSWORD[4:])
    expect(password).to_have_value(DEMO_PASSWORD)
    context.close()


def test_the_personal_centre_reflows_at_320_css_px(browser, server, artifacts):
    """200 % zoom on a phone: the sign-in pages (password and 手机快捷登录), sign-up, 忘记密码, 帮助, /me and the
    portal navbar fit 320 CSS px without sideways scrolling, also with the longest status (单位审核未通过（已驳回）)
    and a long reason."""
    with server.app.app_context():
        profile = db.session.scalar(select(StaffProfile).join(User, StaffProfile.user_id == User.id)
                                    .where(User.phone == STAFF_A))
        profile.status, profile.last_reason = "unit_rejected", "请补充上传近期免冠证件照片并核对所在科室名称" * 3
        db.session.commit()
    context = browser.new_context(viewport={"width": 320, "height": 640}, locale="zh-CN")
    page = context.new_page()
    for path in ("/login", "/login/sms", "/register", "/forgot-password", "/help"):
        page.goto(server.url + path)
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 320, path
    page.goto(server.url + "/login")
    page.fill("input[name=phone]", STAFF_A)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("main button[type=submit]")
    expect(page).to_have_url(server.url + "/me")
    for path in ("/me", "/profile", "/account"):
        page.goto(server.url + path)
        if path == "/me":
            expect(page.locator("main")).to_contain_text("请补充上传近期免冠证件照片")
            page.screenshot(path=str(artifacts / "a11y-me-320px.png"), full_page=True)
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 320, path
        # The navbar title keeps its words on a line or two, not one character a line.
        brand = page.locator("nav .navbar-brand").bounding_box()
        line = page.evaluate("parseFloat(getComputedStyle(document.querySelector('nav .navbar-brand')).lineHeight)")
        assert brand["width"] >= 120 and brand["height"] <= 2.5 * line, (path, brand, line)
    context.close()


def test_a_back_office_reason_left_blank_is_announced_keyboard_only(browser, server, artifacts):
    """A unit admin on a phone, keyboard only: a row chosen with Space, 驳回 with Enter, the reason form sent with
    spaces only: the form comes back with a focused role=alert summary naming 原因; its link leads to the box; a
    real reason then rejects the row and the result is announced (role=status)."""
    page = sign_in(browser, server, UNIT_A, 390)
    for _ in range(60):  # the first row waiting for review (another test of the module may have approved some)
        tab_to(page, "input.action-checkbox")
        if page.evaluate("document.activeElement.closest('tr').textContent.includes('待审核')"):
            break
    name = page.evaluate("document.activeElement.getAttribute('aria-label')")
    page.keyboard.press("Space")
    tab_to(page, "button[data-action=reject]", back=True)
    page.once("dialog", lambda d: d.accept())
    page.keyboard.press("Enter")
    expect(page.locator(".review-reason")).to_be_visible()
    expect(page.locator(".selected-names")).to_contain_text(name.split(" ")[1])
    tab_to(page, ".review-reason textarea[name=reason]")
    page.keyboard.type("   ")
    tab_to(page, ".review-reason button[type=submit]")
    page.keyboard.press("Enter")
    summary = page.locator(".error-summary[role=alert]")
    expect(summary).to_be_focused()
    expect(summary.locator("h2")).to_have_text("表单未提交：有 1 处需要更正")
    expect(summary.locator("a[href='#reason']")).to_have_text(re.compile(r"^原因：\S+"))
    assert page.title().startswith("错误：")
    page.screenshot(path=str(artifacts / "a11y-back-office-error-summary.png"))
    violations = wcag_violations(page)
    assert violations == [], report(violations)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert focused(page, "textarea#reason")
    page.keyboard.press("Control+A")
    page.keyboard.type("请补充上传近期免冠证件照片")
    tab_to(page, ".review-reason button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.locator("main [role=status]").first).to_contain_text("已驳回 1 人")
    page.context.close()
