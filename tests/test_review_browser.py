"""The unit admin's review journey in headless Chromium (CSP and CSRF on): approve 20, reject, revert, export."""
import io
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect
from sqlalchemy import select

from admin_app.extensions import db
from admin_app.models import StaffProfile
from tests.browser.conftest import browser_type_launch_args, live_server  # noqa: F401 - fixtures
from tests.browser.slow import landed, script_held
from tests.conftest import DEMO_PASSWORD, UNIT_A
from tests.test_review_support import make_pending, user

pytestmark = pytest.mark.browser


def statuses_of(app, inst_id):
    with app.app_context():
        rows = dict(db.session.execute(select(StaffProfile.id, StaffProfile.status)
                                       .where(StaffProfile.institution_id == inst_id)).all())
        db.session.remove()
    return rows


def test_unit_admin_reviews_in_the_browser(live_server, browser):  # noqa: F811 - the fixture imported above
    app = live_server.app
    with app.app_context():
        make_pending(UNIT_A, 25)
        inst = user(UNIT_A).institution_id
        db.session.remove()
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "favicon" not in m.text else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: d.accept())

    page.goto(live_server.url + "/login")
    page.fill("input[name=phone]", UNIT_A)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    landed(page, live_server.url + "/admin/staff/")
    # The grid opens on everything reported (上报数); 待审核 is one click away, then 20 a page.
    page.goto(live_server.url + "/admin/staff/")
    expect(page.locator("[data-card=reported]")).to_have_attribute("aria-current", "true")
    page.click("[data-card=submitted]")
    expect(page.locator("[data-card=submitted]")).to_have_attribute("aria-current", "true")
    # the page-size menu opens by Bootstrap's script, which runs once the page has loaded
    landed(page, re.compile(r"/admin/staff/\?"))
    page.get_by_role("link", name="每页 50 条").click()  # the menu's toggle names the current size
    page.get_by_role("link", name="每页 20 条").click()
    # the card was current before too: the new page is the one with 20 rows (its header box is actions.js's)
    landed(page, re.compile(r"[?&]page_size=20\b"))
    expect(page.locator("[data-card=submitted]")).to_have_attribute("aria-current", "true")

    # Approve 20 pending at once: tick the header box, press 通过, accept the confirmation.
    page.check("input.action-rowtoggle")
    expect(page.locator("input.action-checkbox:checked")).to_have_count(20)
    page.click("button[data-action=approve]")
    expect(page.locator(".alert-success")).to_contain_text("已通过 20 人")
    assert sum(1 for s in statuses_of(app, inst).values() if s == "unit_approved") >= 20

    # Reject one: no reason typed, so the reason form comes back keeping the row.
    page.locator("input.action-checkbox").first.check()
    page.click("button[data-action=reject]")
    expect(page.locator(".review-reason")).to_be_visible()
    expect(page.locator(".review-reason input[name=rowid]")).to_have_count(1)
    page.fill(".review-reason textarea[name=reason]", "证件照片不清晰，请重新上传")
    page.click(".review-reason button[type=submit]")
    expect(page.locator(".alert-success")).to_contain_text("已驳回 1 人")

    # Revert an approval from the staff card.
    page.goto(live_server.url + "/admin/staff/?flt0_0=unit_approved")
    page.locator("a.staff-name").first.click()
    landed(page, re.compile(r"/admin/staff/details/"))
    page.fill("textarea#reason-revert", "信息有误，请修改后重新提交")
    page.click("button[data-action=revert]")
    expect(page.locator("h2 [data-status]")).to_have_attribute("data-status", "unit_rejected")

    # Select everything that matches and see the banner say so.
    page.goto(live_server.url + "/admin/staff/?flt0_0=reported&page_size=20")
    page.check("input.action-rowtoggle")
    page.click("button.select-all-matching")
    expect(page.locator("#select_all")).to_have_value("1")

    # Export the listed staff: 导出 Excel -> 全部字段.
    page.click("a.export-menu")
    with page.expect_download() as download:
        page.click("a.export-xlsx.export-all")
    data = Path(download.value.path()).read_bytes()
    rows = list(load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))
    reported = [s for s in statuses_of(app, inst).values() if s != "draft"]
    assert rows[0][0] == "姓名" and len(rows) - 1 == len(reported)
    assert errors == []
    context.close()


def test_a_header_box_ticked_before_the_scripts_ran_selects_the_page(live_server, browser):  # noqa: F811
    app = live_server.app
    with app.app_context():
        make_pending(UNIT_A, 5)
        db.session.remove()
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.goto(live_server.url + "/login")
    page.fill("input[name=phone]", UNIT_A)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    expect(page).not_to_have_url(live_server.url + "/login")
    with script_held(page, "**/admin_review.js"):  # a slow connection: still on its way
        page.goto(live_server.url + "/admin/staff/?status=submitted", wait_until="commit")
        page.check("input.action-rowtoggle")
    expect(page.locator("input.action-checkbox:checked")).to_have_count(page.locator("input.action-checkbox").count())
    assert page.locator("input.action-checkbox").count() >= 5
    context.close()


def test_on_a_slow_connection_a_bulk_approval_pressed_before_the_scripts_ran_still_asks_first(live_server, browser):  # noqa: F811
    app = live_server.app
    with app.app_context():
        make_pending(UNIT_A, 3)
        inst = user(UNIT_A).institution_id
        db.session.remove()
    before = statuses_of(app, inst)
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page = context.new_page()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))  # the admin thinks better of it
    page.goto(live_server.url + "/login")
    page.fill("input[name=phone]", UNIT_A)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    landed(page, live_server.url + "/admin/staff/")
    with script_held(page, "**/admin_review.js"):  # the grid's own script is still on its way
        page.goto(live_server.url + "/admin/staff/?flt0_0=submitted", wait_until="commit")
        page.locator("input.action-checkbox").first.check()
        page.click("button[data-action=approve]")
        assert dialogs == ["确定审核通过所选人员吗？"], dialogs
    expect(page.locator("input.action-checkbox:checked")).to_have_count(1)  # still on the grid, nothing sent
    assert statuses_of(app, inst) == before
    context.close()
