"""How a ``RegistrationBatch`` commits: decide, place, write, clean up (see ``_batch``).

``Plan.prepare`` hashes the sources and reads what the decisions need, marking duplicates and
failures; ``place`` puts the content of everything still to be written into the store and
flushes the directory once; ``write`` inserts all rows in one transaction; ``finish`` (after
the commit) removes moved sources and failed items' content, ``abandon`` (after a failed
transaction) removes all content the batch placed.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from typing import TYPE_CHECKING, Iterable

from sqlalchemy.exc import IntegrityError

import meteorpi_model as model
from meteorpi_fdb import _batch_rows as batch_rows
from meteorpi_fdb import schema
from meteorpi_fdb._batch import DUPLICATE, FAILED, REGISTERED, EventEntry, FileEntry
from meteorpi_fdb.stores.base import SourceFingerprint

if TYPE_CHECKING:
    from meteorpi_fdb._batch import RegistrationBatch

logger = logging.getLogger("meteorpi.db")


class Plan:
    def __init__(self, batch: "RegistrationBatch") -> None:
        self.batch = batch
        self.db = batch.db
        self.store = batch.db.file_store
        self.failed: dict[int, BaseException] = {}  # id(entry) -> why
        self.skipped: set[int] = set()  # id(entry) of duplicates
        self.pending_outcome: dict[int, str] = {}

    # --- helpers ------------------------------------------------------------------------

    def all_files(self) -> list[FileEntry]:
        return self.batch.files + [f for e in self.batch.events for f in e.files]

    def fail(self, entry: FileEntry | EventEntry, error: BaseException | str) -> None:
        """Mark ``entry`` failed; an event fails with its files, and a file with its event."""
        if isinstance(error, str):
            error = ValueError(error)
        if id(entry) in self.failed:
            return
        self.failed[id(entry)] = error
        if isinstance(entry, EventEntry):
            for file_entry in entry.files:
                if file_entry.item is not None:
                    self.fail(file_entry, ValueError(f"its event failed: {error}"))
        elif entry.event is not None:
            self.fail(entry.event, error)

    def live(self, entry: FileEntry | EventEntry) -> bool:
        return id(entry) not in self.failed and id(entry) not in self.skipped

    # --- 1. decide ----------------------------------------------------------------------

    def prepare(self) -> None:
        for entry in self.all_files():
            if entry.item is not None:
                self._hash(entry)
        references = [f for e in self.batch.events for f in e.files if f.item is None]
        new_files = [f for f in self.all_files() if f.is_new]
        new_events = [e for e in self.batch.events if e.importing_user is None]
        imports = [f for f in self.all_files() if f.importing_user is not None]
        with self.db.connection() as connection:
            timeline = batch_rows.StatusTimeline(
                connection, [f.record.camera_id for f in new_files] + [e.event.camera_id for e in new_events])
            near_files = ({} if self.batch.allow_duplicates else batch_rows.files_at(
                connection, [(f.record.camera_id, f.time_ms) for f in new_files]))
            near_events = ({} if self.batch.allow_duplicates else batch_rows.events_at(
                connection, [(e.event.camera_id, e.time_ms) for e in new_events]))
            present_files = batch_rows.existing_ids(
                connection, schema.t_file, "fileid", [f.record.file_id for f in imports + references])
            present_events = batch_rows.existing_ids(
                connection, schema.t_event, "eventid",
                [e.event.event_id for e in self.batch.events if e.importing_user is not None])
        self._resolve_references(references, present_files)
        for entry in new_files:
            status = timeline.in_force(entry.record.camera_id, entry.time_ms)
            if status is None:
                self.fail(entry, _no_status(entry.record.camera_id, entry.record.file_time))
        for event in new_events:
            if timeline.in_force(event.event.camera_id, event.time_ms) is None:
                self.fail(event, _no_status(event.event.camera_id, event.event.event_time))
        self._decide_new(near_files, near_events)
        self._decide_imports(imports, present_files, present_events)

    def _hash(self, entry: FileEntry) -> None:
        if entry.source is not None and entry.importing_user is not None \
                and entry.source == self.store.path_for_id(entry.record.file_id):
            entry.source = None  # the caller placed it at its final name already
        if entry.source is None:
            return
        try:  # a replication part is not read again: the store notes what it verified
            entry.fingerprint = self.store.fingerprint_source(entry.source)
        except FileNotFoundError:
            if entry.is_new and not self.batch.copy and not self.batch.allow_duplicates:
                entry.missing = True  # perhaps moved in by an interrupted run: see _decide_new
            else:
                self.fail(entry, f"file_path {entry.source} is not a readable file")
        except OSError as error:
            self.fail(entry, f"file_path {entry.source}: {error.strerror or error}")

    def _resolve_references(self, references: list[FileEntry], present: dict[str, int]) -> None:
        known = {record.file_id: record for record in self.db._files_by_ids(
            [f.record.file_id for f in references if f.record.file_id.hex in present])}
        for entry in references:
            record = known.get(entry.record.file_id)
            if record is None:
                self.fail(entry.event, f"file_records: no registered file with file_id {entry.record.file_id.hex}")
            else:
                entry.record = record
                entry.existing_internal_id = present[record.file_id.hex]

    def _decide_new(self, near_files: dict, near_events: dict) -> None:
        allow = self.batch.allow_duplicates
        claimed: set[int] = set()
        seen_files: dict[tuple, FileEntry] = {}
        for entry in self.batch.files:
            if not entry.is_new or not self.live(entry):
                continue
            match = None if allow else self._match_file(entry, near_files, claimed, stand_alone=True)
            key = (entry.record.camera_id, entry.time_ms, str(entry.record.semantic_type),
                   entry.fingerprint.md5 if entry.fingerprint else None)
            if match is not None:
                entry.duplicate_of = match.file_id
                entry.existing_internal_id = match.internal_id
                self.skipped.add(id(entry))
            elif entry.missing:
                self.fail(entry, f"file_path {entry.source} is not a readable file")
            elif not allow and key in seen_files:
                entry.duplicate_of = seen_files[key]
                self.skipped.add(id(entry))
            else:
                seen_files[key] = entry
        seen_events: dict[tuple, EventEntry] = {}
        for event in self.batch.events:
            if event.importing_user is not None or not self.live(event):
                continue
            matches = {}
            for entry in event.files:
                if entry.is_new and self.live(entry):
                    matches[id(entry)] = None if allow else self._match_file(entry, near_files, claimed, False)
                    if entry.missing and matches[id(entry)] is None:
                        self.fail(entry, f"file_path {entry.source} is not a readable file")
            if not self.live(event):
                continue
            md5s = sorted(_md5_of(entry, matches.get(id(entry))) or "" for entry in event.files)
            key = (event.event.camera_id, event.time_ms, str(event.event.event_type), tuple(md5s))
            existing = None if allow else next(
                (e for e in near_events.get(key[:2], []) if e.event_type == key[2]
                 and sorted(m or "" for m in e.md5s) == md5s), None)
            if existing is not None or (not allow and key in seen_events):
                event.duplicate_of = existing.event_id if existing is not None else seen_events[key]
                self.skipped.add(id(event))
                for entry in event.files:
                    if entry.item is not None:
                        self.skipped.add(id(entry))
                continue
            seen_events[key] = event
            for entry in event.files:
                match = matches.get(id(entry))
                if match is not None:  # registered before without this event: link it
                    claimed.add(match.internal_id)
                    entry.duplicate_of = match.file_id
                    entry.existing_internal_id = match.internal_id
                    self.skipped.add(id(entry))

    def _match_file(self, entry: FileEntry, near: dict, claimed: set[int], stand_alone: bool):
        """A registered file that ``entry`` duplicates (by MD5, or by name when its source is gone)."""
        for candidate in near.get((entry.record.camera_id, entry.time_ms), []):
            if candidate.internal_id in claimed or candidate.semantic_type != str(entry.record.semantic_type):
                continue
            if entry.missing:
                if entry.record.file_name is not None and candidate.file_name == entry.record.file_name:
                    return candidate
            elif candidate.md5 == entry.fingerprint.md5 and (stand_alone or entry.missing or not candidate.in_event):
                return candidate
        return None

    def _decide_imports(self, imports: list[FileEntry], present_files: dict, present_events: dict) -> None:
        for event in self.batch.events:
            if event.importing_user is not None and event.event.event_id.hex in present_events:
                event.duplicate_of = event.event.event_id.hex
                self.skipped.add(id(event))
                self.skipped.update(id(entry) for entry in event.files)
        for entry in imports:
            if not self.live(entry):
                continue
            if entry.record.file_id.hex in present_files:
                entry.duplicate_of = entry.record.file_id.hex
                entry.existing_internal_id = present_files[entry.record.file_id.hex]
                self.skipped.add(id(entry))
                continue
            try:
                self._check_import_content(entry)
            except (ValueError, OSError) as error:
                self.fail(entry, error)

    def _check_import_content(self, entry: FileEntry) -> None:
        record = entry.record
        if entry.source is not None and self.store.has_content(record.file_id):
            entry.source, entry.fingerprint = None, None  # resumed: verify what is there
        found = entry.fingerprint if entry.source is not None else None
        if found is None:
            try:
                found = SourceFingerprint(*self.store.hash_content(record.file_id), ())
            except FileNotFoundError:
                raise ValueError(f"no content in the file store for file {record.file_id.hex}") from None
        if found.size != record.file_size:
            raise ValueError(f"file_size of file {record.file_id.hex} is {record.file_size}, "
                             f"but its content has {found.size} bytes")
        if record.md5 is None:
            record.md5 = found.md5
        elif found.md5 != record.md5:
            raise ValueError(f"md5 of file {record.file_id.hex} does not match its content")

    # --- 2. place -----------------------------------------------------------------------

    def place(self) -> None:
        placed_any = False
        for entry in self.all_files():
            if entry.item is None or not self.live(entry) or entry.source is None:
                continue
            try:
                stored = self.store.place(entry.record.file_id, entry.source, entry.fingerprint,
                                          copy=self.batch.copy and entry.is_new)
            except (ValueError, OSError) as error:
                self.fail(entry, error)
                continue
            entry.placed = stored.path
            entry.record.file_size, entry.record.md5 = stored.size, stored.md5
            placed_any = True
        if placed_any:
            self.store.flush()

    # --- 3. write -----------------------------------------------------------------------

    def write(self) -> None:
        for attempt in (1, 2):
            try:
                with self.db.transaction() as connection:
                    self._write_rows(connection)
                return
            except IntegrityError:
                if attempt == 2:
                    raise
                # Another writer imported some of our ids meanwhile: decide again, once.
                self.pending_outcome.clear()

    def _write_rows(self, connection) -> None:
        for item, status, valid_from in self.batch.statuses:
            present = batch_rows.existing_ids(connection, schema.t_camerastatus, "statusid", [status.status_id])
            if present:
                self.pending_outcome[id(item)] = DUPLICATE
            else:
                self.db._insert_status(connection, status, valid_from)
                self.pending_outcome[id(item)] = REGISTERED
        timeline = batch_rows.StatusTimeline(connection, self._cameras())
        self._recheck_imports(connection)
        status_of = {}
        for entry in self._live_entries():
            status = self._status_for(connection, timeline, entry)
            if status is None:
                continue
            status_of[id(entry)] = status
            if entry.importing_user is None:
                if isinstance(entry, EventEntry):
                    entry.event.status_id = uuid.UUID(hex=status.status_id)
                else:
                    entry.record.status_id = uuid.UUID(hex=status.status_id)
        writer = batch_rows.RowWriter(connection)
        events = [e for e in self.batch.events if self.live(e) and id(e) in status_of]
        to_insert = [f for f in self.batch.files if self.live(f) and id(f) in status_of]
        to_insert += [f for e in events for f in e.files if f.item is not None and self.live(f)]
        ids = writer.files([(f.record, status_of[id(f)].internal_id, f.importing_user) for f in to_insert])
        for entry, internal_id in zip(to_insert, ids):
            entry.existing_internal_id = internal_id
        writer.events([(e.event, status_of[id(e)].internal_id, [f.existing_internal_id for f in e.files],
                        e.importing_user) for e in events])
        writer.finish()

    def _cameras(self) -> set[str]:
        return ({f.record.camera_id for f in self.all_files()}
                | {e.event.camera_id for e in self.batch.events})

    def _live_entries(self) -> Iterable[FileEntry | EventEntry]:
        for event in self.batch.events:
            if self.live(event):
                yield event
                yield from (f for f in event.files if f.item is not None and self.live(f))
        yield from (f for f in self.batch.files if self.live(f))

    def _recheck_imports(self, connection) -> None:
        imports = [f for f in self.all_files() if f.importing_user is not None and self.live(f)]
        present = batch_rows.existing_ids(connection, schema.t_file, "fileid", [f.record.file_id for f in imports])
        for entry in imports:
            if entry.record.file_id.hex in present:
                entry.existing_internal_id = present[entry.record.file_id.hex]
                entry.duplicate_of = entry.record.file_id.hex
                self.skipped.add(id(entry))
        events = [e for e in self.batch.events if e.importing_user is not None and self.live(e)]
        present = batch_rows.existing_ids(connection, schema.t_event, "eventid", [e.event.event_id for e in events])
        for event in events:
            if event.event.event_id.hex in present:
                event.duplicate_of = event.event.event_id.hex
                self.skipped.add(id(event))

    def _status_for(self, connection, timeline, entry):
        """The status in force for ``entry``; for an import, it must be the one it names."""
        if isinstance(entry, EventEntry):
            camera_id, when, named = entry.event.camera_id, entry.event.event_time, entry.event.status_id
            what, importing = f"event {entry.event.event_id.hex}", entry.importing_user is not None
        else:
            camera_id, when, named = entry.record.camera_id, entry.record.file_time, entry.record.status_id
            what, importing = f"file {entry.record.file_id.hex}", entry.importing_user is not None
        status = timeline.in_force(camera_id, model.utc_datetime_to_milliseconds(when))
        if not importing:
            if status is None:
                self.fail(entry, _no_status(camera_id, when))
            return status
        if status is not None and status.status_id == named.hex:
            return status
        if not batch_rows.existing_ids(connection, schema.t_camerastatus, "statusid", [named]):
            self.fail(entry, f"{what}: status_id {named.hex} is not a known camera status")
        else:
            self.fail(entry, f"{what}: status_id {named.hex} is not the status in force for camera "
                             f"{camera_id} at {when.isoformat()}")
        return None

    # --- 4. clean up --------------------------------------------------------------------

    def abandon(self, error: BaseException) -> None:
        """The transaction failed: nothing was written; take out every piece of content placed."""
        for entry in self.all_files():
            if entry.placed is not None:
                self.store.remove(entry.record.file_id)
                entry.placed = None
        for item in self.batch.items:
            item.outcome, item.error, item.exception = FAILED, str(error) or type(error).__name__, error

    def finish(self) -> None:
        for item, status, _valid_from in self.batch.statuses:
            item.outcome = self.pending_outcome.get(id(item), REGISTERED)
            item.entity = status
        for entry in self.all_files():
            if id(entry) in self.failed and entry.placed is not None:
                self.store.remove(entry.record.file_id)
            elif entry.source is None or entry.fingerprint is None or (self.batch.copy and entry.is_new):
                continue
            elif self.live(entry) or id(entry) in self.skipped:
                # Committed, or its content is registered already: the move is done.
                self.store.discard_source(entry.source)
        self._outcomes()
        for name, written in (("file", self.all_files()), ("event", self.batch.events),
                              ("status", self.batch.statuses)):
            if written:
                self.db.generators.cache_clear(name)

    def _outcomes(self) -> None:
        duplicate_files: dict[str, list[FileEntry]] = defaultdict(list)
        for entry in self.all_files():
            if entry.item is None:
                continue
            self._set_outcome(entry)
            if entry.item.outcome == DUPLICATE and isinstance(entry.duplicate_of, str):
                duplicate_files[entry.duplicate_of].append(entry)
        for record in self.db._files_by_ids([uuid.UUID(hex=h) for h in duplicate_files]):
            for entry in duplicate_files[record.file_id.hex]:
                entry.item.entity = record
        for entry in self.all_files():
            if entry.item is not None and isinstance(entry.duplicate_of, FileEntry):
                entry.item.entity = entry.duplicate_of.item.entity
        for event in self.batch.events:
            self._set_outcome(event)
            if event.item.outcome == REGISTERED:
                event.event.file_records = [f.item.entity if f.item is not None else f.record for f in event.files]
                event.item.entity = event.event
            elif isinstance(event.duplicate_of, str):
                event.item.entity = self.db.get_event(uuid.UUID(hex=event.duplicate_of))
            elif isinstance(event.duplicate_of, EventEntry):
                event.item.entity = event.duplicate_of.item.entity

    def _set_outcome(self, entry: FileEntry | EventEntry) -> None:
        item = entry.item
        if id(entry) in self.failed:
            error = self.failed[id(entry)]
            item.outcome, item.error, item.exception = FAILED, str(error), error
        elif id(entry) in self.skipped:
            item.outcome = DUPLICATE
        else:
            item.outcome = REGISTERED
            if isinstance(entry, FileEntry):
                item.entity = entry.record


def _md5_of(entry: FileEntry, match) -> str | None:
    if entry.fingerprint is not None:
        return entry.fingerprint.md5
    if match is not None:
        return match.md5
    return entry.record.md5


def _no_status(camera_id: str, when) -> str:
    return f"no camera status in force for camera {camera_id} at {when.isoformat()}"

