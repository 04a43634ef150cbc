"""Big exports as background jobs (issue 5): same rows as the grid, progress, owner-only download, expiry."""
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from admin_app.extensions import db
from admin_app.models import ExportJob, StaffProfile
from admin_app.models.types import utcnow
from admin_app.services import jobs
from tests.conftest import DISTRICT_A, DISTRICT_B, PROVINCE, SUPER, UNIT_A
from tests.test_commission_review import INST_FLT, inst, subtree_ids
from tests.test_review_export import read
from tests.test_review_support import EXPORT_URL, audit_rows, user


@pytest.fixture
def job_app(app, tmp_path):
    app.config.update(EXPORT_JOB_THRESHOLD=5, EXPORT_FOLDER=str(tmp_path / "exports"), JOB_BACKEND="thread")
    return app


def start(client, **args) -> str:
    resp = client.get(EXPORT_URL, query_string={"flt0_0": "reported", **args})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    loc = resp.headers["Location"]
    assert "/admin/staff/jobs/" in loc
    job_id = loc.rstrip("/").rsplit("/", 1)[1]
    jobs.wait(job_id, timeout=60)
    return job_id


def status(client, job_id):
    resp = client.get(f"/admin/staff/jobs/{job_id}.json")
    return resp.status_code, (json.loads(resp.get_data(as_text=True)) if resp.status_code == 200 else None)


def phones_in(resp) -> set[str]:
    _ws, header, rows = read(resp)
    i = header.index("手机号码") if "手机号码" in header else header.index("手机号")
    return {r[i] for r in rows}


def phones_of(ids) -> set[str]:
    return set(db.session.scalars(select(StaffProfile.phone).where(StaffProfile.id.in_(ids))))


def test_a_big_export_runs_as_a_job_with_the_grids_rows(job_app, login):
    c = login(DISTRICT_A)
    job_id = start(c)
    code, s = status(c, job_id)
    want = subtree_ids(inst("北京市西城区卫生健康委员会"))
    assert code == 200 and s["status"] == "done" and s["done"] == s["total"] == len(want) and s["percent"] == 100
    page = c.get(f"/admin/staff/jobs/{job_id}").get_data(as_text=True)
    assert 'id="export-progress"' in page and f"/admin/staff/jobs/{job_id}.json" in page and "下载" in page
    resp = c.get(s["download_url"])
    assert phones_in(resp) == phones_of(want)
    audit, = audit_rows("export_staff")
    assert audit.details["rows"] == len(want) and audit.details["job"] == job_id
    assert audit.actor_id == user(DISTRICT_A).id and audit.details["filters"]
    job = db.session.get(ExportJob, job_id)
    assert job.owner_id == user(DISTRICT_A).id and job.finished_at and job.expires_at > utcnow() + timedelta(hours=23)


def test_the_job_applies_the_same_filters_and_scope(job_app, login):
    job_app.config["EXPORT_JOB_THRESHOLD"] = 0  # every non-empty export runs as a job here
    unit = inst("北京市西城区疾病预防控制中心")
    c = login(PROVINCE)
    job_id = start(c, **{f"flt1_{INST_FLT}": unit.id, "flt2_0": "unit_approved"})
    _code, s = status(c, job_id)
    want = subtree_ids(unit, "unit_approved")
    assert want and s["total"] == len(want)
    assert phones_in(c.get(s["download_url"])) == phones_of(want)
    # A province officer's job over everything: both districts, nothing from Guangdong.
    job_id = start(c)
    _code, s = status(c, job_id)
    assert phones_in(c.get(s["download_url"])) == phones_of(subtree_ids(inst("北京市卫生健康委员会")))


def test_someone_elses_job_is_404_but_the_superuser_may_fetch_it(job_app, login):
    a = login(DISTRICT_A)
    job_id = start(a)
    for phone in (DISTRICT_B, PROVINCE, UNIT_A):
        other = login(phone)
        assert other.get(f"/admin/staff/jobs/{job_id}").status_code == 404
        assert other.get(f"/admin/staff/jobs/{job_id}.json").status_code == 404
        assert other.get(f"/admin/staff/jobs/{job_id}/download").status_code == 404
    su = login(SUPER)
    assert su.get(f"/admin/staff/jobs/{job_id}/download").status_code == 200
    for bad in ("0" * 32, "zz" * 16, "abc", job_id.upper()):
        assert a.get(f"/admin/staff/jobs/{bad}.json").status_code == 404


def test_expired_jobs_are_gone_and_their_files_removed(job_app, login):
    c = login(DISTRICT_A)
    job_id = start(c)
    job = db.session.get(ExportJob, job_id)
    path = Path(job.file_path)
    assert path.exists()
    job.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert c.get(f"/admin/staff/jobs/{job_id}.json").status_code == 404
    assert jobs.cleanup() == 1
    assert not path.exists() and db.session.get(ExportJob, job_id) is None


def test_progress_is_written_while_the_file_is_written(job_app, login, monkeypatch):
    seen = []
    real = jobs._set

    def spy(job_id, **values):
        seen.append(values)
        real(job_id, **values)

    monkeypatch.setattr(jobs, "_set", spy)
    monkeypatch.setattr("admin_app.services.export.PROGRESS_EVERY", 10)
    c = login(PROVINCE)
    start(c)
    statuses = [v.get("status") for v in seen if "status" in v]
    assert statuses == ["running", "done"]
    dones = [v["done"] for v in seen if "done" in v and "status" not in v]
    assert dones[0] == 0 and 10 in dones and dones == sorted(dones)


def test_small_exports_still_stream_in_the_request(app, login):
    app.config["EXPORT_JOB_THRESHOLD"] = 50_000
    resp = login(DISTRICT_A).get(EXPORT_URL, query_string={"flt0_0": "reported"})
    assert resp.status_code == 200 and not db.session.scalars(select(ExportJob)).all()


def test_a_failing_job_is_marked_failed(job_app, login, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr("admin_app.services.export.write_staff_xlsx", boom)
    c = login(DISTRICT_A)
    job_id = start(c)
    code, s = status(c, job_id)
    assert s["status"] == "failed" and s["download_url"] is None and s["error"]
    assert c.get(f"/admin/staff/jobs/{job_id}/download").status_code == 404
