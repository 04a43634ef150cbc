"""Security headers on every response and the per-request CSP nonce."""
import secrets

from flask import Flask, abort, g, request


def csp_nonce() -> str:
    """The nonce inline scripts of this request carry (Flask-Admin's and ours)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


# Views whose forms refuse a NUL themselves with a message on the form (the DESIGN's "the form re-renders");
# for every other form body a NUL is a 400.
FORMS_REFUSING_NUL = {"verify.index"}


def _has_nul(values) -> bool:
    return any("\x00" in v for v in values if isinstance(v, str))


def init_app(app: Flask) -> None:
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.before_request
    def _refuse_nul_characters():
        """A NUL character is never part of real input: PostgreSQL cannot store it (a 500), and SQLite's LIKE
        ends the pattern there (a search for it matched every row). Refuse it before any view sees it."""
        if _has_nul(request.args.values()) or _has_nul(request.view_args.values() if request.view_args else ()):
            abort(400)
        # The back office's return address (`url`, Flask-Admin's redirect target) ends up in a Location header:
        # control characters there would make the redirect itself fail (a 500). (The sign-in `next` is
        # checked by auth.safe_next, which ignores such a target.)
        if any(ord(c) < 32 or ord(c) == 127 for v in request.values.getlist("url") for c in v):
            abort(400)
        if request.endpoint in FORMS_REFUSING_NUL:
            return None
        if request.method in ("POST", "PUT", "PATCH") and request.mimetype in (
                "application/x-www-form-urlencoded", "multipart/form-data") and _has_nul(request.form.values()):
            abort(400)

    @app.after_request
    def _headers(resp):
        nonce = g.get("csp_nonce")
        script = "'self'" + (f" 'nonce-{nonce}'" if nonce else "")
        resp.headers.setdefault(
            "Content-Security-Policy",
            f"default-src 'self'; script-src {script}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        return resp
