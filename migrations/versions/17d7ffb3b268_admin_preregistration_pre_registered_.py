"""admin_preregistration: pre-registered admin phones of subordinate units

Revision ID: 17d7ffb3b268
Revises: f2cdf8480a15
Create Date: 2026-12-06 23:31:17.581469

An officer pre-registers the admin phone of a subordinate unit; whoever signs up or in with it becomes the unit's
admin (issue 19). One live row per (institution, phone) by a partial unique index.

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import sqlite

# revision identifiers, used by Alembic.
revision = '17d7ffb3b268'
down_revision = 'f2cdf8480a15'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('admin_preregistration',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=11), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime().with_variant(sqlite.DATETIME(), 'sqlite'), nullable=False),
    sa.Column('claimed_by_id', sa.Integer(), nullable=True),
    sa.Column('claimed_at', sa.DateTime().with_variant(sqlite.DATETIME(), 'sqlite'), nullable=True),
    sa.Column('grant_id', sa.Integer(), nullable=True),
    sa.Column('revoked_at', sa.DateTime().with_variant(sqlite.DATETIME(), 'sqlite'), nullable=True),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['claimed_by_id'], ['user.id'], name=op.f('fk_admin_preregistration_claimed_by_id_user')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_admin_preregistration_created_by_id_user')),
    sa.ForeignKeyConstraint(['grant_id'], ['admin_grant.id'], name=op.f('fk_admin_preregistration_grant_id_admin_grant')),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'], name=op.f('fk_admin_preregistration_institution_id_institution')),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['user.id'], name=op.f('fk_admin_preregistration_revoked_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_preregistration'))
    )
    with op.batch_alter_table('admin_preregistration', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_admin_preregistration_institution_id'), ['institution_id'], unique=False)
        batch_op.create_index('ix_admin_preregistration_phone', ['phone'], unique=False)
        batch_op.create_index('uq_admin_preregistration_live', ['institution_id', 'phone'], unique=True, sqlite_where=sa.text('revoked_at IS NULL'), postgresql_where=sa.text('revoked_at IS NULL'))


def downgrade():
    with op.batch_alter_table('admin_preregistration', schema=None) as batch_op:
        batch_op.drop_index('uq_admin_preregistration_live', sqlite_where=sa.text('revoked_at IS NULL'), postgresql_where=sa.text('revoked_at IS NULL'))
        batch_op.drop_index('ix_admin_preregistration_phone')
        batch_op.drop_index(batch_op.f('ix_admin_preregistration_institution_id'))

    op.drop_table('admin_preregistration')
