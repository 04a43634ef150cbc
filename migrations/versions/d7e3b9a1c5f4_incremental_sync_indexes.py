"""incremental sync by last update: institution.updated_at, and an (updated_at, id) index on staff and institutions

Revision ID: d7e3b9a1c5f4
Revises: c4f2a9e8b1d3
Create Date: 2026-12-07 02:40:00

The machine APIs' `_lastUpdated` / `updated_since` page in (updated_at, id) order, so a sync that finds few changes
reads just them instead of walking every approved row. Institutions had only created_at: an edit never showed in an
incremental sync of Organizations; their updated_at starts at created_at.
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import sqlite

revision = "d7e3b9a1c5f4"
down_revision = "c4f2a9e8b1d3"
branch_labels = None
depends_on = None


def upgrade():
    # NOT NULL needs a default for the rows there are (SQLite cannot add the constraint later without rebuilding the
    # table); the application always writes the value, and PostgreSQL drops the placeholder again.
    op.add_column("institution", sa.Column("updated_at", sa.DateTime().with_variant(sqlite.DATETIME(), "sqlite"),
                                           nullable=False, server_default=sa.text("'2000-01-01 00:00:00'")))
    op.execute("UPDATE institution SET updated_at = created_at")
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("institution", "updated_at", server_default=None)
    op.create_index("ix_institution_updated", "institution", ["updated_at", "id"], unique=False)
    op.create_index("ix_staff_profile_updated", "staff_profile", ["updated_at", "id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ANALYZE staff_profile")
        op.execute("ANALYZE institution")


def downgrade():
    op.drop_index("ix_staff_profile_updated", table_name="staff_profile")
    op.drop_index("ix_institution_updated", table_name="institution")
    with op.batch_alter_table("institution") as batch_op:
        batch_op.drop_column("updated_at")
