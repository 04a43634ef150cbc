"""SQLite: phone fragments of 5-10 digits by an index of every phone suffix of 5+ digits

Revision ID: f9b2d6e4a7c3
Revises: e8a1f3c6b2d9
Create Date: 2026-12-08 00:40:00

A 5-digit fragment matching 400 people at 15M staff read FTS5's trigram postings (1.84 ms, 0.22 at 1M) or two
4-digit grams' (3.03 ms): postings that grow with the registry (bench/RESULTS.md, issue 20). A fragment is a
prefix of the suffixes starting where it lies in a phone, so one range of a b-tree of every suffix reads only its
matches. The statements are admin_app/models/search.py's "phone_suffixes" part; existing phones are indexed on the
way up. PostgreSQL is untouched (its GIN index intersects the grams' postings in 1.3 ms at 15M).
"""
from alembic import op

from admin_app.models import search

revision = "f9b2d6e4a7c3"
down_revision = "e8a1f3c6b2d9"
branch_labels = None
depends_on = None


def upgrade():
    search.install(op.get_bind(), backfill=True, parts=("phone_suffixes",))


def downgrade():
    search.uninstall(op.get_bind(), parts=("phone_suffixes",))
