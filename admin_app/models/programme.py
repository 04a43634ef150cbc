"""Programmes (业务): the businesses one platform runs; admin rights (AdminGrant) belong to one of them."""
from datetime import datetime

from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table, Text, event, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow

# The workforce-registration programme every existing right, URL and test belongs to (the migration creates it).
DEFAULT_CODE = "workforce"
DEFAULT_NAME = "卫生人员上报"
DEFAULT_DESCRIPTION = "卫生健康人员信息上报与审核（人员上报、单位审核、主管单位审核）。"

# The institutions taking part: each listed institution and every institution below it.
programme_institution = Table(
    "programme_institution", db.metadata,
    Column("programme_id", ForeignKey("programme.id", ondelete="CASCADE"), primary_key=True),
    Column("institution_id", ForeignKey("institution.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Programme(db.Model):
    __tablename__ = "programme"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The default programme takes part in every institution and opens the back office (/admin/).
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    institutions = relationship("Institution", secondary=programme_institution, order_by="Institution.path")

    def __str__(self) -> str:
        return self.name


def default_programme_id(context) -> int | None:
    """Column default of AdminGrant.programme_id: the default programme, looked up on the inserting connection."""
    return context.connection.scalar(text("SELECT id FROM programme WHERE is_default ORDER BY id LIMIT 1"))


@event.listens_for(Programme.__table__, "after_create")
def _create_default(target, connection, **kw):
    """A schema built by create_all (tests) starts with the default programme, as a migrated one does."""
    connection.execute(target.insert().values(code=DEFAULT_CODE, name=DEFAULT_NAME, description=DEFAULT_DESCRIPTION,
                                              active=True, is_default=True, created_at=utcnow()))
