"""Pruned files: t_prunedfile marks files whose content housekeeping removed.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('t_prunedfile',
    sa.Column('fileid', sa.Integer(), nullable=False),
    sa.Column('prunedtime', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['fileid'], ['t_file.internalid'], name=op.f('fk_prunedfile_fileid'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('fileid', name=op.f('pk_t_prunedfile'))
    )


def downgrade() -> None:
    op.drop_table('t_prunedfile')
