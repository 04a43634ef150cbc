"""Hostile input: XSS payloads in every shown text field, formula injection in XLSX, SQL metacharacters in
searches, full-width digits, zero-width characters and mixed scripts in names, phones and ID numbers."""
import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from admin_app.extensions import db
from admin_app.models import AuditLog, Institution, InstitutionApplication, StaffProfile, User
from admin_app.services.identity import index_for
from tests.conftest import DEMO_PASSWORD, DISTRICT_A, STAFF_A, STAFF_B, SUPER, UNIT_A
from tests.test_identity_helpers import post_verify, resident_id, staff_client
from tests.test_registry_support import uscc_for
from tests.test_review_support import grid_ids, post_action, profile, user
from tests.test_staff_portal import edit_form

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
SVG = "<svg/onload=alert(1)>"
PAYLOADS = (SCRIPT, IMG, SVG)
ESCAPED = {SCRIPT: "&lt;script&gt;alert(1)&lt;/script&gt;", IMG: "&gt;&lt;img src=x onerror=alert(1)&gt;",
           SVG: "&lt;svg/onload=alert(1)&gt;"}


def html(resp) -> str:
    assert resp.status_code == 200, (resp.status_code, resp.headers.get("Location"))
    return resp.get_data(as_text=True)


def assert_no_raw(page: str, where: str) -> None:
    for p in PAYLOADS:
        assert p not in page, f"raw payload {p!r} in {where}"
    # No attribute or tag got built from the payloads either.
    assert not re.search(r"<(script|img|svg)[^>]*(alert|onerror|onload)", page, re.I), where


def test_xss_payloads_are_escaped_in_grid_detail_dashboard_and_portal(app, login):
    # Staff member A: account department, profile title and position carry payloads.
    staff = login(STAFF_A)
    p = profile(STAFF_A)
    resp = staff.post("/account", data={"name": "张晓明", "region_code": "110102",
                                        "institution_id": str(p.institution_id), "department": SCRIPT})
    assert resp.status_code == 302
    resp = staff.post("/profile", data=edit_form(STAFF_A, title=IMG, position=SVG),
                      content_type="multipart/form-data")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    p = profile(STAFF_A)
    assert (p.department, p.title, p.position) == (SCRIPT, IMG, SVG)
    # Staff member B: the name on a verification request.
    resp = post_verify(staff_client(app, STAFF_B), number=resident_id(seq=417), name=IMG)
    verification_stored = resp.status_code == 302
    # An application (public form data, stored as typed) supervised by unit A.
    unit_a = db.session.get(Institution, user(UNIT_A).institution_id)
    db.session.add(InstitutionApplication(name=SCRIPT, uscc=uscc_for(4242), parent_id=unit_a.id, category="other",
                                          region_code="110102", address=IMG, contact_name=SVG,
                                          contact_phone="13900004242"))
    db.session.commit()
    # The unit admin edits its institution's address, then rejects A with a hostile reason.
    unit = login(UNIT_A)
    resp = unit.post(f"/admin/institution/edit/?id={unit_a.id}",
                     data={"name": unit_a.name, "category": unit_a.category, "address": IMG})
    assert resp.status_code == 302
    assert post_action(unit, "reject", [p.id], reason=SCRIPT + IMG).status_code == 302
    assert profile(STAFF_A).status == "unit_rejected"

    su = login(SUPER)
    officer = login(DISTRICT_A)
    pages = {
        "staff grid": su.get(f"/admin/staff/?search={STAFF_A}"),
        "staff card": su.get(f"/admin/staff/details/?id={p.id}"),
        "staff card (officer)": officer.get(f"/admin/staff/details/?id={p.id}"),
        "dashboard": su.get("/admin/"),
        "application grid": su.get("/admin/application/"),
        "institution card": su.get(f"/admin/institution/details/?id={unit_a.id}"),
        "institution grid": su.get(f"/admin/institution/?search={unit_a.name}"),
        "audit grid": su.get("/admin/audit/"),
        "staff centre": staff.get("/me"),
        "staff profile page": staff.get("/profile"),
        "staff account page": staff.get("/account"),
    }
    app_id = db.session.scalar(select(InstitutionApplication.id).where(InstitutionApplication.name == SCRIPT))
    pages["application card"] = su.get(f"/admin/application/details/?id={app_id}")
    if verification_stored:
        pages["verification grid"] = su.get("/admin/verification/")
    shown = {}
    for where, resp in pages.items():
        page = html(resp)
        assert_no_raw(page, where)
        shown[where] = {p for p in PAYLOADS if ESCAPED[p] in page or ESCAPED[p].replace("&#34;", '"') in page}
    # The payloads are shown (escaped), not dropped: the checks above looked at the real thing.
    assert shown["staff card"] >= {SCRIPT, IMG, SVG}, shown["staff card"]
    assert SCRIPT in shown["staff grid"]
    assert shown["application card"] >= {SCRIPT, IMG, SVG}
    assert SCRIPT in shown["staff centre"]  # the reject reason
    assert IMG in shown["institution card"]
    if verification_stored:
        assert IMG in shown["verification grid"]
    # The JSON of the review history and audit rows are data, not markup: escaped on the detail page too.
    audit_id = db.session.scalar(select(AuditLog.id).where(AuditLog.action == "review_reject"))
    assert_no_raw(html(su.get(f"/admin/audit/details/?id={audit_id}")), "audit card")


FORMULAS = ('=HYPERLINK("http://evil.example","x")', "+1+2", "-3+cmd|' /C calc'!A0", "@SUM(A1:A2)",
            "=1+1", "\t=1+1")


@pytest.mark.parametrize("payload", FORMULAS)
def test_formula_injection_is_written_as_text(app, login, payload):
    staff = login(STAFF_A)
    p = profile(STAFF_A)
    resp = staff.post("/account", data={"name": "张晓明", "region_code": "110102",
                                        "institution_id": str(p.institution_id), "department": payload[:64]})
    assert resp.status_code == 302
    resp = staff.post("/profile", data=edit_form(STAFF_A, title=payload[:64], position=payload[:64]),
                      content_type="multipart/form-data")
    assert resp.status_code == 302
    resp = login(UNIT_A).get(f"/admin/staff/export/xlsx/?search={STAFF_A}")
    assert resp.status_code == 200
    ws = load_workbook(io.BytesIO(resp.data)).active
    cells = [c for row in ws.iter_rows() for c in row if isinstance(c.value, str) and payload.strip()[1:] in c.value]
    assert len(cells) >= 3, [c.value for row in ws.iter_rows() for c in row]
    for c in cells:
        assert c.data_type == "s", (c.coordinate, c.data_type, c.value)  # text, never 'f' (a formula)
        assert c.value == payload[:64].strip()  # the typed text (trimmed); Excel's quote prefix is a cell style


SQL_TERMS = ("%", "_", "'", "\\", "--", "' OR '1'='1", "%' --", "\\%", "__", "%%%", "a%b", "'; DROP TABLE user; --",
             '"', "*", "[", "(", "NULL")


@pytest.mark.parametrize("term", SQL_TERMS)
def test_sql_metacharacters_in_searches_are_literal(app, login, term):
    unit = login(UNIT_A)
    before = db.session.scalar(select(StaffProfile.id).order_by(StaffProfile.id.desc()).limit(1))
    resp = unit.get("/admin/staff/", query_string={"search": term, "flt0_0": "reported"})
    assert resp.status_code == 200
    # No staff name or phone holds these characters: a literal search finds nobody (a wildcard would find all).
    if term not in ("NULL", "(", "[", "*", '"'):
        assert grid_ids(resp.get_data(as_text=True)) == [], term
    su = login(SUPER)
    for url in ("/admin/institution/", "/admin/application/", "/admin/verification/", "/admin/grant/"):
        assert su.get(url, query_string={"search": term}).status_code == 200, url
    assert unit.get("/admin/staff/export/xlsx/", query_string={"search": term}).status_code == 200
    for url in ("/institutions/search", "/api/institutions"):
        resp = unit.get(url, query_string={"q": term})
        assert resp.status_code == 200, url
    resp = unit.get("/api/institutions", query_string={"q": term})
    if term in ("%", "_", "%%%", "__"):
        assert resp.get_json() == []
    assert unit.get("/api/regions", query_string={"parent": term}).status_code == 400
    assert db.session.scalar(select(StaffProfile.id).order_by(StaffProfile.id.desc()).limit(1)) == before


def test_nul_characters_are_refused_before_any_view(app, login):
    """PostgreSQL cannot store NUL and SQLite's LIKE stops at it: a 400 for it anywhere in the input."""
    unit = login(UNIT_A)
    assert unit.get("/admin/staff/", query_string={"search": "\x00"}).status_code == 400
    assert unit.get("/api/institutions", query_string={"q": "a\x00"}).status_code == 400
    assert app.test_client().post("/login", data={"phone": STAFF_A, "password": "x\x00"}).status_code == 400
    assert unit.post("/account", data={"name": "张\x00"}).status_code == 400
    assert app.test_client().post("/sms/send", data={"phone": "\x00", "purpose": "register"}).status_code == 400


def test_control_characters_in_return_addresses_are_refused(login):
    """Flask-Admin's `url` becomes a Location header: a newline there is a 400, not a 500."""
    su = login(SUPER)
    for url in ("\n", "/admin/\r\nSet-Cookie: x=1", "\t/admin/"):
        assert su.post("/admin/verification/action/", data={"action": "approve", "rowid": "1", "url": url}
                       ).status_code == 400
        assert su.get("/admin/staff/details/", query_string={"id": "1", "url": url}).status_code == 400
    # The sign-in `next` with control characters is ignored (auth.safe_next): home, never a 500.
    resp = login.app.test_client().post("/login", query_string={"next": "/\r\nSet-Cookie: x=1"},
                                        data={"phone": UNIT_A, "password": DEMO_PASSWORD})
    assert resp.status_code == 302 and "\n" not in resp.headers["Location"]


def test_search_still_finds_real_names_and_phones(login):
    unit = login(UNIT_A)
    pid = profile(STAFF_A).id
    assert pid in grid_ids(unit.get(f"/admin/staff/?search={STAFF_A}").get_data(as_text=True))
    assert pid in grid_ids(unit.get("/admin/staff/?search=张晓明").get_data(as_text=True))


FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def test_full_width_and_zero_width_phones_and_search(app, login):
    pid = profile(STAFF_A).id
    unit = login(UNIT_A)
    for term in (STAFF_A.translate(FULL_WIDTH), "\u200b".join(STAFF_A), "\ufeff" + STAFF_A):
        assert pid in grid_ids(unit.get("/admin/staff/", query_string={"search": term}).get_data(as_text=True)), term
    # Sign-in with a full-width phone is the same account; zero-width characters are not digits: refused cleanly.
    c = app.test_client()
    resp = c.post("/login", data={"phone": STAFF_A.translate(FULL_WIDTH), "password": DEMO_PASSWORD})
    assert resp.status_code == 302
    resp = app.test_client().post("/login", data={"phone": "1380\u200b0000010", "password": DEMO_PASSWORD})
    assert resp.status_code in (200, 302)


@pytest.mark.parametrize("name,ok", [
    ("张San", True), ("Nguyễn Văn An", True), ("阿卜杜·热合曼", True), ("张\u200b三", False), ("张三\u202e", False),
    ("Ивaн", True),  # Cyrillic with a Latin "a": letters of mixed scripts are letters; shown escaped as typed
    ("<b>张三</b>", False), ("张三\x00", False), ("１２３", False),
])
def test_names_with_mixed_scripts_and_invisible_characters(client, app, name, ok):
    before = db.session.scalar(select(User.id).order_by(User.id.desc()).limit(1))
    from tests.test_registry_support import Sms

    app.config.update(SMS_RESEND_COOLDOWN=0)
    phone = "13912340000"
    code = Sms(app).send(phone, "register")
    resp = client.post("/register", data={"name": name, "phone": phone, "password": "Abc12345",
                                          "password_confirm": "Abc12345", "sms_code": code})
    after = db.session.scalar(select(User.id).order_by(User.id.desc()).limit(1))
    if ok:
        assert resp.status_code == 302 and after != before
        assert db.session.scalar(select(User.name).where(User.phone == phone)) == name
    else:
        assert resp.status_code in (200, 400) and after == before  # the form says why; a NUL is a 400


def test_full_width_and_zero_width_id_numbers_are_the_same_number(app, login):
    number = resident_id(seq=555)
    typed = "\u200b".join(number[:9]) + number[9:].translate(FULL_WIDTH).replace("X", "ｘ") + "\ufeff"
    c = login(STAFF_A)
    resp = c.post("/profile", data=edit_form(STAFF_A, id_type="resident_id", id_number=typed),
                  content_type="multipart/form-data")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    u = user(STAFF_A)
    assert u.id_number_index == index_for("resident_id", number)
    # and the staff grid finds the person by the plain number
    pid = profile(STAFF_A).id
    assert pid in grid_ids(login(UNIT_A).get("/admin/staff/", query_string={"search": number}).get_data(as_text=True))
