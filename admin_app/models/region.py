"""Administrative regions (GB/T 2260)."""

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow

LEVELS = ("province", "city", "county")


class Region(db.Model):
    __tablename__ = "region"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(10))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("region.code"), index=True)
    # When load-regions last wrote it: an mCSD sync asks for Locations with _lastUpdated as for the rest.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __str__(self) -> str:  # how grids and pickers show a region
        return self.name

    def __repr__(self) -> str:
        return f"<Region {self.code} {self.name}>"
