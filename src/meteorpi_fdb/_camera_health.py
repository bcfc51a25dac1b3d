"""Camera health for an operator: when each camera was last heard of, its export queue on this
node, and whether it has gone quiet (a mixin of ``MeteorDatabase``).

Each figure is one grouped query over every camera (a handful in all), except the typical gap
between events, which reads at most :data:`GAP_SAMPLE` recent event times per camera.
"""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, func, select

import meteorpi_model as model
from meteorpi_fdb import schema
from meteorpi_fdb._tasks import STATE_COMPLETE

#: Nights of events the typical gap is measured over.
GAP_NIGHTS = 30
#: Most event times per camera read to measure the typical gap (the most recent ones).
GAP_SAMPLE = 5000
#: A camera is quiet when its last event is older than this many typical gaps...
QUIET_FACTOR = 10.0
#: ...and older than this (so that daytime alone, or one cloudy night, does not count).
QUIET_MIN_SECONDS = 36 * 3600.0

_DAY_MS = 86_400_000


class CameraHealthMixin:
    """Per-camera health; see the module docstring."""

    def camera_health(self, now: datetime | None = None) -> dict[str, Any]:
        """``{"now": ms, "cameras": [...]}``, one entry per camera with a status block (sorted):
        ``camera_id``, ``last_status_change``, ``last_event``, ``last_file``, ``last_import``
        (when this node last imported an event or file of the camera), ``high_water_mark`` (each
        epoch ms or None), ``export`` (``{"pending", "failed"}``: unfinished export tasks of the
        camera's events and files; failed = those whose configuration's last attempts failed),
        ``typical_gap_s`` (median seconds between consecutive events over the last
        :data:`GAP_NIGHTS` nights, None with fewer than two), ``quiet`` and ``quiet_for_s``
        (seconds since the last event)."""
        now_ms = model.utc_datetime_to_milliseconds(now or model.now())
        status = schema.t_camerastatus
        with self.connection() as connection:
            cameras = [row[0] for row in connection.execute(
                select(status.c.cameraid).distinct().order_by(status.c.cameraid))]
            status_changes = _latest(connection, status.c.cameraid, status.c.validfrom)
            events = _latest(connection, schema.t_event.c.cameraid, schema.t_event.c.eventtime)
            files = _latest(connection, schema.t_file.c.cameraid, schema.t_file.c.filetime)
            imports = _latest_imports(connection)
            marks = dict(connection.execute(select(schema.t_highwatermark.c.cameraid,
                                                   schema.t_highwatermark.c.mark)).all())
            exports = _export_counts(connection)
            gaps = {camera: _typical_gap(connection, camera, now_ms) for camera in cameras}
        entries = []
        for camera in cameras:
            last_event = events.get(camera)
            quiet_for = None if last_event is None else max(0.0, (now_ms - last_event) / 1000)
            threshold = max(QUIET_FACTOR * (gaps[camera] or 0.0), QUIET_MIN_SECONDS)
            entries.append({
                "camera_id": camera,
                "last_status_change": status_changes.get(camera),
                "last_event": last_event,
                "last_file": files.get(camera),
                "last_import": imports.get(camera),
                "high_water_mark": None if marks.get(camera) is None else int(marks[camera]),
                "export": exports.get(camera, {"pending": 0, "failed": 0}),
                "typical_gap_s": gaps[camera],
                "quiet": quiet_for is not None and quiet_for > threshold,
                "quiet_for_s": quiet_for,
            })
        return {"now": now_ms, "cameras": entries}


def _latest(connection: Connection, camera: Any, time: Any) -> dict[str, int]:
    rows = connection.execute(select(camera, func.max(time)).group_by(camera))
    return {camera_id: int(latest) for camera_id, latest in rows if latest is not None}


def _latest_imports(connection: Connection) -> dict[str, int]:
    """Per camera, the latest import time of its events and files."""
    latest: dict[str, int] = {}
    for log, table, column in ((schema.t_eventimport, schema.t_event, "eventid"),
                               (schema.t_fileimport, schema.t_file, "fileid")):
        rows = connection.execute(
            select(table.c.cameraid, func.max(log.c.importtime))
            .select_from(log.join(table, log.c[column] == table.c.internalid))
            .group_by(table.c.cameraid))
        for camera_id, when in rows:
            if when is not None:
                latest[camera_id] = max(latest.get(camera_id, int(when)), int(when))
    return latest


def _export_counts(connection: Connection) -> dict[str, dict[str, int]]:
    """Per camera, unfinished export tasks of its entities, and how many of them belong to a
    configuration whose last attempts failed (failure count above zero)."""
    config = schema.t_exportconfig
    counts: dict[str, dict[str, int]] = {}
    for queue, table, column in ((schema.t_eventexport, schema.t_event, "eventid"),
                                 (schema.t_fileexport, schema.t_file, "fileid")):
        failing = case((config.c.failurecount > 0, 1), else_=0)
        rows = connection.execute(
            select(table.c.cameraid, func.count(), func.sum(failing))
            .select_from(queue.join(table, queue.c[column] == table.c.internalid)
                         .join(config, queue.c.exportconfig == config.c.internalid))
            .where(queue.c.exportstate != STATE_COMPLETE)
            .group_by(table.c.cameraid))
        for camera_id, pending, failed in rows:
            entry = counts.setdefault(camera_id, {"pending": 0, "failed": 0})
            entry["pending"] += int(pending)
            entry["failed"] += int(failed or 0)
    return counts


def _typical_gap(connection: Connection, camera: str, now_ms: int) -> float | None:
    """The median gap in seconds between the camera's consecutive events of the last
    GAP_NIGHTS nights (the latest GAP_SAMPLE of them); None with fewer than two."""
    event = schema.t_event
    times = [int(t) for t in connection.execute(
        select(event.c.eventtime)
        .where(event.c.cameraid == camera, event.c.eventtime > now_ms - GAP_NIGHTS * _DAY_MS,
               event.c.eventtime <= now_ms)
        .order_by(event.c.eventtime.desc()).limit(GAP_SAMPLE)).scalars()]
    if len(times) < 2:
        return None
    return statistics.median((later - earlier) / 1000 for later, earlier in zip(times, times[1:]))
