"""Multi-station meteors: coincidence groups, their members and trajectories, run state.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_NUMBERS = ("convergence", "beginlat", "beginlon", "beginheight", "endlat", "endlon",
            "endheight", "radiantra", "radiantdec", "radiantaz", "radiantel", "speed",
            "residual", "quality", "length")


def upgrade() -> None:
    op.create_table('t_coincidence',
    sa.Column('internalid', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('groupid', sa.String(length=32), nullable=False),
    sa.Column('groupkey', sa.String(length=32), nullable=False),
    sa.Column('firsttime', sa.BigInteger(), nullable=False),
    sa.Column('lasttime', sa.BigInteger(), nullable=False),
    sa.Column('computed', sa.BigInteger(), nullable=False),
    sa.Column('stations', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('internalid', name=op.f('pk_t_coincidence')),
    sa.UniqueConstraint('groupid', name=op.f('uq_coincidence_groupid')),
    sa.UniqueConstraint('groupkey', name=op.f('uq_coincidence_groupkey'))
    )
    op.create_index(op.f('ix_coincidence_firsttime_intern'), 't_coincidence', ['firsttime', 'internalid'], unique=False)
    op.create_table('t_coincidencestate',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('lastevent', sa.Integer(), nullable=False),
    sa.Column('updated', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_t_coincidencestate'))
    )
    op.create_table('t_coincidencemember',
    sa.Column('coincidence', sa.Integer(), nullable=False),
    sa.Column('eventid', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['coincidence'], ['t_coincidence.internalid'], name=op.f('fk_coincidencemember_coincidenc'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['eventid'], ['t_event.internalid'], name=op.f('fk_coincidencemember_eventid'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('coincidence', 'eventid', name=op.f('pk_t_coincidencemember'))
    )
    op.create_index(op.f('ix_coincidencemember_eventid'), 't_coincidencemember', ['eventid'], unique=True)
    op.create_table('t_trajectory',
    sa.Column('coincidence', sa.Integer(), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.String(length=255), nullable=True),
    sa.Column('stations', sa.Integer(), nullable=False),
    *(sa.Column(name, sa.Double(), nullable=True) for name in _NUMBERS),
    sa.ForeignKeyConstraint(['coincidence'], ['t_coincidence.internalid'], name=op.f('fk_trajectory_coincidence'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('coincidence', name=op.f('pk_t_trajectory'))
    )


def downgrade() -> None:
    op.drop_table('t_trajectory')
    op.drop_index(op.f('ix_coincidencemember_eventid'), table_name='t_coincidencemember')
    op.drop_table('t_coincidencemember')
    op.drop_table('t_coincidencestate')
    op.drop_index(op.f('ix_coincidence_firsttime_intern'), table_name='t_coincidence')
    op.drop_table('t_coincidence')
