"""subtree counters: the status, type and day counters summed over each institution's subtree, for national figures

Revision ID: e5b8c2d4f6a1
Revises: d7e3b9a1c5f4
Create Date: 2026-12-07 05:40:00

A national officer's dashboard summed the counters of every unit in the country on each view (15,000 institutions:
500,000 counter rows, 266 ms of CPU). Each institution now also carries the sums of its whole subtree, bumped for
every ancestor in the same transaction as its own counters; they start from the own counters here.
"""
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "e5b8c2d4f6a1"
down_revision = "d7e3b9a1c5f4"
branch_labels = None
depends_on = None

# (subtree table, own table, key columns after institution_id, type of the last key column)
TWINS = (("subtree_status_counter", "status_counter", ("status",)),
         ("subtree_type_counter", "status_type_counter", ("status", "personnel_type")),
         ("subtree_submission_counter", "submission_counter", ("day",)))


def upgrade():
    key_types = {"status": sa.String(length=16), "personnel_type": sa.String(length=16), "day": sa.Date()}
    for name, _own, keys in TWINS:
        op.create_table(
            name,
            sa.Column("institution_id", sa.Integer(), nullable=False),
            *[sa.Column(k, key_types[k], nullable=False) for k in keys],
            sa.Column("n", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(["institution_id"], ["institution.id"], name=op.f(f"fk_{name}_institution_id_institution")),
            sa.PrimaryKeyConstraint("institution_id", *keys, name=op.f(f"pk_{name}")),
        )
    bind = op.get_bind()
    inst = sa.table("institution", sa.column("id", sa.Integer), sa.column("path", sa.String))
    ancestors = {i: [int(x) for x in p.strip("/").split("/") if x]
                 for i, p in bind.execute(sa.select(inst.c.id, inst.c.path))}
    for name, own, keys in TWINS:
        src = sa.table(own, sa.column("institution_id", sa.Integer), *[sa.column(k, key_types[k]) for k in keys],
                       sa.column("n", sa.Integer))
        dst = sa.table(name, sa.column("institution_id", sa.Integer), *[sa.column(k, key_types[k]) for k in keys],
                       sa.column("n", sa.Integer))
        sums = defaultdict(int)
        for iid, *rest, n in bind.execute(sa.select(src.c.institution_id, *[src.c[k] for k in keys], src.c.n)
                                          .where(src.c.n != 0)):
            for anc in ancestors[iid]:
                sums[(anc, *rest)] += n
        rows = [dict(zip(("institution_id", *keys, "n"), (*k, n), strict=True)) for k, n in sums.items() if n]
        for at in range(0, len(rows), 10_000):
            bind.execute(dst.insert(), rows[at:at + 10_000])


def downgrade():
    for name, _own, _keys in reversed(TWINS):
        op.drop_table(name)
