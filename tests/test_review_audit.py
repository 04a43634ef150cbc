"""/admin/audit/: read-only, scoped, filterable by actor, action and date, actions in Chinese."""
import re
from datetime import timedelta

import pytest

from admin_app.extensions import db
from admin_app.models import AuditLog
from admin_app.models.types import utcnow
from admin_app.services.audit import describe
from tests.conftest import DISTRICT_A, STAFF_A, SUPER, UNIT_A, UNIT_B
from tests.test_review_support import EXPORT_URL, make_pending, post_action, profile, user

AUDIT = "/admin/audit/"
FILTER = {"action": 0, "actor_phone": 1, "actor_name": 2, "date": 3}


def rows(html):
    return re.findall(r'<tr>\s*<td>\s*<input type="checkbox" name="rowid"', html) or re.findall(
        r'<td class="col-created_at">', html)


@pytest.fixture
def history(login):
    """An approval and an export by unit A's admin, an export by unit B's admin."""
    ids = make_pending(UNIT_A, 2)
    a = login(UNIT_A)
    post_action(a, "approve", ids)
    a.get(EXPORT_URL + "?flt0_0=reported")
    login(UNIT_B).get(EXPORT_URL + "?flt0_0=reported")
    return a


def test_audit_is_scoped_and_in_chinese(history, login):
    html = history.get(AUDIT).get_data(as_text=True)
    assert "审核通过" in html and "导出人员名单" in html
    assert "西城疾控管理员" in html and "朝阳疾控管理员" not in html
    assert len(rows(html)) == 2
    su = login(SUPER).get(AUDIT).get_data(as_text=True)
    assert "朝阳疾控管理员" in su and "西城疾控管理员" in su
    district = login(DISTRICT_A).get(AUDIT).get_data(as_text=True)
    assert "西城疾控管理员" in district and "朝阳疾控管理员" not in district


def test_audit_filters_by_action_actor_and_date(history):
    c = history
    html = c.get(AUDIT, query_string={f"flt0_{FILTER['action']}": "export_staff"}).get_data(as_text=True)
    assert len(rows(html)) == 1 and "导出人员名单" in html
    html = c.get(AUDIT, query_string={f"flt0_{FILTER['actor_phone']}": UNIT_A}).get_data(as_text=True)
    assert len(rows(html)) == 2
    html = c.get(AUDIT, query_string={f"flt0_{FILTER['actor_name']}": "朝阳"}).get_data(as_text=True)
    assert len(rows(html)) == 0
    today = (utcnow() + timedelta(hours=8)).date()
    html = c.get(AUDIT, query_string={f"flt0_{FILTER['date']}": f"{today} to {today}"}).get_data(as_text=True)
    assert len(rows(html)) == 2
    old = today - timedelta(days=30)
    html = c.get(AUDIT, query_string={f"flt0_{FILTER['date']}": f"{old} to {old}"}).get_data(as_text=True)
    assert len(rows(html)) == 0
    html = c.get(AUDIT, query_string={f"flt0_{FILTER['action']}": "%"}).get_data(as_text=True)
    assert len(rows(html)) == 0


def test_audit_is_read_only(history):
    c = history
    row = db.session.query(AuditLog).filter(AuditLog.action == "export_staff",
                                            AuditLog.actor_id == user(UNIT_A).id).one()
    assert c.get(f"{AUDIT}details/?id={row.id}").status_code == 200
    assert c.get(f"{AUDIT}edit/?id={row.id}").status_code in (302, 404)
    assert c.get(f"{AUDIT}new/").status_code in (302, 404)
    c.post(f"{AUDIT}delete/", data={"id": str(row.id)})
    assert db.session.get(AuditLog, row.id) is not None


def test_audit_detail_out_of_scope_is_404(history, login):
    other = db.session.query(AuditLog).filter(AuditLog.actor_id == user(UNIT_B).id).first()
    assert history.get(f"{AUDIT}details/?id={other.id}").status_code == 404


def test_staff_cannot_read_the_audit(login):
    assert login(STAFF_A).get(AUDIT).status_code == 403


def test_audit_list_sql_is_constant(history, count_queries):
    c = history
    c.get(AUDIT)
    with count_queries() as q:
        c.get(AUDIT + "?page_size=20")
    with count_queries() as q2:
        c.get(AUDIT + "?page_size=100")
    assert len(q.statements) == len(q2.statements) <= 6
    assert profile(STAFF_A) is not None


def test_an_audit_row_names_the_document_type_in_words(app):
    with app.test_request_context("/"):
        text = describe("identity_submit", {"id_type": "resident_id", "number": "110101*****318"})
    assert text == "证件类型：居民身份证；证件号码：110101*****318"
