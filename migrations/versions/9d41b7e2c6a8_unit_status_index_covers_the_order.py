"""the (unit, status, report time) index ends with id, so it covers the grid's order

Revision ID: 9d41b7e2c6a8
Revises: 7c3e9a51d2b4
Create Date: 2026-12-01 21:50:00

"""
from alembic import op

revision = "9d41b7e2c6a8"
down_revision = "7c3e9a51d2b4"
branch_labels = None
depends_on = None

NAME = "ix_staff_profile_inst_status_submitted"


def upgrade():
    op.drop_index(NAME, table_name="staff_profile")
    op.create_index(NAME, "staff_profile", ["institution_id", "status", "submitted_at", "id"], unique=False)


def downgrade():
    op.drop_index(NAME, table_name="staff_profile")
    op.create_index(NAME, "staff_profile", ["institution_id", "status", "submitted_at"], unique=False)
