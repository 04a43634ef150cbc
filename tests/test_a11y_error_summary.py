"""A form sent back with errors carries its error summary in the HTML itself (issue 31, WCAG 3.3.1), for a browser
without JavaScript as much as for a screen reader: role="alert", a heading saying how many fields to correct, a link
to each field by its id, and the page title prefixed 错误：. Portal and back office."""
import html
import re

from tests.conftest import DISTRICT_A, STAFF_A, SUPER, UNIT_A
from tests.test_registry_admin import new_application
from tests.test_registry_support import DISTRICT_A_NAME, inst
from tests.test_review_support import ACTION_URL, STAFF_URL, make_pending, snapshot


def summary_of(resp) -> dict | None:
    """The error summary of a response: its heading, its (target id, text) links, the page title; None if absent."""
    page = resp.get_data(as_text=True)
    title = html.unescape(re.search(r"<title>(.*?)</title>", page, re.S).group(1).strip())
    box = re.search(r'<div class="alert alert-danger error-summary" role="alert" tabindex="-1"[^>]*>(.*?)</div>',
                    page, re.S)
    if not box:
        assert not title.startswith("错误："), title
        return None
    links = [(target, html.unescape(re.sub(r"\s+", " ", text)).strip())
             for target, text in re.findall(r'<a href="#([^"]+)">(.*?)</a>', box.group(1), re.S)]
    missing = [t for t, _ in links if not re.search(rf'\sid="{re.escape(t)}"', page)]
    assert missing == [], f"summary links to no element: {missing}"
    heading = re.search(r'<h2[^>]*id="error-summary-title"[^>]*>(.*?)</h2>', box.group(1), re.S)
    return {"heading": html.unescape(heading.group(1)).strip(), "links": links, "title": title}


def test_the_login_form_sent_without_a_password_names_the_field_in_its_summary(client):
    assert summary_of(client.get("/login")) is None
    summary = summary_of(client.post("/login", data={"phone": STAFF_A, "password": "", "captcha": ""}))
    assert summary["title"].startswith("错误：")
    assert summary["heading"] == "表单未提交：有 1 处需要更正"
    assert [t for t, _ in summary["links"]] == ["password"]
    assert summary["links"][0][1].startswith("密码：")


def test_an_empty_sign_up_form_lists_every_field_to_correct(client):
    summary = summary_of(client.post("/register", data={"action": "register"}))
    targets = [t for t, _ in summary["links"]]
    assert {"name", "phone", "password"} <= set(targets), targets
    assert summary["heading"] == f"表单未提交：有 {len(summary['links'])} 处需要更正"
    assert all("：" in text for _, text in summary["links"])


def test_an_empty_institution_application_links_to_its_fields(client):
    summary = summary_of(client.post("/institutions/apply", data={}))
    assert summary and len(summary["links"]) >= 3 and summary["title"].startswith("错误：")


def test_a_staff_profile_sent_empty_links_radio_questions_to_their_group(login):
    staff = login(STAFF_A)
    page = staff.get("/profile")
    assert summary_of(page) is None
    version = re.search(r'name="version"[^>]*value="(\d+)"', page.get_data(as_text=True)).group(1)
    summary = summary_of(staff.post("/profile", data={"version": version}))
    targets = [t for t, _ in summary["links"]]
    assert any(t.endswith("-group") for t in targets), targets  # a yes/no question: its fieldset


def test_a_new_password_left_blank_is_summarised_field_by_field(login):
    staff = login(STAFF_A)
    summary = summary_of(staff.post("/password", data={"old_password": "wrong-one", "password": "",
                                                      "password_confirm": ""}))
    assert summary["links"] == [("password", "新密码：请输入密码。"),
                                ("password_confirm", "确认密码：请再次输入密码。")]
    assert summary["heading"] == "表单未提交：有 2 处需要更正"


def test_a_staff_reject_reason_left_blank_is_summarised_and_nothing_is_written(login):
    ids = make_pending(UNIT_A, 2)
    admin = login(UNIT_A)
    before = snapshot()
    first = admin.post(ACTION_URL, data={"action": "reject", "rowid": [str(i) for i in ids], "url": STAFF_URL})
    assert first.status_code == 200 and summary_of(first) is None  # asked for, not yet refused
    resp = admin.post(ACTION_URL, data={"action": "reject", "rowid": [str(i) for i in ids], "reason": "  ",
                                        "reason_step": "1", "url": STAFF_URL})
    summary = summary_of(resp)
    assert resp.status_code == 400 and summary["title"].startswith("错误：")
    assert [t for t, _ in summary["links"]] == ["reason"] and summary["links"][0][1].startswith("原因：")
    assert snapshot() == before


def test_an_application_refused_without_a_reason_is_summarised_once_sent(login):
    app_row = new_application(inst(DISTRICT_A_NAME))
    admin = login(DISTRICT_A)
    data = {"action": "reject", "rowid": [str(app_row.id)], "url": "/admin/application/"}
    assert summary_of(admin.post("/admin/application/action/", data=data)) is None
    summary = summary_of(admin.post("/admin/application/action/", data={**data, "reason": ""}))
    assert summary and len(summary["links"]) == 1 and summary["title"].startswith("错误：")


def test_the_direct_authorisation_form_sent_empty_is_summarised(login):
    admin = login(DISTRICT_A)
    page = admin.get("/admin/grant/").get_data(as_text=True)
    url = html.unescape(re.search(r'href="(/admin/grant/authorize/\?id=\d+[^"]*)"', page).group(1))
    assert summary_of(admin.get(url)) is None
    summary = summary_of(admin.post(url, data={}))
    assert summary and summary["title"].startswith("错误：") and summary["links"]


def test_a_back_office_create_form_sent_empty_is_summarised(login):
    """A Flask-Admin form (a new programme, platform admin): the stock form gets the same summary."""
    admin = login(SUPER)
    assert summary_of(admin.get("/admin/programme/new/")) is None
    summary = summary_of(admin.post("/admin/programme/new/", data={}))
    assert summary and summary["links"] and summary["title"].startswith("错误：")
