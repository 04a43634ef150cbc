"""Consuming systems (接入系统): registered by a platform admin (CLI or back office), token shown once and stored
hashed, revoked at once, expired on its day."""
import hashlib
import re
from datetime import timedelta

from sqlalchemy import select

from admin_app.extensions import db
from admin_app.models import ApiClient, AuditLog, Institution
from admin_app.services import api_clients
from admin_app.services.clock import today
from tests.conftest import DISTRICT_A, SUPER


def district_a() -> Institution:
    return db.session.scalars(select(Institution).where(Institution.name == "北京市西城区卫生健康委员会")).one()


def cli(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_cli_registers_a_system_and_prints_its_token_alone_on_the_last_line(app):
    inst = district_a()
    result = cli(app, "api-client", "create", "--name", "省平台", "--institution-id", str(inst.id),
                 "--expires", (today() + timedelta(days=30)).isoformat())
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert re.fullmatch(r"hwr_[A-Za-z0-9_-]{43}", token)
    client = db.session.scalars(select(ApiClient).where(ApiClient.name == "省平台")).one()
    # Only the hash is stored: the database (or a backup of it) cannot be used to call the API.
    assert client.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(db.session.execute(select(ApiClient.__table__)).all())
    assert client.institution_id == inst.id and not client.full_id
    assert api_clients.expires_on(client) == today() + timedelta(days=30)
    assert api_clients.verify(f"Bearer {token}").id == client.id


def test_cli_refuses_a_duplicate_name_an_unknown_institution_and_a_past_date(app):
    inst = district_a()
    assert cli(app, "api-client", "create", "--name", "甲", "--institution-id", str(inst.id)).exit_code == 0
    for args in (("--name", "甲", "--institution-id", str(inst.id)),
                 ("--name", "乙", "--institution-id", "999999"),
                 ("--name", "丙", "--institution-id", str(inst.id), "--expires", "2001-01-01")):
        result = cli(app, "api-client", "create", *args)
        assert result.exit_code != 0 and "hwr_" not in result.output
    assert db.session.scalar(select(ApiClient.id).where(ApiClient.name.in_(["乙", "丙"]))) is None


def test_cli_revoke_cuts_the_token_off_at_once_and_is_audited(app):
    result = cli(app, "api-client", "create", "--name", "人事系统", "--institution-id", str(district_a().id))
    token = result.output.strip().splitlines()[-1]
    assert app.test_client().get("/fhir/Organization", headers=bearer(token)).status_code == 200
    assert cli(app, "api-client", "revoke", "人事系统").exit_code == 0
    resp = app.test_client().get("/fhir/Organization", headers=bearer(token))
    assert resp.status_code == 401 and resp.json["resourceType"] == "OperationOutcome"
    assert db.session.scalar(select(AuditLog.id).where(AuditLog.action == "api_client_revoked")) is not None
    assert cli(app, "api-client", "revoke", "没有这个系统").exit_code != 0


def test_an_expired_token_is_refused(app):
    client, token = api_clients.create("过期系统", district_a().id, expires_on=today())
    assert api_clients.state(client) == "active"
    client.expires_at = client.expires_at - timedelta(days=1)  # its last day is over
    db.session.commit()
    resp = app.test_client().get("/fhir/Practitioner", headers=bearer(token))
    assert resp.status_code == 401 and resp.json["issue"][0]["code"] == "login"
    assert "已过期" in resp.json["issue"][0]["diagnostics"]


def test_platform_admin_registers_a_system_in_the_back_office_and_sees_the_token_once(app, login):
    admin = login(SUPER)
    home = admin.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/apiclient/"' in home and "接入系统" in home  # reached from the back-office menu
    page = admin.get("/admin/apiclient/").get_data(as_text=True)
    assert "尚未登记接入系统" in page and 'href="/admin/apiclient/new/' in page
    # The admin who hands a token over finds where both interfaces describe themselves.
    assert 'href="/fhir/metadata"' in page and 'href="/api/v1/openapi.json"' in page
    # and the JSON API's own addresses, which answer a browser without a token in Chinese, not with a bare error.
    assert 'href="/api/v1/practitioners"' in page and 'href="/api/v1/organizations"' in page
    for path in ("/api/v1/practitioners", "/api/v1/organizations"):
        bare = admin.get(path)
        assert bare.status_code == 401 and "令牌" in bare.json["error"], path
    form = admin.get("/admin/apiclient/new/").get_data(as_text=True)
    for word in ("名称", "机构范围", "有效期"):
        assert word in form
    inst = district_a()
    resp = admin.post("/admin/apiclient/new/", data={"name": "省级平台", "parent_id": str(inst.id),
                                                      "expires": (today() + timedelta(days=7)).isoformat()})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    token = re.search(r'data-api-token[^>]*value="([^"]+)"|value="([^"]+)"[^>]*data-api-token', html)
    token = next(t for t in token.groups() if t)
    assert api_clients.verify(f"Bearer {token}").name == "省级平台"
    listing = admin.get("/admin/apiclient/").get_data(as_text=True)
    assert "省级平台" in listing and token not in listing and inst.name in listing
    created = db.session.scalars(select(AuditLog).where(AuditLog.action == "api_client_created")).one()
    assert created.actor_id is not None and created.details["name"] == "省级平台"


def test_the_form_answers_bad_input_in_chinese_and_writes_nothing(app, login):
    admin = login(SUPER)
    html = admin.post("/admin/apiclient/new/", data={"name": "", "parent_id": "", "expires": "明天"}
                      ).get_data(as_text=True)
    assert "请输入接入系统的名称" in html and "请选择" in html and "YYYY-MM-DD" in html
    html = admin.post("/admin/apiclient/new/", data={"name": "x" * 65, "parent_id": str(district_a().id)}
                      ).get_data(as_text=True)
    assert "64" in html
    html = admin.post("/admin/apiclient/new/", data={"name": "过去", "parent_id": str(district_a().id),
                                                     "expires": "2001-01-01"}).get_data(as_text=True)
    assert "有效期已过" in html
    assert db.session.scalar(select(ApiClient.id)) is None


def test_revoking_in_the_back_office_asks_first(app, login):
    client, token = api_clients.create("待吊销", district_a().id)
    admin = login(SUPER)
    page = admin.get(f"/admin/apiclient/revoke/?id={client.id}").get_data(as_text=True)
    assert "待吊销" in page and "立即失效" in page
    db.session.refresh(client)
    assert client.revoked_at is None  # showing the question changed nothing
    assert admin.post("/admin/apiclient/revoke/", data={"id": str(client.id)}).status_code == 302
    assert app.test_client().get("/fhir/Location", headers=bearer(token)).status_code == 401
    assert admin.get("/admin/apiclient/revoke/?id=999999").status_code == 404


def test_the_grid_offers_吊销_and_shows_已吊销_after(app, login):
    api_clients.create("在用系统", district_a().id)
    gone, _token = api_clients.create("停用系统", district_a().id)
    api_clients.revoke(gone.id)
    html = login(SUPER).get("/admin/apiclient/").get_data(as_text=True)
    assert ">吊销</a>" in html and "已吊销" in html
    assert "撤销" not in html and "已解除" not in html  # the pre-registration and grant words


def test_only_platform_admins_reach_the_consuming_systems(app, login):
    officer = login(DISTRICT_A)
    assert officer.get("/admin/apiclient/").status_code == 403
    assert officer.post("/admin/apiclient/new/", data={"name": "x", "parent_id": str(district_a().id)}
                        ).status_code == 403
    assert 'href="/admin/apiclient/"' not in officer.get("/admin/").get_data(as_text=True)
    assert db.session.scalar(select(ApiClient.id)) is None
