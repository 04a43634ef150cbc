"""/admin/preregistration/ — 预置管理员手机号: an officer pre-registers the admin phones of his subordinate units,
sees which have been claimed, and revokes them (services/preregistration.py decides everything)."""
from flask import flash, jsonify, request
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.form import BaseForm
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired

from ..forms.auth import RealName
from ..forms.validators import CnMobile
from ..models import Preregistration
from ..services import ServiceError, preregistration as svc, row_id
from ..services.grants import masked_person
from ..services.scope import current_scope, is_unit_admin
from .base import SecureModelView
from .formatters import local_time
from .unit_picker import UnitPicker, helper_button_pressed, query_of

STATE_LABELS = {"unclaimed": _l("Unclaimed"), "claimed": _l("Claimed"), "revoked": _l("Withdrawn")}
STATE_BADGES = {"unclaimed": "warning", "claimed": "success", "revoked": "secondary"}


class PreregistrationForm(BaseForm):
    """The contract's fields: institution_id, phone, name. Shape only; the service decides scope and duplicates."""

    institution_id = SelectField(_l("Institution"), coerce=row_id, validate_choice=False,
                                 validators=[DataRequired(_l("Please choose the institution."))],
                                 widget=UnitPicker("preregistration.institutions_view"),
                                 description=_l("Search your subordinate units by name or pinyin initials, then "
                                                "choose one."))
    phone = StringField(_l("Admin's mobile phone"), validators=[
        DataRequired(_l("Please enter the admin's mobile phone number.")), CnMobile()],
        description=_l("The phone the unit's admin uses for the daily report: signing up or in with it makes him "
                       "the unit's admin."))
    name = StringField(_l("Admin's name"), validators=[RealName()])

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        # Flask-Admin shows a field's errors only when they are str (helpers.is_field_error); ours are lazy strings.
        for f in self:
            f.errors = [str(e) for e in f.errors]
        return ok


def _fmt_state(view, context, model, name):
    st = model.state
    return Markup('<span class="badge badge-{}" data-prereg-state="{}">{}</span>').format(
        STATE_BADGES[st], st, STATE_LABELS[st])


def _fmt_claimed_by(view, context, model, name):
    if model.claimed_by is None:
        return ""
    return f"{masked_person(model.claimed_by)} {local_time(None, None, model, 'claimed_at')}"


class PreregistrationView(SecureModelView):
    can_create = True
    can_view_details = False
    column_display_actions = False
    form = PreregistrationForm
    column_list = ("institution", "phone", "name", "state", "claimed_by", "created_at", "created_by")
    column_labels = {"institution": _l("Institution"), "institution.name": _l("Institution"),
                     "phone": _l("Admin's mobile phone"), "name": _l("Admin's name"), "state": _l("State"),
                     "claimed_by": _l("Claimed by"), "created_at": _l("Pre-registered at"),
                     "created_by": _l("Pre-registered by")}
    column_searchable_list = ("phone", "name")
    column_sortable_list = ("phone", "name", "created_at")
    column_default_sort = ("created_at", True)
    column_formatters = {"state": _fmt_state, "claimed_by": _fmt_claimed_by, "created_at": local_time,
                         "created_by": lambda v, c, m, n: m.created_by.name if m.created_by else ""}
    list_template = "admin/preregistration/list.html"
    create_template = "admin/preregistration/create.html"

    def __init__(self, **kwargs):
        super().__init__(Preregistration, name=_l("Pre-registered admin phones"), endpoint="preregistration",
                         url="/admin/preregistration", **kwargs)

    def is_visible(self) -> bool:
        # A unit's own admin has no unit below him: the menu does not offer him an empty page.
        scope = current_scope()
        return scope.is_admin and not is_unit_admin(scope)

    def get_empty_list_message(self):
        return _("No admin phones have been pre-registered for your subordinate units yet.")

    def create_form(self, obj=None):
        form = super().create_form(obj)
        scope = current_scope()
        field = form.institution_id
        chosen = svc.chosen_below(scope, request.form.get("institution_id")) if request.method == "POST" else None
        field.matches = []
        try:
            field.matches = svc.search_below(scope, query_of(field))
        except ServiceError as e:
            field.picker_error = str(e)
        # The chosen unit stays chosen; the matches of the search (within his scope only) follow it.
        rows = ([chosen] if chosen else []) + [i for i in field.matches if i != chosen]
        field.choices = [("", _("Search above, then choose the institution"))] + [
            (i.id, f"{i.name} · {i.parent.name}" if i.parent else i.name) for i in rows]
        if field.matches and chosen is None and "find_unit" in request.form:
            field.data = field.matches[0].id if len(field.matches) == 1 else None
        return form

    def validate_form(self, form):
        if helper_button_pressed():  # the picker's Search button: show the matches, save nothing
            return False
        return super().validate_form(form)

    @expose("/institutions/", methods=("GET",))
    def institutions_view(self):
        """Units strictly below the officer's own matching ?q= (the picker's search): [{id, name, code, parent}]."""
        try:
            rows = svc.search_below(current_scope(), (request.args.get("q") or "")[:64])
        except ServiceError as e:
            return jsonify(ok=False, error=str(e)), 400
        return jsonify([{"id": i.id, "name": i.name, "code": i.uscc or "",
                         "parent": i.parent.name if i.parent else ""} for i in rows])

    def create_model(self, form):
        try:
            row = svc.preregister(current_scope(), current_user, form.institution_id.data, form.phone.data,
                                  form.name.data)
        except svc.OutOfScope as e:
            form.institution_id.errors = [*form.institution_id.errors, str(e)]
            return False
        except ServiceError as e:
            form.phone.errors = [*form.phone.errors, str(e)]
            return False
        flash(_("%(phone)s is pre-registered as an admin phone of %(name)s; whoever signs up or signs in with it "
                "becomes the unit's admin.", phone=row.phone, name=row.institution.name), "success")
        return row

    @action("revoke", _l("Revoke"),
            _l("Revoke the selected pre-registered phones? An admin right already claimed with them ends at once."))
    def action_revoke(self, ids):
        result = svc.revoke(current_scope(), current_user, ids)
        if result.revoked:
            flash(_("%(n)d pre-registered phone(s) revoked; %(m)d admin right(s) given by them ended.",
                    n=result.revoked, m=result.rights_ended), "success")
        if result.requested - result.out_of_scope - result.revoked:
            flash(_("%(n)d selected phone(s) had already been revoked.",
                    n=result.requested - result.out_of_scope - result.revoked), "info")
        if result.out_of_scope:
            flash(_("%(n)d selected phone(s) are not under an institution you administer; they were left unchanged.",
                    n=result.out_of_scope), "danger")
