"""Incremental sync, as a provincial platform runs it: remember when the last pull started, ask `_lastUpdated=gt<then>`
(or `updated_since=` on /api/v1/), get exactly what changed. Every write that changes what a Practitioner,
PractitionerRole or Organization shows must surface there; the pages of a sync follow (updated_at, id) by cursor."""
import re
from urllib.parse import quote

import pytest
from sqlalchemy import select

from admin_app.extensions import db
from admin_app.models import Institution, StaffProfile, User
from admin_app.models.types import utcnow
from admin_app.services import api_clients, api_search, library, review, verification
from admin_app.services.api_clients import scope_of
from admin_app.services.identity import sealed
from admin_app.services.scope import scope_for
from tests.api_support import (
    DISTRICT_A_NAME,
    DISTRICT_B_NAME,
    UNIT_A_NAME,
    bearer,
    capture_sql,
    inst,
    no_offset,
    token_for,
    valid_r4,
)
from tests.conftest import SUPER
from tests.test_api_fhir import _plan, get, ids_of, path_of


def stamp(moment) -> str:
    return quote(moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z")


def synced(client, token, kind: str, since, extra: str = "") -> list[int]:
    """Every id an incremental sync since `since` pulls, following `next` links to the end."""
    url, ids = f"/fhir/{kind}?_lastUpdated=gt{stamp(since)}&_count=2{extra}", []
    while url:
        body = get(client, url, token).json
        valid_r4(body)
        ids += ids_of(body, kind)
        nxt = [link["url"] for link in body["link"] if link["relation"] == "next"]
        url = path_of(nxt[0]) if nxt else None
    return ids


def superuser() -> User:
    return db.session.scalars(select(User).where(User.phone == SUPER)).one()


def approved_in_district(n: int = 1) -> list[StaffProfile]:
    root = inst(DISTRICT_A_NAME)
    return list(db.session.scalars(
        select(StaffProfile).join(Institution, Institution.id == StaffProfile.institution_id)
        .where(StaffProfile.status == "approved", Institution.path.like(root.path + "%"))
        .order_by(StaffProfile.id).limit(n)))


def test_a_final_approval_reaches_the_next_sync_and_nothing_else_does(app, client):
    token = token_for()
    root = inst(DISTRICT_A_NAME)
    waiting = db.session.scalars(
        select(StaffProfile).join(Institution, Institution.id == StaffProfile.institution_id)
        .where(StaffProfile.status == "unit_approved", Institution.path.like(root.path + "%"))).first()
    assert waiting is not None
    pid = waiting.id
    before = utcnow()
    assert synced(client, token, "Practitioner", before) == []
    boss = superuser()
    # The bulk transition is one UPDATE statement, not an ORM attribute set.
    assert review.transition("approve", [pid], boss.id, scope_for(boss), levels=(2,)).moved == 1
    assert synced(client, token, "Practitioner", before) == [pid]
    assert synced(client, token, "PractitionerRole", before) == [pid]


def test_an_account_write_of_a_shown_field_marks_the_profile_and_others_do_not(app, client):
    """The account page is locked once a profile is approved, so no form changes a published e-mail today; any
    write through the ORM that does (a future back-office edit) still reaches the sync, and a sign-in's
    bookkeeping on the account does not."""
    token = token_for()
    profile = approved_in_district()[0]
    user = profile.user
    before = utcnow()
    user.last_login_at = utcnow()
    db.session.commit()
    assert synced(client, token, "Practitioner", before) == []
    user.email = "sync-check@example.cn"
    db.session.commit()
    assert synced(client, token, "Practitioner", before) == [profile.id]
    body = get(client, f"/fhir/Practitioner?_lastUpdated=gt{stamp(before)}", token).json
    assert {"system": "email", "value": "sync-check@example.cn", "use": "work"} in body["entry"][0]["resource"][
        "telecom"]


def test_an_approved_identity_reaches_the_full_id_sync_with_its_number(app, client):
    token = token_for(full_id=True)
    profile = approved_in_district(2)[1]
    user = profile.user
    number = "11010519491231002X"
    values = sealed("resident_id", number)
    req = verification.IdentityVerification(user_id=user.id, name=user.name, status="pending", front_image="x.png",
                                            **values)
    user.identity_status = "pending"
    db.session.add(req)
    db.session.commit()
    before = utcnow()
    # Approval writes the accounts by one bulk UPDATE: it marks their profiles itself.
    assert verification.approve([req.id], None, verification.SYSTEM_SCOPE).moved == 1
    assert synced(client, token, "Practitioner", before) == [profile.id]
    body = get(client, f"/fhir/Practitioner/{profile.id}", token).json
    assert body["identifier"][0]["value"] == number


def test_an_institution_edit_reaches_the_organization_sync_and_json_api(app, client):
    token = token_for()
    unit = inst(UNIT_A_NAME)
    before = utcnow()
    assert synced(client, token, "Organization", before) == []
    boss = superuser()
    library.update_institution(scope_for(boss), boss, unit.id, name=unit.name + "（新址）", category=unit.category,
                               address="北京市西城区新街口外大街 1 号")
    assert synced(client, token, "Organization", before) == [unit.id]
    # Edits through the ORM (the back office's institution form) too; the sync pages them by cursor in the order of
    # the changes, two a page.
    others = db.session.scalars(select(Institution).where(Institution.parent_id == unit.parent_id,
                                                          Institution.id != unit.id).order_by(Institution.id.desc())
                                .limit(2)).all()
    assert len(others) == 2
    for other in others:
        other.address = f"北京市西城区同步路 {other.id} 号"
        db.session.commit()
    assert synced(client, token, "Organization", before) == [unit.id, *[o.id for o in others]]
    org = valid_r4(get(client, f"/fhir/Organization/{unit.id}", token).json)
    assert org.meta.lastUpdated.replace(tzinfo=None) >= before
    body = client.get(f"/api/v1/organizations?updated_since={stamp(before)}", headers=bearer(token)).json
    assert [o["id"] for o in body["items"]] == sorted([unit.id, *[o.id for o in others]])  # by id, documented
    assert next(o for o in body["items"] if o["id"] == unit.id)["name"].endswith("（新址）")


def test_a_sync_pages_in_last_update_order_by_cursor_without_offset(app, client):
    """Pages of a sync follow (updated_at, id): each row once, the order of the changes, every page one seek."""
    token = token_for()
    changed = approved_in_district(7)
    before = utcnow()
    for p in reversed(changed):  # changed in the reverse of id order: the sync follows the changes
        p.department = (p.department or "") + "·"
        db.session.commit()
    url, pulled = f"/fhir/Practitioner?_lastUpdated=gt{stamp(before)}&_count=3", []
    while url:
        with capture_sql() as seen:
            body = get(client, url, token).json
        pages = [(s, p) for s, p in seen if "FROM staff_profile" in s]
        assert len(pages) == 1 and no_offset(*pages[0])
        assert re.search(r"ORDER BY staff_profile\.updated_at, staff_profile\.id", pages[0][0]), pages[0][0]
        pulled += ids_of(body, "Practitioner")
        nxt = [link["url"] for link in body["link"] if link["relation"] == "next"]
        url = path_of(nxt[0]) if nxt else None
    assert pulled == [p.id for p in reversed(changed)]
    json_ids, url = [], f"/api/v1/practitioners?updated_since={stamp(before)}&limit=3"
    while url:
        body = client.get(url, headers=bearer(token)).json
        json_ids += [i["id"] for i in body["items"]]
        url = body["next"]
    assert json_ids == pulled
    # A cursor of the other order's shape is still a position: a bare id is refused for Organizations.
    assert get(client, f"/fhir/Organization?_lastUpdated=gt{stamp(before)}&_cursor=12", token).status_code == 400


@pytest.mark.parametrize("kind", ["Practitioner", "Organization"])
def test_a_national_sync_reads_the_update_index_and_sorts_nothing(app, kind):
    """A sync that finds few changes among a million rows costs those rows: the plan seeks (updated_at, id) from
    the last sync on, in the page's order (bench/api/sync.py times it at a million)."""
    client, _token = api_clients.create("同步计划", inst("国家卫生健康委员会").id)
    since = utcnow()
    f = api_search.Filters(updated=[("gt", since)])
    fetch = api_search.staff if kind == "Practitioner" else api_search.institutions
    table, index = (("staff_profile", "ix_staff_profile_updated") if kind == "Practitioner"
                    else ("institution", "ix_institution_updated"))
    with capture_sql() as seen:
        fetch(scope_of(client), f, 50, after=(since, 1))
    statement, params = [(s, p) for s, p in seen if f"FROM {table}" in s][-1]
    assert no_offset(statement, params)
    plan = _plan(statement, params)
    if db.engine.dialect.name == "sqlite":
        assert re.search(rf"SEARCH {table} USING (COVERING )?INDEX {index} \(updated_at>\?\)", plan), plan
        assert "TEMP B-TREE" not in plan, plan  # read in order: nothing sorted
    else:
        assert re.search(rf"Index (Only )?Scan using {index}", plan), plan
        assert re.search(r"ROW\(updated_at, id\) > ROW\(", plan), plan
        assert "Sort" not in plan, plan


def test_a_moved_institution_reaches_the_organization_sync_with_its_new_parent(app, client):
    """A move rewrites the subtree's paths in one UPDATE statement: the moved institution (new partOf) and its
    subtree are marked changed by it."""
    token = token_for("国家卫生健康委员会", label="全国同步")
    unit, new_parent = inst(UNIT_A_NAME), inst(DISTRICT_B_NAME)
    before = utcnow()
    boss = superuser()
    assert library.move_institution(scope_for(boss), boss, unit.id, new_parent.id) >= 1
    assert unit.id in synced(client, token, "Organization", before)
    org = valid_r4(get(client, f"/fhir/Organization/{unit.id}", token).json)
    assert org.partOf.reference == f"Organization/{new_parent.id}"
