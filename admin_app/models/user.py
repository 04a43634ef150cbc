"""Accounts: staff, admins and superusers alike."""
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..i18n import N_
from .types import UTCDateTime, utcnow

ID_TYPES = {
    "resident_id": N_("Resident ID Card"),
    "passport": N_("Passport"),
    "hk_macau_pass": N_("Mainland Travel Permit for HK/Macau Residents"),
    "taiwan_pass": N_("Mainland Travel Permit for Taiwan Residents"),
}
IDENTITY_STATUSES = ("unverified", "pending", "verified", "rejected")


class User(UserMixin, db.Model):
    __tablename__ = "user"
    __table_args__ = (UniqueConstraint("id_type", "id_number_index", name="uq_user_identity"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phone: Mapped[str] = mapped_column(String(11), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(64), default="")
    email: Mapped[str | None] = mapped_column(String(120))
    region_code: Mapped[str | None] = mapped_column(ForeignKey("region.code"))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"), index=True)
    department: Mapped[str | None] = mapped_column(String(64))
    id_type: Mapped[str | None] = mapped_column(String(16))
    id_number_enc: Mapped[str | None] = mapped_column(Text)
    id_number_index: Mapped[str | None] = mapped_column(String(64))
    id_number_masked: Mapped[str | None] = mapped_column(String(32))
    identity_status: Mapped[str] = mapped_column(String(16), default="unverified")
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    institution = relationship("Institution", lazy="joined")
    region = relationship("Region")

    @property
    def is_active(self) -> bool:  # Flask-Login: disabled accounts cannot sign in
        return bool(self.active)

    @property
    def account_complete(self) -> bool:
        """True once the account page (name, region, unit) has been filled."""
        return bool(self.name and self.region_code and self.institution_id)

    def __str__(self) -> str:
        return f"{self.name or ''} {self.phone}".strip()
