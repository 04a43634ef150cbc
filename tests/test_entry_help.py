"""帮助, 客服电话 and the login page's QR code (issue 19): /help, the links to it, /qr.png."""
import io

import pytest
import segno
from PIL import Image

from tests.conftest import STAFF_A, UNIT_A


def qr_modules(png: bytes, scale: int = 6, border: int = 4) -> list[list[bool]]:
    """The dark/light modules of a QR code PNG as /qr.png draws it (module centres sampled)."""
    img = Image.open(io.BytesIO(png)).convert("L")
    n = img.width // scale - 2 * border
    return [[img.getpixel(((border + c) * scale + scale // 2, (border + r) * scale + scale // 2)) < 128
             for c in range(n)] for r in range(n)]


def expected_modules(url: str) -> list[list[bool]]:
    return [[bool(v) for v in row] for row in segno.make_qr(url, error="m").matrix]


def test_help_shows_the_configured_support_phone_as_a_call_link(app, client):
    html = client.get("/help").get_data(as_text=True)
    assert "帮助" in html and "客服电话" in html and 'href="tel:01084533392"' in html and "010-84533392" in html
    app.config["SUPPORT_PHONE"] = "027-87654321"
    html = client.get("/help").get_data(as_text=True)
    assert "027-87654321" in html and "010-84533392" not in html


def test_without_a_support_phone_help_says_whom_to_ask(app, client):
    app.config["SUPPORT_PHONE"] = ""
    html = client.get("/help").get_data(as_text=True)
    assert "尚未配置客服电话" in html and "tel:" not in html


def test_a_configured_help_text_replaces_the_built_in_one_and_is_never_markup(app, client):
    assert "单位管理员" in client.get("/help").get_data(as_text=True)  # the built-in help, from the manuals
    app.config["HELP_TEXT"] = "第一段说明。\n\n第二段 <script>alert(1)</script>"
    html = client.get("/help").get_data(as_text=True)
    assert "<p>第一段说明。</p>" in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html and "使用说明" in html


def test_help_is_linked_from_the_login_page_the_portal_and_the_back_office(client, login):
    page = client.get("/login").get_data(as_text=True)
    assert 'href="/help"' in page and 'src="/qr.png"' in page
    staff = login(STAFF_A)
    me = staff.get("/me").get_data(as_text=True)
    assert 'data-menu="entry.help_page"' in me and "data-footer-help" in me
    admin = login(UNIT_A)
    grid = admin.get("/admin/staff/").get_data(as_text=True)
    assert 'data-menu="entry.help_page"' in grid and "data-footer-help" in grid and "010-84533392" in grid


def test_the_qr_code_is_a_png_of_the_configured_public_url(app, client):
    app.config["PUBLIC_URL"] = "https://hr.example.gov.cn/"
    resp = client.get("/qr.png")
    assert resp.status_code == 200 and resp.mimetype == "image/png" and resp.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert qr_modules(resp.data) == expected_modules("https://hr.example.gov.cn/")
    assert "public" in resp.headers["Cache-Control"]


@pytest.mark.parametrize("configured", ["", "javascript:alert(1)", "hr.example.gov.cn", "https://" + "a" * 600])
def test_without_a_usable_public_url_the_qr_code_points_at_the_address_asked(app, client, configured):
    app.config["PUBLIC_URL"] = configured
    resp = client.get("/qr.png", base_url="http://registry.test:8080")
    assert qr_modules(resp.data) == expected_modules("http://registry.test:8080/")
    assert "private" in resp.headers["Cache-Control"]  # another visitor's Host header is not cached for all
