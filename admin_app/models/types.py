"""Column types shared by the models."""
from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.dialects import sqlite

# One storage format on SQLite (always with microseconds) so that values bound by SQLAlchemy compare
# equal to stored ones; keyset paging repeats rows otherwise.
SQLITE_DT = sqlite.DATETIME(
    storage_format="%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d",
    regexp=r"(\d+)-(\d+)-(\d+) (\d+):(\d+):(\d+)(?:\.(\d+))?",
)
UTCDateTime = DateTime().with_variant(SQLITE_DT, "sqlite")


def utcnow() -> datetime:
    """Naive UTC now: every timestamp in the database is naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)
