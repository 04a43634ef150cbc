"""The one secure base for every back-office view: access check, the scope filter and bounded arguments."""
from urllib.parse import urlencode

from flask import abort, flash, redirect, request, url_for
from flask_admin import AdminIndexView, BaseView
from flask_admin.contrib.sqla import ModelView
from flask_admin.model import filters as fa_filters
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import ImmutableMultiDict

from ..extensions import db
from ..services import ServiceError, bounds, row_id
from ..services.scope import count_query, current_scope, restrict

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
ACTING_VIEWS = ("export", "action_view")  # they act on every row the arguments select


class SecureViewMixin:
    """Admins only: anonymous users go to the login page, signed-in non-admins get a 403."""

    def is_accessible(self) -> bool:
        return current_user.is_authenticated and current_scope().is_admin

    def inaccessible_callback(self, name, **kwargs):
        if current_user.is_authenticated:
            abort(403)
        # The way back after signing in, unless it is too long for a Location header (then the page itself).
        return redirect(url_for("auth.login", next=bounds.return_url(request.full_path.rstrip("?")) or request.path))


class SecureBaseView(SecureViewMixin, BaseView):
    """A custom back-office page."""


class SecureIndexView(SecureViewMixin, AdminIndexView):
    """The /admin/ dashboard."""


def filter_kind(flt) -> str | None:
    """The kind of value a grid filter takes, as services.bounds checks it (None: any short text)."""
    kinds = ((fa_filters.BaseDateBetweenFilter, "date_range"), (fa_filters.BaseDateFilter, "date"),
             (fa_filters.BaseDateTimeBetweenFilter, "datetime_range"), (fa_filters.BaseDateTimeFilter, "datetime"),
             ((fa_filters.BaseIntFilter, fa_filters.BaseIntListFilter), "int"))
    return next((kind for cls, kind in kinds if isinstance(flt, cls)), None)


class SecureModelView(SecureViewMixin, ModelView):
    """Read-only, scoped grid; subclasses open up what they need and route changes through services."""

    can_create = False
    can_edit = False
    can_delete = False
    can_view_details = True
    can_set_page_size = True
    page_size = 50
    page_size_options = (20, 50, 100, 500, 1000)

    def __init__(self, model, **kwargs):
        super().__init__(model, db, **kwargs)

    # ---- bounded arguments ---------------------------------------------------------------------------

    def _handle_view(self, name, **kwargs):
        response = super()._handle_view(name, **kwargs)
        if response is not None:
            return response
        return self.bound_request(name)

    def bound_request(self, name: str | None = None):
        """Hand this request's arguments through services.bounds once, before any view of the grid reads them.

        Flask-Admin reads the query string and the return `url` in many places (list, export, pager links, the
        redirect of six views), so the bounded arguments replace the request's own: filters deduplicated and
        capped, dates in range, page, sort and search bounded, a long or foreign `url` dropped. A bulk action
        over more rows than one may handle is refused here. The messages are flashed onto the grid page; an export
        or a bulk action whose arguments had to be changed does not run (it would cover other rows than the grid
        showed) but returns to the grid, which shows what was kept.
        """
        if request.environ.get("hwr.bounded") == self.endpoint:
            return None
        request.environ["hwr.bounded"] = self.endpoint
        kinds = {key: filter_kind(flt) for key, (_idx, flt) in (self._filter_args or {}).items()}
        kept, messages = bounds.grid_args(request.args.items(multi=True), kinds)
        request.args = ImmutableMultiDict(kept)
        refused = None
        if request.method == "POST" and request.mimetype in FORM_TYPES:
            form = request.form
            if "url" in form and bounds.return_url(form.get("url")) is None:
                request.form = form = ImmutableMultiDict([(k, v) for k, v in form.items(multi=True) if k != "url"])
            try:
                bounds.selection(len(form.getlist("rowid")))
            except ServiceError as e:
                refused = str(e)
        request.__dict__.pop("values", None)  # recombined from the bounded args and form when next read
        if messages and name is None:
            # Outside a view (an export job rebuilding its request): export exactly what was asked, or nothing.
            raise ServiceError(messages[0])
        for message in messages:
            flash(message, "warning")
        if refused is not None:
            flash(refused, "error")
        if refused is not None or (messages and name in ACTING_VIEWS):
            return redirect(bounds.return_url(request.form.get("url")) or self._bounded_grid_url(kept))
        return None

    def _bounded_grid_url(self, kept) -> str:
        """The grid with the kept arguments that select its rows (the bare grid if that is too long)."""
        args = [(k, v) for k, v in kept if k.startswith("flt") or k in ("search", "sort", "desc", "page_size")]
        url = self.get_url(".index_view")
        return bounds.return_url(f"{url}?{urlencode(args)}" if args else url) or url

    def _get_list_extra_args(self):
        # An export job rebuilds its request outside any view: it is bounded here too.
        self.bound_request()
        return super()._get_list_extra_args()

    def get_invalid_value_msg(self, value, filter):
        """Flask-Admin's message for a value its filter refuses, quoting at most a short piece of it."""
        return _("Invalid filter value: %(value)s", value=bounds.shorten(value))

    # ---- scope ---------------------------------------------------------------------------------------

    def get_query(self):
        """Every list, action and export query goes through the scope rule."""
        return restrict(super().get_query(), self.model, current_scope())

    def get_count_query(self):
        """count(*) (the stock count(?) with '*' bound misses SQLite's fast path), scoped."""
        return count_query(self.model, current_scope())

    def _get_filter_groups(self):
        """The filter menu's data with every filter's options read now, so their labels are in the user's language.

        Flask-Admin reads the options once, when the view is built outside any request: options given as a
        callable (labels translated when called) would stay in the default, untranslated English for good.
        """
        groups = super()._get_filter_groups()
        for items in (groups or {}).values():
            for item in items:  # copies Flask-Admin made for this page
                options = self._filters[item["index"]].get_options(self)
                item["options"] = [(key, str(text)) for key, text in options] if options else None
        return groups

    def get_one(self, id):
        """A record by id inside the scope; anything else is a 404."""
        pk = row_id(id)
        if pk is None:
            abort(404)
        obj = self.get_query().filter(self.model.id == pk).one_or_none()
        if obj is None:
            abort(404)
        return obj
