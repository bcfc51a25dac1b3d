"""Activity counts (``db.activity``: GROUP BY camera and bin in the database) beside two
references: the same counts written by hand as plain SQL (the floor), and what a page had to
do before the activity API existed — fetch every matching record through the search read path
(pages of 1000 JSON records, by cursor) and count them itself. Calls are interleaved
(ours, floor, fetch-all, ours, ...); figures are medians.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text

import meteorpi_model as model
from benchmarks._common import Result, summarise, time_calls
from benchmarks.datagen import DAY_MS, Generated

PAGE = 1000


def _dt(ms: int) -> Any:
    return model.milliseconds_to_utc_datetime(ms)


def _cases(data: Generated) -> list[tuple[str, model.EventSearch, str, str | None, str, dict]]:
    """(name, search, bin, mean key, floor WHERE, floor params)."""
    camera = data.cameras[0].camera_id
    month_end = data.start_ms + 30 * DAY_MS
    return [
        ("nights, one camera, whole range", model.EventSearch(camera_ids=[camera]), "night", None,
         "e.cameraid = :camera", {"camera": camera}),
        ("nights, all cameras, whole range", model.EventSearch(), "night", None, "1 = 1", {}),
        ("hours, one camera, 30 days", model.EventSearch(camera_ids=[camera], after=_dt(data.start_ms),
                                                         before=_dt(month_end)), "hour", None,
         "e.cameraid = :camera AND e.eventtime > :after AND e.eventtime < :before",
         {"camera": camera, "after": data.start_ms, "before": month_end}),
        ("nights, all cameras, mean duration", model.EventSearch(), "night", "meteorpi:duration", "1 = 1", {}),
    ]


def _floor(db: Any, bin_name: str, mean: str | None, where: str, params: dict) -> list:
    size, offset = (3_600_000, 0) if bin_name == "hour" else (DAY_MS, DAY_MS // 2)
    value = ("(SELECT MAX(m.floatvalue) FROM t_eventmeta m WHERE m.eventid = e.internalid "
             "AND m.metakey = :key)") if mean else "NULL"
    sql = (f"SELECT e.cameraid, (e.eventtime - {offset}) / {size} AS b, COUNT(*), AVG({value}) "
           f"FROM t_event e WHERE {where} GROUP BY e.cameraid, b ORDER BY b, e.cameraid")
    with db.engine.connect() as connection:
        return connection.execute(text(sql), {**params, **({"key": mean} if mean else {})}).all()


def _fetch_all(db: Any, search: model.EventSearch, bin_name: str) -> dict:
    """Every matching event through the HTTP read path, counted per camera and bin here."""
    size, offset = (3_600_000, 0) if bin_name == "hour" else (DAY_MS, DAY_MS // 2)
    counts: dict = {}
    cursor = None
    while True:
        page = json.loads(db.search_events_wire(model.EventSearch.from_dict({**search.as_dict(), "limit": PAGE}),
                                                cursor))
        for event in page["events"]:
            key = (event["camera_id"], (event["event_time"] - offset) // size)
            counts[key] = counts.get(key, 0) + 1
        cursor = page.get("cursor")
        if cursor is None:
            return counts


def run(db: Any, data: Generated, backend: str, repeats: int) -> list[Result]:
    """Median and p99 of each case, beside the floor and the fetch-everything reference."""
    results = []
    for name, search, bin_name, mean, where, params in _cases(data):
        ours, floor, fetched = [], [], []
        for _ in range(repeats):
            ours += time_calls(lambda: db.activity("events", search, bin_name, mean), 1)
            floor += time_calls(lambda: _floor(db, bin_name, mean, where, params), 1)
            if mean is None:
                fetched += time_calls(lambda: _fetch_all(db, search, bin_name), 1)
        mine, reference = summarise(ours), summarise(floor)
        results.append(Result("activity", f"{name} vs SQL floor [p50]", backend, mine["p50"], reference["p50"], "ms"))
        if fetched:
            results.append(Result("activity", f"{name} vs fetching every record [p50]", backend, mine["p50"],
                                  summarise(fetched)["p50"], "ms", "the reference counts in Python"))
    return results
