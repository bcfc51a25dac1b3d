"""Pruning: removing old content (and optionally records) under a retention policy (a mixin of
``MeteorDatabase``; the policy itself is ``housekeeping.HousekeepingPolicy``).

Crash safety. A prune first marks the chosen files pruned (rows in ``t_prunedfile``) and
commits; only then does it delete their content; with ``remove_records`` it deletes the
records last. A crash at any point leaves every row either with its content or marked pruned,
and never content without a row; the next prune finishes what an interrupted one started
(marked rows whose content is still there).

What is never pruned: files an export configuration has not yet delivered to its target
(:meth:`HousekeepingMixin.unconfirmed_file_ids`).
"""

from __future__ import annotations

import copy
import logging
import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterable

from sqlalchemy import Connection, delete, exc, insert, select

import meteorpi_model as model
from meteorpi_fdb import schema
from meteorpi_fdb._tasks import STATE_COMPLETE
from meteorpi_fdb.firebird import is_update_conflict
from meteorpi_fdb.housekeeping import LOW_WATER_FRACTION, HousekeepingPolicy, StorageFullError
from meteorpi_fdb.sql_builder import search_events_sql_builder, search_files_sql_builder, to_text

logger = logging.getLogger("meteorpi.db")

_BATCH = 500
_MARK_ATTEMPTS = 3
_FILE, _PRUNED = schema.t_file, schema.t_prunedfile


@dataclass(frozen=True)
class PrunedFile:
    """One file a prune removed (or, in a dry run, would remove)."""

    file_id: uuid.UUID
    camera_id: str
    semantic_type: str
    file_time: datetime
    file_size: int
    had_content: bool


@dataclass
class PruneResult:
    """What a prune removed: ``files`` (oldest first within each type, in prune order),
    ``bytes_freed``, ``protected`` (old files kept because an export has not delivered them),
    ``records_removed`` (or, in a dry run, would be) and ``dry_run``."""

    files: list[PrunedFile] = field(default_factory=list)
    protected: int = 0
    records_removed: bool = False
    dry_run: bool = False

    @property
    def bytes_freed(self) -> int:
        return sum(f.file_size for f in self.files if f.had_content)

    def by_semantic_type(self) -> dict[str, dict[str, int]]:
        summary: dict[str, dict[str, int]] = {}
        for pruned in self.files:
            entry = summary.setdefault(pruned.semantic_type, {"files": 0, "bytes": 0})
            entry["files"] += 1
            entry["bytes"] += pruned.file_size if pruned.had_content else 0
        return summary


class HousekeepingMixin:
    """Prune old content, keep to the quota, and say which files were pruned."""

    def pruned_time(self, file_id: uuid.UUID | str) -> datetime | None:
        """When this file's content was pruned, or None (not pruned, or no such file)."""
        file_id = model.parse_uuid(file_id, "file_id")
        with self.connection() as connection:
            pruned = connection.execute(
                select(_PRUNED.c.prunedtime).select_from(_FILE.join(_PRUNED, _PRUNED.c.fileid == _FILE.c.internalid))
                .where(_FILE.c.fileid == file_id.hex)
            ).scalar()
        return None if pruned is None else model.milliseconds_to_utc_datetime(pruned)

    def pruned_file_ids(self) -> set[uuid.UUID]:
        """The ids of every file whose content was pruned."""
        with self.connection() as connection:
            rows = connection.execute(
                select(_FILE.c.fileid).select_from(_FILE.join(_PRUNED, _PRUNED.c.fileid == _FILE.c.internalid))
            ).scalars()
            return {uuid.UUID(hex=file_id) for file_id in rows}

    def unconfirmed_file_ids(self) -> set[uuid.UUID]:
        """The ids of files an export has not yet delivered to its target (pruning keeps them)."""
        with self.connection() as connection:
            internal_ids = self._unconfirmed_internal_ids(connection)
            rows = connection.execute(select(_FILE.c.fileid, _FILE.c.internalid)).all()
        return {uuid.UUID(hex=row.fileid) for row in rows if row.internalid in internal_ids}

    def _unconfirmed_internal_ids(self, connection: Connection, before: datetime | None = None) -> set[int]:
        """Internal ids of files whose delivery no target has confirmed yet: pruning keeps them.

        A file is unconfirmed when, for some export configuration, it (or an event it belongs
        to) has a task that is not complete (state 0) — whether or not the configuration is
        enabled, since the exporter disables a configuration whose target keeps failing — or
        when it matches an enabled configuration's search but is not queued yet. ``before``
        narrows the file-search part to older files (the only ones a prune looks at).
        This is the one place that decides "confirmed as received".
        """
        found: set[int] = set()
        found.update(connection.execute(
            select(schema.t_fileexport.c.fileid).where(schema.t_fileexport.c.exportstate != STATE_COMPLETE)
        ).scalars())
        links, queue = schema.t_event_to_file, schema.t_eventexport
        found.update(connection.execute(
            select(links.c.fileid).join(queue, queue.c.eventid == links.c.eventid)
            .where(queue.c.exportstate != STATE_COMPLETE)
        ).scalars())
        for config in self.get_export_configurations():
            if config.enabled:
                found.update(self._unqueued_matches(connection, config, before))
        return found

    def _unqueued_matches(self, connection: Connection, config: model.ExportConfiguration,
                          before: datetime | None) -> Iterable[int]:
        """Internal ids of files an enabled configuration would export but has not queued."""
        search = copy.deepcopy(config.search)
        search.exclude_export_to, search.limit, search.skip = config.config_id, 0, 0
        if isinstance(search, model.FileRecordSearch):
            search.exclude_events = True  # as mark_entities_to_export: files travel with events
            if before is not None and (search.before is None or search.before > before):
                search.before = before
            if search.after is not None and search.before is not None and search.before < search.after:
                return ()
            builder = search_files_sql_builder(search, dialect=self.backend)
            sql = builder.get_select_sql("f.internalID")
        else:
            builder = search_events_sql_builder(search, dialect=self.backend)
            sql = (f"SELECT l.fileID FROM t_event_to_file l WHERE l.eventID IN "
                   f"({builder.get_select_sql('e.internalID')})")
        return connection.execute(*to_text(sql, builder.sql_args)).scalars()

    def prune(self, policy: HousekeepingPolicy, now: datetime | None = None, bytes_to_free: int | None = None,
              dry_run: bool = False, advance: Callable[[int], None] = lambda n: None) -> PruneResult:
        """Apply ``policy``: prune content older than its kept nights, in its prune order.

        With ``bytes_to_free``, stop once that much content is chosen (lowest priority and
        oldest first); otherwise prune every eligible file. ``dry_run`` changes nothing and
        reports what would go. ``advance(n)`` is called as content is deleted (progress bars).
        """
        cutoff = policy.cutoff(now)
        if dry_run:
            with self.connection() as connection:
                result, _ = self._plan(connection, policy, cutoff, bytes_to_free)
            result.dry_run, result.records_removed = True, policy.remove_records
            return result
        result = self._mark(policy, cutoff, bytes_to_free)
        # The marks are committed: from here on a crash leaves marked rows, never lost ones.
        self._remove_pruned_content(advance)
        if policy.remove_records:
            self._delete_records([f.file_id for f in result.files])
            result.records_removed = True
        self.generators.cache_clear("file")
        self.generators.cache_clear("event")
        logger.info("pruned %d file(s) older than %s, %d bytes; %d kept for export", len(result.files),
                    cutoff.isoformat(), result.bytes_freed, result.protected)
        return result

    def _mark(self, policy: HousekeepingPolicy, cutoff: datetime, bytes_to_free: int | None) -> PruneResult:
        """Plan and mark (one transaction, committed); planned again if a concurrent prune
        marked some of the same files first."""
        attempt = 1
        while True:
            try:
                with self.transaction() as connection:
                    result, new_marks = self._plan(connection, policy, cutoff, bytes_to_free)
                    now_ms = model.utc_datetime_to_milliseconds(model.now())
                    for start in range(0, len(new_marks), _BATCH):
                        connection.execute(insert(_PRUNED), [{"fileid": internal_id, "prunedtime": now_ms}
                                                             for internal_id in new_marks[start:start + _BATCH]])
                return result
            except exc.DBAPIError as error:
                raced = isinstance(error, exc.IntegrityError) or is_update_conflict(error)
                if attempt >= _MARK_ATTEMPTS or not raced:
                    raise
            attempt += 1

    def _plan(self, connection: Connection, policy: HousekeepingPolicy, cutoff: datetime,
              bytes_to_free: int | None) -> tuple[PruneResult, list[int]]:
        """The files to prune (as a result) and the internal ids among them to mark now."""
        cutoff_ms = model.utc_datetime_to_milliseconds(cutoff)
        statement = (
            select(_FILE.c.internalid, _FILE.c.fileid, _FILE.c.cameraid, _FILE.c.semantictype,
                   _FILE.c.filetime, _FILE.c.filesize, _PRUNED.c.fileid.label("pruned"))
            .select_from(_FILE.outerjoin(_PRUNED, _PRUNED.c.fileid == _FILE.c.internalid))
            .where(_FILE.c.filetime < cutoff_ms)
        )
        if not policy.remove_records:
            statement = statement.where(_PRUNED.c.fileid.is_(None))
        candidates = [row for row in connection.execute(statement)
                      if policy.priority(row.semantictype) is not None]
        unconfirmed = self._unconfirmed_internal_ids(connection, cutoff) if candidates else set()
        candidates.sort(key=lambda row: (policy.priority(row.semantictype), row.filetime, row.internalid))
        result, marks, chosen_bytes = PruneResult(), [], 0
        for row in candidates:
            if row.internalid in unconfirmed:
                result.protected += 1
                continue
            if bytes_to_free is not None and chosen_bytes >= bytes_to_free:
                break
            has_content = row.pruned is None
            result.files.append(PrunedFile(uuid.UUID(hex=row.fileid), row.cameraid, row.semantictype,
                                           model.milliseconds_to_utc_datetime(row.filetime),
                                           int(row.filesize), has_content))
            if has_content:
                marks.append(row.internalid)
                chosen_bytes += int(row.filesize)
        return result, marks

    def _remove_pruned_content(self, advance: Callable[[int], None]) -> int:
        """Delete the content of every file marked pruned that still has some (this prune's,
        and any an interrupted prune left); return how many were deleted."""
        stored = set(self.file_store.stored_ids())
        removed = 0
        for file_id in sorted(self.pruned_file_ids() & stored):
            self.file_store.remove(file_id)
            removed += 1
            advance(1)
        if removed:
            self.file_store.flush()
        return removed

    def _delete_records(self, file_ids: list[uuid.UUID]) -> None:
        """Delete pruned file records (metadata, event links and queue rows cascade)."""
        for start in range(0, len(file_ids), _BATCH):
            batch = [file_id.hex for file_id in file_ids[start:start + _BATCH]]
            with self.transaction() as connection:
                pruned = select(_PRUNED.c.fileid)
                connection.execute(delete(_FILE).where(_FILE.c.fileid.in_(batch), _FILE.c.internalid.in_(pruned)))

    def bytes_over_quota(self, policy: HousekeepingPolicy, incoming_bytes: int = 0) -> int:
        """0 while use plus ``incoming_bytes`` is under the high-water mark (or there is none);
        else the bytes to free to get back under :data:`LOW_WATER_FRACTION` of it."""
        if policy.high_water is None:
            return 0
        space = self.disk_space(policy)
        high_water = policy.high_water.of(space.capacity)
        if space.used + incoming_bytes < high_water:
            return 0
        return max(1, space.used + incoming_bytes - int(high_water * LOW_WATER_FRACTION))

    def enforce_quota(self, policy: HousekeepingPolicy, now: datetime | None = None, incoming_bytes: int = 0,
                      advance: Callable[[int], None] = lambda n: None) -> PruneResult | None:
        """Keep the storage within ``policy``'s quota before ``incoming_bytes`` more arrive.

        At or above the high-water mark, prune (within the retention policy) until use is
        below :data:`LOW_WATER_FRACTION` of it. Then, if free space less ``incoming_bytes``
        would be below the floor, raise :class:`StorageFullError`. Returns the prune's result,
        or None when none was needed.
        """
        result = None
        excess = self.bytes_over_quota(policy, incoming_bytes)
        if excess:
            if policy.retain_nights < 1:
                logger.warning("storage is above the high-water mark, but no retention policy "
                               "allows pruning (MPI_RETAIN_NIGHTS)")
            else:
                result = self.prune(policy, now, bytes_to_free=excess, advance=advance)
        space = self.disk_space(policy)
        if policy.floor is not None:
            floor = policy.floor.of(space.capacity)
            if space.free - incoming_bytes < floor:
                raise StorageFullError(
                    f"registration refused: {space.free:,} bytes free on {space.path} "
                    f"({space.source}), {incoming_bytes:,} bytes to register, and the hard floor "
                    f"MPI_QUOTA_FLOOR is {policy.floor} ({floor:,} bytes); prune old data "
                    f"('meteorpi prune') or free space")
        return result
