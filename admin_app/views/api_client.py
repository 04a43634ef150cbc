"""/admin/apiclient/ — 接入系统: platform admins register consuming systems of /fhir/ and /api/v1/ and revoke them.

The token is shown once, on the page that answers the creation (never stored, never shown again); revoking asks
for confirmation on its own page. The rules live in services.api_clients.
"""
from flask import abort, flash, make_response, redirect, request
from flask_admin import expose
from flask_admin.contrib.sqla import ModelView
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import false, func

from ..extensions import db
from ..forms.api_client import ApiClientForm
from ..models import ApiClient
from ..services import ServiceError, api_clients, row_id
from .base import SecureModelView
from .formatters import local_time, yes_no
from .registry import parent_choices

STATE_LABELS = {"active": _l("In force"), "revoked": _l("Access revoked"), "expired": _l("Expired")}
STATE_BADGES = {"active": "success", "revoked": "secondary", "expired": "dark"}


def _fmt_state(view, context, model, name):
    st = api_clients.state(model)
    return Markup('<span class="badge badge-{}" data-client-state="{}">{}</span>').format(
        STATE_BADGES[st], st, STATE_LABELS[st])


def _fmt_expires(view, context, model, name):
    day = api_clients.expires_on(model)
    return day.isoformat() if day else _("Until revoked")


def _fmt_ops(view, context, model, name):
    if api_clients.state(model) == "revoked":
        return ""
    return Markup('<a class="btn btn-sm btn-outline-danger" href="{}">{}</a>').format(
        view.get_url(".revoke_view", id=model.id), _("Revoke access"))


class ApiClientView(SecureModelView):
    list_template = "admin/apiclient/list.html"
    can_create = True
    column_list = ("name", "institution", "expires_at", "full_id", "state", "last_used_at", "created_at", "ops")
    column_details_list = ("name", "institution", "expires_at", "full_id", "state", "created_by", "created_at",
                           "last_used_at", "revoked_at")
    column_labels = {"name": _l("System name"), "institution": _l("Institution scope"), "expires_at": _l("Valid until"),
                     "full_id": _l("Full ID numbers"), "state": _l("State"), "last_used_at": _l("Last used"),
                     "created_at": _l("Registered"), "created_by": _l("Registered by"),
                     "revoked_at": _l("Revoked at"), "ops": _l("Operations")}
    column_searchable_list = ("name",)
    column_default_sort = ("id", True)
    column_formatters = {"expires_at": _fmt_expires, "full_id": yes_no, "state": _fmt_state, "ops": _fmt_ops,
                         "last_used_at": local_time, "created_at": local_time, "revoked_at": local_time}
    column_formatters_detail = {k: v for k, v in column_formatters.items() if k != "ops"}

    def __init__(self, **kwargs):
        super().__init__(ApiClient, name=_l("Consuming systems"), endpoint="apiclient", **kwargs)

    def is_accessible(self) -> bool:
        """Platform admins only: a client may be scoped to any subtree, the whole country included."""
        return current_user.is_authenticated and bool(current_user.is_superuser)

    def get_query(self):
        """Every client for a platform admin (the scope rule has no say: clients are not in any subtree)."""
        query = ModelView.get_query(self)
        return query if current_user.is_superuser else query.filter(false())

    def get_count_query(self):
        query = db.session.query(func.count(ApiClient.id))
        return query if current_user.is_superuser else query.filter(false())

    @expose("/new/", methods=("GET", "POST"))
    def create_view(self):
        """Register a consuming system; the answer shows its token once."""
        form = ApiClientForm()
        form.parent_id.choices = parent_choices(form.parent_id.data, form.parent_q.data)
        return_url = self.get_url(".index_view")
        if request.method == "POST" and "find_parent" not in request.form:
            if form.validate():
                try:
                    client, token = api_clients.create(form.name.data, form.parent_id.data,
                                                       full_id=form.full_id.data, expires_on=form.expires.data,
                                                       created_by=current_user)
                except ServiceError as e:
                    flash(str(e), "error")
                else:
                    resp = make_response(self.render("admin/apiclient/created.html", client=client, token=token,
                                                     expires=_fmt_expires(self, None, client, "expires_at"),
                                                     return_url=return_url))
                    resp.headers["Cache-Control"] = "no-store"  # the token must not stay in any cache
                    return resp
            else:
                flash(_("Please correct the fields marked below."), "error")
        return self.render("admin/apiclient/create.html", form=form, return_url=return_url)

    @expose("/revoke/", methods=("GET", "POST"))
    def revoke_view(self):
        """Confirm (GET), then revoke (POST): the token stops working at once."""
        pk = row_id(request.values.get("id"))
        client = self.get_one(pk) if pk else None
        if client is None:
            abort(404)
        if request.method == "POST":
            api_clients.revoke(client.id, revoked_by=current_user)
            flash(_("Consuming system %(name)s revoked; its token no longer works.", name=client.name), "success")
            return redirect(self.get_url(".index_view"))
        return self.render("admin/apiclient/revoke.html", client=client, return_url=self.get_url(".index_view"))
