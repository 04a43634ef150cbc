"""The health-talent manual's user at home (issue 25): real-name status on /me, one personal-centre navigation,
the menu under one's name (portal and back office), the work-unit card, 业务入口, and the way to register a unit."""
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select
from stdnum.cn import uscc

from admin_app.extensions import db
from admin_app.models import Institution, User
from admin_app.seed import demo_uscc
from admin_app.services import verification
from tests.conftest import DEMO_PASSWORD, STAFF_A, UNIT_A, csrf_token_from
from tests.test_identity_helpers import post_verify, requests_of, user_by_phone

UNIT_A_NAME = "北京市西城区疾病预防控制中心"
PORTAL_PAGES = ("/me", "/account", "/profile", "/password", "/verify", "/grants/bind", "/sessions")
NAV = {"/me": "个人信息中心", "/account": "账户信息", "/profile": "个人档案", "/verify": "实名认证",
       "/password": "修改密码", "/sessions": "登录设备", "/grants/bind": "添加业务"}


class Links(HTMLParser):
    """Every <a> of a page as (href, text, attrs), and the region each stands in (nav / user menu / other)."""

    def __init__(self, html: str):
        super().__init__()
        self.links, self._open, self._stack = [], None, []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("nav", "details"):
            self._stack.append("menu" if tag == "details" else
                               "nav" if "portal-nav" in (a.get("class") or "") else "top")
        if tag == "a":
            self._open = [a.get("href"), "", a, self._stack[-1] if self._stack else "page"]

    def handle_endtag(self, tag):
        if tag in ("nav", "details") and self._stack:
            self._stack.pop()
        if tag == "a" and self._open:
            self._open[1] = self._open[1].strip()
            self.links.append(tuple(self._open))
            self._open = None

    def handle_data(self, data):
        if self._open:
            self._open[1] += data

    def in_(self, region: str) -> dict[str, tuple]:
        return {href: (text, attrs) for href, text, attrs, where in self.links if where == region}


def page(client, path: str) -> str:
    resp = client.get(path)
    assert resp.status_code == 200, (path, resp.status_code)
    return resp.get_data(as_text=True)


def identity_block(html: str) -> str:
    start = html.index("data-identity-status=")
    return html[start:start + 1200]


def verified_staff(app, client) -> None:
    """Staff A submits a verification and a platform admin approves it."""
    post_verify(client)
    req = requests_of(user_by_phone(STAFF_A))[-1]
    verification.approve([req.id], None, verification.SYSTEM_SCOPE)


# --------------------------------------------------------------------------------------- real-name status

def test_an_unverified_staff_member_sees_unverified_and_the_way_to_verify(login):
    html = page(login(STAFF_A), "/me")
    block = identity_block(html)
    assert 'data-identity-status="unverified"' in block and "未认证" in block
    assert Links(html).in_("page")["/verify"][0] == "去认证"
    assert 'data-status="submitted"' in html  # the profile's own status stays as it was


def test_after_submitting_the_staff_member_sees_pending_review_and_no_second_form(login):
    client = login(STAFF_A)
    post_verify(client)
    html = page(client, "/me")
    block = identity_block(html)
    assert 'data-identity-status="pending"' in block and "待审核" in block
    assert "去认证" not in block and "重新提交" not in block
    assert "审核通过后实名状态将自动变更为认证成功" in html


def test_a_rejected_verification_shows_the_reviewers_reason_and_resubmit(app, login):
    client = login(STAFF_A)
    post_verify(client)
    req = requests_of(user_by_phone(STAFF_A))[-1]
    verification.reject([req.id], None, verification.SYSTEM_SCOPE, "证件照片模糊，请重新拍摄")
    html = page(client, "/me")
    assert 'data-identity-status="rejected"' in html and "认证失败" in identity_block(html)
    assert "认证失败原因：" in html and "证件照片模糊，请重新拍摄" in html
    assert Links(html).in_("page")["/verify"][0] == "重新提交"


def test_a_verified_staff_member_sees_success_and_finds_add_business(app, login):
    client = login(STAFF_A)
    html = page(client, "/me")
    assert "/grants/bind" not in Links(html).in_("page") and "/grants/bind" not in Links(html).in_("nav")
    verified_staff(app, client)
    html = page(client, "/me")
    assert 'data-identity-status="verified"' in html and "认证成功" in identity_block(html)
    links = Links(html)
    assert links.in_("page")["/grants/bind"][0] == "添加业务"
    assert links.in_("nav")["/grants/bind"][0] == "添加业务"
    assert "/admin/" not in links.in_("page")  # staff hold no admin rights


# --------------------------------------------------------------------------------- told once, never blocked

def test_signing_in_unverified_is_told_to_verify_and_lands_where_it_always_did(client):
    resp = client.post("/login", data={"phone": STAFF_A, "password": DEMO_PASSWORD, "captcha": ""})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/me")
    html = page(client, "/me")
    assert "您尚未完成实名认证，请按提示进行实名认证。" in html and "data-verify-prompt" in html
    assert html.count("data-verify-prompt") == 1
    assert "您尚未完成实名认证" not in page(client, "/profile")  # once, not on every page
    assert client.get("/account").status_code == 200 and client.get("/profile").status_code == 200


def test_signing_in_verified_is_not_asked_to_verify(client):
    client.post("/login", data={"phone": UNIT_A, "password": DEMO_PASSWORD, "captcha": ""})
    assert "data-verify-prompt" not in page(client, "/admin/")


def test_signing_up_is_told_to_verify(app, client):
    from tests.conftest import outbox_code

    phone = "13912345678"
    html = page(client, "/register")
    client.post("/sms/send", data={"phone": phone, "purpose": "register"},
                headers={"X-CSRFToken": csrf_token_from(html)})
    resp = client.post("/register", data={"name": "王新人", "phone": phone, "password": "Wang2026pass",
                                          "password_confirm": "Wang2026pass", "sms_code": outbox_code(app, phone)})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/account")
    html = page(client, "/account")
    assert "请按提示进行实名认证" in html and Links(html).in_("page")["/verify"][0] == "去认证"


# ------------------------------------------------------------------------------------------- navigation

@pytest.mark.parametrize("path", PORTAL_PAGES)
def test_every_personal_centre_page_carries_the_same_navigation_with_the_current_one_marked(login, path):
    html = page(login(UNIT_A), path)  # verified: 添加业务 is among the tabs
    nav = Links(html).in_("nav")
    assert {href: text for href, (text, _a) in nav.items()} == NAV
    current = [href for href, (_t, attrs) in nav.items() if attrs.get("aria-current") == "page"]
    assert current == [path]


def test_an_unverified_user_on_the_add_business_page_still_sees_where_he_is(login):
    nav = Links(page(login(STAFF_A), "/grants/bind")).in_("nav")
    assert nav["/grants/bind"][1].get("aria-current") == "page"
    assert "/grants/bind" not in Links(page(login(STAFF_A), "/me")).in_("nav")


def test_the_name_menu_of_the_portal_offers_the_manuals_entries_and_a_post_logout(login):
    html = page(login(STAFF_A), "/account")
    menu = Links(html).in_("menu")
    assert [text for text, _a in menu.values()] == ["个人信息中心", "修改密码", "修改账户信息", "编辑档案", "登录设备",
                                                    "帮助"]
    assert menu["/account"][1].get("aria-current") == "page"
    assert "张晓明" in html[html.index("<summary"):html.index("</summary>")]
    form = html[html.index("user-menu-divider"):]
    assert 'action="/logout"' in form[:400] and 'name="csrf_token"' in form[:400] and ">退出<" in form[:600]


def test_an_admin_reaches_his_own_personal_centre_from_the_back_office(login):
    client = login(UNIT_A)
    html = page(client, "/admin/")
    menu = Links(html).in_("menu")
    assert {"/me", "/password", "/account", "/profile", "/sessions"} <= set(menu)
    assert menu["/me"][0] == "个人信息中心" and ">退出<" in html
    me = page(client, "/me")
    links = Links(me).in_("page")
    assert links["/admin/"][0] == "进入管理后台" and links["/grants/bind"][0] == "添加业务"
    assert "业务负责人" in me and UNIT_A_NAME in me  # the business he leads


def test_the_back_office_is_offered_to_admins_only(login):
    assert "/admin/" not in Links(page(login(STAFF_A), "/me")).in_("menu")
    assert Links(page(login(UNIT_A), "/me")).in_("menu")["/admin/"][0] == "管理后台"


def test_signing_out_from_the_menu_ends_the_session(login):
    client = login(STAFF_A)
    token = csrf_token_from(page(client, "/me"))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/me").status_code == 302


# ------------------------------------------------------------------------------------------- work unit

def test_the_work_unit_card_shows_code_supervisor_and_category_and_links_to_change(login):
    html = page(login(STAFF_A), "/me")
    card = html[html.index('id="work-unit"'):html.index('id="business"')]
    unit = db.session.scalars(select(Institution).where(Institution.name == UNIT_A_NAME)).one()
    for text in ("工作单位", UNIT_A_NAME, "机构编码", unit.uscc, "主管单位", "北京市西城区卫生健康委员会",
                 "机构类别", "疾控中心"):
        assert text in card, text
    assert Links(card).in_("page")["/account"][0] == "修改工作单位"


# ------------------------------------------------------------------------------- an empty unit search

def test_an_empty_unit_search_says_so_and_points_to_registration_saving_nothing(login):
    client = login(STAFF_A)
    before = db.session.execute(select(User.name, User.institution_id, User.department)
                                .where(User.phone == STAFF_A)).one()
    html = page(client, "/account")
    resp = client.post("/account", data={"csrf_token": csrf_token_from(html), "action": "search",
                                         "institution_q": "火星第一人民医院", "name": "改了的名字"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "未搜索到单位" in html
    empty = html[html.index("data-unit-empty"):]
    empty = empty[:empty.index("</div>")]
    assert "hidden" not in empty.split(">")[0]
    links = Links(empty).in_("page")
    assert (links["/institutions/search"][0], links["/institutions/apply"][0],
            links["/institutions/status"][0]) == ("机构库查询", "补增申请", "查询申请")
    db.session.expire_all()
    assert db.session.execute(select(User.name, User.institution_id, User.department)
                              .where(User.phone == STAFF_A)).one() == before


def test_a_search_that_finds_units_keeps_the_registration_hint_hidden(login):
    client = login(STAFF_A)
    html = page(client, "/account")
    html = client.post("/account", data={"csrf_token": csrf_token_from(html), "action": "search",
                                         "institution_q": "bjxc"}).get_data(as_text=True)
    tag = html[html.index("data-unit-empty"):]
    assert "hidden" in tag.split(">")[0]


# ------------------------------------------------------------------------------------------ demo codes

def test_every_demo_institution_has_a_valid_unique_unified_social_credit_code(app):
    rows = db.session.execute(select(Institution.uscc, Institution.category, Institution.region_code)).all()
    assert rows and all(code and uscc.is_valid(code) for code, _c, _r in rows)
    assert db.session.scalar(select(func.count(func.distinct(Institution.uscc)))) == len(rows)
    for code, category, region in rows:  # the parts say what the institution is
        assert code[2:8] == (region or "100000")
        assert code[:2] == {"commission": "11", "third_party_lab": "91"}.get(category, "12")


def test_demo_codes_are_deterministic():
    assert demo_uscc(8, "cdc", "110102") == demo_uscc(8, "cdc", "110102") == "12110102MB5000008J"
    assert uscc.is_valid(demo_uscc(1, "commission", None))


def test_the_library_and_the_api_show_the_code(client):
    code = db.session.scalar(select(Institution.uscc).where(Institution.name == UNIT_A_NAME))
    assert code in page(client, "/institutions/search?q=" + UNIT_A_NAME)
    rows = client.get("/api/institutions?q=bjxc").json
    assert {r["name"]: r["code"] for r in rows}[UNIT_A_NAME] == code


# --------------------------------------------------------------------------------------------- cost

def test_the_personal_centre_costs_a_bounded_number_of_queries(login, count_queries):
    client = login(UNIT_A)
    page(client, "/me")
    with count_queries() as q:
        page(client, "/me")
    assert len(q.statements) <= 10, q.statements  # 8 today: user, scope, profile, history, request, unit, grants
