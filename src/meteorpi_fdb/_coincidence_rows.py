"""The SQL behind ``CoincidencesMixin``: events to group, existing groups, writes and search.

Every function runs on the caller's connection, inside the caller's transaction.
"""

from __future__ import annotations

import uuid
from typing import Any, Iterable, Sequence

from sqlalchemy import Connection, delete, exists, func, insert, select, update

import meteorpi_model as model
from meteorpi_fdb import schema
from meteorpi_fdb._record_rows import ID_BATCH

_C, _M, _T = schema.t_coincidence, schema.t_coincidencemember, schema.t_trajectory
_E, _S = schema.t_event, schema.t_camerastatus
PIXEL_KEYS = ("meteorpi:start_x", "meteorpi:start_y", "meteorpi:end_x", "meteorpi:end_y",
              "meteorpi:duration")
SIZE_KEYS = ("meteorpi:width", "meteorpi:height")
#: trajectory columns <- (section of the wire dict, key)
TRAJECTORY_COLUMNS = {
    "convergence": (None, "convergence_deg"), "speed": (None, "speed_km_s"),
    "residual": (None, "residual_m"), "quality": (None, "quality"), "length": (None, "length_km"),
    "beginlat": ("begin", "lat"), "beginlon": ("begin", "lon"), "beginheight": ("begin", "height_km"),
    "endlat": ("end", "lat"), "endlon": ("end", "lon"), "endheight": ("end", "height_km"),
    "radiantra": ("radiant", "ra"), "radiantdec": ("radiant", "dec"),
    "radiantaz": ("radiant", "az"), "radiantel": ("radiant", "el"),
}
STATE_NAME = "events"


def _batches(ids: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(ids), ID_BATCH):
        yield ids[start:start + ID_BATCH]


# -- what to (re)compute --------------------------------------------------------------------

def last_event_id(connection: Connection) -> int:
    return connection.execute(select(func.max(_E.c.internalid))).scalar() or 0


def processed_up_to(connection: Connection) -> int:
    statement = select(schema.t_coincidencestate.c.lastevent).where(
        schema.t_coincidencestate.c.name == STATE_NAME)
    return connection.execute(statement).scalar() or 0


def set_processed_up_to(connection: Connection, event_id: int, now_ms: int) -> None:
    table = schema.t_coincidencestate
    done = connection.execute(update(table).where(table.c.name == STATE_NAME)
                              .values(lastevent=event_id, updated=now_ms)).rowcount
    if not done:
        connection.execute(insert(table).values(name=STATE_NAME, lastevent=event_id, updated=now_ms))


def new_event_times(connection: Connection, after_id: int, up_to_id: int) -> list[int]:
    """Times of events added since ``after_id`` (internal ids), in order."""
    statement = (select(_E.c.eventtime).distinct()
                 .where(_E.c.internalid > after_id, _E.c.internalid <= up_to_id)
                 .order_by(_E.c.eventtime))
    return list(connection.execute(statement).scalars())


def time_bounds(connection: Connection) -> tuple[int | None, int | None]:
    return tuple(connection.execute(select(func.min(_E.c.eventtime), func.max(_E.c.eventtime))).one())


def nearest_outside(connection: Connection, low: int, high: int, window_ms: int) -> tuple[int | None, int | None]:
    """The earliest event time in [low - window, low) and the latest in (high, high + window]."""
    before = connection.execute(select(func.min(_E.c.eventtime)).where(
        _E.c.eventtime >= low - window_ms, _E.c.eventtime < low)).scalar()
    after = connection.execute(select(func.max(_E.c.eventtime)).where(
        _E.c.eventtime > high, _E.c.eventtime <= high + window_ms)).scalar()
    return before, after


def events_between(connection: Connection, low: int, high: int) -> list[Any]:
    """Every event in [low, high] with its camera's status in force: site and pointing."""
    statement = (select(_E.c.internalid, _E.c.eventid, _E.c.cameraid, _E.c.eventtime,
                        _S.c.internalid.label("status"), _S.c.sensor,
                        _S.c.locationlatitude, _S.c.locationlongitude,
                        _S.c.orientationaltitude, _S.c.orientationazimuth,
                        _S.c.orientationrotation, _S.c.widthoffield)
                 .join(_S, _E.c.statusid == _S.c.internalid)
                 .where(_E.c.eventtime >= low, _E.c.eventtime <= high))
    return list(connection.execute(statement))


def event_numbers(connection: Connection, event_ids: Sequence[int]) -> dict[int, dict[str, float]]:
    """``{event internal id: {meta key: number}}`` for the pixel, duration and sensor-size keys
    (sizes from the event's files; the largest, i.e. the full frame, wins)."""
    found: dict[int, dict[str, float]] = {}
    meta, link, file_meta = schema.t_eventmeta, schema.t_event_to_file, schema.t_filemeta
    for batch in _batches(list(event_ids)):
        for owner, key, value in connection.execute(
                select(meta.c.eventid, meta.c.metakey, meta.c.floatvalue)
                .where(meta.c.eventid.in_(batch), meta.c.metakey.in_(PIXEL_KEYS))):
            if value is not None:
                found.setdefault(owner, {})[key] = float(value)
        for owner, key, value in connection.execute(
                select(link.c.eventid, file_meta.c.metakey, func.max(file_meta.c.floatvalue))
                .join(file_meta, file_meta.c.fileid == link.c.fileid)
                .where(link.c.eventid.in_(batch), file_meta.c.metakey.in_(SIZE_KEYS))
                .group_by(link.c.eventid, file_meta.c.metakey)):
            if value is not None:
                found.setdefault(owner, {})[key] = float(value)
    return found


# -- groups ---------------------------------------------------------------------------------

def groups_touching(connection: Connection, low: int, high: int) -> dict[str, int]:
    """``{group key: internal id}`` of groups with a member event in [low, high]."""
    statement = (select(_C.c.groupkey, _C.c.internalid).distinct()
                 .join(_M, _M.c.coincidence == _C.c.internalid)
                 .join(_E, _E.c.internalid == _M.c.eventid)
                 .where(_E.c.eventtime >= low, _E.c.eventtime <= high))
    return {key: internal for key, internal in connection.execute(statement)}


def delete_groups(connection: Connection, internal_ids: Sequence[int]) -> None:
    for batch in _batches(list(internal_ids)):
        connection.execute(delete(_T).where(_T.c.coincidence.in_(batch)))
        connection.execute(delete(_M).where(_M.c.coincidence.in_(batch)))
        connection.execute(delete(_C).where(_C.c.internalid.in_(batch)))


def insert_groups(connection: Connection, groups: Sequence[tuple[str, Sequence[Any], dict | None]],
                  now_ms: int) -> None:
    """Store new groups (``(key, members, trajectory)``; members are rows of
    :func:`events_between`) with a few multi-row statements."""
    if not groups:
        return
    connection.execute(insert(_C), [{
        "groupid": uuid.uuid4().hex, "groupkey": key,
        "firsttime": min(m.eventtime for m in members), "lasttime": max(m.eventtime for m in members),
        "computed": now_ms, "stations": len({m.cameraid for m in members})}
        for key, members, _trajectory in groups])
    ids: dict[str, int] = {}
    for batch in _batches([key for key, _m, _t in groups]):
        ids.update(connection.execute(select(_C.c.groupkey, _C.c.internalid)
                                      .where(_C.c.groupkey.in_(batch))).all())
    connection.execute(insert(_M), [{"coincidence": ids[key], "eventid": m.internalid}
                                    for key, members, _t in groups for m in members])
    write_trajectories(connection, [(ids[key], t) for key, _m, t in groups if t is not None])


def write_trajectories(connection: Connection, solutions: Sequence[tuple[int, dict[str, Any]]]) -> None:
    """Replace the trajectories of groups (``(internal id, wire dict)``)."""
    if not solutions:
        return
    for batch in _batches([group for group, _t in solutions]):
        connection.execute(delete(_T).where(_T.c.coincidence.in_(batch)))
    rows = []
    for group, trajectory in solutions:
        values = {"coincidence": group, "ok": trajectory["ok"], "reason": trajectory.get("reason"),
                  "stations": trajectory.get("stations", 0)}
        for column, (section, key) in TRAJECTORY_COLUMNS.items():
            source = trajectory.get(section) if section else trajectory
            values[column] = None if source is None else source.get(key)
        rows.append(values)
    connection.execute(insert(_T), rows)


def trajectory_from_row(row: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"ok": bool(row.ok), "stations": row.stations}
    if row.reason is not None:
        d["reason"] = row.reason
    for column, (section, key) in TRAJECTORY_COLUMNS.items():
        value = getattr(row, column)
        if value is None:
            continue
        if section is None:
            d[key] = float(value)
        else:
            d.setdefault(section, {})[key] = float(value)
    return d


# -- search ---------------------------------------------------------------------------------

def _conditions(search: model.CoincidenceSearch) -> list[Any]:
    ms = model.utc_datetime_to_milliseconds
    where = []
    if search.after is not None:
        where.append(_C.c.firsttime >= ms(search.after))
    if search.before is not None:
        where.append(_C.c.firsttime <= ms(search.before))
    if search.min_stations is not None:
        where.append(_C.c.stations >= search.min_stations)
    if search.camera_ids is not None or search.event_ids is not None:
        member = (select(_M.c.coincidence).join(_E, _E.c.internalid == _M.c.eventid)
                  .where(_M.c.coincidence == _C.c.internalid))
        if search.camera_ids is not None:
            member = member.where(_E.c.cameraid.in_(search.camera_ids))
        if search.event_ids is not None:
            member = member.where(_E.c.eventid.in_([e.hex for e in search.event_ids]))
        where.append(exists(member))
    if search.solved is not None:
        solved = exists(select(_T.c.coincidence).where(_T.c.coincidence == _C.c.internalid,
                                                       _T.c.ok == True))  # noqa: E712
        where.append(solved if search.solved else ~solved)
    return where


def search_groups(connection: Connection, search: model.CoincidenceSearch) -> tuple[int, list[Any]]:
    """The number of matching groups and one page of their rows, newest first."""
    where = _conditions(search)
    count = connection.execute(select(func.count()).select_from(_C).where(*where)).scalar_one()
    statement = (select(_C).where(*where)
                 .order_by(_C.c.firsttime.desc(), _C.c.internalid.desc()))
    if search.limit:
        statement = statement.limit(search.limit)
    if search.skip:
        statement = statement.offset(search.skip)
    return count, list(connection.execute(statement))


def members_of(connection: Connection, groups: Sequence[int]) -> dict[int, list[model.CoincidenceMember]]:
    found: dict[int, list[model.CoincidenceMember]] = {}
    for batch in _batches(list(groups)):
        statement = (select(_M.c.coincidence, _E.c.eventid, _E.c.cameraid, _E.c.eventtime)
                     .join(_E, _E.c.internalid == _M.c.eventid)
                     .where(_M.c.coincidence.in_(batch))
                     .order_by(_E.c.eventtime, _E.c.cameraid))
        for group, event_id, camera_id, event_time in connection.execute(statement):
            found.setdefault(group, []).append(model.CoincidenceMember(
                event_id, camera_id, model.milliseconds_to_utc_datetime(event_time)))
    return found


def trajectories_of(connection: Connection, groups: Sequence[int]) -> dict[int, dict[str, Any]]:
    found = {}
    for batch in _batches(list(groups)):
        for row in connection.execute(select(_T).where(_T.c.coincidence.in_(batch))):
            found[row.coincidence] = trajectory_from_row(row)
    return found
