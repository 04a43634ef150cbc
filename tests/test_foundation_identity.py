"""Identity documents: resident ID validation and derived facts, other document formats, PII at rest.

Property tests (hypothesis) generate resident IDs the way the state issues them: a region code in force in
the birth year, a birth date of someone 17 to 99 years old (a worker the registry takes), a sequence number
whose parity is the gender, and the ISO 7064 MOD 11-2 check digit.
"""
import re
from datetime import date, timedelta

import pytest
from cryptography.fernet import InvalidToken
from hypothesis import given, strategies as st
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from stdnum import numdb
from stdnum.cn import ric

from admin_app.extensions import db
from admin_app.models import User
from admin_app.services import clock
from admin_app.services.crypto import blind_index, decrypt, encrypt
from admin_app.services.identity import IdentityError, check_document, check_resident_id, index_for, mask, sealed
from tests.conftest import STAFF_A, STAFF_B

KEY = "dGVzdC1waWkta2V5LXRlc3QtcGlpLWtleS10ZXN0LXA="


def _county_codes_with_start_year() -> list[tuple[str, int]]:
    """Current county-level codes and the year each came into force (1900 when always valid)."""
    out = []
    for _len, prov, _high, _props, children in numdb.get("cn/loc").prefixes:
        for _l, suffix, _h, props, _c in children:
            if suffix.endswith("00"):
                continue
            last = props.get("county", "").split(",")[-1]
            m = re.match(r"^\[(\d*)-(\d*)\]", last)
            if m and m.group(2):
                continue  # retired
            out.append((prov + suffix, int(m.group(1)) if m and m.group(1) else 1900))
    return out


COUNTIES = _county_codes_with_start_year()


def with_check_digit(body: str) -> str:
    """The 17 digits plus their check digit (stdnum's calc_check_digit ignores the last character given)."""
    return body + ric.calc_check_digit(body + "?")


@st.composite
def resident_ids(draw):
    """(number, birth date, gender, region code) of a valid resident ID."""
    year = clock.today().year
    region, start = draw(st.sampled_from([c for c in COUNTIES if c[1] <= year - 17]))
    birth = draw(st.dates(min_value=date(max(start, year - 99), 1, 1), max_value=date(year - 17, 12, 31)))
    seq = draw(st.integers(0, 999))
    body = f"{region}{birth:%Y%m%d}{seq:03d}"
    return with_check_digit(body), birth, "male" if seq % 2 else "female", region


@pytest.fixture(scope="module")
def zh(plain_app):
    """Run code inside a Chinese-locale request (the default locale)."""
    def enter():
        return plain_app.test_request_context("/")
    return enter


# -- resident ID numbers ----------------------------------------------------------------------------------


@given(resident_ids())
def test_a_generated_valid_resident_id_passes_and_gives_gender_and_birth_date(plain_app, case):
    number, birth, gender, region = case
    with plain_app.test_request_context("/"):
        facts = check_resident_id(number)
    assert facts.number == number
    assert facts.birth_date == birth
    assert facts.gender == gender
    assert facts.region_code == region


@given(resident_ids(), st.data())
def test_any_single_digit_change_fails_the_checksum(plain_app, case, data):
    number = case[0]
    pos = data.draw(st.integers(0, 17), label="position")
    alphabet = "0123456789X" if pos == 17 else "0123456789"
    new = data.draw(st.sampled_from([c for c in alphabet if c != number[pos]]), label="replacement")
    changed = number[:pos] + new + number[pos + 1:]
    with plain_app.test_request_context("/"), pytest.raises(IdentityError) as err:
        check_resident_id(changed)
    assert str(err.value) == "身份证号码校验位错误，请核对号码。"


@given(resident_ids())
def test_lower_case_x_spaces_and_full_width_digits_are_normalized(plain_app, case):
    number = case[0]
    typed = " ".join([number[:6], number[6:14], number[14:]]).lower()
    typed = typed.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    with plain_app.test_request_context("/"):
        assert check_resident_id(typed).number == number




def test_a_wrong_check_digit_is_refused_in_chinese(zh):
    good = with_check_digit("11010519491231002")
    wrong = good[:-1] + ("0" if good[-1] != "0" else "1")
    with zh(), pytest.raises(IdentityError, match="校验位错误"):
        check_resident_id(wrong)


def test_a_birth_date_in_the_future_is_refused(zh):
    tomorrow = clock.today() + timedelta(days=1)
    number = with_check_digit(f"110105{tomorrow:%Y%m%d}123")
    with zh(), pytest.raises(IdentityError) as err:
        check_resident_id(number)
    assert str(err.value) == "身份证号码中的出生日期晚于今天。"
    with zh():  # the `today` seam: looking the number up is fine once that day has come
        assert check_resident_id(number, today=tomorrow, lookup=True).birth_date == tomorrow


def test_an_impossible_birth_date_is_refused(zh):
    with zh(), pytest.raises(IdentityError, match="出生日期或地区码无效"):
        check_resident_id(with_check_digit("11010519990231123"))


def test_an_unknown_region_is_refused_in_chinese(zh):
    with zh(), pytest.raises(IdentityError) as err:
        check_resident_id(with_check_digit("99999919800101123"))
    assert str(err.value) == "身份证号码中的出生日期或地区码无效。"


def test_a_region_code_not_yet_in_force_at_birth_is_refused(zh):
    # 110112 (通州区) dates from 1997; 通县 had another code before.
    assert ("110112", 1997) in COUNTIES
    with zh():
        assert check_resident_id(with_check_digit("11011220000101123")).region_code == "110112"
    with zh(), pytest.raises(IdentityError, match="地区码无效"):
        check_resident_id(with_check_digit("11011219800101123"))


@pytest.mark.parametrize("number, message", [
    ("11010519491231002", "居民身份证号码应为 18 位。"),
    ("1101051949123100211", "居民身份证号码应为 18 位。"),
    ("11010519491231A02X", "身份证号码格式不正确。"),
])
def test_wrong_length_and_letters_are_refused_in_chinese(zh, number, message):
    with zh(), pytest.raises(IdentityError) as err:
        check_resident_id(number)
    assert str(err.value) == message


def test_messages_follow_the_chosen_language(plain_app):
    with plain_app.test_request_context("/?lang=en"), pytest.raises(IdentityError) as err:
        check_resident_id("123")
    assert str(err.value) == "A resident ID number has 18 characters."


# -- other documents ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("id_type, number, expected", [
    ("passport", "E12345678", "E12345678"),
    ("passport", "ea1234567", "EA1234567"),
    ("passport", "G 1234 5678", "G12345678"),
    ("hk_macau_pass", "H12345678", "H12345678"),
    ("hk_macau_pass", "m1234567890", "M1234567890"),
    ("taiwan_pass", "12345678", "12345678"),
    ("taiwan_pass", "1234567890B", "1234567890B"),
])
def test_passports_and_permits_in_their_formats_are_accepted(zh, id_type, number, expected):
    with zh():
        assert check_document(id_type, number) == expected


@pytest.mark.parametrize("id_type, number", [
    ("passport", "E12"),
    ("passport", "E1234567$"),
    ("hk_macau_pass", "X12345678"),
    ("hk_macau_pass", "H1234567"),
    ("taiwan_pass", "1234567"),
    ("taiwan_pass", "H12345678"),
])
def test_document_numbers_in_the_wrong_format_are_refused_in_chinese(zh, id_type, number):
    with zh(), pytest.raises(IdentityError) as err:
        check_document(id_type, number)
    assert str(err.value) == "证件号码与所选证件类型的格式不符。"


def test_empty_numbers_and_unknown_document_types_are_refused(zh):
    with zh():
        with pytest.raises(IdentityError, match="请输入证件号码"):
            check_document("passport", "  ")
        with pytest.raises(IdentityError, match="未知的证件类型"):
            check_document("driving_licence", "E12345678")


def test_check_document_validates_resident_ids_fully(zh):
    good = with_check_digit("11010519491231002")
    with zh():
        assert check_document("resident_id", good.lower()) == good
        with pytest.raises(IdentityError, match="校验位"):
            check_document("resident_id", good[:-1] + ("1" if good[-1] == "0" else "0"))


# -- masking ----------------------------------------------------------------------------------------------


def test_a_resident_id_is_masked_as_first_six_and_last_three():
    assert mask("110105194912310654") == "110105*****654"


@given(resident_ids())
def test_a_mask_never_shows_the_birth_date(case):
    number, birth = case[0], case[1]
    masked = mask(number)
    assert re.fullmatch(r"\d{6}\*{5}[\dX]{3}", masked)
    assert f"{birth:%Y%m%d}" not in masked


@pytest.mark.parametrize("number, masked", [("E12345678", "E1*****78"), ("12345678", "12*****78"),
                                            ("H1234567890", "H1*****90"), ("12345", "*****")])
def test_short_documents_show_at_most_a_few_characters(number, masked):
    assert mask(number) == masked


# -- encryption and the blind index -----------------------------------------------------------------------


@given(st.text(min_size=0, max_size=40))
def test_encrypt_decrypt_round_trip(value):
    token = encrypt(value, KEY)
    assert value == decrypt(token, KEY)


def test_encryption_is_randomized_but_the_blind_index_is_stable():
    assert "110105194912310654" not in encrypt("110105194912310654", KEY)
    assert encrypt("110105194912310654", KEY) != encrypt("110105194912310654", KEY)
    assert blind_index("resident_id:110105194912310654", KEY) == blind_index("resident_id:110105194912310654", KEY)


def test_another_key_cannot_decrypt_and_gives_another_index():
    other = "b3RoZXIta2V5LW90aGVyLWtleS1vdGhlci1rZXktb3Q="
    with pytest.raises(InvalidToken):
        decrypt(encrypt("110105194912310654", KEY), other)
    assert blind_index("x", KEY) != blind_index("x", other)


def test_the_blind_index_is_scoped_by_document_type(plain_app):
    with plain_app.app_context():
        assert index_for("passport", "12345678") != index_for("taiwan_pass", "12345678")
        assert index_for("passport", "e1234 5678") == index_for("passport", "E12345678")


def test_sealed_values_hold_ciphertext_index_and_mask_never_the_number(plain_app):
    number = with_check_digit("11010519491231065")
    assert ric.is_valid(number)
    with plain_app.test_request_context("/"):
        cols = sealed("resident_id", number)
        assert cols["id_type"] == "resident_id"
        assert decrypt(cols["id_number_enc"]) == number
        assert cols["id_number_index"] == index_for("resident_id", number)
        assert cols["id_number_masked"] == "110105*****65" + number[-1]
        assert number not in repr(cols).replace(repr(cols["id_number_enc"]), "")
        with pytest.raises(IdentityError):
            sealed("resident_id", number[:-1] + "0")


def test_pii_needs_a_configured_key(plain_app):
    with plain_app.app_context():
        key = plain_app.config["PII_KEY"]
        plain_app.config["PII_KEY"] = None
        try:
            with pytest.raises(RuntimeError):
                encrypt("x")
        finally:
            plain_app.config["PII_KEY"] = key


# -- the database keeps one account per person ------------------------------------------------------------


def test_the_same_identity_cannot_belong_to_two_accounts(app):
    a = db.session.scalar(select(User).where(User.phone == STAFF_A))
    b = db.session.scalar(select(User).where(User.phone == STAFF_B))
    b.id_type, b.id_number_index = a.id_type, a.id_number_index
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_the_same_number_under_another_document_type_is_another_identity(app):
    a = db.session.scalar(select(User).where(User.phone == STAFF_A))
    b = db.session.scalar(select(User).where(User.phone == STAFF_B))
    b.id_type, b.id_number_index = "passport", a.id_number_index
    db.session.commit()
    assert b.id_number_index == a.id_number_index


def test_a_phone_number_cannot_be_registered_twice(app):
    db.session.add(User(phone=STAFF_A, password_hash="x", name="重复"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    assert db.session.scalar(select(db.func.count()).select_from(User).where(User.phone == STAFF_A)) == 1


def test_demo_identities_decrypt_to_valid_numbers_matching_their_mask_and_index(app):
    users = db.session.scalars(select(User).where(User.id_number_enc.is_not(None)).limit(50)).all()
    assert users
    for u in users:
        number = decrypt(u.id_number_enc)
        assert ric.is_valid(number)
        assert u.id_number_masked == mask(number)
        assert u.id_number_index == index_for(u.id_type, number)


def test_identity_module_has_no_plaintext_columns():
    """Nothing but the ciphertext, the index and the mask of a number is ever stored."""
    cols = {c.name for c in User.__table__.columns}
    assert {"id_number_enc", "id_number_index", "id_number_masked"} <= cols
    assert not {"id_number", "id_card", "identity_number"} & cols
