"""The institution library, scoped: edit (through services.library), confirmation codes, superuser moves."""
from flask import abort, flash, redirect, request
from flask_admin import expose
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user
from wtforms import SelectField
from wtforms.fields import SelectChoice

from ..forms.registry import InstitutionMoveForm
from ..models import Institution
from ..models.institution import CATEGORIES
from ..services import ServiceError, library
from ..services.scope import current_scope
from .base import SecureModelView
from .formatters import label, local_time, yes_no
from .registry import parent_choices


class InstitutionView(SecureModelView):
    details_template = "admin/institution/details.html"
    column_list = ("name", "uscc", "category", "region", "parent", "created_at")
    # The materialized path is internal (it is how scope works), not something an admin reads.
    column_details_list = ("name", "uscc", "category", "region", "address", "parent",
                           "require_confirmation_code", "created_at")
    column_labels = {"name": _l("Institution name"), "uscc": _l("Unified social credit code"),
                     "category": _l("Category"), "region": _l("Region"), "parent": _l("Supervising institution"),
                     "created_at": _l("Created"), "address": _l("Address"), "path": _l("Tree path"),
                     "require_confirmation_code": _l("Requires confirmation code"),
                     "name_initials": _l("Pinyin initials")}
    column_searchable_list = ("name", "name_initials", "uscc")
    column_filters = ("category",)
    column_default_sort = ("path", False)
    column_formatters = {"category": label(CATEGORIES, "category"), "created_at": local_time}
    column_formatters_detail = {**column_formatters, "require_confirmation_code": yes_no}

    # Edits go through services.library.update_institution (scope, uniqueness, audit).
    can_edit = True
    form_columns = ("name", "category", "address")
    form_overrides = {"category": SelectField}
    form_args = {"category": {"label": _l("Category"),
                              "choices": [SelectChoice(k, _l(v)) for k, v in CATEGORIES.items()]},
                 "name": {"label": _l("Institution name")}, "address": {"label": _l("Address")}}

    def __init__(self, **kwargs):
        super().__init__(Institution, name=_l("Institutions"), endpoint="institution", **kwargs)

    def update_model(self, form, model):
        try:
            library.update_institution(current_scope(), current_user, model.id, name=form.name.data,
                                       category=form.category.data, address=form.address.data or "")
        except library.InstitutionNotFound:
            abort(404)
        except ServiceError as e:
            flash(str(e), "error")
            return False
        return True

    def render(self, template, **kwargs):
        scope = current_scope()
        model = kwargs.get("model")
        if model is not None:
            kwargs.setdefault("can_manage_code", library.can_manage_code(scope, model))
            kwargs.setdefault("can_move", scope.is_superuser and model.parent_id is not None)
        return super().render(template, **kwargs)

    # ------------------------------------------------------------------------ unit confirmation code
    @expose("/code/", methods=("GET", "POST"))
    def code_view(self):
        """Show (GET) or regenerate (POST) the unit confirmation code; both audit-logged."""
        scope = current_scope()
        inst_id = request.values.get("id")
        try:
            if request.method == "POST":
                inst = library.regenerate_confirmation_code(scope, current_user, inst_id)
                flash(_("A new unit confirmation code has been generated; the old one no longer works."), "success")
                return redirect(self.get_url(".code_view", id=inst.id))
            inst = library.view_confirmation_code(scope, current_user, inst_id)
        except library.InstitutionNotFound:
            abort(404)
        return self.render("admin/institution/code.html", inst=inst,
                           return_url=self.get_url(".details_view", id=inst.id))

    # ------------------------------------------------------------------------------- superuser move
    @expose("/move/", methods=("GET", "POST"))
    def move_view(self):
        scope = current_scope()
        if not scope.is_superuser:
            abort(404)
        try:
            inst = library.get_in_scope(scope, request.args.get("id"))
        except library.InstitutionNotFound:
            abort(404)
        if inst.parent_id is None:
            abort(404)
        form = InstitutionMoveForm()
        form.parent_id.choices = parent_choices(form.parent_id.data, form.parent_q.data)
        if request.method == "POST" and "find_parent" not in request.form and form.validate_on_submit():
            try:
                n = library.move_institution(scope, current_user, inst.id, form.parent_id.data)
            except library.InstitutionNotFound:
                abort(404)
            except ServiceError as e:
                flash(str(e), "danger")
            else:
                flash(_("Moved; %(n)d institution(s) in the subtree now have new paths.", n=n), "success")
                return redirect(self.get_url(".details_view", id=inst.id))
        return self.render("admin/institution/move.html", inst=inst, form=form,
                           return_url=self.get_url(".details_view", id=inst.id))
