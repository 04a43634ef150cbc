"""Column formatters shared by the grids: translated labels, local times."""
from flask_babel import format_datetime, gettext as _
from markupsafe import Markup

from ..models.profile import STATUSES


def label(mapping: dict, attr: str):
    """Formatter that shows the translated label of a coded value."""
    def fmt(view, context, model, name):
        value = getattr(model, attr)
        return _(mapping[value]) if value in mapping else (value or "")
    return fmt


def local_time(view, context, model, name):
    """A UTC timestamp shown in the configured timezone."""
    value = getattr(model, name)
    return format_datetime(value, "yyyy-MM-dd HH:mm") if value else ""


# Badge colour per review status (Bootstrap 4 contextual classes).
STATUS_BADGES = {"draft": "secondary", "submitted": "warning", "unit_rejected": "danger", "unit_approved": "info",
                 "rejected": "danger", "approved": "success"}


def status_badge(view, context, model, name):
    """The review status as a coloured badge carrying data-status="<code>"."""
    code = getattr(model, name)
    text = _(STATUSES[code]) if code in STATUSES else (code or "")
    return Markup('<span class="badge badge-{} status-badge" data-status="{}">{}</span>').format(
        STATUS_BADGES.get(code, "light"), code or "", text)
