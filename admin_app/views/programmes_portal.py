"""/programmes/<code>: a programme's own page (业务入口): the user's roles there and its 授权管理."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..models.grant import ROLES
from ..services import ServiceError, grants, programmes
from ..services.scope import scope_for
from .grant import STATE_LABELS

bp = Blueprint("programmes", __name__, url_prefix="/programmes")


def _desk(code: str):
    try:
        programme = programmes.require_active(code)
        return programmes.desk(current_user, programme)
    except ServiceError:
        abort(404)


@bp.get("/<code>")
@login_required
def show(code: str):
    """The programme, the user's roles in it, and the authorization state of the institutions he authorizes."""
    desk = _desk(code)
    return render_template("portal/programme.html", desk=desk, roles=ROLES, state_labels=STATE_LABELS,
                           verified=grants.is_verified(current_user), masked=grants.masked_person)


@bp.post("/<code>/codes")
@login_required
def generate(code: str):
    """生成授权码 for the ticked institutions, in this programme only."""
    desk = _desk(code)
    ids = request.form.getlist("rowid")
    if not ids:
        flash(_("Please select at least one row."), "danger")
        return redirect(url_for(".show", code=desk.programme.code))
    result = grants.issue_codes(scope_for(current_user, desk.programme.id), current_user, ids)
    if result.issued:
        flash(_("Authorization codes generated for %(n)d institution(s); tell each subordinate its code.",
                n=len(result.issued)), "success")
    if result.already:
        flash(_("%(n)d institution(s) already have an authorization code or an active manager; revoke first "
                "to generate a new one.", n=result.already), "warning")
    if result.out_of_scope:
        flash(_("%(n)d selected institution(s) are not direct subordinates of an institution you administer; "
                "they were left unchanged.", n=result.out_of_scope), "danger")
    return redirect(url_for(".show", code=desk.programme.code))
