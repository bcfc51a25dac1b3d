"""How full the node's storage is, what fills it, and when it will be full (a mixin of
``MeteorDatabase``).

The storage is the file store's filesystem, or a budget (``HousekeepingPolicy.storage_bytes``)
of which the file store's bytes are the used part (the database is not counted: it is small
next to the content, and a database server keeps it elsewhere).
Usage by semantic type and by night comes from the file records (their ``filesize``); pruned
content counts as freed. The rate is the content of the files recorded in the last
:data:`RATE_DAYS` days, per day.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, case, func, literal_column, select

import meteorpi_model as model
from meteorpi_fdb import schema
from meteorpi_fdb.housekeeping import HousekeepingPolicy, night_of

#: Days of recent recording the fill rate is measured over.
RATE_DAYS = 7
#: Nights listed by :meth:`StorageMixin.storage_report` (the most recent ones).
REPORT_NIGHTS = 31
#: Free bytes reported for a store with no bound (a bucket) when no budget is set: 1 EiB.
UNBOUNDED_FREE = 1 << 60

_FILE, _PRUNED = schema.t_file, schema.t_prunedfile


@dataclass(frozen=True)
class DiskSpace:
    """Capacity, used and free bytes of the node's storage; ``source`` is ``filesystem``,
    ``budget`` (MPI_STORAGE_BYTES) or ``unbounded`` (a bucket store without a budget)."""

    path: str
    source: str
    capacity: int
    used: int
    free: int


class StorageMixin:
    """Measure the node's storage; see the module docstring."""

    def disk_space(self, policy: HousekeepingPolicy | None = None) -> DiskSpace:
        """The storage as ``policy`` defines it (its filesystem unless a budget is set)."""
        store = self.file_store
        if policy is not None and policy.storage_bytes is not None:
            used = store.used_bytes()
            return DiskSpace(store.location, "budget", policy.storage_bytes, used,
                             max(0, policy.storage_bytes - used))
        bounds = store.capacity()
        if bounds is None:  # a bucket: no bound but a budget
            used = store.used_bytes()
            return DiskSpace(store.location, "unbounded", used + UNBOUNDED_FREE, used, UNBOUNDED_FREE)
        capacity, free = bounds
        return DiskSpace(store.location, "filesystem", capacity, capacity - free, free)

    def storage_report(self, policy: HousekeepingPolicy | None = None, now: datetime | None = None,
                       nights: int = REPORT_NIGHTS) -> dict[str, Any]:
        """Disk usage by semantic type and by night (the last ``nights`` with files), the fill
        rate and the time until the storage is full (and until the high-water mark) at that rate.

        ``{"disk": {path, source, capacity, used, free}, "high_water_bytes", "floor_bytes",
        "content_bytes", "pruned_files", "by_semantic_type": {type: {files, bytes, pruned_files}},
        "by_night": {"YYYY-MM-DD": {files, bytes, pruned_files}}, "bytes_per_day",
        "seconds_until_full", "seconds_until_high_water"}``; a time is None at a zero rate.
        """
        policy = policy or HousekeepingPolicy()
        now_ms = model.utc_datetime_to_milliseconds(now or model.now())
        space = self.disk_space(policy)
        with self.connection() as connection:
            by_type = _usage(connection, _FILE.c.semantictype)
            night = ((_FILE.c.filetime - literal_column("43200000", BigInteger))
                     // literal_column("86400000", BigInteger))
            by_night = _usage(connection, night, nights)
            since = now_ms - RATE_DAYS * 86400 * 1000
            recent = connection.execute(
                select(func.sum(_FILE.c.filesize)).where(_FILE.c.filetime > since, _FILE.c.filetime <= now_ms)
            ).scalar()
        rate = int(recent or 0) / RATE_DAYS
        high_water = None if policy.high_water is None else policy.high_water.of(space.capacity)
        return {
            "disk": asdict(space),
            "high_water_bytes": high_water,
            "floor_bytes": None if policy.floor is None else policy.floor.of(space.capacity),
            "content_bytes": sum(entry["bytes"] for entry in by_type.values()),
            "pruned_files": sum(entry["pruned_files"] for entry in by_type.values()),
            "by_semantic_type": by_type,
            "by_night": {night_of(int(key) * 86400 * 1000 + 43200000): entry for key, entry in by_night.items()},
            "bytes_per_day": int(rate),
            "seconds_until_full": _seconds_at(rate, space.free),
            "seconds_until_high_water": None if high_water is None
            else _seconds_at(rate, max(0, high_water - space.used)),
        }


def _usage(connection: Any, key: Any, latest: int | None = None) -> dict[Any, dict[str, int]]:
    """Files, content bytes and pruned files grouped by ``key`` (the ``latest`` largest keys)."""
    present = _PRUNED.c.fileid.is_(None)
    statement = (
        select(key.label("k"), func.count(),
               func.sum(case((present, _FILE.c.filesize), else_=0)),
               func.sum(case((present, 0), else_=1)))
        .select_from(_FILE.outerjoin(_PRUNED, _PRUNED.c.fileid == _FILE.c.internalid))
        .group_by(key)
        .order_by(key.desc())
    )
    if latest is not None:
        statement = statement.limit(latest)
    rows = connection.execute(statement).all()
    return {row[0]: {"files": int(row[1]), "bytes": int(row[2] or 0), "pruned_files": int(row[3] or 0)}
            for row in reversed(rows)}


def _seconds_at(rate_per_day: float, room: int) -> int | None:
    if rate_per_day <= 0:
        return None
    return int(timedelta(days=room / rate_per_day).total_seconds())
