"""phone fragments of 4-10 digits get an index of their 4-digit grams (SQLite side table, PostgreSQL GIN)

Revision ID: e8a1f3c6b2d9
Revises: b7e4c2a9d5f1
Create Date: 2026-12-07 21:20:00

A phone fragment went through the digit trigrams, whose postings each hold about 1 % of all phones: a 5-digit
fragment matching 300 people cost PostgreSQL 0.70 ms of SQL at 1M staff and 5.41 ms at 15M (bench/RESULTS.md,
issue 20). A 4-digit gram holds a tenth of that. The statements are admin_app/models/search.py's "phone_grams"
part; existing phones are indexed on the way up. On PostgreSQL the grams also answer 3-digit fragments, so the
phone trigram index is dropped (every approval writes each GIN index) and built again on the way down.
"""
from alembic import op

from admin_app.models import search

revision = "e8a1f3c6b2d9"
down_revision = "b7e4c2a9d5f1"
branch_labels = None
depends_on = None


def upgrade():
    search.install(op.get_bind(), backfill=True, parts=("phone_grams",))


def downgrade():
    conn = op.get_bind()
    search.uninstall(conn, parts=("phone_grams",))
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(search.PG_PHONE_TRGM)
