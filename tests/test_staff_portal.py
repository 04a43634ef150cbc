"""Account page, profile page, personal centre and the avatar route: rules, bad input, access."""
import io
import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image
from sqlalchemy import func, select
from stdnum.cn import ric, uscc

from admin_app.extensions import db
from admin_app.models import Institution, ReviewEvent, StaffProfile, StatusCounter, User
from admin_app.services import clock, verification
from admin_app.services.accounts import hash_password
from admin_app.services.crypto import decrypt
from admin_app.services.review import transition
from admin_app.services.scope import scope_for
from tests.conftest import DEMO_PASSWORD, DISTRICT_A, STAFF_A, STAFF_B, SUPER, UNIT_A, UNIT_B
from tests.test_identity_helpers import post_verify, requests_of, snapshot as identity_snapshot

NEW = "13987650001"
LOCKED_BY_UNIT = "单位审核已通过，资料已锁定；如需修改，请联系本单位管理员退审。"
UNIT_A_NAME, UNIT_B_NAME = "北京市西城区疾病预防控制中心", "北京市朝阳区疾病预防控制中心"


def resident_id(birth: date = date(1990, 3, 7), seq: str = "123", region: str = "110102") -> str:
    body = f"{region}{birth:%Y%m%d}{seq}"
    return body + ric.calc_check_digit(body + "0")  # stdnum ignores the last character it is given


RID = resident_id()  # sequence 123: odd → male


def png(size=(60, 80), color=(200, 30, 30), fmt="PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, fmt)
    return out.getvalue()


def text(resp) -> str:
    return resp.get_data(as_text=True)


def inst(name) -> Institution:
    return db.session.scalar(select(Institution).where(Institution.name == name))


def user_by(phone) -> User:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.phone == phone))


def profile_of(phone) -> StaffProfile | None:
    db.session.expire_all()
    return db.session.scalar(select(StaffProfile).join(User, User.id == StaffProfile.user_id)
                             .where(User.phone == phone))


def counter(institution_id, status) -> int:
    return db.session.scalar(select(StatusCounter.n).where(StatusCounter.institution_id == institution_id,
                                                           StatusCounter.status == status)) or 0


def snapshot(phone) -> dict:
    """Everything the pages may write for one person, to prove a refused post wrote nothing."""
    u = user_by(phone)
    p = profile_of(phone)
    cols = lambda obj: {c.key: getattr(obj, c.key) for c in obj.__table__.columns} if obj else None  # noqa: E731
    events = db.session.scalar(select(func.count()).select_from(ReviewEvent)
                               .where(ReviewEvent.profile_id == p.id)) if p else 0
    return {"user": cols(u), "profile": cols(p), "events": events,
            "profiles": db.session.scalar(select(func.count()).select_from(StaffProfile))}


@pytest.fixture
def newcomer(app, login):
    """A signed-in new staff member whose account page is complete but who has no profile yet."""
    unit = inst(UNIT_A_NAME)
    db.session.add(User(phone=NEW, name="王小明", password_hash=hash_password(DEMO_PASSWORD), region_code="110102",
                        institution_id=unit.id, department="检验科"))
    db.session.commit()
    return login(NEW)


def profile_form(**overrides) -> dict:
    data = {"id_type": "resident_id", "id_number": RID, "personnel_type": "both", "education": "bachelor",
            "title_level": "intermediate", "title": "主管技师", "position": "检验师", "work_start_date": "2015-07-01",
            "pcr_years": "3", "version": ""}
    from admin_app.models.profile import SAMPLING_QUESTIONS, TESTING_QUESTIONS
    data.update({q: "yes" for q in (*SAMPLING_QUESTIONS, *TESTING_QUESTIONS)})
    data["avatar"] = (io.BytesIO(png()), "me.png")
    for k, v in overrides.items():
        if v is None:
            data.pop(k, None)
        else:
            data[k] = v
    return data


def post_profile(c, **overrides):
    return c.post("/profile", data=profile_form(**overrides), content_type="multipart/form-data")


def edit_form(phone, **overrides) -> dict:
    """The profile form as it stands for an existing profile (no new avatar, no new ID number)."""
    p = profile_of(phone)
    data = profile_form(id_number="", avatar=None, version=str(p.version), personnel_type=p.personnel_type)
    for q in ("sampling_full_time", "sampling_covid_training", "sampling_biosafety_training", "currently_sampling",
              "testing_full_time", "lab_qualification", "qualification_certificate", "pcr_training",
              "pcr_certificate", "doing_pcr", "covid_testing_training", "covid_testing_certificate",
              "biosafety_post_certificate", "currently_covid_testing"):
        v = getattr(p, q)
        data[q] = "" if v is None else ("yes" if v else "no")
    data["pcr_years"] = str(p.pcr_years or "")
    for k, v in overrides.items():
        if v is None:
            data.pop(k, None)
        else:
            data[k] = v
    return data


# ---- the whole journey -------------------------------------------------------------------------------------

def test_sign_up_to_pending_review(client, app):
    """Register with the console outbox code, fill the account and the profile, see 待审核 on /me."""
    client.post("/sms/send", data={"phone": NEW, "purpose": "register"})
    with open(app.config["SMS_OUTBOX"], encoding="utf-8") as fh:
        code = json.loads(fh.read().splitlines()[-1])["code"]
    r = client.post("/register", data={"name": "王小明", "phone": NEW, "password": "Secret123",
                                       "password_confirm": "Secret123", "sms_code": code})
    assert r.headers["Location"].endswith("/account")
    assert client.get("/profile").headers["Location"].endswith("/account")  # account first
    unit = inst(UNIT_A_NAME)
    before = counter(unit.id, "submitted")
    r = client.post("/account", data={"name": "王小明", "email": "wxm@example.cn", "province": "110000",
                                      "city": "110100", "region_code": "110102", "institution_id": str(unit.id),
                                      "confirmation_code": "dema-2345", "department": "检验科"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/profile"), text(r)[:2000]
    u = user_by(NEW)
    assert (u.institution_id, u.region_code, u.email, u.department) == (unit.id, "110102", "wxm@example.cn", "检验科")
    r = post_profile(client)
    assert r.status_code == 302 and r.headers["Location"].endswith("/me"), \
        re.findall(r"invalid-feedback[^>]*>([^<]*)", text(r))
    p = profile_of(NEW)
    assert p.status == "submitted" and p.institution_id == unit.id and p.name == "王小明" and p.phone == NEW
    assert p.gender == "male" and p.birth_date == date(1990, 3, 7) and p.pcr_years == 3
    assert counter(unit.id, "submitted") == before + 1
    u = user_by(NEW)
    assert u.id_type == "resident_id" and decrypt(u.id_number_enc) == RID
    assert u.id_number_masked == "110102*****" + RID[-3:]
    html = text(client.get("/me"))
    assert 'data-status="submitted"' in html and "待审核" in html and "王小明" in html
    assert "提交审核" in html  # the history names the event in Chinese


# ---- account page ------------------------------------------------------------------------------------------

def test_account_page_has_the_contract_fields(newcomer):
    html = text(newcomer.get("/account"))
    for name in ("name", "email", "region_code", "institution_id", "confirmation_code", "department"):
        assert f'name="{name}"' in html
    assert "所属单位" in html and 'value="110102"' in html


@pytest.mark.parametrize("overrides, message", [
    ({"region_code": "999999"}, "请选择所在地区"),
    ({"region_code": "110000"}, "请选择所在地区"),
    ({"region_code": "110100"}, "请选择所在地区"),
    ({"region_code": ""}, "请选择所在地区"),
    ({"institution_id": ""}, "请搜索并选择所属单位"),
    ({"institution_id": "999999"}, "请搜索并选择所属单位"),
    ({"institution_id": "abc"}, "请搜索并选择所属单位"),
    ({"confirmation_code": "WRONG234"}, "单位确认码错误"),
    ({"confirmation_code": ""}, "需要填写单位确认码"),
    ({"email": "not-an-email"}, "请输入有效的邮箱地址"),
    ({"name": "  "}, "请输入真实姓名"),
    ({"department": "科" * 65}, "最多填写 64 个字符"),
])
def test_account_refuses_bad_input(app, login, overrides, message):
    db.session.add(User(phone=NEW, name="王小明", password_hash=hash_password(DEMO_PASSWORD)))
    db.session.commit()
    c = login(NEW)
    data = {"name": "王小明", "email": "", "province": "110000", "city": "110100", "region_code": "110102",
            "institution_id": str(inst(UNIT_B_NAME).id), "confirmation_code": "DEMB2345", "department": "检验科"}
    data.update(overrides)
    before = snapshot(NEW)
    r = c.post("/account", data=data)
    assert r.status_code == 200 and message in text(r)
    assert snapshot(NEW) == before


def test_region_cascade_works_without_javascript(newcomer):
    r = newcomer.post("/account", data={"action": "regions", "province": "440000", "city": "", "region_code": ""})
    html = text(r)
    assert 'value="440100"' in html and "广州市" in html  # the cities of 广东省
    r = newcomer.post("/account", data={"action": "regions", "province": "440000", "city": "440100", "region_code": ""})
    assert 'value="440106"' in text(r) and "天河区" in text(r)
    # a city without counties is itself the finest choice (东莞市)
    r = newcomer.post("/account", data={"action": "regions", "province": "440000", "city": "441900", "region_code": ""})
    assert text(r).count('value="441900"') >= 2
    assert user_by(NEW).region_code == "110102"  # nothing saved by browsing


def test_a_city_without_counties_is_accepted(newcomer):
    unit = inst(UNIT_A_NAME)
    r = newcomer.post("/account", data={"name": "王小明", "region_code": "441900", "institution_id": str(unit.id),
                                        "department": "检验科"})
    assert r.status_code == 302 and user_by(NEW).region_code == "441900"


def test_unit_search_works_without_javascript(newcomer):
    for q in ("bjxc", "西城疾控", "西城区疾病"):
        r = newcomer.post("/account", data={"action": "search", "institution_q": q})
        assert UNIT_A_NAME in text(r), q
    r = newcomer.post("/account", data={"action": "search", "institution_q": "qqqqzzzz"})
    assert "没有匹配的单位" in text(r)


def test_institution_search_api(client):
    rows = client.get("/api/institutions?q=bjxc").json
    names = [r["name"] for r in rows]
    assert UNIT_A_NAME in names and "北京市朝阳区疾病预防控制中心" not in names
    row = rows[names.index(UNIT_A_NAME)]
    assert set(row) >= {"id", "name", "code", "parent", "category"}
    assert row["parent"] == "北京市西城区卫生健康委员会" and row["category"] == "疾控中心"
    assert uscc.is_valid(row["code"]) and row["code"][2:8] == "110102"  # the demo's 机构编码, in the unit's region
    assert client.get("/api/institutions?q=").json == []
    assert client.get("/api/institutions?q=%25").json == []  # a LIKE wildcard is a literal
    assert UNIT_A_NAME in [r["name"] for r in client.get("/api/institutions?q=" + "西城疾控").json]


def test_same_unit_needs_no_code_again(login):
    c = login(STAFF_A)
    p = profile_of(STAFF_A)
    r = c.post("/account", data={"name": "张晓明", "region_code": "110102", "institution_id": str(p.institution_id),
                                 "department": p.user.department or ""})
    assert r.status_code == 302


def test_changing_department_resubmits_and_mirrors(login):
    c = login(STAFF_A)
    p = profile_of(STAFF_A)
    version = p.version
    r = c.post("/account", data={"name": "张晓明", "region_code": "110102", "institution_id": str(p.institution_id),
                                 "department": "发热门诊"})
    assert r.status_code == 302
    p = profile_of(STAFF_A)
    assert p.department == "发热门诊" and p.status == "submitted" and p.version == version + 1
    ev = db.session.scalar(select(ReviewEvent).where(ReviewEvent.profile_id == p.id).order_by(ReviewEvent.id.desc()))
    assert ev.action == "submit" and "department" in ev.changes and ev.changes["department"][1] == "发热门诊"


def test_moving_unit_moves_the_profile_into_the_new_units_queue(login):
    c = login(STAFF_A)
    a, b = inst(UNIT_A_NAME), inst(UNIT_B_NAME)
    before_a, before_b = counter(a.id, "submitted"), counter(b.id, "submitted")
    r = c.post("/account", data={"name": "张晓明", "region_code": "110105", "institution_id": str(b.id),
                                 "confirmation_code": "demb 2345", "department": "检验科"})
    assert r.status_code == 302
    p = profile_of(STAFF_A)
    assert p.institution_id == b.id and user_by(STAFF_A).institution_id == b.id and p.status == "submitted"
    assert (counter(a.id, "submitted"), counter(b.id, "submitted")) == (before_a - 1, before_b + 1)
    ev = db.session.scalar(select(ReviewEvent).where(ReviewEvent.profile_id == p.id).order_by(ReviewEvent.id.desc()))
    assert ev.changes["institution_id"] == [a.id, b.id]


def true_counts() -> dict:
    rows = db.session.execute(select(StaffProfile.institution_id, StaffProfile.status, func.count())
                              .group_by(StaffProfile.institution_id, StaffProfile.status)).all()
    return {(i, s): n for i, s, n in rows if n}


def kept_counts() -> dict:
    return {(r.institution_id, r.status): r.n for r in db.session.scalars(select(StatusCounter)) if r.n}


def test_counters_stay_true_after_staff_edits(login):
    assert kept_counts() == true_counts()
    c = login(STAFF_A)
    p = profile_of(STAFF_A)
    c.post("/account", data={"name": "张晓明", "region_code": "110102", "institution_id": str(p.institution_id),
                             "department": "发热门诊"})
    c.post("/account", data={"name": "张晓明", "region_code": "110105", "institution_id": str(inst(UNIT_B_NAME).id),
                             "confirmation_code": "DEMB2345", "department": "检验科"})
    c.post("/profile", data=edit_form(STAFF_A, title="主任技师"), content_type="multipart/form-data")
    db.session.expire_all()
    assert kept_counts() == true_counts()


def test_moving_a_draft_moves_its_count(app, login):
    draft = db.session.scalar(select(StaffProfile).where(StaffProfile.status == "draft",
                                                         StaffProfile.institution_id != inst(UNIT_A_NAME).id))
    a = inst(UNIT_A_NAME)
    old, before_old, before_a = draft.institution_id, counter(draft.institution_id, "draft"), counter(a.id, "draft")
    c = login(draft.phone)
    r = c.post("/account", data={"name": draft.name, "region_code": "110102", "institution_id": str(a.id),
                                 "confirmation_code": "DEMA2345", "department": "检验科"})
    assert r.status_code == 302
    p = profile_of(draft.phone)
    assert p.institution_id == a.id and p.status == "draft"
    assert (counter(old, "draft"), counter(a.id, "draft")) == (before_old - 1, before_a + 1)


def approve(phone, admin_phone=UNIT_A):
    admin = user_by(admin_phone)
    res = transition("approve", [profile_of(phone).id], admin.id, scope_for(admin))
    assert res.moved == 1


def test_locked_account_and_profile_are_read_only(login):
    approve(STAFF_A)
    c = login(STAFF_A)
    for path in ("/account", "/profile"):
        html = text(c.get(path))
        assert LOCKED_BY_UNIT in html and "<fieldset disabled>" in html
    html = text(c.get("/me"))
    links = re.search(r'<div class="[^"]*me-links">(.*?)</div>', html, re.S).group(1)
    assert 'data-status="unit_approved"' in html and "/profile" not in links and "/account" not in links
    assert "/password" in links
    before = snapshot(STAFF_A)
    p = profile_of(STAFF_A)
    r = c.post("/account", data={"name": "改名", "region_code": "110102", "institution_id": str(p.institution_id),
                                 "department": "改科室"})
    assert LOCKED_BY_UNIT in text(r)
    r = c.post("/profile", data=edit_form(STAFF_A, title="主任技师", version=str(p.version)),
               content_type="multipart/form-data")
    assert LOCKED_BY_UNIT in text(r)
    assert snapshot(STAFF_A) == before


# ---- profile page ------------------------------------------------------------------------------------------

def test_profile_page_works_without_javascript(newcomer):
    html = text(newcomer.get("/profile"))
    assert 'enctype="multipart/form-data"' in html and 'type="file"' in html and 'name="avatar"' in html
    assert 'name="version"' in html and 'name="pcr_years"' in html
    for q in ("doing_pcr", "pcr_training", "pcr_certificate", "sampling_full_time", "currently_covid_testing"):
        assert re.search(rf'type="radio"[^>]*name="{q}"\s+value="yes"', html)
        assert re.search(rf'type="radio"[^>]*name="{q}"\s+value="no"', html)
    for word in ("人员性质", "采样人员", "检测人员", "采样信息", "检测信息"):
        assert word in html
    # both question blocks are in the page; portal.js only hides the one that does not apply
    assert 'data-block="sampling"' in html and 'data-block="testing"' in html and " hidden" not in html


FUTURE_ID = resident_id(birth=date.today() + timedelta(days=400))


class FromToday:
    """The date `days` after the registry's today, worked out when the test runs: collection may be before
    midnight and the run after it, and the registry's day is Beijing's, not the test machine's."""

    def __init__(self, days: int):
        self.days = days

    def resolve(self) -> str:
        return (clock.today() + timedelta(days=self.days)).isoformat()


def resolved(overrides: dict) -> dict:
    return {k: v.resolve() if isinstance(v, FromToday) else v for k, v in overrides.items()}


WRONG_DIGIT = RID[:-1] + ("0" if RID[-1] != "0" else "1")


@pytest.mark.parametrize("overrides, message", [
    ({"id_number": WRONG_DIGIT}, "校验位错误"),
    ({"id_number": FUTURE_ID}, "晚于今天"),
    ({"id_number": "1101021990"}, "18 位"),
    ({"id_number": ""}, "请输入证件号码"),
    ({"id_type": "bogus"}, "请选择证件类型"),
    ({"pcr_years": "0"}, "从事PCR年限"),
    ({"pcr_years": "-1"}, "从事PCR年限"),
    ({"pcr_years": "abc"}, "从事PCR年限"),
    ({"pcr_years": "2.5"}, "从事PCR年限"),
    ({"pcr_years": ""}, "从事PCR年限"),
    ({"pcr_years": "61"}, "从事PCR年限"),
    ({"pcr_training": None}, "请回答此问题"),  # a starred (*) item of the manual
    ({"pcr_certificate": None}, "请回答此问题"),
    ({"doing_pcr": "maybe"}, "请回答此问题"),
    ({"sampling_full_time": "maybe"}, "请回答此问题"),
    ({"personnel_type": None}, "请选择人员性质"),
    ({"personnel_type": "cook"}, "请选择人员性质"),
    ({"education": ""}, "请选择学历"),
    ({"title_level": "emperor"}, "请选择职称级别"),
    ({"title": ""}, "请填写职称名称"),
    ({"work_start_date": ""}, "请填写从业时间"),
    ({"work_start_date": FromToday(1)}, "从业时间不能晚于今天"),
    ({"work_start_date": "1980-01-01"}, "从业时间不能早于年满 16 周岁之日"),
    ({"work_start_date": "2020/13/45"}, "YYYY-MM-DD"),
    ({"avatar": None}, "请上传头像"),
    ({"avatar": (io.BytesIO(b"GIF89a not really"), "me.gif")}, "JPEG"),
    ({"avatar": (io.BytesIO(b"hello, I am text"), "me.jpg")}, "JPEG"),
    ({"avatar": (io.BytesIO(png(fmt="GIF")), "me.gif")}, "JPEG"),
    ({"id_type": "passport", "id_number": "E12345678"}, "请选择性别"),
    ({"id_type": "passport", "id_number": "E12345678", "gender": "male"}, "请填写出生日期"),
    ({"id_type": "passport", "id_number": "E12345678", "gender": "male",
      "birth_date": FromToday(1)}, "出生日期不能晚于今天"),
    ({"id_type": "passport", "id_number": "!!"}, "格式不符"),
])
def test_profile_refuses_bad_input(newcomer, overrides, message):
    before = snapshot(NEW)
    r = post_profile(newcomer, **resolved(overrides))
    assert r.status_code == 200 and message in text(r), text(r)[-4000:]
    assert snapshot(NEW) == before


def test_at_seven_in_the_morning_beijing_time_today_is_already_today(newcomer, monkeypatch):
    # 23:00 UTC on 1 December is 07:00 on 2 December in Beijing, where the staff member is: a server on UTC
    # must not call their "today" a future date.
    monkeypatch.setattr(clock, "utcnow", lambda: datetime(2026, 12, 1, 23, 0))
    r = post_profile(newcomer, work_start_date="2026-12-03")
    assert r.status_code == 200 and "从业时间不能晚于今天" in text(r)
    r = post_profile(newcomer, work_start_date="2026-12-02")
    assert r.status_code == 302, text(r)[-2000:]
    assert profile_of(NEW).work_start_date == date(2026, 12, 2)


def test_oversized_avatar_is_refused(newcomer, app):
    app.config["UPLOAD_MAX_BYTES"] = 2000
    noisy = Image.effect_noise((300, 300), 80).convert("RGB")
    out = io.BytesIO()
    noisy.save(out, "PNG")
    assert len(out.getvalue()) > 2000
    before = snapshot(NEW)
    r = post_profile(newcomer, avatar=(io.BytesIO(out.getvalue()), "big.png"))
    assert "图片大小不能超过" in text(r)
    assert snapshot(NEW) == before


def test_duplicate_id_number_is_refused(newcomer):
    other = decrypt(user_by(STAFF_A).id_number_enc)
    before, identity = snapshot(NEW), identity_snapshot()
    r = post_profile(newcomer, id_number=other)
    assert "该证件号码已被其他账号使用或认证" in text(r)
    assert snapshot(NEW) == before and identity_snapshot() == identity


def test_trailing_bytes_are_not_stored(newcomer, app):
    payload = b"<?php system($_GET['c']); ?>SMUGGLED"
    r = post_profile(newcomer, avatar=(io.BytesIO(png() + payload), "me.png"))
    assert r.status_code == 302
    p = profile_of(NEW)
    stored = (app.config["UPLOAD_FOLDER"] + "/avatar/" + p.avatar)
    data = Path(stored).read_bytes()
    assert b"SMUGGLED" not in data and data[:8] == b"\x89PNG\r\n\x1a\n"
    assert newcomer.get(f"/profile/{p.id}/avatar").data == data


def test_other_types_answers_are_cleared(newcomer):
    r = post_profile(newcomer, personnel_type="sampling", pcr_years="abc")
    assert r.status_code == 302
    p = profile_of(NEW)
    assert p.sampling_full_time is True and p.doing_pcr is None and p.testing_full_time is None and p.pcr_years is None


def test_pcr_years_only_when_doing_pcr(newcomer):
    r = post_profile(newcomer, personnel_type="testing", doing_pcr="no", pcr_years="abc",
                     sampling_full_time=None, currently_sampling=None)
    assert r.status_code == 302
    p = profile_of(NEW)
    assert p.doing_pcr is False and p.pcr_years is None and p.sampling_full_time is None


def test_passport_holder_gives_gender_and_birth_date(newcomer):
    r = post_profile(newcomer, id_type="passport", id_number="e1234 5678", gender="female", birth_date="1992-05-06")
    assert r.status_code == 302
    p, u = profile_of(NEW), user_by(NEW)
    assert (p.gender, p.birth_date, u.id_type, decrypt(u.id_number_enc)) == \
        ("female", date(1992, 5, 6), "passport", "E12345678")


def test_editing_resubmits_with_masked_changes(login):
    c = login(STAFF_A)
    version = profile_of(STAFF_A).version
    old_number = decrypt(user_by(STAFF_A).id_number_enc)
    new_number = resident_id(seq="456")
    r = c.post("/profile", data=edit_form(STAFF_A, title="主任技师", title_level="senior", id_number=new_number),
               content_type="multipart/form-data")
    assert r.status_code == 302, text(r)[-3000:]
    q = profile_of(STAFF_A)
    assert q.version == version + 1 and q.title == "主任技师" and q.status == "submitted"
    ev = db.session.scalar(select(ReviewEvent).where(ReviewEvent.profile_id == q.id).order_by(ReviewEvent.id.desc()))
    assert ev.changes["title"][1] == "主任技师" and ev.changes["id_number"][1] == "110102*****" + new_number[-3:]
    dumped = json.dumps(ev.changes)
    assert new_number not in dumped and old_number not in dumped
    assert q.gender == "female" and q.birth_date == date(1990, 3, 7)  # 456: even → female


def test_a_stale_form_is_refused(login):
    c = login(STAFF_A)
    before = snapshot(STAFF_A)
    p = profile_of(STAFF_A)
    r = c.post("/profile", data=edit_form(STAFF_A, title="主任技师", version=str(p.version - 1)),
               content_type="multipart/form-data")
    assert "档案已发生变化" in text(r)
    assert snapshot(STAFF_A) == before


def test_an_approval_racing_the_edit_wins(login):
    """The form was loaded before the unit approved: the save must not slip into the approved profile."""
    c = login(STAFF_A)
    form = edit_form(STAFF_A, title="主任技师")
    approve(STAFF_A)
    before = snapshot(STAFF_A)
    r = c.post("/profile", data=form, content_type="multipart/form-data")
    assert LOCKED_BY_UNIT in text(r)
    assert snapshot(STAFF_A) == before


# ---- the identity document: changed only through services.verification.update_identity ----------------

def verified(app, login, phone):
    """Verify `phone`'s number on file through /verify and the queue; (signed-in client, the approved request)."""
    c = login(phone)
    assert post_verify(c, number=decrypt(user_by(phone).id_number_enc)).status_code == 302
    [req] = requests_of(user_by(phone))
    superuser = user_by(SUPER)
    with app.test_request_context("/"):
        assert verification.approve([req.id], superuser.id, scope_for(superuser)).moved == 1
    assert user_by(phone).identity_status == "verified"
    return c, req


def test_a_verified_number_changed_on_the_profile_goes_back_to_review(app, login):
    c, first = verified(app, login, STAFF_A)
    old_masked = user_by(STAFF_A).id_number_masked
    new_number = resident_id(seq="789")
    r = c.post("/profile", data=edit_form(STAFF_A, id_number=new_number), content_type="multipart/form-data")
    assert r.status_code == 302, text(r)[-3000:]
    u = user_by(STAFF_A)
    assert u.identity_status == "pending" and decrypt(u.id_number_enc) == new_number
    [done, waiting] = requests_of(u)
    assert (done.id, done.status, waiting.status) == (first.id, "verified", "pending")
    assert decrypt(waiting.id_number_enc) == new_number and waiting.front_image == first.front_image
    q = profile_of(STAFF_A)
    assert q.status == "submitted" and q.gender == "male"  # 789: odd → male
    ev = db.session.scalar(select(ReviewEvent).where(ReviewEvent.profile_id == q.id).order_by(ReviewEvent.id.desc()))
    assert ev.changes["id_number"] == [old_masked, "110102*****" + new_number[-3:]]
    assert new_number not in json.dumps(ev.changes)
    assert 'data-identity-status="pending"' in text(c.get("/verify"))


def test_the_number_cannot_change_while_a_verification_is_pending(login):
    c = login(STAFF_A)
    assert post_verify(c, number=resident_id(seq="321")).status_code == 302
    before, identity = snapshot(STAFF_A), identity_snapshot()
    r = c.post("/profile", data=edit_form(STAFF_A, id_number=resident_id(seq="789")),
               content_type="multipart/form-data")
    assert r.status_code == 200 and "审核完成前不能修改证件号码" in text(r) and 'id="id_number-error"' in text(r)
    assert snapshot(STAFF_A) == before and identity_snapshot() == identity
    # the rest of the profile can still be saved while the verification waits
    r = c.post("/profile", data=edit_form(STAFF_A, title="主任技师", title_level="senior"),
               content_type="multipart/form-data")
    assert r.status_code == 302 and profile_of(STAFF_A).title == "主任技师"
    assert user_by(STAFF_A).identity_status == "pending"


def test_a_newcomer_waiting_for_verification_gives_that_document(newcomer):
    assert post_verify(newcomer, number=RID).status_code == 302  # before the first profile: no number on file
    before, identity = snapshot(NEW), identity_snapshot()
    r = post_profile(newcomer, id_number=resident_id(seq="789"))
    assert "审核完成前不能修改证件号码" in text(r)
    assert snapshot(NEW) == before and identity_snapshot() == identity
    assert post_profile(newcomer).status_code == 302  # the document under review
    u = user_by(NEW)
    assert u.identity_status == "pending" and decrypt(u.id_number_enc) == RID
    assert [r.status for r in requests_of(u)] == ["pending"]


def test_a_number_waiting_in_another_accounts_request_is_refused(newcomer, login):
    number = resident_id(seq="654")
    assert post_verify(login(STAFF_B), number=number).status_code == 302
    before, identity = snapshot(NEW), identity_snapshot()
    r = post_profile(newcomer, id_number=number)
    assert r.status_code == 200 and "该证件号码已被其他账号使用或认证" in text(r) and 'id="id_number-error"' in text(r)
    assert snapshot(NEW) == before and identity_snapshot() == identity


def test_a_refused_form_leaves_a_verified_identity_alone(app, login):
    """update_identity runs with the other checks, so its refusal shows with theirs; nothing of it is kept."""
    c, _ = verified(app, login, STAFF_A)
    before, identity = snapshot(STAFF_A), identity_snapshot()
    r = c.post("/profile", data=edit_form(STAFF_A, id_number=resident_id(seq="789"), work_start_date=""),
               content_type="multipart/form-data")
    assert r.status_code == 200 and "请填写从业时间" in text(r)
    assert snapshot(STAFF_A) == before and identity_snapshot() == identity
    taken = decrypt(user_by(STAFF_B).id_number_enc)
    r = c.post("/profile", data=edit_form(STAFF_A, id_number=taken, work_start_date=""),
               content_type="multipart/form-data")
    assert "该证件号码已被其他账号使用或认证" in text(r) and "请填写从业时间" in text(r)
    assert snapshot(STAFF_A) == before and identity_snapshot() == identity
    assert user_by(STAFF_A).identity_status == "verified"


def test_a_new_number_after_a_rejected_verification_starts_over(app, login):
    c = login(STAFF_A)
    assert post_verify(c, number=decrypt(user_by(STAFF_A).id_number_enc)).status_code == 302
    [req] = requests_of(user_by(STAFF_A))
    superuser = user_by(SUPER)
    with app.test_request_context("/"):
        assert verification.reject([req.id], superuser.id, scope_for(superuser), "证件照片不清晰").moved == 1
    r = c.post("/profile", data=edit_form(STAFF_A, title="主任技师", title_level="senior"),
               content_type="multipart/form-data")
    assert r.status_code == 302 and user_by(STAFF_A).identity_status == "rejected"  # same document: unchanged
    r = c.post("/profile", data=edit_form(STAFF_A, id_number=resident_id(seq="789")),
               content_type="multipart/form-data")
    assert r.status_code == 302
    u = user_by(STAFF_A)
    assert u.identity_status == "unverified" and decrypt(u.id_number_enc) == resident_id(seq="789")


def test_rejected_profile_shows_the_reason_and_can_be_resubmitted(login):
    admin = user_by(UNIT_A)
    transition("reject", [profile_of(STAFF_A).id], admin.id, scope_for(admin), reason="证件照片不清晰")
    c = login(STAFF_A)
    html = text(c.get("/me"))
    assert 'data-status="unit_rejected"' in html and "证件照片不清晰" in html and "驳回" in html
    assert 'href="/profile"' in html
    r = c.post("/profile", data=edit_form(STAFF_A), content_type="multipart/form-data")
    assert r.status_code == 302
    assert profile_of(STAFF_A).status == "submitted"
    html = text(c.get("/me"))
    # newest first: the resubmission above the rejection
    assert html.index('data-action="submit"') < html.index('data-action="reject"')


def test_posting_cannot_reach_another_persons_profile(login):
    a = profile_of(STAFF_A)
    before_a = snapshot(STAFF_A)
    c = login(STAFF_B)
    data = edit_form(STAFF_B, title="主任技师", user_id=str(a.user_id), profile_id=str(a.id))
    r = c.post("/profile", data=data, content_type="multipart/form-data")
    assert r.status_code == 302
    assert snapshot(STAFF_A) == before_a and profile_of(STAFF_B).title == "主任技师"
    assert c.post(f"/profile/{a.id}/avatar").status_code in (404, 405)


# ---- avatar route ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("who, status", [
    (STAFF_A, 200), (UNIT_A, 200), (DISTRICT_A, 200), (SUPER, 200), (STAFF_B, 404), (UNIT_B, 404)])
def test_avatar_is_served_only_to_its_owner_and_admins_in_scope(login, who, status):
    a = profile_of(STAFF_A)
    r = login(who).get(f"/profile/{a.id}/avatar")
    assert r.status_code == status
    if status == 200:
        assert r.content_type.startswith("image/") and "private" in r.headers["Cache-Control"]


def test_avatar_needs_sign_in_and_an_existing_profile(client, login):
    a = profile_of(STAFF_A)
    r = client.get(f"/profile/{a.id}/avatar")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert login(SUPER).get("/profile/99999999/avatar").status_code == 404


# ---- personal centre ---------------------------------------------------------------------------------------

def test_me_shows_account_profile_and_history(login):
    c = login(STAFF_A)
    html = text(c.get("/me"))
    assert 'data-status="submitted"' in html and "待审核" in html
    for word in ("张晓明", STAFF_A, UNIT_A_NAME, "审核记录", "修改密码", "编辑档案", "修改账户信息"):
        assert word in html
    u = user_by(STAFF_A)
    assert u.id_number_masked in html and decrypt(u.id_number_enc) not in html


def test_me_works_at_phone_width(login):
    """The page is a single column of Bootstrap grid blocks with the viewport meta (no fixed widths)."""
    html = text(login(STAFF_A).get("/me"))
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in html
    assert "style=\"width" not in html


# ---- properties and catalog -------------------------------------------------------------------------------

@given(st.integers(min_value=-10_000, max_value=10_000))
def test_pcr_years_parser_takes_exactly_whole_numbers_1_to_60(n):
    from admin_app.services.profiles import _parse_pcr_years

    assert _parse_pcr_years(str(n)) == (n if 1 <= n <= 60 else None)
    assert _parse_pcr_years("".join(chr(0xFF10 + int(d)) if d.isdigit() else d for d in str(n))) == \
        (n if 1 <= n <= 60 else None)  # full-width digits as typed on a phone


@given(st.text(max_size=12))
def test_pcr_years_parser_never_fails(raw):
    from admin_app.services.profiles import _parse_pcr_years

    out = _parse_pcr_years(raw)
    assert out is None or 1 <= out <= 60


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=40, deadline=None)
@given(value=st.one_of(st.text(max_size=16), st.dates().map(str)))
def test_profile_form_dates_parse_or_say_so_in_chinese(app, value):
    from admin_app.forms.staff import ProfileForm

    with app.test_request_context("/profile", method="POST", data={"work_start_date": value}):
        form = ProfileForm()
        form.validate()
        if form.work_start_date.errors:
            assert "YYYY-MM-DD" in form.work_start_date.errors[0] and "日期" in form.work_start_date.errors[0]
        else:
            assert form.work_start_date.data is None or str(form.work_start_date.data) == value.strip()


def test_password_inputs_are_masked(client, login):
    for path in ("/login", "/register", "/forgot-password"):
        html = text(client.get(path))
        assert re.search(r'<input[^>]*name="password"[^>]*type="password"', html), path
        assert 'type="None"' not in html
    html = text(login(STAFF_A).get("/password"))
    for name in ("old_password", "password", "password_confirm"):
        assert re.search(rf'<input[^>]*name="{name}"[^>]*type="password"', html)


def test_every_staff_message_has_a_chinese_translation():
    from pathlib import Path

    from babel.messages.extract import extract_from_file

    from admin_app.i18n import KEYWORDS, ROOT, translated_msgids

    files = [ROOT / f for f in ("views/portal.py", "views/auth.py", "views/api.py", "forms/auth.py", "forms/staff.py",
                                "services/sms.py", "services/captcha.py", "services/profiles.py",
                                "services/accounts.py")]
    files += sorted((ROOT / "templates" / "auth").glob("*.html"))
    files += sorted((ROOT / "templates" / "portal").glob("*.html"))
    have = translated_msgids()
    missing = set()
    for path in files:
        method = "jinja2" if Path(path).suffix == ".html" else "python"
        options = {"extensions": "jinja2.ext.i18n"} if method == "jinja2" else {}
        for _line, msg, _comments, _ctx in extract_from_file(method, str(path), keywords=KEYWORDS, options=options):
            for m in (msg if isinstance(msg, tuple) else (msg,)):
                if m and m not in have:
                    missing.add(m)
    assert not missing
