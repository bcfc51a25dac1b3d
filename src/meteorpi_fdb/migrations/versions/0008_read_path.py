"""Fast read path: the change counter, covering metadata indexes, time-of-night count indexes.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-01
"""

import uuid

import sqlalchemy as sa
from alembic import op


revision = '0008'
down_revision = '0006'
branch_labels = None
depends_on = None

#: Firebird bumps a sequence after each commit instead of the row (see meteorpi_fdb._changes).
FIREBIRD_SEQUENCE = 'g_changecounter'
_META = (('t_eventmeta', 'eventmeta', 'eventid', 'event'), ('t_filemeta', 'filemeta', 'fileid', 'file'))
_VALUES = (('string', 'stringvalue'), ('float', 'floatvalue'), ('date', 'datevalue'))


def _old_name(short_table: str, column: str) -> str:
    """The 0001 index on (metakey, column), named by schema.py's convention (31 characters)."""
    return f'ix_{short_table}_metakey_{column}'[:31]


def upgrade() -> None:
    table = op.create_table('t_changecounter',
    sa.Column('internalid', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('counter', sa.BigInteger(), nullable=False),
    sa.Column('epoch', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('internalid', name=op.f('pk_t_changecounter'))
    )
    op.bulk_insert(table, [{'internalid': 1, 'counter': 0, 'epoch': uuid.uuid4().hex}])
    if op.get_bind().dialect.name == 'firebird':
        op.execute(f'CREATE SEQUENCE {FIREBIRD_SEQUENCE}')
    for table_name, short_table, owner, short_owner in _META:
        for kind, column in _VALUES:
            op.drop_index(_old_name(short_table, column), table_name=table_name)
            op.create_index(f'ix_{short_table}_key_{kind}_{short_owner}', table_name,
                            ['metakey', column, owner], unique=False)
    op.create_index(op.f('ix_event_cameraid_eventoffset'), 't_event', ['cameraid', 'eventoffset'], unique=False)
    op.create_index(op.f('ix_file_cameraid_fileoffset'), 't_file', ['cameraid', 'fileoffset'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_file_cameraid_fileoffset'), table_name='t_file')
    op.drop_index(op.f('ix_event_cameraid_eventoffset'), table_name='t_event')
    for table_name, short_table, owner, short_owner in _META:
        for kind, column in _VALUES:
            op.drop_index(f'ix_{short_table}_key_{kind}_{short_owner}', table_name=table_name)
            op.create_index(_old_name(short_table, column), table_name,
                            ['metakey', column], unique=False)
    if op.get_bind().dialect.name == 'firebird':
        op.execute(f'DROP SEQUENCE {FIREBIRD_SEQUENCE}')
    op.drop_table('t_changecounter')
