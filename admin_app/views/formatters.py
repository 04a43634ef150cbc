"""Column formatters shared by the grids: translated labels, local times.

They run once per cell (1,000 rows × 9 columns on the biggest page), so the timezone is looked up once per
request and each mapping's labels once per language (the catalogs are compiled before the app starts).
"""
from flask_babel import get_locale, get_timezone, gettext as _
from markupsafe import Markup

from ..models.profile import STATUSES
from ..services import clock

_LABELS: dict = {}  # (id of a module-level mapping, language) -> its translated labels
_BADGES: dict = {}  # id of a translated STATUSES -> (it, the status badges drawn with its labels)


def translated(mapping: dict) -> dict:
    """The mapping's labels translated into the request's language (computed once per mapping and language)."""
    key = (id(mapping), str(get_locale()))
    labels = _LABELS.get(key)
    if labels is None or labels[0] is not mapping:
        labels = _LABELS[key] = (mapping, {k: _(v) for k, v in mapping.items()})
    return labels[1]


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


# ---- cell factories of views/list_table.py: called once per page, they return the cell function row → value ----


def label_cell(mapping: dict, attr: str):
    """Cell factory: the translated label of a coded value (the labels translated once per page)."""
    def factory(view):
        labels = translated(mapping)

        def cell(row):
            value = getattr(row, attr)
            return labels.get(value, value or "")
        return cell
    return factory


def time_cell(attr: str):
    """Cell factory: a UTC timestamp in the configured timezone, as local_time shows it."""
    def factory(view):
        tz = get_timezone()  # once per page, not per cell
        return lambda row: clock.local_text(getattr(row, attr), tz=tz)
    return factory


def status_cell(attr: str = "status"):
    """Cell factory: the review status as status_badge draws it, each status's badge built once per language."""
    def factory(view):
        texts = translated(STATUSES)
        cached = _BADGES.get(id(texts))  # texts is kept in _LABELS for the process: its id stays its own
        if cached is None or cached[0] is not texts:
            cached = _BADGES[id(texts)] = (texts, {
                code: Markup('<span class="badge badge-{} status-badge" data-status="{}">{}</span>').format(
                    STATUS_BADGES.get(code, "light"), code, text) for code, text in texts.items()})
        badges = cached[1]

        def cell(row):
            code = getattr(row, attr)
            badge = badges.get(code)
            if badge is None:  # a code outside STATUSES (never stored): drawn as the formatter draws it
                badge = status_badge(view, None, row, attr)
            return badge
        return cell
    return factory
