"""/admin/grant/ — 机构业务授权管理: the admin's direct subordinates and their authorization state.

Rows are institutions (so 未生成 shows too): the admin's direct children (the platform superuser: all).
Actions: generate (生成授权码), reset (解除授权), reset_unactivated (批量解除未激活授权码). Per row:
直接授权 (direct authorization by a verified ID number, with step-up). Under /admin/grant/team/ a business
manager manages the admins of their own institution: add / remove assistants, transfer the manager role.
"""
from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

from ..extensions import limiter
from ..forms.registry import AssistantForm, AuthorizeForm, RemoveAssistantForm, TransferForm, unique_ids
from ..models import Institution
from ..models.grant import ROLES
from ..models.institution import CATEGORIES
from ..services import ServiceError, grant_team, grants, programmes
from ..services.scope import count_query, current_scope, scope_for
from . import team_actions
from .base import SecureModelView
from .formatters import label, local_time
from .grants_portal import send_step_up

STATE_LABELS = {
    "none": _l("Not generated"),
    "issued": _l("Not activated"),
    "expired": _l("Expired (not activated)"),
    "active": _l("Activated"),
}


def chosen_programme():
    """The programme the grid issues codes of (业务, a choice on the grid; the default one preselected), per request."""
    if "grant_programme" not in g:
        choices = programmes.issuing_programmes(current_user, current_scope())
        code = request.values.get("programme")
        g.grant_programmes = choices
        g.grant_programme = next((p for p in choices if p.code == code) if code else
                                 (p for p in choices if p.is_default), None)
        if code and g.grant_programme is None:  # not a programme of his: as for an institution outside scope
            abort(404)
    return g.grant_programme


def grant_scope():
    """The signed-in admin's rights in the chosen programme (the default programme: the back office's scope)."""
    programme = chosen_programme()
    if programme is None or programme.is_default:
        return current_scope()
    if "grant_scope" not in g:
        g.grant_scope = scope_for(current_user, programme.id)
    return g.grant_scope


def _pid():
    return grant_scope().programme_id


def _state_of(model) -> grants.GrantState:
    states = g.get("grant_states")
    if states is None or model.id not in states:
        states = grants.grant_states([model.id], _pid())
    return states.get(model.id, grants.GrantState("none"))


def _fmt_state(view, context, model, name):
    st = _state_of(model)
    badge = {"none": "secondary", "issued": "warning", "expired": "dark", "active": "success"}[st.state]
    return Markup('<span class="badge badge-{}" data-grant-state="{}">{}</span>').format(
        badge, st.state, STATE_LABELS[st.state])


def _fmt_code(view, context, model, name):
    st = _state_of(model)
    if st.code is None:
        return ""
    exp = st.grant.expires_at
    until = _("valid until %(date)s", date=local_time(None, None, st.grant, "expires_at")) if exp else ""
    return Markup('<code class="grant-code">{}</code> <small class="text-muted d-block">{}</small>').format(
        st.code, until)


def _fmt_person(view, context, model, name):
    st = _state_of(model)
    if st.state != "active" or st.grant.user is None:
        return ""
    return grants.masked_person(st.grant.user)


def _fmt_time(view, context, model, name):
    st = _state_of(model)
    if st.grant is None:
        return ""
    attr = "activated_at" if st.state == "active" else "issued_at"
    return local_time(None, None, st.grant, attr)


def _fmt_ops(view, context, model, name):
    st = _state_of(model)
    if st.state == "active":
        return ""
    programme = chosen_programme()
    extra = {} if programme is None or programme.is_default else {"programme": programme.code}
    url = view.get_url(".authorize_view", id=model.id, **extra)
    return Markup('<a class="btn btn-sm btn-outline-primary" href="{}">{}</a>').format(url, _("Authorize directly"))


def _step_up_limit() -> str:
    return current_app.config["GRANT_STEP_UP_LIMIT"]


def _step_up_key() -> str:
    return f"user:{current_user.get_id()}"


def _not_final_step_up() -> bool:
    return request.method != "POST" or "send_sms" in request.form


def _posted_or_new(posted, form_class, prefix: str, key_field: str, key: int):
    """The form of one institution (or assistant) on the team page: the posted one if it was sent from there,
    else an empty one; its field ids end with -<key>, as the page repeats the form per institution."""
    form = posted if posted is not None and str(posted[key_field].data) == str(key) else \
        form_class(formdata=None, prefix=prefix)
    return unique_ids(form, key)


class GrantView(SecureModelView):
    list_template = "admin/grant/list.html"
    can_view_details = False
    column_display_actions = False
    column_list = ("name", "category", "grant_state", "grant_code", "grant_person", "grant_time", "grant_ops")
    column_labels = {"name": _l("Institution name"), "category": _l("Category"),
                     "grant_state": _l("Authorization state"), "grant_code": _l("Authorization code"),
                     "grant_person": _l("Business manager"), "grant_time": _l("Time"), "grant_ops": _l("Operation"),
                     "name_initials": _l("Pinyin initials")}
    column_sortable_list = ("name",)
    column_default_sort = ("name", False)
    column_searchable_list = ("name", "name_initials")
    column_formatters = {"category": label(CATEGORIES, "category"), "grant_state": _fmt_state,
                         "grant_code": _fmt_code, "grant_person": _fmt_person, "grant_time": _fmt_time,
                         "grant_ops": _fmt_ops}

    def __init__(self, **kwargs):
        super().__init__(Institution, name=_l("Institution business authorization"), endpoint="grant",
                         url="/admin/grant", **kwargs)

    # ------------------------------------------------------------------------------- the chosen programme
    def programme(self):
        """The programme whose codes the grid issues (templates)."""
        return chosen_programme()

    def programme_choices(self) -> list:
        """The programmes offered in the grid's 业务 choice (templates)."""
        chosen_programme()
        return g.grant_programmes

    # ------------------------------------------------------------------------------------ rows in scope
    def _issuable(self, query):
        clause = grants.issuable_clause(grant_scope())
        return query if clause is None else query.filter(clause)

    def get_query(self):
        return self._issuable(super().get_query())

    def get_count_query(self):
        return self._issuable(count_query(Institution, grant_scope()))

    def get_list(self, *args, **kwargs):
        count, data = super().get_list(*args, **kwargs)
        if kwargs.get("execute", True) and data is not None:
            data = list(data)
            g.grant_states = grants.grant_states([i.id for i in data], _pid())
        return count, data

    def get_empty_list_message(self):
        return _("No direct subordinate institutions to authorize.")

    # ------------------------------------------------------------------------------------------ actions
    def _report_scope(self, out_of_scope: int) -> None:
        if out_of_scope:
            flash(_("%(n)d selected institution(s) are not direct subordinates of an institution you administer; "
                    "they were left unchanged.", n=out_of_scope), "danger")

    @action("generate", _l("Generate authorization codes"))
    def action_generate(self, ids):
        result = grants.issue_codes(grant_scope(), current_user, ids)
        if result.issued:
            flash(_("Authorization codes generated for %(n)d institution(s); tell each subordinate its code.",
                    n=len(result.issued)), "success")
        if result.already:
            flash(_("%(n)d institution(s) already have an authorization code or an active manager; revoke first "
                    "to generate a new one.", n=result.already), "warning")
        self._report_scope(result.out_of_scope)

    @action("reset", _l("Revoke authorization"),
            _l("Revoke the authorization of the selected institutions? Their admins lose access at once."))
    def action_reset(self, ids):
        result = grants.reset(grant_scope(), current_user, ids)
        if result.institutions:
            flash(_("Authorization revoked for %(n)d institution(s); their admins have lost access.",
                    n=result.institutions), "success")
        self._report_reset(result)

    @action("reset_unactivated", _l("Batch revoke unactivated codes"),
            _l("Revoke every generated but unactivated authorization code of the selected institutions?"))
    def action_reset_unactivated(self, ids):
        result = grants.reset(grant_scope(), current_user, ids, only_unactivated=True)
        if result.institutions:
            flash(_("Unactivated authorization codes revoked for %(n)d institution(s).", n=result.institutions),
                  "success")
        self._report_reset(result)

    def _report_reset(self, result) -> None:
        if result.untouched:
            flash(_("%(n)d selected institution(s) had nothing to revoke.", n=result.untouched), "info")
        self._report_scope(result.out_of_scope)

    # ------------------------------------------------------------------------------ direct authorization
    @expose("/authorize/", methods=("GET", "POST"))
    @limiter.limit(_step_up_limit, key_func=_step_up_key, exempt_when=_not_final_step_up)
    def authorize_view(self):
        try:
            inst = grants.require_issuable(grant_scope(), request.args.get("id"))
        except grants.GrantNotFound:
            abort(404)
        form = AuthorizeForm()
        if request.method == "POST" and "send_sms" in request.form:
            send_step_up(form)
        elif form.validate_on_submit():
            if not form.id_number.data:
                form.id_number.errors = [_("Please enter the ID number of the business manager.")]
            else:
                try:
                    grant = grant_team.authorize_directly(grant_scope(), current_user, inst.id, form.id_type.data,
                                                      form.id_number.data, form.password.data, form.sms_code.data)
                except grants.GrantNotFound:
                    abort(404)
                except ServiceError as e:
                    flash(str(e), "danger")
                else:
                    flash(_("%(person)s is now the business manager of %(name)s.",
                            person=grants.masked_person(grant.user), name=inst.name), "success")
                    programme = chosen_programme()
                    extra = {} if programme is None or programme.is_default else {"programme": programme.code}
                    return redirect(self.get_url(".index_view", **extra))
        state = grants.grant_states([inst.id], _pid())[inst.id]
        return self.render("admin/grant/authorize.html", inst=inst, form=form, state=state,
                           state_label=STATE_LABELS[state.state], masked_phone=grants.mask_phone(current_user.phone))

    # --------------------------------------------------------------------------- my institution's admins
    def _render_team(self, add=None, transfer=None, remove=None):
        """The page, with one set of forms per institution and per assistant, each field's id unique on the
        page (its error-summary link works without JavaScript); a posted form keeps its values and errors in the
        section it came from, and is also handed over as add/transfer/remove for the error summary."""
        scope = current_scope()
        managed = grants.managed_institutions(scope)
        teams, removes = [], {}
        for inst in managed:
            admins = grants.admins_of(inst.id)
            forms = [_posted_or_new(posted, form_class, prefix, "institution_id", inst.id)
                     for posted, form_class, prefix in ((add, AssistantForm, "add"),
                                                        (transfer, TransferForm, "transfer"))]
            teams.append((inst, admins, *forms))
            removes.update({g.id: _posted_or_new(remove, RemoveAssistantForm, "remove", "grant_id", g.id)
                            for g in admins if g.role == "assistant"})
        return self.render("admin/grant/team.html", teams=teams, removes=removes, add=add, transfer=transfer,
                           remove=remove, roles=ROLES,
                           masked=grants.masked_person, masked_phone=grants.mask_phone(current_user.phone),
                           assistant_of=[i for i, r in scope.roles.items() if r == "assistant"])

    @expose("/team/", methods=("GET",))
    def team_view(self):
        return self._render_team()

    @expose("/team/assistant/", methods=("POST",))
    @limiter.limit(_step_up_limit, key_func=_step_up_key, exempt_when=_not_final_step_up)
    def add_assistant_view(self):
        add = AssistantForm(prefix="add")
        if team_actions.add_assistant(current_scope(), add):
            return redirect(self.get_url(".team_view"))
        return self._render_team(add=add)

    @expose("/team/assistant/remove/", methods=("POST",))
    @limiter.limit(_step_up_limit, key_func=_step_up_key, exempt_when=_not_final_step_up)
    def remove_assistant_view(self):
        remove = RemoveAssistantForm(prefix="remove")
        if team_actions.remove_assistant(current_scope(), remove):
            return redirect(self.get_url(".team_view"))
        return self._render_team(remove=remove)

    @expose("/team/transfer/", methods=("POST",))
    @limiter.limit(_step_up_limit, key_func=_step_up_key, exempt_when=_not_final_step_up)
    def transfer_view(self):
        transfer = TransferForm(prefix="transfer")
        if team_actions.transfer_manager(current_scope(), transfer):
            # The former manager may have no admin rights left at all.
            g.pop("hwr_scope", None)
            if not current_scope().is_admin:
                return redirect(url_for("auth.index"))
            return redirect(self.get_url(".team_view"))
        return self._render_team(transfer=transfer)
