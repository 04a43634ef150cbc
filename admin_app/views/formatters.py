"""Column formatters shared by the grids: translated labels, local times.

They run once per cell (1,000 rows × 9 columns on the biggest page), so each translation and the timezone are
looked up once per request and kept in `g`, not once per cell.
"""
from flask import g
from flask_babel import get_locale, gettext as _
from markupsafe import Markup

from ..models.profile import STATUSES
from ..services import clock


def translated(mapping: dict) -> dict:
    """The mapping's labels translated into the request's language (computed once per request and mapping)."""
    cache = g.setdefault("hwr_labels", {})
    key = (id(mapping), str(get_locale()))
    if key not in cache:
        cache[key] = {k: _(v) for k, v in mapping.items()}
    return cache[key]


def label(mapping: dict, attr: str):
    """Formatter that shows the translated label of a coded value."""
    def fmt(view, context, model, name):
        value = getattr(model, attr)
        return translated(mapping).get(value, value or "")
    return fmt


def yes_no(view, context, model, name):
    """A boolean as 是/否 (Flask-Admin's detail page would print True/False)."""
    value = getattr(model, name)
    return "" if value is None else (_("Yes") if value else _("No"))


def local_time(view, context, model, name):
    """A UTC timestamp shown in the configured timezone, as yyyy-MM-dd HH:mm (the same in every language)."""
    return clock.local_text(getattr(model, name))


# Badge colour per review status (Bootstrap 4 contextual classes).
STATUS_BADGES = {"draft": "secondary", "submitted": "warning", "unit_rejected": "danger", "unit_approved": "info",
                 "rejected": "danger", "approved": "success"}


def status_badge(view, context, model, name):
    """The review status as a coloured badge carrying data-status="<code>"."""
    code = getattr(model, name)
    text = translated(STATUSES).get(code, code or "")
    return Markup('<span class="badge badge-{} status-badge" data-status="{}">{}</span>').format(
        STATUS_BADGES.get(code, "light"), code or "", text)
