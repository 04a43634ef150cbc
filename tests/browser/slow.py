"""A slow connection in Chromium: a page's script held back while the user already acts on the page."""
from contextlib import contextmanager

from playwright.sync_api import Page


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
