"""app_setting (the PII key fingerprint the data is sealed with) and export_job.heartbeat_at (the worker's lease)

Revision ID: b30a7e5c1f02
Revises: b6e1c0a4d7f2
Create Date: 2026-12-06 20:30:00

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import sqlite

revision = "b30a7e5c1f02"
down_revision = "b6e1c0a4d7f2"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "app_setting",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime().with_variant(sqlite.DATETIME(), "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_app_setting")),
    )
    with op.batch_alter_table("export_job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime().with_variant(sqlite.DATETIME(), "sqlite"), nullable=True))


def downgrade():
    with op.batch_alter_table("export_job", schema=None) as batch_op:
        batch_op.drop_column("heartbeat_at")
    op.drop_table("app_setting")
