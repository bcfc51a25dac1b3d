"""From stored events to groups and trajectories: the glue between the data layer's rows and
the maths. An event here is any object with the attributes the data layer reads: ``internalid``,
``eventid``, ``cameraid``, ``eventtime`` (ms), ``status`` (its status block's key), ``sensor``,
``locationlatitude``, ``locationlongitude``, ``orientationaltitude``, ``orientationazimuth``,
``orientationrotation`` and ``widthoffield``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Mapping, Sequence

from meteorpi_trajectory.grouping import Candidate, FieldOverlap, View, find_groups
from meteorpi_trajectory.projection import CameraModel, sensor_size
from meteorpi_trajectory.solver import Observation, refused, solve

PIXELS = ("meteorpi:start_x", "meteorpi:start_y", "meteorpi:end_x", "meteorpi:end_y")


def camera_model(event: Any, numbers: Mapping[str, float] | None = None) -> CameraModel | None:
    """The event's camera model, or None when its status has no usable width of field."""
    numbers = numbers or {}
    if not 0 < event.widthoffield < 180:
        return None
    width, height = sensor_size(event.sensor, numbers.get("meteorpi:width"),
                                numbers.get("meteorpi:height"))
    return _model(event.orientationaltitude, event.orientationazimuth, event.orientationrotation,
                  event.widthoffield, width, height)


@lru_cache(maxsize=4096)
def _model(*fields: float) -> CameraModel:
    """One model per pointing: its axes are computed once."""
    return CameraModel(*fields)


#: a pair of sightings agrees when its two-station path lies within these heights (km)
PAIR_HEIGHTS_KM = (50.0, 150.0)


def group_events(events: Sequence[Any], window_seconds: float,
                 numbers: Mapping[int, Mapping[str, float]] | None = None) -> list[list[Any]]:
    """Events grouped as :func:`find_groups` does, each group sorted by time. With ``numbers``
    (pixels per event, as :func:`solve_group` takes), pairs are checked for geometric agreement."""
    views = {e.status: View(e.locationlatitude, e.locationlongitude, camera_model(e))
             for e in events}
    by_key = {e.internalid: e for e in events}
    candidates = [Candidate(e.internalid, e.cameraid, e.eventtime, e.status) for e in events]

    def consistent(a: Candidate, b: Candidate) -> bool | None:
        return pair_agrees(by_key[a.key], by_key[b.key], numbers or {})

    groups = find_groups(candidates, window_seconds, FieldOverlap(views),
                         consistent if numbers is not None else None)
    return [[by_key[c.key] for c in group] for group in groups]


def pair_agrees(a: Any, b: Any, numbers: Mapping[int, Mapping[str, float]]) -> bool | None:
    """Whether two events' sight lines meet in a path at meteor heights; None when that cannot
    be told (no pixels or pointing, or nearly parallel planes)."""
    observations = [_observation(e, numbers.get(e.internalid, {})) for e in (a, b)]
    if None in observations:
        return None
    when = datetime.fromtimestamp(a.eventtime / 1000, timezone.utc)
    result = solve(observations, when)
    if not result.ok:
        return None if "nearly parallel" in (result.reason or "") else False
    low, high = PAIR_HEIGHTS_KM
    return all(low <= p["height_km"] <= high for p in (result.begin, result.end))


def _observation(event: Any, values: Mapping[str, float]) -> Observation | None:
    model = camera_model(event, values)
    if model is None or any(key not in values for key in PIXELS):
        return None
    az, el = model.pixel_to_azel([values["meteorpi:start_x"], values["meteorpi:end_x"]],
                                 [values["meteorpi:start_y"], values["meteorpi:end_y"]])
    return Observation(event.cameraid, event.locationlatitude, event.locationlongitude,
                       float(az[0]), float(el[0]), float(az[1]), float(el[1]),
                       duration=values.get("meteorpi:duration"))


def solve_group(group: Sequence[Any], numbers: Mapping[int, Mapping[str, float]]) -> dict[str, Any]:
    """The trajectory of a group as a wire dict (``ok`` False with a reason when refused)."""
    observations, problems = [], []
    for event in group:
        values = numbers.get(event.internalid, {})
        observation = _observation(event, values)
        if observation is not None:
            observations.append(observation)
        elif camera_model(event, values) is None:
            problems.append(f"camera {event.cameraid} has no width of field")
        else:
            problems.append(f"event {event.eventid} has no start and end pixels")
    if len(observations) < 2:
        reason = "fewer than two stations can be used" + (f": {'; '.join(problems)}" if problems else "")
        return refused(reason[:255], len(observations)).as_dict()
    when = datetime.fromtimestamp(group[0].eventtime / 1000, timezone.utc)
    return solve(observations, when).as_dict()
