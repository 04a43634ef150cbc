"""A machine API call's consuming system: the bearer token checked once per request, the rate-limit key, and the
audit row each call leaves (who pulled what, how many rows; full ID numbers under their own action)."""
from flask import g, request
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address

from ..extensions import db
from ..i18n import N_
from ..models import ApiClient
from .api_clients import ApiAuthError, touch, verify
from .audit import client_ip, record

AUTH_MESSAGES = {
    "missing": N_("Send the API token as Authorization: Bearer <token>."),
    "unknown": N_("Unknown API token."),
    "revoked": N_("This API token has been revoked."),
    "expired": N_("This API token has expired."),
}


def current_client() -> ApiClient | None:
    """The request's consuming system (checked once per request); None with g.api_auth_error set when refused."""
    if "api_client" not in g:
        try:
            g.api_client = verify(request.headers.get("Authorization"))
        except ApiAuthError as e:
            g.api_client = None
            g.api_auth_error = _(AUTH_MESSAGES[str(e)])
    return g.api_client


def client_key() -> str:
    """Flask-Limiter's key: the consuming system (one budget per token), else the caller's address."""
    client = current_client()
    return f"api-client:{client.id}" if client is not None else f"api-ip:{get_remote_address()}"


def record_call(client: ApiClient, what: str, rows: int, full_ids: int = 0) -> None:
    """Audit one call and note the client's last use, in one commit."""
    details = {"client": client.name, "resource": what, "query": request.query_string.decode("utf-8", "replace")[:500],
               "rows": rows}
    record("api_read", target_type="api_client", target_id=client.id, institution_id=client.institution_id,
           details=details, ip=client_ip())
    if full_ids:
        record("api_read_full_id", target_type="api_client", target_id=client.id,
               institution_id=client.institution_id, details={**details, "full_id": full_ids}, ip=client_ip())
    touch(client)
    db.session.commit()
