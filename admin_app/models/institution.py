"""Institutions (机构/单位) in a tree kept as a materialized path."""
from datetime import datetime
from typing import Optional

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..i18n import N_
from .types import UTCDateTime, utcnow

# code -> label msgid; labels are translated where shown.
CATEGORIES = {
    "commission": N_("Health Commission"),
    "cdc": N_("CDC"),
    "general_hospital": N_("General Hospital"),
    "specialized_hospital": N_("Specialized Hospital"),
    "primary_care": N_("Primary Care Institution"),
    "third_party_lab": N_("Third-party Testing Lab"),
    "other": N_("Other"),
}


class Institution(db.Model):
    __tablename__ = "institution"
    __table_args__ = (
        UniqueConstraint("parent_id", "name", name="uq_institution_parent_name"),
        # varchar_pattern_ops lets PostgreSQL answer `path LIKE '/1/7/%'` from the index under any collation.
        Index("ix_institution_path", "path", postgresql_ops={"path": "varchar_pattern_ops"}),
        # Incremental sync of Organizations pages in (updated_at, id) order (services.api_search).
        Index("ix_institution_updated", "updated_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), index=True)
    name_initials: Mapped[str] = mapped_column(String(128), default="", index=True)
    uscc: Mapped[str | None] = mapped_column(String(18), unique=True)
    category: Mapped[str] = mapped_column(String(32), default="other")
    region_code: Mapped[str | None] = mapped_column(ForeignKey("region.code"), index=True)
    address: Mapped[str] = mapped_column(String(255), default="")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"), index=True)
    path: Mapped[str] = mapped_column(String(255), default="")
    depth: Mapped[int] = mapped_column(Integer, default=0)
    confirmation_code: Mapped[str] = mapped_column(String(16), default="")
    require_confirmation_code: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # What the machine APIs show of it (name, category, address, region, USCC, parent) last changed.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    parent: Mapped[Optional["Institution"]] = relationship(remote_side=[id], lazy="joined", innerjoin=False)
    region = relationship("Region", lazy="joined")

    def __str__(self) -> str:
        return self.name
