"""Portal: real-name verification (/verify) and the owner's own scans."""
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..extensions import limiter
from ..forms.verification import VerifyForm
from ..models.user import ID_TYPES
from ..services import ServiceError, row_id
from ..services.crypto import decrypt
from ..services.identity import KeyMismatch
from ..services.verification import (
    DEFAULT_DAILY_CAP,
    DEFAULT_VERIFIER,
    VerificationError,
    own_request,
    scan_path,
    submit,
    verification_status,
)

bp = Blueprint("verify", __name__)


@bp.record_once
def _defaults(state) -> None:
    # Defaults of this area's settings (instance/config.py or FLASK_* env override them).
    state.app.config.setdefault("VERIFY_DAILY_CAP", DEFAULT_DAILY_CAP)
    state.app.config.setdefault("IDENTITY_VERIFIER", DEFAULT_VERIFIER)
    # Per account: every POST decodes up to two images, even when the daily cap on requests is not reached.
    state.app.config.setdefault("VERIFY_POST_LIMIT", "30 per hour")


def _account_key() -> str:
    return f"verify:{current_user.get_id()}"


@bp.route("/verify", methods=["GET", "POST"])
@login_required
@limiter.limit(lambda: current_app.config["VERIFY_POST_LIMIT"], methods=["POST"], key_func=_account_key)
def index():
    status = verification_status(current_user)
    form = VerifyForm()
    code = 200
    if request.method == "GET" and status.can_submit:
        _prefill(form, status)
    if status.can_submit and form.validate_on_submit():
        try:
            submit(current_user, form.id_type.data, form.id_number.data, form.name.data,
                   request.files.get("front_image"), request.files.get("back_image"))
        except KeyMismatch as e:
            # This node's PII key does not open the data (it reports itself unready): it refuses before anything
            # is written, with 503 so a retry may reach a sound node; the form keeps what was typed.
            flash(str(e), "danger")
            code = 503
        except VerificationError as e:
            target = getattr(form, e.field, None) if e.field else None
            if target is not None:
                target.errors = list(target.errors) + [str(e)]
            else:
                flash(str(e), "danger")
        except ServiceError as e:
            flash(str(e), "danger")
        else:
            flash(_("Your verification request has been submitted and is waiting for review."), "success")
            return redirect(url_for("verify.index"))
        status = verification_status(current_user)
    elif request.method == "POST" and not status.can_submit:
        flash(_("Your identity has already been verified.") if status.code == "verified"
              else _("Your verification request is waiting for review; please wait for the result."), "warning")
    headers = {"Retry-After": "60"} if code == 503 else {}
    return render_template("verify/index.html", form=form, status=status, id_types=ID_TYPES), code, headers


def _prefill(form: VerifyForm, status) -> None:
    """Start from what the account already holds: its document type and number (its own), and its name."""
    user = current_user
    if user.id_type and not form.id_type.data:
        form.id_type.data = user.id_type
    if not form.name.data:
        form.name.data = (status.request.name if status.request else None) or user.name or ""
    if user.id_number_enc and not form.id_number.data:
        try:
            form.id_number.data = decrypt(user.id_number_enc)
        except Exception:  # a key rotation must not break the page
            form.id_number.data = ""


@bp.get("/verify/scan/<int:request_id>/<side>")
@login_required
def own_scan(request_id: int, side: str):
    """A scan of one's own request; anybody else's (or a missing one) is a 404."""
    if row_id(request_id) is None:
        abort(404)
    req = own_request(request_id, current_user.id)
    path = scan_path(req, side) if req is not None else None
    if path is None:
        abort(404)
    return send_scan(path)


def send_scan(path):
    """Send a stored scan: private, never cached by shared caches, never sniffed as anything else."""
    resp = send_file(path, mimetype="image/png" if path.suffix == ".png" else "image/jpeg", max_age=0,
                     conditional=False, etag=False)
    resp.headers["Cache-Control"] = "private, no-store"
    return resp
