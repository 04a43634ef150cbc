"""Flask-Admin's date picker and select2 boxes speak Chinese too (their English is built into the scripts)."""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_journeys import new_page, sign_in
from tests.conftest import SUPER

pytestmark = pytest.mark.browser


def expect_chinese_picker(page):
    page.locator("input.filter-val").last.click()
    picker = page.locator(".daterangepicker").last
    expect(picker).to_be_visible()
    expect(picker.locator(".applyBtn")).to_have_text("确定")
    expect(picker.locator(".cancelBtn")).to_have_text("取消")
    expect(picker).to_contain_text("日")
    text = picker.inner_text() + " " + " ".join(picker.locator("option").all_inner_texts())
    assert not re.search(r"\b(Apply|Cancel|FROM|TO|From|To|Jan|Dec|Su|Mo)\b", text)
    page.keyboard.press("Escape")


def test_the_date_filter_picker_of_the_audit_grid_is_chinese(browser, live_server):
    context, page, errors = new_page(browser)
    sign_in(page, live_server.url, SUPER)
    page.goto(live_server.url + "/admin/audit/")  # a filter added from the menu
    page.get_by_role("link", name="添加筛选器").click()
    page.locator(".field-filters a.filter", has_text=re.compile("^时间$")).click()
    expect_chinese_picker(page)
    page.goto(live_server.url + "/admin/audit/?flt0_3=2026-12-01+to+2026-12-07")  # one built as the page loads
    expect_chinese_picker(page)
    assert errors == []
    context.close()
