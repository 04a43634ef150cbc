"""GET /admin/staff/export/xlsx/: the grid's exact rows, every column, full numbers, safe text, audited."""
import io
import re

import pytest
from openpyxl import load_workbook

from admin_app.extensions import db
from admin_app.services.clock import practice_years
from admin_app.services.crypto import decrypt
from admin_app.services.export import COLUMNS
from tests.conftest import STAFF_A, STAFF_B, UNIT_A, UNIT_B
from tests.test_review_support import EXPORT_URL, STAFF_URL, audit_rows, grid_ids, profile, profiles_of, user


def read(resp):
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert resp.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    wb = load_workbook(io.BytesIO(resp.get_data()), read_only=False)
    ws = wb.active
    rows = list(ws.iter_rows(values_only=True))
    return ws, rows[0], rows[1:]


def col(header, name):
    return header.index(name)


def export_link(html):
    return re.search(r'class="dropdown-item export-xlsx export-all" href="([^"]+)">全部字段', html).group(1).replace(
        "&amp;", "&")


def test_export_matches_the_grid_and_has_chinese_headers(login):
    c = login(UNIT_A)
    html = c.get(STAFF_URL + "?flt0_0=reported&page_size=1000").get_data(as_text=True)
    link = export_link(html)
    assert link.startswith(EXPORT_URL) and "flt0_0=reported" in link
    resp = c.get(link)
    assert "attachment" in resp.headers["Content-Disposition"] and ".xlsx" in resp.headers["Content-Disposition"]
    assert resp.headers["Cache-Control"] == "no-store"
    ws, header, rows = read(resp)
    for name in ("姓名", "性别", "手机号", "证件类型", "证件号码", "人员性质", "科室", "所在单位", "所在地区", "状态",
                 "上报时间", "是否具有PCR资质证书", "从事PCR年限", "从业年限"):
        assert name in header, name
    assert len(header) == len(COLUMNS)
    ids = grid_ids(html)
    phones = [db.session.get_one(type(profile(STAFF_A)), i).phone for i in ids]
    assert [r[col(header, "手机号")] for r in rows] == phones  # same rows, same order


def test_export_full_numbers_answers_and_labels(login):
    c = login(UNIT_A)
    ws, header, rows = read(c.get(EXPORT_URL + "?flt0_0=reported"))
    p, u = profile(STAFF_A), user(STAFF_A)
    row = next(r for r in rows if r[col(header, "手机号")] == STAFF_A)
    assert row[col(header, "证件号码")] == decrypt(u.id_number_enc)
    assert row[col(header, "证件类型")] == "居民身份证"
    assert row[col(header, "状态")] == "待审核"
    assert row[col(header, "所在单位")] == p.institution.name
    assert row[col(header, "所在地区")] == "北京市-北京市-西城区"
    assert row[col(header, "从业年限")] == practice_years(p.work_start_date)
    # The manual's answer words: a certificate is 有/无, the other questions 是/否 (stored as True/False).
    for key, label, words in (("pcr_certificate", "是否具有PCR资质证书", ("有", "无")),
                              ("doing_pcr", "是否从事PCR工作", ("是", "否"))):
        value = getattr(p, key)
        assert row[col(header, label)] == ({True: words[0], False: words[1]}[value] if value is not None else None)
    answers = {r[col(header, "是否具有PCR资质证书")] for r in rows}
    assert answers <= {"有", "无", None} and {"有", "无"} <= answers
    answers = {r[col(header, "是否从事PCR工作")] for r in rows}
    assert answers <= {"是", "否", None} and {"是", "否"} <= answers


def test_default_export_is_the_default_grid(login):
    c = login(UNIT_A)
    c.get(STAFF_URL + "?flt0_0=submitted")  # a card kept in the session is the list page's, not a bare export's
    ws, header, rows = read(c.get(EXPORT_URL))
    reported = profiles_of(UNIT_A, "submitted", "unit_rejected", "unit_approved", "rejected", "approved")
    assert [r[col(header, "手机号")] for r in rows] == [p.phone for p in reported]


def test_export_follows_search_and_filters(login):
    c = login(UNIT_A)
    ws, header, rows = read(c.get(EXPORT_URL, query_string={"flt0_0": "reported", "search": STAFF_A}))
    assert [r[col(header, "手机号")] for r in rows] == [STAFF_A]
    ws, header, rows = read(c.get(EXPORT_URL, query_string={"flt0_0": "reported", "flt1_1": "testing"}))
    assert {r[col(header, "人员性质")] for r in rows} == {"检测人员"}
    assert len(rows) == len([p for p in profiles_of(UNIT_A) if p.status != "draft" and p.personnel_type == "testing"])


def test_export_is_scoped(login):
    ws, header, rows = read(login(UNIT_B).get(EXPORT_URL + "?flt0_0=reported"))
    phones = {r[col(header, "手机号")] for r in rows}
    assert STAFF_B in phones and STAFF_A not in phones
    ws, header, rows = read(login(UNIT_B).get(EXPORT_URL, query_string={"flt0_0": "reported", "search": STAFF_A}))
    assert rows == []


@pytest.mark.parametrize("payload", ["=HYPERLINK(\"http://evil\",\"x\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"])
def test_formula_like_text_is_written_as_text(login, payload):
    p = profile(STAFF_A)
    p.department = payload
    p.position = payload
    db.session.commit()
    c = login(UNIT_A)
    resp = c.get(EXPORT_URL, query_string={"flt0_0": "reported", "search": STAFF_A})
    ws, header, rows = read(resp)
    cell = ws.cell(row=2, column=col(header, "科室") + 1)
    # XlsxWriter stores CR as the OOXML escape _x000D_, which Excel (not openpyxl) turns back into CR.
    assert cell.value.replace("_x000D_", "\r") == payload and cell.data_type == "s"
    assert cell.quotePrefix  # Excel keeps it text even when the cell is edited
    raw = resp.get_data()
    import zipfile

    sheet = zipfile.ZipFile(io.BytesIO(raw)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet  # no formula cell anywhere


def test_export_is_audited_with_rows_and_filters(login):
    c = login(UNIT_A)
    ws, header, rows = read(c.get(EXPORT_URL, query_string={"flt0_0": "reported", "flt1_1": "sampling",
                                                           "search": "1"}))
    row, = audit_rows("export_staff")
    assert row.actor_id == user(UNIT_A).id and row.institution_id == user(UNIT_A).institution_id
    assert row.details["rows"] == len(rows)
    assert row.details["search"] == "1"
    # stable codes (column, operation), not the exporter's words: the audit grid shows them in the reader's language
    assert {"column": "staff_profile.personnel_type", "op": "equals", "value": "sampling"} in row.details["filters"]


def test_export_refuses_other_types_and_outsiders(app, login):
    c = login(UNIT_A)
    assert c.get(STAFF_URL + "export/csv/").status_code == 404
    assert login(STAFF_A).get(EXPORT_URL).status_code == 403
    assert app.test_client().get(EXPORT_URL).status_code == 302
    assert not audit_rows("export_staff")


def test_export_over_the_row_limit_is_refused(app, login):
    app.config["EXPORT_MAX_ROWS"] = 3
    c = login(UNIT_A)
    resp = c.get(EXPORT_URL + "?flt0_0=reported")
    assert resp.status_code == 302 and not audit_rows("export_staff")


def test_empty_export_still_has_headers(login):
    ws, header, rows = read(login(UNIT_A).get(EXPORT_URL, query_string={"flt0_0": "reported", "search": "无此人"}))
    assert "姓名" in header and rows == []
    assert audit_rows("export_staff")[0].details["rows"] == 0
