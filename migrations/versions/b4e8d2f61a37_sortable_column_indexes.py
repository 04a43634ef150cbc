"""indexes for the grid's sortable columns (department, status, gender, personnel type), each ending with id

A national officer sorting 900,000 staff by 科室 waited 3 s while SQLite sorted them all; with (column, id) the
sorted page is walked in index order.

Revision ID: b4e8d2f61a37
Revises: 9d41b7e2c6a8
Create Date: 2026-12-02 01:30:00

"""
from alembic import op

revision = "b4e8d2f61a37"
down_revision = "9d41b7e2c6a8"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_staff_profile_department_id": ["department", "id"],
    "ix_staff_profile_status_id": ["status", "id"],
    "ix_staff_profile_gender_id": ["gender", "id"],
    "ix_staff_profile_personnel_type_id": ["personnel_type", "id"],
}


def upgrade():
    for name, columns in INDEXES.items():
        op.create_index(name, "staff_profile", columns, unique=False)


def downgrade():
    for name in INDEXES:
        op.drop_index(name, table_name="staff_profile")
