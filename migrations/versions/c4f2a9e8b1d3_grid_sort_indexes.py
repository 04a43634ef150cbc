"""every sortable column of the staff grid gets an index of its order, (key, id), for keyset pages

Revision ID: c4f2a9e8b1d3
Revises: 17d7ffb3b268
Create Date: 2026-12-06 23:30:00

name and phone: (column, id) instead of (column). gender, personnel_type, department, status: an index on
(coalesce(column, ''), id), the grid's sort key (NULL sorts as empty text on both engines); a filter on the plain
column cannot use it, so SQLite's planner, which has no statistics, keeps its filter plans.
"""
import sqlalchemy as sa
from alembic import op

revision = "c4f2a9e8b1d3"
down_revision = "17d7ffb3b268"
branch_labels = None
depends_on = None

COALESCED = ("gender", "personnel_type", "department", "status")


def upgrade():
    for column in ("name", "phone"):
        op.drop_index(f"ix_staff_profile_{column}", table_name="staff_profile")
        op.create_index(f"ix_staff_profile_{column}", "staff_profile", [column, "id"], unique=False)
    for column in COALESCED:
        op.create_index(f"ix_staff_profile_sort_{column}", "staff_profile",
                        [sa.text(f"coalesce({column}, '')"), "id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ANALYZE staff_profile")  # statistics of the new expressions, before the first sorted page


def downgrade():
    for column in COALESCED:
        op.drop_index(f"ix_staff_profile_sort_{column}", table_name="staff_profile")
    for column in ("name", "phone"):
        op.drop_index(f"ix_staff_profile_{column}", table_name="staff_profile")
        op.create_index(f"ix_staff_profile_{column}", "staff_profile", [column], unique=False)
