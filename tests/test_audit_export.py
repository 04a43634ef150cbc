"""The audit trail leaves the screen (issue 29): /admin/audit/ exports its scoped, filtered rows with the staff
grid's machinery (a job when large, print setup, formula-safe, itself audited, the requester's address kept)."""
import io
import re

import pytest
from openpyxl import load_workbook

from admin_app.extensions import db
from admin_app.models import AuditLog
from admin_app.services import jobs
from tests.conftest import DISTRICT_A, DISTRICT_B, PROVINCE, UNIT_A, UNIT_B
from tests.test_export_print import assert_print_setup
from tests.test_review_support import EXPORT_URL, audit_rows, user

AUDIT_URL = "/admin/audit/"
AUDIT_EXPORT_URL = "/admin/audit/export/xlsx/"


def read(resp):
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    ws = load_workbook(io.BytesIO(resp.get_data())).active
    rows = list(ws.iter_rows(values_only=True))
    return ws, list(rows[0]), rows[1:]


def exports_by_both_units(login):
    """An event in each sibling district: unit A's and unit B's admins export their lists."""
    for phone in (UNIT_A, UNIT_B):
        assert login(phone).get(EXPORT_URL).status_code == 200


def test_the_audit_grid_offers_an_excel_export_with_its_filters(login):
    html = login(DISTRICT_A).get(AUDIT_URL + "?flt0_0=export_staff").get_data(as_text=True)
    link = re.search(r'<a class="nav-link export-xlsx" href="([^"]+)"[^>]*>导出 Excel</a>', html)
    assert link and link.group(1).replace("&amp;", "&").startswith(AUDIT_EXPORT_URL + "?")
    assert "flt0_0=export_staff" in link.group(1)


def test_a_district_officers_file_never_holds_a_sibling_districts_events(login):
    exports_by_both_units(login)
    ws, header, rows = read(login(DISTRICT_A).get(AUDIT_EXPORT_URL))
    phones = {r[header.index("手机号")] for r in rows}
    assert UNIT_A in phones and UNIT_B not in phones
    ws, header, rows = read(login(DISTRICT_B).get(AUDIT_EXPORT_URL))
    phones = {r[header.index("手机号")] for r in rows}
    assert UNIT_B in phones and UNIT_A not in phones
    # the province above both sees both
    ws, header, rows = read(login(PROVINCE).get(AUDIT_EXPORT_URL))
    assert {UNIT_A, UNIT_B} <= {r[header.index("手机号")] for r in rows}


def test_the_audit_file_follows_the_grids_filter_and_is_set_up_for_print(login):
    exports_by_both_units(login)
    c = login(PROVINCE)
    resp = c.get(AUDIT_EXPORT_URL, query_string={"flt0_0": "export_staff"})
    ws, header, rows = read(resp)
    assert header == ["时间", "操作人", "手机号", "操作", "对象类型", "对象", "所属单位", "详情", "IP 地址"]
    assert rows and {r[header.index("操作")] for r in rows} == {"导出人员名单"}
    assert_print_setup(ws, len(header), len(rows), "北京市卫生健康委员会")
    disposition = resp.headers["Content-Disposition"]
    assert re.match(r"attachment; filename=audit-log-[0-9A-Za-z]+-\d{8}-\d{4}\.xlsx; filename\*=UTF-8''", disposition)


def test_the_audit_export_is_itself_audited_with_codes_not_words(login):
    c = login(DISTRICT_A)
    read(c.get(AUDIT_EXPORT_URL, query_string={"flt0_0": "export_staff"}))
    row, = audit_rows("export_audit")
    assert row.actor_id == user(DISTRICT_A).id and row.ip == "127.0.0.1"
    assert row.details["filters"] == [{"column": "audit_log.action", "op": "equals", "value": "export_staff"}]
    html = c.get(AUDIT_URL + "?flt0_0=export_audit").get_data(as_text=True)
    assert "操作 等于 导出人员名单" in html


@pytest.mark.parametrize("payload", ['=HYPERLINK("http://evil","x")', "+1+1", "@SUM(A1)"])
def test_formula_like_audit_text_stays_text(login, payload):
    db.session.add(AuditLog(action="export_staff", target_id=payload, institution_id=user(UNIT_A).institution_id,
                            details={"search": payload}, ip="10.0.0.1"))
    db.session.commit()
    ws, header, rows = read(login(DISTRICT_A).get(AUDIT_EXPORT_URL))
    i = next(n for n, r in enumerate(rows) if r[header.index("对象")] == payload)
    cell = ws.cell(row=i + 2, column=header.index("对象") + 1)
    assert cell.data_type == "s" and cell.quotePrefix


@pytest.fixture
def job_app(app, tmp_path):
    app.config.update(EXPORT_FOLDER=str(tmp_path / "exports"), JOB_BACKEND="thread")
    return app


def test_a_large_audit_export_runs_as_a_job_audited_with_the_requesters_address(job_app, login):
    exports_by_both_units(login)
    job_app.config["EXPORT_JOB_THRESHOLD"] = 0
    c = login(DISTRICT_A)
    resp = c.get(AUDIT_EXPORT_URL, environ_base={"REMOTE_ADDR": "10.20.30.40"})
    assert resp.status_code == 302 and "/admin/audit/jobs/" in resp.headers["Location"]
    job_id = resp.headers["Location"].rstrip("/").rsplit("/", 1)[1]
    jobs.wait(job_id, timeout=60)
    assert "正在导出审计日志" in c.get(f"/admin/audit/jobs/{job_id}").get_data(as_text=True)
    resp = c.get(f"/admin/audit/jobs/{job_id}/download")
    ws, header, rows = read(resp)
    phones = {r[header.index("手机号")] for r in rows}
    assert UNIT_A in phones and UNIT_B not in phones
    assert resp.headers["Content-Disposition"].startswith("attachment; filename=audit-log-")
    row, = audit_rows("export_audit")
    assert row.ip == "10.20.30.40" and row.details["job"] == job_id
    # a staff-list job page does not serve an audit job, nor another officer
    assert c.get(f"/admin/staff/jobs/{job_id}").status_code == 404
    assert login(DISTRICT_B).get(f"/admin/audit/jobs/{job_id}/download").status_code == 404


def test_an_audit_export_job_keeps_validated_criteria_not_the_request_and_writes_the_filtered_rows(job_app, login):
    from admin_app.models import ExportJob

    exports_by_both_units(login)
    job_app.config["EXPORT_JOB_THRESHOLD"] = 0
    c = login(DISTRICT_A)
    resp = c.get(AUDIT_EXPORT_URL, query_string={"flt0_0": "export_staff", "sort": "1", "desc": "1",
                                                 "unknown": "x" * 40})
    job_id = resp.headers["Location"].rstrip("/").rsplit("/", 1)[1]
    params = db.session.get(ExportJob, job_id).params
    assert "args" not in params and "x" * 40 not in str(params)  # the job never sees the raw query string
    assert params["criteria"] == [{"column": "audit_log.action", "op": "equals", "value": "export_staff"}]
    assert (params["sort"], params["desc"]) == (1, True)
    jobs.wait(job_id, timeout=60)
    ws, header, rows = read(c.get(f"/admin/audit/jobs/{job_id}/download"))
    assert rows and {r[header.index("操作")] for r in rows} == {"导出人员名单"}
    row, = audit_rows("export_audit")
    assert row.details["filters"] == params["criteria"] and row.details["job"] == job_id


def test_an_audit_export_job_with_a_criterion_the_grid_refuses_fails_rather_than_widen(job_app, login):
    from admin_app.models import ExportJob

    exports_by_both_units(login)
    job_app.config["EXPORT_JOB_THRESHOLD"] = 0
    c = login(DISTRICT_A)
    job_id = c.get(AUDIT_EXPORT_URL).headers["Location"].rstrip("/").rsplit("/", 1)[1]
    jobs.wait(job_id, timeout=60)
    job = db.session.get(ExportJob, job_id)
    forged = jobs.enqueue("audit_xlsx", {**job.params, "criteria": [
        {"column": "user.phone", "op": "equals", "value": " " * 3}]}, user(DISTRICT_A))
    jobs.wait(forged, timeout=60)
    db.session.expire_all()
    assert db.session.get(ExportJob, forged).status == "failed"
    assert c.get(f"/admin/audit/jobs/{forged}.json").get_json()["error"]
