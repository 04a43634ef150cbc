"""The list as officers print and file it (issue 29): the page setup read back from the written file, and one real
print through LibreOffice (headless) checked page by page with pdftotext."""
import io
import os
import re
import shutil
import subprocess
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook

from admin_app.services import jobs
from admin_app.services.export import COLUMNS, COMMON_COLUMNS
from tests.conftest import DISTRICT_A, SUPER, UNIT_A
from tests.test_review_support import EXPORT_URL, STAFF_URL, audit_rows, user

FOOTER = "第 &P 页 共 &N 页"


def sheet_of(resp):
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return load_workbook(io.BytesIO(resp.get_data())).active


def assert_print_setup(ws, ncols: int, nrows: int, scope_name: str, freeze: str = "B2") -> None:
    """A4 landscape, one page wide, row 1 printed on every page and frozen, autofilter, header and footer codes."""
    assert ws.page_setup.orientation == "landscape"
    assert int(ws.page_setup.paperSize) == 9  # A4
    assert ws.sheet_properties.pageSetUpPr.fitToPage is True
    assert (ws.page_setup.fitToWidth or 1) == 1  # absent means the default, 1
    assert int(ws.page_setup.fitToHeight) == 0  # as many pages tall as needed
    assert ws.print_title_rows == "$1:$1"
    assert ws.freeze_panes == freeze
    last = ws.cell(row=1, column=ncols).column_letter
    assert ws.auto_filter.ref == f"A1:{last}{max(nrows, 1) + 1}"
    assert ws.oddHeader.left.text == scope_name.replace("&", "&&")
    assert ws.oddHeader.right.text.startswith("导出时间：")
    assert ws.oddFooter.center.text == FOOTER


PHONE = re.compile(r"\b1[3-9]\d{9}\b")
SOFFICE = shutil.which("soffice")
PDFTOTEXT = shutil.which("pdftotext")


def test_a_printed_list_starts_every_page_with_the_header_row(app, login, tmp_path):
    if not (SOFFICE and PDFTOTEXT):
        if os.environ.get("CI"):
            pytest.fail("CI must print with LibreOffice: install libreoffice-calc-nogui and poppler-utils (.ci/run)")
        pytest.skip("LibreOffice (soffice) or pdftotext is not installed")
    assert app.test_cli_runner().invoke(args=["gen-staff", "--count", "200", "--seed", "29"]).exit_code == 0
    c = login(SUPER)
    files = {}
    for columns in ("all", "common"):
        resp = c.get(EXPORT_URL, query_string={"flt0_0": "reported", "columns": columns})
        ws = sheet_of(resp)
        assert ws.max_row - 1 >= 250  # a few hundred rows
        files[columns] = (tmp_path / f"staff-list-{columns}.xlsx", [cell.value for cell in ws[1]])
        files[columns][0].write_bytes(resp.get_data())
    # A private profile: parallel runs (and a desktop LibreOffice) never share one.
    profile = f"-env:UserInstallation=file://{tmp_path / 'lo-profile'}"
    done = subprocess.run([SOFFICE, profile, "--headless", "--norestore", "--convert-to", "pdf", "--outdir",
                           str(tmp_path), *[str(f) for f, _h in files.values()]],
                          capture_output=True, text=True, timeout=300)
    for columns, (xlsx, header) in files.items():
        pdf = xlsx.with_suffix(".pdf")
        assert done.returncode == 0 and pdf.exists(), (done.stdout, done.stderr)
        text = subprocess.run([PDFTOTEXT, "-layout", str(pdf), "-"], capture_output=True, text=True, check=True,
                              timeout=120).stdout
        pages = [p for p in text.split("\f") if p.strip()]
        assert len(pages) >= 2, columns  # the header row must be repeated, not only printed once
        for number, page in enumerate(pages, 1):
            lines = [line for line in page.splitlines() if line.strip()]
            # The page header (export time) comes first, then the header row, before any person's row.
            first_row = next(i for i, line in enumerate(lines) if PHONE.search(line))
            head = " ".join(lines[:first_row])
            assert "导出时间" in lines[0], (columns, number, lines[:3])
            assert all(h.split()[0][:4] in head for h in (header[0], header[1], header[2], header[-1])), \
                (columns, number, lines[:first_row + 1])
            assert re.search(rf"第\s*{number}\s*页\s*共\s*{len(pages)}\s*页", lines[-1]), (columns, number, lines[-1])


def unit_name(phone: str) -> str:
    return user(phone).institution.name


@pytest.mark.parametrize("columns, ncols", [("all", len(COLUMNS)), ("common", len(COMMON_COLUMNS))])
def test_both_column_sets_are_set_up_for_print(login, columns, ncols):
    resp = login(UNIT_A).get(EXPORT_URL, query_string={"flt0_0": "reported", "columns": columns})
    ws = sheet_of(resp)
    rows = ws.max_row - 1
    assert ws.max_column == ncols and rows > 0
    assert_print_setup(ws, ncols, rows, unit_name(UNIT_A))


def test_the_common_columns_are_the_grids_and_fit_a_page(login):
    ws = sheet_of(login(UNIT_A).get(EXPORT_URL, query_string={"columns": "common"}))
    assert [c.value for c in ws[1]] == ["姓名", "性别", "手机号", "人员性质", "所在单位", "所在地区", "科室", "状态",
                                        "上报时间"]
    assert len(COMMON_COLUMNS) < 20


def test_the_old_export_url_is_all_fields(login):
    ws = sheet_of(login(UNIT_A).get(EXPORT_URL))
    assert ws.max_column == len(COLUMNS)
    ws = sheet_of(login(UNIT_A).get(EXPORT_URL, query_string={"columns": "bogus"}))
    assert ws.max_column == len(COLUMNS)


def test_the_file_name_a_shell_can_save(login):
    resp = login(UNIT_A).get(EXPORT_URL)
    disposition = resp.headers["Content-Disposition"]
    inst = user(UNIT_A).institution
    code = inst.uscc or str(inst.id)
    m = re.match(r"attachment; filename=(staff-list-([0-9A-Za-z]+)-\d{8}-\d{4}\.xlsx); filename\*=UTF-8''(\S+)$",
                 disposition)
    assert m, disposition
    assert m.group(2) == code and m.group(1)[0].isalpha()
    assert unquote(m.group(3)).startswith("上报人员列表-") or unquote(m.group(3)).endswith(".xlsx")


def test_the_grid_menu_offers_all_and_common_fields(login):
    html = login(UNIT_A).get(STAFF_URL + "?flt0_0=reported").get_data(as_text=True)
    links = dict((text, href.replace("&amp;", "&")) for href, text in
                 re.findall(r'<a class="dropdown-item export-xlsx[^"]*" href="([^"]+)"[^>]*>([^<]+)</a>', html))
    assert set(links) == {"全部字段", "常用字段"}
    assert "columns=common" in links["常用字段"] and "flt0_0=reported" in links["常用字段"]
    assert "flt0_0=reported" in links["全部字段"]


def test_header_text_with_an_ampersand_is_escaped(plain_app):
    from admin_app.services.export import write_staff_xlsx

    with plain_app.test_request_context("/"):
        fh = io.BytesIO()
        write_staff_xlsx([], fh, columns="common", scope_name="A&B 医院")
    ws = load_workbook(io.BytesIO(fh.getvalue())).active
    assert_print_setup(ws, len(COMMON_COLUMNS), 0, "A&B 医院")


def test_a_job_export_keeps_its_column_set_and_the_requesters_address(app, login, tmp_path):
    app.config.update(EXPORT_JOB_THRESHOLD=5, EXPORT_FOLDER=str(tmp_path / "exports"), JOB_BACKEND="thread")
    c = login(DISTRICT_A)
    resp = c.get(EXPORT_URL, query_string={"flt0_0": "reported", "columns": "common"},
                 environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert resp.status_code == 302 and "/admin/staff/jobs/" in resp.headers["Location"]
    job_id = resp.headers["Location"].rstrip("/").rsplit("/", 1)[1]
    jobs.wait(job_id, timeout=60)
    resp = c.get(f"/admin/staff/jobs/{job_id}/download")
    ws = sheet_of(resp)
    assert ws.max_column == len(COMMON_COLUMNS)
    assert_print_setup(ws, len(COMMON_COLUMNS), ws.max_row - 1, unit_name(DISTRICT_A))
    assert resp.headers["Content-Disposition"].startswith("attachment; filename=staff-list-")
    row, = audit_rows("export_staff")
    assert row.ip == "10.9.8.7" and row.details["job"] == job_id and row.details["columns"] == "common"
    assert row.details["filters"] == [{"column": "staff_profile.status", "op": "equals", "value": "reported"}]


def test_recorded_filters_are_codes_shown_in_the_readers_language(login):
    c = login(UNIT_A)
    assert c.get(EXPORT_URL, query_string={"flt0_0": "reported", "flt1_1": "testing"}).status_code == 200
    row, = audit_rows("export_staff")
    assert {"column": "staff_profile.personnel_type", "op": "equals", "value": "testing"} in row.details["filters"]
    zh = login(DISTRICT_A).get("/admin/audit/?flt0_0=export_staff").get_data(as_text=True)
    assert "人员性质 等于 检测人员" in zh
    en = login(DISTRICT_A).get("/admin/audit/?flt0_0=export_staff&lang=en").get_data(as_text=True)
    assert "Personnel type equals Testing" in en
