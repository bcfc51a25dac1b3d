"""Activity: how many events or files a search matches per camera and time bin, and the mean of
one numeric metadata field per bin (a mixin of ``MeteorDatabase``).

The database counts (``GROUP BY`` camera and bin), so the cost does not grow with the records
returned. Bins are hours, UTC days, or observing nights (noon to noon UTC, the bins of the
records' offsets: a night starts at the previous noon). Before counting, the number of bins
the search's time range spans is checked against :data:`MAX_BINS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import meteorpi_model as model
from meteorpi_fdb.sql_builder import search_events_sql_builder, search_files_sql_builder, to_text

#: Most bins one camera may need for the search's time range; more is a ValueError.
MAX_BINS = 2000

_HOUR_MS = 3_600_000
_DAY_MS = 86_400_000
#: Added before the integer division so that it floors for times before 1970 too (about 270
#: years of days or 27 of hours; every backend truncates integer division towards zero).
_SHIFT_BINS = 100_000


@dataclass(frozen=True)
class BinSize:
    """Bins of ``size_ms`` starting ``offset_ms`` after each multiple of ``size_ms`` (UTC)."""

    name: str
    size_ms: int
    offset_ms: int

    def index(self, time_ms: int) -> int:
        """The number of the bin holding ``time_ms``."""
        return (time_ms - self.offset_ms) // self.size_ms

    def start(self, index: int) -> int:
        """The start of bin ``index`` in epoch milliseconds."""
        return index * self.size_ms + self.offset_ms

    def sql(self, column: str) -> str:
        """SQL computing a row's bin number from its time ``column``."""
        shift = _SHIFT_BINS * self.size_ms - self.offset_ms
        return f"(({column} + {shift}) / {self.size_ms} - {_SHIFT_BINS})"


BINS = {b.name: b for b in (BinSize("hour", _HOUR_MS, 0), BinSize("day", _DAY_MS, 0),
                            BinSize("night", _DAY_MS, _DAY_MS // 2))}

#: Per kind: search class, SQL builder, alias, time column, metadata table and its owner column.
_KINDS = {
    "events": (model.EventSearch, search_events_sql_builder, "e", "e.eventTime", "t_eventMeta", "eventID"),
    "files": (model.FileRecordSearch, search_files_sql_builder, "f", "f.fileTime", "t_fileMeta", "fileID"),
}


class ActivityMixin:
    """Counts per camera and time bin; see the module docstring."""

    def activity(self, kind: str, search: Any, bin_name: str = "night",
                 mean_key: model.NSString | str | None = None) -> dict[str, Any]:
        """``{"kind", "bin", "bins": [{"camera_id", "start", "count", "mean"}], "total"}`` for
        the records ``search`` matches (its skip and limit are ignored).

        ``kind`` is ``events`` or ``files``; ``bin_name`` ``hour``, ``day`` or ``night``;
        ``mean_key`` a metadata key whose numeric values are averaged per bin (``mean`` is None
        where no record of the bin has one). Only non-empty bins are listed, by start then
        camera. ValueError for a bad argument or when the search's time range spans more than
        :data:`MAX_BINS` bins.
        """
        if kind not in _KINDS:
            raise ValueError(f"kind must be 'events' or 'files', got {kind!r}")
        search_class, make_builder, alias, time_column, meta_table, owner = _KINDS[kind]
        if not isinstance(search, search_class):
            raise ValueError(f"search must be a {search_class.__name__}, not {type(search).__name__}")
        bins = BINS.get(bin_name)
        if bins is None:
            raise ValueError(f"bin must be one of {', '.join(BINS)}, got {str(bin_name)[:40]!r}")
        key = None if mean_key is None else str(model.NSString.coerce(mean_key, "mean"))
        builder = make_builder(search, dialect=self.backend)
        where = " AND ".join(builder.where_clauses) or "1 = 1"
        with self.connection() as connection:
            _check_span(connection, builder.tables, where, builder.sql_args, time_column, bins,
                        _ms_or_none(search.after), _ms_or_none(search.before))
            mean_sql, args = "CAST(NULL AS DOUBLE PRECISION)", list(builder.sql_args)
            if key is not None:
                mean_sql = (f"(SELECT MAX(m.floatValue) FROM {meta_table} m "
                            f"WHERE m.{owner} = {alias}.internalID AND m.metaKey = ?)")
                args = [key, *args]
            sql = (f"SELECT q.camera, q.slot, COUNT(*), AVG(q.reading) FROM (SELECT {alias}.cameraID AS camera, "
                   f"{bins.sql(time_column)} AS slot, {mean_sql} AS reading FROM {builder.tables} "
                   f"WHERE {where}) q GROUP BY q.camera, q.slot ORDER BY q.slot, q.camera")
            rows = connection.execute(*to_text(sql, args)).all()
        entries = [{"camera_id": camera_id, "start": bins.start(int(index)), "count": int(count),
                    "mean": None if mean is None else float(mean)} for camera_id, index, count, mean in rows]
        return {"kind": kind, "bin": bins.name, "bins": entries,
                "total": sum(entry["count"] for entry in entries)}


def _ms_or_none(value: Any) -> int | None:
    return None if value is None else model.utc_datetime_to_milliseconds(value)


def _check_span(connection: Any, tables: str, where: str, args: list[Any], time_column: str,
                bins: BinSize, after: int | None, before: int | None) -> None:
    """ValueError if the matching records' time range (narrowed by ``after`` / ``before``)
    spans more than MAX_BINS bins; the range comes from the database where a bound is missing."""
    low, high = after, before
    if low is None or high is None:
        sql = f"SELECT MIN({time_column}), MAX({time_column}) FROM {tables} WHERE {where}"
        found_low, found_high = connection.execute(*to_text(sql, args)).one()
        if found_low is None:
            return
        low = int(found_low) if low is None else low
        high = int(found_high) if high is None else high
    if high < low:
        return
    span = bins.index(high) - bins.index(low) + 1
    if span > MAX_BINS:
        raise ValueError(f"the search's time range spans {span} {bins.name} bins per camera; "
                         f"at most {MAX_BINS} are allowed: narrow it with 'after' and 'before'")
