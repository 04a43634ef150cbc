"""WCAG 2.1 A/AA on every page each persona reaches (issue 31): from where he lands after signing in, follow the
same-origin links of each page (navbar, menus, the first details link of each grid, dashboard drill-downs, export
progress pages, the reason form of a reject and that form sent back blank) and run axe-core on each at 390 px and
1366 px. Pages are deduplicated by pattern (/admin/staff/details/?id=7 is /admin/staff/details/?id=N), so a page
added tomorrow is covered the day it is linked, at a bounded cost: one browser context per persona, one load per
pattern, one axe run per pattern and width. Each persona walks all his pages, but a pattern checked for one persona
is not checked again for the next (the template is the same; each landing page is always checked), and a path is
visited with at most MAX_VARIANTS different queries (the dashboard's drill-downs into the grid by status)."""
import io
import re
import time
from collections import deque
from urllib.parse import parse_qsl, urlsplit

import pytest
from playwright.sync_api import Error as PlaywrightError, Page, expect
from werkzeug.datastructures import FileStorage

from admin_app.extensions import db
from admin_app.services import verification
from tests.browser.axe import report, wcag_violations
from tests.browser.conftest import _serving
from tests.browser.grid_filters import expect_filters_applied, filter_urls, open_pickers
from tests.browser.page_checks import english_on, english_words, id_problems, keyboard_problems
from tests.browser.slow import landed
from tests.conftest import DEMO_PASSWORD, DISTRICT_A, PROVINCE, STAFF_A, SUPER, UNIT_A
from tests.test_identity_helpers import image_bytes, resident_id, user_by_phone
from tests.test_registry_admin import new_application
from tests.test_registry_support import DISTRICT_A_NAME, UNIT_A_NAME, inst

pytestmark = pytest.mark.browser

WIDTHS = (1366, 390)
MAX_PAGES = 60  # per persona: far above what any persona reaches today; a runaway crawl fails loudly instead
MAX_VARIANTS = 3  # queries per path (the bare path aside)
# The most restricted first: what a unit admin sees (the actions of level 1) is not hidden behind a wider scope.
PERSONAS = {"unit admin": UNIT_A, "district officer": DISTRICT_A, "provincial officer": PROVINCE,
            "platform admin": SUPER, "staff": STAFF_A, "visitor": None}
# Not pages: files, images, JSON, downloads; and links that change the session (language, sign-out).
SKIP = re.compile(r"/static/|/download\b|\.json$|\.png$|\.ico$|/avatar\b|/scan/|/api/|/fhir/|/logout\b|/captcha")
IGNORED_KEYS = {"sort", "desc", "page", "page_size", "url", "lang", "next", "after", "pn", "_"}


@pytest.fixture(scope="module")
def crawl_server(template_db, tmp_path_factory):
    """Exports always run as a job here, so the export menu leads to the progress page; a new-institution
    application and an identity verification wait for review, so their grids have rows, details and reason forms."""
    # Static files cached for an hour: the browser does not ask again for each of the ~25 on every page.
    with _serving(template_db, tmp_path_factory.mktemp("a11y-crawl"), "crawl", EXPORT_JOB_THRESHOLD=0,
                  SEND_FILE_MAX_AGE_DEFAULT=3600) as server:
        with server.app.test_request_context():
            new_application(inst(DISTRICT_A_NAME))
            scans = [FileStorage(io.BytesIO(image_bytes()), filename=f"{side}.jpg", content_type="image/jpeg")
                     for side in ("front", "back")]
            verification.submit(user_by_phone(STAFF_A), "resident_id", resident_id(seq=131), "张晓明", *scans)
            # A programme other than the default with its manager and an assistant (issue 19): its page, its 业务助理
            # page with the revoke confirmation, and its 授权管理 page in the back office are linked.
            from tests.test_programme_rights import grant_right
            from tests.test_programme_team import talent_managed_by

            grant_right(user_by_phone(STAFF_A), inst(UNIT_A_NAME), talent_managed_by(UNIT_A), role="assistant")
            db.session.remove()
        yield server


@pytest.fixture(scope="module")
def checked() -> dict[str, set[str]]:
    """The patterns (and the grids whose reason form) the module's crawls have checked so far."""
    return {}


def pattern(url: str) -> str:
    """The page's shape: ids in the path and the query become N; sorting, paging and return URLs are dropped."""
    parts = urlsplit(url)
    path = re.sub(r"/[0-9a-f]{32}(?=/|$)", "/J", re.sub(r"/\d+(?=/|$)", "/N", parts.path))
    if "/export/" in path:
        return path  # every export link of a grid starts the same job and leads to the same progress page
    query = sorted({(re.sub(r"^flt\d+_", "flt_", k), re.sub(r"\d+", "N", v))
                    for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in IGNORED_KEYS})
    return path + ("?" + "&".join(f"{k}={v}" for k, v in query) if query else "")


def links(page: Page, base: str) -> list[str]:
    """Same-origin page links of the current page, menus and hidden dropdowns included, in document order."""
    hrefs = page.evaluate("() => Array.from(document.querySelectorAll('a[href]'), a => a.href)")
    out = []
    for href in hrefs:
        href = href.split("#")[0]
        if href.startswith(base + "/") and not SKIP.search(urlsplit(href).path) and "lang=" not in href:
            out.append(href)
    return out


def sign_in(page: Page, base: str, phone: str) -> None:
    page.goto(base + "/login")
    page.fill("main input[name=phone]", phone)
    page.fill("main input[name=password]", DEMO_PASSWORD)
    page.click("main button[type=submit]")
    landed(page, re.compile(r"^(?!.*/login)"))  # the landing page, its scripts run


class Crawl:
    """One persona's walk: a browser page, the patterns seen, the violations found."""

    def __init__(self, page: Page, base: str, checked: dict[str, set[str]]):
        self.page, self.base, self.before = page, base, checked
        self.seen: set[str] = set()
        self.found: dict[str, list] = {}
        self.keyboard: dict[str, list] = {}
        self.words: dict[str, list] = {}
        self.checked: list[str] = []

    def check(self, label: str) -> None:
        """axe at both widths on the page as it is now (the last width stays for the next page), a keyboard walk at
        the last (so page shapes are walked at 1366 and 390 px by turns), the page's ids and their references."""
        current = width = self.page.viewport_size["width"]
        for width in sorted(WIDTHS, key=lambda w: w != current):
            if width != current:
                self.page.set_viewport_size({"width": width, "height": 844})
            violations = wcag_violations(self.page)
            if violations:
                self.found[f"{label} @{width}px"] = violations
        keys = keyboard_problems(self.page)
        if keys:
            self.keyboard[f"{label} @{width}px"] = keys
        ids = id_problems(self.page)
        if ids:
            self.found[f"{label} ids"] = ids
        self.checked.append(label)

    def english(self, label: str) -> None:
        """No English word among what the page shows or says (zh-CN)."""
        words = english_on(self.page)
        if words:
            self.words[label] = words

    def visit(self, url: str, to_check: bool = True) -> bool:
        """Load url (a page only walked through needs its DOM, not its stylesheets); False when it is not an HTML
        page of this site (a download, an error, another origin)."""
        try:
            response = self.page.goto(url, wait_until="load" if to_check else "domcontentloaded")
        except PlaywrightError as exc:
            if "Download is starting" in str(exc):
                return False
            raise
        if response is None or not response.ok or not self.page.url.startswith(self.base):
            return False
        return "text/html" in (response.headers.get("content-type") or "")

    def wanted(self, url: str) -> bool:
        """Not yet visited in this walk, and its path not yet visited with MAX_VARIANTS queries."""
        shape = pattern(url)
        if shape in self.seen:
            return False
        return "?" not in shape or sum(s.startswith(shape.split("?")[0] + "?") for s in self.seen) < MAX_VARIANTS

    def run(self, start: str) -> None:
        """Breadth first from start: every page is loaded for its links; axe runs on patterns not checked before
        (in this walk or an earlier persona's) and on the landing page."""
        done = self.before.setdefault("patterns", set())
        queue = deque([start])
        while queue:
            url = queue.popleft()
            if not (url == start or self.wanted(url)):
                continue
            self.seen.add(pattern(url))
            assert len(self.seen) <= MAX_PAGES, f"more than {MAX_PAGES} page patterns: {sorted(self.seen)}"
            if not self.visit(url, url == start or pattern(url) not in done):
                continue
            landed = pattern(self.page.url)  # where a redirect led
            if landed != pattern(url) and not (url == start or self.wanted(self.page.url)):
                continue
            self.seen.add(landed)
            self.english(landed)
            if landed not in done or url == start:
                done.add(landed)
                self.check(landed)  # axe waits for the load event first
            queue.extend(h for h in links(self.page, self.base) if self.wanted(h))
            self.filters()
            self.reason_form()

    def filters(self) -> None:
        """A grid with filters (once per grid and set of filters): every filter applied with a value, checked
        like a page, and its pickers opened and read for English."""
        page = self.page
        if not page.locator("#filter-groups-data").count():
            return
        key = urlsplit(page.url).path + " " + page.locator("#filter-groups-data").text_content()
        grids = self.before.setdefault("filtered grids", set())
        if key in grids:
            return
        grids.add(key)
        for url, n in filter_urls(page, self.base):
            assert self.visit(url), url
            label = f"{urlsplit(url).path} with {n} filters"
            refused = expect_filters_applied(page, n)
            if refused:
                self.found[label] = refused
            self.english(label)
            self.check(label)
            opened = open_pickers(page, lambda name, label=label: self.english(f"{label}, {name} open"))
            self.before.setdefault("pickers opened", set()).update(opened)

    def reason_form(self) -> None:
        """A grid with a reject button: reject the first row without a reason, check the reason form, send it back
        blank and check the form with its error (nothing is written: a reason is required)."""
        page = self.page
        reject = page.locator("main form button[type=submit][name=action][value=reject]")
        rows = page.locator("main input.action-checkbox")
        reasons = self.before.setdefault("reason forms", set())
        if not reject.count() or not rows.count() or urlsplit(page.url).path in reasons:
            return
        reasons.add(urlsplit(page.url).path)
        grid = page.url
        rows.first.check()
        page.once("dialog", lambda d: d.accept())
        with page.expect_navigation():
            reject.first.click()
        reason = page.locator("main form textarea[name=reason]")
        expect(reason).to_be_visible()
        label = "reason form of " + pattern(grid)
        self.english(label)
        self.check(label)
        reason.fill("")
        with page.expect_navigation():
            page.locator("main form:has(textarea[name=reason]) button[type=submit]").first.click()
        expect(page.locator(".error-summary[role=alert]")).to_be_visible()
        self.english(label + " (sent blank)")
        self.check(label + " (sent blank)")


def test_the_english_check_tells_interface_words_from_data_and_standard_terms():
    assert english_words("Add Filter") == ["Add", "Filter"]
    assert english_words("证件类型：resident_id") == ["resident", "id"]
    assert english_words("One result is available") == ["One", "result", "is", "available"]
    for data in ("91110102MA01ABCD1X", "导出 Excel 文件（.xlsx）", "IP 地址", "格式：YYYY-MM-DD", "如 talent-review",
                 "https://example.org/fhir/metadata", "admin@example.org", "FHIR 接口说明", "是否从事PCR工作",
                 "姓名：人才评价；业务代码：talent；参与机构编号：8"):
        assert english_words(data) == [], data


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_page_a_persona_reaches_meets_wcag_21_aa_at_both_widths(browser, crawl_server, checked, persona):
    base = crawl_server.url
    context = browser.new_context(viewport={"width": WIDTHS[0], "height": 844}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    started = time.monotonic()
    try:
        if PERSONAS[persona]:
            sign_in(page, base, PERSONAS[persona])
        crawl = Crawl(page, base, checked)
        crawl.run(page.url if PERSONAS[persona] else base + "/login")
    finally:
        context.close()
    print(f"\n{persona}: {len(crawl.checked)} pages x {len(WIDTHS)} widths in {time.monotonic() - started:.0f}s")
    print("\n".join(crawl.checked))
    assert len(crawl.seen) >= 3, crawl.seen  # the walk really walked
    if persona == "unit admin":  # the staff grid's date and unit pickers, the institution grid's list box
        assert checked["pickers opened"] == {"date picker", "ajax picker", "list picker"}
    if crawl.found or crawl.keyboard or crawl.words:
        print(report({"axe": crawl.found, "keyboard": crawl.keyboard, "English": crawl.words}))
    assert crawl.found == {}, report(crawl.found)
    assert crawl.keyboard == {}, report(crawl.keyboard)
    assert crawl.words == {}, report(crawl.words)
    assert errors == []
