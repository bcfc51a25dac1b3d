"""Per-configuration replication settings (protocol, bandwidth limit, upload window, batch
bounds, verification schedule) in t_exportSettings, beside the 2015 t_exportConfig.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('t_exportsettings',
    sa.Column('exportconfig', sa.Integer(), nullable=False),
    sa.Column('protocol', sa.String(length=8), nullable=True),
    sa.Column('bwlimit', sa.BigInteger(), nullable=True),
    sa.Column('windowstart', sa.Integer(), nullable=True),
    sa.Column('windowend', sa.Integer(), nullable=True),
    sa.Column('batchentities', sa.Integer(), nullable=True),
    sa.Column('batchbytes', sa.BigInteger(), nullable=True),
    sa.Column('verifyhours', sa.Integer(), nullable=True),
    sa.Column('lastverified', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['exportconfig'], ['t_exportconfig.internalid'], name=op.f('fk_exportsettings_exportconfig'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('exportconfig', name=op.f('pk_t_exportsettings'))
    )


def downgrade() -> None:
    op.drop_table('t_exportsettings')
