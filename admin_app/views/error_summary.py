"""The error summary of a form sent back with errors (issue 31, WCAG 3.3.1): the page template renders it, so it
exists without JavaScript; static/js/a11y.js only moves focus to it. Items come from every WTForms form of the
template's context, plus `error_items` that a template sets for errors not held by a form (the reason steps); a
template sets `hide_form_errors` while its form's errors are not shown yet."""
from typing import NamedTuple

from flask import Flask
from jinja2 import pass_context
from wtforms import Form
from wtforms.fields import FormField, RadioField


class ErrorItem(NamedTuple):
    """One line of the summary: the element to jump to, the field's label, what is wrong."""
    target: str | None
    label: str
    message: str


def _messages(errors) -> list[str]:
    """A field's errors flattened (FieldList and FormField nest them in lists and dicts)."""
    if isinstance(errors, dict):
        return [m for v in errors.values() for m in _messages(v)]
    if isinstance(errors, (list, tuple)):
        return [m for v in errors for m in _messages(v)]
    return [str(errors)] if errors else []


def _target(field) -> str | None:
    if field.type in ("HiddenField", "CSRFTokenField"):
        return None  # nothing to jump to: the message alone
    # The portal's radio groups (templates/_macros.html) are wrapped in a fieldset `<id>-group`.
    return field.id + "-group" if isinstance(field, RadioField) else field.id


def form_items(form: Form) -> list[ErrorItem]:
    """The summary lines of one form, in the form's field order."""
    items: list[ErrorItem] = []
    for field in form:
        if not field.errors:
            continue
        if isinstance(field, FormField):
            items.extend(form_items(field.form))
            continue
        label = (field.label.text if field.label else field.name).rstrip(" *＊:：")
        items.append(ErrorItem(_target(field), label, "；".join(_messages(field.errors))))
    form_errors = getattr(form, "form_errors", None) or []
    items.extend(ErrorItem(None, "", str(m)) for m in form_errors)
    return items


@pass_context
def form_error_items(ctx) -> list[ErrorItem]:
    """Every error of the forms the page was rendered with (each form once), then the template's own items."""
    items: list[ErrorItem] = []
    seen: set[int] = set()
    for value in ([] if ctx.get("hide_form_errors") else ctx.get_all().values()):
        if isinstance(value, Form) and id(value) not in seen and value.errors:
            seen.add(id(value))
            items.extend(form_items(value))
    items.extend(ErrorItem(*item) for item in (ctx.get("error_items") or []))
    return items


def init_app(app: Flask) -> None:
    """Offer form_error_items() to every template (portal and Flask-Admin)."""
    app.jinja_env.globals["form_error_items"] = form_error_items
