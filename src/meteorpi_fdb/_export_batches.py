"""The export queue in batches (replication v2): claim many tasks of one configuration at once,
complete them in one transaction, put them back, and re-queue what a target turned out to lack.

A batch claim is the 2015 single claim repeated inside one transaction: each task's export time
is moved to the end of the lease with a compare-and-set ``UPDATE``, so two exporters never hold
the same task, and a task whose exporter died becomes due again when its lease runs out.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, Iterable, Sequence

from sqlalchemy import func, select, update

import meteorpi_model as model
from meteorpi_fdb import schema
from meteorpi_fdb._export import _QUEUES, CLAIM_LEASE_SECONDS, _claim
from meteorpi_fdb._record_rows import ID_BATCH
from meteorpi_fdb._records import EVENT_COLUMNS
from meteorpi_fdb.sql_builder import SQLBuilder
from meteorpi_fdb._tasks import STATE_COMPLETE, STATE_PENDING, ExportTask, seconds_to_milliseconds
from meteorpi_fdb.firebird import retry_update_conflicts

logger = logging.getLogger("meteorpi.db.export")

_CONFIG = schema.t_exportconfig


class ExportBatchMixin:
    """Batch claims and completions over the export queue."""

    def due_export_configs(self) -> list[uuid.UUID]:
        """Enabled configurations with a pending task due now, soonest-due first."""
        now_ms = model.utc_datetime_to_milliseconds(model.now())
        soonest: dict[str, int] = {}
        with self.connection() as connection:
            for queue, *_rest in _QUEUES.values():
                rows = connection.execute(
                    select(_CONFIG.c.exportconfigid, func.min(queue.c.exporttime))
                    .join(queue, queue.c.exportconfig == _CONFIG.c.internalid)
                    .where(_CONFIG.c.active.is_(True), queue.c.exportstate == STATE_PENDING,
                           queue.c.exporttime <= now_ms)
                    .group_by(_CONFIG.c.exportconfigid)
                )
                for config_id, due in rows:
                    soonest[config_id] = min(due, soonest.get(config_id, due))
        return [uuid.UUID(hex=c) for c, _ in sorted(soonest.items(), key=lambda item: item[1])]

    def claim_export_batch(self, config_id: uuid.UUID | str, max_entities: int, max_bytes: int,
                           lease_seconds: float = CLAIM_LEASE_SECONDS) -> list[ExportTask]:
        """Claim up to ``max_entities`` due tasks of one enabled configuration, soonest first,
        whose content adds up to at most ``max_bytes`` (a first task larger than that is
        claimed alone). Returns the claimed tasks (empty when nothing is due)."""
        config_id = model.parse_uuid(config_id, "config_id")
        if max_entities < 1 or max_bytes < 1:
            raise ValueError("max_entities and max_bytes must be positive")
        lease_ms = seconds_to_milliseconds(lease_seconds)
        if lease_ms <= 0:
            raise ValueError("lease_seconds must be positive")
        now_ms = model.utc_datetime_to_milliseconds(model.now())
        with self.transaction() as connection:
            config = connection.execute(
                select(_CONFIG.c.internalid, _CONFIG.c.exportconfigid, _CONFIG.c.targeturl,
                       _CONFIG.c.targetuser, _CONFIG.c.targetpassword, _CONFIG.c.cabundle)
                .where(_CONFIG.c.exportconfigid == config_id.hex, _CONFIG.c.active.is_(True))
            ).first()
            if config is None:
                return []
            candidates = []
            for entity_type, (queue, column, entity_table, uuid_column, _task) in _QUEUES.items():
                rows = connection.execute(
                    select(queue.c[column].label("entity_internal_id"), queue.c.exporttime,
                           queue.c.exportstate, entity_table.c[uuid_column].label("entity_uuid"))
                    .join(entity_table, entity_table.c.internalid == queue.c[column])
                    .where(queue.c.exportconfig == config.internalid,
                           queue.c.exportstate == STATE_PENDING, queue.c.exporttime <= now_ms)
                    .order_by(queue.c.exporttime, queue.c[column])
                    .limit(max_entities)
                ).all()
                sizes = _content_sizes(connection, entity_type, [row.entity_internal_id for row in rows])
                candidates.extend((row.exporttime, entity_type, row, sizes.get(row.entity_internal_id, 0))
                                  for row in rows)
            candidates.sort(key=lambda candidate: (candidate[0], candidate[1] == "event"))
            claimed: list[ExportTask] = []
            total = 0
            for _time, entity_type, row, size in candidates[:max_entities]:
                if claimed and total + size > max_bytes:
                    break
                if _claim(connection, entity_type, row, config, now_ms + lease_ms):
                    claimed.append(self._task_from_rows(entity_type, row, config))
                    total += size
        return claimed

    def complete_export_tasks(self, tasks: Sequence[ExportTask]) -> None:
        """Mark every task complete, in one transaction."""
        self._set_task_rows(tasks, exportstate=STATE_COMPLETE)
        for task in tasks:
            task.status = STATE_COMPLETE

    def defer_export_task_list(self, tasks: Sequence[ExportTask], seconds: float) -> None:
        """Make every pending task among ``tasks`` due ``seconds`` from now (0: at once), ending
        this exporter's claim on them, in one transaction."""
        due = model.utc_datetime_to_milliseconds(model.now()) + seconds_to_milliseconds(seconds)
        self._set_task_rows(tasks, only_pending=True, exporttime=due)

    def _set_task_rows(self, tasks: Sequence[ExportTask], only_pending: bool = False, **values: Any) -> None:
        groups: dict[tuple[str, int], list[int]] = {}
        for task in tasks:
            groups.setdefault((task.entity_type, task.config_internal_id), []).append(task.entity_internal_id)
        if not groups:
            return

        def apply() -> None:
            with self.transaction() as connection:
                for (entity_type, config_internal_id), ids in groups.items():
                    queue, column = _QUEUES[entity_type][:2]
                    for chunk in _chunks(ids):
                        statement = update(queue).where(queue.c.exportconfig == config_internal_id,
                                                        queue.c[column].in_(chunk))
                        if only_pending:
                            statement = statement.where(queue.c.exportstate != STATE_COMPLETE)
                        connection.execute(statement.values(**values))

        retry_update_conflicts(apply)

    def export_task_entities(self, tasks: Sequence[ExportTask]) -> dict[tuple[str, uuid.UUID], Any]:
        """(entity type, id) → the Event or FileRecord of each task, loaded in a few statements
        (tasks whose entity was deleted are absent)."""
        found: dict[tuple[str, uuid.UUID], Any] = {}
        event_ids = [task.entity_id.hex for task in tasks if task.entity_type == "event"]
        for chunk in _chunks(event_ids):
            builder = SQLBuilder("t_event e, t_cameraStatus s", ["e.statusID = s.internalID"], self.backend)
            builder.add_set_membership(chunk, "e.eventID")
            sql = builder.get_select_sql(columns=EVENT_COLUMNS)
            for event in self.generators.event_generator(sql, builder.sql_args):
                found[("event", event.event_id)] = event
        file_ids = [task.entity_id for task in tasks if task.entity_type == "file"]
        for record in self._files_by_ids(file_ids):
            found[("file", record.file_id)] = record
        return found

    def requeue_export_entities(self, config_id: uuid.UUID | str, entity_type: str,
                                entity_ids: Iterable[uuid.UUID]) -> int:
        """Make the queue rows of these entities under this configuration pending and due now
        (a target turned out to lack them); returns how many rows changed."""
        config_id = model.parse_uuid(config_id, "config_id")
        queue, column, entity_table, uuid_column, _task = _QUEUES[entity_type]
        hexes = [model.parse_uuid(entity_id, f"{entity_type}_id").hex for entity_id in entity_ids]
        now_ms = model.utc_datetime_to_milliseconds(model.now())
        config = select(_CONFIG.c.internalid).where(_CONFIG.c.exportconfigid == config_id.hex).scalar_subquery()

        def apply() -> int:
            changed = 0
            with self.transaction() as connection:
                for chunk in _chunks(hexes):
                    internal = select(entity_table.c.internalid).where(entity_table.c[uuid_column].in_(chunk))
                    changed += connection.execute(
                        update(queue)
                        .where(queue.c.exportconfig == config, queue.c[column].in_(internal))
                        .values(exportstate=STATE_PENDING, exporttime=now_ms)
                    ).rowcount
            return changed

        changed = retry_update_conflicts(apply)
        if changed:
            logger.info("re-queued %d %s(s) for export configuration %s", changed, entity_type, config_id.hex)
        return changed

    def export_backlog(self, config_ids: Iterable[uuid.UUID] | None = None) -> dict[str, int]:
        """``{"entities": n, "bytes": b}``: pending tasks of the given (default: every enabled)
        configurations and the content bytes they carry, for progress displays."""
        with self.connection() as connection:
            where = [_CONFIG.c.active.is_(True)] if config_ids is None else [
                _CONFIG.c.exportconfigid.in_([model.parse_uuid(c, "config_id").hex for c in config_ids])]
            entities = total = 0
            for entity_type, (queue, column, *_rest) in _QUEUES.items():
                pending = (select(queue.c[column].label("owner"))
                           .join(_CONFIG, _CONFIG.c.internalid == queue.c.exportconfig)
                           .where(queue.c.exportstate == STATE_PENDING, *where))
                entities += connection.execute(select(func.count()).select_from(pending.subquery())).scalar_one()
                owners = pending.subquery()
                if entity_type == "event":
                    link, files = schema.t_event_to_file, schema.t_file
                    size = (select(func.coalesce(func.sum(files.c.filesize), 0))
                            .select_from(owners.join(link, link.c.eventid == owners.c.owner)
                                         .join(files, files.c.internalid == link.c.fileid)))
                else:
                    files = schema.t_file
                    size = (select(func.coalesce(func.sum(files.c.filesize), 0))
                            .select_from(owners.join(files, files.c.internalid == owners.c.owner)))
                total += int(connection.execute(size).scalar_one() or 0)
        return {"entities": entities, "bytes": total}


def _content_sizes(connection: Any, entity_type: str, internal_ids: list[int]) -> dict[int, int]:
    """internal id → content bytes of an event's files, or of a file."""
    sizes: dict[int, int] = {}
    files = schema.t_file
    for chunk in _chunks(internal_ids):
        if entity_type == "event":
            link = schema.t_event_to_file
            rows = connection.execute(
                select(link.c.eventid, func.sum(files.c.filesize))
                .join(files, files.c.internalid == link.c.fileid)
                .where(link.c.eventid.in_(chunk)).group_by(link.c.eventid))
        else:
            rows = connection.execute(select(files.c.internalid, files.c.filesize).where(files.c.internalid.in_(chunk)))
        sizes.update({owner: int(size or 0) for owner, size in rows})
    return sizes


def _chunks(values: Sequence[Any]) -> Iterable[list[Any]]:
    values = list(values)
    for start in range(0, len(values), ID_BATCH):
        yield values[start:start + ID_BATCH]
