"""帮助 and 客服电话: the support number, the help text and the login page's QR code (segno), from the config."""
import io
from urllib.parse import urlsplit

from flask import current_app, request

QR_MAX_URL = 512  # a longer PUBLIC_URL is a configuration slip, not an address to print


def support_phone() -> str:
    """The configured 客服电话 ('' when none is set)."""
    return str(current_app.config.get("SUPPORT_PHONE") or "").strip()


def tel_href(phone: str) -> str:
    """A tel: link for the number as people write it (010-84533392 → tel:01084533392)."""
    return "tel:" + "".join(ch for ch in phone if ch.isdigit() or ch == "+")


def help_paragraphs() -> list[str]:
    """The configured HELP_TEXT split into paragraphs; [] means the built-in help is shown."""
    text = str(current_app.config.get("HELP_TEXT") or "").replace("\r\n", "\n").strip()
    if not text:
        return []
    return [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]


def public_url() -> tuple[str, bool]:
    """The address phones should open, and whether it came from the config (else from this request's host)."""
    configured = str(current_app.config.get("PUBLIC_URL") or "").strip()
    parts = urlsplit(configured)
    if configured and parts.scheme in ("http", "https") and parts.netloc and len(configured) <= QR_MAX_URL:
        return configured, True
    return request.host_url, False


def qr_png(url: str) -> bytes:
    """A PNG QR code of `url` (segno: error correction M, a quiet zone of 4 modules as the standard asks)."""
    import segno

    out = io.BytesIO()
    segno.make_qr(url, error="m").save(out, kind="png", scale=6, border=4)
    return out.getvalue()
