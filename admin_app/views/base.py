"""The one secure base for every back-office view: access check and the scope filter."""
from flask import abort, redirect, request, url_for
from flask_admin import AdminIndexView, BaseView
from flask_admin.contrib.sqla import ModelView
from flask_login import current_user

from ..extensions import db
from ..services import row_id
from ..services.scope import count_query, current_scope, restrict


class SecureViewMixin:
    """Admins only: anonymous users go to the login page, signed-in non-admins get a 403."""

    def is_accessible(self) -> bool:
        return current_user.is_authenticated and current_scope().is_admin

    def inaccessible_callback(self, name, **kwargs):
        if current_user.is_authenticated:
            abort(403)
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


class SecureBaseView(SecureViewMixin, BaseView):
    """A custom back-office page."""


class SecureIndexView(SecureViewMixin, AdminIndexView):
    """The /admin/ dashboard."""


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
