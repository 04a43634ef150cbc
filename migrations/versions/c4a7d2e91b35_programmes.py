"""programme: several businesses (业务) on one platform; every existing admin right joins the default one

Revision ID: c4a7d2e91b35
Revises: c4a7d21e9b30
Create Date: 2026-12-06 23:40:00

The workforce-registration programme (code `workforce`, 卫生人员上报) is created as the default, and every
existing grant, assistant and admin right is attached to it, so every URL and right keeps working unchanged.
The one-manager and one-role indexes become per programme.
"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import sqlite

revision = "c4a7d2e91b35"
down_revision = "c4a7d21e9b30"
branch_labels = None
depends_on = None

ONE_MANAGER = "role = 'manager' AND state = 'active'"
ONE_ROLE = "state = 'active'"
DT = sa.DateTime().with_variant(sqlite.DATETIME(), "sqlite")


def upgrade():
    programme = op.create_table(
        "programme",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", DT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programme")),
        sa.UniqueConstraint("code", name=op.f("uq_programme_code")),
    )
    op.create_table(
        "programme_institution",
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["institution_id"], ["institution.id"],
                                name=op.f("fk_programme_institution_institution_id_institution"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["programme_id"], ["programme.id"],
                                name=op.f("fk_programme_institution_programme_id_programme"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("programme_id", "institution_id", name=op.f("pk_programme_institution")),
    )
    with op.batch_alter_table("programme_institution", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_programme_institution_institution_id"), ["institution_id"], unique=False)

    op.bulk_insert(programme, [{"code": "workforce", "name": "卫生人员上报",
                                "description": "卫生健康人员信息上报与审核（人员上报、单位审核、主管单位审核）。",
                                "active": True, "is_default": True,
                                "created_at": datetime.now(UTC).replace(tzinfo=None)}])
    default_id = op.get_bind().scalar(sa.text("SELECT id FROM programme WHERE code = 'workforce'"))

    with op.batch_alter_table("admin_grant", schema=None) as batch_op:
        batch_op.add_column(sa.Column("programme_id", sa.Integer(), nullable=True))
    op.execute(sa.text("UPDATE admin_grant SET programme_id = :pid").bindparams(pid=default_id))
    with op.batch_alter_table("admin_grant", schema=None) as batch_op:
        batch_op.alter_column("programme_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(batch_op.f("fk_admin_grant_programme_id_programme"), "programme",
                                    ["programme_id"], ["id"])
        batch_op.create_index(batch_op.f("ix_admin_grant_programme_id"), ["programme_id"], unique=False)
        batch_op.drop_index("uq_admin_grant_active_manager")
        batch_op.drop_index("uq_admin_grant_active_user")
        batch_op.create_index("uq_admin_grant_active_manager", ["programme_id", "institution_id"], unique=True,
                              sqlite_where=sa.text(ONE_MANAGER), postgresql_where=sa.text(ONE_MANAGER))
        batch_op.create_index("uq_admin_grant_active_user", ["programme_id", "institution_id", "user_id"],
                              unique=True, sqlite_where=sa.text(ONE_ROLE), postgresql_where=sa.text(ONE_ROLE))


def downgrade():
    # Rights of other programmes cannot live on without their programme: they go with it.
    op.execute(sa.text("DELETE FROM admin_grant WHERE programme_id NOT IN "
                       "(SELECT id FROM programme WHERE is_default)"))
    with op.batch_alter_table("admin_grant", schema=None) as batch_op:
        batch_op.drop_index("uq_admin_grant_active_user")
        batch_op.drop_index("uq_admin_grant_active_manager")
        batch_op.drop_index(batch_op.f("ix_admin_grant_programme_id"))
        batch_op.drop_constraint(batch_op.f("fk_admin_grant_programme_id_programme"), type_="foreignkey")
        batch_op.drop_column("programme_id")
        batch_op.create_index("uq_admin_grant_active_manager", ["institution_id"], unique=True,
                              sqlite_where=sa.text(ONE_MANAGER), postgresql_where=sa.text(ONE_MANAGER))
        batch_op.create_index("uq_admin_grant_active_user", ["institution_id", "user_id"], unique=True,
                              sqlite_where=sa.text(ONE_ROLE), postgresql_where=sa.text(ONE_ROLE))
    with op.batch_alter_table("programme_institution", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_programme_institution_institution_id"))
    op.drop_table("programme_institution")
    op.drop_table("programme")
