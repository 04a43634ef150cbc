"""Portal: bind an authorization code (添加业务授权) with step-up verification."""
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..extensions import limiter
from ..forms.registry import BindForm
from ..services import ServiceError, grants

bp = Blueprint("grants", __name__, url_prefix="/grants")


def _user_key() -> str:
    # Per account (codes cannot be guessed by one user), and per address for anyone not signed in.
    return f"user:{current_user.get_id()}" if current_user.is_authenticated else f"ip:{request.remote_addr}"


def _not_final_bind() -> bool:
    return request.method != "POST" or "send_sms" in request.form


def send_step_up(form) -> None:
    """The `send_sms` button of a step-up form: an SMS code to the signed-in user's own phone."""
    try:
        grants.send_step_up_code(current_user)
    except ServiceError as e:
        form.sms_code.errors = list(form.sms_code.errors) + [str(e)]
    else:
        flash(_("A verification code has been sent to your phone %(phone)s.",
                phone=grants.mask_phone(current_user.phone)), "success")


@bp.route("/bind", methods=["GET", "POST"])
@login_required
@limiter.limit(lambda: current_app.config["GRANT_BIND_LIMIT"], key_func=_user_key, exempt_when=_not_final_bind)
def bind():
    """A verified user enters the code from the superior, confirms with password + SMS, becomes manager."""
    form = BindForm()
    verified = grants.is_verified(current_user)
    if request.method == "POST" and "send_sms" in request.form:
        send_step_up(form)
    elif form.validate_on_submit():
        try:
            grant = grants.bind_code(current_user, form.code.data, form.password.data, form.sms_code.data)
        except ServiceError as e:
            flash(str(e), "danger")
        else:
            flash(_("Authorization bound: you are now the business manager of %(name)s.",
                    name=grant.institution.name), "success")
            if not grant.programme.is_default:  # a right in another programme opens that programme's page
                return redirect(url_for("programmes.show", code=grant.programme.code))
            return redirect(url_for("admin.index"))
    elif request.method == "POST":
        flash(_("Please correct the fields marked below."), "danger")
    form.password.data = ""
    return render_template("registry/bind.html", form=form, verified=verified,
                           masked_phone=grants.mask_phone(current_user.phone),
                           verify_url=url_for("verify.index") if "verify.index" in current_app.view_functions else None)
