"""api_client: consuming systems (接入系统) that read /fhir/ and /api/v1/ with a bearer token (issue 16)

Revision ID: f2cdf8480a15
Revises: c4a7d2e91b35
Create Date: 2026-12-06 23:15:30.061908

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import sqlite

# revision identifiers, used by Alembic.
revision = 'f2cdf8480a15'
down_revision = 'c4a7d2e91b35'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('api_client',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('full_id', sa.Boolean(), nullable=False),
    sa.Column('expires_at', sa.DateTime().with_variant(sqlite.DATETIME(), 'sqlite'), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime().with_variant(sqlite.DATETIME(), 'sqlite'), nullable=False),
    sa.Column('revoked_at', sa.DateTime().with_variant(sqlite.DATETIME(), 'sqlite'), nullable=True),
    sa.Column('last_used_at', sa.DateTime().with_variant(sqlite.DATETIME(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_api_client_created_by_id_user')),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'], name=op.f('fk_api_client_institution_id_institution')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_client')),
    sa.UniqueConstraint('name', name=op.f('uq_api_client_name')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_client_token_hash'))
    )
    with op.batch_alter_table('api_client', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_client_institution_id'), ['institution_id'], unique=False)


def downgrade():
    with op.batch_alter_table('api_client', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_client_institution_id'))

    op.drop_table('api_client')
