"""The JSON API /api/v1/ and its OpenAPI 3 document: the same scope, token and cursor paging as /fhir/, and
schemathesis drives the running app from the document (no 5xx, every response as documented)."""
import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
import schemathesis
from sqlalchemy import func, select, update
from werkzeug.serving import make_server

from admin_app.extensions import db
from admin_app.models import AuditLog, StaffProfile
from admin_app.services import api_clients
from tests.api_support import (
    DISTRICT_A_NAME,
    UNIT_A_NAME,
    bearer,
    capture_sql,
    foreign_unit,
    inst,
    no_offset,
    token_for,
)
from tests.conftest import clone_demo, make_app
from tests.test_api_fhir import approved_under


def test_the_document_is_openapi_3_generated_from_the_models(client):
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    doc = resp.json
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) == {"/api/v1/practitioners", "/api/v1/practitioners/{pid}", "/api/v1/organizations",
                                 "/api/v1/organizations/{oid}"}
    assert doc["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    params = {p["name"]: p for p in doc["paths"]["/api/v1/practitioners"]["get"]["parameters"]}
    assert params["limit"]["schema"]["maximum"] == 500 and "cursor" in params
    assert "Practitioner" in str(doc["components"]["schemas"])
    schemathesis.openapi.from_dict(doc)  # schemathesis reads it as a valid OpenAPI document


def test_the_forms_json_endpoints_still_answer_as_before(client):
    assert client.get("/api/regions?parent=110000").json[0]["code"].startswith("11")
    assert client.get("/api/institutions?q=bjxc").status_code == 200


def test_without_a_token_the_api_answers_401_in_json(client):
    for url in ("/api/v1/practitioners", "/api/v1/organizations/1"):
        resp = client.get(url)
        assert resp.status_code == 401 and resp.json["ok"] is False and "令牌" in resp.json["error"]


def test_a_platform_pages_through_its_scope_by_next_links(app, client):
    token = token_for()
    want = approved_under(DISTRICT_A_NAME)
    url, pulled = "/api/v1/practitioners?limit=4", []
    while url:
        with capture_sql() as seen:
            body = client.get(url, headers=bearer(token)).json
        staff_sql = [(s, p) for s, p in seen if "FROM staff_profile" in s]
        assert len(staff_sql) == 1 and no_offset(*staff_sql[0])
        pulled += [p["id"] for p in body["items"]]
        url = body["next"]
    assert sorted(pulled) == want and len(set(pulled)) == len(pulled)
    assert all(p.get("resident_id") is None for p in body["items"])


def test_scope_out_of_scope_and_full_id(app, client):
    plain, full = token_for(), token_for(full_id=True)
    other = foreign_unit()
    body = client.get(f"/api/v1/practitioners?organization={other.id}", headers=bearer(plain)).json
    assert body["items"] == [] and body["next"] is None
    foreign = approved_under(foreign_unit().name)[0]
    assert client.get(f"/api/v1/practitioners/{foreign}", headers=bearer(plain)).status_code == 404
    assert client.get(f"/api/v1/organizations/{other.id}", headers=bearer(plain)).status_code == 404
    own = approved_under(UNIT_A_NAME)[0]
    assert client.get(f"/api/v1/practitioners/{own}", headers=bearer(plain)).json["resident_id"] is None
    number = client.get(f"/api/v1/practitioners/{own}", headers=bearer(full)).json["resident_id"]
    assert number and len(number) == 18
    assert db.session.scalar(select(func.count()).where(AuditLog.action == "api_read_full_id")) == 1
    orgs = client.get(f"/api/v1/organizations?partof={inst(DISTRICT_A_NAME).id}", headers=bearer(plain)).json
    assert inst(UNIT_A_NAME).id in [o["id"] for o in orgs["items"]]


def test_updated_since_pulls_only_the_changes(app, client):
    token = token_for()
    since = db.session.scalar(select(func.max(StaffProfile.updated_at)))
    changed = approved_under(DISTRICT_A_NAME)[:2]
    db.session.execute(update(StaffProfile).where(StaffProfile.id.in_(changed))
                       .values(updated_at=since + timedelta(seconds=1)))
    db.session.commit()
    stamp = since.isoformat(timespec="microseconds") + "Z"
    body = client.get(f"/api/v1/practitioners?updated_since={stamp}", headers=bearer(token)).json
    assert sorted(p["id"] for p in body["items"]) == changed


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=x", "organization=-1", "cursor=abc",
                                   "name=%00", "updated_since=yesterday", "unknown=1"])
def test_malformed_queries_are_4xx_json(app, client, query):
    resp = client.get(f"/api/v1/practitioners?{query}", headers=bearer(token_for()))
    assert 400 <= resp.status_code < 500 and resp.is_json, query


def test_revoked_token_is_cut_off(app, client):
    token = token_for(label="即将吊销")
    assert client.get("/api/v1/organizations", headers=bearer(token)).status_code == 200
    api_clients.revoke("即将吊销")
    assert client.get("/api/v1/organizations", headers=bearer(token)).status_code == 401


# ---- schemathesis against the running app -------------------------------------------------------------------

@pytest.fixture(scope="module")
def live_api(template_db, tmp_path_factory):
    """The app over a fresh demo copy, served on a loopback port, with a national token."""
    tmp = tmp_path_factory.mktemp("api-live")
    app = make_app(tmp, clone_demo(template_db, tmp, label="apilive"))
    with app.app_context():
        _client, token = api_clients.create("schemathesis", inst("国家卫生健康委员会").id, full_id=True)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    for _ in range(200):  # bounded polling until it answers
        try:
            urllib.request.urlopen(url + "/api/v1/openapi.json", timeout=5).close()
            break
        except (urllib.error.URLError, OSError):
            threading.Event().wait(0.05)
    yield {"url": url, "token": token}
    server.shutdown()
    thread.join(timeout=30)
    server.server_close()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_schemathesis_finds_no_failure(live_api, tmp_path):
    """schemathesis (its CLI, every check) fuzzes each operation of the document against the running app: no 5xx,
    documented status codes, content types and bodies, the token enforced. Deterministic, so CI replays it."""
    cli = Path(sys.executable).with_name("schemathesis")
    run = subprocess.run(
        [str(cli), "run", live_api["url"] + "/api/v1/openapi.json", "--checks", "all",
         "-H", f"Authorization: Bearer {live_api['token']}", "--max-examples", "25", "--seed", "20261207",
         "--generation-deterministic", "--workers", "1", "--request-timeout", "30", "--max-failures", "5",
         "--no-color", "--report", "junit", "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=600, env={**os.environ, "NO_COLOR": "1"}, cwd=tmp_path)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    assert re.search(r"\b[1-9]\d* passed", output) or "No issues found" in output, output[-3000:]
