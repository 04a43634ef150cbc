"""Issue 22 on a phone (390 px): the unit admin's grid shows name, status and time without sideways scrolling,
the staff card's history is readable and its 显示完整号码 button visible; the avatar preview before saving.
Screenshots go to tests/artifacts/ (manual000-*.png)."""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.slow import landed, script_held
from tests.browser.test_journeys import DESKTOP, PHONE, avatar_png, new_page, sign_in
from tests.conftest import STAFF_A, UNIT_A

pytestmark = pytest.mark.browser


def fits(page, selector: str) -> int:
    """How far the element's content sticks out sideways (0 when it fits)."""
    return page.eval_on_selector(selector, "e => e.scrollWidth - e.clientWidth")


def test_unit_admin_reviews_on_a_phone(browser, module_live_server, artifacts):
    base = module_live_server.url
    context, page, errors = new_page(browser)
    page.set_viewport_size(PHONE)
    sign_in(page, base, UNIT_A)
    expect(page).to_have_url(re.compile(r"/admin/staff/"))  # a unit admin lands on 上报人员列表
    # His unit above the count cards, and its 单位确认码 copied with one tap.
    code = page.locator("#unit-confirmation-code").inner_text().strip()
    assert page.locator(".unit-name").bounding_box()["y"] < page.locator(".review-cards").bounding_box()["y"]
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page.get_by_role("button", name="复制").click()
    expect(page.locator("[data-copy-status]")).to_have_text("已复制")
    assert page.evaluate("navigator.clipboard.readText()") == code
    page.screenshot(path=str(artifacts / "manual000-grid-390.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    assert fits(page, "table.model-list") <= 0 and fits(page, ".table-responsive") <= 0
    first = page.locator("table.model-list tbody tr").first
    for col in ("name", "status", "submitted_at"):
        cell = first.locator(f"td.col-{col}")
        expect(cell).to_be_visible()
        box = cell.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 1, (col, box)

    # Approve the first pending row on the phone, then open its card: the history reads on the phone and
    # 显示完整号码 is on screen. The grid opens on everything reported; 待审核 is one tap away.
    page.click("[data-card=submitted]")
    expect(page.locator("[data-card=submitted]")).to_have_attribute("aria-current", "true")
    landed(page, re.compile(r"/admin/staff/"))  # 通过 asks for confirmation by admin_review.js
    first = page.locator("table.model-list tbody tr").first
    expect(first.locator("td.col-status")).to_contain_text("待审核")
    name = first.locator("td.col-name").inner_text().strip()
    first.locator("input.action-checkbox").check()
    page.click("button[data-action=approve]")
    expect(page.locator(".alert-success")).to_be_visible()
    page.goto(base + "/admin/staff/?search=" + name)
    page.locator("table.model-list tbody tr td.col-name a", has_text=name).first.click()
    expect(page.locator(".review-history tr[data-event]").first).to_be_visible()
    page.screenshot(path=str(artifacts / "manual000-card-390.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    assert fits(page, ".review-history") <= 0
    for cell in page.locator(".review-history tr[data-event] td").all():
        box = cell.bounding_box()
        assert box is None or box["x"] + box["width"] <= PHONE["width"], box
    show = page.get_by_role("button", name="显示完整号码")
    expect(show).to_be_visible()
    box = show.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert errors == []
    context.close()


def test_staff_member_sees_the_chosen_photo_before_saving(browser, module_live_server, artifacts, tmp_path):
    base = module_live_server.url
    context, page, errors = new_page(browser)
    page.set_viewport_size(PHONE)
    sign_in(page, base, STAFF_A)
    page.goto(base + "/profile")
    expect(page.locator("#avatar-preview-box")).to_be_hidden()
    page.set_input_files("input[name=avatar]", str(avatar_png(tmp_path)))
    expect(page.locator("#avatar-preview-box")).to_be_visible()
    assert page.locator("#avatar-preview").get_attribute("src").startswith("data:image/png")
    page.locator("#avatar-group").screenshot(path=str(artifacts / "manual000-avatar-preview-390.png"))
    # A file over the limit is refused on the form, before any upload.
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * (6 * 1024 * 1024))
    page.set_input_files("input[name=avatar]", str(big))
    expect(page.locator("#avatar-client-error")).to_contain_text("MB")
    expect(page.locator("#avatar-preview-box")).to_be_hidden()
    assert page.locator("input[name=avatar]").input_value() == ""
    page.set_viewport_size(DESKTOP)
    assert errors == []
    context.close()


def test_on_a_slow_phone_a_photo_chosen_before_the_script_ran_is_still_checked(browser, module_live_server, tmp_path):
    """Chosen before portal.js ran, a file over the limit is still refused on the form (not sent to end on an error
    page, with everything typed lost)."""
    base = module_live_server.url
    context, page, errors = new_page(browser)
    page.set_viewport_size(PHONE)
    sign_in(page, base, STAFF_A)
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * (6 * 1024 * 1024))
    with script_held(page, "**/js/portal.js"):
        page.goto(base + "/profile", wait_until="commit")
        page.set_input_files("input[name=avatar]", str(big))
    expect(page.locator("#avatar-client-error")).to_contain_text("MB")
    assert page.locator("input[name=avatar]").input_value() == ""
    assert errors == []
    context.close()
