"""The registry's calendar: 'today' and a timestamp's day are those of the configured timezone, not the server's.

Users are in China (BABEL_DEFAULT_TIMEZONE, Asia/Shanghai) while servers usually run on UTC: from 00:00 to 08:00
Beijing time the server's date.today() is still yesterday, so a date entered as "today" would be refused as lying
in the future. Every rule that compares with today asks this module.
"""
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, g, has_app_context, has_request_context
from flask_babel import get_timezone

from ..models.types import utcnow

DEFAULT_TZ = "Asia/Shanghai"
# The days the registry deals in (birth dates, report days, filter ranges). A day outside them is refused where it
# is entered (services.bounds); inside them a local day always has UTC bounds datetime can hold.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2100, 12, 31)


def utc_offset_minutes() -> int:
    """The configured timezone's current UTC offset in minutes (Asia/Shanghai: +480, no DST)."""
    name = current_app.config.get("BABEL_DEFAULT_TIMEZONE", DEFAULT_TZ) if has_app_context() else DEFAULT_TZ
    offset = datetime.now(ZoneInfo(name)).utcoffset() or timedelta(0)
    return int(offset.total_seconds() // 60)


def local_day(utc_naive: datetime | None) -> date | None:
    """The local calendar day of a naive UTC timestamp (the same rule counters.day_expr applies in SQL)."""
    if utc_naive is None:
        return None
    return (utc_naive + timedelta(minutes=utc_offset_minutes())).date()


def utc_range(start: date, end: date, tz=None) -> tuple[datetime, datetime]:
    """Naive UTC [from, to) covering the local days start..end, both included (the grids' date filters)."""
    if not FIRST_DAY <= start <= LAST_DAY or not FIRST_DAY <= end <= LAST_DAY:
        raise ValueError(f"days outside {FIRST_DAY}..{LAST_DAY}: {start}, {end}")
    tz = tz or get_timezone()

    def utc(day: date) -> datetime:
        local = datetime.combine(day, time.min)
        # pytz zones need localize(); attaching them with tzinfo= picks the zone's historic LMT offset.
        local = tz.localize(local) if hasattr(tz, "localize") else local.replace(tzinfo=tz)
        return local.astimezone(UTC).replace(tzinfo=None)

    return utc(start), utc(end + timedelta(days=1))


def today() -> date:
    """Today's date in the configured timezone."""
    return local_day(utcnow())


def local_text(utc_naive, fmt: str = "%Y-%m-%d %H:%M", tz=None) -> str:
    """A naive UTC timestamp as text in the configured timezone ('' for none); the same in every language."""
    if not isinstance(utc_naive, datetime):
        return ""
    if tz is None:
        # Grids format a timestamp per cell: look the timezone up once per request.
        if not has_request_context():
            tz = get_timezone()
        elif "hwr_tz" in g:
            tz = g.hwr_tz
        else:
            tz = g.hwr_tz = get_timezone()
    return utc_naive.replace(tzinfo=UTC).astimezone(tz).strftime(fmt)


def years_since(start: date | None, on: date | None = None) -> int | None:
    """Whole years from `start` to `on` (default today): an age."""
    if start is None:
        return None
    on = on or today()
    return on.year - start.year - ((on.month, on.day) < (start.month, start.day))


def practice_years(start: date | None, on: date | None = None) -> int | None:
    """Years of practice as the original system counts them: every begun year counts (2020-07 → 2020-11: 1)."""
    if start is None:
        return None
    on = on or today()
    if start > on:
        return 0
    full = years_since(start, on)
    anniversary = (on.month, on.day) == (start.month, start.day)
    return full if anniversary and full > 0 else full + 1


def local_day_start_utc(day: date | None = None) -> datetime:
    """The naive UTC moment the local day (today by default) began: the lower bound of "today" in queries."""
    start = datetime.combine(day or today(), datetime.min.time())
    return start - timedelta(minutes=utc_offset_minutes())
