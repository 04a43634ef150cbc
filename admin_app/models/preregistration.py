"""Pre-registered admin phones (预置管理员手机号): an officer names the phone of a subordinate unit's admin; whoever
signs up or signs in with it becomes that unit's admin without an authorization code (services/preregistration.py)."""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow


class Preregistration(db.Model):
    __tablename__ = "admin_preregistration"
    __table_args__ = (
        # One live (not revoked) pre-registration of a phone per institution, enforced by the database.
        Index("uq_admin_preregistration_live", "institution_id", "phone", unique=True,
              sqlite_where=text("revoked_at IS NULL"), postgresql_where=text("revoked_at IS NULL")),
        # Looked up at every sign-in by phone.
        Index("ix_admin_preregistration_phone", "phone"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), index=True)
    phone: Mapped[str] = mapped_column(String(11))
    name: Mapped[str] = mapped_column(String(64), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("admin_grant.id"))  # the admin right the claim gave
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    institution = relationship("Institution", lazy="joined")
    created_by = relationship("User", foreign_keys=[created_by_id])
    claimed_by = relationship("User", foreign_keys=[claimed_by_id])

    @property
    def state(self) -> str:
        """revoked | claimed | unclaimed."""
        if self.revoked_at is not None:
            return "revoked"
        return "claimed" if self.claimed_by_id is not None else "unclaimed"
