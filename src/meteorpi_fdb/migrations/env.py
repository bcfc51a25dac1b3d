"""Alembic environment: runs migrations on the connection that ``meteorpi_fdb.migrate`` passes in."""

from alembic import context

from meteorpi_fdb.migrate import include_name
from meteorpi_fdb.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    include_name=include_name,
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
