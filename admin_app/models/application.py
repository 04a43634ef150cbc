"""New-institution applications (新机构注册/补增申请)."""
from datetime import datetime
from typing import Optional

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..i18n import N_
from .types import UTCDateTime, utcnow

APPLICATION_STATUSES = {"pending": N_("Pending review"), "rejected": N_("Rejected"), "included": N_("Included")}


class InstitutionApplication(db.Model):
    __tablename__ = "institution_application"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), index=True)
    uscc: Mapped[str] = mapped_column(String(18), index=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), index=True)
    category: Mapped[str] = mapped_column(String(32))
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"))
    address: Mapped[str] = mapped_column(String(255))
    contact_name: Mapped[str] = mapped_column(String(64))
    contact_phone: Mapped[str] = mapped_column(String(11), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    reason: Mapped[Optional[str]] = mapped_column(Text)
    institution_id: Mapped[Optional[int]] = mapped_column(ForeignKey("institution.id"))
    reviewed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    reviewed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    ip: Mapped[Optional[str]] = mapped_column(String(45))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    parent = relationship("Institution", foreign_keys=[parent_id])
    institution = relationship("Institution", foreign_keys=[institution_id])
    region = relationship("Region")
