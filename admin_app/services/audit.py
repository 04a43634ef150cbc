"""Writing the append-only audit log."""
from flask import has_request_context, request
from flask_babel import gettext as _
from flask_login import current_user

from ..extensions import db
from ..i18n import N_
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
}
DETAIL_VALUES = {
    "unknown_phone": N_("Mobile number not registered"), "bad_password": N_("Wrong password"),
    "manager": N_("Business manager"), "assistant": N_("Assistant admin"),
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
