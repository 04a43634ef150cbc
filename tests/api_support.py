"""Helpers of the machine-API tests: consuming systems of the demo and FHIR validation with fhir.resources."""
from contextlib import contextmanager

from fhir.resources.R4B import get_fhir_model_class
from sqlalchemy import event, select

from admin_app.extensions import db
from admin_app.models import Institution
from admin_app.services import api_clients

DISTRICT_A_NAME, DISTRICT_B_NAME = "北京市西城区卫生健康委员会", "北京市朝阳区卫生健康委员会"
UNIT_A_NAME, UNIT_B_NAME = "北京市西城区疾病预防控制中心", "北京市朝阳区疾病预防控制中心"


def inst(name: str) -> Institution:
    return db.session.scalars(select(Institution).where(Institution.name == name)).one()


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


@contextmanager
def capture_sql():
    """with capture_sql() as seen: ...; seen lists (statement, parameters) of every statement run inside."""
    seen: list = []

    def listen(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)


def no_offset(statement: str, params) -> bool:
    """True when the statement skips no rows: no OFFSET, or SQLAlchemy's SQLite `LIMIT ? OFFSET ?` with 0 bound."""
    if "offset" not in statement.lower():
        return True
    values = list(params.values()) if isinstance(params, dict) else list(params)
    return bool(values) and values[-1] == 0
