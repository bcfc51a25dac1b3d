"""``MeteorDatabase``: one MeteorPi relational database plus its file store.

The class is assembled from mixins, one per area, so that each module stays small:
``_status`` (camera status, high water mark), ``_records`` (files, events, search, import),
``_batch`` (batch registration and import), ``_store_check`` (orphans: report, restore),
``_users`` (users and roles), ``_export`` (export configurations and the export queue),
``_grants`` (which cameras a user may write for), ``_pending`` (uploads awaiting records),
``_housekeeping`` (pruning under a retention policy), ``_storage`` (disk usage), ``_wire``
(search pages as JSON bytes for the HTTP API), ``_coincidences`` (multi-station meteors) and
``_activity`` (counts per camera and time bin), ``_camera_health`` and ``_database_size``.
This module holds what they share: the engine, transactions, the file store, the caches and
the installation id.
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Connection, Engine, delete

from meteorpi_fdb import _changes, _event_wire, migrate, schema
from meteorpi_fdb._activity import ActivityMixin
from meteorpi_fdb._batch import BatchMixin
from meteorpi_fdb._camera_health import CameraHealthMixin
from meteorpi_fdb._coincidences import CoincidencesMixin
from meteorpi_fdb._database_size import DatabaseSizeMixin
from meteorpi_fdb._export import ExportMixin
from meteorpi_fdb._export_batches import ExportBatchMixin
from meteorpi_fdb._export_queue import ExportQueueMixin
from meteorpi_fdb._export_settings import ExportSettingsMixin
from meteorpi_fdb._import_batch import ImportBatchMixin
from meteorpi_fdb._grants import GrantsMixin
from meteorpi_fdb._pending import PendingUploadsMixin
from meteorpi_fdb._housekeeping import HousekeepingMixin
from meteorpi_fdb._records import RecordsMixin
from meteorpi_fdb._replication_digest import ReplicationDigestMixin
from meteorpi_fdb._rollback import RollbackMixin
from meteorpi_fdb._status import StatusMixin
from meteorpi_fdb._store_check import StoreCheckMixin
from meteorpi_fdb._storage import StorageMixin
from meteorpi_fdb._users import UsersMixin
from meteorpi_fdb._raw import ThreadConnections
from meteorpi_fdb._wire import WireMixin
from meteorpi_fdb._wire_sqlite import register_functions
from meteorpi_fdb.engine import create_engine_for
from meteorpi_fdb.generators import MeteorDatabaseGenerators
from meteorpi_fdb.stores import is_bucket_location, open_file_store

logger = logging.getLogger("meteorpi.db")

_INSTALLATION_ID = re.compile(r"^[0-9a-f]{12}$")


def default_installation_id() -> str:
    """Twelve lower-case hex digits from this machine's MAC address."""
    return f"{uuid.getnode():012x}"


class MeteorDatabase(StatusMixin, RecordsMixin, BatchMixin, StoreCheckMixin, UsersMixin, ExportMixin,
                     ExportBatchMixin, ExportSettingsMixin, ImportBatchMixin, ReplicationDigestMixin,
                     GrantsMixin, PendingUploadsMixin, WireMixin, HousekeepingMixin, StorageMixin,
                     CoincidencesMixin, ActivityMixin, CameraHealthMixin, DatabaseSizeMixin,
                     ExportQueueMixin, RollbackMixin):
    """A single MeteorPi relational database and file store.

    :ivar db_path: the database location as given
    :ivar file_store_path: the directory holding file content, or ``s3://bucket/prefix`` for
        content in an S3-compatible bucket (docs/object-storage.md)
    :ivar file_store: the store itself (``meteorpi_fdb.stores.ContentStore``)
    :ivar engine: the SQLAlchemy engine (``con`` is an alias kept for the 2015 API)
    :ivar generators: lazy, cached entity loaders (:class:`MeteorDatabaseGenerators`)
    :ivar installation_id: the default camera id for this node (12 lower-case hex digits)
    """

    def __init__(
        self,
        db_path: str,
        file_store_path: str,
        db_user: str = "meteorpi",
        db_password: str = "meteorpi",
        installation_id: str | None = None,
    ) -> None:
        if installation_id is None:
            installation_id = default_installation_id()
        if not isinstance(installation_id, str) or not _INSTALLATION_ID.match(installation_id):
            raise ValueError("installation_id must be 12 lower-case hex characters")
        self.db_path = db_path
        self.file_store_path = (file_store_path if is_bucket_location(file_store_path)
                                else os.path.abspath(os.fspath(file_store_path)))
        self.installation_id = installation_id
        self.engine: Engine = create_engine_for(db_path, db_user, db_password)
        migrate.upgrade(self.engine)
        self.file_store = open_file_store(self.file_store_path)
        self.part_store = self.file_store.parts
        self.generators = MeteorDatabaseGenerators(self)
        self._raw_reads = (ThreadConnections(self.engine, register_functions if self.backend == "sqlite" else None)
                           if self.backend in ("sqlite", "postgresql") else None)

    @property
    def con(self) -> Engine:
        """The 2015 name for the database handle; here the SQLAlchemy engine."""
        return self.engine

    @property
    def backend(self) -> str:
        """The SQLAlchemy dialect name: 'sqlite', 'postgresql' or 'firebird'."""
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection in a write transaction, committed on success, rolled back on error.

        Every write transaction rebuilds the wire JSON of the events it changed (see
        ``_event_wire``) and advances the change counter (see ``_changes``).
        """
        with self.engine.connect().execution_options(sqlite_begin="IMMEDIATE") as connection:
            with connection.begin():
                yield connection
                _event_wire.refresh_stale(connection)
                _changes.bump_in_transaction(connection)
            _changes.bump_after_commit(connection)

    def change_stamp(self) -> str:
        """A stamp that changes whenever any process commits a write (see ``_changes``)."""
        if self._raw_reads is not None:
            return _changes.read_stamp_raw(self._raw_reads)
        with self.single_statement() as connection:
            return _changes.read_stamp(connection)

    @contextmanager
    def single_statement(self) -> Iterator[Connection]:
        """A connection for reads that are each one statement (a statement is its own snapshot):
        on PostgreSQL in autocommit, which saves the BEGIN and COMMIT round trips."""
        if self.backend != "postgresql":
            with self.connection() as connection:
                yield connection
            return
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            yield connection

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A connection for reads (one snapshot per transaction on every backend)."""
        with self.engine.connect() as connection:
            with connection.begin():
                yield connection

    def file_path_for_id(self, file_id: uuid.UUID) -> str:
        """The local path of a file's content; does not check that it exists.

        On a bucket store this is the file's place in the local read-through cache, fetched
        there from the bucket when the content exists (docs/object-storage.md)."""
        return self.file_store.local_path(file_id)

    def clear_database(self) -> None:
        """Delete every row and every stored file; the schema stays."""
        with self.transaction() as connection:
            for table in reversed(schema.ALL_TABLES):
                if table is not schema.t_changecounter:  # the counter only ever advances
                    connection.execute(delete(table))
        self.file_store.clear()
        self.generators.cache_clear_all()

    def close(self) -> None:
        """Release every pooled connection (and those reading the change stamp)."""
        if self._raw_reads is not None:
            self._raw_reads.close()
        self.engine.dispose()

    def __enter__(self) -> "MeteorDatabase":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MeteorDatabase(db_path={self.db_path!r}, file_store_path={self.file_store_path!r})"
