"""Flask-Admin's date picker and select2 boxes speak Chinese too (their English is built into the scripts)."""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_journeys import new_page, sign_in
from tests.conftest import SUPER

pytestmark = pytest.mark.browser


def test_the_date_filter_picker_of_the_audit_grid_is_chinese(browser, live_server):
    context, page, errors = new_page(browser)
    sign_in(page, live_server.url, SUPER)
    page.goto(live_server.url + "/admin/audit/")
    page.get_by_role("link", name="添加筛选器").click()
    page.locator(".field-filters a.filter", has_text=re.compile("^时间$")).click()
    page.locator("input.filter-val").last.click()
    picker = page.locator(".daterangepicker").last
    expect(picker).to_be_visible()
    expect(picker.locator(".applyBtn")).to_have_text("确定")
    expect(picker.locator(".cancelBtn")).to_have_text("取消")
    expect(picker).to_contain_text("日")
    assert not re.search(r"\b(Apply|Cancel|Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec|Su|Mo)\b",
                         picker.inner_text())
    assert errors == []
    context.close()
