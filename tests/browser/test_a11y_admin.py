"""Accessibility of the back office: every /admin/ page each persona reaches by links from where he lands
(menus, a details page, the reason form of a reject) has no WCAG 2.0/2.1 A or AA violation (axe-core), at
phone (390 px) and desktop (1366 px) width. One live server and one browser page per persona and width."""
import json
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_a11y import AXE, AXE_PATH
from tests.conftest import DEMO_PASSWORD, DISTRICT_A, STAFF_A, SUPER, UNIT_A

pytestmark = pytest.mark.browser

WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.fixture(scope="module")
def server(module_live_server):
    return module_live_server


def wcag_violations(page: Page, base: str) -> list[dict]:
    """Every axe-core violation of a WCAG 2.0/2.1 A or AA rule on the current page."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(url=base + AXE_PATH)
    return page.evaluate("""async (tags) => {
        const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, n: v.nodes.length,
                                       nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ' ' +
                                                                    JSON.stringify((n.any[0] || {}).data || ''))}));
    }""", WCAG)


def sign_in(browser, server, phone: str, width: int) -> Page:
    context = browser.new_context(viewport={"width": width, "height": 844}, locale="zh-CN")
    context.route(server.url + AXE_PATH, lambda route: route.fulfill(
        status=200, content_type="application/javascript", body=AXE.read_text(encoding="utf-8")))
    page = context.new_page()
    page.goto(server.url + "/login")
    page.fill("input[name=phone]", phone)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("main button[type=submit]")
    expect(page).to_have_url(re.compile(r"/admin/"))
    return page


def menu_links(page: Page, base: str) -> list[str]:
    """The back office pages the navbar (with its dropdowns) links to."""
    hrefs = page.evaluate("""() => Array.from(document.querySelectorAll('nav a[href]'))
        .map(a => a.href).filter(h => h.includes('/admin/'))""")
    seen = []
    for h in hrefs:
        h = h.split("#")[0]
        if h.startswith(base) and h not in seen and "export" not in h and "logout" not in h and "lang=" not in h:
            seen.append(h)
    return seen


def first_details_link(page: Page) -> str | None:
    links = page.locator("a[href*='/details/']")
    return links.first.get_attribute("href") if links.count() else None


@pytest.mark.parametrize("width", (390, 1366))
@pytest.mark.parametrize("phone", (SUPER, DISTRICT_A, UNIT_A))
def test_every_back_office_page_a_persona_reaches_meets_wcag_21_aa(browser, server, phone, width):
    page = sign_in(browser, server, phone, width)
    found = {}

    def check(label):
        v = wcag_violations(page, server.url)
        if v:
            found[label] = v

    check(page.url)
    page.goto(server.url + "/admin/")
    pages = menu_links(page, server.url)
    details = None
    for url in pages:
        page.goto(url)
        check(url)
        if details is None:
            details = first_details_link(page)
    if details:
        page.goto(server.url + details if details.startswith("/") else details)
        check("details " + details)
    page.goto(server.url + "/admin/staff/")
    if page.locator("button[data-action=reject]").count():
        # Reject without a reason: the reason form (which keeps the rows) is the page to check.
        page.locator("input.action-checkbox").first.check()
        page.once("dialog", lambda d: d.accept())
        page.locator("button[data-action=reject]").click()
        expect(page.locator(".review-reason")).to_be_visible()
        check("reason form")
    page.context.close()
    assert found == {}, json.dumps(found, ensure_ascii=False, indent=1)


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
    tab_to(page, "li.dropdown:has(> .field-filters) > a.dropdown-toggle")
    page.keyboard.press("Enter")
    tab_to(page, ".field-filters a.filter")
    filter_name = page.evaluate("document.activeElement.textContent.trim()")
    page.keyboard.press("Enter")
    expect(page.locator("table.filters tr")).to_have_count(2)
    focused = page.evaluate("[!!document.activeElement.closest('table.filters'), "
                            "document.activeElement.getAttribute('aria-label')]")
    assert focused[0] and filter_name in (focused[1] or ""), focused
    page.screenshot(path=str(artifacts / "a11y-focused-new-filter.png"))
    page.context.close()


def test_a_form_with_an_error_is_announced_and_takes_focus(browser, server, artifacts):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    page.goto(server.url + "/login")
    tab_to(page, "input[name=phone]")
    page.keyboard.type(STAFF_A)
    page.keyboard.press("Enter")  # no password
    summary = page.locator(".error-summary[role=alert]")
    expect(summary).to_contain_text("密码")
    assert page.evaluate("document.activeElement.classList.contains('error-summary')")
    assert page.title().startswith("错误：")
    page.screenshot(path=str(artifacts / "a11y-error-summary.png"))
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # the summary's link takes the user to the field
    assert page.evaluate("document.activeElement.name") in ("password", "phone")
    context.close()


def test_the_personal_centre_reflows_at_320_css_px(browser, server):
    """200 % zoom on a phone: /me and the portal navbar fit 320 CSS px without sideways scrolling."""
    context = browser.new_context(viewport={"width": 320, "height": 640}, locale="zh-CN")
    page = context.new_page()
    for path in ("/login", "/register"):
        page.goto(server.url + path)
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 320, path
    page.goto(server.url + "/login")
    page.fill("input[name=phone]", STAFF_A)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("main button[type=submit]")
    expect(page).to_have_url(server.url + "/me")
    for path in ("/me", "/profile", "/account"):
        page.goto(server.url + path)
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 320, path
    context.close()


def test_a_back_office_reason_left_blank_is_announced(browser, server):
    """Reject with a reason of spaces only: the reason form comes back with a focused role=alert summary."""
    page = sign_in(browser, server, UNIT_A, 390)
    page.locator("input.action-checkbox").first.check()
    page.once("dialog", lambda d: d.accept())
    page.locator("button[data-action=reject]").click()
    page.fill(".review-reason textarea[name=reason]", "   ")
    page.locator(".review-reason button[type=submit]").click()
    summary = page.locator(".error-summary[role=alert]")
    expect(summary).to_contain_text("原因")
    assert page.evaluate("document.activeElement.classList.contains('error-summary')")
    assert page.title().startswith("错误：")
    violations = wcag_violations(page, server.url)
    assert violations == [], json.dumps(violations, ensure_ascii=False)
    page.context.close()
