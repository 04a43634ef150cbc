"""The user's own sessions (/sessions): the list, ending one or all others; and the per-request session check."""
from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user, user_logged_in, user_logged_out

from ..services import clock, sessions as svc

bp = Blueprint("sessions", __name__)


def _on_login(_app, user, **_kw) -> None:
    svc.start(user)


def _on_logout(_app, user=None, **_kw) -> None:
    svc.end_current()


def _check_session():
    """Before anything reads current_user: a signed-in visitor whose session has ended is signed out, and told."""
    if request.endpoint and (request.endpoint == "static" or request.endpoint.endswith(".static")):
        return
    reason = svc.check_request()
    if reason and request.endpoint != "auth.logout":
        flash(_("Your session has expired; please sign in again.") if reason == "expired"
              else _("Your sign-in has ended; please sign in again."), "warning")


def init_app(app: Flask) -> None:
    """Check sessions first of all the request hooks (the rate limiter's may read the user); follow Flask-Login."""
    app.before_request_funcs.setdefault(None, []).insert(0, _check_session)
    user_logged_in.connect(_on_login)
    user_logged_out.connect(_on_logout)
    app.register_blueprint(bp)


def _page(status: int = 200, message: str | None = None):
    if message:
        flash(message, "danger")
    rows = svc.list_for(current_user)
    current = svc.current_id()
    return render_template("portal/sessions.html", rows=rows, current=current, describe=svc.describe_agent,
                           local_text=clock.local_text, others=sum(1 for r in rows if r.id != current)), status


@bp.get("/sessions")
@login_required
def index():
    return _page()


@bp.post("/sessions/end")
@login_required
def end():
    try:
        was_current = svc.end_one(current_user, request.form.get("session_id"))
    except svc.SessionNotFound as e:
        # Another person's session, one that has already ended, or no id: the same answer, a 404.
        return _page(404, str(e))
    if was_current:
        logout_user()
        flash(_("You have signed out."), "info")
        return redirect(url_for("auth.login"))
    flash(_("The session has been ended; that device must sign in again."), "success")
    return redirect(url_for("sessions.index"))


@bp.post("/sessions/end-others")
@login_required
def end_others():
    n = svc.end_others(current_user)
    flash(_("%(n)d other session(s) ended; only this device is still signed in.", n=n) if n
          else _("There were no other sessions."), "success" if n else "info")
    return redirect(url_for("sessions.index"))
