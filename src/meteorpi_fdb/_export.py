"""Export configurations and the export queue (``t_eventExport`` / ``t_fileExport``).

A queue row is (entity, configuration, export time, state): state 0 is complete, 1 pending.
Marking runs a configuration's search straight into its queue with one ``INSERT … SELECT``, so
no model object is built however many rows match. Handing out the next task *claims* it: its
export time is moved forward by a lease with a compare-and-set ``UPDATE``, so two exporters
(threads, processes or hosts) never hold the same task at once, and a task whose exporter died
becomes due again when the lease runs out.

Firebird does not re-read a row that a concurrent transaction changed: the later writer gets an
update conflict. A claim that conflicts has lost the race (the next candidate is tried); other
writes to queue and configuration rows run their transaction again
(:func:`~meteorpi_fdb.firebird.retry_update_conflicts`).
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import uuid
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, and_, bindparam, case, delete, exc, func, insert, select, update

import meteorpi_model as model
from meteorpi_fdb import schema
from meteorpi_fdb._tasks import (STATE_COMPLETE, STATE_PENDING, EventExportTask, ExportTask,
                                 FileExportTask, seconds_to_milliseconds)
from meteorpi_fdb.firebird import is_update_conflict, retry_update_conflicts
from meteorpi_fdb.generators import EXPORT_COLUMNS, first_from_generator
from meteorpi_fdb.sql_builder import (search_events_sql_builder, search_files_sql_builder,
                                      to_text)

logger = logging.getLogger("meteorpi.db.export")

#: How long a task handed out by ``get_next_entity_to_export`` stays claimed by its exporter.
CLAIM_LEASE_SECONDS = 300
#: How many due tasks per queue are read at once when looking for one to claim.
_CANDIDATES = 8
#: How often marking is retried when a concurrent mark of the same configuration collides.
_MARK_ATTEMPTS = 3

_CONFIG = schema.t_exportconfig
# type → (queue table, queue entity column, entity table, entity UUID column, task class)
_QUEUES: dict[str, tuple[Any, str, Any, str, type[ExportTask]]] = {
    "event": (schema.t_eventexport, "eventid", schema.t_event, "eventid", EventExportTask),
    "file": (schema.t_fileexport, "fileid", schema.t_file, "fileid", FileExportTask),
}


class ExportMixin:
    """Export configurations, marking entities for export and the export queue."""

    def create_or_update_export_configuration(
        self, export_config: model.ExportConfiguration
    ) -> model.ExportConfiguration:
        """Store ``export_config``: insert it (assigning ``config_id`` on the supplied object
        when it has none) or update the stored configuration with that id.

        A ``password`` of None keeps the stored password when updating; creating needs one.
        Returns the configuration as stored. Raises ValueError on invalid fields.
        """
        values = _config_values(export_config)
        if export_config.config_id is None:
            config_id = uuid.uuid4()
        else:
            config_id = model.parse_uuid(export_config.config_id, "config_id")
        if values["targetpassword"] is None:
            values.pop("targetpassword")

        def store() -> int | None:
            with self.transaction() as connection:
                internal_id = _config_internal_id(connection, config_id)
                if internal_id is None:
                    if "targetpassword" not in values:
                        raise ValueError("password is required when creating an export configuration")
                    connection.execute(
                        insert(_CONFIG).values(exportconfigid=config_id.hex, failurecount=0, **values)
                    )
                else:
                    connection.execute(
                        update(_CONFIG).where(_CONFIG.c.internalid == internal_id).values(**values)
                    )
                return internal_id

        internal_id = retry_update_conflicts(store)
        self.generators.cache_clear("export")
        export_config.config_id = config_id
        action = "created" if internal_id is None else "updated"
        logger.info("%s export configuration %s", action, config_id.hex)
        return self.get_export_configuration(config_id)

    def get_export_configuration(self, config_id: uuid.UUID | str) -> model.ExportConfiguration | None:
        """The ExportConfiguration with this id, or None."""
        config_id = model.parse_uuid(config_id, "config_id")

        def load() -> model.ExportConfiguration | None:
            sql = f"SELECT {EXPORT_COLUMNS} FROM t_exportConfig c WHERE c.exportConfigID = ?"
            return first_from_generator(self.generators.export_configuration_generator(sql, [config_id.hex]))

        return self.generators.caches["export"].get(config_id.hex, load)

    def get_export_configurations(self) -> list[model.ExportConfiguration]:
        """Every ExportConfiguration on this node, oldest first."""
        sql = f"SELECT {EXPORT_COLUMNS} FROM t_exportConfig c ORDER BY c.internalID"
        return list(self.generators.export_configuration_generator(sql, []))

    def delete_export_configuration(self, config_id: uuid.UUID | str) -> bool:
        """Delete a configuration and its queue rows; False if there was none with this id."""
        config_id = model.parse_uuid(config_id, "config_id")

        def remove() -> int:
            with self.transaction() as connection:
                return connection.execute(delete(_CONFIG).where(_CONFIG.c.exportconfigid == config_id.hex)).rowcount

        deleted = retry_update_conflicts(remove)
        self.generators.cache_clear("export")
        return deleted > 0

    def set_export_configuration_enabled(self, config_id: uuid.UUID | str, enabled: bool) -> None:
        """Enable or disable a configuration; ValueError if there is none with this id."""
        if not isinstance(enabled, bool):
            raise ValueError(f"enabled must be a boolean, not {type(enabled).__name__}")
        self._update_config(config_id, active=enabled)
        self.generators.cache_clear("export")
        logger.info("export configuration %s %s", config_id, "enabled" if enabled else "disabled")

    def record_export_failure(self, config_id: uuid.UUID | str) -> int:
        """Count one more failure for a configuration and return the new count."""
        return self._update_config(config_id, failurecount=_CONFIG.c.failurecount + 1)

    def reset_export_failures(self, config_id: uuid.UUID | str) -> None:
        """Set a configuration's failure count back to zero."""
        self._update_config(config_id, failurecount=0)

    def _update_config(self, config_id: uuid.UUID | str, **values: Any) -> int:
        """Apply ``values`` to one configuration; return its failure count afterwards."""
        config_id = model.parse_uuid(config_id, "config_id")
        where = _CONFIG.c.exportconfigid == config_id.hex

        def apply() -> int:
            with self.transaction() as connection:
                if connection.execute(update(_CONFIG).where(where).values(**values)).rowcount != 1:
                    raise ValueError(f"no export configuration with config_id {config_id.hex}")
                return connection.execute(select(_CONFIG.c.failurecount).where(where)).scalar_one()

        return retry_update_conflicts(apply)

    def mark_entities_to_export(self, export_config: model.ExportConfiguration) -> int:
        """Queue every event or file matching the configuration's search that is not yet queued
        for it (complete or pending); return the number of rows added.

        The configuration must be stored; its search's ``limit`` and ``skip`` are ignored. As in
        2015, a disabled configuration marks nothing (returns 0), and a file configuration only
        marks files that belong to no event (``exclude_events``): an event's files travel with it.
        Files whose content housekeeping pruned, and events with such a file, are not marked:
        this node can no longer send them.
        """
        if not isinstance(export_config, model.ExportConfiguration):
            raise ValueError("export_config must be an ExportConfiguration")
        if export_config.config_id is None:
            raise ValueError("export_config has no config_id: store it before marking")
        config_id = model.parse_uuid(export_config.config_id, "config_id")
        if not export_config.enabled:
            return 0
        search = copy.deepcopy(export_config.search)
        search.exclude_export_to, search.limit, search.skip = config_id, 0, 0
        # Content pruned by housekeeping is gone from this node: its files, and the events
        # they belong to, can no longer be delivered, so a new configuration skips them.
        if isinstance(search, model.EventSearch):
            builder = search_events_sql_builder(search, dialect=self.backend)
            target, alias = "t_eventExport (eventID", "e"
            builder.where_clauses.append("NOT EXISTS (SELECT 1 FROM t_event_to_file l, t_prunedFile p "
                                         "WHERE l.eventID = e.internalID AND p.fileID = l.fileID)")
        else:
            search.exclude_events = True
            builder = search_files_sql_builder(search, dialect=self.backend)
            target, alias = "t_fileExport (fileID", "f"
            builder.where_clauses.append("NOT EXISTS (SELECT 1 FROM t_prunedFile p WHERE p.fileID = f.internalID)")
        for attempt in range(1, _MARK_ATTEMPTS + 1):
            try:
                with self.transaction() as connection:
                    internal_id = _config_internal_id(connection, config_id)
                    if internal_id is None:
                        raise ValueError(f"no export configuration with config_id {config_id.hex}")
                    now_ms = model.utc_datetime_to_milliseconds(model.now())
                    # Both literals are integers we produced; the search's values stay bound.
                    columns = f"{alias}.internalID, {int(internal_id)}, {int(now_ms)}, {STATE_PENDING}"
                    sql = (
                        f"INSERT INTO {target}, exportConfig, exportTime, exportState) "
                        + builder.get_select_sql(columns)
                    )
                    added = connection.execute(*to_text(sql, builder.sql_args)).rowcount
                break
            except exc.DBAPIError as error:
                # Another process marked the same rows first (on Firebird, while we waited for
                # its lock: an update conflict); its rows are now visible to us.
                raced = isinstance(error, exc.IntegrityError) or is_update_conflict(error)
                if attempt == _MARK_ATTEMPTS or not raced:
                    raise
        logger.info("marked %d %s(s) for export configuration %s", added, export_config.type, config_id.hex)
        return added

    def defer_export_tasks(self, config_id: uuid.UUID | str, seconds: float) -> int:
        """Move every pending task of this configuration due before now + ``seconds`` to exactly
        now + ``seconds``; later tasks and other configurations are untouched. Returns the number
        of tasks moved (0 for an unknown configuration)."""
        config_id = model.parse_uuid(config_id, "config_id")
        due = model.utc_datetime_to_milliseconds(model.now()) + seconds_to_milliseconds(seconds)
        config = select(_CONFIG.c.internalid).where(_CONFIG.c.exportconfigid == config_id.hex)

        def move() -> int:
            moved = 0
            with self.transaction() as connection:
                for queue, *_rest in _QUEUES.values():
                    moved += connection.execute(
                        update(queue)
                        .where(
                            queue.c.exportconfig == config.scalar_subquery(),
                            queue.c.exportstate == STATE_PENDING,
                            queue.c.exporttime < due,
                        )
                        .values(exporttime=due)
                    ).rowcount
            return moved

        moved = retry_update_conflicts(move)
        logger.info("deferred %d task(s) of export configuration %s by %ss", moved, config_id.hex, seconds)
        return moved

    def get_next_entity_to_export(self, lease_seconds: float = CLAIM_LEASE_SECONDS) -> ExportTask | None:
        """Claim and return the pending task due soonest (export time <= now) over the event and
        file queues of enabled configurations, or None when nothing is due.

        The claim moves the task's export time to now + ``lease_seconds``: until then no other
        caller gets it; if it is neither completed nor deferred by then, it is due again.
        """
        lease_ms = seconds_to_milliseconds(lease_seconds)
        if lease_ms <= 0:
            raise ValueError("lease_seconds must be positive")
        while True:
            now_ms = model.utc_datetime_to_milliseconds(model.now())
            with self.transaction() as connection:
                candidates = _due_candidates(connection, now_ms)
                if not candidates:
                    return None
                for entity_type, row, config in candidates:
                    if _claim(connection, entity_type, row, config, now_ms + lease_ms):
                        return self._task_from_rows(entity_type, row, config)
            # Every candidate was claimed by someone else meanwhile: look again.

    def _task_from_rows(self, entity_type: str, row: Any, config: Any) -> ExportTask:
        task_class = _QUEUES[entity_type][4]
        return task_class(
            self,
            model.parse_uuid(config.exportconfigid, "config_id"),
            config.internalid,
            model.parse_uuid(row.entity_uuid, f"{entity_type}_id"),
            row.entity_internal_id,
            model.milliseconds_to_utc_datetime(row.exporttime),
            row.exportstate,
            config.targeturl,
            config.targetuser,
            config.targetpassword,
            ca_bundle=config.cabundle,
        )

    def export_status(self) -> list[dict[str, Any]]:
        """Per configuration, oldest first: ``config_id``, ``name``, ``type``, ``enabled``,
        ``target_url``, ``pending`` and ``completed`` task counts, ``failure_count`` and
        ``next_export_time`` (the earliest pending export time, or None)."""
        counts: dict[int, dict[str, Any]] = {}
        with self.connection() as connection:
            for queue, *_rest in _QUEUES.values():
                pending = queue.c.exportstate != STATE_COMPLETE
                rows = connection.execute(
                    select(
                        queue.c.exportconfig,
                        func.sum(case((pending, 1), else_=0)),
                        func.sum(case((pending, 0), else_=1)),
                        func.min(case((pending, queue.c.exporttime), else_=None)),
                    ).group_by(queue.c.exportconfig)
                )
                for internal_id, n_pending, n_completed, next_time in rows:
                    entry = counts.setdefault(internal_id, {"pending": 0, "completed": 0, "next": None})
                    entry["pending"] += int(n_pending or 0)
                    entry["completed"] += int(n_completed or 0)
                    if next_time is not None and (entry["next"] is None or next_time < entry["next"]):
                        entry["next"] = next_time
            configs = connection.execute(select(_CONFIG).order_by(_CONFIG.c.internalid)).all()
        status = []
        for config in configs:
            entry = counts.get(config.internalid, {"pending": 0, "completed": 0, "next": None})
            status.append({
                "config_id": model.parse_uuid(config.exportconfigid, "config_id"),
                "name": config.exportname,
                "type": config.exporttype,
                "enabled": bool(config.active),
                "target_url": config.targeturl,
                "pending": entry["pending"],
                "completed": entry["completed"],
                "failure_count": config.failurecount,
                "next_export_time": None if entry["next"] is None
                else model.milliseconds_to_utc_datetime(int(entry["next"])),
            })
        return status


def _config_internal_id(connection: Connection, config_id: uuid.UUID) -> int | None:
    return connection.execute(
        select(_CONFIG.c.internalid).where(_CONFIG.c.exportconfigid == config_id.hex)
    ).scalar_one_or_none()


def _due_candidates(connection: Connection, now_ms: int) -> list[tuple[str, Any, Any]]:
    """Up to _CANDIDATES due, pending tasks per enabled configuration and queue, soonest first
    (then by internal id), each as (entity type, queue row, configuration row).

    One query per configuration and queue, each a range scan of the (exportconfig, exportstate,
    exporttime) index: a disabled configuration's backlog is never read.
    """
    configs = connection.execute(
        select(
            _CONFIG.c.internalid,
            _CONFIG.c.exportconfigid,
            _CONFIG.c.targeturl,
            _CONFIG.c.targetuser,
            _CONFIG.c.targetpassword,
            _CONFIG.c.cabundle,
        ).where(_CONFIG.c.active.is_(True))
    ).all()
    candidates = []
    for config in configs:
        for entity_type, (queue, column, entity_table, uuid_column, _task) in _QUEUES.items():
            rows = connection.execute(
                select(
                    queue.c[column].label("entity_internal_id"),
                    queue.c.exporttime,
                    queue.c.exportstate,
                    entity_table.c[uuid_column].label("entity_uuid"),
                )
                .join(entity_table, entity_table.c.internalid == queue.c[column])
                .where(
                    queue.c.exportconfig == config.internalid,
                    queue.c.exportstate == STATE_PENDING,
                    queue.c.exporttime <= now_ms,
                )
                .order_by(queue.c.exporttime, queue.c[column])
                .limit(_CANDIDATES)
            )
            candidates.extend((entity_type, row, config) for row in rows)
    # Ties in export time go in registration (internal id) order, as in 2015.
    candidates.sort(key=lambda c: (c[1].exporttime, c[1].entity_internal_id, c[0], c[2].internalid))
    return candidates


@functools.lru_cache(maxsize=None)
def _claim_statement(entity_type: str) -> Any:
    """The compare-and-set UPDATE of one task, built once per queue (a batch claims hundreds)."""
    queue, column = _QUEUES[entity_type][:2]
    return (update(queue)
            .where(and_(queue.c[column] == bindparam("entity"), queue.c.exportconfig == bindparam("config"),
                        queue.c.exporttime == bindparam("seen"), queue.c.exportstate == STATE_PENDING))
            .values(exporttime=bindparam("lease")))


def _claim(connection: Connection, entity_type: str, row: Any, config: Any, lease_until: int) -> bool:
    """Move one task's export time to ``lease_until`` if nobody has touched it since we read it.

    False when someone has: the row no longer matches (PostgreSQL and SQLite re-read it), or,
    on Firebird, an update conflict with the transaction that changed it. Firebird undoes only
    the failed statement, so the caller's transaction goes on to the next candidate.
    """
    try:
        result = connection.execute(_claim_statement(entity_type), {
            "entity": row.entity_internal_id, "config": config.internalid, "seen": row.exporttime,
            "lease": lease_until})
    except exc.DBAPIError as error:
        if not is_update_conflict(error):
            raise
        logger.debug("lost the claim of %s task %s to another exporter", entity_type, row.entity_uuid)
        return False
    return result.rowcount == 1


def _config_values(export_config: Any) -> dict[str, Any]:
    """The t_exportConfig column values of a configuration, checked; ValueError naming the field."""
    if not isinstance(export_config, model.ExportConfiguration):
        raise ValueError("export_config must be an ExportConfiguration")
    search = export_config.search
    if not isinstance(search, (model.EventSearch, model.FileRecordSearch)):
        raise ValueError("search must be an EventSearch or a FileRecordSearch")
    target_url = _checked_str(export_config.target_url, "target_url", schema.URL_LENGTH)
    parts = urlsplit(target_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"target_url must be an http:// or https:// URL with a host, got {target_url!r}")
    password = export_config.password
    if password is not None:
        password = _checked_str(password, "password", schema.NAME_LENGTH, allow_empty=True)
    if not isinstance(export_config.enabled, bool):
        raise ValueError("enabled must be a boolean")
    ca_bundle = export_config.ca_bundle
    if ca_bundle is not None:
        ca_bundle = _checked_str(ca_bundle, "ca_bundle", schema.URL_LENGTH)
    return {
        "exporttype": export_config.type,
        "searchstring": json.dumps(search.as_dict(), separators=(",", ":"), sort_keys=True),
        "targeturl": target_url,
        "targetuser": _checked_str(export_config.user_id, "user_id", schema.NAME_LENGTH),
        "targetpassword": password,
        "exportname": _checked_str(export_config.name, "config_name", schema.NAME_LENGTH),
        "description": _checked_str(
            export_config.description, "config_description", schema.URL_LENGTH, allow_empty=True
        ),
        "active": export_config.enabled,
        "cabundle": ca_bundle,
    }


def _checked_str(value: Any, field: str, max_length: int, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a string, not {type(value).__name__}")
    if not value and not allow_empty:
        raise ValueError(f"{field} must not be empty")
    if len(value) > max_length:
        raise ValueError(f"{field} is too long ({len(value)} characters, at most {max_length})")
    return value
