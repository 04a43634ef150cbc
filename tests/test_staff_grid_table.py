"""The staff grid's list table (views/list_table.py): formatted once per page in Python, not cell by cell through
Flask-Admin's macros (issue 20), with every contract of the table it replaced."""
import re
from html import unescape

from flask_admin.model.base import BaseModelView

from admin_app.views import formatters
from tests.conftest import STAFF_A, UNIT_A
from tests.test_review_support import STAFF_URL, grid_ids, make_pending, profile


def headers(html: str) -> dict[str, str]:
    """The table's header cells by column: the whole <th …>…</th>."""
    head = html[html.index('<table class="table'):html.index("</thead>")]
    cells = re.finditer(r'<th class="column-header col-(\w+)"[^>]*>.*?</th>', head, re.S)
    return {m.group(1): m.group(0) for m in cells}


def test_the_table_is_not_rendered_cell_by_cell_through_flask_admin(login, monkeypatch):
    calls = {"cells": 0, "formatters": 0}

    def counted(self, *args, **kwargs):
        calls["cells"] += 1
        return ""

    monkeypatch.setattr(BaseModelView, "get_list_value", counted)
    monkeypatch.setattr(BaseModelView, "_get_list_value", counted)
    real = formatters.translated

    def translated(mapping):
        calls["formatters"] += 1
        return real(mapping)

    monkeypatch.setattr(formatters, "translated", translated)
    html = login(UNIT_A).get(STAFF_URL + "?page_size=100").get_data(as_text=True)
    rows = len(grid_ids(html))
    assert rows > 10
    assert calls["cells"] == 0  # Flask-Admin's per-cell path is never taken
    assert calls["formatters"] == 3  # gender, personnel type, status: once per page, not once per row
    assert html.count('<td class="col-status"><span class="badge') == rows


def test_headers_link_each_order_and_say_which_one_is_applied(login):
    c = login(UNIT_A)
    th = headers(c.get(STAFF_URL).get_data(as_text=True))
    assert 'aria-sort="descending"' in th["submitted_at"]  # the default order: newest report first
    assert all("aria-sort" not in th[col] for col in th if col != "submitted_at")
    assert 'href="/admin/staff/?sort=0&amp;page_size=50"' in th["name"] and 'title="按 姓名 进行排序"' in th["name"]
    assert "<a" not in th["institution"]  # not sortable
    th = headers(c.get(STAFF_URL + "?sort=0").get_data(as_text=True))
    assert 'aria-sort="ascending"' in th["name"] and "fa-chevron-up" in th["name"]
    # The same column again: the other way.
    assert 'href="/admin/staff/?sort=0&amp;desc=1&amp;page_size=50"' in th["name"]
    assert "aria-sort" not in th["submitted_at"]
    th = headers(c.get(STAFF_URL + "?sort=0&desc=1").get_data(as_text=True))
    assert 'aria-sort="descending"' in th["name"] and "fa-chevron-down" in th["name"]
    assert 'href="/admin/staff/?sort=0&amp;page_size=50"' in th["name"]


def test_rows_link_to_the_card_and_name_their_checkboxes(login):
    html = login(UNIT_A).get(STAFF_URL + "?page_size=100").get_data(as_text=True)
    me = profile(STAFF_A)
    row = re.search(rf'<tr><td><input type="checkbox" name="rowid" class="action-checkbox" value="{me.id}"'
                    rf'[^>]*aria-label="([^"]+)"></td>(.*?)</tr>', html, re.S)
    assert row and unescape(row.group(1)) == f"选择 {me.name} {me.phone[:3]}****{me.phone[-4:]}"
    cells = dict(re.findall(r'<td class="col-(\w+)">(.*?)</td>', row.group(2)))
    assert f'href="/admin/staff/details/?id={me.id}&amp;url=' in cells["name"] and f">{me.name}</a>" in cells["name"]
    assert cells["phone"] == me.phone and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", cells["submitted_at"])
    assert f'data-status="{me.status}"' in cells["status"] and cells["gender"] in ("男", "女", "")
    n = len(grid_ids(html))
    assert f'class="action-rowtoggle" title="选择所有记录" aria-label="选择本页全部 {n} 行"' in html


def test_cells_are_escaped(app, login):
    from admin_app.extensions import db

    me = profile(STAFF_A)
    me.department = '<b>急诊</b>"科'
    db.session.commit()
    html = login(UNIT_A).get(STAFF_URL + "?page_size=100").get_data(as_text=True)
    assert "<b>急诊</b>" not in html and "&lt;b&gt;急诊&lt;/b&gt;&#34;科" in html


def test_the_table_speaks_english_when_asked(login):
    c = login(UNIT_A)
    c.get(STAFF_URL + "?lang=en")
    html = c.get(STAFF_URL).get_data(as_text=True)
    th = headers(html)
    assert ">Name</a>" in th["name"] and 'title="Sort by Name"' in th["name"]
    assert 'aria-label="Select ' in html and "Select all " in html


def test_an_empty_list_says_so(login):
    html = login(UNIT_A).get(STAFF_URL + "?search=没有这个人").get_data(as_text=True)
    assert not grid_ids(html)
    assert '<tr><td colspan="999"><div class="text-center">表中没有任何记录</div></td></tr>' in html


def test_an_old_numbered_page_link_still_pages(login):
    make_pending(UNIT_A, 25)
    c = login(UNIT_A)
    everything = grid_ids(c.get(STAFF_URL + "?flt0_0=reported&page_size=1000").get_data(as_text=True))
    html = c.get(STAFF_URL + "?flt0_0=reported&page_size=20&page=1").get_data(as_text=True)
    assert len(everything) > 20 and grid_ids(html) == everything[20:40]
    assert 'class="pagination' in html and "keyset-pager" not in html
