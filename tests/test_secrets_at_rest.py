"""The SQLite database (with its -wal and -shm) and the file store are created owner-only
whatever the umask, and ``meteorpi db info`` warns when they are not."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from meteorpi_fdb import MeteorDatabase
from tests.helpers import make_status, utc
from tests.server_helpers import cheap_password_hashing  # noqa: F401
from tests.test_cli import Cli, as_json, cli, data_dir  # noqa: F401


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(params=[0o022, 0o000], ids=["umask022", "umask000"])
def umask(request):
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def test_a_new_sqlite_database_and_file_store_are_owner_only(tmp_path: Path, umask):
    database, store = tmp_path / "node" / "meteorpi.db", tmp_path / "node" / "files"
    db = MeteorDatabase(f"sqlite:///{database}", str(store), installation_id="aabbccddeeff")
    try:
        make_status(db, None, utc(2015, 1, 1))  # a write: the -wal and -shm files exist now
        db.create_or_update_user("admin", "secret-password", ["camera_admin"])
        for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            assert path.exists() and mode(path) == 0o600, (path, oct(mode(path)))
        assert mode(store) == 0o700
        assert mode(database.parent) == 0o777 & ~umask  # the data directory is the user's own
    finally:
        db.close()


def test_existing_files_keep_their_permissions(tmp_path: Path, umask):
    store = tmp_path / "shared-files"
    store.mkdir()
    store.chmod(0o755)
    MeteorDatabase(f"sqlite:///{tmp_path / 'node.db'}", str(store), installation_id="aabbccddeeff").close()
    assert mode(store) == 0o755


def test_db_info_warns_when_secrets_are_readable_by_others(cli: Cli, db_url: str, data_dir: Path, backend):
    cli("db", "info")  # opens the node: the file store is created owner-only
    store = data_dir / "files"
    database = Path(make_url(db_url).database) if backend == "sqlite" else None
    if database is not None:
        database.chmod(0o600)  # the test database is a copy of a template, made with the umask
    quiet = cli("db", "info")
    assert "warning" not in quiet.output and as_json(cli("--json", "db", "info"))["permission_warnings"] == []

    store.chmod(0o755)
    if database is not None:
        database.chmod(0o644)
    loud = cli("db", "info")
    assert f"warning: directory {store} is accessible to other users (mode 0755" in loud.output
    warnings = as_json(cli("--json", "db", "info"))["permission_warnings"]
    named = {warning.split()[1] for warning in warnings}
    if database is None:
        assert named == {str(store)}
    else:  # SQLite makes the -wal and -shm files with the database file's mode
        assert f"warning: file {database} is accessible to other users (mode 0644" in loud.output
        assert {str(store), str(database)} <= named <= {str(store), str(database), f"{database}-wal",
                                                         f"{database}-shm"}
