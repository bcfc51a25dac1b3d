"""Files and events: registration, retrieval, search and import (a mixin of ``MeteorDatabase``).

Every public method validates all of its input before it touches the database or the file
store, and raises ``ValueError`` naming the offending field. ``register_file`` places content
first and commits the row second (see ``file_store``); the import methods expect content to be
in the store already and check it before writing anything.
"""

from __future__ import annotations

import logging
import os
import uuid
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import Connection, Table, select
from sqlalchemy.exc import IntegrityError

import meteorpi_model as model
from meteorpi_fdb import _record_checks as checks
from meteorpi_fdb import _record_rows as rows
from meteorpi_fdb import schema
from meteorpi_fdb.generators import FILE_COLUMNS, first_from_generator
from meteorpi_fdb.sql_builder import (SQLBuilder, search_events_sql_builder,
                                      search_files_sql_builder, to_text)

logger = logging.getLogger("meteorpi.db")

EVENT_COLUMNS = "e.cameraid, e.eventid, e.internalid, e.eventtime, e.eventtype, s.statusid"
_FILE_FROM = "t_file f, t_cameraStatus s"
_EVENT_FROM = "t_event e, t_cameraStatus s"


class RecordsMixin:
    """Register, fetch, search and import FileRecords and Events."""

    # --- registration -------------------------------------------------------------------

    def register_file(
        self,
        file_path: str | os.PathLike,
        mime_type: str,
        semantic_type: model.NSString | str,
        file_time: datetime,
        file_metas: Sequence[model.Meta] | None,
        camera_id: str | None = None,
        file_name: str | None = None,
    ) -> model.FileRecord:
        """Move ``file_path`` into the file store and record it; return the stored FileRecord.

        The camera (default: this installation) must have a status in force at ``file_time``.
        The source is removed only after the row commits: if the write fails or the process
        dies first, it is still where it was. A batch of one (see ``batch()``).
        """
        checks.checked_source(file_path, self.file_store.root)
        with self.batch(allow_duplicates=True) as batch:
            item = batch.add_file(file_path, mime_type, semantic_type, file_time, file_metas,
                                  camera_id=camera_id, file_name=file_name)
        if item.exception is not None:
            raise item.exception
        logger.debug("Registered file %s for camera %s", item.entity.file_id.hex, item.entity.camera_id)
        return item.entity

    def register_event(
        self,
        camera_id: str | None,
        event_time: datetime,
        event_type: model.NSString | str,
        file_records: Sequence[model.FileRecord] | None = None,
        event_meta: Sequence[model.Meta] | None = None,
    ) -> model.Event:
        """Record a new event backed by already-registered files; return the stored Event.

        ``camera_id`` None means this installation. The camera must have a status in force at
        ``event_time``; ``file_records`` must exist already and are linked in the given order.
        """
        with self.batch(allow_duplicates=True) as batch:
            item = batch.add_event(camera_id, event_time, event_type, file_records, event_meta)
        if item.exception is not None:
            raise item.exception
        logger.debug("Registered event %s for camera %s", item.entity.event_id.hex, item.entity.camera_id)
        return item.entity

    # --- retrieval ----------------------------------------------------------------------

    def get_file(self, file_id: uuid.UUID | str) -> model.FileRecord | None:
        """The FileRecord with this id, or None."""
        file_id = model.parse_uuid(file_id, "file_id")
        sql = f"SELECT {FILE_COLUMNS} FROM {_FILE_FROM} WHERE f.statusID = s.internalID AND f.fileID = ?"
        return self.generators.caches["file"].get(
            file_id, lambda: first_from_generator(self.generators.file_generator(sql, [file_id.hex]))
        )

    def get_event(self, event_id: uuid.UUID | str) -> model.Event | None:
        """The Event (with its files and metadata) with this id, or None."""
        event_id = model.parse_uuid(event_id, "event_id")
        sql = f"SELECT {EVENT_COLUMNS} FROM {_EVENT_FROM} WHERE e.statusID = s.internalID AND e.eventID = ?"
        return self.generators.caches["event"].get(
            event_id, lambda: first_from_generator(self.generators.event_generator(sql, [event_id.hex]))
        )

    def has_file_id(self, file_id: uuid.UUID | str) -> bool:
        """Whether a FileRecord with this id exists."""
        file_id = model.parse_uuid(file_id, "file_id")
        with self.connection() as connection:
            return rows.find_internal_id(connection, schema.t_file, "fileid", file_id) is not None

    def has_event_id(self, event_id: uuid.UUID | str) -> bool:
        """Whether an Event with this id exists."""
        event_id = model.parse_uuid(event_id, "event_id")
        with self.connection() as connection:
            return rows.find_internal_id(connection, schema.t_event, "eventid", event_id) is not None

    # --- search -------------------------------------------------------------------------

    def search_events(self, search: model.EventSearch) -> dict[str, Any]:
        """``{"count": N, "events": [...]}``: one page of matching events, newest first;
        ``count`` is the size of the whole result set."""
        if not isinstance(search, model.EventSearch):
            raise ValueError(f"search must be an EventSearch, not {type(search).__name__}")
        return self._search_page(
            search_events_sql_builder(search, dialect=self.backend), search, "events",
            EVENT_COLUMNS, "e.eventTime DESC, e.internalID DESC", self.generators.event_generator,
        )

    def search_files(self, search: model.FileRecordSearch) -> dict[str, Any]:
        """``{"count": N, "files": [...]}``: one page of matching files, newest first;
        ``count`` is the size of the whole result set."""
        if not isinstance(search, model.FileRecordSearch):
            raise ValueError(f"search must be a FileRecordSearch, not {type(search).__name__}")
        return self._search_page(
            search_files_sql_builder(search, dialect=self.backend), search, "files",
            FILE_COLUMNS, "f.fileTime DESC, f.internalID DESC", self.generators.file_generator,
        )

    def _search_page(self, builder: SQLBuilder, search: Any, key: str, columns: str, order: str,
                     generator: Any) -> dict[str, Any]:
        """The count and one page of ``builder``'s rows, read in one transaction (one snapshot)."""
        sql = builder.get_select_sql(columns=columns, order=order, limit=search.limit, skip=search.skip)
        with self.connection() as connection:
            return {
                "count": self._count(connection, builder),
                key: list(generator(sql, builder.sql_args, connection)),
            }

    @staticmethod
    def _count(connection: Connection, builder: SQLBuilder) -> int:
        """The size of the unrestricted result set, read in the page's own snapshot."""
        statement, params = to_text(builder.get_count_sql(), builder.sql_args)
        return connection.execute(statement, params).scalar_one()

    def _files_by_ids(self, file_ids: Sequence[uuid.UUID]) -> list[model.FileRecord]:
        """The FileRecords among ``file_ids`` that exist (in no particular order)."""
        records: list[model.FileRecord] = []
        for start in range(0, len(file_ids), rows.ID_BATCH):
            builder = SQLBuilder(_FILE_FROM, ["f.statusID = s.internalID"], self.backend)
            builder.add_set_membership([f.hex for f in file_ids[start : start + rows.ID_BATCH]], "f.fileID")
            sql = builder.get_select_sql(columns=FILE_COLUMNS)
            records.extend(self.generators.file_generator(sql, builder.sql_args))
        return records

    def recorded_md5s(self) -> dict[str, str | None]:
        """File id (hex) → recorded MD5 of every file record (``meteorpi store migrate``)."""
        with self.connection() as connection:
            rows = connection.execute(select(schema.t_file.c.fileid, schema.t_file.c.md5hex))
            return {row.fileid: row.md5hex for row in rows}

    def check_file_store(self) -> dict[str, list]:
        """Compare the file store with the database (an integrity check; reads only).

        Returns ``{"orphans": [...], "missing": [...], "strays": [...]}``: content files with no
        row (a crash between placing content and committing, or content uploaded for an
        import that has not arrived yet), ids of rows whose content is absent (unless it was
        pruned: ``pruned_file_ids``), and names in
        the store that are not content files (left-over temporaries).
        """
        stored = set(self.file_store.stored_ids())
        with self.connection() as connection:
            recorded = {uuid.UUID(hex=file_id) for file_id in connection.execute(select(schema.t_file.c.fileid)).scalars()}
        return {
            "orphans": sorted(stored - recorded),
            # Content pruned on purpose (housekeeping) is gone, not missing.
            "missing": sorted(recorded - stored - self.pruned_file_ids()),
            "strays": self.file_store.stray_files(),
        }

    # --- import -------------------------------------------------------------------------

    def import_file_record(self, file_record: model.FileRecord, user_id: str) -> int:
        """Import a FileRecord received from another node, keeping its ids; return its internal id.

        Its content must already be in the store (``file_path_for_id``) with the record's size
        and MD5, and its ``status_id`` must be the status in force for its camera at its time.
        A record that is already here is left alone.
        """
        record = checks.checked_imported_file(file_record, "file_record")
        user_id = checks.checked_user_id(user_id)
        with self.connection() as connection:
            existing = rows.find_internal_id(connection, schema.t_file, "fileid", record.file_id)
        if existing is not None:
            return existing
        self._verify_content(record)
        try:
            with self.transaction() as connection:
                internal_id = rows.import_file_rows(connection, record, user_id)
        except IntegrityError as error:
            return self._raced_import(error, schema.t_file, "fileid", record.file_id)
        self.generators.cache_clear("file")
        logger.info("Imported file %s from user %s", record.file_id.hex, user_id)
        return internal_id

    def import_event(self, event: model.Event, user_id: str) -> int:
        """Import an Event received from another node, keeping its ids; return its internal id.

        Its files that are not here yet are imported in the same transaction (their content
        must be in the store). Status ids must be the ones in force here. An event that is
        already here is left alone.
        """
        if not isinstance(event, model.Event):
            raise ValueError(f"event must be an Event, not {type(event).__name__}")
        user_id = checks.checked_user_id(user_id)
        metas = checks.checked_metas(event.meta, "event.meta")
        records = [
            checks.checked_imported_file(record, f"event.file_records[{index}]")
            for index, record in enumerate(checks.checked_list(event.file_records, "event.file_records"))
        ]
        file_ids = checks.distinct_file_ids(records)
        event = model.Event(event.camera_id, event.event_time, event.event_id, event.event_type,
                            event.status_id, records, metas)
        with self.connection() as connection:
            existing = rows.find_internal_id(connection, schema.t_event, "eventid", event.event_id)
            present = rows.file_internal_ids(connection, file_ids)
        if existing is not None:
            return existing
        for record in records:
            if record.file_id.hex not in present:
                self._verify_content(record)
        try:
            with self.transaction() as connection:
                internal_id = rows.import_event_rows(connection, event, user_id)
        except IntegrityError as error:
            return self._raced_import(error, schema.t_event, "eventid", event.event_id)
        self.generators.cache_clear("file")
        self.generators.cache_clear("event")
        self._events_arrived()
        logger.info("Imported event %s from user %s", event.event_id.hex, user_id)
        return internal_id

    def _verify_content(self, record: model.FileRecord) -> None:
        """Check that the store holds ``record``'s content with its size and MD5."""
        found = self.file_store.stat(record.file_id)
        if found is None:
            raise ValueError(f"no content in the file store for file {record.file_id.hex}")
        if found.size != record.file_size:
            raise ValueError(
                f"file_size of file {record.file_id.hex} is {record.file_size}, "
                f"but its stored content has {found.size} bytes"
            )
        size, md5 = self.file_store.hash_content(record.file_id)
        if record.md5 is None:
            record.md5 = md5
        elif md5 != record.md5:
            raise ValueError(f"md5 of file {record.file_id.hex} does not match its stored content")

    def _raced_import(self, error: IntegrityError, table: Table, column: str, entity_id: uuid.UUID) -> int:
        """After ``error``: the id of the row a concurrent import just wrote, else re-raise."""
        with self.connection() as connection:
            existing = rows.find_internal_id(connection, table, column, entity_id)
        if existing is None:
            raise error
        return existing
