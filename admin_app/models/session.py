"""Sign-in sessions held on the server: the cookie carries a random token, this table its hash and its state."""
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime


class UserSession(db.Model):
    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # shown in the session list; never a credential
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    # SHA-256 of the cookie's token: a copy of the database (a backup) opens no session.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # the absolute end
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))

    user = relationship("User", lazy="joined", innerjoin=True)
