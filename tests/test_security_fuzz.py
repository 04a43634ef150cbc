"""Hypothesis fuzzing of every form through the test client: never a 500, never a partial write.

Each form gets one app (a fresh demo copy) and N generated submissions: random text of every script, hostile
payloads (XSS, SQL, formula, path, template), numbers at the edges, invisible characters, real-looking
values and random files. After each submission the invariants are checked: the status is below 500, and a
refused submission (anything but a redirect or a JSON ok) changed no row count (the audit log and the SMS
code table aside, which record refusals on purpose), left no stray upload file and did not touch the rows
the form is about. The number of cases per form is printed and written to tests/artifacts.

HWR_FUZZ_SCALE (default 1.0) scales the number of cases; the default run fuzzes more than 10,000 cases.
"""
import io
import os
from pathlib import Path

import pytest
from flask import current_app
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image
from sqlalchemy import inspect, select

from admin_app.extensions import db
from admin_app.models import IdentityVerification, Institution, InstitutionApplication, StaffProfile, User
from tests.conftest import DEMO_PASSWORD, DISTRICT_A, STAFF_A, STAFF_B, SUPER, UNIT_A
from tests.test_identity_helpers import resident_id
from tests.test_registry_support import HOSPITAL_A_NAME, uscc_for
from tests.test_security_support import record_figures, sign_in
from tests.test_staff_portal import edit_form

SCALE = float(os.environ.get("HWR_FUZZ_SCALE", "1") or 1)
PER_FORM = max(5, int(720 * SCALE))
FIGURES: dict = {}

HOSTILE = (
    "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "'", "\\", "%", "_", "--", "' OR '1'='1",
    "'; DROP TABLE user; --", "=HYPERLINK(\"http://x\")", "+1", "-1", "@SUM(1)", "{{7*7}}", "${7*7}",
    "../../etc/passwd", "%00", "\x00", "\r\n", "\u200b", "\u202e", "\ufeff", "１３８０００００００１",
    "１１０１０１１９９００５１７１２３Ｘ", "𠀀𠀁",
    "ｘ" * 40, "9" * 40, "0", "-0", "1e309", "NaN", "2147483648", "-2147483649", "99999999999999999999", " " * 200,
    "a" * 5000, "张三", "Nguyễn", "Иван", "null", "true", "[]", "{}",
)
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=60)
DIGITS = st.text(alphabet="0123456789０１２３", max_size=20)


def value(*real) -> st.SearchStrategy:
    """A field value: random text, a hostile string, digits, empty, or one of the real-looking values."""
    options = [TEXT, st.sampled_from(HOSTILE), DIGITS, st.just("")]
    if real:
        options.append(st.sampled_from(real))
    return st.one_of(*options)


def maybe(strategy) -> st.SearchStrategy:
    """Sometimes the field is left out of the post altogether."""
    return st.one_of(st.none(), strategy)


def png_bytes(size=(40, 50)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 30)).save(out, "PNG")
    return out.getvalue()


FILES = st.one_of(st.none(), st.binary(max_size=2000), st.just(png_bytes()),
                  st.just(png_bytes()[:60]), st.just(b"GIF89a" + b"\x00" * 50), st.just(b"%PDF-1.4\n"))


# --------------------------------------------------------------------------------------------- invariants

class Invariants:
    """Row counts, upload files and a per-form snapshot that a refused submission must leave unchanged."""

    IGNORED = {"audit_log", "sms_code", "alembic_version"}

    def __init__(self, snapshot=None):
        self.tables = [t for t in inspect(db.engine).get_table_names() if t not in self.IGNORED]
        self.snapshot = snapshot or (lambda: None)

    def state(self):
        from sqlalchemy import func, table

        counts = {t: db.session.scalar(select(func.count()).select_from(table(t))) for t in self.tables}
        folder = Path(current_app.config["UPLOAD_FOLDER"])
        files = sorted(str(p) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []
        db.session.expire_all()
        return counts, files, self.snapshot()


def _encode(data: dict) -> dict:
    out = {}
    for k, v in data.items():
        if v is None:
            continue
        if isinstance(v, bytes):
            out[k] = (io.BytesIO(v), "upload.png")
        else:
            out[k] = v
    return out


def fuzz(name: str, client, url: str, strategy, *, snapshot=None, multipart=False, method="POST",
         success=None, examples=PER_FORM):
    """Post `examples` generated bodies to `url` and check the invariants after each."""
    inv = Invariants(snapshot)
    seen = {"cases": 0, "refused": 0, "accepted": 0, "statuses": {}}

    def accepted(resp) -> bool:
        if success is not None:
            return success(resp)
        if resp.status_code in (301, 302, 303):
            return True
        if resp.mimetype == "application/json" and resp.status_code == 200:
            return bool((resp.get_json(silent=True) or {}).get("ok", True))
        return False

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.data_too_large, HealthCheck.filter_too_much])
    @given(data=strategy)
    def run(data):
        before = inv.state()
        if method == "GET":
            resp = client.get(url, query_string={k: v for k, v in data.items() if v is not None})
        elif multipart:
            resp = client.post(url, data=_encode(data), content_type="multipart/form-data")
        elif isinstance(data, dict) and data.get("__json__"):
            body = {k: v for k, v in data.items() if k != "__json__" and v is not None}
            resp = client.post(url, json=body)
        else:
            resp = client.post(url, data={k: v for k, v in data.items() if v is not None})
        seen["cases"] += 1
        seen["statuses"][resp.status_code] = seen["statuses"].get(resp.status_code, 0) + 1
        assert resp.status_code < 500, (url, data, resp.get_data(as_text=True)[:500])
        if accepted(resp):
            seen["accepted"] += 1
            return
        seen["refused"] += 1
        after = inv.state()
        assert after[0] == before[0], ("row counts changed on a refused post", url, data,
                                      {t: (before[0][t], after[0][t])
                                       for t in before[0] if before[0][t] != after[0][t]})
        assert after[1] == before[1], ("upload files changed on a refused post", url, data)
        assert after[2] == before[2], ("the form's rows changed on a refused post", url, data)

    run()
    FIGURES[name] = seen["cases"]
    assert seen["cases"] >= min(examples, 5)
    return seen


def profile_row(phone):
    def snap():
        p = db.session.scalar(select(StaffProfile).where(StaffProfile.phone == phone))
        u = db.session.scalar(select(User).where(User.phone == phone))
        return (p.version, p.status, p.title, p.position, p.department, p.avatar, p.education, p.pcr_years,
                u.id_number_index, u.name, u.email, u.institution_id, u.region_code, u.department) if p else None
    return snap


def user_row(phone):
    def snap():
        u = db.session.scalar(select(User).where(User.phone == phone))
        return (u.password_hash, u.name, u.email, u.institution_id, u.department, u.identity_status)
    return snap


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    if FIGURES:
        record_figures("fuzz cases per form", {**FIGURES, "total": sum(FIGURES.values())})


# ------------------------------------------------------------------------------------------------- forms

PHONES = ("13800000010", "13912345678", "+86 139 1234 5678", "138-0000-0010", "12345678901", "1380000001")
PASSWORDS = (DEMO_PASSWORD, "Abc12345", "abcdefgh", "12345678", "Ab1", "A" * 129 + "1")


def test_fuzz_register(app, capsys):
    strategy = st.fixed_dictionaries({
        "name": maybe(value("张三", "Nguyễn Văn An")), "phone": maybe(value(*PHONES)),
        "password": maybe(value(*PASSWORDS)), "password_confirm": maybe(value(*PASSWORDS)),
        "sms_code": maybe(value("123456", "１２３４５６")), "action": maybe(st.sampled_from(["send_code", "x"]))})
    fuzz("register", app.test_client(), "/register", strategy)


def test_fuzz_login(app):
    strategy = st.fixed_dictionaries({
        "phone": maybe(value(*PHONES, STAFF_B)), "password": maybe(value(*PASSWORDS)),
        "captcha": maybe(value("ABCD"))})
    fuzz("login", app.test_client(), "/login", strategy, success=lambda r: False if r.status_code == 200 else
         r.status_code == 302)


def test_fuzz_forgot_password(app):
    strategy = st.fixed_dictionaries({
        "phone": maybe(value(*PHONES)), "sms_code": maybe(value("123456")),
        "password": maybe(value(*PASSWORDS)), "password_confirm": maybe(value(*PASSWORDS)),
        "action": maybe(st.sampled_from(["send_code", ""]))})
    fuzz("forgot-password", app.test_client(), "/forgot-password", strategy, snapshot=user_row(STAFF_A))


def test_fuzz_account(app):
    inst_id = str(db.session.scalar(select(StaffProfile.institution_id).where(StaffProfile.phone == STAFF_A)))
    strategy = st.fixed_dictionaries({
        "name": maybe(value("张晓明")), "email": maybe(value("a@b.cn", "x@y", "@.")),
        "province": maybe(value("110000", "440000")), "city": maybe(value("110100")),
        "region_code": maybe(value("110102", "999999")), "institution_q": maybe(value("bjxc", "疾控")),
        "institution_id": maybe(value(inst_id, "1", "-1", "0")), "confirmation_code": maybe(value("DEMA2345")),
        "department": maybe(value("检验科")), "action": maybe(st.sampled_from(["save", "search", "refresh", "x"]))})
    fuzz("account", sign_in(app, STAFF_A), "/account", strategy, snapshot=profile_row(STAFF_A))


def test_fuzz_profile(app):
    base = edit_form(STAFF_A)
    base.pop("avatar", None)
    keys = ["id_type", "id_number", "gender", "birth_date", "personnel_type", "education", "title_level", "title",
            "position", "work_start_date", "pcr_years", "version", "doing_pcr", "pcr_training"]
    real = {"id_type": ("resident_id", "passport", "hk_macau_pass", "x"),
            "id_number": (resident_id(seq=901), "E12345678"),
            "birth_date": ("1990-01-01", "2990-01-01", "1990-02-30"), "work_start_date": ("2015-07-01", "1800-01-01"),
            "personnel_type": ("sampling", "testing", "both"), "version": (base["version"], "0", "-1"),
            "pcr_years": ("3", "0", "-2", "100000000"), "education": ("bachelor",), "gender": ("male", "female")}

    @st.composite
    def bodies(draw):
        data = dict(base)
        for k in draw(st.lists(st.sampled_from(keys), max_size=4, unique=True)):
            data[k] = draw(maybe(value(*real.get(k, ("yes", "no")))))
        data["avatar"] = draw(FILES)
        return data

    fuzz("profile", sign_in(app, STAFF_A), "/profile", bodies(), multipart=True, snapshot=profile_row(STAFF_A))


def test_fuzz_password(app):
    strategy = st.fixed_dictionaries({
        "old_password": maybe(value(DEMO_PASSWORD)), "password": maybe(value(*PASSWORDS)),
        "password_confirm": maybe(value(*PASSWORDS))})
    fuzz("password", sign_in(app, STAFF_A), "/password", strategy, snapshot=user_row(STAFF_A))


def test_fuzz_verify(app):
    strategy = st.fixed_dictionaries({
        "id_type": maybe(value("resident_id", "passport", "hk_macau_pass", "taiwan_pass")),
        "name": maybe(value("李晓红")), "id_number": maybe(value(resident_id(seq=902), "E12345678", "H12345678")),
        "front_image": FILES, "back_image": FILES})

    def snap():
        return db.session.execute(select(IdentityVerification.id, IdentityVerification.status)
                                  .order_by(IdentityVerification.id)).all()
    fuzz("verify", sign_in(app, STAFF_B), "/verify", strategy, multipart=True, snapshot=snap)


def test_fuzz_institution_apply(app):
    parent = str(db.session.scalar(select(Institution.id).where(Institution.name == HOSPITAL_A_NAME)))
    strategy = st.fixed_dictionaries({
        "name": maybe(value("某某社区卫生服务站")), "uscc": maybe(value(uscc_for(77), "91110000000000000X")),
        "parent_q": maybe(value("bjxc")), "parent_id": maybe(value(parent, "0", "-5")),
        "category": maybe(value("primary_care", "other")), "province": maybe(value("110000")),
        "city": maybe(value("110100")), "county": maybe(value("110102")), "address": maybe(value("西城区1号")),
        "contact_name": maybe(value("王五")), "contact_phone": maybe(value(*PHONES)),
        "sms_code": maybe(value("123456")), "agree": maybe(value("y")),
        "find_parent": maybe(st.just("1")), "refresh": maybe(st.just("1")), "send_sms": maybe(st.just("1"))})

    def snap():
        return db.session.execute(select(InstitutionApplication.id, InstitutionApplication.status)).all()
    fuzz("institutions/apply", app.test_client(), "/institutions/apply", strategy, snapshot=snap)


def test_fuzz_institution_status(app):
    strategy = st.fixed_dictionaries({
        "mode": maybe(value("phone", "name")), "phone": maybe(value(*PHONES)), "sms_code": maybe(value("123456")),
        "parent_q": maybe(value("bjxc")), "parent_id": maybe(value("1", "2")),
        "name": maybe(value("北京市西城区人民医院")),
        "send_sms": maybe(st.just("1")), "find_parent": maybe(st.just("1"))})
    fuzz("institutions/status", app.test_client(), "/institutions/status", strategy,
         success=lambda r: r.status_code in (200, 302))


def test_fuzz_grants_bind(app):
    strategy = st.fixed_dictionaries({
        "code": maybe(value("ABCDEFGH", "abcd efgh", "12345678")), "password": maybe(value(DEMO_PASSWORD)),
        "sms_code": maybe(value("123456")), "send_sms": maybe(st.just("1"))})

    from admin_app.models import AdminGrant

    def snap():
        return db.session.execute(select(AdminGrant.id, AdminGrant.state, AdminGrant.user_id)
                                  .order_by(AdminGrant.id)).all()
    fuzz("grants/bind", sign_in(app, UNIT_A), "/grants/bind", strategy, snapshot=snap)


def test_fuzz_sms_send(app):
    app.config.update(SMS_RESEND_COOLDOWN=0, SMS_DAILY_CAP_PER_PHONE=100_000, SMS_HOURLY_CAP_PER_IP=100_000)
    strategy = st.fixed_dictionaries({
        "phone": maybe(value(*PHONES)), "purpose": maybe(value("register", "reset_password", "step_up", "institution")),
        "__json__": st.booleans()})
    fuzz("sms/send", app.test_client(), "/sms/send", strategy)


def _ids_strategy(real):
    return st.lists(value(*[str(i) for i in real]), max_size=4)


def test_fuzz_admin_staff_action(app):
    ids = db.session.scalars(select(StaffProfile.id).where(StaffProfile.status == "submitted").limit(5)).all()
    strategy = st.fixed_dictionaries({
        "action": maybe(value("approve", "reject", "revert")), "rowid": _ids_strategy(ids),
        "reason": maybe(value("证件照片不清晰")), "reason_step": maybe(st.just("1")),
        "select_all": maybe(value("1")), "version": maybe(value("1", "2"))})

    def snap():
        return db.session.execute(select(StaffProfile.id, StaffProfile.status, StaffProfile.version)
                                  .where(StaffProfile.id.in_(ids))).all()
    fuzz("admin staff action (reason)", sign_in(app, UNIT_A), "/admin/staff/action/", strategy, snapshot=snap)


def test_fuzz_admin_application_and_verification_actions(app):
    db.session.add(InstitutionApplication(name="测试卫生站", uscc=uscc_for(88), parent_id=db.session.scalar(
        select(Institution.id).where(Institution.name == HOSPITAL_A_NAME)), category="other", region_code="110102",
        address="地址", contact_name="联系人", contact_phone="13900000088"))
    db.session.commit()
    app_ids = db.session.scalars(select(InstitutionApplication.id)).all()
    strategy = st.fixed_dictionaries({
        "action": maybe(value("approve", "reject")), "rowid": _ids_strategy(app_ids),
        "reason": maybe(value("资料不全"))})

    def snap():
        return db.session.execute(select(InstitutionApplication.id, InstitutionApplication.status)).all()
    officer = sign_in(app, DISTRICT_A)
    fuzz("admin application action (reason)", officer, "/admin/application/action/", strategy, snapshot=snap,
         examples=PER_FORM // 2)
    strategy = st.fixed_dictionaries({
        "action": maybe(value("approve", "reject")), "rowid": _ids_strategy([1, 2]),
        "reason": maybe(value("照片模糊")), "url": maybe(value("/admin/verification/", "//evil.example/"))})

    def snap_v():
        return db.session.execute(select(IdentityVerification.id, IdentityVerification.status)).all()
    fuzz("admin verification action (reason)", sign_in(app, SUPER), "/admin/verification/action/", strategy,
         snapshot=snap_v, examples=PER_FORM // 2)


def test_fuzz_admin_institution_edit_and_authorize(app):
    unit_id = db.session.scalar(select(User.institution_id).where(User.phone == UNIT_A))
    strategy = st.fixed_dictionaries({
        "name": maybe(value("北京市西城区疾病预防控制中心")), "category": maybe(value("cdc", "other")),
        "address": maybe(value("西城区"))})

    def snap():
        return db.session.execute(select(Institution.id, Institution.name, Institution.path)
                                  .order_by(Institution.id)).all()
    unit = sign_in(app, UNIT_A)
    fuzz("admin institution edit", unit, f"/admin/institution/edit/?id={unit_id}", strategy,
         snapshot=None, examples=PER_FORM // 2)
    child = db.session.scalar(select(Institution.id).where(Institution.name == HOSPITAL_A_NAME))
    strategy = st.fixed_dictionaries({
        "id_type": maybe(value("resident_id", "passport")), "id_number": maybe(value(resident_id(seq=903))),
        "password": maybe(value(DEMO_PASSWORD)), "sms_code": maybe(value("123456")), "send_sms": maybe(st.just("1"))})
    from admin_app.models import AdminGrant

    def snap_g():
        return db.session.execute(select(AdminGrant.id, AdminGrant.state).order_by(AdminGrant.id)).all()
    fuzz("admin grant authorize", sign_in(app, DISTRICT_A), f"/admin/grant/authorize/?id={child}", strategy,
         snapshot=snap_g, examples=PER_FORM // 2)
    assert snap  # the institution edit is checked by the status invariant (its refusals re-render)


def test_fuzz_grid_search_and_filters(app):
    strategy = st.fixed_dictionaries({
        "search": maybe(value(STAFF_A, "张", "110101")), "sort": maybe(value("0", "1", "99")),
        "desc": maybe(value("1")), "page": maybe(value("0", "1", "100000", "-1")),
        "page_size": maybe(value("20", "1000", "0", "100000")), "flt0_0": maybe(value("submitted", "reported")),
        "flt1_1": maybe(value("sampling")), "flt2_5": maybe(value("2024-01-01 to 2024-12-31", "x to y"))})
    fuzz("admin staff grid search", sign_in(app, DISTRICT_A), "/admin/staff/", strategy, method="GET",
         success=lambda r: True, examples=PER_FORM // 2)
    strategy = st.fixed_dictionaries({"q": maybe(value("bjxc", "疾控")), "parent": maybe(value("1", "110000")),
                                      "page": maybe(value("1", "0", "99999999999"))})
    fuzz("public institution search", app.test_client(), "/institutions/search", strategy, method="GET",
         success=lambda r: True, examples=PER_FORM // 2)


def test_fuzz_figures_are_reported(capsys):
    """Runs last in this module: prints the cases per form (also written to tests/artifacts)."""
    if FIGURES:
        record_figures("fuzz cases per form", {**FIGURES, "total": sum(FIGURES.values())}, capsys)
        if SCALE >= 1:
            assert sum(FIGURES.values()) >= 10_000
