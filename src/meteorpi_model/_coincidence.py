"""Multi-station meteors as values: a coincidence group, its members, its trajectory, a search.

A coincidence is a set of events from two or more different cameras that saw one meteor. Its
trajectory (computed by ``meteorpi_trajectory``) is carried here as plain numbers, so this
module needs no maths libraries.
"""

import uuid
from datetime import datetime
from typing import Any

from ._check import (ValueModel, check_bool, check_camera_id, check_dict, check_int, check_list,
                     check_number, check_optional_str, items_from_dicts, type_name)
from ._search import _camera_ids, _check_order
from ._time import (milliseconds_to_utc_datetime, optional_ms_to_datetime, to_optional_utc,
                    to_utc, utc_datetime_to_milliseconds)
from ._values import parse_uuid

_POINT_KEYS = ("lat", "lon", "height_km")
_RADIANT_KEYS = ("ra", "dec", "az", "el")
_TRAJECTORY_NUMBERS = ("convergence_deg", "speed_km_s", "residual_m", "quality", "length_km")


def _numbers(value: Any, field: str, keys: tuple[str, ...]) -> dict[str, float] | None:
    if value is None:
        return None
    check_dict(value, field, required=keys)
    return {key: float(check_number(value[key], f"{field}.{key}")) for key in keys}


class TrajectoryResult(ValueModel):
    """A solved straight-line trajectory (``ok``) or a refusal with its ``reason``.

    Points are ``{"lat", "lon", "height_km"}``; the radiant is ``{"ra", "dec", "az", "el"}``
    in degrees; ``convergence_deg`` is the largest angle between two stations' planes;
    ``residual_m`` the RMS miss distance of the sight lines; ``quality`` 0..1 combines both.
    """

    def __init__(self, ok: bool, reason: str | None = None, stations: int = 0,
                 convergence_deg: float | None = None, begin: dict | None = None,
                 end: dict | None = None, radiant: dict | None = None,
                 speed_km_s: float | None = None, residual_m: float | None = None,
                 quality: float | None = None, length_km: float | None = None):
        self.ok = check_bool(ok, "trajectory.ok")
        self.reason = check_optional_str(reason, "trajectory.reason")
        if not self.ok and self.reason is None:
            raise ValueError("trajectory.reason is required when ok is false")
        self.stations = check_int(stations, "trajectory.stations", minimum=0)
        self.begin = _numbers(begin, "trajectory.begin", _POINT_KEYS)
        self.end = _numbers(end, "trajectory.end", _POINT_KEYS)
        self.radiant = _numbers(radiant, "trajectory.radiant", _RADIANT_KEYS)
        if self.ok and (self.begin is None or self.end is None or self.radiant is None):
            raise ValueError("trajectory: begin, end and radiant are required when ok is true")
        values = dict(convergence_deg=convergence_deg, speed_km_s=speed_km_s,
                      residual_m=residual_m, quality=quality, length_km=length_km)
        for name, value in values.items():
            setattr(self, name, None if value is None
                    else float(check_number(value, f"trajectory.{name}")))

    def as_dict(self) -> dict[str, Any]:
        d = {"ok": self.ok, "reason": self.reason, "stations": self.stations,
             "convergence_deg": self.convergence_deg, "begin": self.begin, "end": self.end,
             "radiant": self.radiant, "speed_km_s": self.speed_km_s,
             "residual_m": self.residual_m, "quality": self.quality, "length_km": self.length_km}
        return {key: value for key, value in d.items() if value is not None}

    @classmethod
    def from_dict(cls, d: dict) -> "TrajectoryResult":
        check_dict(d, "trajectory", required=("ok",),
                   optional=("reason", "stations", "begin", "end", "radiant") + _TRAJECTORY_NUMBERS)
        return cls(**{key: value for key, value in d.items() if value is not None})


class CoincidenceMember(ValueModel):
    """One event of a coincidence: its id, camera and time."""

    def __init__(self, event_id: uuid.UUID | str, camera_id: str, event_time: datetime):
        self.event_id = parse_uuid(event_id, "event_id")
        self.camera_id = check_camera_id(camera_id)
        self.event_time = to_utc(event_time, "event_time")

    def as_dict(self) -> dict[str, Any]:
        return {"event_id": self.event_id.hex, "camera_id": self.camera_id,
                "event_time": utc_datetime_to_milliseconds(self.event_time)}

    @classmethod
    def from_dict(cls, d: dict) -> "CoincidenceMember":
        check_dict(d, "coincidence member", required=("event_id", "camera_id", "event_time"))
        return cls(d["event_id"], d["camera_id"],
                   milliseconds_to_utc_datetime(d["event_time"], "event_time"))


class Coincidence(ValueModel):
    """Events from two or more different cameras that saw one meteor, oldest member first."""

    def __init__(self, group_id: uuid.UUID | str, time: datetime, computed: datetime,
                 members: list[CoincidenceMember], trajectory: TrajectoryResult | None = None):
        self.group_id = parse_uuid(group_id, "group_id")
        self.time = to_utc(time, "time")
        self.computed = to_utc(computed, "computed")
        self.members = check_list(members, "members", CoincidenceMember)
        if len({m.camera_id for m in self.members}) < 2:
            raise ValueError("members must come from two or more different cameras")
        if trajectory is not None and not isinstance(trajectory, TrajectoryResult):
            raise ValueError(f"trajectory must be a TrajectoryResult, not {type_name(trajectory)}")
        self.trajectory = trajectory

    @property
    def camera_ids(self) -> list[str]:
        return sorted({m.camera_id for m in self.members})

    def as_dict(self) -> dict[str, Any]:
        d = {"group_id": self.group_id.hex, "time": utc_datetime_to_milliseconds(self.time),
             "computed": utc_datetime_to_milliseconds(self.computed),
             "members": [m.as_dict() for m in self.members]}
        if self.trajectory is not None:
            d["trajectory"] = self.trajectory.as_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Coincidence":
        check_dict(d, "coincidence", required=("group_id", "time", "computed", "members"),
                   optional=("trajectory",))
        trajectory = d.get("trajectory")
        return cls(d["group_id"], milliseconds_to_utc_datetime(d["time"], "time"),
                   milliseconds_to_utc_datetime(d["computed"], "computed"),
                   items_from_dicts(d["members"], "members", CoincidenceMember.from_dict),
                   None if trajectory is None else TrajectoryResult.from_dict(trajectory))


class CoincidenceSearch(ValueModel):
    """A search for coincidences, newest first; every criterion given must hold.

    ``camera_ids``: a member from any of these cameras; ``event_ids``: containing any of these
    events; ``min_stations``: at least this many cameras; ``solved``: with (True) or without
    (False) a solved trajectory.
    """

    _FIELDS = ("after", "before", "camera_ids", "event_ids", "min_stations", "solved", "limit",
               "skip")
    MAX_EVENT_IDS = 500

    def __init__(self, after: datetime | None = None, before: datetime | None = None,
                 camera_ids: list[str] | str | None = None,
                 event_ids: list[uuid.UUID | str] | None = None, min_stations: int | None = None,
                 solved: bool | None = None, limit: int = 100, skip: int = 0):
        self.after = to_optional_utc(after, "after")
        self.before = to_optional_utc(before, "before")
        _check_order(self.after, self.before, "after", "before")
        self.camera_ids = _camera_ids(camera_ids)
        if event_ids is None:
            self.event_ids = None
        else:
            ids = check_list(event_ids, "event_ids")
            if not 1 <= len(ids) <= self.MAX_EVENT_IDS:
                raise ValueError(f"event_ids must hold 1 to {self.MAX_EVENT_IDS} ids")
            self.event_ids = [parse_uuid(e, f"event_ids[{i}]") for i, e in enumerate(ids)]
        self.min_stations = (None if min_stations is None
                             else check_int(min_stations, "min_stations", minimum=2, maximum=1000))
        self.solved = None if solved is None else check_bool(solved, "solved")
        self.limit = check_int(limit, "limit", minimum=0)
        self.skip = check_int(skip, "skip", minimum=0)

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for name in self._FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, datetime):
                value = utc_datetime_to_milliseconds(value)
            elif name == "event_ids":
                value = [e.hex for e in value]
            d[name] = value
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "CoincidenceSearch":
        check_dict(d, "CoincidenceSearch", optional=cls._FIELDS)
        kwargs = {key: value for key, value in d.items() if value is not None}
        for key in ("after", "before"):
            if key in kwargs:
                kwargs[key] = optional_ms_to_datetime(kwargs[key], key)
        return cls(**kwargs)
