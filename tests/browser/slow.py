"""A slow connection in Chromium: a page's script held back while the user already acts on the page."""
import re
from contextlib import contextmanager

from playwright.sync_api import Locator, Page, expect


@contextmanager
def script_held(page: Page, pattern: str):
    """Hold the script matching pattern until the block ends; the block acts on the page before it runs."""
    held = []
    page.route(pattern, lambda route: held.append(route))
    try:
        yield
        assert held, f"{pattern} was not requested"
        held[0].continue_()
    finally:
        page.unroute(pattern)


def landed(page: Page, url: str | re.Pattern | None = None, *, shows: Locator | None = None) -> None:
    """After a click, Enter or form post that navigates: the new page is there (its URL, or an element only it
    has) and its load event has passed, so its scripts (Bootstrap, select2, portal.js, admin_review.js, a11y.js)
    have run before the test acts on it."""
    # wait_for_load_state alone may return at once for the old page, before the navigation has even begun.
    assert url is not None or shows is not None, "name the new page: its URL or an element only it has"
    if url is not None:
        expect(page).to_have_url(url)
    if shows is not None:
        expect(shows).to_be_visible()
    page.wait_for_load_state("load")


def unfold_admin_navbar(page: Page) -> None:
    """Open the back office's folded navbar on a phone, once Bootstrap's script (which folds it) has run."""
    # Before the page's load event the toggler is only a button: a tap does nothing, and a user taps again.
    page.wait_for_load_state("load")
    page.locator(".navbar-toggler").click()
    # wait for the folding animation to end: mid-way, colours (and clicks) are not yet final
    expect(page.locator("#admin-navbar-collapse")).to_have_class(re.compile(r"\bcollapse show\b"))
