"""Help and entry: /help (帮助, 客服电话) and /qr.png (the login page's QR code for phones)."""
from flask import Blueprint, make_response, render_template

from ..services import help as svc

bp = Blueprint("entry", __name__)
bp.add_app_template_filter(svc.tel_href, "tel_href")


@bp.get("/help")
def help_page():
    """帮助: the support number, how to sign in, and the configured help text (public: asked before signing in)."""
    return render_template("help.html", support_phone=svc.support_phone(),
                           paragraphs=svc.help_paragraphs(), public_url=svc.public_url()[0])


@bp.get("/qr.png")
def qr_png():
    """The QR code of the public address (PUBLIC_URL, else the request's own host)."""
    url, configured = svc.public_url()
    resp = make_response(svc.qr_png(url))
    resp.headers["Content-Type"] = "image/png"
    # From the config it is the same for everyone; from the request's Host header it is this visitor's only.
    resp.headers["Cache-Control"] = "public, max-age=3600" if configured else "private, no-cache"
    return resp
