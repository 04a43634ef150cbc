"""The FHIR R4 (IHE mCSD) read API, as a provincial platform uses it: every body is parsed by fhir.resources."""
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select, text, update

from admin_app.extensions import db
from admin_app.models import AuditLog, Institution, StaffProfile, User
from admin_app.services import api_clients, fhir_resources as fr
from admin_app.services.crypto import decrypt
from tests.api_support import (
    DISTRICT_A_NAME,
    UNIT_A_NAME,
    bearer,
    capture_sql,
    foreign_unit,
    inst,
    no_offset,
    token_for,
    valid_r4,
)
from tests.conftest import clone_demo, make_app


def approved_under(name: str) -> list[int]:
    root = inst(name)
    return list(db.session.scalars(
        select(StaffProfile.id).join(Institution, Institution.id == StaffProfile.institution_id)
        .where(StaffProfile.status == "approved", Institution.path.like(root.path + "%")).order_by(StaffProfile.id)))


def get(client, url, token):
    resp = client.get(url, headers=bearer(token))
    assert resp.status_code < 500, resp.get_data(as_text=True)
    return resp


def ids_of(bundle: dict, kind: str, mode: str = "match") -> list[int]:
    return [int(e["resource"]["id"]) for e in bundle.get("entry", [])
            if e["resource"]["resourceType"] == kind and e["search"]["mode"] == mode]


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_metadata_needs_no_token_and_states_what_is_served(client):
    resp = client.get("/fhir/metadata")
    assert resp.status_code == 200 and resp.mimetype == "application/fhir+json"
    cap = valid_r4(resp.json)
    kinds = {r.type for r in cap.rest[0].resource}
    assert kinds == {"Practitioner", "PractitionerRole", "Organization", "Location"}
    assert resp.json["fhirVersion"] == "4.0.1"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}])
def test_no_or_a_bad_token_gets_401_with_an_operation_outcome(client, headers):
    resp = client.get("/fhir/Practitioner", headers=headers)
    assert resp.status_code == 401 and resp.mimetype == "application/fhir+json"
    outcome = valid_r4(resp.json)
    assert outcome.issue[0].code == "login" and "令牌" in outcome.issue[0].diagnostics


def test_platform_pulls_a_units_approved_staff_as_a_searchset_bundle(app, client):
    token = token_for()
    unit = inst(UNIT_A_NAME)
    resp = get(client, f"/fhir/Practitioner?organization={unit.id}&_count=50", token)
    assert resp.status_code == 200 and resp.mimetype == "application/fhir+json"
    bundle = valid_r4(resp.json)
    assert bundle.type == "searchset"
    want = [p for p in approved_under(UNIT_A_NAME)]
    assert want and sorted(ids_of(resp.json, "Practitioner")) == want
    first = resp.json["entry"][0]["resource"]
    assert first["meta"]["profile"] == [fr.PROFILES["Practitioner"]] and "lastUpdated" in first["meta"]
    assert "identifier" not in first  # no ID numbers without the right
    profile = db.session.get(StaffProfile, int(first["id"]))
    assert first["name"][0]["text"] == profile.name and first["gender"] == profile.gender
    assert first["birthDate"] == profile.birth_date.isoformat()
    assert {"system": "phone", "value": profile.phone, "use": "mobile"} in first["telecom"]
    same = get(client, f"/fhir/Practitioner?organization=Organization/{unit.id}&_count=50", token).json
    assert sorted(ids_of(same, "Practitioner")) == want


def test_an_out_of_scope_organization_gives_an_empty_bundle_never_its_staff(app, client):
    token = token_for()
    other = foreign_unit()
    assert approved_under(foreign_unit().name)
    for kind in ("Practitioner", "PractitionerRole"):
        body = get(client, f"/fhir/{kind}?organization=Organization/{other.id}", token).json
        valid_r4(body)
        assert body["type"] == "searchset" and not body.get("entry")
    body = get(client, f"/fhir/Organization?_id={other.id}", token).json
    assert not body.get("entry")


def test_an_out_of_scope_or_unpublished_resource_is_404(app, client):
    token = token_for()
    foreign = approved_under(foreign_unit().name)[0]
    pending = db.session.scalar(select(StaffProfile.id).where(StaffProfile.phone == "13800000010"))  # 待审核, unit A
    own = approved_under(UNIT_A_NAME)[0]
    assert valid_r4(get(client, f"/fhir/Practitioner/{own}", token).json).id == str(own)
    for url in (f"/fhir/Practitioner/{foreign}", f"/fhir/PractitionerRole/{foreign}",
                f"/fhir/Practitioner/{pending}", f"/fhir/Organization/{foreign_unit().id}",
                "/fhir/Practitioner/abc", "/fhir/Practitioner/99999999999"):
        resp = get(client, url, token)
        assert resp.status_code == 404, url
        assert valid_r4(resp.json).issue[0].code == "not-found"
    assert get(client, "/fhir/Patient", token).status_code == 404


def test_a_practitioners_photo_link_opens_with_the_same_token_and_only_in_scope(app, client):
    token = token_for()
    with_photo = db.session.scalars(select(StaffProfile).where(
        StaffProfile.id.in_(approved_under(UNIT_A_NAME)), StaffProfile.avatar.is_not(None))).first()
    assert with_photo is not None
    body = get(client, f"/fhir/Practitioner/{with_photo.id}", token).json
    photo = valid_r4(body).photo[0]
    assert photo.contentType in ("image/jpeg", "image/png")
    url = path_of(photo.url).rstrip("?")
    assert url == f"/fhir/Practitioner/{with_photo.id}/photo"
    resp = get(client, url, token)
    assert resp.status_code == 200 and resp.mimetype == photo.contentType and resp.data[:2] in (b"\xff\xd8", b"\x89P")
    assert "no-store" in resp.headers["Cache-Control"]
    # The searchset carries the same link; without a token, or for a practitioner out of scope, no photo.
    listed = get(client, f"/fhir/Practitioner?_id={with_photo.id}", token).json["entry"][0]["resource"]
    assert listed["photo"] == body["photo"]
    assert client.get(url).status_code == 401
    foreign = approved_under(foreign_unit().name)[0]
    resp = get(client, f"/fhir/Practitioner/{foreign}/photo", token)
    assert resp.status_code == 404 and valid_r4(resp.json).issue[0].code == "not-found"
    audited = db.session.scalars(select(AuditLog.details).where(AuditLog.action == "api_read")).all()
    assert {"resource": f"Practitioner/{with_photo.id}/photo", "rows": 1}.items() <= next(
        d for d in reversed(audited) if d["resource"].endswith(f"{with_photo.id}/photo")).items()


def test_full_id_numbers_leave_only_with_the_right_and_every_such_pull_is_audited(app, client):
    plain, full = token_for(), token_for(full_id=True)
    own = approved_under(UNIT_A_NAME)[0]
    assert "identifier" not in get(client, f"/fhir/Practitioner/{own}", plain).json
    assert db.session.scalar(select(func.count()).where(AuditLog.action == "api_read_full_id")) == 0
    body = get(client, f"/fhir/Practitioner/{own}", full).json
    valid_r4(body)
    user = db.session.scalar(select(User).join(StaffProfile, StaffProfile.user_id == User.id)
                             .where(StaffProfile.id == own))
    number = decrypt(user.id_number_enc)
    assert body["identifier"] == [{"use": "official", "system": fr.SYSTEM_RESIDENT_ID, "value": number}]
    row = db.session.scalars(select(AuditLog).where(AuditLog.action == "api_read_full_id")).one()
    assert row.details["full_id"] == 1 and row.institution_id == inst(DISTRICT_A_NAME).id
    # Search by the number: only for the full-ID system; the plain one is told it may not.
    found = get(client, f"/fhir/Practitioner?identifier={fr.SYSTEM_RESIDENT_ID}|{number}", full).json
    assert ids_of(found, "Practitioner") == [own]
    refused = get(client, f"/fhir/Practitioner?identifier={number}", plain)
    assert refused.status_code == 403 and valid_r4(refused.json).issue[0].code == "forbidden"
    # PractitionerRole never carries the number, even with the practitioner included.
    role = get(client, "/fhir/PractitionerRole?_include=PractitionerRole:practitioner", full).json
    assert all("identifier" not in e["resource"] for e in role["entry"])


def test_next_links_page_by_cursor_and_reach_every_row_once_without_offset(app, client):
    token = token_for()
    want = approved_under(DISTRICT_A_NAME)
    assert len(want) > 9
    url, pulled, per_page = "/fhir/Practitioner?_count=4", [], []
    while url:
        with capture_sql() as seen:
            body = get(client, url, token).json
        valid_r4(body)
        sql = [(s, p) for s, p in seen if "FROM staff_profile" in s]
        assert len(sql) == 1 and no_offset(*sql[0])  # one page, one seek, no N+1
        per_page.append(len(seen))
        pulled += ids_of(body, "Practitioner")
        nxt = [link["url"] for link in body["link"] if link["relation"] == "next"]
        url = path_of(nxt[0]) if nxt else None
    assert sorted(pulled) == want and len(set(pulled)) == len(pulled)
    assert max(per_page) == min(per_page)  # every page costs the same statements, the first as the last


def test_one_statement_reads_a_page_of_roles_with_their_practitioners(app, client, count_queries):
    token = token_for()
    with count_queries() as q:
        body = get(client, "/fhir/PractitionerRole?_include=PractitionerRole:practitioner&_count=500", token).json
    valid_r4(body)
    assert sum("staff_profile" in s for s in q.statements) == 1
    roles, included = ids_of(body, "PractitionerRole"), ids_of(body, "Practitioner", "include")
    assert roles == included and sorted(roles) == approved_under(DISTRICT_A_NAME)
    role = body["entry"][0]["resource"]
    profile = db.session.get(StaffProfile, int(role["id"]))
    assert role["organization"]["reference"] == f"Organization/{profile.institution_id}"
    assert role["practitioner"]["reference"] == f"Practitioner/{profile.id}"
    assert role["code"][0]["coding"][0] == {"system": fr.CS_PERSONNEL_TYPE, "code": profile.personnel_type,
                                            "display": {"sampling": "Sampling", "testing": "Testing",
                                                        "both": "Sampling and testing"}[profile.personnel_type]}
    assert all(e["url"].startswith(fr.EXT_ANSWER) for e in role.get("extension", []))


def test_last_updated_gt_returns_only_what_changed_since_the_last_sync(app, client):
    token = token_for()
    since = db.session.scalar(select(func.max(StaffProfile.updated_at)))
    changed = approved_under(DISTRICT_A_NAME)[:3]
    db.session.execute(update(StaffProfile).where(StaffProfile.id.in_(changed))
                       .values(updated_at=since + timedelta(minutes=5)))
    db.session.commit()
    stamp = since.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
    body = get(client, f"/fhir/Practitioner?_lastUpdated=gt{stamp}", token).json
    valid_r4(body)
    assert sorted(ids_of(body, "Practitioner")) == changed
    ge = get(client, f"/fhir/Practitioner?_lastUpdated=ge{stamp}&_count=500", token).json
    assert set(changed) < set(ids_of(ge, "Practitioner"))
    later = (since + timedelta(minutes=5)).isoformat(timespec="microseconds") + "%2B00:00"
    assert not get(client, f"/fhir/Practitioner?_lastUpdated=gt{later}", token).json.get("entry")


def test_organizations_and_locations_follow_mcsd(app, client):
    token = token_for()
    district, unit = inst(DISTRICT_A_NAME), inst(UNIT_A_NAME)
    body = get(client, f"/fhir/Organization?partof=Organization/{district.id}&_count=500", token).json
    valid_r4(body)
    children = db.session.scalars(select(Institution.id).where(Institution.parent_id == district.id)
                                  .order_by(Institution.id)).all()
    assert ids_of(body, "Organization") == list(children)
    org = valid_r4(get(client, f"/fhir/Organization/{unit.id}", token).json)
    assert org.partOf.reference == f"Organization/{district.id}" and org.identifier[0].value == unit.uscc
    assert {c.code for c in org.type[0].coding} == {"prov", "cdc"}
    by_uscc = get(client, f"/fhir/Organization?identifier={fr.SYSTEM_USCC}|{unit.uscc}", token).json
    assert ids_of(by_uscc, "Organization") == [unit.id]
    named = get(client, "/fhir/Organization?name=北京市西城区人民", token).json
    assert [e["resource"]["name"] for e in named["entry"]] == ["北京市西城区人民医院"]
    cities = get(client, "/fhir/Location?partof=110000&_count=500", token).json
    valid_r4(cities)
    assert cities["entry"] and all(e["resource"]["partOf"]["reference"] == "Location/110000" for e in cities["entry"])
    xicheng = valid_r4(get(client, "/fhir/Location/110102", token).json)
    assert xicheng.name == "西城区" and xicheng.physicalType.coding[0].code == "jdn"


def test_a_location_sync_by_last_update_gets_only_the_regions_written_since(app, client):
    """An mCSD directory sync asks every resource type for _lastUpdated=gt<its last run>; Locations refused it."""
    from admin_app.models import Region

    token = token_for()
    since = db.session.scalar(select(func.max(Region.updated_at)))
    stamp = since.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
    body = valid_r4(get(client, "/fhir/Location/110102", token).json)
    assert body.meta.lastUpdated is not None
    nothing = get(client, f"/fhir/Location?_lastUpdated=gt{stamp}", token)
    assert nothing.status_code == 200 and not nothing.json.get("entry")
    renamed = db.session.get(Region, "110102")
    renamed.name = "西城区（测试）"  # as a later load-regions would write a changed name
    db.session.commit()
    changed = get(client, f"/fhir/Location?_lastUpdated=gt{stamp}", token).json
    valid_r4(changed)
    assert [e["resource"]["id"] for e in changed["entry"]] == ["110102"]
    assert changed["entry"][0]["resource"]["meta"]["lastUpdated"] > stamp
    metadata = client.get("/fhir/metadata").json["rest"][0]["resource"]
    assert "_lastUpdated" in {p["name"] for r in metadata if r["type"] == "Location" for p in r["searchParam"]}


@pytest.mark.parametrize("query", ["_count=abc", "_lastUpdated=gtyesterday", "_lastUpdated=ne2026-01-01",
                                   "unknown=1", "active=maybe", "_include=Practitioner:foo", "_format=xml",
                                   "_cursor=-1", "name=" + "x" * 300, "name=a%00b"])
def test_malformed_searches_get_400_with_an_operation_outcome(app, client, query):
    resp = get(client, f"/fhir/Practitioner?{query}", token_for())
    assert resp.status_code == 400, query
    assert valid_r4(resp.json).issue[0].severity == "error"


def test_count_is_bounded_and_active_false_matches_nothing(app, client):
    token = token_for(label="大页")
    body = get(client, "/fhir/Practitioner?_count=100000", token).json
    assert len(body["entry"]) == len(approved_under(DISTRICT_A_NAME))  # fewer than the 500 cap
    assert not get(client, "/fhir/Practitioner?active=false", token).json.get("entry")
    assert get(client, "/fhir/Practitioner", token).status_code == 200
    assert client.post("/fhir/Practitioner", headers=bearer(token)).status_code == 405


def test_each_call_is_audited_with_the_client_the_query_and_the_rows(app, client):
    token = token_for(label="审计系统")
    get(client, f"/fhir/Practitioner?organization={inst(UNIT_A_NAME).id}", token)
    row = db.session.scalars(select(AuditLog).where(AuditLog.action == "api_read")).one()
    assert row.actor_id is None and row.target_type == "api_client"
    assert row.details["client"] == "审计系统" and row.details["resource"] == "Practitioner"
    assert row.details["rows"] == len(approved_under(UNIT_A_NAME)) and "organization=" in row.details["query"]
    client_row = api_clients.get("审计系统")
    assert client_row.last_used_at is not None


def test_the_rate_limit_counts_per_token(template_db, tmp_path):
    application = make_app(tmp_path, clone_demo(template_db, tmp_path), RATELIMIT_ENABLED=True,
                           API_RATE_LIMIT="3 per minute")
    with application.app_context():
        one, two = token_for(label="甲"), token_for(label="乙")
        c = application.test_client()
        assert [c.get("/fhir/Location/110000", headers=bearer(one)).status_code for _ in range(3)] == [200] * 3
        resp = c.get("/fhir/Location/110000", headers=bearer(one))
        assert resp.status_code == 429 and valid_r4(resp.json).issue[0].code == "throttled"
        assert c.get("/fhir/Location/110000", headers=bearer(two)).status_code == 200  # another token's budget
        db.session.remove()
        db.engine.dispose()


def _plan(statement, params) -> str:
    conn = db.session.connection()
    if db.engine.dialect.name == "sqlite":
        return " ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params))
    # A table of 200 rows is cheaper to read whole (or through another index) and sort than to seek in: ask for the
    # plan a big table gets, where sorting the scope is what a page must never cost.
    conn.execute(text("SET LOCAL enable_seqscan = off"))
    conn.execute(text("SET LOCAL enable_bitmapscan = off"))
    conn.execute(text("SET LOCAL enable_sort = off"))
    return " ".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, params))


@pytest.mark.parametrize("where", ["national", "one unit"])
def test_a_page_is_a_keyset_seek_in_the_query_plan(app, where):
    """Constant cost per page, shown by the plan: the page is sought through an index in the page's order from the
    cursor on, never OFFSET and never a sort of the whole scope (bench/api_paging.py times it at a million rows)."""
    from admin_app.services import api_search
    from admin_app.services.api_clients import scope_of

    client, _token = api_clients.create("计划", inst("国家卫生健康委员会").id)
    f = api_search.Filters(organization_id=inst(UNIT_A_NAME).id if where == "one unit" else None)
    after = db.session.execute(select(StaffProfile.submitted_at, StaffProfile.id)
                               .where(StaffProfile.status == "approved").order_by(StaffProfile.id).limit(1)).one()
    with capture_sql() as seen:
        api_search.staff(scope_of(client), f, 50, after=tuple(after))
    statement, params = [(s, p) for s, p in seen if "FROM staff_profile" in s][-1]
    assert no_offset(statement, params)
    plan = _plan(statement, params)
    index = "ix_staff_profile_inst_status_submitted" if where == "one unit" else "ix_staff_profile_status_submitted"
    if db.engine.dialect.name == "sqlite":
        seek = rf"SEARCH staff_profile USING INDEX {index} \([^)]*status=\? AND submitted_at>\?\)"
        assert re.search(seek, plan), plan
        assert "TEMP B-TREE" not in plan, plan  # read in order: nothing sorted
    else:
        # Either report-time order of the unit or of the status (the statistics of a few rows pick one).
        used = r"Index (Only )?Scan using ix_staff_profile_(\w*status_submitted|unit_submitted_at)"
        assert re.search(used, plan), plan
        assert re.search(r"Index Cond: \(.*ROW\(submitted_at, id\) > ROW\(", plan), plan


def test_every_error_under_fhir_is_an_operation_outcome(app, client):
    token = token_for(label="错误")
    for method, url, status in (("POST", "/fhir/Practitioner", 405), ("DELETE", "/fhir/Organization/1", 405),
                                ("GET", "/fhir/", 404), ("GET", "/fhir/Practitioner/1/_history", 404),
                                ("GET", "/fhir/Practitioner?name=a%00", 400)):
        resp = client.open(url, method=method, headers=bearer(token))
        assert resp.status_code == status and resp.mimetype == "application/fhir+json", url
        assert valid_r4(resp.json).issue[0].severity == "error"
        if status == 405:
            assert "GET" in resp.headers["Allow"]
