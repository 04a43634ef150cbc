"""region.updated_at: FHIR Locations answer _lastUpdated as the other mCSD resources do

Revision ID: a3d9f1c7e2b4
Revises: e5b8c2d4f6a1
Create Date: 2026-12-07 13:30:00

An mCSD directory sync asks every resource type for what changed since its last run (`_lastUpdated=gt…`); Locations
refused the parameter with a 400, so such a client could not sync at all. Regions had no timestamp: the ones there
are take the moment of this upgrade (what the registry knows of them from now on), later writes of `flask
load-regions` their own.
"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import sqlite

revision = "a3d9f1c7e2b4"
down_revision = "e5b8c2d4f6a1"
branch_labels = None
depends_on = None


def upgrade():
    # NOT NULL needs a default for the rows there are (SQLite cannot add the constraint later without rebuilding the
    # table); the application always writes the value, and PostgreSQL drops the placeholder again.
    column_type = sa.DateTime().with_variant(sqlite.DATETIME(), "sqlite")
    op.add_column("region", sa.Column("updated_at", column_type, nullable=False,
                                      server_default=sa.text("'2000-01-01 00:00:00'")))
    now = datetime.now(UTC).replace(tzinfo=None)
    op.get_bind().execute(sa.text("UPDATE region SET updated_at = :now").bindparams(
        sa.bindparam("now", now, type_=column_type)))
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("region", "updated_at", server_default=None)


def downgrade():
    # Not a batch rebuild: copying and dropping `region` under users' and institutions' foreign keys fails on SQLite;
    # its own DROP COLUMN (3.35+) leaves the table in place.
    op.drop_column("region", "updated_at")
