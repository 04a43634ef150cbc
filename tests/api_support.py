"""Helpers of the machine-API tests: consuming systems of the demo and FHIR validation with fhir.resources."""
from fhir.resources.R4B import get_fhir_model_class
from sqlalchemy import select

from admin_app.extensions import db
from admin_app.models import Institution, StaffProfile
from admin_app.services import api_clients
from tests.test_scale_mechanisms import capture_sql  # noqa: F401  (the API tests import it from here)

DISTRICT_A_NAME, DISTRICT_B_NAME = "北京市西城区卫生健康委员会", "北京市朝阳区卫生健康委员会"
UNIT_A_NAME, UNIT_B_NAME = "北京市西城区疾病预防控制中心", "北京市朝阳区疾病预防控制中心"


def inst(name: str) -> Institution:
    return db.session.scalars(select(Institution).where(Institution.name == name)).one()


def foreign_unit() -> Institution:
    """A unit of district B with published (approved) staff: what a district-A token must never see (which unit
    that is depends on the demo generator's draw)."""
    root = inst(DISTRICT_B_NAME)
    found = db.session.scalars(
        select(Institution).join(StaffProfile, StaffProfile.institution_id == Institution.id)
        .where(Institution.path.like(root.path + "%"), Institution.id != root.id, StaffProfile.status == "approved")
        .order_by(Institution.id).limit(1)).first()
    assert found is not None, "the demo has no approved staff in district B"
    return found


def token_for(name: str = DISTRICT_A_NAME, full_id: bool = False, label: str | None = None) -> str:
    """A fresh consuming system scoped to the named institution's subtree; returns its token."""
    _client, token = api_clients.create(label or f"测试系统-{name}-{full_id}", inst(name).id, full_id=full_id)
    return token


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def valid_r4(body: dict):
    """Parse a FHIR JSON body with fhir.resources' R4B models (R4's successor, same resources here): raises when
    the resource does not conform."""
    return get_fhir_model_class(body["resourceType"]).model_validate(body)


def no_offset(statement: str, params) -> bool:
    """True when the statement skips no rows: no OFFSET, or SQLAlchemy's SQLite `LIMIT ? OFFSET ?` with 0 bound."""
    if "offset" not in statement.lower():
        return True
    values = list(params.values()) if isinstance(params, dict) else list(params)
    return bool(values) and values[-1] == 0
