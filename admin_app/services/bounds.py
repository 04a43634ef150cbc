"""What a request may ask of the database or of a response header: the bounds every grid, export and search box obeys.

A query string or form is untrusted and unbounded. Each condition a filter adds is another node of one SQL
statement (SQLite refuses past a depth of 1,000), a page number becomes an OFFSET (SQLite binds at most 2**63 - 1),
a search term becomes a LIKE pattern (SQLite refuses past 50,000 bytes), a day at the calendar's edge overflows
when turned into UTC bounds, and a return address ends up in a Location header. The rules here decide, once, what
is kept, what is cut and what is refused with a message; views/base.py hands Flask-Admin's arguments through them
before any grid, export or export job reads them, and the portal's search boxes call query_text.
"""
from datetime import date, datetime
from urllib.parse import urlsplit

from flask import current_app, has_app_context
from flask_babel import gettext as _

from . import ServiceError
from .clock import FIRST_DAY as DATE_MIN, LAST_DAY as DATE_MAX
from .search import TERMS_MAX

QUERY_TEXT_MAX = 64  # a search box of the portal or the registry (unit, supervising institution)
ARG_KEY_MAX = 64  # longer argument names are nobody's
MESSAGES_MAX = 5  # flashed messages live in the session cookie: a few say enough
ARGS_MAX = 200  # arguments of one query string looked at; the rest are ignored
RESERVED = ("page", "page_size", "sort", "desc", "search", "offset", "limit")  # kept once, bounded

# Config keys (FLASK_<KEY>) and their defaults.
DEFAULTS = {
    "GRID_MAX_FILTERS": 20,  # distinct filters applied at once
    "GRID_SEARCH_MAX_CHARS": 100,  # a grid's search text
    "GRID_MAX_PAGE": 100_000,  # page numbers are bounded (the keyset pager reaches further on the staff grid)
    "GRID_ARG_MAX_CHARS": 500,  # one filter value or other argument
    "RETURN_URL_MAX": 2048,  # a return address (`url`, `next`): it ends up in a Location header
    "REVIEW_SELECT_ALL_MAX": 10_000,  # rows of one bulk action (the grid's "select all matching" cap too)
}


def limit(key: str) -> int:
    """The configured bound `key` (DEFAULTS when unset or not an integer)."""
    value = current_app.config.get(key) if has_app_context() else None
    try:
        return int(value) if value is not None else DEFAULTS[key]
    except (TypeError, ValueError):
        return DEFAULTS[key]


def _printable(text: str) -> str:
    """Control characters (tab, newline, NUL …) become spaces: they separate words, they never match."""
    return "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in text)


def _small_int(raw, digits: int = 7) -> int | None:
    """Plain ASCII digits (an optional leading minus) of at most `digits` digits as an int, else None."""
    text = (raw or "").strip()
    body = text[1:] if text.startswith("-") else text
    if not body.isascii() or not body.isdigit():
        return None
    if len(body.lstrip("0")) > digits:
        return None if text.startswith("-") else 10 ** digits
    return int(text)


def page_number(raw) -> tuple[int, str | None]:
    """A list page number (0-based) within 0..GRID_MAX_PAGE; past the last allowed page a message says so."""
    n = _small_int(raw)
    if n is None or n < 0:
        return 0, None
    top = limit("GRID_MAX_PAGE")
    if n > top:
        return top, _("Pages go up to %(n)d; please narrow the list with a filter or a search.", n=top + 1)
    return n, None


def search_text(raw) -> tuple[str | None, str | None]:
    """A grid's search text: (text or None, message); too long is not searched, too many words keep the first."""
    text = " ".join(_printable(raw or "").split())
    if not text:
        return None, None
    most = limit("GRID_SEARCH_MAX_CHARS")
    if len(text) > most:
        return None, _("The search text may have at most %(n)d characters; it was not searched.", n=most)
    words = text.split(" ")
    if len(words) > TERMS_MAX:
        return " ".join(words[:TERMS_MAX]), _("A search takes at most %(n)d words; the first %(n)d were searched.",
                                               n=TERMS_MAX)
    return text, None


def query_text(raw) -> str:
    """A search box's text (the unit or supervising-institution search), stripped; too long is refused."""
    text = " ".join(_printable(raw or "").split())
    if len(text) > QUERY_TEXT_MAX:
        raise ServiceError(_("Please search with at most %(n)d characters.", n=QUERY_TEXT_MAX))
    return text


def day(text: str) -> date:
    """A YYYY-MM-DD day within DATE_MIN..DATE_MAX; anything else is refused with a message."""
    text = (text or "").strip()
    try:
        value = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise ServiceError(_("“%(value)s” is not a date (YYYY-MM-DD).", value=shorten(text))) from None
    if not DATE_MIN <= value <= DATE_MAX:
        raise ServiceError(_("Dates must lie between %(start)s and %(end)s.", start=DATE_MIN.isoformat(),
                             end=DATE_MAX.isoformat()))
    return value


def day_range(value: str) -> tuple[date, date]:
    """'YYYY-MM-DD to YYYY-MM-DD' (both days in bounds, the first not after the second)."""
    parts = (value or "").split(" to ")
    if len(parts) != 2:
        raise ServiceError(_("A date range reads “YYYY-MM-DD to YYYY-MM-DD”."))
    start, end = day(parts[0]), day(parts[1])
    if start > end:
        raise ServiceError(_("The start date is after the end date."))
    return start, end


def check_filter_value(value: str, kind: str | None) -> None:
    """A filter's value for its kind (date, date_range, datetime(_range), int); ServiceError says what is wrong."""
    if len(value) > limit("GRID_ARG_MAX_CHARS"):
        raise ServiceError(_("A filter value was too long and was ignored."))
    if kind == "date":
        day(value)
    elif kind == "date_range":
        day_range(value)
    elif kind in ("datetime", "datetime_range"):
        # Flask-Admin checks the time of day itself; the day must be one the calendar (and UTC) can hold.
        for part in value.split(" to "):
            day(part.strip()[:10])
    elif kind == "int":
        for part in value.split(","):
            n = _small_int(part, digits=18)
            if n is None or abs(n) >= 2**63:
                raise ServiceError(_("“%(value)s” is not a whole number.", value=shorten(part)))


def grid_args(pairs, filter_kinds: dict[str, str | None]) -> tuple[list[tuple[str, str]], list[str]]:
    """A grid's query string, bounded: (the arguments to keep, in order; the messages to show).

    `filter_kinds` maps each filter argument the grid knows (the `<j>` of `flt<i>_<j>`) to its kind. Unknown
    filters are dropped, a filter given twice with the same value is applied once, past GRID_MAX_FILTERS the rest
    are ignored; page, page size, sort, desc, search (and the pickers' offset and limit) are kept once and
    bounded; a return `url` must be local and short; any other argument longer than GRID_ARG_MAX_CHARS is dropped.
    """
    kept: list[tuple[str, str]] = []
    messages: list[str] = []
    seen_filters: set[tuple[str, str]] = set()
    seen_reserved: set[str] = set()
    max_filters, arg_max = limit("GRID_MAX_FILTERS"), limit("GRID_ARG_MAX_CHARS")
    dropped_filters = False
    for n, (key, value) in enumerate(pairs):
        if n >= ARGS_MAX:
            messages.append(_("The address had too many arguments; the extra ones were ignored."))
            break
        if len(key) > ARG_KEY_MAX:
            continue
        if key.startswith("flt"):
            pos, sep, name = key[3:].partition("_")
            if not sep or not pos.isascii() or not pos.isdigit() or len(pos) > 4 or name not in filter_kinds:
                continue
            if (name, value) in seen_filters:
                continue
            if len(seen_filters) >= max_filters:
                dropped_filters = True
                continue
            try:
                check_filter_value(value, filter_kinds[name])
            except ServiceError as e:
                messages.append(str(e))
                continue
            seen_filters.add((name, value))
            kept.append((key, value))
        elif key in RESERVED:
            if key in seen_reserved:
                continue
            seen_reserved.add(key)
            value, message = _reserved(key, value)
            if message:
                messages.append(message)
            if value is not None:
                kept.append((key, value))
        elif key == "url":
            if return_url(value) is not None:
                kept.append((key, value))
        elif len(value) <= arg_max:
            kept.append((key, value))
    if dropped_filters:
        messages.append(_("At most %(n)d filters apply at once; the others were ignored.", n=max_filters))
    return kept, list(dict.fromkeys(messages))[:MESSAGES_MAX]


def _reserved(key: str, value: str) -> tuple[str | None, str | None]:
    if key == "page":
        n, message = page_number(value)
        return (str(n) if n else None), message
    if key == "search":
        return search_text(value)
    n = _small_int(value, digits=7 if key == "offset" else 4)
    if n is None or n < 0:
        return None, None  # page_size, sort, desc, offset, limit (ajax pickers): small non-negative numbers or nothing
    return str(n), None


def distinct_filters(items: list) -> list:
    """Filters (a listing's criteria) once each, in order; more distinct ones than GRID_MAX_FILTERS are refused."""
    seen, out = set(), []
    for item in items:
        key = tuple(str(part) for part in item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    most = limit("GRID_MAX_FILTERS")
    if len(out) > most:
        raise ServiceError(_("At most %(n)d filters apply at once.", n=most))
    return out


def return_url(target) -> str | None:
    """A return address to redirect to: a local path (never `//host`, a scheme or `\\`), printable, short."""
    if not target or not isinstance(target, str) or len(target) > limit("RETURN_URL_MAX"):
        return None
    if "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def selection(count: int) -> None:
    """One bulk action covers at most REVIEW_SELECT_ALL_MAX rows; more are refused as a whole."""
    most = limit("REVIEW_SELECT_ALL_MAX")
    if count > most:
        raise ServiceError(_("At most %(n)d records can be handled at once; please select fewer.", n=most))


def shorten(text, most: int = 40) -> str:
    """User input quoted in a message: printable and cut, so a message (and the session holding it) stays small."""
    text = _printable(str(text or ""))
    return text if len(text) <= most else text[:most - 1] + "…"
