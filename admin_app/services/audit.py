"""Writing the append-only audit log."""
from flask import has_request_context, request
from flask_babel import gettext as _
from flask_login import current_user

from ..extensions import db
from ..i18n import N_
from ..models import AuditLog
from ..models.user import ID_TYPES

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
    "grant_reset": N_("Authorization revoked"),
    "preregistration_created": N_("Admin phone pre-registered"),
    "preregistration_claimed": N_("Pre-registered admin phone claimed"),
    "preregistration_revoked": N_("Pre-registered admin phone revoked"),
    "identity.submit": N_("Identity verification submitted"),
    "identity.view_number": N_("Viewed a verification document number"),
    "identity.changed": N_("Identity changed"),
    "rotate_pii_key": N_("PII key rotated"),
    "password_change": N_("Password changed"),
    "password_reset": N_("Password reset by SMS"),
    "session_ended": N_("Ended a sign-in session"),
    "sessions_ended_others": N_("Signed out all other devices"),
    "programme_created": N_("Programme added"),
    "programme_changed": N_("Programme changed"),
    "programme_deactivated": N_("Programme deactivated"),
    "programme_activated": N_("Programme reactivated"),
    "api_client_created": N_("Consuming system registered"),
    "api_client_revoked": N_("Consuming system revoked"),
    "api_read": N_("API read by a consuming system"),
    "api_read_full_id": N_("API read with full ID numbers"),
    "staff_import": N_("Staff imported from a file"),
    "notices_resent": N_("Failed SMS notices sent again"),
}
TARGET_TYPES = {
    "staff_profile": N_("Staff profile"),
    "user": N_("User"),
    "phone": N_("Mobile number"),
    "institution": N_("Institution"),
    "institution_application": N_("New-institution application"),
    "admin_grant": N_("Authorization"),
    "admin_preregistration": N_("Pre-registered admin phone"),
    "identity_verification": N_("Identity verification"),
    "pii_key": N_("PII key"),
    "programme": N_("Programme"),
    "api_client": N_("Consuming system"),
    "sms_notice": N_("SMS notice"),
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


def record_alone(action: str, **kwargs) -> AuditLog:
    """Record and commit an audit row that is the only write of its work (an export changes nothing else)."""
    row = record(action, **kwargs)
    db.session.commit()
    return row


# ---- reading the log -------------------------------------------------------------------------------------
# Detail keys and coded values as words, so an audit row reads as a sentence, not as "moved: 1; reason: null".
DETAIL_KEYS = {
    "reason": N_("Reason"), "locked": N_("Locked"), "name": N_("Name"), "uscc": N_("Unified social credit code"),
    "institution_id": N_("Institution number"), "application_id": N_("Application number"), "role": N_("Role"),
    "expires_at": N_("Valid until"), "user_id": N_("User number"), "from_user_id": N_("From user number"),
    "to_user_id": N_("To user number"), "id_type": N_("Document type"), "number": N_("Document number"),
    "from": N_("Before"), "to": N_("After"), "changes": N_("Changes"),
    "from_parent_id": N_("Former supervising institution number"),
    "to_parent_id": N_("New supervising institution number"), "fields": N_("Changed fields"),
    "profile_id": N_("Profile number"), "rows": N_("Rows"), "filters": N_("Filters"), "search": N_("Search"),
    "sort": N_("Sorted by"), "desc": N_("Descending"), "job": N_("Background job"), "source": N_("Source"),
    "columns": N_("Columns"),
    "sessions_ended": N_("Sessions ended"), "session_id": N_("Session number"), "ip": N_("IP address"),
    "browser": N_("Browser"),
    "client": N_("Consuming system"), "resource": N_("Resource"), "query": N_("Query"),
    "full_id": N_("Full ID numbers"),
    "code": N_("Programme code"), "institution_ids": N_("Participating institution numbers"),
    "programme_id": N_("Programme number"),
}
DETAIL_VALUES = {
    "unknown_phone": N_("Mobile number not registered"), "bad_password": N_("Wrong password"),
    "manager": N_("Business manager"), "assistant": N_("Assistant admin"),
    **ID_TYPES,  # id_type: the document's name, not its code (resident_id)
}
REVIEW_VERBS = {"review_approve": N_("Approved %(n)d staff"), "review_reject": N_("Rejected %(n)d staff"),
                "review_revert": N_("Reverted %(n)d staff")}
LEVEL_WORDS = {"1": N_("unit review"), "2": N_("institution review")}


def _value(v) -> str:
    if isinstance(v, bool):
        return _("Yes") if v else _("No")
    if isinstance(v, (list, tuple)):
        return "、".join(_value(x) for x in v if x is not None)
    if isinstance(v, dict):
        return "；".join(f"{_(DETAIL_KEYS.get(k, k))}：{_value(x)}" for k, x in v.items() if x not in (None, ""))
    if isinstance(v, str) and v in DETAIL_VALUES:
        return _(DETAIL_VALUES[v])
    return str(v)


def describe(action: str, details, full: bool = False) -> str:
    """An audit row's details as a Chinese sentence (`full` also lists the profile ids of a review)."""
    if not details:
        return ""
    if not isinstance(details, dict):
        return _value(details)
    details = dict(details)
    parts = []
    if action in REVIEW_VERBS and "moved" in details:
        sentence = _(REVIEW_VERBS[action], n=details.pop("moved") or 0) + _(", skipped %(n)d staff",
                                                                         n=details.pop("skipped", 0) or 0)
        levels = details.pop("levels", None) or {}
        if levels:
            sentence += "（" + "，".join(_("%(level)s: %(n)d staff", level=_(LEVEL_WORDS.get(k, k)), n=v)
                                         for k, v in sorted(levels.items())) + "）"
        parts.append(sentence)
        if details.get("changed"):
            parts.append(_("%(n)d had changed status and were not handled", n=details["changed"]))
        if details.get("own"):
            parts.append(_("own profile not reviewed"))
        details.pop("changed", None)
        details.pop("own", None)
        ids = details.pop("first_ids", None)
        if full and ids:
            parts.append(_("Profile numbers: %(ids)s", ids="、".join(str(i) for i in ids)))
    for k, v in details.items():
        if v in (None, "", [], {}):
            continue
        parts.append(f"{_(DETAIL_KEYS.get(k, k))}：{_value(v)}")
    return "；".join(parts)
