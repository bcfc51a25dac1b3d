"""Bring a database's schema to the newest version with Alembic, on first use and after upgrades."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

logger = logging.getLogger("meteorpi.db")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_PG_MIGRATION_LOCK = 0x4D455445  # any constant: serialises concurrent upgrades on PostgreSQL


NOT_SCHEMA_TABLES = frozenset({"meteorpi_lock"})  # Firebird's migration lock (see firebird.py)


def include_name(name: str | None, type_: str, _parent_names: dict) -> bool:
    """Alembic filter: leave bookkeeping tables that are not part of the schema out of comparisons."""
    return not (type_ == "table" and name is not None and name.lower() in NOT_SCHEMA_TABLES)


def alembic_config() -> Config:
    """An Alembic configuration that points at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The newest migration's revision id."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> bool:
    """Upgrade the schema to the head revision; return True if anything was migrated.

    Several processes may start at once against one new database (gunicorn workers): the
    upgrade runs in one transaction that first takes a lock (an advisory lock on PostgreSQL,
    ``BEGIN IMMEDIATE`` on SQLite, a row lock held on a separate connection on Firebird, whose
    DDL commits as it goes), then re-reads the revision, so only one of them migrates.
    """
    head = head_revision()
    if current_revision(engine) == head:
        return False
    config = alembic_config()
    with _firebird_lock(engine), engine.connect().execution_options(sqlite_begin="IMMEDIATE") as connection:
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
            if MigrationContext.configure(connection).get_current_revision() == head:
                return False
            logger.info("Upgrading database schema to revision %s", head)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    return True


def _firebird_lock(engine: Engine) -> contextlib.AbstractContextManager:
    if engine.dialect.name != "firebird":
        return contextlib.nullcontext()
    from meteorpi_fdb.firebird import firebird_migration_lock

    return firebird_migration_lock(engine)
