"""staff search indexes: FTS5 trigram + name bigrams (SQLite), pg_trgm + name_bigrams GIN (PostgreSQL)

Revision ID: 7c3e9a51d2b4
Revises: 1f9d23ee04e1
Create Date: 2026-12-01 21:40:00

The structures are raw SQL that no model expresses (admin_app/models/search.py holds the statements, which
create_all runs too); existing profiles are indexed on the way up.
"""
from alembic import op

from admin_app.models import search

revision = "7c3e9a51d2b4"
down_revision = "1f9d23ee04e1"
branch_labels = None
depends_on = None


def upgrade():
    search.install(op.get_bind(), backfill=True, parts=("fragments",))


def downgrade():
    search.uninstall(op.get_bind(), parts=("fragments",))
