"""业务管理 (/admin/programme/): the platform admin adds, edits and deactivates programmes; bad input is refused."""
from sqlalchemy import func, select

from admin_app.extensions import db
from admin_app.models import AuditLog, Programme
from tests.conftest import DISTRICT_A, SUPER
from tests.test_registry_support import DISTRICT_A_NAME, UNIT_A_NAME, inst

GOOD = {"name": "人才评价", "code": "talent", "description": "卫生人才职称评价", "institutions": DISTRICT_A_NAME}


def programmes_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Programme))


def post_new(client, **changes):
    return client.post("/admin/programme/new/", data={**GOOD, **changes})


def test_the_platform_admin_finds_programmes_in_the_menu_and_adds_one(login):
    client = login(SUPER)
    html = client.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/programme/"' in html and "业务管理" in html
    listing = client.get("/admin/programme/").get_data(as_text=True)
    assert "卫生人员上报" in listing and "全部机构（默认业务）" in listing
    resp = post_new(client, code=" Talent ")
    assert resp.status_code == 302
    p = db.session.scalar(select(Programme).where(Programme.code == "talent"))
    assert (p.name, p.description, p.active, p.is_default) == ("人才评价", "卫生人才职称评价", True, False)
    assert [i.name for i in p.institutions] == [DISTRICT_A_NAME]
    assert db.session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "programme_created")) == 1
    listing = client.get("/admin/programme/").get_data(as_text=True)
    assert "人才评价" in listing and DISTRICT_A_NAME in listing
    audit = client.get("/admin/audit/").get_data(as_text=True)
    assert "添加业务" in audit and "业务代码：talent" in audit and "参与机构编号" in audit


def test_bad_input_is_refused_in_chinese_on_the_form_and_nothing_is_written(login):
    client = login(SUPER)
    assert post_new(client).status_code == 302
    before = programmes_count()
    cases = [({"code": "talent"}, "业务代码 talent 已被其他业务使用"),
             ({"code": "workforce"}, "业务代码 workforce 已被其他业务使用"),
             ({"name": "  "}, "请填写业务名称"),
             ({"code": ""}, "请填写业务代码"),
             ({"code": "人才"}, "业务代码须为 2 至 32 位小写字母"),
             ({"code": "x" * 40}, "业务代码须为 2 至 32 位小写字母"),
             ({"name": "名" * 65}, "业务名称最多 64 个字符"),
             ({"institutions": "不存在的卫生院"}, "未找到机构：不存在的卫生院"),
             ({"institutions": ""}, "请至少填写一个参与机构"),
             ({"institutions": "\n".join(f"机构{i}" for i in range(60))}, "参与机构最多 50 个")]
    for change, message in cases:
        resp = post_new(client, **{"code": "other", **change})
        html = resp.get_data(as_text=True)
        assert resp.status_code == 200 and message in html, (change, html[:300])
        assert "请更正下面标出的项目" in html or "invalid-feedback" in html
    assert programmes_count() == before


def test_institutions_are_found_by_unified_code_and_shown_so_on_edit(login):
    client = login(SUPER)
    unit = inst(UNIT_A_NAME)
    assert post_new(client, institutions=f"{unit.uscc.lower()}\n{DISTRICT_A_NAME}").status_code == 302
    p = db.session.scalar(select(Programme).where(Programme.code == "talent"))
    html = client.get(f"/admin/programme/edit/?id={p.id}").get_data(as_text=True)
    assert f"{inst(DISTRICT_A_NAME).uscc}\n{unit.uscc}</textarea>" in html  # by code, in tree order
    resp = client.post(f"/admin/programme/edit/?id={p.id}", data={**GOOD, "name": "人才评价（新）",
                                                                  "institutions": unit.uscc})
    assert resp.status_code == 302
    db.session.refresh(p)
    assert p.name == "人才评价（新）" and [i.id for i in p.institutions] == [unit.id]


def test_the_default_programme_keeps_its_code_and_takes_part_everywhere(login):
    client = login(SUPER)
    default = db.session.scalar(select(Programme).where(Programme.is_default))
    html = client.get(f"/admin/programme/edit/?id={default.id}").get_data(as_text=True)
    assert 'value="workforce"' in html
    resp = client.post(f"/admin/programme/edit/?id={default.id}",
                       data={"name": "卫生人员上报", "code": "other", "institutions": DISTRICT_A_NAME})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "默认业务的代码不能修改" in html and "默认业务面向全部机构" in html
    assert client.post(f"/admin/programme/edit/?id={default.id}",
                       data={"name": "卫生人员信息上报", "code": "workforce", "institutions": ""}).status_code == 302
    db.session.refresh(default)
    assert default.name == "卫生人员信息上报" and default.code == "workforce"


def test_deactivating_asks_for_confirmation_and_spares_the_default_programme(login):
    client = login(SUPER)
    assert post_new(client).status_code == 302
    p = db.session.scalar(select(Programme).where(Programme.code == "talent"))
    default = db.session.scalar(select(Programme).where(Programme.is_default))
    html = client.get("/admin/programme/").get_data(as_text=True)
    assert "确定停用所选业务吗" in html  # the confirmation the action button asks
    resp = client.post("/admin/programme/action/", data={"action": "deactivate", "rowid": [str(p.id), str(default.id)],
                                                         "url": "/admin/programme/"}, follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert "已停用 1 项业务" in html and "默认业务不能停用" in html
    db.session.refresh(p)
    db.session.refresh(default)
    assert not p.active and default.active
    client.post("/admin/programme/action/", data={"action": "activate", "rowid": str(p.id)})
    db.session.refresh(p)
    assert p.active


def test_officers_cannot_manage_programmes(login):
    client = login(DISTRICT_A)
    assert 'href="/admin/programme/"' not in client.get("/admin/").get_data(as_text=True)
    assert client.get("/admin/programme/").status_code == 403
    before = programmes_count()
    assert post_new(client).status_code == 403
    assert programmes_count() == before


def test_participating_institutions_are_searched_and_added_without_javascript(login):
    client = login(SUPER)
    unit, district = inst(UNIT_A_NAME), inst(DISTRICT_A_NAME)
    form = client.get("/admin/programme/new/").get_data(as_text=True)
    assert 'data-unit-picker data-url="/api/institutions"' in form and 'name="institutions_q"' in form
    # Search: the matches come back in the picker's list; nothing is saved
    html = client.post("/admin/programme/new/", data={**GOOD, "institutions": "", "institutions_q": "西城疾控",
                                                      "find_unit": "institutions"}).get_data(as_text=True)
    assert f'value="{unit.id}" data-line="{unit.uscc}"' in html and programmes_count() == 1
    # Add: the chosen one becomes a line of the list (once), by its unified code; then Save
    data = {**GOOD, "institutions": DISTRICT_A_NAME, "institutions_pick": str(unit.id), "add_unit": "institutions"}
    html = client.post("/admin/programme/new/", data=data).get_data(as_text=True)
    assert f"{DISTRICT_A_NAME}\n{unit.uscc}</textarea>" in html and programmes_count() == 1
    html = client.post("/admin/programme/new/", data={**data, "institutions": f"{DISTRICT_A_NAME}\n{unit.uscc}"}
                       ).get_data(as_text=True)
    assert f"{DISTRICT_A_NAME}\n{unit.uscc}</textarea>" in html  # added once
    assert client.post("/admin/programme/new/", data={**GOOD, "institutions": f"{DISTRICT_A_NAME}\n{unit.uscc}"}
                       ).status_code == 302
    p = db.session.scalar(select(Programme).where(Programme.code == "talent"))
    assert {i.id for i in p.institutions} == {unit.id, district.id}
    # a hostile search or pick is answered on the form, never a 500
    for extra in ({"institutions_q": "张" * 300, "find_unit": "1"}, {"institutions_pick": "x' OR 1=1", "add_unit": "1"},
                  {"institutions_q": "%_\\", "find_unit": "1"}):
        resp = client.post(f"/admin/programme/edit/?id={p.id}", data={**GOOD, **extra})
        assert resp.status_code == 200, extra
