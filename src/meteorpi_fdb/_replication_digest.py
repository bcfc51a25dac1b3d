"""Per-night digests of entity ids, for verifying that a target holds what was exported.

A *night* is the 24 hours from one noon (UTC) to the next, named by the date of that noon (the
grouping the 2015 schema's ``eventOffset``/``fileOffset`` columns are built on). The digest of a
set of ids is the MD5 of their sorted hex forms. The source groups the entities an export
configuration has completed by (camera, night); the target groups the ids it holds the same
way; only the nights whose digests differ are compared id by id.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta, timezone
from typing import Iterable

from sqlalchemy import select

import meteorpi_model as model
from meteorpi_fdb import schema
from meteorpi_fdb._export import _QUEUES
from meteorpi_fdb._tasks import STATE_COMPLETE

_CONFIG = schema.t_exportconfig
_TIME_COLUMNS = {"event": (schema.t_event, "eventid", "eventtime"), "file": (schema.t_file, "fileid", "filetime")}
_DAY_MS = 86_400_000
_NOON_MS = 43_200_000


def night_of(time_ms: int) -> str:
    """The night (the date of the preceding noon, UTC) holding ``time_ms``."""
    noon_index = (time_ms - _NOON_MS) // _DAY_MS
    return (datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(days=noon_index)).date().isoformat()


def night_start_ms(night: str) -> int:
    """The first millisecond of a night (its noon); ValueError for a malformed night."""
    try:
        day = datetime.strptime(night, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    except (TypeError, ValueError):
        raise ValueError(f"a night must be a date YYYY-MM-DD, got {str(night)[:20]!r}") from None
    return model.utc_datetime_to_milliseconds(day) + _NOON_MS


def digest(ids: Iterable[str]) -> str:
    """The MD5 of the sorted hex ids."""
    return hashlib.md5("".join(sorted(ids)).encode("ascii"), usedforsecurity=False).hexdigest()


class ReplicationDigestMixin:
    """The queries behind ``meteorpi export verify`` (source) and the v2 digest route (target)."""

    def exported_by_night(self, config_id: uuid.UUID | str) -> dict[tuple[str, str], list[str]]:
        """(camera id, night) → hex ids of the entities this configuration has completed."""
        config_id = model.parse_uuid(config_id, "config_id")
        with self.connection() as connection:
            config = connection.execute(
                select(_CONFIG.c.internalid, _CONFIG.c.exporttype).where(_CONFIG.c.exportconfigid == config_id.hex)
            ).first()
            if config is None:
                raise ValueError(f"no export configuration with config_id {config_id.hex}")
            queue, column, table, uuid_column, _task = _QUEUES[config.exporttype]
            time_column = _TIME_COLUMNS[config.exporttype][2]
            rows = connection.execute(
                select(table.c[uuid_column], table.c.cameraid, table.c[time_column])
                .join(queue, queue.c[column] == table.c.internalid)
                .where(queue.c.exportconfig == config.internalid, queue.c.exportstate == STATE_COMPLETE)
            )
            nights: dict[tuple[str, str], list[str]] = {}
            for entity_id, camera_id, time_ms in rows:
                nights.setdefault((camera_id, night_of(time_ms)), []).append(entity_id)
        return nights

    def held_by_night(self, entity_type: str, camera_id: str, nights: Iterable[str]) -> dict[str, list[str]]:
        """night → hex ids of the events or files of ``camera_id`` held here, for each asked night."""
        if entity_type not in _TIME_COLUMNS:
            raise ValueError("entity_type must be 'event' or 'file'")
        wanted = sorted(set(nights))
        if not wanted:
            return {}
        starts = [night_start_ms(night) for night in wanted]
        table, id_column, time_column = _TIME_COLUMNS[entity_type]
        held: dict[str, list[str]] = {night: [] for night in wanted}
        with self.connection() as connection:
            rows = connection.execute(
                select(table.c[id_column], table.c[time_column])
                .where(table.c.cameraid == camera_id, table.c[time_column] >= min(starts),
                       table.c[time_column] < max(starts) + _DAY_MS)
            )
            for entity_id, time_ms in rows:
                night = night_of(time_ms)
                if night in held:
                    held[night].append(entity_id)
        return held

    def held_entity_ids(self, entity_type: str, entity_ids: Iterable[uuid.UUID]) -> set[str]:
        """The hex ids among ``entity_ids`` of events or files held here."""
        if entity_type not in _TIME_COLUMNS:
            raise ValueError("entity_type must be 'event' or 'file'")
        table, id_column, _time = _TIME_COLUMNS[entity_type]
        hexes = sorted({entity_id.hex for entity_id in entity_ids})
        found: set[str] = set()
        with self.connection() as connection:
            for start in range(0, len(hexes), 500):
                chunk = hexes[start:start + 500]
                found.update(connection.execute(select(table.c[id_column]).where(table.c[id_column].in_(chunk))).scalars())
        return found
