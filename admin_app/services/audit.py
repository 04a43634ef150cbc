"""Writing the append-only audit log."""
from flask import has_request_context, request
from flask_login import current_user

from ..extensions import db
from ..models import AuditLog


def client_ip() -> str | None:
    """The caller's address (ProxyFix, when configured, has already resolved X-Forwarded-For)."""
    return request.remote_addr if has_request_context() else None


def record(action: str, *, target_type: str | None = None, target_id=None, institution_id: int | None = None,
           details: dict | None = None, actor_id: int | None = None) -> AuditLog:
    """Add an audit row to the current transaction (the caller commits with its own change)."""
    if actor_id is None and has_request_context() and current_user.is_authenticated:
        actor_id = current_user.id
    row = AuditLog(action=action, target_type=target_type, target_id=None if target_id is None else str(target_id),
                   institution_id=institution_id, details=details, actor_id=actor_id, ip=client_ip())
    db.session.add(row)
    return row
