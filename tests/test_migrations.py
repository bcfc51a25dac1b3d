"""Migrations build exactly the schema that ``schema.py`` declares, on every backend."""

from __future__ import annotations

import threading

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from meteorpi_fdb import migrate, schema
from meteorpi_fdb.engine import create_engine_for


@pytest.fixture
def engine(db_url: str):
    engine = create_engine_for(db_url)
    yield engine
    engine.dispose()


def differences(engine: Engine) -> list:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": migrate.include_name}
        )
        return compare_metadata(context, schema.metadata)


def downgrade_to_base(engine: Engine) -> None:
    config = migrate.alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")


def application_tables(engine: Engine) -> set[str]:
    ignored = {"alembic_version", *migrate.NOT_SCHEMA_TABLES}
    return {name for name in inspect(engine).get_table_names() if name not in ignored}


def test_a_migrated_database_has_exactly_the_declared_schema(engine):
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert differences(engine) == []
    assert application_tables(engine) == {table.name for table in schema.ALL_TABLES}


def test_upgrade_is_idempotent(engine):
    assert migrate.upgrade(engine) is False
    assert migrate.upgrade(engine) is False
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert differences(engine) == []


def test_downgrade_then_upgrade_rebuilds_the_same_schema(engine):
    downgrade_to_base(engine)
    assert application_tables(engine) == set()
    assert migrate.current_revision(engine) is None
    assert migrate.upgrade(engine) is True
    assert differences(engine) == []


def test_concurrent_upgrades_migrate_once(engine, db_url):
    downgrade_to_base(engine)
    engines = [create_engine_for(db_url) for _ in range(3)]
    results: list[bool] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(engines))

    def upgrade(each: Engine) -> None:
        start.wait()
        try:
            results.append(migrate.upgrade(each))
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=upgrade, args=(each,)) for each in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for each in engines:
        each.dispose()
    assert errors == []
    assert sorted(results) == [False, False, True]
    assert differences(engine) == []


def declared_names() -> list[tuple[str, str]]:
    """(kind, name) of every table, column, index and constraint that schema.py declares."""
    names = []
    for table in schema.ALL_TABLES:
        names.append(("table", table.name))
        names += [("column", f"{table.name}.{column.name}") for column in table.columns]
        names += [("index", index.name) for index in table.indexes]
        names += [("constraint", constraint.name) for constraint in table.constraints]
    return names


def test_every_declared_identifier_is_short_and_named():
    for kind, name in declared_names():
        assert name, f"an unnamed {kind}: every index and constraint needs an explicit name"
        short = name.split(".")[-1]
        assert len(short) <= schema.MAX_IDENTIFIER_LENGTH, f"{kind} {name} is longer than 31 characters"
        assert short == short.lower(), f"{kind} {name} is not lower case"


def test_index_and_constraint_names_are_unique_across_the_schema():
    # Firebird (and PostgreSQL, for indexes) need these names unique in the whole database.
    names = [name for kind, name in declared_names() if kind in ("index", "constraint")]
    assert len(names) == len(set(names))
    tables = [name for kind, name in declared_names() if kind == "table"]
    assert not set(names) & set(tables)


def test_the_database_holds_only_short_unique_names(engine):
    inspector = inspect(engine)
    names = []
    for table in application_tables(engine):
        assert len(table) <= schema.MAX_IDENTIFIER_LENGTH
        for column in inspector.get_columns(table):
            assert len(column["name"]) <= schema.MAX_IDENTIFIER_LENGTH
        # An index that only backs a unique constraint is reported under the constraint's name.
        names += [index["name"] for index in inspector.get_indexes(table) if "duplicates_constraint" not in index]
        names += [constraint["name"] for constraint in inspector.get_unique_constraints(table)]
        names += [key["name"] for key in inspector.get_foreign_keys(table)]
    assert len(names) > 2 * len(schema.ALL_TABLES)  # the inspector found names at all
    assert all(name and len(name) <= schema.MAX_IDENTIFIER_LENGTH for name in names)
    assert len(names) == len(set(names))


def test_the_comparison_notices_a_missing_index(engine):
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP INDEX ix_file_fileoffset")
    assert [difference[0] for difference in differences(engine)] == ["add_index"]
