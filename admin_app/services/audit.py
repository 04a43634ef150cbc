"""Writing the append-only audit log."""
from flask import has_request_context, request
from flask_login import current_user

from ..extensions import db
from ..i18n import N_
from ..models import AuditLog

# Audit action code -> label msgid. Codes missing here are shown as they are.
AUDIT_ACTIONS = {
    "review_approve": N_("Review: approved"),
    "review_reject": N_("Review: rejected"),
    "review_revert": N_("Review: approval reverted"),
    "export_staff": N_("Exported the staff list"),
    "export_audit": N_("Exported the audit log"),
    "view_id_number": N_("Viewed a full document number"),
    "login_failed": N_("Sign-in failed"),
    "register": N_("Registered an account"),
    "password_change_failed": N_("Password change failed"),
    "account_update": N_("Updated account information"),
    "application_submitted": N_("New-institution application submitted"),
    "application_approved": N_("New-institution application included"),
    "application_rejected": N_("New-institution application rejected"),
    "institution_created": N_("Institution created"),
    "institution_updated": N_("Institution updated"),
    "institution_moved": N_("Supervising institution changed"),
    "confirmation_code_viewed": N_("Viewed the unit confirmation code"),
    "confirmation_code_regenerated": N_("Regenerated the unit confirmation code"),
    "grant_code_issued": N_("Authorization code issued"),
    "grant_code_expired_reset": N_("Expired authorization code revoked"),
    "grant_bound": N_("Authorization code bound"),
    "grant_authorized_directly": N_("Authorized directly"),
    "assistant_added": N_("Assistant admin added"),
    "assistant_removed": N_("Assistant admin removed"),
    "manager_transferred": N_("Business manager transferred"),
    "identity.submit": N_("Identity verification submitted"),
    "identity.view_number": N_("Viewed a verification document number"),
    "identity.changed": N_("Identity changed"),
}
TARGET_TYPES = {
    "staff_profile": N_("Staff profile"),
    "user": N_("User"),
    "phone": N_("Mobile number"),
    "institution": N_("Institution"),
    "institution_application": N_("New-institution application"),
    "admin_grant": N_("Authorization"),
    "identity_verification": N_("Identity verification"),
}


def client_ip() -> str | None:
    """The caller's address (ProxyFix, when configured, has already resolved X-Forwarded-For)."""
    return request.remote_addr if has_request_context() else None


def record(action: str, *, target_type: str | None = None, target_id=None, institution_id: int | None = None,
           details: dict | None = None, actor_id: int | None = None, ip: str | None = None) -> AuditLog:
    """Add an audit row to the current transaction (the caller commits with its own change).

    `ip` is the requester's address for work done away from the request (a background export job); by default
    the current request's.
    """
    if actor_id is None and has_request_context() and current_user.is_authenticated:
        actor_id = current_user.id
    row = AuditLog(action=action, target_type=target_type, target_id=None if target_id is None else str(target_id),
                   institution_id=institution_id, details=details, actor_id=actor_id, ip=ip or client_ip())
    db.session.add(row)
    return row
