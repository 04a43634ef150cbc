"""Public registry pages: library search, new-institution application (补增申请), status query."""
import pytest

from admin_app.extensions import db
from admin_app.models import AuditLog, InstitutionApplication
from tests.test_registry_support import (
    DISTRICT_A_NAME,
    HOSPITAL_A_NAME,
    applications,
    audits,
    count,
    inst,
    sms,
    uscc_for,
    wrong,
)

__all__ = ["sms"]  # the fixture, re-exported for pytest

PHONE = "13912340001"


def apply_data(code: str, **over) -> dict:
    data = dict(name="北京市西城区示范诊所", uscc=uscc_for(1), parent_id=str(inst(DISTRICT_A_NAME).id),
                category="primary_care", province="110000", city="110100", county="110102",
                address="西城区示范路1号", contact_name="王明", contact_phone=PHONE, sms_code=code, agree="y")
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


# -------------------------------------------------------------------------------------------- search

def test_search_page_and_empty_state(client):
    resp = client.get("/institutions/search")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'name="q"' in html and 'name="parent"' in html and "registry-results" not in html
    html = client.get("/institutions/search?q=不存在的机构名称").get_data(as_text=True)
    assert "registry-empty" in html and "/institutions/apply" in html
    assert "机构库中没有" in html or "没有与" in html


@pytest.mark.parametrize("q", ["西城区疾病预防", "bjxc", "BJXCQ"])
def test_search_by_fragment_and_initials(client, q):
    html = client.get("/institutions/search", query_string={"q": q}).get_data(as_text=True)
    assert "北京市西城区疾病预防控制中心" in html
    assert DISTRICT_A_NAME in html  # the supervising unit is shown
    assert "疾控中心" in html and "西城区" in html  # category and region


def test_search_by_supervising_institution_and_paging(client):
    html = client.get("/institutions/search", query_string={"parent": "西城区卫生健康"}).get_data(as_text=True)
    assert HOSPITAL_A_NAME in html and "北京市朝阳区人民医院" not in html
    page1 = client.get("/institutions/search", query_string={"q": "北京"}).get_data(as_text=True)
    assert "page=2" in page1
    page2 = client.get("/institutions/search", query_string={"q": "北京", "page": 2}).get_data(as_text=True)
    assert "registry-results" in page2 and "page=1" in page2


# --------------------------------------------------------------------------------------------- apply

def test_apply_form_has_every_field(client):
    html = client.get("/institutions/apply").get_data(as_text=True)
    for name in ("name", "uscc", "parent_q", "parent_id", "category", "province", "city", "county", "address",
                 "contact_name", "contact_phone", "sms_code", "agree"):
        assert f'name="{name}"' in html, name
    for fid in ("name", "uscc", "category", "address", "contact_name", "contact_phone", "sms_code", "agree"):
        assert f'for="{fid}"' in html, fid  # every input labelled


def test_apply_happy_path_without_javascript(app, client, sms):
    # 1. the parent picker: search, then the select offers the matches
    html = client.post("/institutions/apply",
                       data={"parent_q": "西城区卫生", "find_parent": "1"}).get_data(as_text=True)
    district = inst(DISTRICT_A_NAME)
    assert f'value="{district.id}"' in html
    # 2. the region cascade: province → cities → counties without JS
    html = client.post("/institutions/apply", data={"province": "110000", "refresh": "1"}).get_data(as_text=True)
    assert 'value="110100"' in html
    html = client.post("/institutions/apply", data={"province": "110000", "city": "110100", "refresh": "1"}
                       ).get_data(as_text=True)
    assert 'value="110102"' in html
    # 3. the SMS code to the contact phone, by the form's own button
    resp = client.post("/institutions/apply", data={"contact_phone": PHONE, "send_sms": "1"})
    assert resp.status_code == 200 and "验证码已发送" in resp.get_data(as_text=True)
    code = sms.last(PHONE, "institution")
    assert code
    # 4. submit
    resp = client.post("/institutions/apply", data=apply_data(code))
    assert resp.status_code == 302 and "/institutions/status" in resp.headers["Location"]
    [row] = applications()
    assert (row.name, row.status, row.parent_id, row.region_code, row.uscc) == (
        "北京市西城区示范诊所", "pending", district.id, "110102", uscc_for(1))
    assert audits("application_submitted") == 1


def _refused(client, data, message):
    before = (count(InstitutionApplication), count(AuditLog))
    resp = client.post("/institutions/apply", data=data)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200, resp.status_code
    assert message in html, html[html.find("alert"):][:600]
    assert (count(InstitutionApplication), count(AuditLog)) == before
    return html


def test_apply_invalid_uscc(client, sms):
    code = sms.send(PHONE, "institution")
    _refused(client, apply_data(code, uscc="91110102MA01ABCD1X"), "统一社会信用代码无效")
    bad = uscc_for(1)[:-1] + ("0" if uscc_for(1)[-1] != "0" else "1")
    _refused(client, apply_data(code, uscc=bad), "统一社会信用代码无效")


def test_apply_missing_agreement_and_fields(client, sms):
    code = sms.send(PHONE, "institution")
    _refused(client, apply_data(code, agree=None), "请阅读并同意")
    _refused(client, apply_data(code, address=""), "请输入地址")
    _refused(client, apply_data(code, parent_id=""), "请选择主管单位")
    _refused(client, apply_data(code, county=""), "请选择区县")
    # the SMS code was never consumed by the refused attempts
    resp = client.post("/institutions/apply", data=apply_data(code))
    assert resp.status_code == 302


def test_apply_wrong_sms_code(client, sms):
    code = sms.send(PHONE, "institution")
    _refused(client, apply_data(wrong(code)), "验证码错误")


def test_apply_duplicate_of_library(client, sms):
    code = sms.send(PHONE, "institution")
    # same name under the same parent
    html = _refused(client, apply_data(code, name=HOSPITAL_A_NAME), "已在机构库中")
    assert 'data-duplicate="institution"' in html and "/institutions/search?q=" in html
    # same USCC as a library institution (under another parent)
    other = inst("北京市朝阳区人民医院")
    other.uscc = uscc_for(77)
    db.session.commit()
    _refused(client, apply_data(code, uscc=uscc_for(77)), "已在机构库中")
    # the code is still good: nothing consumed it
    assert client.post("/institutions/apply", data=apply_data(code)).status_code == 302


def test_apply_duplicate_of_pending_application(client, sms):
    code = sms.send(PHONE, "institution")
    assert client.post("/institutions/apply", data=apply_data(code)).status_code == 302
    code = sms.send(PHONE, "institution")
    html = _refused(client, apply_data(code, name="另一个名称"), "待审核")  # same USCC
    assert 'data-duplicate="application"' in html
    _refused(client, apply_data(code, uscc=uscc_for(2)), "待审核")  # same name, same parent


def test_apply_duplicate_blocked_by_the_database_too(app):
    """Two pending twins cannot both be stored (partial unique indexes), whatever the checks saw."""
    from sqlalchemy.exc import IntegrityError

    district = inst(DISTRICT_A_NAME)
    row = dict(name="X诊所", uscc=uscc_for(5), parent_id=district.id, category="other", region_code="110102",
               address="a", contact_name="b", contact_phone=PHONE, status="pending")
    db.session.add(InstitutionApplication(**row))
    db.session.commit()
    db.session.add(InstitutionApplication(**{**row, "name": "Y诊所"}))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    db.session.add(InstitutionApplication(**{**row, "status": "rejected"}))  # a refused twin is fine
    db.session.commit()


# -------------------------------------------------------------------------------------------- status

def _submit(client, sms, **over):
    code = sms.send(PHONE, "institution")
    assert client.post("/institutions/apply", data=apply_data(code, **over)).status_code == 302
    return applications(InstitutionApplication.contact_phone == PHONE)[-1]


def test_status_by_phone_needs_its_sms_code(client, sms):
    _submit(client, sms)
    html = client.get("/institutions/status").get_data(as_text=True)
    for name in ("phone", "sms_code", "parent_id", "name", "mode"):
        assert f'name="{name}"' in html
    resp = client.post("/institutions/status", data={"mode": "phone", "phone": PHONE, "sms_code": ""})
    page = resp.get_data(as_text=True)
    assert "请输入短信验证码" in page and "data-application-status" not in page
    resp = client.post("/institutions/status", data={"mode": "phone", "phone": PHONE, "send_sms": "1"})
    assert "验证码已发送" in resp.get_data(as_text=True)
    code = sms.last(PHONE, "institution")
    html = client.post("/institutions/status", data={"mode": "phone", "phone": PHONE, "sms_code": wrong(code)}
                       ).get_data(as_text=True)
    assert "验证码错误" in html and "data-application-status" not in html
    html = client.post("/institutions/status", data={"mode": "phone", "phone": PHONE, "sms_code": code}
                       ).get_data(as_text=True)
    assert 'data-application-status="pending"' in html and "待审核" in html


def test_status_by_parent_and_full_name(client, sms):
    from admin_app.services import applications as svc
    from admin_app.services.scope import Scope

    app_row = _submit(client, sms)
    district = inst(DISTRICT_A_NAME)
    query = {"mode": "name", "parent_id": str(district.id), "name": "北京市西城区示范诊所"}
    html = client.post("/institutions/status", data=query).get_data(as_text=True)
    assert 'data-application-status="pending"' in html
    svc.reject(Scope(user_id=None, is_superuser=True), type("A", (), {"id": None})(), [app_row.id], "名称与证照不符")
    html = client.post("/institutions/status", data=query).get_data(as_text=True)
    assert 'data-application-status="rejected"' in html and "已拒绝" in html and "名称与证照不符" in html
    # a partial name finds nothing (full name required); a library institution counts as 已收录
    html = client.post("/institutions/status", data={**query, "name": "示范诊所"}).get_data(as_text=True)
    assert "未找到申请" in html
    html = client.post("/institutions/status", data={**query, "name": HOSPITAL_A_NAME}).get_data(as_text=True)
    assert 'data-application-status="included"' in html and "已收录" in html


# ---------------------------------------------------------------------------------------- page hygiene

@pytest.mark.parametrize("path", ["/institutions/search?q=bjxc", "/institutions/apply", "/institutions/status"])
def test_public_pages_have_no_inline_scripts(client, path):
    import re

    html = client.get(path).get_data(as_text=True)
    for attrs in re.findall(r"<script([^>]*)>", html):
        assert "src=" in attrs or "nonce=" in attrs, attrs
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers (the CSP forbids them)
    assert 'name="viewport"' in html


def test_apply_final_submits_are_rate_limited(template_db, tmp_path):
    """Final submits count against REGISTRY_APPLY_LIMIT; the no-JS picker buttons do not."""
    from tests.conftest import clone_demo, make_app

    application = make_app(tmp_path, clone_demo(template_db, tmp_path), RATELIMIT_ENABLED=True,
                           REGISTRY_APPLY_LIMIT="2 per hour")
    with application.app_context():
        c = application.test_client()
        for _ in range(4):
            assert c.post("/institutions/apply", data={"province": "110000", "refresh": "1"}).status_code == 200
        codes = [c.post("/institutions/apply", data={"name": "x"}).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        assert "请求过于频繁" in c.post("/institutions/apply", data={"name": "x"}).get_data(as_text=True)
        db.session.remove()
        db.engine.dispose()
