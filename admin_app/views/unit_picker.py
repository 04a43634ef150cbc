"""A search picker for an institution field of a back-office form (the portal's [data-unit-picker] pattern).

With JavaScript, portal.js lists matches from a JSON search as one types and a click chooses one; without it, the
"Search" button posts the form (`find_unit`), the view re-renders it with the matches in the select, and the user
chooses there. For a text field of several institutions (one per line) the chosen one is added as a line: by
portal.js at once, or by the "Add" button (`add_unit`) without it. The server decides what is accepted.
"""
from flask import render_template, request, url_for
from markupsafe import Markup
from wtforms.widgets import Select, TextArea

HELPER_BUTTONS = ("find_unit", "add_unit")


def helper_button_pressed() -> bool:
    """The form was posted by the picker's Search or Add button, not by Save: re-render, save nothing."""
    return request.method == "POST" and any(b in request.form for b in HELPER_BUTTONS)


def query_of(field) -> str:
    """What was typed into the field's search box (bounded; the service refuses what is still too long)."""
    return (request.form.get(f"{field.name}_q") or "").strip()[:200]


class UnitPicker:
    """Widget: the search box and matches above a select (`append=False`) or a textarea of lines (`append=True`).

    The view sets `field.matches` (institutions found for the typed query) and, on a refused query,
    `field.picker_error`."""

    def __init__(self, endpoint: str, append: bool = False):
        self.endpoint, self.append = endpoint, append

    def __call__(self, field, **kwargs):
        if not self.append:
            kwargs["data-unit-select"] = True  # portal.js puts the clicked match here
        control = (TextArea() if self.append else Select())(field, **kwargs)
        return Markup(render_template("admin/_unit_picker.html", field=field, control=control, append=self.append,
                                      url=url_for(self.endpoint), query=query_of(field),
                                      matches=getattr(field, "matches", []),
                                      error=getattr(field, "picker_error", None)))
