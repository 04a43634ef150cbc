"""SMS notices to staff (驳回、退审、审核通过): one row per message, queued, sent by a job, retried, limited."""
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow

# queued -> sending -> sent; a gateway failure puts it back to queued (next_attempt_at later) until the last try,
# then failed; a notice past the per-phone hourly limit is stored as dropped and never sent.
NOTICE_STATUSES = ("queued", "sending", "sent", "failed", "dropped")


class SmsNotice(db.Model):
    __tablename__ = "sms_notice"
    __table_args__ = (
        Index("ix_sms_notice_phone_created", "phone", "created_at"),
        Index("ix_sms_notice_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    phone: Mapped[str] = mapped_column(String(11))
    purpose: Mapped[str] = mapped_column(String(16), default="notice")  # the outbox line's purpose
    kind: Mapped[str] = mapped_column(String(16))  # reject | revert | approve (what caused it)
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Each failed try: {"at", "error", "retry_in"} (seconds; null on the last one), so the backoff is on record.
    tries: Mapped[list | None] = mapped_column(JSON)
    last_error: Mapped[str | None] = mapped_column(String(200))
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
