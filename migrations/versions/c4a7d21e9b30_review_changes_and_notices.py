"""What changed since the last review (review_event.snapshot, staff_profile.resubmitted) and SMS notices

Revision ID: c4a7d21e9b30
Revises: 8d6026c9f335
Create Date: 2026-12-06 23:40:00

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import sqlite

revision = "c4a7d21e9b30"
down_revision = "8d6026c9f335"
branch_labels = None
depends_on = None

DT = sa.DateTime().with_variant(sqlite.DATETIME(), "sqlite")


def upgrade():
    op.create_table(
        "sms_notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("phone", sa.String(length=11), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("tries", sa.JSON(), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("next_attempt_at", DT, nullable=True),
        sa.Column("claimed_at", DT, nullable=True),
        sa.Column("created_at", DT, nullable=False),
        sa.Column("sent_at", DT, nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_sms_notice_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_notice")),
    )
    op.create_index("ix_sms_notice_phone_created", "sms_notice", ["phone", "created_at"])
    op.create_index("ix_sms_notice_status_next", "sms_notice", ["status", "next_attempt_at"])
    # Plain ADD COLUMNs (no batch copy): a constant default costs nothing on a million rows in either engine.
    op.add_column("review_event", sa.Column("snapshot", sa.JSON(), nullable=True))
    op.add_column("staff_profile", sa.Column("resubmitted", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_index("ix_staff_profile_resubmitted", "staff_profile", ["submitted_at", "id"],
                    postgresql_where=sa.text("resubmitted"), sqlite_where=sa.text("resubmitted = 1"))


def downgrade():
    op.drop_index("ix_staff_profile_resubmitted", table_name="staff_profile")
    with op.batch_alter_table("staff_profile") as batch_op:
        batch_op.drop_column("resubmitted")
    with op.batch_alter_table("review_event") as batch_op:
        batch_op.drop_column("snapshot")
    op.drop_index("ix_sms_notice_status_next", table_name="sms_notice")
    op.drop_index("ix_sms_notice_phone_created", table_name="sms_notice")
    op.drop_table("sms_notice")
