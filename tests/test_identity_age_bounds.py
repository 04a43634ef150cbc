"""Birth dates a worker can have (issue 29): an ID holder is 16 to 100 today, work starts on or after the 16th
birthday and not after today (Beijing). One rule in services/identity.py; the profile and /verify forms show it."""
from datetime import date, timedelta

import pytest

from admin_app.services import clock
from admin_app.services.identity import (
    IdentityError,
    check_birth_date,
    check_document,
    check_resident_id,
    check_work_start,
)
from tests import test_staff_portal as portal
from tests.conftest import STAFF_A
from tests.test_identity_helpers import form, snapshot, staff_client, text_of, with_check
from tests.test_staff_portal import NEW, post_profile, profile_of, resident_id, text

newcomer = portal.newcomer  # the fixture: a signed-in staff member without a profile


def years_before(day: date, years: int) -> date:
    """The same calendar day `years` earlier (29 February: the 28th)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def born_aged(age: int, today: date) -> date:
    """The birth date of someone who turns `age` today."""
    return years_before(today, age)


def turning_tomorrow(age: int, today: date) -> date:
    """The birth date of someone who turns `age` tomorrow (so is age - 1 today)."""
    return years_before(today, age) + timedelta(days=1)


@pytest.fixture
def zh(plain_app):
    with plain_app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        yield plain_app


TODAY = date(2026, 12, 7)


@pytest.mark.parametrize("birth, ok", [
    (born_aged(16, TODAY), True),                        # 16 today
    (turning_tomorrow(16, TODAY), False),  # 15, sixteen tomorrow
    (turning_tomorrow(101, TODAY), True),  # 100, 101 tomorrow
    (born_aged(101, TODAY), False),                      # 101 today
    (TODAY, False),                                       # born today
    (TODAY + timedelta(days=1), False),                  # born tomorrow
])
def test_a_resident_id_holder_is_16_to_100_years_old_today(zh, birth, ok):
    number = resident_id(birth=birth)
    if ok:
        assert check_resident_id(number, today=TODAY).birth_date == birth
    else:
        with pytest.raises(IdentityError) as err:
            check_resident_id(number, today=TODAY)
        assert "出生日期" in str(err.value)


def test_the_message_says_the_age_and_the_bounds_in_chinese(zh):
    with pytest.raises(IdentityError) as err:
        check_resident_id(with_check("11010518000101123"), today=TODAY)
    assert str(err.value) == ("按身份证号码中的出生日期（1800-01-01），持证人现年 226 岁，"
                              "从业人员应在 16 至 100 周岁之间，请核对号码。")


def test_the_bounds_come_from_the_config(zh):
    zh.config.update(ID_MIN_AGE=18, ID_MAX_AGE=65)
    try:
        with pytest.raises(IdentityError, match="18 至 65"):
            check_birth_date(born_aged(17, TODAY), TODAY)
        with pytest.raises(IdentityError, match="18 至 65"):
            check_birth_date(born_aged(66, TODAY), TODAY)
        check_birth_date(born_aged(18, TODAY), TODAY)
    finally:
        zh.config.update(ID_MIN_AGE=16, ID_MAX_AGE=100)


def test_a_lookup_still_finds_a_worker_on_file_past_the_bounds(zh):
    # Searching or authorizing by a number on file: someone registered at 100 stays findable at 101.
    number = resident_id(birth=born_aged(101, clock.today()))
    assert check_document("resident_id", number, lookup=True) == number
    with pytest.raises(IdentityError):
        check_document("resident_id", number)


BIRTH = date(1990, 3, 7)


@pytest.mark.parametrize("start, ok", [
    (date(2006, 3, 7), True),    # the 16th birthday
    (date(2006, 3, 6), False),   # the day before it
    (TODAY, True),               # today
    (TODAY + timedelta(days=1), False),  # tomorrow
])
def test_work_starts_on_or_after_the_16th_birthday_and_not_after_today(zh, start, ok):
    if ok:
        check_work_start(start, BIRTH, TODAY)
    else:
        with pytest.raises(IdentityError, match="从业时间不能"):
            check_work_start(start, BIRTH, TODAY)


def test_born_on_29_february_comes_of_working_age_on_1_march_of_a_common_year(zh):
    zh.config.update(ID_MIN_AGE=18)  # 16 years after a leap year is a leap year again
    try:
        check_work_start(date(2018, 3, 1), date(2000, 2, 29), TODAY)
        with pytest.raises(IdentityError, match="年满 18 周岁之日（2018-03-01）"):
            check_work_start(date(2018, 2, 28), date(2000, 2, 29), TODAY)
    finally:
        zh.config.update(ID_MIN_AGE=16)


# ---- the forms that take an ID use the rule -----------------------------------------------------------------

def test_the_profile_form_refuses_an_id_of_a_15_year_old_on_the_field(newcomer):
    young = resident_id(birth=turning_tomorrow(16, clock.today()))
    r = post_profile(newcomer, id_number=young, work_start_date=clock.today().isoformat())
    html = text(r)
    assert r.status_code == 200 and "持证人现年 15 岁" in html and 'id="id_number-error"' in html
    assert profile_of(NEW) is None


def test_the_profile_form_takes_a_100_year_old_and_refuses_a_work_start_before_16(newcomer):
    old = resident_id(birth=turning_tomorrow(101, clock.today()))
    birth = turning_tomorrow(101, clock.today())
    too_early = (turning_tomorrow(85, clock.today()) - timedelta(days=1)).isoformat()
    r = post_profile(newcomer, id_number=old, work_start_date=too_early)
    html = text(r)
    assert r.status_code == 200 and "从业时间不能早于年满 16 周岁之日" in html and 'id="work_start_date-error"' in html
    assert profile_of(NEW) is None
    r = post_profile(newcomer, id_number=old, work_start_date=birth.replace(year=birth.year + 20).isoformat())
    assert r.status_code == 302, text(r)[-2000:]
    assert profile_of(NEW).birth_date == birth


def test_the_profile_form_refuses_a_typed_birth_date_of_a_101_year_old(newcomer):
    r = post_profile(newcomer, id_type="passport", id_number="E12345678", gender="male",
                     birth_date=born_aged(101, clock.today()).isoformat())
    html = text(r)
    assert r.status_code == 200 and "您现年 101 岁" in html and 'id="birth_date-error"' in html


def test_verification_refuses_an_id_born_today(app):
    staff = staff_client(app, STAFF_A)
    before = snapshot()
    number = resident_id(birth=clock.today())
    resp = staff.post("/verify", data=form(id_type="resident_id", number=number) | {"id_number": number},
                      content_type="multipart/form-data")
    html = text_of(resp)
    assert resp.status_code == 200 and "持证人现年 0 岁" in html and 'id="id_number-error"' in html
    assert snapshot() == before
