"""Events' wire JSON kept ready: t_eventwire, t_eventwirestale and the triggers that mark events
stale whenever a table their JSON is made of changes (SQLite and PostgreSQL; see _event_wire).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

import logging

import sqlalchemy as sa
from alembic import op

logger = logging.getLogger("meteorpi.db")


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

#: (table, the operations to watch, how the changed row names its events: 'event' for an
#: event id column, 'file' for a file id column whose linked events are affected, 'status' for
#: a camera status id whose events and files' events are affected), and the id column.
_WATCHED = (
    ('t_event', ('INSERT', 'UPDATE'), 'event', 'internalid'),
    ('t_eventmeta', ('INSERT', 'UPDATE', 'DELETE'), 'event', 'eventid'),
    ('t_event_to_file', ('INSERT', 'UPDATE', 'DELETE'), 'event', 'eventid'),
    ('t_file', ('UPDATE',), 'file', 'internalid'),
    ('t_filemeta', ('INSERT', 'UPDATE', 'DELETE'), 'file', 'fileid'),
    ('t_camerastatus', ('UPDATE',), 'status', 'internalid'),
)


def _events_of(kind: str, column: str, rows: str) -> str:
    """A SELECT of the ids (column ``eventid``) of the events that the changed rows ``rows`` (a
    table expression, aliased ``c``, with their id in ``column``) affect."""
    if kind == 'event':
        return f'SELECT c.{column} AS eventid FROM {rows} c'
    if kind == 'file':
        return f'SELECT l.eventid FROM t_event_to_file l JOIN {rows} c ON l.fileid = c.{column}'
    return (f'SELECT e.internalid AS eventid FROM t_event e JOIN {rows} c ON e.statusid = c.{column} '
            'UNION SELECT l.eventid FROM t_event_to_file l JOIN t_file f ON f.internalid = l.fileid '
            f'JOIN {rows} c ON f.statusid = c.{column}')


def _sqlite_mark(kind: str, column: str, row: str) -> str:
    events = _events_of(kind, column, f'(SELECT {row}.{column} AS {column})')
    return (f'DELETE FROM t_eventwire WHERE eventid IN ({events}); '
            f'INSERT INTO t_eventwirestale (eventid) SELECT x.eventid FROM ({events}) AS x '
            'WHERE NOT EXISTS (SELECT 1 FROM t_eventwirestale s WHERE s.eventid = x.eventid);')


def _sqlite_triggers() -> list[tuple[str, str]]:
    """Row triggers (SQLite has no others), one per table and operation."""
    triggers = []
    for table, operations, kind, column in _WATCHED:
        for operation in operations:
            name = f'mpi_wire_{table.removeprefix("t_")}_{operation.lower()}'[:31]
            rows = {'INSERT': ['NEW'], 'UPDATE': ['OLD', 'NEW'], 'DELETE': ['OLD']}[operation]
            body = ' '.join(_sqlite_mark(kind, column, row) for row in rows)
            triggers.append((name, f'CREATE TRIGGER {name} AFTER {operation} ON {table} '
                                   f'FOR EACH ROW BEGIN {body} END'))
    return triggers


_POSTGRESQL_MARK = (
    'CREATE FUNCTION mpi_wire_mark(events integer[]) RETURNS void LANGUAGE sql AS $$ '
    'DELETE FROM t_eventwire WHERE eventid = ANY(events); '
    'INSERT INTO t_eventwirestale (eventid) SELECT DISTINCT unnest(events) ON CONFLICT DO NOTHING $$')

#: Statement triggers see a statement's rows as transition tables: ``changed`` (the new rows,
#: or the deleted ones) and, for an update, ``previous`` (the rows as they were).
_TRANSITION = {'INSERT': 'NEW TABLE AS changed', 'DELETE': 'OLD TABLE AS changed',
               'UPDATE': 'OLD TABLE AS previous NEW TABLE AS changed'}


def _postgresql_function(kind: str, column: str) -> tuple[str, str]:
    name = f'mpi_wire_{kind}_{column}'
    return name, (
        f'CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN '
        f"PERFORM mpi_wire_mark(ARRAY({_events_of(kind, column, 'changed')})); "
        f"IF TG_OP = 'UPDATE' THEN PERFORM mpi_wire_mark(ARRAY({_events_of(kind, column, 'previous')})); "
        'END IF; RETURN NULL; END $$')


def _postgresql_triggers() -> list[tuple[str, str, str]]:
    """(table, trigger name, DDL): a statement trigger per table and operation, so that a bulk
    write marks its events once, not once per row."""
    return [(table, f'mpi_wire_{operation.lower()}',
             f'CREATE TRIGGER mpi_wire_{operation.lower()} AFTER {operation} ON {table} '
             f'REFERENCING {_TRANSITION[operation]} FOR EACH STATEMENT '
             f'EXECUTE FUNCTION {_postgresql_function(kind, column)[0]}()')
            for table, operations, kind, column in _WATCHED for operation in operations]


def _postgresql_functions() -> dict[str, str]:
    return dict(_postgresql_function(kind, column) for _, _, kind, column in _WATCHED)


def _create_triggers(dialect: str) -> None:
    if dialect == 'sqlite':
        for _, ddl in _sqlite_triggers():
            op.execute(ddl)
    elif dialect == 'postgresql':
        op.execute(_POSTGRESQL_MARK)
        for ddl in _postgresql_functions().values():
            op.execute(ddl)
        for _, _, ddl in _postgresql_triggers():
            op.execute(ddl)


def _drop_triggers(dialect: str) -> None:
    if dialect == 'sqlite':
        for name, _ in _sqlite_triggers():
            op.execute(f'DROP TRIGGER {name}')
    elif dialect == 'postgresql':
        for table, name, _ in _postgresql_triggers():
            op.execute(f'DROP TRIGGER {name} ON {table}')
        for name in _postgresql_functions():
            op.execute(f'DROP FUNCTION {name}()')
        op.execute('DROP FUNCTION mpi_wire_mark(integer[])')


def upgrade() -> None:
    op.create_table('t_eventwire',
    sa.Column('eventid', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['eventid'], ['t_event.internalid'], name=op.f('fk_eventwire_eventid'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('eventid', name=op.f('pk_t_eventwire'))
    )
    op.create_table('t_eventwirestale',
    sa.Column('eventid', sa.Integer(), autoincrement=False, nullable=False),
    sa.PrimaryKeyConstraint('eventid', name=op.f('pk_t_eventwirestale'))
    )
    dialect = op.get_bind().dialect.name
    _create_triggers(dialect)
    if dialect in ('sqlite', 'postgresql'):
        # The JSON of the events already here, built by the code this release ships.
        from meteorpi_fdb import _event_wire

        logger.info("Building the stored wire JSON of every event (once: a few minutes per million events)")
        _event_wire.mark_all_stale(op.get_bind())
        logger.info("Built the stored wire JSON of %d events", _event_wire.refresh_stale(op.get_bind()))


def downgrade() -> None:
    _drop_triggers(op.get_bind().dialect.name)
    op.drop_table('t_eventwirestale')
    op.drop_table('t_eventwire')
