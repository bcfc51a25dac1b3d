"""One export configuration's queue state, and re-running its deferred tasks (admin pages).

A failed task is not marked as such: the exporter counts a failure against its configuration
and defers the configuration's pending tasks (SPEC section 8). So a pending task is either
*due* (its export time has come) or *deferred* (after a failure, or claimed by an exporter
that is sending it now). Re-running makes every pending task due at once and clears the
failure count; the next pass of an exporter sends them (if the configuration is enabled).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy import case, func, select, update

import meteorpi_model as model
from meteorpi_fdb._export import _CONFIG, _QUEUES
from meteorpi_fdb._tasks import STATE_COMPLETE
from meteorpi_fdb.firebird import retry_update_conflicts

logger = logging.getLogger("meteorpi.db.export")


class ExportQueueMixin:
    """Queue state and re-run of one export configuration, for :class:`MeteorDatabase`."""

    def export_queue_state(self, config_id: uuid.UUID | str) -> dict[str, Any] | None:
        """The queue of one configuration, or None if there is no such configuration:
        ``config_id``, ``enabled``, ``failure_count``, ``pending`` (= ``due`` + ``deferred``),
        ``due``, ``deferred``, ``completed`` and ``next_export_time`` (the earliest pending
        export time, or None)."""
        config_id = model.parse_uuid(config_id, "config_id")
        now_ms = model.utc_datetime_to_milliseconds(model.now())
        state = {"due": 0, "deferred": 0, "completed": 0}
        next_time = None
        with self.connection() as connection:
            config = connection.execute(
                select(_CONFIG.c.internalid, _CONFIG.c.active, _CONFIG.c.failurecount)
                .where(_CONFIG.c.exportconfigid == config_id.hex)
            ).one_or_none()
            if config is None:
                return None
            for queue, *_rest in _QUEUES.values():
                pending = queue.c.exportstate != STATE_COMPLETE
                due = pending & (queue.c.exporttime <= now_ms)
                row = connection.execute(
                    select(func.sum(case((due, 1), else_=0)),
                           func.sum(case((pending, 1), else_=0)),
                           func.sum(case((pending, 0), else_=1)),
                           func.min(case((pending, queue.c.exporttime), else_=None)))
                    .where(queue.c.exportconfig == config.internalid)
                ).one()
                n_due, n_pending, n_completed = (int(value or 0) for value in row[:3])
                state["due"] += n_due
                state["deferred"] += n_pending - n_due
                state["completed"] += n_completed
                if row[3] is not None and (next_time is None or row[3] < next_time):
                    next_time = int(row[3])
        return {"config_id": config_id, "enabled": bool(config.active),
                "failure_count": int(config.failurecount),
                "pending": state["due"] + state["deferred"], **state,
                "next_export_time": None if next_time is None
                else model.milliseconds_to_utc_datetime(next_time)}

    def rerun_export_tasks(self, config_id: uuid.UUID | str) -> int:
        """Make every pending task of this configuration due now and reset its failure count;
        return the number of tasks moved. ValueError if there is no such configuration."""
        config_id = model.parse_uuid(config_id, "config_id")
        now_ms = model.utc_datetime_to_milliseconds(model.now())
        where = _CONFIG.c.exportconfigid == config_id.hex

        def move() -> int:
            moved = 0
            with self.transaction() as connection:
                internal_id = connection.execute(select(_CONFIG.c.internalid).where(where)).scalar()
                if internal_id is None:
                    raise ValueError(f"no export configuration with config_id {config_id.hex}")
                connection.execute(update(_CONFIG).where(where).values(failurecount=0))
                for queue, *_rest in _QUEUES.values():
                    moved += connection.execute(
                        update(queue).where(queue.c.exportconfig == internal_id,
                                            queue.c.exportstate != STATE_COMPLETE,
                                            queue.c.exporttime > now_ms)
                        .values(exporttime=now_ms)
                    ).rowcount
            return moved

        moved = retry_update_conflicts(move)
        self.generators.cache_clear("export")
        logger.info("re-ran %d task(s) of export configuration %s", moved, config_id.hex)
        return moved
