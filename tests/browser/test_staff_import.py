"""批量导入 in a browser (issue 21): a unit admin goes from the staff grid to the import page, downloads the template,
fills it, uploads it, reads the dry run, confirms and watches the job finish; at desktop and phone width, with no
WCAG A/AA violation (axe-core) on the upload and report pages."""
import io
import random
import re

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.axe import report, wcag_violations
from tests.browser.slow import landed
from tests.conftest import DEMO_PASSWORD, UNIT_A
from tests.test_staff_import import person

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(module_live_server, tmp_path_factory):
    module_live_server.app.config["EXPORT_FOLDER"] = str(tmp_path_factory.mktemp("import-exports"))
    return module_live_server


def sign_in(browser, server, phone: str, width: int):
    context = browser.new_context(viewport={"width": width, "height": 844}, locale="zh-CN")
    page = context.new_page()
    page.goto(server.url + "/login")
    page.fill("main input[name=phone]", phone)
    page.fill("main input[name=password]", DEMO_PASSWORD)
    page.click("main button[type=submit]")
    landed(page, re.compile(r"/admin/"))  # the landing page, its scripts run
    return page


@pytest.mark.parametrize("width", [1366, 390])
def test_a_unit_admin_imports_staff_from_the_grid(browser, server, artifacts, tmp_path, width):
    page = sign_in(browser, server, UNIT_A, width)
    page.goto(server.url + "/admin/staff/")
    page.click("a.staff-import-link")
    expect(page).to_have_url(re.compile(r"/admin/staff/import/$"))
    assert wcag_violations(page) == [], report(wcag_violations(page))
    with page.expect_download() as dl:
        page.click("#import-template")
    raw = dl.value.path().read_bytes()
    wb = load_workbook(io.BytesIO(raw))
    ws = wb.worksheets[0]
    headers = [c.value for c in ws[1]]
    rng = random.Random(width)
    rows = [person(width * 100 + k, complete=k % 2 == 0, rng=rng) for k in range(12)]
    for i, row in enumerate(rows, start=2):
        for key, value in row.items():
            ws.cell(row=i, column=headers.index(key) + 1, value=value)
    filled = tmp_path / "filled.xlsx"
    wb.save(filled)
    page.set_input_files("#import-file", str(filled))
    page.click("#import-upload")
    expect(page.locator("#count-create")).to_contain_text("12")
    expect(page.locator("tr[data-outcome=create]")).to_have_count(12)
    assert wcag_violations(page) == [], report(wcag_violations(page))
    page.screenshot(path=str(artifacts / f"staff-import-report-{width}.png"), full_page=False)
    page.click("#import-confirm")
    expect(page).to_have_url(re.compile(r"/admin/staff/import/jobs/[0-9a-f]{32}$"))
    expect(page.locator("#export-text")).to_contain_text("已完成", timeout=60_000)
    expect(page.locator("#export-download")).to_be_visible()
    assert wcag_violations(page) == [], report(wcag_violations(page))
    page.screenshot(path=str(artifacts / f"staff-import-done-{width}.png"), full_page=False)
    # Back on the grid, the imported staff are there: the six complete rows wait for review.
    page.goto(server.url + f"/admin/staff/?search={rows[0]['手机号']}")
    expect(page.locator("table.model-list")).to_contain_text(rows[0]["姓名"])
    page.context.close()


@pytest.mark.parametrize("width", [1366, 390])
def test_a_unit_admin_sees_failed_notices_on_the_dashboard_and_sends_them_again(browser, server, artifacts, width):
    from admin_app.extensions import db
    from admin_app.models import SmsNotice, StaffProfile, User
    from admin_app.models.types import utcnow

    with server.app.app_context():
        unit = db.session.scalar(select(User.institution_id).where(User.phone == UNIT_A))
        people = db.session.execute(select(StaffProfile.user_id, StaffProfile.phone).where(
            StaffProfile.institution_id == unit, StaffProfile.phone != "").limit(2)).all()
        db.session.add_all(SmsNotice(user_id=uid, phone=phone, purpose="notice", kind="reject", message="驳回",
                                     status="failed", attempts=3, last_error="SmsError: gateway timeout",
                                     created_at=utcnow()) for uid, phone in people)
        db.session.commit()
    page = sign_in(browser, server, UNIT_A, width)
    page.goto(server.url + "/admin/")
    expect(page.locator("#notices-failed")).to_contain_text("2 条短信通知")
    assert wcag_violations(page) == [], report(wcag_violations(page))
    page.screenshot(path=str(artifacts / f"dashboard-failed-notices-{width}.png"), full_page=False)
    page.click("#notices-resend")
    expect(page.locator("#notices-empty")).to_be_visible()
    expect(page.locator(".alert-success")).to_contain_text("2 条发送失败的短信通知已重新排队发送")
    assert wcag_violations(page) == [], report(wcag_violations(page))
    page.context.close()
