"""The staff grid opens as seed 000's 上报人员列表 does: every reported staff member of the scope, newest first, the
上报数 card active; a reviewer's chosen card is kept for the session; the export is the list on screen."""
import re

from tests.conftest import DISTRICT_A, UNIT_A
from tests.test_review_export import col, export_link, read
from tests.test_review_grid import card_numbers
from tests.test_review_support import STAFF_URL, grid_ids, profiles_of

REPORTED = ("submitted", "unit_rejected", "unit_approved", "rejected", "approved")


def active_card(html: str) -> list[str]:
    return re.findall(r'data-card="(\w+)" aria-current="true"', html)


def card_link(html: str, card: str) -> str:
    links = dict((v, u.replace("&amp;", "&")) for u, v in re.findall(r'href="([^"]+)"\s+data-card="(\w+)"', html))
    return links[card]


def test_the_grid_opens_on_every_reported_staff_member_newest_first(login):
    html = login(UNIT_A).get(STAFF_URL).get_data(as_text=True)
    reported = profiles_of(UNIT_A, *REPORTED)
    assert len({p.status for p in reported}) > 1  # the demo unit has staff in several states
    assert grid_ids(html) == [p.id for p in reported][:50]  # newest report first, drafts left out
    assert active_card(html) == ["reported"]
    assert f"({card_numbers(html)['reported']})" in html and card_numbers(html)["reported"] == len(reported)
    assert "状态" in html and "待审核" in html and "机构通过" in html  # the status column shows each row's state
    assert 'data-card="submitted"' in html  # 待审核 stays one click away


def test_a_district_officer_also_opens_on_everything_reported(login):
    html = login(DISTRICT_A).get(STAFF_URL).get_data(as_text=True)
    assert active_card(html) == ["reported"]
    assert card_numbers(html)["reported"] > card_numbers(html)["submitted"] > 0


def test_the_chosen_card_is_kept_for_the_session_until_reported_is_chosen(login):
    client = login(UNIT_A)
    html = client.get(STAFF_URL).get_data(as_text=True)
    pending = [p.id for p in profiles_of(UNIT_A, "submitted")]

    html = client.get(card_link(html, "submitted")).get_data(as_text=True)
    assert active_card(html) == ["submitted"]
    html = client.get(STAFF_URL).get_data(as_text=True)  # back from elsewhere, no arguments
    assert active_card(html) == ["submitted"] and grid_ids(html) == pending[:50]

    html = client.get(card_link(html, "rejected_all")).get_data(as_text=True)
    assert active_card(client.get(STAFF_URL).get_data(as_text=True)) == ["rejected_all"]

    client.get(card_link(html, "reported"))
    html = client.get(STAFF_URL).get_data(as_text=True)
    assert active_card(html) == ["reported"]
    assert grid_ids(html) == [p.id for p in profiles_of(UNIT_A, *REPORTED)][:50]


def test_another_session_starts_on_reported(app, login):
    first = login(UNIT_A)
    first.get(STAFF_URL + "?flt0_0=submitted")
    assert active_card(login(UNIT_A).get(STAFF_URL).get_data(as_text=True)) == ["reported"]


def test_the_export_link_carries_the_card_on_screen(login):
    client = login(UNIT_A)
    html = client.get(STAFF_URL).get_data(as_text=True)
    link = export_link(html)
    assert "flt0_0=reported" in link  # explicit: another tab choosing a card cannot change this download
    _ws, header, rows = read(client.get(link))
    assert [r[col(header, "手机号")] for r in rows] == [p.phone for p in profiles_of(UNIT_A, *REPORTED)]

    client.get(STAFF_URL + "?flt0_0=submitted")
    html = client.get(STAFF_URL).get_data(as_text=True)  # the session's card, no arguments in the URL
    link = export_link(html)
    assert "flt0_0=submitted" in link
    _ws, header, rows = read(client.get(link))
    assert [r[col(header, "手机号")] for r in rows] == [p.phone for p in profiles_of(UNIT_A, "submitted")]


def test_a_search_or_another_filter_is_not_narrowed_by_the_kept_card(login):
    client = login(UNIT_A)
    client.get(STAFF_URL + "?flt0_0=submitted")
    approved = profiles_of(UNIT_A, "approved")[0]
    html = client.get(STAFF_URL, query_string={"search": approved.phone}).get_data(as_text=True)
    assert grid_ids(html) == [approved.id]


def test_a_hostile_card_value_is_neither_kept_nor_fatal(login):
    client = login(UNIT_A)
    resp = client.get(STAFF_URL + "?flt0_0=%3Cscript%3E")
    assert resp.status_code == 200
    assert active_card(client.get(STAFF_URL).get_data(as_text=True)) == ["reported"]
