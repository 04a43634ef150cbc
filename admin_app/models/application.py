"""New-institution applications (新机构注册/补增申请)."""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..i18n import N_
from .types import UTCDateTime, utcnow

# 待审核 / 已拒绝 / 已收录 (the manual's words; "Rejected" alone is the staff review's 审核未通过).
APPLICATION_STATUSES = {"pending": N_("Pending review"), "rejected": N_("Application refused"),
                        "included": N_("Included")}

_PENDING = "status = 'pending'"


class InstitutionApplication(db.Model):
    __tablename__ = "institution_application"
    __table_args__ = (
        # One pending application per USCC and per name under a parent: a double submit cannot slip in twice.
        Index("uq_institution_application_pending_uscc", "uscc", unique=True,
              sqlite_where=text(_PENDING), postgresql_where=text(_PENDING)),
        Index("uq_institution_application_pending_name", "parent_id", "name", unique=True,
              sqlite_where=text(_PENDING), postgresql_where=text(_PENDING)),
    )

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
    reason: Mapped[str | None] = mapped_column(Text)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"))
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip: Mapped[str | None] = mapped_column(String(45))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    parent = relationship("Institution", foreign_keys=[parent_id])
    institution = relationship("Institution", foreign_keys=[institution_id])
    region = relationship("Region")
