"""Accessibility of the portal pages: axe-core (vendored from npm, tests/browser/vendor/) finds no serious or
critical violation; every form control has an accessible name; errors are tied to their fields; the forms
can be completed from the keyboard.

axe is evaluated in the page by Playwright (tests/browser/axe.py), so the app's CSP (script-src 'self' + nonce)
stays in force and is tested as shipped — no bypass_csp, no injected script tag.
"""

import pytest
from playwright.sync_api import Page, expect

from tests.browser.axe import AXE, report, serious_violations  # noqa: F401 (AXE: for tests that import it here)
from tests.browser.slow import unfold_admin_navbar
from tests.conftest import DEMO_PASSWORD, STAFF_A, UNIT_A

pytestmark = pytest.mark.browser

# Older tests route this URL to the library; harmless now that axe is evaluated instead of loaded by a tag.
AXE_PATH = "/__test-only__/axe.min.js"
PUBLIC = ("/login", "/register", "/forgot-password", "/institutions/search", "/institutions/apply",
          "/institutions/status")
SIGNED_IN = ("/account", "/profile", "/me", "/password", "/verify", "/grants/bind", "/sessions")


@pytest.fixture(scope="module")
def server(module_live_server):
    return module_live_server


@pytest.fixture
def a11y_page(browser, server):
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "favicon" not in m.text else None)
    page.errors = errors
    yield page
    context.close()


def axe_violations(page: Page, base: str = "") -> list[dict]:
    """Serious and critical axe-core violations of the current page (WCAG 2.x A/AA and best practices)."""
    return serious_violations(page)


def unlabeled_controls(page: Page) -> list[str]:
    """Visible inputs, selects and textareas without an accessible name (label, aria-label or aria-labelledby)."""
    return page.evaluate("""() => Array.from(document.querySelectorAll(
            'input:not([type=hidden]):not([type=submit]):not([type=button]), select, textarea'))
        .filter(el => !(el.closest('[aria-hidden=true]') || el.type === 'submit'))
        .filter(el => !((el.labels && el.labels.length) || el.getAttribute('aria-label') ||
                        el.getAttribute('aria-labelledby')))
        .map(el => el.outerHTML.slice(0, 120))""")


def broken_error_links(page: Page) -> list[str]:
    """Invalid fields whose error message is missing or not tied to them by aria-describedby."""
    return page.evaluate("""() => Array.from(document.querySelectorAll('.is-invalid'))
        .filter(el => el.matches('input, select, textarea'))
        .filter(el => el.getAttribute('aria-invalid') !== 'true' || !(el.getAttribute('aria-describedby') || '')
                      .split(' ').some(id => id && document.getElementById(id)))
        .map(el => el.outerHTML.slice(0, 120))""")


@pytest.mark.parametrize("path", PUBLIC)
def test_public_portal_pages_have_no_serious_axe_violations(a11y_page, server, path):
    a11y_page.goto(server.url + path)
    assert a11y_page.evaluate("document.documentElement.lang") == "zh-CN"
    violations = axe_violations(a11y_page, server.url)
    assert violations == [], report(violations)
    assert unlabeled_controls(a11y_page) == []
    assert a11y_page.errors == []


def test_signed_in_portal_pages_have_no_serious_axe_violations(a11y_page, server):
    page = a11y_page
    page.goto(server.url + "/login")
    page.fill("input[name=phone]", STAFF_A)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(server.url + "/me")
    found = {}
    for path in SIGNED_IN:
        page.goto(server.url + path)
        violations = axe_violations(page, server.url)
        if violations:
            found[path] = violations
        assert unlabeled_controls(page) == [], path
    assert found == {}, report(found)
    assert page.errors == []


@pytest.mark.parametrize("path, button", [("/login", "button[type=submit]"),
                                          ("/register", "button.btn-primary[value=register]"),
                                          ("/institutions/apply", "#apply-form button.btn-primary[type=submit]")])
def test_errors_are_tied_to_their_fields(a11y_page, server, path, button):
    page = a11y_page
    page.goto(server.url + path)
    page.click(button)  # an empty form: every required field says what is wrong
    expect(page.locator(".is-invalid").first).to_be_visible()
    assert broken_error_links(page) == []
    violations = axe_violations(page, server.url)
    assert violations == [], report(violations)


def test_login_by_keyboard_alone(a11y_page, server):
    """Tab from the top of the page to the phone box, type, Tab to the password, Enter: signed in."""
    page = a11y_page
    page.goto(server.url + "/login")
    for _ in range(15):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.name") == "phone":
            break
    else:
        pytest.fail("the phone box cannot be reached with Tab")
    page.keyboard.type(STAFF_A)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "password"
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(server.url + "/me")
    # Every link and button of the personal centre is reachable by Tab (none has tabindex=-1 while visible).
    unreachable = page.evaluate("""() => Array.from(document.querySelectorAll('a[href], button'))
        .filter(el => el.offsetParent !== null && el.tabIndex < 0).map(el => el.outerHTML.slice(0, 100))""")
    assert unreachable == []


@pytest.mark.parametrize("width", (390, 1366))
def test_the_name_menu_open_on_the_portal_and_in_the_back_office_has_no_serious_axe_violations(a11y_page, server,
                                                                                                width):
    """The menu under the user's name (issue 25), opened, at phone and desktop width, on /me and on /admin/."""
    page = a11y_page
    page.set_viewport_size({"width": width, "height": 844})
    page.goto(server.url + "/login")
    page.fill("input[name=phone]", UNIT_A)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("main button[type=submit]")
    expect(page).to_have_url(server.url + "/admin/staff/")  # a unit admin lands on 上报人员列表
    found = {}
    for path in ("/admin/", "/me"):
        page.goto(server.url + path)
        if path == "/admin/" and width < 992:
            unfold_admin_navbar(page)
        page.locator("[data-user-menu] > summary").click()
        expect(page.locator("[data-user-menu] .user-menu-list")).to_be_visible()
        violations = [v for v in axe_violations(page, server.url)
                      if path == "/me" or any("user-menu" in n for n in v["nodes"])]
        if violations:
            found[path] = violations
    assert found == {}, report(found)
    assert page.errors == []
