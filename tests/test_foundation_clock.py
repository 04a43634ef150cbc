"""The registry's calendar is Beijing's: today, a timestamp's day, ages and years of practice."""
from datetime import date, datetime

import pytest

from admin_app.services import clock


@pytest.mark.parametrize("utc, day", [
    (datetime(2026, 12, 1, 15, 59), date(2026, 12, 1)),
    (datetime(2026, 12, 1, 16, 0), date(2026, 12, 2)),   # midnight in Beijing
    (datetime(2026, 12, 31, 23, 30), date(2027, 1, 1)),
])
def test_a_timestamp_falls_on_its_beijing_day(app, utc, day):
    assert clock.local_day(utc) == day


def test_today_follows_the_configured_timezone_not_the_server(app, monkeypatch):
    monkeypatch.setattr(clock, "utcnow", lambda: datetime(2026, 12, 1, 20, 0))
    assert clock.today() == date(2026, 12, 2)
    app.config["BABEL_DEFAULT_TIMEZONE"] = "UTC"
    assert clock.today() == date(2026, 12, 1)


@pytest.mark.parametrize("start, on, age, practice", [
    (date(1990, 3, 7), date(2026, 3, 6), 35, 36),
    (date(1990, 3, 7), date(2026, 3, 7), 36, 36),   # on the anniversary a year is complete, not begun
    (date(2020, 7, 1), date(2020, 11, 1), 0, 1),     # every begun year of practice counts
    (date(2024, 2, 29), date(2025, 2, 28), 0, 1),
    (date(2027, 1, 1), date(2026, 12, 1), -1, 0),    # a start in the future counts no practice
])
def test_ages_count_whole_years_and_practice_counts_begun_years(start, on, age, practice):
    assert clock.years_since(start, on) == age
    assert clock.practice_years(start, on) == practice


def test_no_start_date_gives_no_figure():
    assert clock.years_since(None) is None and clock.practice_years(None) is None


def test_a_timestamp_is_written_in_beijing_time(app):
    assert clock.local_text(datetime(2026, 12, 1, 16, 5, 9)) == "2026-12-02 00:05"
    assert clock.local_text(datetime(2026, 12, 1, 16, 5, 9), "%Y-%m-%d %H:%M:%S") == "2026-12-02 00:05:09"
    assert clock.local_text(None) == ""
