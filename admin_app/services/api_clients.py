"""API clients (接入系统): registering a consuming system, its bearer token, revocation and its scope. One home.

A token is 32 random bytes (`secrets`), shown once when the client is created; only its SHA-256 is stored, so a
copy of the database opens no API access. A client reads the subtree of one institution through the same scope
rule as an admin of that institution (services.scope).
"""
import hashlib
import secrets
from datetime import date, timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..models import ApiClient, Institution
from ..models.types import utcnow
from . import ServiceError, row_id
from .audit import record
from .clock import local_day, local_day_start_utc, today
from .scope import Scope

TOKEN_PREFIX = "hwr_"
NAME_MAX = 64


class ApiAuthError(Exception):
    """The bearer token is missing, unknown, revoked or expired (the API answers 401)."""


def hash_token(token: str) -> str:
    """The stored form of a token: its SHA-256 in hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _clean_name(name) -> str:
    text = " ".join(str(name or "").split())
    if not text:
        raise ServiceError(_("Enter the name of the consuming system."))
    if len(text) > NAME_MAX:
        raise ServiceError(_("The name may have at most %(n)d characters.", n=NAME_MAX))
    return text


def create(name, institution_id, *, full_id: bool = False, expires_on: date | None = None,
           created_by=None) -> tuple[ApiClient, str]:
    """Register a consuming system scoped to the institution's subtree; returns (client, token shown once)."""
    name = _clean_name(name)
    inst_id = row_id(institution_id)
    inst = db.session.get(Institution, inst_id) if inst_id else None
    if inst is None:
        raise ServiceError(_("No institution with this number."))
    if expires_on is not None and expires_on < today():
        raise ServiceError(_("The expiry date lies in the past."))
    if db.session.scalar(select(ApiClient.id).where(ApiClient.name == name)) is not None:
        raise ServiceError(_("A consuming system with this name already exists."))
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    client = ApiClient(name=name, institution_id=inst.id, token_hash=hash_token(token), full_id=bool(full_id),
                       # Valid through the whole local day named: it stops at the start of the next one.
                       expires_at=local_day_start_utc(expires_on + timedelta(days=1)) if expires_on else None,
                       created_by_id=getattr(created_by, "id", None))
    db.session.add(client)
    db.session.flush()
    record("api_client_created", target_type="api_client", target_id=client.id, institution_id=inst.id,
           actor_id=getattr(created_by, "id", None),
           details={"name": name, "institution_id": inst.id, "full_id": bool(full_id),
                    "expires_at": expires_on.isoformat() if expires_on else None})
    db.session.commit()
    return client, token


def get(key) -> ApiClient | None:
    """A client by id (digits) or by name."""
    pk = row_id(key)
    if pk is not None:
        found = db.session.get(ApiClient, pk)
        if found is not None:
            return found
    return db.session.scalar(select(ApiClient).where(ApiClient.name == _clean_name(key)))


def revoke(key, revoked_by=None) -> ApiClient:
    """Revoke a client (by id or name): its token stops working at once. Revoking twice changes nothing."""
    client = get(key)
    if client is None:
        raise ServiceError(_("No consuming system with this name."))
    if client.revoked_at is None:
        client.revoked_at = utcnow()
        record("api_client_revoked", target_type="api_client", target_id=client.id,
               institution_id=client.institution_id, actor_id=getattr(revoked_by, "id", None),
               details={"name": client.name})
        db.session.commit()
    return client


def expires_on(client: ApiClient) -> date | None:
    """The last local day the client's token works (None: until revoked)."""
    return local_day(client.expires_at - timedelta(microseconds=1)) if client.expires_at else None


def state(client: ApiClient) -> str:
    """active | revoked | expired."""
    if client.revoked_at is not None:
        return "revoked"
    if client.expires_at is not None and client.expires_at <= utcnow():
        return "expired"
    return "active"


def verify(authorization: str | None) -> ApiClient:
    """The active client whose token an `Authorization: Bearer <token>` header carries, else ApiAuthError."""
    scheme, _sep, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 256:
        raise ApiAuthError("missing")
    client = db.session.scalar(select(ApiClient).where(ApiClient.token_hash == hash_token(token)))
    if client is None:
        raise ApiAuthError("unknown")
    st = state(client)
    if st != "active":
        raise ApiAuthError(st)
    return client


def scope_of(client: ApiClient) -> Scope:
    """The client's scope: its institution's subtree, by the one scope rule."""
    return Scope(user_id=None, paths=(client.institution.path,), institution_ids=(client.institution_id,))


def touch(client: ApiClient) -> None:
    """Note the client's last use (committed with the call's audit row)."""
    client.last_used_at = utcnow()


def all_clients() -> list[ApiClient]:
    """Every registered client, newest first."""
    return list(db.session.scalars(select(ApiClient).order_by(ApiClient.id.desc())))
