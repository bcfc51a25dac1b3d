"""Importing a whole batch of replicated entities at once (replication v2, target side).

:meth:`ImportBatchMixin.import_replicated_batch` takes camera status blocks, events and files
received from another node, plus the verified content the batch brought (already flushed to
disk under temporary names), and:

1. leaves alone what is already here (answered ``complete``);
2. renames each new file's content into the store and flushes the store's directory **once**;
3. inserts every status block, event and file record, with their import log rows, in **one
   transaction** (a savepoint per entity, so one inconsistent entity fails alone);
4. answers per entity.

Content is on disk before any row that points at it is committed, as everywhere (SPEC section
10). If the transaction fails, placed content stays where it is: an orphan that the store's
integrity check reports and that the next attempt recognises (never a row without content).

This is the replication importer's own write step, kept behind this one call so that it can be
swapped for the shared batch write path of the data layer.
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError

import meteorpi_model as model
from meteorpi_fdb import _record_checks as checks
from meteorpi_fdb import _record_rows as rows
from meteorpi_fdb import schema
from meteorpi_fdb._status import checked_status
from meteorpi_fdb.file_store import fsync_directory
from meteorpi_fdb.firebird import is_update_conflict

logger = logging.getLogger("meteorpi.db")


@dataclass
class BatchOutcome:
    """The result for one entity of a batch: ``state`` is ``complete`` or ``failed``."""

    entity_type: str
    entity_id: uuid.UUID
    state: str
    message: str | None = None

    def as_dict(self) -> dict[str, Any]:
        d = {"type": self.entity_type, "id": self.entity_id.hex, "state": self.state}
        if self.message:
            d["message"] = self.message
        return d


class ImportBatchMixin:
    """One-transaction import of a batch of replicated entities."""

    def import_replicated_batch(self, statuses: Sequence[model.CameraStatus],
                                entities: Sequence[model.Event | model.FileRecord],
                                content: dict[uuid.UUID, tuple[str, str]], user_id: str,
                                content_verified: Callable[[model.FileRecord], bool] | None = None,
                                ) -> list[BatchOutcome]:
        """Import a batch; one :class:`BatchOutcome` per entity, in order.

        :param statuses: status blocks the entities need that may be missing here
        :param entities: Events (with their file records) and FileRecords
        :param content: file id → (path of verified, flushed content, its MD5) brought by the
            batch; each is renamed into the store if its file is imported
        :param user_id: the importing user (recorded in the import log rows)
        :param content_verified: decides whether content already at a file's place in the
            store (from an earlier, interrupted attempt) is the record's; default: hash it
        """
        user_id = checks.checked_user_id(user_id)
        outcomes: list[BatchOutcome | None] = [None] * len(entities)
        checked: list[tuple[int, Any, list[model.FileRecord]]] = []
        for index, entity in enumerate(entities):
            kind = "event" if isinstance(entity, model.Event) else "file"
            try:
                entity, records = _checked(entity)
                checked.append((index, entity, records))
            except ValueError as error:
                outcomes[index] = BatchOutcome(kind, _entity_id(entity), "failed", str(error))
        with self.connection() as connection:
            events_here = _existing(connection, schema.t_event, "eventid",
                                    [e.event_id for _, e, _ in checked if isinstance(e, model.Event)])
            files_here = _existing(connection, schema.t_file, "fileid",
                                   [r.file_id for _, _, records in checked for r in records])
        todo = []
        placements: dict[uuid.UUID, tuple[str, str]] = {}
        for index, entity, records in checked:
            kind, entity_id = _kind_and_id(entity)
            if entity_id.hex in (events_here if kind == "event" else files_here):
                outcomes[index] = BatchOutcome(kind, entity_id, "complete")
                continue
            problem = None
            for record in records:
                if record.file_id.hex in files_here or record.file_id in placements:
                    continue
                problem = self._content_problem(record, content, content_verified)
                if problem is None and record.file_id in content:
                    placements[record.file_id] = content[record.file_id]
                if problem:
                    break
            if problem:
                outcomes[index] = BatchOutcome(kind, entity_id, "failed", problem)
            else:
                todo.append((index, entity))
        for file_id, (path, _md5) in placements.items():
            os.replace(path, self.file_path_for_id(file_id))
        if placements:
            fsync_directory(self.file_store.root)
        raced = self._insert_batch_rows(statuses, todo, user_id, outcomes)
        for index, entity in raced:
            kind, entity_id = _kind_and_id(entity)
            here = self.has_event_id(entity_id) if kind == "event" else self.has_file_id(entity_id)
            outcomes[index] = BatchOutcome(kind, entity_id, "complete" if here else "failed",
                                           None if here else "a concurrent import failed; try again")
        self.generators.cache_clear("status")
        self.generators.cache_clear("file")
        self.generators.cache_clear("event")
        done = sum(1 for outcome in outcomes if outcome is not None and outcome.state == "complete")
        logger.info("Imported a batch from user %s: %d of %d entities complete, %d files placed",
                    user_id, done, len(entities), len(placements))
        return [outcome for outcome in outcomes if outcome is not None]

    def _content_problem(self, record: model.FileRecord, content: dict[uuid.UUID, tuple[str, str]],
                         content_verified: Callable[[model.FileRecord], bool] | None) -> str | None:
        """Why ``record``'s content cannot be imported, or None if it can."""
        if record.md5 is None:
            return f"file {record.file_id.hex} has no content (no md5)"
        brought = content.get(record.file_id)
        if brought is not None:
            path, md5 = brought
            if md5 != record.md5 or os.path.getsize(path) != record.file_size:
                return f"the content sent for file {record.file_id.hex} does not match its record"
            return None
        path = self.file_path_for_id(record.file_id)
        if os.path.isfile(path) and os.path.getsize(path) == record.file_size:
            verified = content_verified(record) if content_verified else model.get_md5_hash(path) == record.md5
            if verified:
                return None
        return f"no content for file {record.file_id.hex}"

    def _insert_batch_rows(self, statuses: Sequence[model.CameraStatus], todo: list[tuple[int, Any]],
                           user_id: str, outcomes: list[BatchOutcome | None]) -> list[tuple[int, Any]]:
        """Insert statuses and entities in one transaction; entities that lost a race to a
        concurrent import are returned for a check after the commit."""
        raced: list[tuple[int, Any]] = []
        if not todo:
            return raced
        with self.transaction() as connection:
            wanted = [s for s in statuses if s.status_id is not None]
            present = _existing(connection, schema.t_camerastatus, "statusid", [s.status_id for s in wanted])
            for status in wanted:
                if status.status_id.hex in present:
                    continue
                present.add(status.status_id.hex)
                try:
                    checked = checked_status(status, status.camera_id, model.parse_uuid(status.status_id, "status_id"))
                    valid_from = model.utc_datetime_to_milliseconds(model.to_utc(status.valid_from, "valid_from"))
                    with connection.begin_nested():
                        self._insert_status(connection, checked, valid_from)
                except (ValueError, TypeError) as error:
                    logger.warning("status block %s not imported: %s", status.status_id.hex, error)
                except DBAPIError as error:
                    if not _raced(error):
                        raise
            for index, entity in todo:
                kind, entity_id = _kind_and_id(entity)
                try:
                    with connection.begin_nested():
                        if kind == "event":
                            rows.import_event_rows(connection, entity, user_id)
                        else:
                            rows.import_file_rows(connection, entity, user_id)
                    outcomes[index] = BatchOutcome(kind, entity_id, "complete")
                except ValueError as error:
                    outcomes[index] = BatchOutcome(kind, entity_id, "failed", str(error))
                except DBAPIError as error:
                    if not _raced(error):
                        raise
                    raced.append((index, entity))
        return raced


def _raced(error: DBAPIError) -> bool:
    return isinstance(error, IntegrityError) or is_update_conflict(error)


def _checked(entity: Any) -> tuple[Any, list[model.FileRecord]]:
    if isinstance(entity, model.FileRecord):
        record = checks.checked_imported_file(entity, "file")
        return record, [record]
    if not isinstance(entity, model.Event):
        raise ValueError(f"entity must be an Event or FileRecord, not {type(entity).__name__}")
    metas = checks.checked_metas(entity.meta, "event.meta")
    records = [checks.checked_imported_file(record, f"event.file_records[{i}]")
               for i, record in enumerate(checks.checked_list(entity.file_records, "event.file_records"))]
    checks.distinct_file_ids(records)
    event = model.Event(entity.camera_id, entity.event_time, entity.event_id, entity.event_type,
                        entity.status_id, records, metas)
    return event, records


def _kind_and_id(entity: Any) -> tuple[str, uuid.UUID]:
    if isinstance(entity, model.Event):
        return "event", entity.event_id
    return "file", entity.file_id


def _entity_id(entity: Any) -> uuid.UUID:
    try:
        return _kind_and_id(entity)[1]
    except AttributeError:
        return uuid.UUID(int=0)


def _existing(connection: Any, table: Any, column: str, ids: Sequence[uuid.UUID]) -> set[str]:
    """The hex ids among ``ids`` that have a row in ``table``."""
    found: set[str] = set()
    hexes = sorted({entity_id.hex for entity_id in ids})
    for start in range(0, len(hexes), rows.ID_BATCH):
        chunk = hexes[start:start + rows.ID_BATCH]
        found.update(connection.execute(select(table.c[column]).where(table.c[column].in_(chunk))).scalars())
    return found
