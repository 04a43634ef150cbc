"""The three team actions (添加业务助理, 解除授权, 转移), shared by the back office's team page and a programme's own.

Each one sends the step-up SMS code when asked, or validates its form and calls `services.grant_team`; it flashes
the outcome and returns the grant (or True) when the change was made, None when the form is to be shown again.
"""
from flask import abort, flash, request
from flask_babel import gettext as _
from flask_login import current_user

from ..forms.validators import normalize_phone
from ..services import ServiceError, grant_team, grants
from ..services.scope import Scope
from .grants_portal import send_step_up


def person_args(form) -> dict:
    """The person a team form names: by ID document or by a normalised mainland mobile number."""
    if form.by.data == "id":
        return {"id_type": form.id_type.data, "id_number": form.id_number.data}
    phone = normalize_phone(form.phone.data or "")
    if phone is None:
        raise ServiceError(_("Please enter a valid mainland China mobile number."))
    return {"phone": phone}


def _step_up_or_valid(form) -> bool:
    if "send_sms" in request.form:
        send_step_up(form)
        return False
    return form.validate_on_submit()


def add_assistant(scope: Scope, form):
    """添加业务助理 from an AssistantForm; the new grant, or None."""
    if not _step_up_or_valid(form):
        return None
    try:
        grant = grant_team.add_assistant(scope, current_user, form.institution_id.data, password=form.password.data,
                                         sms_code=form.sms_code.data, **person_args(form))
    except grants.GrantNotFound:
        abort(404)
    except ServiceError as e:
        flash(str(e), "danger")
        return None
    flash(_("%(person)s has been added as an assistant admin.", person=grants.masked_person(grant.user)), "success")
    return grant


def remove_assistant(scope: Scope, form) -> bool | None:
    """解除授权 of one assistant from a RemoveAssistantForm; True when removed, or None."""
    if not _step_up_or_valid(form):
        return None
    try:
        grant_team.remove_assistant(scope, current_user, form.grant_id.data, form.password.data, form.sms_code.data)
    except grants.GrantNotFound:
        abort(404)
    except ServiceError as e:
        flash(str(e), "danger")
        return None
    flash(_("The assistant admin has been removed."), "success")
    return True


def transfer_manager(scope: Scope, form):
    """转移 the business manager right from a TransferForm (its box ticked); the new manager's grant, or None."""
    if not _step_up_or_valid(form):
        return None
    if not form.confirm.data:
        form.confirm.errors = [_("Please confirm that you hand over the business manager role.")]
        return None
    try:
        grant = grant_team.transfer_manager(scope, current_user, form.institution_id.data,
                                            password=form.password.data, sms_code=form.sms_code.data,
                                            **person_args(form))
    except grants.GrantNotFound:
        abort(404)
    except ServiceError as e:
        flash(str(e), "danger")
        return None
    flash(_("The business manager role has been transferred to %(person)s.", person=grants.masked_person(grant.user)),
          "success")
    return grant
