"""What the frame of every back-office page repeats identically, built once per language and URL root, not per
request (issue 20): the labels Flask-Admin's date pickers and select2 boxes and a11y.js are given (~40 gettext
calls a page), the static files' URLs (a dozen url_for a page) and the main menu's markup.

The caches live on the app and are keyed by the request's locale (a language switch reads its own labels, never the
first language a process served) and by its script root (the URL prefix static paths are built under). The CSP
nonce is not part of anything cached: the templates still write each request's own.
"""
from flask import Flask, current_app, request, url_for
from flask_babel import get_locale, gettext as _
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup

CACHE_KEY = "hwr_page_chrome"


def _cache(name: str) -> dict:
    return current_app.extensions[CACHE_KEY].setdefault(name, {})


def _tojson(value) -> Markup:
    """The `tojson` filter's output (the app's JSON settings, HTML-safe), from Python."""
    env = current_app.jinja_env
    return htmlsafe_json_dumps(value, dumps=env.policies["json.dumps_function"], **env.policies["json.dumps_kwargs"])


def _picker_labels() -> dict:
    """The words js/admin_locale.js gives Flask-Admin's date pickers and select2 boxes (in this language)."""
    return {
        "daterangepicker": {"applyLabel": _("OK"), "cancelLabel": _("Cancel"), "fromLabel": _("From"),
                            "toLabel": _("To"), "weekLabel": _("Wk"), "customRangeLabel": _("Custom range"),
                            "daysOfWeek": [_("Su"), _("Mo"), _("Tu"), _("We"), _("Th"), _("Fr"), _("Sa")],
                            "monthNames": [_("Jan"), _("Feb"), _("Mar"), _("Apr"), _("May"), _("Jun"), _("Jul"),
                                           _("Aug"), _("Sep"), _("Oct"), _("Nov"), _("Dec")]},
        "select2": {"noMatches": _("No matches found"), "searching": _("Searching…"),
                    "loadMore": _("Loading more results…"),
                    "inputTooShort": _("Please type %(n)s more character(s)", n="%(n)s"),
                    "oneMatch": _("One result is available, press Enter to choose it."),
                    "matches": _("%(n)s results are available, use the up and down arrow keys to move.", n="%(n)s")},
    }


def _a11y_labels() -> dict:
    """The words js/a11y.js names unlabeled checkboxes and filter controls with (in this language)."""
    return {"select": _("Select"), "selectPage": _("Select all {n} rows on this page"), "condition": _("condition"),
            "removeFilter": _("Remove filter"), "remove": _("Remove")}


LABELS = {"picker": _picker_labels, "a11y": _a11y_labels}


def chrome_labels(name: str) -> Markup:
    """One of the frame's label sets as JSON for a data attribute or element, built once per language."""
    cache = _cache("labels")
    key = (str(get_locale()), name)
    got = cache.get(key)
    if got is None:
        got = cache[key] = _tojson(LABELS[name]())
    return got


def static_url(endpoint: str, filename: str, **values) -> str:
    """url_for(endpoint, filename=…, **values) of a static file, built once per URL root."""
    cache = _cache("static")
    key = (request.script_root, endpoint, filename, tuple(sorted(values.items())))
    got = cache.get(key)
    if got is None:
        got = cache[key] = url_for(endpoint, filename=filename, **values)
    return got


def _menu_visibility(admin) -> tuple:
    """What of the admin's menu this request's user is shown: per entry, its visible children or whether it is."""
    out = []
    for item in admin.menu():
        if item.is_category():
            out.append(tuple(id(child) for child in item.get_children()))
        else:
            out.append(bool(item.is_accessible() and item.is_visible()))
    return tuple(out)


def cached_menu(view, render) -> Markup:
    """The back office's main menu (Flask-Admin's layout.menu macro, `render`) as rendered for this view, language,
    URL root and set of entries the user may see: the entries are still checked on every request (rights change),
    the markup is rendered once per combination."""
    cache = _cache("menu")
    key = (str(get_locale()), request.script_root, view.endpoint, _menu_visibility(view.admin))
    got = cache.get(key)
    if got is None:
        got = cache[key] = Markup(render())
    return got


def init_app(app: Flask) -> None:
    """The frame's cached labels and static URLs, for the templates."""
    app.extensions[CACHE_KEY] = {}
    app.jinja_env.globals.update(chrome_labels=chrome_labels, static_url=static_url, cached_menu=cached_menu)
