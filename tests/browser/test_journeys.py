"""The six journeys of issue 8, driven in headless Chromium against one live server (CSP and CSRF on).

The staff journeys build on each other, as real use does: (1) a newcomer signs up and submits a profile,
(2) the unit admin rejects it with a reason (while bulk-approving others) and the newcomer resubmits,
(3) the district officer approves it at level 2 and the profile becomes read-only, (4) the district
officer exports the list. (5) and (6) are independent: a grant code issued, bound, reset; an institution
application included. One server and one database copy serve the whole module (module_live_server).
Screenshots of each main page at 1366×768 and 390×844 go to tests/artifacts/ (git-ignored).
"""
import io
import re
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select
from stdnum.cn import ric

from admin_app.extensions import db
from admin_app.models import Institution, StaffProfile, User
from tests.browser.axe import report, wcag_violations
from tests.browser.slow import landed
from tests.conftest import DEMO_PASSWORD, DISTRICT_A, UNIT_A, outbox_code as sms_code_from_outbox
from tests.test_registry_support import HOSPITAL_A_NAME, make_user, uscc_for

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
UNIT_A_NAME = "北京市西城区疾病预防控制中心"
DISTRICT_A_NAME = "北京市西城区卫生健康委员会"
NEWCOMER_PHONE, NEWCOMER_NAME = "13987654321", "林晓测"
NEWCOMER_PASSWORD = "Lin@2026pass"
REASON = "证件照片不清晰，请重新上传"
LOCKED_MESSAGE = "审核已通过（机构通过），资料已锁定；如需修改，请联系管理单位申请退审。"


def resident_id(birth: date = date(1991, 5, 17), seq: str = "731", region: str = "110102") -> str:
    body = f"{region}{birth:%Y%m%d}{seq}"
    return body + ric.calc_check_digit(body + "0")


# ------------------------------------------------------------------------------------------------ helpers

def new_page(browser: Browser) -> tuple[BrowserContext, Page, list[str]]:
    """A fresh Chinese-locale context (its own cookies) at desktop size; console errors are collected."""
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "favicon" not in m.text else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: d.accept())  # bulk actions ask for confirmation
    return context, page, errors


def sign_in(page: Page, base: str, phone: str, password: str = DEMO_PASSWORD) -> None:
    page.goto(base + "/login")
    page.fill("input[name=phone]", phone)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    landed(page, re.compile(r"^(?!.*/login)"))  # the landing page, its scripts run


def screenshots(page: Page, artifacts: Path, name: str, *, phone_must_fit: bool = True) -> None:
    """The current page at 1366×768 and 390×844 (full page); on the phone nothing may scroll sideways."""
    for size, viewport in (("1366x768", DESKTOP), ("390x844", PHONE)):
        page.set_viewport_size(viewport)
        page.screenshot(path=str(artifacts / f"{name}-{size}.png"), full_page=True)
        if phone_must_fit:
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name} at {size} scrolls sideways by {overflow}px"
    page.set_viewport_size(DESKTOP)


def avatar_png(tmp_path: Path) -> Path:
    path = tmp_path / "avatar.png"
    Image.new("RGB", (120, 160), (40, 110, 190)).save(path, "PNG")
    return path


def status_of(app, phone: str) -> str | None:
    with app.app_context():
        status = db.session.scalar(select(StaffProfile.status).join(User, User.id == StaffProfile.user_id)
                                   .where(User.phone == phone))
        db.session.remove()
    return status


def pick_unit(page: Page, name: str) -> None:
    """Click the search-as-you-type match whose name (first line) is exactly `name`."""
    hit = page.locator("[data-unit-results] button").filter(
        has=page.locator("div.font-weight-bold", has_text=re.compile(f"^{re.escape(name)}$")))
    expect(hit).to_have_count(1)
    hit.click()


def row_with(page: Page, text: str):
    return page.locator("table tbody tr", has_text=text)


def check_row(page: Page, text: str) -> None:
    row = row_with(page, text)
    expect(row).to_have_count(1)
    row.locator("input.action-checkbox").check()


@pytest.fixture(scope="module")
def server(module_live_server):
    return module_live_server


@pytest.fixture(scope="module")
def journey():
    """What the staff journeys hand on to each other."""
    return {}


def needs(journey: dict, step: str) -> None:
    if not journey.get(step):
        pytest.skip(f"needs the earlier journey step '{step}', which did not pass")


# ---------------------------------------------------------------------------------- (1) sign up, submit

def test_1_staff_member_signs_up_completes_account_and_profile(browser, server, artifacts, tmp_path, journey):
    base, app = server.url, server.app
    context, page, errors = new_page(browser)
    page.goto(base + "/login")
    page.get_by_role("link", name=re.compile("注册")).first.click()
    landed(page, base + "/register")  # 获取验证码 is portal.js's
    screenshots(page, artifacts, "register")

    page.fill("#name", NEWCOMER_NAME)
    page.fill("#phone", NEWCOMER_PHONE)
    page.fill("#password", NEWCOMER_PASSWORD)
    page.fill("#password_confirm", NEWCOMER_PASSWORD)
    page.click("button[data-sms-send]")  # portal.js posts /sms/send and counts down
    expect(page.locator(".sms-status")).to_contain_text("验证码已发送")
    code = sms_code_from_outbox(app, NEWCOMER_PHONE, "register")
    assert code and re.fullmatch(r"\d{6}", code)
    page.fill("#sms_code", code)
    page.click("button.btn-primary[value=register]")

    # Account: region cascade, unit search, confirmation code.
    landed(page, base + "/account")
    expect(page.locator("#name")).to_have_value(NEWCOMER_NAME)
    page.select_option("#province", "110000")
    page.select_option("#city", "110100")  # filled by portal.js from /api/regions
    page.select_option("#region_code", "110102")
    page.fill("#institution_q", "西城疾控")
    pick_unit(page, UNIT_A_NAME)
    expect(page.locator("#institution_id option:checked")).to_contain_text(UNIT_A_NAME)
    page.fill("#confirmation_code", "DEMA2345")
    page.fill("#department", "检验科")
    screenshots(page, artifacts, "account")
    page.locator("#account-form button.btn-primary[value=save]").click()

    # Profile with an avatar.
    landed(page, base + "/profile")  # the blocks shown by the answers are portal.js's
    page.select_option("#id_type", "resident_id")
    page.fill("#id_number", resident_id())
    page.locator("label[for='personnel_type-both']").click()
    page.select_option("#education", "bachelor")
    page.select_option("#title_level", "intermediate")
    page.fill("#title", "主管技师")
    page.fill("#position", "检验师")
    page.fill("#work_start_date", "2015-07-01")
    page.set_input_files("#avatar", str(avatar_png(tmp_path)))
    for radio in page.locator("section.question-block input[type=radio][value=yes]").all():
        page.locator(f"label[for='{radio.get_attribute('id')}']").click()
    expect(page.locator("#pcr_years")).to_be_visible()  # shown once 正在从事PCR is 是
    page.fill("#pcr_years", "3")
    screenshots(page, artifacts, "profile")
    page.locator("#profile-form button[type=submit]").click()

    expect(page).to_have_url(base + "/me")
    badge = page.locator("#profile-status")
    expect(badge).to_have_attribute("data-status", "submitted")
    expect(badge).to_have_text("待审核")
    expect(page.locator("img.avatar-thumb")).to_be_visible()
    page.wait_for_function("(img => img.complete && img.naturalWidth > 0)(document.querySelector('img.avatar-thumb'))")
    expect(page.get_by_text(UNIT_A_NAME)).to_be_visible()
    screenshots(page, artifacts, "me")
    assert status_of(app, NEWCOMER_PHONE) == "submitted"
    assert errors == []
    context.close()
    journey["submitted"] = True


# ------------------------------------------------------------------ (2) bulk approve, reject, resubmit

def test_2_unit_admin_bulk_approves_and_rejects_one_then_the_staff_member_resubmits(browser, server, artifacts,
                                                                                   journey):
    needs(journey, "submitted")
    base, app = server.url, server.app
    context, page, errors = new_page(browser)
    sign_in(page, base, UNIT_A)

    # Bulk approval of the unit's pending staff on the first page, leaving the newcomer out.
    page.goto(base + "/admin/staff/?flt0_0=submitted&page_size=20")
    screenshots(page, artifacts, "admin-staff")
    page.check("input.action-rowtoggle")
    ours = row_with(page, NEWCOMER_NAME).locator("input.action-checkbox")
    if ours.count():
        ours.uncheck()
    ticked = page.locator("input.action-checkbox:checked").count()
    assert ticked >= 2, "the demo unit should have several pending profiles"
    page.click("button[data-action=approve]")
    expect(page.locator(".alert-success")).to_contain_text(f"已通过 {ticked} 人")
    assert status_of(app, NEWCOMER_PHONE) == "submitted"

    # Reject the newcomer with a reason.
    page.goto(base + "/admin/staff/?search=" + NEWCOMER_NAME)
    check_row(page, NEWCOMER_NAME)
    page.click("button[data-action=reject]")
    expect(page.locator(".review-reason")).to_be_visible()
    page.fill(".review-reason textarea[name=reason]", REASON)
    page.click(".review-reason button[type=submit]")
    expect(page.locator(".alert-success")).to_contain_text("已驳回 1 人")
    assert status_of(app, NEWCOMER_PHONE) == "unit_rejected"
    context.close()

    # The staff member sees the reason, edits, resubmits.
    context, page, staff_errors = new_page(browser)
    sign_in(page, base, NEWCOMER_PHONE, NEWCOMER_PASSWORD)
    expect(page).to_have_url(base + "/me")
    expect(page.locator("#profile-status")).to_have_attribute("data-status", "unit_rejected")
    expect(page.locator("[data-reason]")).to_contain_text(REASON)
    page.get_by_role("link", name="编辑档案").click()
    expect(page).to_have_url(base + "/profile")
    page.fill("#position", "主管检验师")
    page.locator("#profile-form button[type=submit]").click()
    expect(page).to_have_url(base + "/me")
    expect(page.locator("#profile-status")).to_have_attribute("data-status", "submitted")
    expect(page.get_by_text("主管检验师")).to_be_visible()
    assert status_of(app, NEWCOMER_PHONE) == "submitted"
    assert errors == [] and staff_errors == []
    context.close()

    # The unit admin sees the row marked 重新提交, and on its card what changed since the reject (issue 21).
    context, page, errors = new_page(browser)
    sign_in(page, base, UNIT_A)
    page.goto(base + "/admin/staff/?search=" + NEWCOMER_NAME)
    expect(row_with(page, NEWCOMER_NAME).locator(".resubmitted-mark")).to_have_text("重新提交")
    row_with(page, NEWCOMER_NAME).locator("a.staff-name").click()
    changes = page.locator(".profile-changes")
    expect(changes).to_contain_text("自上次审核以来的修改")
    expect(changes.locator(".last-decision")).to_contain_text(REASON)
    expect(changes.locator("tr[data-field=position] th")).to_have_text("职务")
    expect(changes.locator("tr[data-field=position] .change-new")).to_have_text("主管检验师")
    expect(changes.locator("tr[data-field]")).to_have_count(1)  # nothing else was changed
    screenshots(page, artifacts, "admin-staff-card-changes")
    for viewport in (PHONE, DESKTOP):
        page.set_viewport_size(viewport)
        found = wcag_violations(page)
        assert found == [], (viewport, report(found))

    # The unit admin approves the corrected profile.
    page.goto(base + "/admin/staff/?search=" + NEWCOMER_NAME)
    check_row(page, NEWCOMER_NAME)
    page.click("button[data-action=approve]")
    expect(page.locator(".alert-success")).to_contain_text("已通过 1 人")
    assert status_of(app, NEWCOMER_PHONE) == "unit_approved"
    assert errors == []
    context.close()
    journey["unit_approved"] = True


# --------------------------------------------------------------------------------- (3) level-2 approval

def test_3_district_officer_approves_and_the_profile_becomes_read_only(browser, server, artifacts, journey):
    needs(journey, "unit_approved")
    base, app = server.url, server.app
    context, page, errors = new_page(browser)
    sign_in(page, base, DISTRICT_A)
    page.goto(base + "/admin/staff/?search=" + NEWCOMER_NAME)
    check_row(page, NEWCOMER_NAME)
    page.click("button[data-action=approve]")
    expect(page.locator(".alert-success")).to_contain_text("已通过 1 人")
    assert status_of(app, NEWCOMER_PHONE) == "approved"
    assert errors == []
    context.close()

    context, page, errors = new_page(browser)
    sign_in(page, base, NEWCOMER_PHONE, NEWCOMER_PASSWORD)
    badge = page.locator("#profile-status")
    expect(badge).to_have_attribute("data-status", "approved")
    expect(badge).to_have_text("审核已通过")
    expect(page.get_by_role("link", name="编辑档案")).to_have_count(0)
    screenshots(page, artifacts, "me-approved")

    page.goto(base + "/profile")
    expect(page.locator("[data-locked]")).to_have_text(LOCKED_MESSAGE)
    expect(page.locator("#position")).to_be_disabled()
    expect(page.locator("#profile-form button[type=submit]:visible")).to_have_count(0)
    page.goto(base + "/account")
    expect(page.locator("[data-locked]")).to_have_text(LOCKED_MESSAGE)
    expect(page.locator("#department")).to_be_disabled()
    assert errors == []
    context.close()
    journey["approved"] = True


# ----------------------------------------------------------------------------------------- (4) export

def test_4_an_export_is_downloaded_and_read_back(browser, server, journey):
    needs(journey, "approved")
    base = server.url
    context, page, errors = new_page(browser)
    sign_in(page, base, DISTRICT_A)
    page.goto(base + "/admin/staff/?search=" + NEWCOMER_NAME)
    expect(row_with(page, NEWCOMER_NAME)).to_have_count(1)
    page.click("a.export-menu")  # 导出 Excel -> 全部字段
    with page.expect_download() as download:
        page.click("a.export-xlsx.export-all")
    assert download.value.suggested_filename.endswith(".xlsx")
    data = Path(download.value.path()).read_bytes()
    rows = list(load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert header[0] == "姓名"
    assert [r[0] for r in body] == [NEWCOMER_NAME]
    cells = [str(c) for c in body[0] if c is not None]
    assert UNIT_A_NAME in cells and NEWCOMER_PHONE in cells
    assert errors == []
    context.close()


# ----------------------------------------------------------------------------- (5) grant code lifecycle

def test_5_grant_code_issued_bound_and_reset(browser, server, artifacts):
    base, app = server.url, server.app
    lead_phone = "13911112222"
    with app.app_context():
        hospital = db.session.scalar(select(Institution).where(Institution.name == HOSPITAL_A_NAME))
        make_user(lead_phone, "刘院长", hospital)  # a verified user of the hospital (password Demo@12345)
        db.session.remove()

    officer_ctx, officer, errors = new_page(browser)
    sign_in(officer, base, DISTRICT_A)
    officer.goto(base + "/admin/grant/")
    row = row_with(officer, HOSPITAL_A_NAME)
    expect(row.locator("[data-grant-state]")).to_have_attribute("data-grant-state", "none")
    check_row(officer, HOSPITAL_A_NAME)
    officer.click("button[name=action][value=generate]")
    expect(officer.locator(".alert-success")).to_be_visible()
    row = row_with(officer, HOSPITAL_A_NAME)
    expect(row.locator("[data-grant-state]")).to_have_attribute("data-grant-state", "issued")
    code = row.locator("code.grant-code").inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9]{8}", code), code
    screenshots(officer, artifacts, "admin-grant")

    lead_ctx, lead, lead_errors = new_page(browser)
    sign_in(lead, base, lead_phone)
    assert lead.goto(base + "/admin/").status == 403
    lead.goto(base + "/grants/bind")
    lead.fill("#code", code.lower())  # letters are not case-sensitive
    lead.click("button[name=send_sms]")
    expect(lead.locator(".alert-success")).to_be_visible()
    step_up = sms_code_from_outbox(app, lead_phone, "step_up")
    assert step_up
    lead.fill("#password", DEMO_PASSWORD)
    lead.fill("#sms_code", step_up)
    screenshots(lead, artifacts, "bind")
    lead.locator("form button.btn-primary[type=submit]").click()
    expect(lead).to_have_url(base + "/admin/")
    expect(lead.locator(".alert-success")).to_contain_text(HOSPITAL_A_NAME)

    officer.goto(base + "/admin/grant/")
    expect(row_with(officer, HOSPITAL_A_NAME).locator("[data-grant-state]")).to_have_attribute(
        "data-grant-state", "active")
    expect(row_with(officer, HOSPITAL_A_NAME)).to_contain_text("刘*长")
    check_row(officer, HOSPITAL_A_NAME)
    officer.click("button[name=action][value=reset]")  # confirmation accepted by the dialog handler
    expect(officer.locator(".alert-success")).to_be_visible()
    expect(row_with(officer, HOSPITAL_A_NAME).locator("[data-grant-state]")).to_have_attribute(
        "data-grant-state", "none")

    # Access gone at the very next request: resetting the grant ended the lead's sessions (issue 26), so the back
    # office sends him to the login page.
    lead.goto(base + "/admin/")
    expect(lead).to_have_url(re.compile(r"/login"))
    assert lead.goto(base + "/admin/grant/").url.split("?")[0].endswith("/login")
    assert errors == []
    assert all("403" in e for e in lead_errors), lead_errors  # only the page refused before the grant
    officer_ctx.close()
    lead_ctx.close()


# ------------------------------------------------------------------------ (6) institution application

def test_6_institution_application_is_included(browser, server, artifacts):
    base, app = server.url, server.app
    name, contact = "北京市西城区浏览器测试诊所", "13922223333"
    context, page, errors = new_page(browser)
    resp = page.goto(base + "/institutions/apply")
    assert resp.status == 200, (resp.status, page.content()[:1500])
    page.fill("#name", name)
    page.fill("#uscc", uscc_for(77))
    page.fill("#parent_q", "西城区卫生")
    pick_unit(page, DISTRICT_A_NAME)
    page.select_option("#category", "primary_care")
    page.select_option("#province", "110000")
    page.select_option("#city", "110100")
    page.select_option("#county", "110102")
    page.fill("#address", "北京市西城区测试路1号")
    page.fill("#contact_name", "周联系")
    page.fill("#contact_phone", contact)
    page.click("button[data-sms-send]")
    expect(page.locator(".sms-status")).to_contain_text("验证码已发送")
    page.fill("#sms_code", sms_code_from_outbox(app, contact, "institution"))
    page.locator("label[for=agree]").click()
    screenshots(page, artifacts, "apply")
    page.locator("#apply-form button.btn-primary[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/institutions/status"))
    expect(page.locator(".alert-success")).to_contain_text(name)
    screenshots(page, artifacts, "status")
    context.close()

    officer_ctx, officer, officer_errors = new_page(browser)
    sign_in(officer, base, DISTRICT_A)
    officer.goto(base + "/admin/application/")
    screenshots(officer, artifacts, "admin-application")
    check_row(officer, name)
    officer.click("button[name=action][value=approve]")
    expect(officer.locator(".alert-success")).to_contain_text("已收录 1 个申请")
    officer_ctx.close()

    # The applicant looks it up by supervising institution + full name and sees 已收录.
    context, page, errors2 = new_page(browser)
    page.goto(base + "/institutions/status?mode=name")
    page.fill("#parent_q", "西城区卫生")
    pick_unit(page, DISTRICT_A_NAME)
    page.locator("form:has(input[name=mode][value=name]) #name").fill(name)
    page.locator("form:has(input[name=mode][value=name]) button.btn-primary").click()
    result = page.locator("[data-application-status]", has_text=name)
    expect(result).to_have_attribute("data-application-status", "included")
    expect(result.locator(".status-badge")).to_have_text("已收录")
    with app.app_context():
        assert db.session.scalar(select(Institution.id).where(Institution.name == name))
        db.session.remove()
    page.goto(base + "/institutions/search?q=" + name)
    expect(page.get_by_text(name).first).to_be_visible()
    assert errors == [] and officer_errors == [] and errors2 == []
    context.close()
