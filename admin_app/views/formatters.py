"""Column formatters shared by the grids: translated labels, local times."""
from flask_babel import format_datetime, gettext as _


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
