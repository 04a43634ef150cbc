"""Portal /verify: the form, submissions, bad input (each refused with a Chinese message, nothing written)."""
import re

import pytest
from sqlalchemy import select

from admin_app.extensions import db
from admin_app.models import AuditLog
from admin_app.services import verification as svc
from admin_app.services.crypto import decrypt
from admin_app.services.scope import scope_for
from tests.conftest import STAFF_A, STAFF_B, SUPER, UNIT_A, csrf_token_from
from tests.test_identity_helpers import (
    form,
    image_bytes,
    post_verify,
    requests_of,
    resident_id,
    scan_files,
    snapshot,
    staff_client,
    text_of,
    user_by_phone,
    with_check,
)


@pytest.fixture
def staff(app):
    return staff_client(app, STAFF_A)


def test_anonymous_is_sent_to_sign_in(client):
    resp = client.get("/verify")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_form_has_every_field_labelled(staff):
    resp = staff.get("/verify")
    html = text_of(resp)
    assert resp.status_code == 200
    assert 'data-identity-status="unverified"' in html and "未认证" in html
    files = {m for tag in re.findall(r"<input[^>]+>", html) if 'type="file"' in tag
             for m in re.findall(r'name="([^"]+)"', tag)}
    assert files == {"front_image", "back_image"}
    assert 'enctype="multipart/form-data"' in html
    for label in ("居民身份证", "护照", "港澳居民来往内地通行证", "台湾居民来往大陆通行证"):
        assert label in html
    for field in ("id_type", "name", "id_number", "front_image", "back_image"):
        assert re.search(rf'<label[^>]+for="{field}"', html), field
    assert "<script>" not in html  # no inline script without the nonce


def test_submit_resident_id_goes_to_review(app, staff):
    number = resident_id()
    resp = post_verify(staff, number=number)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/verify")
    user = user_by_phone(STAFF_A)
    assert user.identity_status == "pending"
    [req] = requests_of(user)
    assert req.status == "pending" and req.id_type == "resident_id" and req.name == "张晓明"
    assert decrypt(req.id_number_enc) == number and req.id_number_masked == number[:6] + "*****" + number[-3:]
    assert number not in req.id_number_enc
    assert len(scan_files()) == 2 and req.front_image and req.back_image
    assert db.session.scalars(select(AuditLog).where(AuditLog.action == "identity.submit")).one().actor_id == user.id
    html = text_of(staff.get("/verify"))
    assert 'data-identity-status="pending"' in html and "待审核" in html
    assert 'name="front_image"' not in html  # no second form while pending
    assert number not in html  # only the masked number


def test_lower_case_x_and_full_width_digits_are_normalised(staff):
    number = next(n for n in (resident_id(seq=s) for s in range(200)) if n.endswith("X"))
    typed = number[:-1].translate(str.maketrans("0123456789", "０１２３４５６７８９")) + "x"
    assert post_verify(staff, number=typed).status_code == 302
    [req] = requests_of(user_by_phone(STAFF_A))
    assert decrypt(req.id_number_enc) == number


def test_passport_needs_no_back_scan(staff):
    assert post_verify(staff, id_type="passport", number="E12345678", back=None).status_code == 302
    [req] = requests_of(user_by_phone(STAFF_A))
    assert req.id_type == "passport" and req.back_image is None


@pytest.mark.parametrize("id_type,number,message", [
    ("resident_id", resident_id()[:-1] + ("0" if resident_id()[-1] != "0" else "1"), "校验位"),
    ("resident_id", with_check("11010119900230012"), "出生日期或地区"),  # 30 February
    ("resident_id", with_check("99010119900517123"), "出生日期或地区"),  # no such region
    ("resident_id", with_check("11010121900517123"), "出生日期"),  # born in the future
    ("resident_id", "11010119900517123", "18"),
    ("passport", "E1", "格式"),
    ("hk_macau_pass", "X12345678", "格式"),
    ("taiwan_pass", "ABC", "格式"),
    ("resident_id", "", "证件号码"),
])
def test_invalid_number_per_type_is_refused(staff, id_type, number, message):
    before = snapshot()
    resp = staff.post("/verify", data=form(id_type=id_type, number=number) | ({"id_number": number}),
                      content_type="multipart/form-data")
    html = text_of(resp)
    assert resp.status_code == 200 and message in html
    assert 'id="id_number-error"' in html
    assert snapshot() == before


def test_unknown_document_type_is_refused(staff):
    before = snapshot()
    resp = post_verify(staff, id_type="driving_licence")
    assert resp.status_code == 200 and "请选择证件类型" in text_of(resp)
    assert snapshot() == before


def test_missing_name_is_refused(staff):
    before = snapshot()
    resp = post_verify(staff, name="  ")
    assert resp.status_code == 200 and "请填写证件上的姓名" in text_of(resp)
    assert snapshot() == before


@pytest.mark.parametrize("side", ["front", "back"])
def test_a_file_that_is_not_an_image_is_refused(staff, side):
    before = snapshot()
    resp = post_verify(staff, **{side: b"%PDF-1.4 not an image at all"})
    html = text_of(resp)
    assert resp.status_code == 200 and "JPEG" in html and re.search(r"有效的.*图片|仅支持", html)
    assert f'id="{side}_image-error"' in html
    assert snapshot() == before  # in particular the valid other side was not kept


def test_a_gif_is_refused(staff):
    before = snapshot()
    resp = post_verify(staff, front=image_bytes("GIF"))
    assert resp.status_code == 200 and "仅支持 JPEG 和 PNG" in text_of(resp)
    assert snapshot() == before


def test_a_scan_over_the_size_cap_is_refused(app, staff):
    app.config["UPLOAD_MAX_BYTES"] = 20_000
    big = image_bytes(size=(400, 400), noise=True)
    assert len(big) > 20_000
    before = snapshot()
    resp = post_verify(staff, back=big)
    html = text_of(resp)
    assert resp.status_code == 200 and "图片大小不能超过" in html and 'id="back_image-error"' in html
    assert snapshot() == before


def test_missing_scans_are_refused(staff):
    before = snapshot()
    resp = post_verify(staff, front=None)
    assert resp.status_code == 200 and "请上传证件正面" in text_of(resp)
    resp = post_verify(staff, back=None)
    assert resp.status_code == 200 and "请上传证件背面" in text_of(resp)
    assert snapshot() == before


def test_trailing_bytes_after_an_image_do_not_survive(staff):
    payload = b"<?php system($_GET['c']); ?>" * 4
    assert post_verify(staff, front=image_bytes() + payload, back=image_bytes("PNG") + payload).status_code == 302
    files = scan_files()
    assert len(files) == 2
    for path in files:
        data = path.read_bytes()
        assert b"<?php" not in data
        assert data[:3] == b"\xff\xd8\xff" or data[:8] == b"\x89PNG\r\n\x1a\n"


def test_number_verified_on_another_account_is_refused(app, staff):
    admin = user_by_phone(UNIT_A)  # verified in the demo
    number = decrypt(admin.id_number_enc)
    before = snapshot()
    resp = post_verify(staff, number=number)
    html = text_of(resp)
    assert resp.status_code == 200 and "已被其他账号" in html and 'id="id_number-error"' in html
    assert snapshot() == before


def test_number_held_unverified_on_another_account_is_refused(staff):
    other = user_by_phone(STAFF_B)  # typed on the profile, not verified
    before = snapshot()
    resp = post_verify(staff, number=decrypt(other.id_number_enc))
    assert resp.status_code == 200 and "已被其他账号" in text_of(resp)
    assert snapshot() == before


def test_number_pending_for_another_account_is_refused(app, staff):
    number = resident_id(seq=456)
    other = staff_client(app, STAFF_B)
    assert post_verify(other, number=number, name="李晓红").status_code == 302
    before = snapshot()
    resp = post_verify(staff, number=number)
    assert resp.status_code == 200 and "已被其他账号" in text_of(resp)
    assert snapshot() == before


def test_own_profile_number_may_be_verified(staff):
    own = decrypt(user_by_phone(STAFF_A).id_number_enc)
    html = text_of(staff.get("/verify"))
    assert f'value="{own}"' in html  # prefilled from the account
    assert post_verify(staff, number=own).status_code == 302


def test_a_pending_request_cannot_be_duplicated(staff):
    assert post_verify(staff).status_code == 302
    before = snapshot()
    resp = post_verify(staff, number=resident_id(seq=789))
    assert resp.status_code == 200 and "等待审核" in text_of(resp)
    assert snapshot() == before


def test_rejection_shows_reason_and_allows_resubmission(app, staff):
    assert post_verify(staff).status_code == 302
    user = user_by_phone(STAFF_A)
    [req] = requests_of(user)
    superuser = user_by_phone(SUPER)
    svc.reject([req.id], superuser.id, scope_for(superuser), "证件照片不清晰，请重新上传")
    html = text_of(staff.get("/verify"))
    assert 'data-identity-status="rejected"' in html and "认证失败" in html and "证件照片不清晰" in html
    assert 'name="front_image"' in html
    assert post_verify(staff, number=resident_id(seq=321)).status_code == 302
    assert [r.status for r in requests_of(user)] == ["rejected", "pending"]
    assert user_by_phone(STAFF_A).identity_status == "pending"


def test_daily_cap(app, staff):
    app.config["VERIFY_DAILY_CAP"] = 2
    superuser = user_by_phone(SUPER)
    for seq in (11, 12):
        assert post_verify(staff, number=resident_id(seq=seq)).status_code == 302
        pending = [r for r in requests_of(user_by_phone(STAFF_A)) if r.status == "pending"]
        svc.reject([pending[0].id], superuser.id, scope_for(superuser), "不清晰")
    before = snapshot()
    resp = post_verify(staff, number=resident_id(seq=13))
    assert resp.status_code == 200 and "24 小时内最多提交 2 次" in text_of(resp)
    assert snapshot() == before


def test_default_daily_cap_is_five(app):
    assert app.config["VERIFY_DAILY_CAP"] == 5
    assert app.config["IDENTITY_VERIFIER"] == svc.DEFAULT_VERIFIER


def test_verified_user_sees_status_and_cannot_submit(app):
    admin = staff_client(app, UNIT_A)
    html = text_of(admin.get("/verify"))
    assert 'data-identity-status="verified"' in html and "认证成功" in html and 'name="front_image"' not in html
    before = snapshot()
    resp = post_verify(admin, number=resident_id(seq=654))
    assert resp.status_code == 200 and "已通过实名认证" in text_of(resp)
    assert snapshot() == before


def test_owner_sees_own_scans_others_get_404(app, staff):
    assert post_verify(staff).status_code == 302
    [req] = requests_of(user_by_phone(STAFF_A))
    resp = staff.get(f"/verify/scan/{req.id}/front")
    assert resp.status_code == 200 and resp.mimetype == "image/jpeg"
    assert "no-store" in resp.headers["Cache-Control"] and resp.headers["X-Content-Type-Options"] == "nosniff"
    assert staff.get(f"/verify/scan/{req.id}/side").status_code == 404
    assert staff.get(f"/verify/scan/{req.id + 999}/front").status_code == 404
    other = staff_client(app, STAFF_B)
    assert other.get(f"/verify/scan/{req.id}/front").status_code == 404
    assert other.get(f"/verify/scan/{req.id}/back").status_code == 404
    assert app.test_client().get(f"/verify/scan/{req.id}/front").status_code == 302  # anonymous: sign in


def test_english_page(staff):
    html = text_of(staff.get("/verify?lang=en"))
    assert "Real-name verification" in html and "Unverified" in html


def test_page_with_csrf_on(app):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()  # signing in needs the token too
    token = csrf_token_from(text_of(client.get("/login")))
    client.post("/login?next=/verify", data={"phone": STAFF_A, "password": "Demo@12345", "captcha": "",
                                             "csrf_token": token})
    before = snapshot()
    assert client.post("/verify", data=form(), content_type="multipart/form-data").status_code == 400
    assert snapshot() == before
    token = csrf_token_from(text_of(client.get("/verify")))
    assert client.post("/verify", data=form() | {"csrf_token": token},
                       content_type="multipart/form-data").status_code == 302


def test_posts_are_rate_limited_per_account(template_db, tmp_path):
    """Every POST decodes images: an account cannot hammer the form even below the daily cap."""
    from tests.conftest import clone_demo, make_app

    application = make_app(tmp_path, clone_demo(template_db, tmp_path), RATELIMIT_ENABLED=True,
                           VERIFY_POST_LIMIT="2 per hour")
    with application.app_context():
        staff = staff_client(application, STAFF_A)
        assert [post_verify(staff, number="123").status_code for _ in range(2)] == [200, 200]
        before = snapshot()
        assert post_verify(staff).status_code == 429
        assert snapshot() == before
        assert staff.get("/verify").status_code == 200  # reading stays possible
        assert post_verify(staff_client(application, STAFF_B), name="李晓红").status_code == 302  # per account
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize("name,message", [("张\u0000明", "不允许的字符"), ("张" * 65, "64")])
def test_bad_names_are_refused(staff, name, message):
    before = snapshot()
    resp = post_verify(staff, name=name)
    assert resp.status_code == 200 and message in text_of(resp)
    assert snapshot() == before
