"""Issue 22, the words of the staff-reporting manual (000): questionnaire wording and answers, sign-in and
password messages, region names, audit sentences and the institution card in plain Chinese."""
import io
import re

import pytest
from sqlalchemy import select

from admin_app.extensions import db
from admin_app.models import Institution, StaffProfile
from admin_app.models.profile import REQUIRED_QUESTIONS, SAMPLING_QUESTIONS, TESTING_QUESTIONS
from admin_app.services import captcha as captcha_mod
from admin_app.services.review import transition
from tests.conftest import STAFF_A, SUPER, UNIT_A
from tests.test_review_support import profile, scope_of, user
from tests.test_staff_portal import newcomer, post_profile  # noqa: F401 - newcomer is a fixture

MANUAL_QUESTIONS = ("是否专职从事采样工作", "是否参加过新冠核酸采样培训", "是否参加过生物安全培训",
                    "是否正在从事新冠核酸样本采集", "是否专职从事检验工作", "是否具有检验从业资格",
                    "是否具有检验从业资格(职称)证书", "是否参加过PCR培训", "是否具有PCR资质证书", "是否从事PCR工作",
                    "是否参加过新冠核酸检测培训", "是否具有新冠核酸检测资质证书", "是否具有生物安全上岗证",
                    "是否正在从事新冠核酸检测工作")
CERTIFICATES = ("qualification_certificate", "pcr_certificate", "covid_testing_certificate")


def text(resp) -> str:
    return resp.get_data(as_text=True)


def radio_labels(html: str, name: str) -> list[str]:
    return re.findall(rf'<input type="radio"[^>]*name="{name}"[^>]*>\s*<label[^>]*>([^<]+)</label>', html)


def legend(html: str, name: str) -> str:
    return re.search(rf'id="{name}-group".*?<legend[^>]*>(.*?)</legend>', html, re.S).group(1)


# ---- the questionnaire ----------------------------------------------------------------------------------------

def test_the_questionnaire_speaks_the_manuals_words(newcomer):  # noqa: F811
    html = text(newcomer.get("/profile"))
    for q in MANUAL_QUESTIONS:
        assert q in html, q
    assert "PCR 上岗证" not in html
    for name in (*SAMPLING_QUESTIONS, *TESTING_QUESTIONS):
        assert radio_labels(html, name) == (["有", "无"] if name in CERTIFICATES else ["是", "否"]), name
        starred = 'class="text-danger"' in legend(html, name)
        assert starred == (name in REQUIRED_QUESTIONS), name
    # The stored codes stay yes/no.
    assert re.findall(r'name="pcr_certificate"\s+value="(\w+)"', html) == ["yes", "no"]


def test_only_the_starred_questions_are_required(newcomer):  # noqa: F811
    for q in REQUIRED_QUESTIONS:
        r = post_profile(newcomer, **{q: None})
        assert r.status_code == 200 and "请回答此问题" in text(r), q
    blank = {q: None for q in (*SAMPLING_QUESTIONS, *TESTING_QUESTIONS) if q not in REQUIRED_QUESTIONS}
    r = post_profile(newcomer, **blank)
    assert r.status_code == 302, text(r)[-2000:]
    p = db.session.scalar(select(StaffProfile).where(StaffProfile.name == "王小明"))
    assert p.status == "submitted" and p.sampling_full_time is None and p.pcr_certificate is True


def test_the_card_and_the_centre_answer_a_certificate_with_you_wu(login):
    p = profile(STAFF_A)
    db.session.execute(StaffProfile.__table__.update().where(StaffProfile.id == p.id).values(
        personnel_type="testing", pcr_certificate=False, doing_pcr=True, pcr_years=2))
    db.session.commit()
    card = text(login(UNIT_A).get(f"/admin/staff/details/?id={p.id}"))
    assert re.search(r'data-answer="pcr_certificate">无<', card) and re.search(r'data-answer="doing_pcr">是<', card)
    me = text(login(STAFF_A).get("/me"))
    assert re.search(r"是否具有PCR资质证书</dt>\s*<dd[^>]*>无<", me), me[me.find("PCR资质"):][:300]


# ---- sign-in and password messages ----------------------------------------------------------------------------

@pytest.fixture
def captcha_on(app, monkeypatch):
    app.config["CAPTCHA_ENABLED"] = True
    monkeypatch.setattr(captcha_mod, "ALPHABET", "K")


def test_an_empty_captcha_asks_for_it(client, captcha_on):
    client.get("/captcha.png")
    r = client.post("/login", data={"phone": STAFF_A, "password": "Demo@12345", "captcha": " "})
    assert r.status_code == 200 and "请输入图形验证码" in text(r) and "图形验证码错误" not in text(r)


@pytest.mark.parametrize("phone", [STAFF_A, "13987650008"])
def test_sign_in_warns_how_many_tries_are_left_before_the_lock(client, phone):
    """The same count for a phone with no account, so the warning does not tell which phones exist."""
    for left in (4, 3, 2, 1):
        r = client.post("/login", data={"phone": phone, "password": "wrong-pass1"})
        assert f"还可尝试 {left} 次" in text(r)
    r = client.post("/login", data={"phone": phone, "password": "wrong-pass1"})
    assert "锁定" in text(r) and "还可尝试" not in text(r)


def test_a_reset_for_an_unknown_phone_does_not_say_the_code_expired(client, app):
    assert client.post("/sms/send", data={"phone": "13987650009", "purpose": "reset_password"}).json["ok"]
    app.config["SMS_CODE_TTL"] = 0  # even once the (never delivered) code has expired
    for code in ("123456", "654321"):
        r = client.post("/forgot-password", data={"phone": "13987650009", "sms_code": code,
                                                  "password": "NewPass99", "password_confirm": "NewPass99"})
        body = text(r)
        assert "已过期" not in body and "请先注册" in body


# ---- regions, audit, institution card -------------------------------------------------------------------------

def test_hong_kong_and_macao_are_in_simplified_characters(client):
    names = {r["code"]: r["name"] for r in client.get("/api/regions?parent=").get_json()}
    assert names["810000"] == "香港特别行政区" and names["820000"] == "澳门特别行政区"


def test_audit_details_are_sentences(app, login):
    p = profile(STAFF_A)
    transition("approve", [p.id], user(UNIT_A).id, scope_of(UNIT_A))
    html = text(login(SUPER).get("/admin/audit/?flt0_0=review_approve"))
    assert "通过 1 人，跳过 0 人" in html
    for raw in ("moved:", "skipped:", "reason: null", "None", "first_ids"):
        assert raw not in html


def test_audit_sentence_for_a_login_failure(client, login):
    client.post("/login", data={"phone": STAFF_A, "password": "wrong-pass1"})
    html = text(login(SUPER).get("/admin/audit/"))
    assert "原因：密码错误" in html and "bad_password" not in html


def test_institution_card_says_yes_or_no_and_hides_the_tree_path(login):
    inst = db.session.scalar(select(Institution).where(Institution.id == user(UNIT_A).institution_id))
    html = text(login(UNIT_A).get(f"/admin/institution/details/?id={inst.id}"))
    assert "需要单位确认码" in html or "确认码" in html
    assert ">True<" not in html and ">False<" not in html and inst.path not in html
    assert re.search(r"<td>\s*(是|否)\s*</td>", html)


# ---- the avatar -------------------------------------------------------------------------------------------------

def test_the_chosen_photo_survives_a_refused_save(newcomer, app):  # noqa: F811
    from pathlib import Path

    from tests.test_staff_portal import png

    r = post_profile(newcomer, pcr_years="0", avatar=(io.BytesIO(png()), "me.png"))
    html = text(r)
    assert r.status_code == 200 and "从事PCR年限" in html and "data-pending-avatar" in html
    kept = newcomer.get("/profile/avatar/pending")
    assert kept.status_code == 200 and kept.mimetype in ("image/png", "image/jpeg")
    assert app.test_client().get("/profile/avatar/pending").status_code in (302, 401)  # not for anyone else
    r = post_profile(newcomer, avatar=None)  # fixed the years, chose no new file
    assert r.status_code == 302, text(r)[-1500:]
    p = db.session.scalar(select(StaffProfile).where(StaffProfile.name == "王小明"))
    assert p.avatar and (Path(app.config["UPLOAD_FOLDER"]) / "avatar" / p.avatar).is_file()
    assert not list((Path(app.config["UPLOAD_FOLDER"]) / "pending").iterdir())
    assert newcomer.get("/profile/avatar/pending").status_code == 404


def test_an_upload_over_the_hard_limit_gets_a_message_on_the_form(newcomer, app):  # noqa: F811
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    r = post_profile(newcomer, avatar=(io.BytesIO(b"\xff" * 200 * 1024), "big.jpg"))
    assert r.status_code == 303 and r.headers["Location"].endswith("/profile")
    html = text(newcomer.get("/profile"))
    assert re.search(r'id="avatar-error">[^<]*图片[^<]*MB', html), html[html.find("avatar-group"):][:800]
    assert "上传的文件过大" not in html
    assert db.session.scalar(select(StaffProfile).where(StaffProfile.name == "王小明")) is None


def test_the_profile_form_carries_the_preview_and_the_size_limit(newcomer, app):  # noqa: F811
    html = text(newcomer.get("/profile"))
    assert 'id="avatar-preview"' in html and f'data-max-bytes="{app.config["UPLOAD_MAX_BYTES"]}"' in html


# ---- where each admin lands -----------------------------------------------------------------------------------

@pytest.mark.parametrize("phone, home", [(UNIT_A, "/admin/staff/"), ("13800000002", "/admin/"), (SUPER, "/admin/"),
                                         (STAFF_A, "/me")])
def test_a_unit_admin_lands_on_the_list_and_an_officer_on_the_dashboard(client, phone, home):
    r = client.post("/login", data={"phone": phone, "password": "Demo@12345"})
    assert r.status_code == 302 and r.headers["Location"] == home
    assert client.get("/").headers["Location"] == home
