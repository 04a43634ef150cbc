"""Sign-in (with image captcha), sign-up, forgotten password, SMS codes, sign-out."""

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from ..extensions import limiter, login_manager
from ..forms.auth import ForgotPasswordForm, LoginForm, RegisterForm, SmsLoginForm
from ..forms.validators import normalize_phone
from ..models.grant import ROLES
from ..services import ServiceError, bounds, captcha, preregistration, sessions
from ..services.accounts import authenticate, authenticate_by_sms, register_account, reset_password_by_sms
from ..services.personal import verification_prompt
from ..services.scope import is_unit_admin, scope_for
from ..services.sms import PURPOSES, SmsError, send_code

bp = Blueprint("auth", __name__)


def _ip_limit() -> str:
    return current_app.config["LOGIN_IP_LIMIT"]


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = None

    @login_manager.user_loader
    def load_user(user_id: str):
        # Only through a server-side session checked for this request (views/sessions.py), never the cookie alone.
        return sessions.loaded_user(user_id)


def safe_next(target: str | None) -> str | None:
    """Only short, relative, same-site paths: never `//evil`, `https://evil` or `\\evil` (services.bounds)."""
    return bounds.return_url(target)


def home_for(user) -> str:
    """Where a user lands after signing in: a unit admin on 上报人员列表, other admins on the dashboard, staff
    in their centre."""
    scope = scope_for(user)
    if scope.is_admin:
        return url_for("staff.index_view") if is_unit_admin(scope) else url_for("admin.index")
    if "portal.me" in current_app.view_functions:
        return url_for("portal.me")
    return url_for("auth.login")


@bp.get("/")
def index():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    return redirect(url_for("auth.login"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_ip_limit, methods=["POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit() and _captcha_passed(form):
        try:
            user = authenticate(form.phone.data, form.password.data)
        except ServiceError as e:
            form.password.errors.append(str(e))
        else:
            return _land(user)
    return render_template("auth/login.html", form=form, mode="password")


@bp.route("/login/sms", methods=["GET", "POST"])
@limiter.limit(_ip_limit, methods=["POST"])
def login_sms():
    """手机快捷登录: the phone and a sign-in SMS code instead of the password; the same checks and landing."""
    form = SmsLoginForm()
    if request.method == "POST" and request.form.get("action") == "send_code":
        _send_from_form(form, "login")
    elif form.validate_on_submit() and _captcha_passed(form):
        try:
            user = authenticate_by_sms(form.phone.data, form.sms_code.data)
        except ServiceError as e:
            form.sms_code.errors.append(str(e))
        else:
            return _land(user)
    return render_template("auth/login.html", form=form, mode="sms")


def _captcha_passed(form) -> bool:
    """The image captcha is checked first: a wrong one costs no password or code check and no lockout count."""
    if not current_app.config["CAPTCHA_ENABLED"]:
        return True
    if not (form.captcha.data or "").strip():
        form.captcha.errors.append(_("Please enter the image captcha."))
        return False
    if not captcha.check(form.captcha.data):
        form.captcha.errors.append(_("The image captcha is wrong; please enter the characters in the new image."))
        return False
    return True


def _land(user):
    """Signed in (either way): a pre-registered admin phone claimed, the server-side session, the prompt, then
    `next` or the user's home."""
    _claim_preregistrations(user)
    login_user(user)
    _prompt_verification(user)
    return redirect(safe_next(request.args.get("next")) or home_for(user))


def _claim_preregistrations(user) -> bool:
    """Signing up or in with a phone an officer pre-registered makes the person that unit's admin; True if so."""
    result = preregistration.claim_for(user)
    for inst, role in result.claimed:
        flash(_("You are now the admin of %(name)s (%(role)s).", name=inst.name, role=_(ROLES[role])), "success")
    for inst in result.refused:
        flash(_("Your phone is pre-registered as an admin phone of %(name)s, but your work unit is another "
                "institution; please contact your superior institution.", name=inst.name), "warning")
    return bool(result.claimed)


def _prompt_verification(user) -> None:
    """The manual's 按提示进行实名认证: told once, on arrival; nothing is blocked."""
    prompt = verification_prompt(user)
    if prompt:
        flash(prompt, "verify")


@bp.get("/captcha.png")
@limiter.limit(_ip_limit)
def captcha_image():
    """A fresh image captcha; its answer replaces the previous one in the session."""
    resp = make_response(captcha.new_image())
    resp.headers["Content-Type"] = "image/png"
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/logout")
def logout():
    logout_user()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


def _send_from_form(form, purpose: str) -> None:
    """The no-JavaScript path of the 获取验证码 button: the same form posted with action=send_code."""
    form.phone.errors = []
    if not form.phone.validate(form):
        return
    try:
        send_code(form.phone.data, purpose)
    except SmsError as e:
        form.phone.errors.append(str(e))
    else:
        flash(_("The verification code has been sent; it is valid for 5 minutes."), "success")


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(_ip_limit, methods=["POST"])
def register():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = RegisterForm()
    if request.method == "POST" and request.form.get("action") == "send_code":
        _send_from_form(form, "register")
    elif form.validate_on_submit():
        try:
            user = register_account(form.name.data, form.phone.data, form.password.data, form.sms_code.data)
        except SmsError as e:
            form.sms_code.errors.append(str(e))
        except ServiceError as e:
            form.phone.errors.append(str(e))
        else:
            if _claim_preregistrations(user):
                # The unit admin the officer named: straight to the unit's 上报人员列表 (manual 000).
                login_user(user)
                flash(_("Registration succeeded."), "success")
                return redirect(home_for(user))
            login_user(user)
            flash(_("Registration succeeded. Please complete your account information."), "success")
            _prompt_verification(user)
            return redirect(url_for("portal.account"))
    return render_template("auth/register.html", form=form)


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(_ip_limit, methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if request.method == "POST" and request.form.get("action") == "send_code":
        _send_from_form(form, "reset_password")
    elif form.validate_on_submit():
        try:
            reset_password_by_sms(form.phone.data, form.sms_code.data, form.password.data)
        except SmsError as e:
            form.sms_code.errors.append(str(e))
        except ServiceError as e:
            form.password.errors.append(str(e))
        else:
            flash(_("Your password has been reset and every device signed in before has been signed out; please sign "
                    "in with the new password."), "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/forgot_password.html", form=form)


@bp.post("/sms/send")
@limiter.limit(_ip_limit)
def sms_send():
    """JSON: send a code for `phone` + `purpose`; {"ok": true} or 4xx {"ok": false, "error": ...}."""
    data = request.form if request.form else (request.get_json(silent=True) or {})
    purpose = str(data.get("purpose") or "")
    if purpose not in PURPOSES:
        return jsonify(ok=False, error=_("Unknown verification code purpose.")), 400
    raw_phone = str(data.get("phone") or "")
    if purpose == "step_up":
        # Step-up codes only ever go to the signed-in person's own phone.
        if not current_user.is_authenticated:
            return jsonify(ok=False, error=_("Please sign in first.")), 401
        if raw_phone and normalize_phone(raw_phone) != current_user.phone:
            return jsonify(ok=False, error=_("The code can only be sent to your own mobile number.")), 400
        raw_phone = current_user.phone
    phone = normalize_phone(raw_phone)
    if phone is None:
        return jsonify(ok=False, error=_("Please enter a valid mainland China mobile number.")), 400
    try:
        send_code(phone, purpose)
    except SmsError as e:
        if e.captcha_required:  # the page shows the image captcha and sends its answer as sms_captcha
            return jsonify(ok=False, error=str(e), captcha=True, captcha_url=url_for("auth.captcha_image")), e.status
        return jsonify(ok=False, error=str(e)), e.status
    return jsonify(ok=True)
