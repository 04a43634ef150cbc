"""API clients (接入系统): consuming systems that read the registry through /fhir/ and /api/v1/ with a bearer token."""
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow


class ApiClient(db.Model):
    __tablename__ = "api_client"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    # The root of the subtree the client may read (the same scope rule as an admin of this institution).
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), index=True)
    # SHA-256 of the token: a copy of the database (a backup) opens no API access.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    full_id: Mapped[bool] = mapped_column(Boolean, default=False)  # may receive full resident ID numbers
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the moment it stops working (None: never)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    institution = relationship("Institution", lazy="joined", innerjoin=True)
    created_by = relationship("User")

    def __str__(self) -> str:
        return self.name
