"""a unit's list in each order gets an index of its own, (institution_id, sort key, id)

Revision ID: b7e4c2a9d5f1
Revises: a3d9f1c7e2b4
Create Date: 2026-12-07 16:30:00

A unit admin's list sorted by 姓名, 手机号, 性别, 人员性质, 科室 or 状态 read every reported row of the unit through its
(unit, status) ranges and sorted them: 19 ms at 1M staff, 28 ms at 15M, where page 1 costs 10 (bench/RESULTS.md,
issue 20). Its default order, newest report first, read and sorted the unit's (unit, status) ranges too (4,500
index entries on PostgreSQL for 21 rows). With (institution_id, key, id) its page, and the page after any cursor, is
one range of one index. The key is the grid's sort key: the column for name, phone and report time,
coalesce(column, '') for the others (staff_listing).
"""
import sqlalchemy as sa
from alembic import op

revision = "b7e4c2a9d5f1"
down_revision = "a3d9f1c7e2b4"
branch_labels = None
depends_on = None

PLAIN = ("name", "phone", "submitted_at")
COALESCED = ("gender", "personnel_type", "department", "status")


def upgrade():
    for column in PLAIN + COALESCED:
        key = column if column in PLAIN else sa.text(f"coalesce({column}, '')")
        op.create_index(f"ix_staff_profile_unit_{column}", "staff_profile", ["institution_id", key, "id"],
                        unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ANALYZE staff_profile")  # statistics of the new expressions, before the first sorted page


def downgrade():
    for column in PLAIN + COALESCED:
        op.drop_index(f"ix_staff_profile_unit_{column}", table_name="staff_profile")
