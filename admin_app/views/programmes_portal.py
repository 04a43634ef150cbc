"""/programmes/<code>: a programme's own page (业务入口): the user's roles there and its 授权管理; under
/programmes/<code>/team the programme's business manager adds and removes his assistants (业务助理) and transfers
his right (转移), as the back office's /admin/grant/team/ does for the default programme (services.grant_team)."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..extensions import limiter
from ..forms.registry import AssistantForm, RemoveAssistantForm, TransferForm
from ..models.grant import ROLES
from ..services import ServiceError, grants, programmes
from ..services.scope import scope_for
from . import team_actions
from .grant import STATE_LABELS, _not_final_step_up, _step_up_key, _step_up_limit

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
                           verified=grants.is_verified(current_user), masked=grants.masked_person,
                           manages=any(r.role == "manager" for r in desk.roles))


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


# ------------------------------------------------------------------------------- the manager's assistants

def _render_team(desk, add=None, transfer=None, remove=None):
    scope = scope_for(current_user, desk.programme.id)
    teams = programmes.teams(scope)
    # One institution's forms at a time (their fields keep one id each): the one a form was posted for, else the
    # one asked for, else the first.
    wanted = next((f.institution_id.data for f in (add, transfer) if f is not None), None)
    wanted = wanted or request.args.get("institution")
    current = next((inst for inst, _rights in teams if str(inst.id) == str(wanted)), teams[0][0] if teams else None)
    removing_id = remove.grant_id.data if remove is not None else request.args.get("remove")
    removing = next((g for _inst, rights in teams for g in rights
                     if g.role == "assistant" and str(g.id) == str(removing_id)), None)
    return render_template(
        "portal/programme_team.html", desk=desk, teams=teams, current=current, removing=removing, roles=ROLES,
        add=add or AssistantForm(formdata=None, prefix="add"),
        transfer=transfer or TransferForm(formdata=None, prefix="transfer"),
        remove=remove or RemoveAssistantForm(formdata=None, prefix="remove"), masked=grants.masked_person,
        masked_phone=grants.mask_phone(current_user.phone))


@bp.get("/<code>/team")
@login_required
def team(code: str):
    """业务助理: the admins of the institutions the user manages in this programme, with add, remove and transfer."""
    return _render_team(_desk(code))


@bp.post("/<code>/team/assistant")
@login_required
@limiter.limit(_step_up_limit, key_func=_step_up_key, exempt_when=_not_final_step_up)
def add_assistant(code: str):
    """添加业务助理 (a verified member of the institution, found by phone or ID number; step-up)."""
    desk = _desk(code)
    add = AssistantForm(prefix="add")
    if team_actions.add_assistant(scope_for(current_user, desk.programme.id), add):
        return redirect(url_for(".team", code=desk.programme.code))
    return _render_team(desk, add=add)


@bp.post("/<code>/team/assistant/remove")
@login_required
@limiter.limit(_step_up_limit, key_func=_step_up_key, exempt_when=_not_final_step_up)
def remove_assistant(code: str):
    """解除授权 of one assistant of this programme (step-up is the confirmation)."""
    desk = _desk(code)
    remove = RemoveAssistantForm(prefix="remove")
    if team_actions.remove_assistant(scope_for(current_user, desk.programme.id), remove):
        return redirect(url_for(".team", code=desk.programme.code))
    return _render_team(desk, remove=remove)


@bp.post("/<code>/team/transfer")
@login_required
@limiter.limit(_step_up_limit, key_func=_step_up_key, exempt_when=_not_final_step_up)
def transfer(code: str):
    """转移 the business manager right of this programme to a verified member of the institution."""
    desk = _desk(code)
    transfer = TransferForm(prefix="transfer")
    if team_actions.transfer_manager(scope_for(current_user, desk.programme.id), transfer):
        try:  # the former manager may take no part in the programme any more
            programmes.desk(current_user, desk.programme)
        except ServiceError:
            return redirect(url_for("portal.me"))
        return redirect(url_for(".show", code=desk.programme.code))
    return _render_team(desk, transfer=transfer)
