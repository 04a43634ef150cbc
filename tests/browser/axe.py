"""axe-core (npm axe-core@4, vendored in tests/browser/vendor/) run in the page through Playwright's evaluate.

The app's CSP (script-src 'self' + nonce) forbids an injected <script> tag, and is tested as shipped (no
bypass_csp): the library is evaluated in the page by the DevTools protocol instead, which the CSP does not govern.
"""
import json
from pathlib import Path

from playwright.sync_api import Page

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
_SOURCE: list[str] = []


def _ensure_axe(page: Page) -> None:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        if not _SOURCE:
            _SOURCE.append(AXE.read_text(encoding="utf-8"))
        page.evaluate(_SOURCE[0])


def wcag_violations(page: Page, tags: list[str] | None = None) -> list[dict]:
    """Every axe-core violation of a WCAG 2.0/2.1 A or AA rule on the current page (first nodes of each)."""
    page.wait_for_load_state("load")  # every stylesheet applied: colours are final
    _ensure_axe(page)
    return page.evaluate("""async (tags) => {
        const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, n: v.nodes.length,
                                       nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ' ' +
                                                                    JSON.stringify((n.any[0] || {}).data || ''))}));
    }""", tags or WCAG)


def serious_violations(page: Page) -> list[dict]:
    """Serious and critical violations of every axe-core rule (WCAG and best practices)."""
    page.wait_for_load_state("load")
    _ensure_axe(page)
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' ' +
                                                                    JSON.stringify((n.any[0] || {}).data || ''))}));
    }""")
    return [v for v in result if v["impact"] in ("serious", "critical")]


def report(violations) -> str:
    return json.dumps(violations, ensure_ascii=False, indent=1)
