"""Keyset (seek) paging over the staff grid, in any of its orders: cursor = (sort value, id).

A cursor names the last row of a page; the next page is the rows strictly after it in that order, read by the
same index range whatever the depth, where OFFSET would read and drop every row before it. The default order
and 上报时间 carry the report time to the microsecond (20261201210342123456-42); a text column carries its value
as stored, NULL read as "" (the grid orders NULL as empty text on both engines), then "-" and the id.
"""
import re
from datetime import datetime

from . import ID_MAX

_CURSOR = re.compile(r"([0-9]{20})-([0-9]{1,10})")
CURSOR_SHAPE = _CURSOR  # a cursor of the default order (the API's cursors too)
_ID = re.compile(r"[0-9]{1,10}")
TIME_SORTS = (None, "submitted_at")  # orders whose key is the report time
VALUE_MAX = 64  # the longest sortable text column (name, department: String(64))


def encode_cursor(value, row_id: int) -> str:
    """The cursor of a row from its sort value (a report time, or a text value; None for NULL) and its id."""
    if isinstance(value, datetime):
        return f"{value:%Y%m%d%H%M%S%f}-{row_id}"
    return f"{value or ''}-{row_id}"


def decode_cursor(text, sort: str | None = None) -> tuple | None:
    """(sort value, id) of a cursor for this order (None: the default), or None for anything that is not one."""
    raw = str(text or "")
    if sort in TIME_SORTS:
        m = _CURSOR.fullmatch(raw)
        if not m:
            return None
        try:
            value = datetime.strptime(m.group(1), "%Y%m%d%H%M%S%f")
        except ValueError:
            return None
        pk = int(m.group(2))
    else:
        value, dash, pk_text = raw.rpartition("-")
        if not dash or not _ID.fullmatch(pk_text) or len(value) > VALUE_MAX or not value.isprintable():
            return None
        pk = int(pk_text)
    return (value, pk) if 0 < pk <= ID_MAX else None
