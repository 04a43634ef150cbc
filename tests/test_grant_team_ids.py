"""The team page (机构管理员, /admin/grant/team/) of a business manager of two institutions draws its forms once per
institution and per assistant: every id on it is unique, every label and aria-describedby names an element that
exists, and each link of the error summary jumps to its field in the section the form was sent from, without
JavaScript (issue 31, WCAG 3.3.1 / 4.1.1)."""
from collections import Counter
from html.parser import HTMLParser

from sqlalchemy import select

from admin_app.extensions import db
from admin_app.models import AdminGrant, User
from admin_app.models.types import utcnow
from tests.conftest import UNIT_A
from tests.test_registry_support import HOSPITAL_A_NAME, UNIT_A_NAME, inst, make_user


class Ids(HTMLParser):
    """The ids of a page, the ids its labels and aria-describedby name, its error-summary links, and for every
    element with an id the data-institution-id of the team section around it."""

    def __init__(self):
        super().__init__()
        self.ids: list[str] = []
        self.referenced: list[tuple[str, str]] = []
        self.summary_links: list[str] = []
        self.section_of: dict[str, str | None] = {}
        self._stack: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        void = tag in ("input", "img", "br", "hr", "meta", "link")
        section = next((a["data-institution-id"] for _, a in reversed(self._stack) if "data-institution-id" in a),
                       attrs.get("data-institution-id"))
        if attrs.get("id"):
            self.ids.append(attrs["id"])
            self.section_of[attrs["id"]] = section
        if tag == "label" and attrs.get("for"):
            self.referenced.append(("label for", attrs["for"]))
        for ref in (attrs.get("aria-describedby") or "").split():
            self.referenced.append(("aria-describedby", ref))
        in_summary = any("error-summary" in (a.get("class") or "") for _, a in self._stack)
        if tag == "a" and in_summary and (attrs.get("href") or "").startswith("#"):
            self.summary_links.append(attrs["href"][1:])
        if not void:
            self._stack.append((tag, attrs))

    def handle_endtag(self, tag):
        while self._stack:
            if self._stack.pop()[0] == tag:
                break


def parse(html: str) -> Ids:
    page = Ids()
    page.feed(html)
    return page


def a_manager_of_two_institutions_with_an_assistant_each():
    """UNIT_A's manager also runs the district hospital; each institution has an assistant admin."""
    manager = db.session.scalar(select(User).where(User.phone == UNIT_A))
    unit, hospital = inst(UNIT_A_NAME), inst(HOSPITAL_A_NAME)
    db.session.add(AdminGrant(institution_id=hospital.id, role="manager", state="active", user_id=manager.id,
                              activated_at=utcnow()))
    for n, institution in enumerate((unit, hospital)):
        helper, _number = make_user(f"1391111020{n}", f"助理{n}", institution)
        db.session.add(AdminGrant(institution_id=institution.id, role="assistant", state="active",
                                  user_id=helper.id, activated_at=utcnow()))
    db.session.commit()
    return unit, hospital


def assert_ids_sound(page: Ids) -> None:
    duplicates = [i for i, n in Counter(page.ids).items() if n > 1]
    assert duplicates == []
    assert [r for r in page.referenced if r[1] not in page.ids] == []


def test_every_id_on_the_team_page_is_unique_and_every_reference_resolves(login):
    unit, hospital = a_manager_of_two_institutions_with_an_assistant_each()
    html = login(UNIT_A).get("/admin/grant/team/").get_data(as_text=True)
    page = parse(html)
    assert html.count('class="card mb-4 team"') == 2 and html.count("<summary class=\"text-danger\">") == 2
    assert_ids_sound(page)
    # The forms still post the names of the URL/form contract.
    assert html.count('name="add-phone"') == 2 and html.count('name="remove-password"') == 2


def test_each_error_summary_link_reaches_its_field_in_the_section_the_form_came_from(login):
    unit, hospital = a_manager_of_two_institutions_with_an_assistant_each()
    client = login(UNIT_A)
    too_long = "1" * 40
    posts = [  # each sent from the hospital's section, with what the form itself refuses
        ("/admin/grant/team/transfer/", {"transfer-institution_id": hospital.id, "transfer-by": "phone",
                                         "transfer-phone": too_long, "transfer-id_number": too_long}),
        ("/admin/grant/team/transfer/", {"transfer-institution_id": hospital.id, "transfer-by": "phone",
                                         "transfer-phone": "13911110200", "transfer-password": "x"}),
        ("/admin/grant/team/assistant/", {"add-institution_id": hospital.id, "add-by": "phone",
                                          "add-sms_code": too_long}),
    ]
    for url, data in posts:
        html = client.post(url, data=data).get_data(as_text=True)
        page = parse(html)
        assert_ids_sound(page)
        assert page.summary_links, html[:2000]
        for target in page.summary_links:
            assert target in page.ids, target  # a plain fragment link: no script needed
            assert page.section_of[target] == str(hospital.id), target
        # What was typed comes back once, in its own section.
        assert html.count(too_long) == len([v for v in data.values() if v == too_long])
    # A removal refused by the form opens that assistant's row, so its linked fields are visible.
    [assistant] = db.session.scalars(select(AdminGrant).where(AdminGrant.institution_id == hospital.id,
                                                              AdminGrant.role == "assistant"))
    html = client.post("/admin/grant/team/assistant/remove/", data={
        "remove-grant_id": assistant.id, "remove-password": "x" * 200}).get_data(as_text=True)
    page = parse(html)
    assert_ids_sound(page)
    assert page.summary_links == [f"remove-password-{assistant.id}"]
    assert html.count("<details open>") == 1
