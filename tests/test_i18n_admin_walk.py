"""No stock Flask-Admin English reaches a Chinese back-office page: every grid, its details and edit pages, its
filter menu data, page-size menu, empty state and confirmations are walked as the platform superuser."""
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import flask_admin
import pytest
from babel.messages.pofile import read_po

from admin_app.extensions import db
from admin_app.models import Institution
from tests.conftest import STAFF_A, SUPER
from tests.test_identity_helpers import post_verify, resident_id, staff_client
from tests.test_registry_admin import new_application

FLASK_ADMIN = Path(flask_admin.__file__).parent
ATTRS = ("title", "placeholder", "aria-label", "alt", "data-original-title")
CJK = re.compile(r"[\u4e00-\u9fff]")


def stock_strings() -> set[str]:
    """Flask-Admin's own messages: the msgids of its catalog plus every _gettext() of its bootstrap4 templates."""
    with (FLASK_ADMIN / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "admin.po").open("rb") as fh:
        ids = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fh) if m.id}
    for html in (FLASK_ADMIN / "templates" / "bootstrap4").rglob("*.html"):
        ids |= {m[1] for m in re.findall(r"""_(?:n)?gettext\(\s*(['"])(.+?)\1""", html.read_text())}
    ids = {i.replace("\\'", "'") for i in ids if i.strip()}
    # Stock English that no catalog carries: the page-size menu and the navbar toggle.
    return ids | {"items", "Toggle navigation"}


_ALL = stock_strings()
STOCK = {i for i in _ALL if "%(" not in i and "{" not in i}
# Messages with run-time values ("Invalid Filter Value: %(value)s") are recognised by their fixed words.
STOCK_PREFIXES = {p for p in (re.split(r"%\(|\{", i)[0].strip() for i in _ALL - STOCK) if " " in p and len(p) >= 8}
PAGE_SIZE = re.compile(r"^\d+ items?$")


class Visible(HTMLParser):
    """Text a user sees or hears (text nodes, labelling attributes) and the JSON data blocks the scripts read."""

    def __init__(self):
        super().__init__()
        self.texts, self.json_blocks, self._in = [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.texts += [attrs[a] for a in ATTRS if attrs.get(a)]
        if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
            self.texts.append(attrs["value"])
        if tag in ("script", "style") or (tag == "div" and (attrs.get("id") or "").endswith("-data")):
            # Flask-Admin hands its menus' data to its scripts as JSON in hidden <div id="...-data">.
            self._in.append([tag == "div" or attrs.get("type") == "application/json", ""])

    def handle_endtag(self, tag):
        if tag in ("script", "style", "div") and self._in:
            is_json, data = self._in.pop()
            if is_json and data.strip():
                self.json_blocks.append(json.loads(data))

    def handle_data(self, data):
        if self._in:
            self._in[-1][1] += data
        elif data.strip():
            self.texts.append(" ".join(data.split()))


def leaves(value):
    """Every string inside a JSON value, keys included (but for field names such as 'applyLabel' or 'arg')."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            if not re.fullmatch(r"[a-z][a-z0-9_]*(?:[A-Z][a-z0-9]*)*", k):
                yield k
            yield from leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from leaves(v)


def english_in(html: str) -> list[str]:
    """Stock Flask-Admin strings rendered on the page, and any filter/confirmation label with no Chinese in it."""
    page = Visible()
    page.feed(html)
    found = []
    for text in page.texts:
        if text in STOCK or PAGE_SIZE.match(text) or any(" " in s and s in text for s in STOCK) \
                or any(p in text for p in STOCK_PREFIXES):
            found.append(text)
    for block in page.json_blocks:
        for text in leaves(block):
            is_value = re.fullmatch(r"[a-z0-9_.-]+|/\S*", text)
            if re.search(r"[A-Za-z]{3}", text) and not CJK.search(text) and not is_value:
                found.append(text)  # a label (codes such as 'identity.submit' and URLs are values)
            elif text in STOCK:
                found.append(text)
    return found


def test_the_walker_sees_stock_english_and_untranslated_filter_labels():
    html = ('<a class="nav-link">50 items</a><button aria-label="Toggle navigation"></button><p>Add Filter</p>'
            '<div id="filter-groups-data" class="d-none">'
            '{"状态": [{"options": [["pending", "Pending review"]], "operation": "等于"}]}</div>')
    assert english_in(html) == ["50 items", "Toggle navigation", "Add Filter", "Pending review"]
    assert english_in('<p>每页 50 条</p><div id="x-data" class="d-none">{"状态": [["pending", "待审核"]], '
                      '"applyLabel": "确定", "Status": "状态"}</div>') == ["Status"]


def _grid_pages(client, view) -> list[str]:
    """The grid, its empty state, and the details and edit pages of its first row."""
    url = view.url.rstrip("/") + "/"
    html = client.get(url).get_data(as_text=True)
    # The grid and its empty state (a search that finds nobody)...
    pages = {url: html, url + "?search=无此人员qq": None}
    for i, flt in enumerate(view._filters or ()):  # ...and a date Flask-Admin refuses, with its flash message
        if "date" in (flt.data_type or ""):
            pages[f"{url}?flt0_{view.get_filter_arg(i, flt)}=notadate"] = None
    for kind in ("details", "edit"):
        m = re.search(rf'href="({re.escape(url)}{kind}/\?[^"]+)"', html)
        if m:
            pages[m.group(1).replace("&amp;", "&")] = None
    return pages


@pytest.fixture
def a_row_in_every_grid(app):
    """The demo has staff, institutions and grants; add a verification request (and its audit entry) and an
    institution application so that those grids have a details page to walk too."""
    assert post_verify(staff_client(app, STAFF_A), number=resident_id(seq=515)).status_code == 302
    new_application(db.session.query(Institution).filter(Institution.parent_id.is_(None)).first())


def test_no_admin_page_shows_stock_flask_admin_english_in_chinese(app, login, a_row_in_every_grid):
    client = login(SUPER)
    admin = app.extensions["admin"][0]
    walked, offending, flashed = [], {}, []
    for view in admin._views:
        if not hasattr(view, "page_size_options"):  # the dashboard
            pages = {view.url.rstrip("/") + "/": None}
        else:
            pages = _grid_pages(client, view)
        for url, html in pages.items():
            if html is None:
                resp = client.get(url)
                assert resp.status_code == 200, url
                html = resp.get_data(as_text=True)
            walked.append(url)
            assert '<html lang="zh-CN">' in html, url
            # Flask-Admin's own refusal, or the bounded-argument layer's (services/bounds.py), which now sees a
            # non-date first: either way a Chinese message.
            flashed += re.findall("无效的筛选器值|该筛选条件已忽略", html)
            if hasattr(view, "page_size_options") and "?" not in url:
                assert "每页 50 条" in html, url  # the page-size menu
            found = english_in(html)
            if found:
                offending[url] = found
    details = {u.split("/")[2] for u in walked if "/details/" in u}
    assert details >= {"staff", "institution", "application", "verification", "audit"}, walked
    assert any("/edit/" in u for u in walked) and flashed
    assert offending == {}, "\n".join(f"{u}: {f}" for u, f in offending.items())


@pytest.mark.parametrize("grid", ["verification", "audit"])
def test_the_filter_menu_labels_follow_the_language_of_each_request(login, grid):
    client = login(SUPER)

    def filter_data(lang):
        html = client.get(f"/admin/{grid}/?lang={lang}").get_data(as_text=True)
        return re.search(r'id="filter-groups-data"[^>]*>(.*?)</div>', html, re.S).group(1)

    zh = json.loads(filter_data("zh_Hans_CN"))
    en = json.loads(filter_data("en"))
    labels_zh = [label for items in zh.values() for item in items for _, label in item["options"] or []]
    labels_en = [label for items in en.values() for item in items for _, label in item["options"] or []]
    assert labels_zh and all(CJK.search(label) for label in labels_zh)
    assert labels_en and not any(CJK.search(label) for label in labels_en)
    if grid == "verification":
        assert "待审核" in labels_zh and "护照" in labels_zh and "Passport" in labels_en
    else:
        assert "添加辅助管理员" in labels_zh and "导出人员名单" in labels_zh and "Exported the staff list" in labels_en
