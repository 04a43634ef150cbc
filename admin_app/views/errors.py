"""Error pages in the portal layout; JSON for API paths."""
from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError

from ..i18n import N_

MESSAGES = {
    400: N_("The request could not be understood."),
    403: N_("You do not have permission to view this page."),
    404: N_("The page does not exist, or you may not view it."),
    405: N_("This method is not allowed here."),
    413: N_("The upload is too large."),
    429: N_("Too many requests; please try again later."),
    500: N_("Something went wrong on our side; please try again later."),
}


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/sms/")) or request.accept_mimetypes.best == "application/json"


def init_app(app: Flask) -> None:
    def handler(code):
        def handle(e):
            message = _(MESSAGES[code])
            if isinstance(e, CSRFError):
                message = _(
                    "The form has expired or is missing its security token; please reload the page and try again.")
            # A 405 names the methods the URL allows (RFC 9110): the answer keeps werkzeug's Allow header.
            headers = {"Allow": ", ".join(e.valid_methods)} if getattr(e, "valid_methods", None) else {}
            if request.path.startswith("/fhir/"):  # the FHIR API answers every error with an OperationOutcome
                from .fhir import error_outcome

                return error_outcome(code, message, headers)
            if _wants_json():
                return jsonify(ok=False, error=message), code, headers
            return render_template("errors/error.html", code=code, message=message), code, headers
        return handle

    for code in MESSAGES:
        app.register_error_handler(code, handler(code))
    app.register_error_handler(CSRFError, handler(400))
