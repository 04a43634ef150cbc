"""Admin grants (授权): who administers which institution, and the codes that hand that right over."""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..i18n import N_
from .programme import default_programme_id
from .types import UTCDateTime, utcnow

ROLES = {"manager": N_("Business manager"), "assistant": N_("Assistant admin")}
GRANT_STATES = {"issued": N_("Not activated"), "active": N_("Activated"), "reset": N_("Revoked")}

_ONE_MANAGER = "role = 'manager' AND state = 'active'"


class AdminGrant(db.Model):
    __tablename__ = "admin_grant"
    __table_args__ = (
        # At most one active business manager per institution and programme, enforced by the database.
        Index("uq_admin_grant_active_manager", "programme_id", "institution_id", unique=True,
              sqlite_where=text(_ONE_MANAGER), postgresql_where=text(_ONE_MANAGER)),
        # A person holds at most one active role per institution and programme (manager or assistant).
        Index("uq_admin_grant_active_user", "programme_id", "institution_id", "user_id", unique=True,
              sqlite_where=text("state = 'active'"), postgresql_where=text("state = 'active'")),
        Index("ix_admin_grant_user_state", "user_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), index=True)
    # The programme (业务) this right belongs to; left out, the default programme (workforce registration).
    programme_id: Mapped[int] = mapped_column(ForeignKey("programme.id"), default=default_programme_id, index=True)
    role: Mapped[str] = mapped_column(String(16), default="manager")
    code: Mapped[str | None] = mapped_column(String(16), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="issued")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reset_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    institution = relationship("Institution")
    programme = relationship("Programme")
    user = relationship("User", foreign_keys=[user_id])
    issued_by = relationship("User", foreign_keys=[issued_by_id])
