"""/admin/programme/ — 业务管理: the platform admin adds, edits and deactivates programmes (业务).

Rules live in services.programmes; this view parses the form and shows the service's messages on its fields.
"""
from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.form import BaseForm
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from wtforms import StringField, TextAreaField

from ..models import Programme
from ..models.grant import ROLES
from ..services import ServiceError, grants, programme_rights, programmes
from ..services.institutions import get_institution, search_institutions
from ..services.profiles import FieldErrors
from ..services.scope import current_scope
from .base import SecureModelView
from .formatters import local_time
from .unit_picker import UnitPicker, helper_button_pressed, query_of


class ProgrammeForm(BaseForm):
    """Shape only: services.programmes decides what is accepted (and says why not, in Chinese)."""

    name = StringField(_l("Programme name"))
    code = StringField(_l("Programme code"),
                       description=_l("Lower-case letters, digits or hyphens, e.g. talent-review; it names the "
                                      "programme's page."))
    description = TextAreaField(_l("Description"), render_kw={"rows": 2})
    institutions = TextAreaField(
        _l("Participating institutions"), render_kw={"rows": 4}, widget=UnitPicker("api.institutions", append=True),
        description=_l("Search and add them, or type one per line by full name or unified social credit code; each "
                       "institution takes part together with every institution below it. Leave empty for the "
                       "default programme (all institutions)."))


def _fmt_active(view, context, model, name):
    badge, text = ("success", _("In use")) if model.active else ("secondary", _("Deactivated"))
    return Markup('<span class="badge badge-{}" data-programme-active="{}">{}</span>').format(
        badge, "1" if model.active else "0", text)


def _fmt_institutions(view, context, model, name):
    if model.is_default:
        return _("All institutions (default programme)")
    return "、".join(i.name for i in model.institutions)


def _fmt_page(view, context, model, name):
    if model.is_default:
        return Markup('<a href="{}">{}</a>').format(url_for("admin.index"), _("Back office"))
    rights = Markup('<a href="{}" class="d-block" data-programme-rights>{}</a>').format(
        url_for("programme.rights_view", id=model.id), _("Authorization management"))
    if not model.active:
        return rights
    return Markup('<a href="{}" class="d-block" data-programme-page>{}</a>{}').format(
        url_for("programmes.show", code=model.code), _("Programme page"), rights)


class ProgrammeView(SecureModelView):
    """Platform admins only; rows are programmes, not scoped by institution."""

    can_create = True
    can_edit = True
    can_view_details = False
    list_template = "admin/programme/list.html"
    create_template = "admin/programme/create.html"
    edit_template = "admin/programme/edit.html"
    form = ProgrammeForm
    column_list = ("name", "code", "active", "institutions", "created_at", "page")
    column_labels = {"name": _l("Programme name"), "code": _l("Programme code"), "active": _l("State"),
                     "institutions": _l("Participating institutions"), "created_at": _l("Created"),
                     "page": _l("Entry")}
    column_sortable_list = ("name", "code", "created_at")
    column_default_sort = [("is_default", True), ("name", False)]
    column_searchable_list = ()
    column_formatters = {"active": _fmt_active, "institutions": _fmt_institutions, "created_at": local_time,
                         "page": _fmt_page}

    def __init__(self, **kwargs):
        super().__init__(Programme, name=_l("Programmes"), endpoint="programme", url="/admin/programme", **kwargs)

    def is_accessible(self) -> bool:
        return current_user.is_authenticated and current_scope().is_superuser

    def get_query(self):
        return programmes.grid_query()

    def get_count_query(self):
        return programmes.grid_count_query()

    def get_empty_list_message(self):
        return _("No programmes yet.")

    # ------------------------------------------------------------------------------------------ the form
    def _picker(self, form):
        """The institutions search picker: the matches of what was typed, and the one added without JavaScript."""
        field = form.institutions
        field.matches = []
        try:
            field.matches = search_institutions(query_of(field))
        except ServiceError as e:
            field.picker_error = str(e)
        picked = get_institution(request.form.get("institutions_pick")) if "add_unit" in request.form else None
        if picked is not None:
            lines = [line.strip() for line in (field.data or "").splitlines() if line.strip()]
            line = picked.uscc or picked.name
            field.data = "\n".join(lines + ([] if line in lines else [line]))
        return form

    def create_form(self, obj=None):
        return self._picker(super().create_form(obj))

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        if request.method != "POST":  # the relationship would show as a list; the form takes lines of text
            form.institutions.data = programmes.institutions_text(obj)
        return self._picker(form)

    def validate_form(self, form):
        if helper_button_pressed():  # the picker's Search or Add button: show the form again, save nothing
            return False
        return super().validate_form(form)

    def _save(self, form, model):
        try:
            return programmes.save(model, current_user, name=form.name.data, code=form.code.data,
                                   description=form.description.data, institutions=form.institutions.data)
        except FieldErrors as e:
            for key, message in e.errors.items():
                getattr(form, key).errors = list(getattr(form, key).errors or []) + [message]
            flash(_("Please correct the fields marked below."), "error")
            return None

    def create_model(self, form):
        return self._save(form, None) or False

    def update_model(self, form, model):
        return self._save(form, model) is not None

    def delete_model(self, model):
        abort(405)

    # ----------------------------------------------------------------------------------------- actions
    @action("deactivate", _l("Deactivate"),
            _l("Deactivate the selected programmes? Their rights stop showing and their codes can no longer be bound."))
    def action_deactivate(self, ids):
        result = programmes.set_active(ids, False, current_user)
        if result.changed:
            flash(_("%(n)d programme(s) deactivated.", n=result.changed), "success")
        if result.refused_default:
            flash(_("The default programme cannot be deactivated."), "error")
        if not result.changed and not result.refused_default:
            flash(_("The selected programmes were already deactivated."), "info")

    @action("activate", _l("Reactivate"))
    def action_activate(self, ids):
        result = programmes.set_active(ids, True, current_user)
        flash(_("%(n)d programme(s) reactivated.", n=result.changed), "success" if result.changed else "info")


    # ------------------------------------------------------------------------- the programme's rights
    def _programme(self):
        try:
            return programme_rights.require_programme(request.values.get("id"))
        except ServiceError:
            abort(404)

    @expose("/rights/", methods=("GET",))
    def rights_view(self):
        """授权管理: the institutions holding rights in this programme, with 解除授权 (platform admin)."""
        programme = self._programme()
        if programme.is_default:  # its rights are the back office's grant grid
            return redirect(url_for("grant.index_view"))
        page = programme_rights.rights_page(current_user, programme, request.args.get("page"))
        return self.render("admin/programme/rights.html", data=page, roles=ROLES, masked=grants.masked_person,
                           confirm=None, mode=None)

    @expose("/rights/revoke/", methods=("POST",))
    def revoke_view(self):
        """解除授权 / 批量解除未激活授权码 of the ticked institutions: a confirmation first, then the change."""
        programme = self._programme()
        if programme.is_default:
            abort(404)
        mode = "unactivated" if request.form.get("mode") == "unactivated" else "all"
        ids = request.form.getlist("rowid")
        back = url_for(".rights_view", id=programme.id)
        chosen = programme_rights.chosen(current_user, programme, ids)
        if not chosen:
            flash(_("Please select at least one institution holding a right in this programme."), "error")
            return redirect(back)
        if request.form.get("confirm") != "1":
            page = programme_rights.rights_page(current_user, programme, 1)
            return self.render("admin/programme/rights.html", data=page, roles=ROLES, masked=grants.masked_person,
                               confirm=chosen, mode=mode)
        result = programme_rights.revoke(current_user, programme, [r.institution.id for r in chosen],
                                         only_unactivated=mode == "unactivated")
        if result.institutions:
            flash(_("Authorization revoked for %(n)d institution(s); their admins have lost access.",
                    n=result.institutions) if mode == "all" else
                  _("Unactivated authorization codes revoked for %(n)d institution(s).", n=result.institutions),
                  "success")
        if result.untouched:
            flash(_("%(n)d selected institution(s) had nothing to revoke.", n=result.untouched), "info")
        return redirect(back)
