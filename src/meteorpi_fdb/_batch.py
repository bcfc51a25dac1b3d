"""Batch registration and import: many files and events placed and committed together.

``with db.batch() as batch:`` collects new files and events (``add_file``, ``add_event``) and
entities received from another node with their ids (``import_status``, ``import_file``,
``import_event``); leaving the block commits them all. A commit

1. hashes every source and reads, in a few statements, what the batch needs to decide: the
   camera statuses in force, rows the new entities might duplicate, ids already imported;
2. places the content of every file that will be written (temporary name in the store, file
   flushed, size and MD5 checked, renamed), then flushes the store's directory once;
3. writes every row in ONE transaction: an event and its files commit together or not at all;
4. only then removes the sources of moved files, so a crash at any moment leaves each source
   either where it was or committed (at worst with a leftover copy in the store, which
   ``check_file_store`` reports). If the transaction fails, the content placed is removed and
   the error propagates: nothing of the batch is registered and every source is still there.

Each added entity gets a :class:`BatchItem` saying what happened to it: ``registered``,
``duplicate`` (already registered: skipped) or ``error`` (with the reason; the rest of the
batch goes on). A new file duplicates a registered one with the same camera, time, semantic
type and MD5; a new event one with the same camera, time, type and set of file MD5s. With
``allow_duplicates=True`` new entities are always registered (as ``register_file`` and
``register_event`` always did). Imported entities are duplicates when their id is present.
"""

from __future__ import annotations

import logging
import os
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterator, Mapping, Sequence

import meteorpi_model as model
from meteorpi_fdb import _record_checks as checks
from meteorpi_fdb._status import checked_imported_status
from meteorpi_fdb.stores.base import Part, SourceFingerprint

logger = logging.getLogger("meteorpi.db")

REGISTERED = "registered"
DUPLICATE = "duplicate"
FAILED = "error"


@dataclass(eq=False)
class BatchItem:
    """What happened to one entity of a batch (``outcome`` is None until the batch commits).

    :ivar kind: ``"file"``, ``"event"`` or ``"status"``
    :ivar key: whatever the caller passed as ``key`` (to match items to its own input)
    :ivar outcome: ``REGISTERED``, ``DUPLICATE`` or ``FAILED``
    :ivar entity: the stored FileRecord, Event or CameraStatus; for a duplicate, the one
        already registered
    :ivar error: why the entity failed (also in ``exception``)
    :ivar files: for an event, the items of the files it brought (not of registered files
        it only links)
    """

    kind: str
    key: Any = None
    outcome: str | None = None
    entity: Any = None
    error: str | None = None
    exception: BaseException | None = None
    files: list["BatchItem"] = field(default_factory=list)


@dataclass(eq=False)
class FileEntry:
    """A file of the batch: new (``source`` is its path), imported (``importing_user`` set;
    ``source`` None when its content is in the store already), or a registered file that a
    new event links (``item`` None)."""

    item: BatchItem | None
    record: model.FileRecord
    source: str | Part | None = None
    importing_user: str | None = None
    event: "EventEntry | None" = None
    fingerprint: SourceFingerprint | None = None
    missing: bool = False
    placed: str | None = None
    existing_internal_id: int | None = None
    duplicate_of: "FileEntry | str | None" = None

    @property
    def is_new(self) -> bool:
        return self.item is not None and self.importing_user is None

    @property
    def time_ms(self) -> int:
        return model.utc_datetime_to_milliseconds(self.record.file_time)


@dataclass(eq=False)
class EventEntry:
    item: BatchItem
    event: model.Event
    files: list[FileEntry]
    importing_user: str | None = None
    duplicate_of: "EventEntry | str | None" = None

    @property
    def time_ms(self) -> int:
        return model.utc_datetime_to_milliseconds(self.event.event_time)


class RegistrationBatch:
    """Files and events to register or import together; see the module docstring.

    Use it through ``MeteorDatabase.batch()``. ``copy=True`` copies new files' content and
    never touches their sources; otherwise (move) each source is removed once its row is
    committed, or once its content is found registered already (a duplicate by MD5).
    """

    def __init__(self, db, allow_duplicates: bool = False, copy: bool = False) -> None:
        self.db = db
        self.allow_duplicates = allow_duplicates
        self.copy = copy
        self.items: list[BatchItem] = []
        self.files: list[FileEntry] = []
        self.events: list[EventEntry] = []
        self.statuses: list[tuple[BatchItem, model.CameraStatus, int]] = []
        self._by_item: dict[int, FileEntry] = {}
        self._committed = False

    # --- adding -------------------------------------------------------------------------

    def add_file(self, file_path: str | os.PathLike, mime_type: str, semantic_type: model.NSString | str,
                 file_time: datetime, file_metas: Sequence[model.Meta] | None = None,
                 camera_id: str | None = None, file_name: str | None = None, *, key: Any = None) -> BatchItem:
        """A new file (arguments as ``register_file``). Bad arguments raise ``ValueError`` at
        once; a source that is missing or unreadable is the item's error at commit (in move
        mode a missing source that matches a registered file by camera, time, semantic type
        and file name is taken to be moved in already: a duplicate)."""
        record = checks.new_file_record(camera_id if camera_id is not None else self.db.installation_id,
                                        mime_type, semantic_type, file_time, file_metas, file_name)
        record.file_id = uuid.uuid4()
        source = checks.checked_source_path(file_path, self.db.file_store.root)
        item = self._item("file", key)
        entry = FileEntry(item, record, source)
        self.files.append(entry)
        self._by_item[id(item)] = entry
        return item

    def add_event(self, camera_id: str | None, event_time: datetime, event_type: model.NSString | str,
                  files: Sequence[BatchItem | model.FileRecord] | None = None,
                  event_meta: Sequence[model.Meta] | None = None, *, key: Any = None) -> BatchItem:
        """A new event (arguments as ``register_event``). ``files`` are items of this batch's
        ``add_file`` (they become the event's files and commit with it) or FileRecords of
        registered files; the order is kept."""
        event = model.Event(
            camera_id=camera_id if camera_id is not None else self.db.installation_id,
            event_time=event_time, event_id=uuid.uuid4(), event_type=event_type,
            status_id=checks.UNKNOWN_STATUS, file_records=[],
            meta=checks.checked_metas(event_meta, "event_meta"),
        )
        entries: list[FileEntry] = []
        for index, given in enumerate(checks.checked_list(files, "file_records")):
            if isinstance(given, BatchItem):
                entry = self._by_item.get(id(given))
                if entry is None or entry.event is not None or entry.importing_user is not None:
                    raise ValueError(f"file_records[{index}] is not a new file of this batch, or "
                                     "belongs to another event already")
            elif isinstance(given, model.FileRecord):
                entry = FileEntry(None, given)
            else:
                raise ValueError(f"file_records[{index}] must be a FileRecord or a BatchItem, "
                                 f"not {type(given).__name__}")
            entries.append(entry)
        checks.distinct_file_ids([entry.record for entry in entries])
        item = self._item("event", key)
        entry = EventEntry(item, event, entries)
        for file_entry in entries:
            file_entry.event = entry
            if file_entry.item is not None:
                self.files.remove(file_entry)
                item.files.append(file_entry.item)
        self.events.append(entry)
        return item

    def import_status(self, status: model.CameraStatus, *, key: Any = None) -> BatchItem:
        """A status block from another node, with its id, camera and ``valid_from`` (as
        ``import_camera_status``); written before the batch's files and events, which may
        refer to it."""
        checked, valid_from = checked_imported_status(status)
        item = self._item("status", key)
        self.statuses.append((item, checked, valid_from))
        return item

    def import_file(self, file_record: model.FileRecord, user_id: str,
                    content_path: str | os.PathLike | Part | None = None, *, key: Any = None) -> BatchItem:
        """A FileRecord from another node, keeping its ids (as ``import_file_record``; the
        import is logged as ``user_id``'s). Its content is taken from ``content_path`` (moved
        into the store; the path is removed once the record is committed or found present)
        or, when None, must be in the store already. Size and MD5 must match the record. A
        :class:`~meteorpi_fdb.stores.base.Part` (a replication part of the store) is trusted as
        hashed and flushed when it was received, and is not read again (``place_part``)."""
        record = checks.checked_imported_file(file_record, "file_record")
        user_id = checks.checked_user_id(user_id)
        item = self._item("file", key)
        source = None if content_path is None else _content_source(content_path)
        self.files.append(FileEntry(item, record, source, importing_user=user_id))
        return item

    def import_event(self, event: model.Event, user_id: str,
                     content_paths: Mapping[uuid.UUID | str, str | os.PathLike | Part] | None = None,
                     *, key: Any = None) -> BatchItem:
        """An Event from another node with its files, keeping their ids (as ``import_event``).
        Files not here yet are imported with it; ``content_paths`` maps their file ids to
        where their content is (otherwise it must be in the store already)."""
        if not isinstance(event, model.Event):
            raise ValueError(f"event must be an Event, not {type(event).__name__}")
        user_id = checks.checked_user_id(user_id)
        metas = checks.checked_metas(event.meta, "event.meta")
        records = [checks.checked_imported_file(record, f"event.file_records[{index}]")
                   for index, record in enumerate(checks.checked_list(event.file_records, "event.file_records"))]
        checks.distinct_file_ids(records)
        paths = {model.parse_uuid(file_id, "content_paths").hex: path for file_id, path in (content_paths or {}).items()}
        event = model.Event(event.camera_id, event.event_time, event.event_id, event.event_type,
                            event.status_id, records, metas)
        item = self._item("event", key)
        entry = EventEntry(item, event, [], importing_user=user_id)
        for record in records:
            path = paths.get(record.file_id.hex)
            source = None if path is None else _content_source(path)
            file_item = BatchItem("file")
            entry.files.append(FileEntry(file_item, record, source, importing_user=user_id, event=entry))
            item.files.append(file_item)
        self.events.append(entry)
        return item

    def _item(self, kind: str, key: Any) -> BatchItem:
        if self._committed:
            raise ValueError("this batch has been committed already")
        item = BatchItem(kind, key)
        self.items.append(item)
        return item

    # --- committing ---------------------------------------------------------------------

    def commit(self) -> list[BatchItem]:
        """Place, write and clean up (see the module docstring); return every item."""
        if self._committed:
            raise ValueError("this batch has been committed already")
        self._committed = True
        from meteorpi_fdb._batch_plan import Plan

        plan = Plan(self)
        plan.prepare()
        try:
            plan.place()
            plan.write()
        except BaseException as error:
            plan.abandon(error)
            raise
        plan.finish()
        return self.items


class BatchMixin:
    """``MeteorDatabase.batch()``."""

    @contextmanager
    def batch(self, allow_duplicates: bool = False, copy: bool = False) -> Iterator[RegistrationBatch]:
        """Collect files and events and commit them together when the block ends.

        ``allow_duplicates``: register new entities even when they are registered already.
        ``copy``: copy new files' content and leave their sources (default: move them; each
        source is removed only after its row commits). If the block raises, nothing is
        placed or written. After the block, each item's ``outcome`` says what happened::

            with db.batch() as batch:
                image = batch.add_file("m/0123.png", "image/png", "meteorpi:meteor_image", when, [])
                meteor = batch.add_event(None, when, "meteorpi:meteor", [image])
            print(meteor.outcome, meteor.entity)
        """
        batch = RegistrationBatch(self, allow_duplicates=allow_duplicates, copy=copy)
        yield batch
        batch.commit()


__all__ = ["BatchItem", "BatchMixin", "DUPLICATE", "FAILED", "REGISTERED", "RegistrationBatch"]


def _content_source(content: str | os.PathLike | Part) -> str | Part:
    """Imported content: a path, or a verified replication part held by the store."""
    return content if isinstance(content, Part) else checks.checked_source_path(content, None)
