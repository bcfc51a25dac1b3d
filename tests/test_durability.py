"""Content first, row second (SPEC section 10): failures and crashes never leave a row without
its content, and whatever they do leave behind is found by ``check_file_store``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

import meteorpi_model as model
from meteorpi_fdb import file_store, schema
from tests.helpers import make_status, store_names, utc, write_content

#: Content first, row second holds on both stores (tests/object_store_helpers.py).
pytestmark = pytest.mark.both_stores

T0 = utc(2015, 5, 1)
FILE_TIME = T0 + timedelta(hours=3)
CONTENT = b"the only copy of a meteor"

FAILING_TRIGGER = {
    "sqlite": [
        "CREATE TRIGGER fail_meta BEFORE INSERT ON t_filemeta BEGIN SELECT RAISE(ABORT, 'simulated failure'); END",
    ],
    "postgresql": [
        "CREATE FUNCTION fail_meta() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'simulated failure'; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER fail_meta BEFORE INSERT ON t_filemeta FOR EACH ROW EXECUTE FUNCTION fail_meta()",
    ],
    "firebird": [
        "CREATE EXCEPTION simulated_failure 'simulated failure'",
        "CREATE TRIGGER fail_meta FOR t_filemeta BEFORE INSERT AS BEGIN EXCEPTION simulated_failure; END",
    ],
}


def file_rows(db) -> int:
    with db.connection() as connection:
        return connection.execute(select(func.count()).select_from(schema.t_file)).scalar_one()


def fail_metadata_inserts(db) -> None:
    """Make the database itself refuse the metadata insert, after the t_file row went in."""
    with db.transaction() as connection:
        for statement in FAILING_TRIGGER[db.backend]:
            connection.exec_driver_sql(statement)


def register(db, path: str) -> model.FileRecord:
    return db.register_file(path, "image/png", "meteorpi:raw", FILE_TIME, [model.Meta("meteorpi:x", 1.0)])


def assert_source_back_and_store_clean(db, path: str) -> None:
    with open(path, "rb") as reader:
        assert reader.read() == CONTENT
    assert file_rows(db) == 0
    assert db.check_file_store() == {"orphans": [], "missing": [], "strays": []}
    assert store_names(db.file_store) == []


def test_a_failed_insert_puts_the_file_back(db, tmp_path):
    make_status(db, None, T0)
    path = write_content(tmp_path / "in", CONTENT)
    fail_metadata_inserts(db)
    with pytest.raises(DBAPIError, match="simulated failure"):
        register(db, path)
    assert_source_back_and_store_clean(db, path)


def test_a_failed_commit_puts_the_file_back(db, tmp_path, monkeypatch):
    make_status(db, None, T0)
    path = write_content(tmp_path / "in", CONTENT)
    real_transaction = db.transaction

    @contextmanager
    def commit_fails():
        with real_transaction() as connection:
            yield connection
            assert file_rows_in(connection) == 1, "the row was written, the commit is next"
            raise OSError("simulated commit failure")

    monkeypatch.setattr(db, "transaction", commit_fails)
    with pytest.raises(OSError, match="simulated commit failure"):
        register(db, path)
    monkeypatch.undo()
    assert_source_back_and_store_clean(db, path)


def file_rows_in(connection) -> int:
    return connection.execute(select(func.count()).select_from(schema.t_file)).scalar_one()


@pytest.mark.directory_store("copying instead of hard-linking is the directory store's fallback")
def test_copying_across_filesystems_is_undone_too(db, tmp_path, monkeypatch):
    make_status(db, None, T0)
    monkeypatch.setattr(file_store, "_try_link", lambda source, target: False)
    path = write_content(tmp_path / "in", CONTENT)
    fail_metadata_inserts(db)
    with pytest.raises(DBAPIError):
        register(db, path)
    assert_source_back_and_store_clean(db, path)


@pytest.mark.directory_store("copying instead of hard-linking is the directory store's fallback")
def test_copying_across_filesystems_removes_the_source_after_the_commit(db, tmp_path, monkeypatch):
    make_status(db, None, T0)
    monkeypatch.setattr(file_store, "_try_link", lambda source, target: False)
    path = write_content(tmp_path / "in", CONTENT)
    record = register(db, path)
    assert not os.path.exists(path)
    with open(db.file_path_for_id(record.file_id), "rb") as reader:
        assert reader.read() == CONTENT
    assert db.check_file_store() == {"orphans": [], "missing": [], "strays": []}


CRASHING_REGISTER = textwrap.dedent("""
    import os, sys
    from datetime import datetime, timezone
    from meteorpi_fdb import MeteorDatabase, file_store

    url, store, path, when = sys.argv[1:]
    db = MeteorDatabase(url, store, installation_id="aabbccddeeff")
    if when == "before_commit":
        # Content is in place; the process dies before its transaction starts.
        db.transaction = lambda: os._exit(3)
    else:
        # Copying (no rename possible): the process dies before the temporary file is renamed.
        file_store._try_link = lambda source, target: False
        real_replace = os.replace
        def replace(source, target):
            if os.path.basename(source).startswith(file_store.TEMPORARY_PREFIX):
                os._exit(3)
            real_replace(source, target)
        os.replace = replace
    db.register_file(path, "image/png", "meteorpi:raw", datetime(2015, 5, 1, 3, tzinfo=timezone.utc), [])
    sys.exit("register_file returned; the crash did not happen")
""")


def crash_while_registering(db, db_url: str, path: str, when: str) -> None:
    db.close()  # embedded Firebird lets one process at a time open a database file
    finished = subprocess.run(
        [sys.executable, "-c", CRASHING_REGISTER, db_url, db.file_store_path, path, when],
        capture_output=True, text=True, timeout=120,
    )
    assert finished.returncode == 3, finished.stderr


def test_a_crash_after_placing_content_leaves_an_orphan_that_the_check_finds(db, db_url, tmp_path):
    make_status(db, None, T0)
    path = write_content(tmp_path / "in", CONTENT)
    crash_while_registering(db, db_url, path, "before_commit")
    assert file_rows(db) == 0
    report = db.check_file_store()
    [orphan] = report["orphans"]
    assert report["missing"] == [] and report["strays"] == []
    with open(db.file_path_for_id(orphan), "rb") as reader:
        assert reader.read() == CONTENT
    with open(path, "rb") as reader:  # the source survives until its row is committed
        assert reader.read() == CONTENT


@pytest.mark.directory_store("it kills the copy at the directory store's rename; a kill during a bucket's "
                             "multipart upload is tests/test_object_store_hosts.py's")
def test_a_crash_while_copying_leaves_a_stray_temporary_file(db, db_url, tmp_path):
    make_status(db, None, T0)
    path = write_content(tmp_path / "in", CONTENT)
    crash_while_registering(db, db_url, path, "while_copying")
    assert file_rows(db) == 0
    [stray] = db.file_store.stray_files()
    assert stray.startswith(file_store.TEMPORARY_PREFIX)
    assert db.check_file_store() == {"orphans": [], "missing": [], "strays": [stray]}
    with open(path, "rb") as reader:
        assert reader.read() == CONTENT
    assert list(db.file_store.stored_ids()) == []
