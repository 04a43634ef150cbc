"""香港特别行政区 / 澳门特别行政区 in simplified characters in databases loaded before the fix

Revision ID: b6e1c0a4d7f2
Revises: 9d41b7e2c6a8
Create Date: 2026-12-06 20:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = "b6e1c0a4d7f2"
down_revision = "9d41b7e2c6a8"
branch_labels = None
depends_on = None

NAMES = {"810000": ("香港特別行政區", "香港特别行政区"), "820000": ("澳門特別行政區", "澳门特别行政区")}


def _rename(pick):
    region = sa.table("region", sa.column("code", sa.String), sa.column("name", sa.String))
    for code, names in NAMES.items():
        old, new = pick(names)
        op.execute(region.update().where(region.c.code == code, region.c.name == old).values(name=new))


def upgrade():
    _rename(lambda n: n)


def downgrade():
    _rename(lambda n: (n[1], n[0]))
