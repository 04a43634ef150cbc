"""Keyset (seek) paging over the staff grid's default order: (submitted_at, id) descending.

A cursor names the last row of a page; the next page is the rows strictly after it in that order, read by the
same index range whatever the depth, where OFFSET would read and drop every row before it.
"""
import re
from datetime import datetime

from . import ID_MAX

_CURSOR = re.compile(r"([0-9]{20})-([0-9]{1,10})")
CURSOR_SHAPE = _CURSOR


def encode_cursor(submitted_at: datetime, row_id: int) -> str:
    """The cursor of a row: its report time to the microsecond and its id, e.g. 20261201210342123456-42."""
    return f"{submitted_at:%Y%m%d%H%M%S%f}-{row_id}"


def decode_cursor(text) -> tuple[datetime, int] | None:
    """(submitted_at, id) of a cursor, or None for anything that is not one."""
    m = _CURSOR.fullmatch(str(text or ""))
    if not m:
        return None
    try:
        stamp = datetime.strptime(m.group(1), "%Y%m%d%H%M%S%f")
    except ValueError:
        return None
    pk = int(m.group(2))
    return (stamp, pk) if 0 < pk <= ID_MAX else None
