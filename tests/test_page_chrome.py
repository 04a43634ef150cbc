"""What every back-office page's frame repeats (labels, static URLs, the name menu, the scope's statement) is built
once per language / URL root / process, not per request (issue 20) — and still follows the language switch, and
each request keeps its own CSP nonce."""
import json
import re
from html import unescape

from admin_app.services import scope as scope_svc
from admin_app.views import menus, page_chrome
from tests.conftest import DISTRICT_A, PROVINCE, STAFF_A, SUPER, UNIT_A, csrf_token_from
from tests.test_review_support import STAFF_URL


def per_request(html: str) -> str:
    """The page without what each request has of its own (the CSP nonce, the CSRF token)."""
    return re.sub(r'nonce="[^"]+"', "", html).replace(csrf_token_from(html), "")


def picker_labels(html: str) -> dict:
    return json.loads(unescape(re.search(r'<div id="picker-locale-data" class="d-none">(.*?)</div>', html).group(1)))


def a11y_labels(html: str) -> dict:
    return json.loads(unescape(re.search(r"data-i18n='([^']*)'", html).group(1)))


def test_the_pickers_labels_follow_the_language_switch_and_are_built_once_per_language(login, monkeypatch):
    built = []
    for name, real in list(page_chrome.LABELS.items()):
        monkeypatch.setitem(page_chrome.LABELS, name, lambda real=real, name=name: built.append(name) or real())
    c = login(UNIT_A)
    pages = [c.get(STAFF_URL).get_data(as_text=True), c.get(STAFF_URL).get_data(as_text=True),
             c.get(STAFF_URL + "?lang=en").get_data(as_text=True), c.get(STAFF_URL).get_data(as_text=True),
             c.get(STAFF_URL + "?lang=zh_Hans_CN").get_data(as_text=True)]
    said = [picker_labels(html)["daterangepicker"]["applyLabel"] for html in pages]
    assert said == ["确定", "确定", "OK", "OK", "确定"]  # never frozen in the first language served
    assert [a11y_labels(html)["select"] for html in pages] == ["选择", "选择", "Select", "Select", "选择"]
    assert picker_labels(pages[0])["select2"]["inputTooShort"].count("%(n)s") == 1  # a placeholder for the script
    assert sorted(built) == ["a11y", "a11y", "picker", "picker"]  # once per language, not per request


def test_every_request_keeps_its_own_csp_nonce(login):
    c = login(UNIT_A)
    nonces = []
    for _ in range(2):
        resp = c.get(STAFF_URL)
        header = re.search(r"'nonce-([^']+)'", resp.headers["Content-Security-Policy"]).group(1)
        in_page = set(re.findall(r'<script nonce="([^"]+)"', resp.get_data(as_text=True)))
        assert in_page == {header}
        nonces.append(header)
    assert nonces[0] != nonces[1]


def test_static_urls_are_built_once_per_url_root(app, login, monkeypatch):
    c = login(UNIT_A)
    first = c.get(STAFF_URL).get_data(as_text=True)
    assert '<script src="/static/js/a11y.js" defer' in first
    assert 'src="/admin/static/vendor/jquery.min.js?v=3.5.1"' in first
    calls = []
    real = page_chrome.url_for
    monkeypatch.setattr(page_chrome, "url_for", lambda *a, **k: calls.append(a) or real(*a, **k))
    second = c.get(STAFF_URL).get_data(as_text=True)
    assert per_request(second) == per_request(first)
    assert calls == []  # served from the cache
    # Behind a URL prefix (another script root) the paths carry it.
    html = c.get(STAFF_URL, base_url="http://localhost/hwr/").get_data(as_text=True)
    assert 'src="/hwr/admin/static/vendor/jquery.min.js?v=3.5.1"' in html and "/hwr/static/js/a11y.js" in html
    assert calls  # built for that root


def test_the_name_menu_follows_the_language_and_marks_the_page_one_is_on(login, monkeypatch):
    c = login(UNIT_A)
    c.get("/password")  # the entries of this language are cached now
    calls = []
    real = menus.url_for
    monkeypatch.setattr(menus, "url_for", lambda *a, **k: calls.append(a) or real(*a, **k))
    zh = c.get("/password").get_data(as_text=True)
    assert calls == []
    assert re.search(r'href="/password" data-menu="portal.password" aria-current="page">修改密码<', zh)
    assert 'data-menu="admin.index"' in zh  # a unit admin is offered the back office
    en = c.get("/sessions?lang=en").get_data(as_text=True)
    assert re.search(r'href="/password" data-menu="portal.password">Change password<', en)
    assert 'data-menu="sessions.index" aria-current="page">Signed-in devices<' in en


def test_the_scope_statement_is_built_once_per_process(login, monkeypatch):
    c = login(UNIT_A)
    assert c.get(STAFF_URL).status_code == 200
    assert scope_svc._grants_statement(True) is scope_svc._grants_statement(True)

    def no_new_alias(*args, **kwargs):
        raise AssertionError("the grants statement was rebuilt")

    monkeypatch.setattr(scope_svc, "aliased", no_new_alias)
    html = c.get(STAFF_URL).get_data(as_text=True)
    assert "unit-panel" in html  # still the unit admin's page: his scope was read


def test_the_main_menu_is_rendered_once_per_view_language_and_rights(app, login, monkeypatch):
    unit, district = login(UNIT_A), login(DISTRICT_A)
    assert "/admin/preregistration/" not in unit.get(STAFF_URL).get_data(as_text=True)  # no units below his
    assert "/admin/preregistration/" in district.get(STAFF_URL).get_data(as_text=True)
    html = unit.get("/admin/institution/").get_data(as_text=True)
    assert re.search(r'<li class="active">\s*<a class="nav-link " href="/admin/institution/"', html)
    renders = []
    real = page_chrome.Markup
    monkeypatch.setattr(page_chrome, "Markup", lambda text: renders.append(1) or real(text))
    again = unit.get("/admin/institution/").get_data(as_text=True)
    assert renders == [] and per_request(again) == per_request(html)
    en = unit.get("/admin/institution/?lang=en").get_data(as_text=True)
    assert renders == [1] and re.search(r"href=\"/admin/institution/\">\s*Institutions</a>", en)  # in English
    assert "/admin/preregistration/" not in unit.get(STAFF_URL + "?lang=zh_Hans_CN").get_data(as_text=True)


def test_whether_a_scope_holds_the_whole_country_comes_with_its_grants(app, login, count_queries):
    from dataclasses import replace

    from admin_app.extensions import db
    from admin_app.models import AdminGrant, Institution, User

    def users():
        return db.session.query(User).filter(User.phone.in_([SUPER, PROVINCE, DISTRICT_A, UNIT_A, STAFF_A])).all()

    def told(user):
        scope = scope_svc.scope_for(user)
        with count_queries() as q:
            answer = scope_svc.covers_everything(scope)
        assert q.statements == [] and (scope.holds_roots is not None or not scope.paths)
        # The same answer as reading the root institutions' paths.
        assert answer == scope_svc.covers_everything(replace(scope, holds_roots=None)), user.phone
        return answer

    with app.test_request_context():
        assert {u.phone: told(u) for u in users()} == {SUPER: True, PROVINCE: False, DISTRICT_A: False,
                                                       UNIT_A: False, STAFF_A: False}
        # The province's officer is given every other province too: now he holds the whole country.
        officer = next(u for u in users() if u.phone == PROVINCE)
        held = {g.institution_id for g in db.session.query(AdminGrant).filter_by(user_id=officer.id, state="active")}
        for root in db.session.query(Institution).filter(Institution.parent_id.is_(None)):
            if root.id not in held:
                db.session.add(AdminGrant(institution_id=root.id, user_id=officer.id, state="active"))
        db.session.commit()
        assert told(officer) is True
    with count_queries() as q:
        assert login(PROVINCE).get(STAFF_URL).status_code == 200
    # No statement of its own reads the root institutions any more.
    assert not any("parent_id is null" in s.lower() and "admin_grant" not in s.lower() for s in q.statements)


def test_the_status_badges_are_drawn_once_per_language(login, monkeypatch):
    from admin_app.views import formatters

    monkeypatch.setattr(formatters, "_BADGES", {})  # the process's cache, as if no page had been drawn yet
    c = login(UNIT_A)
    c.get(STAFF_URL)
    drawn = []
    real = formatters.Markup
    monkeypatch.setattr(formatters, "Markup", lambda text: drawn.append(text) or real(text))
    zh = c.get(STAFF_URL).get_data(as_text=True)
    assert drawn == [] and 'status-badge" data-status="submitted">待审核</span>' in zh
    en = c.get(STAFF_URL + "?lang=en").get_data(as_text=True)
    assert drawn and 'status-badge" data-status="submitted">Pending review</span>' in en
