"""/fhir/ — the read-only FHIR R4 (IHE mCSD) API for consuming systems: thin HTTP around services.fhir_api.

Every call but /fhir/metadata carries `Authorization: Bearer <token>` of a registered consuming system; it is
rate-limited per client and audit-logged (who, what, how many rows; full ID numbers under their own action).
"""
import json

from flask import Blueprint, Response, current_app, g, request, send_file
from flask_babel import gettext as _
from flask_limiter.errors import RateLimitExceeded

from ..extensions import csrf, limiter
from ..models.types import utcnow
from ..services import fhir_api, fhir_resources as fr
from ..services.api_auth import client_key, current_client, record_call

bp = Blueprint("fhir", __name__, url_prefix="/fhir")
csrf.exempt(bp)
MEDIA = "application/fhir+json; charset=utf-8"


def fhir_json(body: dict, status: int = 200) -> Response:
    """A FHIR JSON response."""
    return Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")), status=status, mimetype=None,
                    content_type=MEDIA)


def _base() -> str:
    return request.url_root + "fhir/"


@bp.errorhandler(fhir_api.FhirError)
def _refused(e: fhir_api.FhirError):
    return fhir_json(fr.outcome(e.code, str(e)), e.status)


@bp.errorhandler(RateLimitExceeded)
def _throttled(_e):
    return fhir_json(fr.outcome("throttled", _("Too many requests; please try again later.")), 429)


@bp.errorhandler(404)
def _not_found(_e):
    return fhir_json(fr.outcome("not-found", _("No such FHIR endpoint.")), 404)


ISSUE_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
               413: "too-long", 429: "throttled", 500: "exception"}


def error_outcome(status: int, message: str, headers: dict | None = None) -> Response:
    """The app's error pages under /fhir/ (a URL or method it does not serve, a refused query string, a failure):
    an OperationOutcome with the same status."""
    resp = fhir_json(fr.outcome(ISSUE_CODES.get(status, "processing"), message), status)
    resp.headers.update(headers or {})
    return resp


def _client():
    client = current_client()
    if client is None:
        raise fhir_api.FhirError(g.api_auth_error, code="login", status=401)
    return client


def _limit() -> str:
    return current_app.config["API_RATE_LIMIT"]


@bp.get("/metadata")
@limiter.limit(_limit, key_func=client_key)
def metadata():
    """The CapabilityStatement (no token needed)."""
    return fhir_json(fr.capability_statement(_base(), utcnow(), current_app.config["API_SOFTWARE_NAME"]))


@bp.get("/<kind>")
@limiter.limit(_limit, key_func=client_key)
def search(kind: str):
    """A searchset Bundle of one page of <kind> in the client's scope."""
    if kind not in fhir_api.TYPES:
        raise fhir_api.FhirError(_("Unsupported resource type."), code="not-supported", status=404)
    client = _client()
    result = fhir_api.run_search(kind, request.args, client, _base())
    record_call(client, kind, result.rows, result.full_ids)
    return fhir_json(result.body)


@bp.get("/<kind>/<rid>")
@limiter.limit(_limit, key_func=client_key)
def read(kind: str, rid: str):
    """One resource by id, in the client's scope (else 404)."""
    if kind not in fhir_api.TYPES:
        raise fhir_api.FhirError(_("Unsupported resource type."), code="not-supported", status=404)
    client = _client()
    try:
        result = fhir_api.read(kind, rid, client, _base())
    except fhir_api.FhirError:
        record_call(client, f"{kind}/{rid[:20]}", 0, 0)
        raise
    record_call(client, f"{kind}/{rid[:20]}", 1, result.full_ids)
    return fhir_json(result.body)



@bp.get("/Practitioner/<rid>/photo")
@limiter.limit(_limit, key_func=client_key)
def practitioner_photo(rid: str):
    """The photo a Practitioner's `photo.url` names: the image itself, for a token whose scope holds him."""
    client = _client()
    try:
        path, media_type = fhir_api.photo(rid, client)
    except fhir_api.FhirError:
        record_call(client, f"Practitioner/{rid[:20]}/photo", 0, 0)
        raise
    record_call(client, f"Practitioner/{rid[:20]}/photo", 1, 0)
    resp = send_file(path, mimetype=media_type, max_age=0)
    resp.headers["Cache-Control"] = "private, no-store"
    return resp
